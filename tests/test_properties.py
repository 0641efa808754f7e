"""Property tests (hypothesis): invariants of the world over random configs and random actions.

The PettingZoo env (numpy, one world) and :class:`realism_env.batch.WorldBatch` on each backend (numpy, and torch on
the CPU in float64 where torch is installed) are driven with random actions over random configs, and the same world
invariants are checked after every step (:func:`check_worlds`). Hypothesis runs derandomized and the action generator
is seeded from a drawn seed, so every run of this file plays the same games."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import realism_env
from realism_env import Act, EnvConfig, World, encode_action, target_slot
from realism_env.backend import to_numpy
from realism_env.batch import WorldBatch
from realism_env.rules import is_over
from realism_env.world import array_fields
from tests.worlds import as_numpy, backend_params

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


def check_worlds(world: World, config: EnvConfig) -> None:
    """Invariants of every world of a (numpy) ``World``, after a reset and after every step."""
    n, p = config.n_nations, config.n_provinces
    owner, alive = world.owner, world.alive
    n_worlds = owner.shape[0]
    # Each province belongs to exactly one live nation.
    assert owner.shape == (n_worlds, p)
    assert ((owner >= 0) & (owner < n)).all(), owner
    assert np.take_along_axis(alive, owner, axis=1).all(), "a province is held by an eliminated nation"
    held = (owner[:, :, None] == np.arange(n)).sum(axis=1)
    np.testing.assert_array_equal(held.sum(axis=1), p)
    # A nation is alive exactly when it holds a province; the eliminated own nothing and have no forces.
    np.testing.assert_array_equal(alive, held > 0)
    assert (world.military[~alive] == 0).all()
    # Forces and wealth are never negative or non-finite.
    for name in ("military", "wealth", "forces_lost", "wealth_destroyed"):
        values = getattr(world, name)
        assert np.isfinite(values).all() and (values >= 0).all(), f"{name}: {values}"
    # Relations: symmetric where documented, never with oneself, only between live nations.
    for name in ("at_war", "allied", "war_years", "alliance_years"):
        matrix = getattr(world, name)
        np.testing.assert_array_equal(matrix, matrix.transpose(0, 2, 1), err_msg=f"{name} is not symmetric")
    dead = ~alive
    for name in ("at_war", "allied", "alliance_proposal", "peace_offer", "demand"):
        matrix = getattr(world, name)
        assert not np.diagonal(matrix, axis1=1, axis2=2).any(), f"{name} has a nation related to itself"
        involves_dead = matrix & (dead[:, :, None] | dead[:, None, :])
        assert not involves_dead.any(), f"{name} involves an eliminated nation"
    np.testing.assert_array_equal(world.war_years > 0, world.at_war)


def check_world(env: realism_env.RealismEnv) -> None:
    """Invariants of the env's true world after reset and after every step."""
    check_worlds(env.world, env.config)


def check_allies_not_at_war(env: realism_env.RealismEnv) -> None:
    """Allies do not fight each other: ATTACK needs "not allied", ALLY needs "not at war" (kept apart from
    :func:`check_world` so that a failure here does not hide the other invariants)."""
    both = env.world.allied[0] & env.world.at_war[0]
    assert not both.any(), f"allied and at war at once: {np.argwhere(both).tolist()}"


def check_step(env, observations, rewards, terminations, truncations, infos, acting) -> None:
    assert set(rewards) == set(terminations) == set(truncations) == set(infos) == set(acting)
    for agent in acting:
        assert np.isfinite(rewards[agent]), f"{agent}: reward {rewards[agent]}"
        assert all(np.isfinite(v) for v in env.last_rich_infos[agent]["reward_terms"].values())
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


# --------------------------------------------------------------------------------------------------
# WorldBatch, on every backend
# --------------------------------------------------------------------------------------------------

BATCH_WORLDS = 4


@st.composite
def batch_configs(draw: st.DrawFn) -> dict:
    """:func:`configs` with episodes short enough (3 to 20 turns) that worlds end and are replaced within
    ``MAX_TURNS`` steps."""
    return {**draw(configs()), "max_cycles": draw(st.integers(3, 20))}


