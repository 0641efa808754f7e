"""The PettingZoo API: PettingZoo's own checkers, determinism, episode end, the action mask, spaces,
scenarios and doctrines, and metadata. What any PettingZoo user relies on."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest
from pettingzoo.test import (
    api_test,
    max_cycles_test,
    parallel_api_test,
    parallel_seed_test,
    render_test,
    seed_test,
    state_test,
)

import realism_env
from realism_env import DOCTRINES, N_ACTS, SCENARIOS, Act, decode_action, encode_action, target_nation

MAX_TURNS = 200  # cap on every episode loop in this file


def random_masked_actions(env, observations: dict, rng: np.random.Generator, skip: str = "") -> dict[str, int]:
    """One uniformly random valid action per live nation (but ``skip``)."""
    return {a: int(rng.choice(np.flatnonzero(observations[a]["action_mask"]))) for a in env.agents if a != skip}


def aggressive_actions(env: realism_env.RealismEnv, observations: dict, rng: np.random.Generator) -> dict[str, int]:
    """Full mobilisation and an attack where the mask allows one, else a random valid action."""
    n = env.config.n_nations
    top = len(env.config.arms_shares) - 1
    out = {}
    for agent in env.agents:
        valid = np.flatnonzero(observations[agent]["action_mask"])
        attacks = [a for a in valid if decode_action(a, n).act == Act.ATTACK and decode_action(a, n).arms_level == top]
        out[agent] = int(rng.choice(attacks)) if attacks else int(rng.choice(valid))
    return out


def assert_same(a: Any, b: Any, where: str) -> None:
    """Exact equality of nested dicts, lists, tuples, arrays and scalars."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, dict):
        assert a.keys() == b.keys(), f"{where}: keys {sorted(a)} != {sorted(b)}"
        for k in a:
            assert_same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), f"{where}: length {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, f"{where}: {a.dtype}{a.shape} != {b.dtype}{b.shape}"
        np.testing.assert_array_equal(a, b, err_msg=where)
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


# ------------------------------------------------------------------------------------------------
# PettingZoo's own checkers
# ------------------------------------------------------------------------------------------------


def test_pettingzoo_api_test_on_aec_env():
    api_test(realism_env.env(), num_cycles=60)


def test_pettingzoo_api_test_on_islands_aec_env_with_revealed_doctrines():
    api_test(realism_env.env(scenario="islands", doctrines="power", reveal_doctrines=True), num_cycles=30)


def test_pettingzoo_parallel_api_test():
    parallel_api_test(realism_env.parallel_env(), num_cycles=120)


def test_pettingzoo_parallel_api_test_two_nations():
    parallel_api_test(realism_env.parallel_env(n_nations=2, provinces_per_nation=2), num_cycles=60)


def test_pettingzoo_seed_test_aec():
    seed_test(realism_env.env, num_cycles=40)


def test_pettingzoo_parallel_seed_test():
    parallel_seed_test(realism_env.parallel_env, num_cycles=40)


def test_pettingzoo_max_cycles_test():
    max_cycles_test(realism_env)


def test_pettingzoo_state_test():
    state_test(realism_env.env(), realism_env.parallel_env(), num_cycles=10)


def _render_env_fn(render_mode: str | None = None):
    # PettingZoo's render_test builds one env with render_mode="human" only to read metadata["render_modes"];
    # this env has no human mode (it raises, as Gymnasium asks), so that probe gets None instead.
    return realism_env.env(render_mode=None if render_mode == "human" else render_mode)


def test_pettingzoo_render_test_ansi_and_rgb_array():
    render_test(
        _render_env_fn,
        custom_tests={
            "ansi": lambda text: text.startswith("turn ") and "nation_0" in text and "wars:" in text,
            "rgb_array": lambda image: image.shape[0] > 0 and image.shape[1] > 0 and image.std() > 0,
        },
    )


