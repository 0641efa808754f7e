"""Property tests (hypothesis): invariants of the world over random configs and random actions.

Hypothesis runs derandomized and the action generator is seeded from a drawn seed, so every run of this
file plays the same games."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import realism_env
from realism_env import Act, encode_action, target_slot

MAX_TURNS = 30
BUILTIN_DOCTRINES = ("security", "power")


@st.composite
def configs(draw: st.DrawFn) -> dict:
    """Keyword overrides for ``realism_env.parallel_env`` spanning the config space."""
    n = draw(st.integers(2, 8))
    doctrines = draw(
        st.one_of(
            st.sampled_from(BUILTIN_DOCTRINES),
            st.tuples(*[st.sampled_from(BUILTIN_DOCTRINES)] * n),
        )
    )
    return {
        "n_nations": n,
        "provinces_per_nation": draw(st.integers(1, 5)),
        "map_kind": draw(st.sampled_from(("continent", "islands"))),
        "offense_defense_balance": draw(st.floats(0.5, 5.0)),
        "conquest_payoff": draw(st.floats(0.0, 1.0)),
        "misperception": draw(st.floats(0.0, 1.0)),
        "doctrines": doctrines,
        "reveal_doctrines": draw(st.booleans()),
        "sea_links": draw(st.integers(0, 4)),
        "max_cycles": draw(st.integers(5, 60)),
    }


seeds = st.integers(0, 2**32 - 1)


def check_world(env: realism_env.RealismEnv) -> None:
    """Invariants of the true world after reset and after every step."""
    world = env.world
    n, p = env.config.n_nations, env.config.n_provinces
    owner, alive = world.owner[0], world.alive[0]
    # Each province belongs to exactly one live nation.
    assert owner.shape == (p,)
    assert ((owner >= 0) & (owner < n)).all(), owner
    assert alive[owner].all(), "a province is held by an eliminated nation"
    held = np.bincount(owner, minlength=n)
    assert held.sum() == p
    # A nation is alive exactly when it holds a province; the eliminated own nothing and have no forces.
    np.testing.assert_array_equal(alive, held > 0)
    assert (world.military[0][~alive] == 0).all()
    # Forces and wealth are never negative or non-finite.
    for name in ("military", "wealth", "forces_lost", "wealth_destroyed"):
        values = getattr(world, name)[0]
        assert np.isfinite(values).all() and (values >= 0).all(), f"{name}: {values}"
    # Relations: symmetric where documented, never with oneself, only between live nations.
    for name in ("at_war", "allied", "war_years", "alliance_years"):
        matrix = getattr(world, name)[0]
        np.testing.assert_array_equal(matrix, matrix.T, err_msg=f"{name} is not symmetric")
    for name in ("at_war", "allied", "alliance_proposal", "peace_offer", "demand"):
        matrix = getattr(world, name)[0]
        assert not matrix.diagonal().any(), f"{name} has a nation related to itself"
        assert not matrix[~alive].any() and not matrix[:, ~alive].any(), f"{name} involves an eliminated nation"
    np.testing.assert_array_equal(world.war_years[0] > 0, world.at_war[0])


def check_allies_not_at_war(env: realism_env.RealismEnv) -> None:
    """Allies do not fight each other: ATTACK needs "not allied", ALLY needs "not at war" (kept apart from
    :func:`check_world` so that a failure here does not hide the other invariants)."""
    both = env.world.allied[0] & env.world.at_war[0]
    assert not both.any(), f"allied and at war at once: {np.argwhere(both).tolist()}"


def check_step(env, observations, rewards, terminations, truncations, infos, acting) -> None:
    assert set(rewards) == set(terminations) == set(truncations) == set(infos) == set(acting)
    for agent in acting:
        assert np.isfinite(rewards[agent]), f"{agent}: reward {rewards[agent]}"
        assert all(np.isfinite(v) for v in infos[agent]["reward_terms"].values())
    check_observations(env, observations)


def check_observations(env, observations) -> None:
    for agent, observation in observations.items():
        assert env.observation_space(agent).contains(observation), agent
        assert np.isfinite(observation["observation"]).all(), agent
        assert observation["action_mask"].any(), f"{agent}: action mask all zero"
    state = env.state()
    assert env.state_space.contains(state) and np.isfinite(state).all()


def play(overrides: dict, seed: int, masked: bool, check=check_world) -> None:
    env = realism_env.parallel_env(**overrides)
    observations, _ = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    check(env)
    check_observations(env, observations)
    n_actions = env.action_space("nation_0").n
    for _ in range(MAX_TURNS):
        if not env.agents:
            break
        acting = list(env.agents)
        if masked:
            actions = {a: int(rng.choice(np.flatnonzero(observations[a]["action_mask"]))) for a in acting}
        else:
            actions = {a: int(rng.integers(n_actions)) for a in acting}
        masks = {a: observations[a]["action_mask"] for a in acting}
        observations, rewards, terminations, truncations, infos = env.step(actions)
        check(env)
        check_step(env, observations, rewards, terminations, truncations, infos, acting)
        for agent in acting:
            # The mask is exact: an action is played as given exactly when the mask allows it.
            assert infos[agent]["action_valid"] is bool(masks[agent][actions[agent]])
            # A nation terminates when eliminated, and every nation when one is left; gone ones leave agents.
            eliminated = not env.world.alive[0, env.agent_name_mapping[agent]]
            assert terminations[agent] == (eliminated or env.world.alive[0].sum() == 1)
            assert (terminations[agent] or truncations[agent]) == (agent not in env.agents)


@settings(max_examples=120, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(overrides=configs(), seed=seeds)
def test_invariants_under_random_masked_actions(overrides, seed):
    play(overrides, seed, masked=True)


@settings(max_examples=80, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(overrides=configs(), seed=seeds)
def test_invariants_under_random_in_space_actions_masked_or_not(overrides, seed):
    play(overrides, seed, masked=False)


@settings(max_examples=80, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(overrides=configs(), seed=seeds)
def test_allies_are_never_at_war_with_each_other(overrides, seed):
    play(overrides, seed, masked=True, check=check_allies_not_at_war)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(n=st.integers(2, 64), level=st.integers(0, 4), act=st.sampled_from(list(Act)), slot=st.data())
def test_encode_decode_round_trip(n, level, act, slot):
    target = slot.draw(st.integers(0, n - 2))
    action = encode_action(level, act, target, n)
    assert 0 <= action < realism_env.n_actions(n)
    assert realism_env.decode_action(action, n) == (level, act, target)


def test_accepting_an_alliance_while_the_proposer_attacks_does_not_leave_allies_at_war():
    """Regression: nation_0 proposes an alliance; next turn nation_1 accepts while nation_0 attacks it.
    Both acts are valid under the mask, but the world must not end up both allied and at war."""
    env = realism_env.parallel_env(n_nations=2, provinces_per_nation=2)
    env.reset(seed=0)

    def act(kind: Act, i: int) -> int:
        return encode_action(2, kind, target_slot(i, 1 - i, 2), 2)

    *_, infos = env.step({"nation_0": act(Act.ALLY, 0), "nation_1": act(Act.WAIT, 1)})
    assert env.world.alliance_proposal[0, 0, 1]
    *_, infos = env.step({"nation_0": act(Act.ATTACK, 0), "nation_1": act(Act.ALLY, 1)})
    assert infos["nation_0"]["action_valid"] and infos["nation_1"]["action_valid"]
    assert env.world.at_war[0, 0, 1], "the attack declares war"
    assert not (env.world.allied[0] & env.world.at_war[0]).any(), "allied and at war at once"