@st.composite
def economies(draw: st.DrawFn) -> dict:
    """The knobs of the economy, war and perception over their whole valid ranges, bounds included: the extreme
    worlds a sweep may reach (disarmed nations, total attrition, no depreciation, a 1,000-fold offence or defence
    advantage, ...)."""
    unit = st.floats(0.0, 1.0)
    n_levels = draw(st.integers(2, 6))
    return {
        "arms_shares": tuple(sorted(draw(st.lists(unit, min_size=n_levels, max_size=n_levels)))),
        "growth_rate": draw(st.floats(-0.49, 0.99)),
        **{name: draw(unit) for name in ("depreciation", "upkeep", "attrition", "war_devastation", "aid_share")},
        **{name: draw(unit) for name in ("sea_penalty", "hegemony_share")},
        "offense_defense_balance": draw(st.floats(1e-3, 1e3)),
        "capture_steepness": draw(st.floats(0.1, 50.0)),
        "security_sufficiency": draw(st.floats(1e-3, 1e3)),
        "capability_spread": draw(st.floats(0.0, 3.0)),
        "misperception": draw(st.floats(0.0, 3.0)),
        "demand_deadline": draw(st.integers(1, 5)),
    }


@contextlib.contextmanager
def one_torch_thread(backend: str) -> Iterator[None]:
    """Run torch on one CPU thread: these worlds are tiny, and on a loaded machine torch's thread pool makes a
    float64 batched matmul of a few hundred numbers take milliseconds. The rules' results do not depend on it."""
    if backend != "torch":
        yield
        return
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def wait_actions(config: EnvConfig, flat: np.ndarray) -> np.ndarray:
    """WAIT toward slot 0 at the arms level of each flat action."""
    per_level = realism_env.N_ACTS * (config.n_nations - 1)
    return flat // per_level * per_level


def check_batch_outputs(batch: WorldBatch, observations: np.ndarray, mask: np.ndarray) -> None:
    """Observations finite and in [0, 1]; masks of 0s and 1s, never all zero, WAIT toward slot 0 valid at every
    arms level."""
    n, n_levels = batch.n_nations, len(batch.config.arms_shares)
    assert observations.shape == (batch.n_worlds, n, batch.observation_size) and observations.dtype == np.float32
    assert np.isfinite(observations).all() and (observations >= 0).all() and (observations <= 1).all()
    assert mask.shape == (batch.n_worlds, n, batch.n_actions) and mask.dtype == np.int8
    assert np.isin(mask, (0, 1)).all()
    assert mask.any(axis=2).all(), "an action mask is all zero"
    waits = [encode_action(level, Act.WAIT, 0, n, n_levels) for level in range(n_levels)]
    assert (mask[:, :, waits] == 1).all(), "WAIT toward slot 0 is not valid at every arms level"


def check_allies_at_peace(world: World) -> None:
    both = world.allied & world.at_war
    assert not both.any(), f"allied and at war at once: {np.argwhere(both).tolist()}"