@pytest.mark.parametrize(("n_nations", "provinces"), [(3, 4), (2, 1)])
def test_islands_provinces_are_drawn_on_their_own_grids_cells(n_nations: int, provinces: int) -> None:
    """Each land mass is drawn on a grid of its own: the cell is a land mass's spacing, never a gap across the sea
    or between two grids' rows (3 nations: 0.083 high for rows 0.333 and 0.5 apart), and every province is painted
    in its owner's colour (a 2-nation, 1-province map left the west province out)."""
    from realism_env.geometry import land_masses, map_geometry
    from realism_env.render import PALETTE

    env = realism_env.parallel_env(
        n_nations=n_nations, provinces_per_nation=provinces, map_kind="islands", render_mode="rgb_array"
    )
    env.reset(seed=0)
    world = env.world
    geometry = map_geometry(world.province_xy[0], world.land_adjacency[0], world.sea_adjacency[0])
    masses = land_masses(world.land_adjacency[0])
    assert len(masses) == 2
    if provinces > 1:  # the west island's grid: 2 x 3 cells over 0.42 x 1
        assert geometry.cell == pytest.approx((0.14, 1 / 3))
    else:  # lone provinces: half the gap across the sea, so the sea shows between them
        assert geometry.cell[0] < abs(world.province_xy[0][0, 0] - world.province_xy[0][1, 0])
    image = env.render()
    size = image.shape[0]
    bar, margin = size // 16, size // 32
    map_size = size - bar - 2 * margin
    for p, (x, y) in enumerate(world.province_xy[0]):
        # a pixel inside the cell, off the centre line where sea lanes are drawn
        px = round(margin + x * map_size)
        py = round(bar + margin + y * map_size + geometry.cell[1] * map_size / 4)
        owner_colour = PALETTE[world.owner[0][p] % len(PALETTE)].astype(float)
        pixel = image[py, px].astype(float)  # the owner's colour, dimmed by 0.55 to 1 with the province's wealth
        ratio = pixel[owner_colour > 0] / owner_colour[owner_colour > 0]
        assert (pixel[owner_colour == 0] == 0).all() and 0.54 <= ratio.min() and ratio.max() - ratio.min() < 0.02, p


def test_render_without_mode_returns_none():
    env = realism_env.parallel_env()
    env.reset(seed=0)
    with pytest.warns(UserWarning, match="render_mode"):
        assert env.render() is None


def test_ansi_render_names_wars_and_display_names():
    env = realism_env.parallel_env(scenario="europe_1914", render_mode="ansi")
    observations, _ = env.reset(seed=3)
    rng = np.random.default_rng(3)
    for _ in range(MAX_TURNS):
        observations, *_ = env.step(aggressive_actions(env, observations, rng))
        if env.world.at_war.any() or not env.agents:
            break
    assert env.world.at_war.any(), "aggressive play should start a war"
    text = env.render()
    assert "Germany" in text and "France" in text
    assert "wars: none" not in text and " vs " in text


# ------------------------------------------------------------------------------------------------
# Determinism
# ------------------------------------------------------------------------------------------------


def trajectory(seed: int, turns: int = MAX_TURNS) -> list[tuple]:
    """``turns`` steps of seeded random masked play; an ended episode is followed by an unseeded reset
    (which must continue the seeded stream)."""
    env = realism_env.parallel_env()
    rng = np.random.default_rng(seed)
    observations, infos = env.reset(seed=seed)
    steps: list[tuple] = [("reset", observations, infos, env.state())]
    for _ in range(turns):
        if not env.agents:
            observations, infos = env.reset()
            steps.append(("reset", observations, infos, env.state()))
        actions = random_masked_actions(env, observations, rng)
        observations, rewards, terminations, truncations, infos = env.step(actions)
        steps.append((actions, observations, rewards, terminations, truncations, infos, env.state()))
        steps.append(("rich", env.last_rich_infos, env.last_event_records))
    return steps


def test_same_seed_gives_identical_200_turn_trajectories():
    first, second = trajectory(seed=11), trajectory(seed=11)
    assert len(first) == len(second) >= MAX_TURNS + 1
    assert sum(step[0] == "reset" for step in first) >= 2, "an episode should end and restart unseeded"
    for t, (a, b) in enumerate(zip(first, second, strict=True)):
        assert_same(a, b, f"step {t}")


def test_different_seed_gives_different_trajectory():
    first, second = trajectory(seed=11, turns=20), trajectory(seed=12, turns=20)
    assert not np.array_equal(first[0][3], second[0][3]), "different seeds should give different worlds"
    differing = 0
    for a, b in zip(first, second, strict=True):
        try:
            assert_same(a, b, "")
        except AssertionError:
            differing += 1
    assert differing == len(first)


def test_reset_with_same_seed_restarts_the_same_episode():
    env = realism_env.parallel_env()
    first, _ = env.reset(seed=5)
    state = env.state()
    observations, rng = first, np.random.default_rng(0)
    for _ in range(10):
        observations, *_ = env.step(random_masked_actions(env, observations, rng))
    assert not np.array_equal(env.state(), state)
    again, _ = env.reset(seed=5)
    assert_same(first, again, "reset(seed=5)")
    assert_same(state, env.state(), "state after reset(seed=5)")


# ------------------------------------------------------------------------------------------------
# Episode end
# ------------------------------------------------------------------------------------------------


def test_eliminated_nation_terminates_and_leaves_agents():
    env = realism_env.parallel_env(n_nations=4, provinces_per_nation=1, offense_defense_balance=1.0)
    observations, _ = env.reset(seed=0)
    rng = np.random.default_rng(0)
    gone: list[str] = []
    for _ in range(MAX_TURNS):
        before = list(env.agents)
        observations, rewards, terminations, truncations, infos = env.step(aggressive_actions(env, observations, rng))
        gone = [a for a in before if not env.world.alive[0, env.agent_name_mapping[a]]]
        if gone and env.agents:
            break
    assert gone and env.agents, "aggressive play with one province each should eliminate someone"
    for agent in gone:
        assert terminations[agent] is True and truncations[agent] is False
        assert agent not in env.agents
        assert any(e["kind"] == "eliminated" and e["actor"] == agent for e in env.last_rich_infos[agent]["events"])
        assert env.last_rich_infos[agent]["reward_terms"]["elimination"] == -10.0
        assert not (env.world.owner[0] == env.agent_name_mapping[agent]).any()
    survivors = [a for a in before if a not in gone]
    assert sorted(env.agents) == sorted(survivors)
    assert not any(terminations[a] for a in survivors)
    observations, *_ = env.step(random_masked_actions(env, observations, rng))
    assert not set(gone) & set(observations), "an eliminated nation gets no more observations"


def test_unification_terminates_every_nation_before_max_cycles():
    env = realism_env.parallel_env(n_nations=3, provinces_per_nation=1, offense_defense_balance=1.0, max_cycles=200)
    observations, _ = env.reset(seed=1)
    rng = np.random.default_rng(1)
    for _ in range(MAX_TURNS):
        observations, rewards, terminations, truncations, infos = env.step(aggressive_actions(env, observations, rng))
        if not env.agents:
            break
    assert env.agents == []
    assert env.world.turn[0] < 200
    winner = int(np.flatnonzero(env.world.alive[0])[0])
    assert env.world.alive[0].sum() == 1 and (env.world.owner[0] == winner).all()
    assert terminations[f"nation_{winner}"] is True and truncations[f"nation_{winner}"] is False


def test_truncation_happens_at_max_cycles():
    env = realism_env.parallel_env(max_cycles=5)
    observations, _ = env.reset(seed=0)
    wait = {a: encode_action(0, Act.WAIT, 0, 6) for a in env.possible_agents}
    for turn in range(1, 6):
        observations, rewards, terminations, truncations, infos = env.step(wait)
        assert not any(terminations.values())
        if turn < 5:
            assert not any(truncations.values()) and env.agents == env.possible_agents
    assert all(truncations[a] for a in env.possible_agents)
    assert env.agents == []