def check_batch_step(batch: WorldBatch, before: World, flat: np.ndarray, mask: np.ndarray, step) -> World:
    """Everything one step of a WorldBatch promises, on numpy copies; returns the batch's world after the step."""
    config, n = batch.config, batch.n_nations
    after, world = step.final_world, as_numpy(batch.world)
    for w in (after, world):
        check_worlds(w, config)
        check_allies_at_peace(w)
    check_batch_outputs(batch, step.observations, step.action_mask)
    final = step.final_observations
    assert np.isfinite(final).all() and (final >= 0).all() and (final <= 1).all()
    # Rewards are finite, and zero for nations that did not act (dead at the start of the step).
    np.testing.assert_array_equal(step.acting, before.alive)
    assert np.isfinite(step.rewards).all()
    assert (step.rewards[~step.acting] == 0).all()
    for terms in step.reward_terms.values():
        assert all(np.isfinite(value).all() for value in terms.values())
    # An action is played as given exactly when the mask allowed it; otherwise it is WAIT at its arms level.
    allowed = np.take_along_axis(mask, flat[:, :, None], axis=2)[:, :, 0] == 1
    np.testing.assert_array_equal(step.events.invalid_action, before.alive & ~allowed)
    invalid = step.events.invalid_action
    assert (after.last_act[invalid] == Act.WAIT).all()
    np.testing.assert_array_equal(
        after.last_target[invalid], np.broadcast_to((np.arange(n) + 1) % n, flat.shape)[invalid]
    )
    level = flat // (realism_env.N_ACTS * (n - 1))
    np.testing.assert_array_equal(after.arms_level[before.alive], level[before.alive])
    # Episode ends: unification or max_cycles; the ended worlds are replaced by fresh ones at turn 0.
    np.testing.assert_array_equal(after.turn, before.turn + 1)
    over, out_of_time = to_numpy(is_over(after)), after.turn >= config.max_cycles
    np.testing.assert_array_equal(step.world_reset, over | out_of_time)
    np.testing.assert_array_equal(step.terminated, step.acting & (~after.alive | over[:, None]))
    np.testing.assert_array_equal(step.truncated, step.acting & ~step.terminated & out_of_time[:, None])
    reset = step.world_reset
    np.testing.assert_array_equal(world.turn, np.where(reset, 0, after.turn))
    assert world.alive[reset].all() and not world.at_war[reset].any() and not world.allied[reset].any()
    for name in ("owner", "military", "wealth", "at_war", "allied", "demand", "turn"):
        np.testing.assert_array_equal(getattr(world, name)[~reset], getattr(after, name)[~reset], err_msg=name)
    return world


def drive_batch(overrides: dict, seed: int, backend: str, masked: bool, dtype: str = "float64") -> int:
    """Play ``MAX_TURNS`` steps of a WorldBatch with random actions (valid ones: a masked argmax of random scores;
    otherwise any in the space), checking every step. Returns how many worlds ended and were replaced."""
    config = EnvConfig.from_scenario("multipolar", **overrides)
    batch = WorldBatch(config, BATCH_WORLDS, seed=seed, backend=backend, dtype=dtype, map_bank=3)
    observations, mask = (to_numpy(x) for x in batch.reset())
    assert str(batch.world.wealth.dtype).endswith(dtype) and batch.backend.name == backend
    world = as_numpy(batch.world)
    check_worlds(world, config)
    check_batch_outputs(batch, observations, mask)
    assert (world.turn == 0).all()
    rng = np.random.default_rng(seed)
    replaced = 0
    for _ in range(MAX_TURNS):
        if masked:
            flat = np.where(mask.astype(bool), rng.random(mask.shape), -1.0).argmax(axis=2)
        else:
            flat = rng.integers(0, batch.n_actions, size=(BATCH_WORLDS, batch.n_nations))
        step = as_numpy(batch.step(batch.backend.asarray(flat)))
        if masked:
            assert not step.events.invalid_action.any()
        world = check_batch_step(batch, world, flat, mask, step)
        mask = step.action_mask
        replaced += int(step.world_reset.sum())
    return replaced


BATCH_BACKENDS = backend_params()


@pytest.mark.parametrize("backend", BATCH_BACKENDS)
@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(overrides=batch_configs(), seed=seeds)
def test_world_batch_invariants_under_random_masked_actions(backend, overrides, seed):
    with one_torch_thread(backend):
        replaced = drive_batch(overrides, seed, backend, masked=True)
    assert replaced >= BATCH_WORLDS, "every world should end at least once within MAX_TURNS (max_cycles <= 20)"