def test_truncation_at_max_cycles_in_aec_env():
    env = realism_env.env(max_cycles=3)
    env.reset(seed=0)
    acted = dict.fromkeys(env.possible_agents, 0)
    for agent in env.agent_iter(max_iter=100):
        _, _, termination, truncation, _ = env.last()
        if termination or truncation:
            env.step(None)
            continue
        acted[agent] += 1
        env.step(encode_action(0, Act.WAIT, 0, 6))
    assert acted == dict.fromkeys(env.possible_agents, 3)
    assert all(env.unwrapped.world.alive[0])


def last_step_with_an_elimination(seeds: range) -> tuple[realism_env.RealismEnv, dict, dict, list[str]]:
    """The first seeded episode (3 nations of 1 province, 8 turns, aggressive play) whose last step, at
    ``max_cycles``, also eliminates a nation: the env, that step's terminations and truncations, and who played it."""
    for seed in seeds:
        env = realism_env.parallel_env(n_nations=3, provinces_per_nation=1, max_cycles=8)
        observations, _ = env.reset(seed=seed)
        rng = np.random.default_rng(seed)
        while env.agents:
            played = list(env.agents)
            observations, _, terminations, truncations, _ = env.step(aggressive_actions(env, observations, rng))
        if env.world.turn[0] == 8 and any(terminations.values()) and not all(terminations.values()):
            return env, terminations, truncations, played
    pytest.fail(f"no episode among seeds {seeds} lost a nation on its last turn")


def test_every_nation_is_truncated_at_max_cycles_also_one_eliminated_on_that_turn():
    """The flags of the last step agree (RLlib's PettingZoo wrappers end an episode only when every nation reporting
    is terminated, or every one truncated); the eliminated nation is terminated as well."""
    env, terminations, truncations, played = last_step_with_an_elimination(range(60))
    assert set(truncations) == set(played) and all(truncations.values())
    eliminated = [a for a in played if not env.world.alive[0, env.agent_name_mapping[a]]]
    assert eliminated and all(terminations[a] for a in eliminated)
    assert not any(terminations[a] for a in played if a not in eliminated)
    assert env.agents == []


# ------------------------------------------------------------------------------------------------
# Infos: flat numbers by default; the rich records on the env, and in infos with rich_infos=True
# ------------------------------------------------------------------------------------------------


def test_default_infos_hold_the_same_numeric_keys_at_reset_and_every_step():
    """What TorchRL's PettingZooWrapper needs: it builds a tensor spec from the reset infos and fills it each step."""
    env = realism_env.parallel_env(n_nations=3, provinces_per_nation=2, max_cycles=60)
    observations, infos = env.reset(seed=0)
    assert infos == {a: {"action_valid": True} for a in env.possible_agents}
    rng = np.random.default_rng(0)
    for _ in range(MAX_TURNS):
        acting = list(env.agents)
        actions = {a: int(rng.integers(env.action_space(a).n)) for a in acting}  # masked-out ones too
        observations, _, _, _, infos = env.step(actions)
        assert set(infos) == set(acting)
        for agent, info in infos.items():
            assert set(info) == {"action_valid"} and type(info["action_valid"]) is bool
            assert info["action_valid"] == bool(env.last_events.invalid_action[0, env.agent_name_mapping[agent]] == 0)
        if not env.agents:
            break
    assert not env.agents


def test_rich_infos_are_the_env_s_last_rich_infos_in_lockstep():
    """``rich_infos=True`` gives the former infos; a default env has the same records on ``last_rich_infos`` and
    ``last_event_records``."""
    kwargs = {"n_nations": 4, "provinces_per_nation": 2, "max_cycles": 80}
    plain, rich = realism_env.parallel_env(**kwargs), realism_env.parallel_env(**kwargs, rich_infos=True)
    observations, plain_infos = plain.reset(seed=3)
    _, rich_infos = rich.reset(seed=3)
    empty = {"reward_terms": {}, "events": [], "action_valid": True}
    assert rich_infos == plain.last_rich_infos == {a: empty for a in plain.possible_agents}
    assert plain.last_event_records == [] and plain.last_events is None
    rng = np.random.default_rng(3)
    kinds: set[str] = set()
    while plain.agents:
        actions = aggressive_actions(plain, observations, rng)
        observations, rewards, _, _, plain_infos = plain.step(actions)
        *_, rich_infos = rich.step(actions)
        assert_same(rich_infos, plain.last_rich_infos, "rich infos")
        records = plain.last_event_records
        kinds.update(r["kind"] for r in records)
        for agent, info in rich_infos.items():
            assert plain_infos[agent] == {"action_valid": info["action_valid"]}
            assert rewards[agent] == pytest.approx(sum(info["reward_terms"].values()))
            assert info["events"] == [r for r in records if agent in (r["actor"], r["target"])]
    assert {"war_declared", "battle", "eliminated"} <= kinds


def test_bad_rich_infos_and_rich_infos_before_reset_say_what_is_wrong():
    with pytest.raises(ValueError, match="rich_infos='yes' is invalid; valid: True or False"):
        realism_env.parallel_env(rich_infos="yes")
    with pytest.raises(RuntimeError, match="call reset"):
        _ = realism_env.parallel_env().last_rich_infos


# ------------------------------------------------------------------------------------------------
# The action mask is exact
# ------------------------------------------------------------------------------------------------


def reference_mask(world: realism_env.World, i: int, n_levels: int) -> np.ndarray:
    """Nation i's mask written from the docstring's table with plain loops over provinces and slots."""
    n = world.n_nations
    owner = world.owner[0]
    land = np.zeros((n, n), dtype=bool)
    linked = np.zeros((n, n), dtype=bool)
    for adjacency, out in ((world.land_adjacency[0], land), (world.sea_adjacency[0], linked)):
        for p, q in np.argwhere(adjacency):
            if owner[p] != owner[q]:
                out[owner[p], owner[q]] = True
    border = land | linked
    held = np.bincount(owner, minlength=n)
    alive, at_war, allied, demand = world.alive[0], world.at_war[0], world.allied[0], world.demand[0]
    acts = np.zeros((N_ACTS, n - 1), dtype=bool)
    for slot in range(n - 1):
        j = target_nation(i, slot, n)
        free = alive[j] and not allied[i, j]
        acts[Act.WAIT, slot] = slot == 0
        acts[Act.ATTACK, slot] = free and (border[i, j] or at_war[i, j])
        acts[Act.ALLY, slot] = free and not at_war[i, j]
        acts[Act.LEAVE_ALLIANCE, slot] = allied[i, j]
        acts[Act.THREATEN, slot] = free and border[i, j] and not at_war[i, j] and not demand[i, j]
        # The concession hands over a province bordering the demander, so the two must still border.
        acts[Act.CONCEDE, slot] = alive[j] and demand[j, i] and held[i] > 1 and border[i, j]
        acts[Act.SUPPORT, slot] = alive[j] and not at_war[i, j]
        acts[Act.PEACE, slot] = at_war[i, j]
    return np.broadcast_to(acts, (n_levels, N_ACTS, n - 1)).reshape(-1).astype(np.int8)


@pytest.mark.parametrize(
    ("seed", "overrides"),
    [(0, {}), (1, {"scenario": "islands"}), (2, {"n_nations": 3, "provinces_per_nation": 2}), (3, {"n_nations": 8})],
)
def test_action_mask_matches_the_documented_rules_every_turn(seed, overrides):
    env = realism_env.parallel_env(**overrides)
    observations, _ = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    levels = len(env.config.arms_shares)
    seen_acts = np.zeros(N_ACTS, dtype=bool)
    for _ in range(80):
        for agent in env.agents:
            i = env.agent_name_mapping[agent]
            mask = observations[agent]["action_mask"]
            assert mask.dtype == np.int8 and mask.any(), f"{agent}: mask all zero"
            np.testing.assert_array_equal(mask, reference_mask(env.world, i, levels), err_msg=agent)
            seen_acts |= mask.reshape(levels, N_ACTS, -1)[0].any(axis=1).astype(bool)
        observations, *_ = env.step(random_masked_actions(env, observations, rng))
        if not env.agents:
            break
    assert seen_acts.all(), seen_acts