@pytest.mark.parametrize("backend", BATCH_BACKENDS)
@settings(max_examples=10, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(overrides=batch_configs(), seed=seeds, saved_at=st.integers(0, 12))
def test_a_batch_saved_at_any_turn_goes_on_identically_in_a_new_batch(backend, overrides, seed, saved_at):
    """``WorldBatch.state_dict`` at any turn (mid-episode, at a reset, before any step) loaded into a fresh batch of
    the same seed: the two go on with the same worlds, observations, masks and rewards, through their resets."""
    config = EnvConfig.from_scenario("multipolar", **overrides)
    with one_torch_thread(backend):
        batch = WorldBatch(config, BATCH_WORLDS, seed=seed, backend=backend, map_bank=3)
        mask = to_numpy(batch.reset()[1])
        rng = np.random.default_rng(seed)
        for _ in range(saved_at):
            flat = np.where(mask.astype(bool), rng.random(mask.shape), -1.0).argmax(axis=2)
            mask = to_numpy(batch.step(batch.backend.asarray(flat)).action_mask)
        copy = WorldBatch(config, BATCH_WORLDS, seed=seed, backend=backend, map_bank=3)
        copy.load_state_dict(batch.state_dict())
        for _ in range(MAX_TURNS - saved_at):
            flat = np.where(mask.astype(bool), rng.random(mask.shape), -1.0).argmax(axis=2)
            ours, theirs = (as_numpy(b.step(b.backend.asarray(flat))) for b in (batch, copy))
            for name in ("observations", "action_mask", "rewards", "world_reset"):
                np.testing.assert_array_equal(getattr(ours, name), getattr(theirs, name), err_msg=name)
            for name in array_fields():
                np.testing.assert_array_equal(to_numpy(getattr(batch.world, name)), to_numpy(getattr(copy.world, name)))
            mask = ours.action_mask


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(overrides=batch_configs(), economy=economies(), seed=seeds)
def test_world_batch_invariants_hold_in_extreme_economies_without_a_float_warning(dtype, overrides, economy, seed):
    """The invariants of every step, in float64 and float32 worlds of any valid economy, with numpy's float warnings
    (overflow, invalid value, division by zero) as errors: float32 worlds overflowed on a nearly disarmed attacker
    and on a nearly disarmed threat."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        drive_batch({**overrides, **economy}, seed, "numpy", masked=True, dtype=dtype)


@pytest.mark.parametrize("backend", BATCH_BACKENDS)
@settings(max_examples=10, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(overrides=batch_configs(), seed=seeds)
def test_world_batch_fuzz_flags_masked_out_actions_and_plays_them_as_wait(backend, overrides, seed):
    """Random in-space actions, masked-out ones included: each masked-out one is flagged in
    ``events.invalid_action`` and the step is the one where it was WAIT at its arms level (a twin batch with the
    same seed, fed the sanitised actions, plays the same worlds)."""
    config = EnvConfig.from_scenario("multipolar", **overrides)
    with one_torch_thread(backend):
        drive_batch(overrides, seed, backend, masked=False)
        fuzzed, twin = (
            WorldBatch(config, BATCH_WORLDS, seed=seed, backend=backend, dtype="float64", map_bank=3) for _ in range(2)
        )
        _, mask = fuzzed.reset()
        twin.reset()
        mask = to_numpy(mask)
        rng = np.random.default_rng(seed + 1)
        flagged = 0
        for _ in range(MAX_TURNS // 2):
            flat = rng.integers(0, fuzzed.n_actions, size=(BATCH_WORLDS, fuzzed.n_nations))
            allowed = np.take_along_axis(mask, flat[:, :, None], axis=2)[:, :, 0] == 1
            sanitised = np.where(allowed, flat, wait_actions(config, flat))
            a = as_numpy(fuzzed.step(fuzzed.backend.asarray(flat)))
            b = as_numpy(twin.step(twin.backend.asarray(sanitised)))
            assert not b.events.invalid_action[b.acting].any()
            flagged += int(a.events.invalid_action.sum())
            for name in (
                "owner",
                "military",
                "wealth",
                "at_war",
                "allied",
                "demand",
                "last_act",
                "last_target",
                "turn",
            ):
                np.testing.assert_array_equal(getattr(a.final_world, name), getattr(b.final_world, name), err_msg=name)
            np.testing.assert_array_equal(a.observations, b.observations)
            np.testing.assert_array_equal(a.rewards, b.rewards)
            mask = a.action_mask
        assert flagged > 0, "random actions should include masked-out ones"