def _advanced_env(seed: int, turns: int) -> tuple[realism_env.RealismEnv, dict, np.random.Generator]:
    env = realism_env.parallel_env()
    observations, _ = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    for _ in range(turns):
        observations, *_ = env.step(random_masked_actions(env, observations, rng))
    assert env.agents, "the test needs a running episode"
    return env, observations, rng


def _world_arrays(env: realism_env.RealismEnv) -> dict[str, np.ndarray]:
    return {k: v for k, v in vars(env.world).items() if isinstance(v, np.ndarray)}


@pytest.mark.parametrize(("seed", "turns"), [(0, 0), (4, 12), (7, 30)])
def test_masked_out_action_is_a_wait_recorded_as_invalid(seed, turns):
    env, observations, rng = _advanced_env(seed, turns)
    agent = env.agents[0]
    i = env.agent_name_mapping[agent]
    n = env.config.n_nations
    others = random_masked_actions(env, observations, rng, skip=agent)
    masked_out = np.flatnonzero(observations[agent]["action_mask"] == 0)
    assert masked_out.size > 0
    for action in masked_out[:: max(1, masked_out.size // 40)]:
        level = decode_action(action, n).arms_level
        played, twin = copy.deepcopy(env), copy.deepcopy(env)
        obs_p, rew_p, term_p, trunc_p, info_p = played.step({**others, agent: int(action)})
        obs_t, rew_t, term_t, trunc_t, info_t = twin.step({**others, agent: encode_action(level, Act.WAIT, 0, n)})
        assert info_p[agent]["action_valid"] is False, decode_action(action, n)
        assert info_t[agent]["action_valid"] is True
        assert_same(_world_arrays(played), _world_arrays(twin), f"world after {decode_action(action, n)}")
        assert_same((obs_p, rew_p, term_p, trunc_p), (obs_t, rew_t, term_t, trunc_t), "step outputs")
        assert played.world.last_act[0, i] == Act.WAIT and played.world.arms_level[0, i] == level
        assert any(e["kind"] == "invalid_action" for e in played.last_rich_infos[agent]["events"])


def test_masked_in_actions_are_valid_and_public():
    env, observations, rng = _advanced_env(seed=4, turns=12)
    n = env.config.n_nations
    agent = env.agents[0]
    i = env.agent_name_mapping[agent]
    others = random_masked_actions(env, observations, rng, skip=agent)
    valid = np.flatnonzero(observations[agent]["action_mask"])
    for action in valid:
        decoded = decode_action(action, n)
        played = copy.deepcopy(env)
        *_, infos = played.step({**others, agent: int(action)})
        assert infos[agent]["action_valid"] is True, decoded
        assert played.world.last_act[0, i] == decoded.act
        assert played.world.arms_level[0, i] == decoded.arms_level
        if decoded.act != Act.WAIT:
            assert played.world.last_target[0, i] == target_nation(i, decoded.target_slot, n)


def test_action_encoding_round_trips_over_the_whole_space():
    for n in (2, 3, 6, 64):
        space = realism_env.parallel_env(n_nations=n, provinces_per_nation=1).action_space("nation_0")
        assert space.n == realism_env.n_actions(n) == 5 * N_ACTS * (n - 1)
        for action in range(space.n):
            decoded = decode_action(action, n)
            assert encode_action(decoded.arms_level, decoded.act, decoded.target_slot, n) == action


# ------------------------------------------------------------------------------------------------
# Spaces
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("overrides", [{}, {"n_nations": 2}, {"reveal_doctrines": True, "doctrines": "power"}])
def test_observations_and_state_are_in_their_spaces(overrides):
    env = realism_env.parallel_env(**overrides)
    observations, _ = env.reset(seed=2)
    rng = np.random.default_rng(2)
    assert env.state_space.shape == env.state().shape
    for _ in range(40):
        assert set(env.agents) <= set(observations)
        for agent, observation in observations.items():
            assert env.observation_space(agent).contains(observation), agent
            assert np.isfinite(observation["observation"]).all()
            assert observation["observation"].shape == (env.layout.size,)
        state = env.state()
        assert env.state_space.contains(state) and np.isfinite(state).all()
        observations, *_ = env.step(random_masked_actions(env, observations, rng))
        if not env.agents:
            break


def test_observation_hides_doctrines_unless_revealed():
    hidden = realism_env.parallel_env(doctrines=("power", "security") * 3)
    shown = realism_env.parallel_env(doctrines=("power", "security") * 3, reveal_doctrines=True)
    assert not any("doctrine" in f for f in hidden.layout.own_fields + hidden.layout.other_fields)
    assert shown.layout.size > hidden.layout.size
    observations, _ = shown.reset(seed=0)
    others = shown.layout.other(observations["nation_0"]["observation"], "doctrine_power")
    np.testing.assert_array_equal(others, [0, 1, 0, 1, 0])  # slots 0..4 are nations 1..5


# ------------------------------------------------------------------------------------------------
# Scenarios and doctrines: every registered one builds and runs
# ------------------------------------------------------------------------------------------------


def _run(env: realism_env.RealismEnv, seed: int, turns: int) -> int:
    observations, _ = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    played = 0
    for _ in range(turns):
        if not env.agents:
            break
        actions = random_masked_actions(env, observations, rng)
        observations, rewards, terminations, truncations, infos = env.step(actions)
        played += 1
        for agent in actions:
            terms = env.last_rich_infos[agent]["reward_terms"]
            assert terms and np.isfinite(rewards[agent])
            assert rewards[agent] == pytest.approx(sum(terms.values()))
        for agent, observation in observations.items():
            assert env.observation_space(agent).contains(observation)
    return played


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_scenario_builds_and_runs_20_turns(name):
    env = realism_env.parallel_env(scenario=name)
    for field, value in SCENARIOS[name].overrides.items():
        assert getattr(env.config, field) == value, field
    assert len(env.possible_agents) == env.config.n_nations
    assert _run(env, seed=0, turns=20) >= 1
    assert env.state_space.contains(env.state())


@pytest.mark.parametrize("name", sorted(DOCTRINES))
def test_every_doctrine_runs_20_turns(name):
    env = realism_env.parallel_env(doctrines=name)
    assert _run(env, seed=0, turns=20) >= 1


def test_builtin_scenarios_and_doctrines_are_registered():
    assert {"multipolar", "bipolar", "unipolar", "rising_power", "islands"} <= set(SCENARIOS)
    assert any(s.overrides.get("nation_names") for s in SCENARIOS.values()), "a historical preset"
    assert {"security", "power"} <= set(DOCTRINES)


def test_mixed_population_rewards_each_nation_by_its_own_doctrine():
    doctrines = ("security", "power", "security", "power", "power", "security")
    env = realism_env.parallel_env(doctrines=doctrines, rich_infos=True)
    observations, _ = env.reset(seed=0)
    *_, infos = env.step(random_masked_actions(env, observations, np.random.default_rng(0)))
    for i, doctrine in enumerate(doctrines):
        terms = set(infos[f"nation_{i}"]["reward_terms"])
        assert ("security_margin" in terms) == (doctrine == "security")
        assert ("relative_power" in terms) == (doctrine == "power")


def test_scenario_keyword_with_overrides_on_top():
    env = realism_env.parallel_env(scenario="bipolar", max_cycles=7)
    assert env.config.max_cycles == 7
    assert env.config.capability_shares == SCENARIOS["bipolar"].overrides["capability_shares"]
    env.reset(seed=0)
    wait = {a: 0 for a in env.possible_agents}
    for _ in range(7):
        *_, truncations, _ = env.step(wait)
    assert all(truncations.values()) and env.agents == []

    env = realism_env.parallel_env(scenario="europe_1914", conquest_payoff=0.9, doctrines="power")
    assert env.config.conquest_payoff == 0.9 and env.config.doctrines == "power"
    assert env.config.nation_names == SCENARIOS["europe_1914"].overrides["nation_names"]

    aec = realism_env.env(scenario="islands", max_cycles=9)
    assert aec.unwrapped.config.map_kind == "islands" and aec.unwrapped.config.max_cycles == 9


def test_config_argument_with_overrides():
    config = realism_env.EnvConfig(n_nations=4, misperception=0.0)
    env = realism_env.parallel_env(config, max_cycles=11)
    assert env.config == config.replace(max_cycles=11)
    assert env.possible_agents == ["nation_0", "nation_1", "nation_2", "nation_3"]


# ------------------------------------------------------------------------------------------------
# Metadata
# ------------------------------------------------------------------------------------------------


def test_every_versioned_name_follows_the_one_version() -> None:
    """The env's version is set once (realism_env.version): its name, its registry ids and the Version History's latest
    entry follow it, and no doc or docstring names another version of the env (a bump would leave them behind: the ids
    of realism_v2 would build realism_v3's dynamics, and the README would show the old ids)."""
    import re
    from pathlib import Path

    from realism_env import registration

    version = realism_env.VERSION
    assert realism_env.NAME == f"realism_v{version}"
    for env_id in (registration.ENV_ID, registration.FIXED_AGENTS_ENV_ID, registration.SINGLE_LEARNER_ID):
        assert env_id.endswith(f"-v{version}"), env_id
    history = (realism_env.RealismEnv.__doc__ or "").split("## Version History")[1]
    assert history.strip().startswith(f"* v{version}:"), "the Version History's first entry is the current version"
    root = Path(__file__).resolve().parents[1]
    pattern = re.compile(r"realism_v(\d+)|(?:realism|realism_fixed_agents|SingleLearner)-v(\d+)")
    files = [root / "README.md", *root.glob("docs/**/*.md"), *root.glob("docs/**/*.py")]
    files += [f for package in ("realism_env", "agents", "train", "benchmarks") for f in (root / package).rglob("*.py")]
    files += list((root / "agents").glob("*.html"))
    stale = []
    for path in files:
        text = path.read_text()
        if path.name == "env.py":  # the Version History names the ids each version had
            start = text.index("## Version History")
            text = text[:start] + text[text.index('"""', start) :]
        for match in pattern.finditer(text):
            if int(match.group(1) or match.group(2)) != version:
                line = text[: match.start()].count("\n") + 1
                stale.append(f"{path.relative_to(root)}:{line}: {match.group(0)}")
    assert not stale, f"these name another version than realism_v{version} (realism_env.version): {stale}"


def test_metadata():
    for env in (realism_env.parallel_env(), realism_env.env()):
        assert env.metadata["name"] == f"realism_v{realism_env.VERSION}" == realism_env.NAME
        assert set(env.metadata["render_modes"]) == {"ansi", "rgb_array"}
        assert env.metadata["is_parallelizable"] is True
        assert env.metadata["render_fps"] > 0


def test_agents_are_named_and_have_equal_spaces_of_their_own():
    env = realism_env.parallel_env(n_nations=5)
    assert env.possible_agents == [f"nation_{i}" for i in range(5)]
    assert env.agents == []
    env.reset(seed=0)
    assert env.agents == env.possible_agents
    assert env.observation_space("nation_0") == env.observation_space("nation_4")
    assert env.action_space("nation_3").n == realism_env.n_actions(5)
    # Each agent's space samples from its own generator: seeding one leaves another's draws alone.
    env.action_space("nation_1").seed(7)
    first = [env.action_space("nation_1").sample() for _ in range(5)]
    env.action_space("nation_1").seed(7)
    env.action_space("nation_2").seed(8)
    assert [env.action_space("nation_1").sample() for _ in range(5)] == first


def test_the_readmes_first_example_runs_as_written(capsys: pytest.CaptureFixture[str]) -> None:
    """The first code block a user copies (README, "Using the environment") plays an episode of random valid actions
    to its end and prints the world as text (it printed None, with a warning, when it set no render mode)."""
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("## Using the environment", 1)[1]
    block = section.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict[str, Any] = {}
    exec(block, namespace)  # noqa: S102 - the README's own code
    printed = capsys.readouterr().out
    env = namespace["env"]
    assert not env.agents, "the loop plays the episode to its end"
    assert printed.startswith(f"turn {int(env.world.turn[0])}/200") and "nation_0" in printed
