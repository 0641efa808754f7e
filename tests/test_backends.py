"""One copy of the rules on numpy, torch and array-api-strict: parity, no host sync, determinism, dtypes, map banks.

The parity tests feed numpy and torch (CPU, float64) the same draws and the same actions, world by world and turn by
turn, and require identical trajectories: territories, wars, alliances, demands, eliminations, masks and events
exactly; observations and rewards within the documented tolerance (1e-6: float32 observations of float64 values).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

import realism_env
from realism_env.backend import NumpyRandom, resolve_backend, to_numpy
from realism_env.batch import COMPILE_MODES, WorldBatch, cpu_compile_options
from realism_env.draws import ResetDraws, StepDraws, draw_perception, draw_reset, draw_step
from realism_env.events import Events
from realism_env.maps import generate_maps, initial_worlds
from realism_env.observation import observe
from realism_env.step import derive, step_spec, step_worlds
from realism_env.world import World, array_fields
from tests.host_syncs import forbid_host_syncs

torch = pytest.importorskip("torch", reason="the torch backend needs torch (pip install realism-env[torch])")

OBSERVATION_TOLERANCE = 1e-6
REWARD_TOLERANCE = 1e-9


def convert_reset(reset: ResetDraws, backend: Any) -> ResetDraws:
    """The same reset draws as arrays of ``backend`` (floats in its dtype)."""
    floats = backend.float_dtype
    return ResetDraws(
        backend.asarray(reset.map_index),
        backend.asarray(reset.nation_order, dtype=floats),
        backend.asarray(reset.wealth, dtype=floats),
        None if reset.capability is None else backend.asarray(reset.capability, dtype=floats),
    )


def convert_draws(draws: StepDraws, backend: Any) -> StepDraws:
    """The same step draws as arrays of ``backend`` (floats in its dtype)."""
    turn = type(draws.turn)(*(backend.asarray(a, dtype=backend.float_dtype) for a in draws.turn))
    reset = None if draws.reset is None else convert_reset(draws.reset, backend)
    return StepDraws(turn, backend.asarray(draws.perception, dtype=backend.float_dtype), reset)


def random_valid_actions(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """[W, N] uniform over each nation's valid actions."""
    return np.where(mask.astype(bool), rng.random(mask.shape), -1.0).argmax(axis=2)


def assert_worlds_equal(expected: World, found: World, rtol: float, context: str) -> None:
    for name in array_fields():
        a, b = getattr(expected, name), to_numpy(getattr(found, name))
        if a.dtype.kind == "f":
            np.testing.assert_allclose(b, a, rtol=rtol, atol=1e-12, err_msg=f"{context}: World.{name}")
        else:
            np.testing.assert_array_equal(b, a, err_msg=f"{context}: World.{name}")


def assert_events_equal(expected: Events, found: Events, rtol: float, context: str) -> None:
    for name, a, b in zip(Events._fields, expected, found.to_numpy(), strict=True):
        if a.dtype.kind == "f":
            np.testing.assert_allclose(b, a, rtol=rtol, atol=1e-12, err_msg=f"{context}: Events.{name}")
        else:
            np.testing.assert_array_equal(b, a, err_msg=f"{context}: Events.{name}")


def play_side_by_side(
    scenario: str,
    n_worlds: int,
    turns: int,
    seed: int,
    dtype: str = "float64",
    max_cycles: int = 60,
    capability_spread: float = 0.0,
) -> int:
    """Step numpy and torch-CPU worlds with the same draws and actions; assert they agree. Returns the number of
    worlds that ended (and were replaced) along the way, so callers can check resets were exercised."""
    config = realism_env.EnvConfig.from_scenario(scenario, max_cycles=max_cycles, capability_spread=capability_spread)
    spread = config.capability_spread
    numpy_backend = resolve_backend("numpy")
    torch_backend = resolve_backend("torch", "cpu", dtype)
    bank = generate_maps(config, np.random.default_rng(seed), 8)
    numpy_spec = step_spec(config, numpy_backend, bank)
    torch_spec = step_spec(config, torch_backend, bank.map_arrays(torch_backend.asarray))
    random = NumpyRandom(np.random.default_rng(seed + 1))
    choices = np.random.default_rng(seed + 2)
    rtol = 1e-9 if dtype == "float64" else 1e-4

    reset = draw_reset(random, n_worlds, config.n_nations, config.n_provinces, bank.size, spread)
    torch_reset = convert_reset(reset, torch_backend)
    world = initial_worlds(numpy_spec.maps, reset, config, numpy_spec.rules)
    torch_world = initial_worlds(torch_spec.maps, torch_reset, config, torch_spec.rules)
    derived = derive(world, numpy_spec, reset.map_index)
    torch_derived = derive(torch_world, torch_spec, torch_reset.map_index)
    perception = draw_perception(random, n_worlds, config.n_nations)
    np.testing.assert_allclose(
        to_numpy(observe(torch_world, config, torch_backend.asarray(perception, dtype=torch_backend.float_dtype),
                         torch_spec.observation, torch_derived.land)),
        observe(world, config, perception, numpy_spec.observation, derived.land),
        atol=OBSERVATION_TOLERANCE,
    )  # fmt: skip
    ended = 0
    for turn in range(turns):
        context = f"{scenario} turn {turn}"
        draws = draw_step(random, n_worlds, config.n_nations, config.n_provinces, bank.size, spread)
        mask = to_numpy(torch_derived.validity)  # the torch side's validity must match numpy's before acting
        np.testing.assert_array_equal(mask, derived.validity, err_msg=f"{context}: validity")
        actions = random_valid_actions(realism_env.rules.mask_of(derived.validity, numpy_spec.rules), choices)
        out, world, derived = step_worlds(world, derived, actions, draws, numpy_spec)
        torch_out, torch_world, torch_derived = step_worlds(
            torch_world, torch_derived, torch.as_tensor(actions), convert_draws(draws, torch_backend), torch_spec
        )
        assert_worlds_equal(world, torch_world, rtol, context)
        assert_worlds_equal(out.final_world, torch_out.final_world, rtol, context + " (final)")
        assert_events_equal(out.events, torch_out.events, rtol, context)
        for name in ("action_mask", "terminated", "truncated", "acting", "world_reset"):
            np.testing.assert_array_equal(to_numpy(getattr(torch_out, name)), getattr(out, name), err_msg=name)
        for name in ("observations", "final_observations"):
            found, expected = to_numpy(getattr(torch_out, name)), getattr(out, name)
            assert found.dtype == expected.dtype == np.float32, name
            np.testing.assert_allclose(found, expected, atol=OBSERVATION_TOLERANCE, err_msg=f"{context}: {name}")
        np.testing.assert_allclose(to_numpy(torch_out.rewards), out.rewards, rtol=rtol, atol=REWARD_TOLERANCE)
        for doctrine, terms in out.reward_terms.items():
            for term, values in terms.items():
                found = to_numpy(torch_out.reward_terms[doctrine][term])
                np.testing.assert_allclose(found, values, rtol=rtol, atol=REWARD_TOLERANCE, err_msg=term)
        ended += int(out.world_reset.sum())
    return ended


def test_numpy_and_torch_agree_turn_by_turn_in_the_default_scenario() -> None:
    ended = play_side_by_side("multipolar", n_worlds=16, turns=60, seed=0, max_cycles=25)
    assert ended >= 16  # every world ended at least once: resets were compared too


def test_numpy_and_torch_agree_with_random_capability_shares() -> None:
    ended = play_side_by_side("multipolar", n_worlds=8, turns=30, seed=3, max_cycles=12, capability_spread=0.5)
    assert ended >= 16  # fresh worlds with spread shares were built on both sides, twice each


@pytest.mark.slow
@pytest.mark.parametrize("scenario", sorted(realism_env.SCENARIOS))
def test_numpy_and_torch_agree_over_200_turns_in_64_worlds_of_every_scenario(scenario: str) -> None:
    ended = play_side_by_side(scenario, n_worlds=64, turns=200, seed=11)
    assert ended >= 64


def test_torch_float32_follows_float64_within_its_tolerance_on_the_first_turns() -> None:
    """float32 worlds (the GPU default) follow the same rules; over a few turns nothing discrete differs here."""
    play_side_by_side("multipolar", n_worlds=16, turns=3, seed=5, dtype="float32")


def test_torch_float32_batches_run_sanely_for_many_turns() -> None:
    batch = WorldBatch(realism_env.EnvConfig(max_cycles=30), 32, seed=1, backend="torch", dtype="float32")
    observations, mask = batch.reset()
    generator = torch.Generator().manual_seed(0)
    for _ in range(90):
        scores = torch.rand(mask.shape, generator=generator)
        out = batch.step(torch.where(mask.bool(), scores, -1.0).argmax(dim=2))
        mask = out.action_mask
        assert out.observations.dtype == torch.float32 and batch.world.wealth.dtype == torch.float32
        assert torch.isfinite(out.observations).all() and torch.isfinite(out.rewards).all()
        assert ((out.observations >= 0) & (out.observations <= 1)).all()
    assert (batch.world.turn < 30).all()


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_float32_worlds_stay_finite_up_to_the_longest_episode_a_batch_accepts(backend: str) -> None:
    """The fastest growth there is (nation_0 of rising_power, 9% a year, every nation investing all its income in
    peace) for as many turns as a float32 batch allows: nothing overflows, nothing warns."""
    config = realism_env.EnvConfig.from_scenario("rising_power")
    horizon = config.longest_horizon(float(np.finfo(np.float32).max))
    batch = WorldBatch(config.replace(max_cycles=horizon), 4, seed=0, backend=backend, dtype="float32")
    batch.reset()
    wait_at_level_0 = batch.backend.asarray(np.zeros((4, config.n_nations), dtype=np.int64))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        for _ in range(horizon):
            out = batch.step(wait_at_level_0)
            assert np.isfinite(to_numpy(out.observations)).all() and np.isfinite(to_numpy(out.rewards)).all()
    assert to_numpy(out.world_reset).all()  # the last turn was the horizon's
    assert to_numpy(out.final_world.wealth).max() > 1e30  # and the economy did grow all the way


# --------------------------------------------------------------------------------------------------
# array-api-strict: the rules use nothing beyond the standard
# --------------------------------------------------------------------------------------------------


def test_one_step_runs_on_array_api_strict_and_matches_numpy() -> None:
    xp = pytest.importorskip("array_api_strict")
    # The step ends every world, so resets run; the capability spread's draws and code run too.
    config = realism_env.EnvConfig.from_scenario("islands", max_cycles=1, capability_spread=0.5)
    numpy_backend = resolve_backend("numpy")
    strict = type(numpy_backend)("strict", xp, xp.Device("CPU_DEVICE"), xp.float64)
    bank = generate_maps(config, np.random.default_rng(0), 4)

    def to_strict(array: np.ndarray) -> Any:
        return xp.asarray(array)

    numpy_spec = step_spec(config, numpy_backend, bank)
    strict_spec = step_spec(config, strict, bank.map_arrays(to_strict))
    random = NumpyRandom(np.random.default_rng(1))
    reset = draw_reset(random, 3, config.n_nations, config.n_provinces, bank.size, config.capability_spread)
    world = initial_worlds(bank, reset, config, numpy_spec.rules)
    strict_world = initial_worlds(strict_spec.maps, type(reset)(*map(to_strict, reset)), config, strict_spec.rules)
    derived = derive(world, numpy_spec, reset.map_index)
    strict_derived = derive(strict_world, strict_spec, to_strict(reset.map_index))
    draws = draw_step(random, 3, config.n_nations, config.n_provinces, bank.size, config.capability_spread)
    turn, reset_draws = type(draws.turn)(*map(to_strict, draws.turn)), type(draws.reset)(*map(to_strict, draws.reset))
    strict_draws = StepDraws(turn, to_strict(draws.perception), reset_draws)
    actions = random_valid_actions(realism_env.rules.mask_of(derived.validity, numpy_spec.rules), random.generator)
    out, world, _ = step_worlds(world, derived, actions, draws, numpy_spec)
    strict_out, strict_world, _ = step_worlds(
        strict_world, strict_derived, to_strict(actions), strict_draws, strict_spec
    )
    assert_worlds_equal(world, strict_world, 1e-12, "array-api-strict")
    assert_events_equal(out.events, Events(*strict_out.events), 1e-12, "array-api-strict")
    np.testing.assert_array_equal(np.asarray(strict_out.action_mask), out.action_mask)
    np.testing.assert_allclose(np.asarray(strict_out.observations), out.observations, atol=OBSERVATION_TOLERANCE)
    np.testing.assert_allclose(np.asarray(strict_out.rewards), out.rewards, atol=REWARD_TOLERANCE)
    assert out.world_reset.all()


# --------------------------------------------------------------------------------------------------
# No host sync inside a step
# --------------------------------------------------------------------------------------------------


def random_device_actions(mask: Any, generator: Any) -> Any:
    """Random valid actions chosen on the device (no host round trip)."""
    scores = torch.rand(mask.shape, generator=generator, device=mask.device)
    return torch.where(mask.bool(), scores, -1.0).argmax(dim=2)


def test_a_torch_step_never_syncs_with_the_host(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tensor.__bool__, .item(), .tolist(), .numpy() (and int(), float(), .cpu()) raise inside WorldBatch.step:
    the step, resets of ended worlds included, runs without them."""
    batch = WorldBatch(realism_env.EnvConfig(max_cycles=4), 8, seed=0, backend="torch")
    _, mask = batch.reset()
    generator = torch.Generator().manual_seed(0)
    calls = []
    reset_seen = False
    for _ in range(10):
        actions = random_device_actions(mask, generator)
        with monkeypatch.context() as patch:
            calls.append(forbid_host_syncs(patch, "inside WorldBatch.step"))
            out = batch.step(actions)
        mask = out.action_mask
        reset_seen = reset_seen or bool(out.world_reset.any())
    assert not any(calls)
    assert reset_seen, "max_cycles=4 over 10 steps: worlds should have ended and been replaced"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_cuda_step_never_syncs_under_torch_sync_debug_mode() -> None:
    batch = WorldBatch(realism_env.EnvConfig(max_cycles=4), 64, seed=0, backend="torch", device="cuda")
    _, mask = batch.reset()
    generator = torch.Generator(device="cuda").manual_seed(0)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(8):
            mask = batch.step(random_device_actions(mask, generator)).action_mask
    finally:
        torch.cuda.set_sync_debug_mode("default")
    torch.cuda.synchronize()


# --------------------------------------------------------------------------------------------------
# Seeds, map banks, resets
# --------------------------------------------------------------------------------------------------


def play_batch(backend: str, seed: int, steps: int = 25) -> list[np.ndarray]:
    batch = WorldBatch(realism_env.EnvConfig(max_cycles=10), 6, seed=seed, backend=backend, map_bank=5)
    observations, mask = batch.reset()
    trace = [to_numpy(observations)]
    choices = np.random.default_rng(123)
    for _ in range(steps):
        actions = random_valid_actions(to_numpy(mask), choices)
        out = batch.step(actions if backend == "numpy" else torch.as_tensor(actions))
        mask = out.action_mask
        trace += [to_numpy(out.observations), to_numpy(out.rewards), to_numpy(batch.world.owner)]
    return trace


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_the_same_seed_gives_the_same_trajectory_and_another_seed_another(backend: str) -> None:
    first, again, other = play_batch(backend, 4), play_batch(backend, 4), play_batch(backend, 5)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(first, other, strict=True))


def as_tensors(state: dict[str, Any]) -> dict[str, Any]:
    """A WorldBatch state with its numpy arrays as tensors, as a checkpoint read with ``weights_only=True`` holds."""
    world = {name: torch.as_tensor(array) for name, array in state["world"].items()}
    return {**state, "world": world, "map_index": torch.as_tensor(state["map_index"])}


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_a_batch_saved_mid_episode_goes_on_turn_for_turn_in_a_new_batch(backend: str, tmp_path: Any) -> None:
    straight = play_batch(backend, 4)  # 25 turns of 10-turn episodes: worlds end and are replaced from the bank
    batch = WorldBatch(realism_env.EnvConfig(max_cycles=10), 6, seed=4, backend=backend, map_bank=5)
    observations, mask = batch.reset()
    trace = [to_numpy(observations)]
    choices = np.random.default_rng(123)
    for turn in range(25):
        if turn == 13:  # mid-episode: saved, read back with weights_only, and continued by a batch of the same seed
            torch.save(as_tensors(batch.state_dict()), tmp_path / "worlds.pt")
            batch = WorldBatch(realism_env.EnvConfig(max_cycles=10), 6, seed=4, backend=backend, map_bank=5)
            batch.load_state_dict(torch.load(tmp_path / "worlds.pt", weights_only=True))
        actions = random_valid_actions(to_numpy(mask), choices)
        out = batch.step(actions if backend == "numpy" else torch.as_tensor(actions))
        mask = out.action_mask
        trace += [to_numpy(out.observations), to_numpy(out.rewards), to_numpy(batch.world.owner)]
    for a, b in zip(straight, trace, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    ("other", "message"),
    [
        ({"seed": 5}, "drawn from another map bank"),
        ({"n_worlds": 7}, "world.province_xy is"),
        ({"dtype": "float32"}, "world.province_xy is"),
        ({"backend": "torch"}, "saved from a 'numpy' batch; valid: a 'numpy' batch"),
    ],
)
def test_a_saved_batch_loads_only_into_a_batch_like_it_and_a_refusal_changes_nothing(other, message) -> None:
    made = {"config": realism_env.EnvConfig(max_cycles=10), "n_worlds": 6, "seed": 4, "map_bank": 5}
    saved = WorldBatch(**made)
    saved.reset()
    saved.step(np.zeros((6, 6), dtype=np.int64))
    state = saved.state_dict()
    batch = WorldBatch(**{**made, **other})
    batch.reset()
    before = batch.state_dict()
    with pytest.raises(ValueError, match=message):
        batch.load_state_dict(state)
    after = batch.state_dict()
    if isinstance(before["random"], dict):  # a numpy bit generator's state; a torch.Generator's is a ByteTensor
        assert after["random"] == before["random"]
    else:
        assert torch.equal(after["random"], before["random"])
    for name, array in before["world"].items():
        np.testing.assert_array_equal(to_numpy(after["world"][name]), to_numpy(array))
    with pytest.raises(ValueError, match=r"the state lacks \['map_bank'\]"):
        batch.load_state_dict({key: value for key, value in state.items() if key != "map_bank"})
    with pytest.raises(RuntimeError, match="call reset"):
        WorldBatch(**made).state_dict()


def test_a_torch_batchs_state_loads_with_every_tensor_turned_into_numpy() -> None:
    """Checkpoint code that converts every tensor of a state to numpy (its generator's state too) loads as it was
    ("its arrays may be numpy arrays or tensors"); the generator's state was refused as a numpy array."""
    saved = WorldBatch(realism_env.EnvConfig(max_cycles=10), 3, seed=4, backend="torch")
    saved.reset()
    state = saved.state_dict()
    as_numpy_state = {**state, "world": {k: to_numpy(v) for k, v in state["world"].items()}}
    as_numpy_state.update(map_index=to_numpy(state["map_index"]), random=to_numpy(state["random"]))
    batch = WorldBatch(realism_env.EnvConfig(max_cycles=10), 3, seed=4, backend="torch")
    batch.load_state_dict(as_numpy_state)
    actions = torch.zeros((3, 6), dtype=torch.int64)
    assert torch.equal(batch.step(actions).observations, saved.step(actions).observations)


def test_a_reseed_keeps_the_doctrines_and_observation_layout_of_construction() -> None:
    """A doctrine registered after the batch was made (revealed doctrines add one column each) changed a reseeded
    batch's observations but not its observation_size."""
    batch = WorldBatch(realism_env.EnvConfig(max_cycles=4, reveal_doctrines=True), 2, seed=0)
    observations, _ = batch.reset()
    size, doctrines = batch.observation_size, batch.doctrines
    doctrine = realism_env.register_doctrine(realism_env.Doctrine("test_later", "for a moment", lambda out, c: {}))
    try:
        reseeded, _ = batch.reset(seed=1)
    finally:
        realism_env.DOCTRINES.pop(doctrine.name)
    assert reseeded.shape == observations.shape and batch.observation_size == size == observations.shape[-1]
    assert batch.doctrines == doctrines
    # the reseed did replace the maps: the seed-1 batch's worlds
    np.testing.assert_array_equal(reseeded, WorldBatch(batch.config, 2, seed=1).reset()[0])


def test_seeded_worlds_keep_the_observation_layout_their_tables_were_built_with() -> None:
    """SeededWorlds.layout was read from the registry at each access: a doctrine registered later shifted every other
    nation's fields while its observations kept their width."""
    from realism_env.seeded import SeededWorlds

    config = realism_env.EnvConfig(max_cycles=4, reveal_doctrines=True)
    worlds = SeededWorlds(config, [0])
    env_layout = realism_env.parallel_env(config).layout
    doctrine = realism_env.register_doctrine(realism_env.Doctrine("test_later", "for a moment", lambda out, c: {}))
    try:
        observations, _ = worlds.reset()
        layout = worlds.layout
    finally:
        realism_env.DOCTRINES.pop(doctrine.name)
    assert layout.size == observations.shape[-1] == env_layout.size
    np.testing.assert_array_equal(layout.other_indices("alive"), env_layout.other_indices("alive"))


def test_step_worlds_with_a_map_bank_refuses_draws_without_the_resets_at_once() -> None:
    """Without draw_step(..., n_maps=...) the step failed only when a world ended, with a bare TypeError."""
    batch = WorldBatch(realism_env.EnvConfig(max_cycles=3), 2, seed=0)
    batch.reset()
    config = batch.config
    draws = draw_step(batch.random, 2, config.n_nations, config.n_provinces)  # n_maps forgotten
    actions = np.zeros((2, config.n_nations), dtype=np.int64)
    with pytest.raises(ValueError, match=r"needs draws with the resets' draws: draw_step\(..., n_maps=...\)"):
        step_worlds(batch.world, batch._derived, actions, draws, batch._spec)


def test_a_saved_batch_loads_only_into_a_batch_of_its_config() -> None:
    made = {"n_worlds": 3, "seed": 4, "map_bank": 2}
    saved = WorldBatch(realism_env.EnvConfig(max_cycles=50), **made)
    saved.reset()
    other = WorldBatch(realism_env.EnvConfig(max_cycles=5, doctrines="power"), **made)
    other.reset()
    before = other.state_dict()
    with pytest.raises(ValueError) as error:
        other.load_state_dict(saved.state_dict())
    assert str(error.value) == (
        "the state was saved from a batch whose config has doctrines='security', max_cycles=50; "
        "valid: a state of doctrines='power', max_cycles=5"
    )
    assert other.state_dict()["random"] == before["random"]
    # states saved before the config was kept in them still load
    twin = WorldBatch(realism_env.EnvConfig(max_cycles=50), **made)
    twin.load_state_dict({key: value for key, value in saved.state_dict().items() if key != "config"})
    np.testing.assert_array_equal(twin.world.owner, saved.world.owner)


def test_a_malformed_state_raises_value_error_and_leaves_a_batch_never_reset_as_it_was() -> None:
    config = realism_env.EnvConfig(max_cycles=10)
    saved = WorldBatch(config, 3, seed=4)
    saved.reset()
    batch = WorldBatch(config, 3, seed=4)
    with pytest.raises(ValueError, match=r"the state does not fit this batch \(TypeError"):
        batch.load_state_dict({**saved.state_dict(), "world": None})
    assert batch.world is None
    fresh_observations, _ = WorldBatch(config, 3, seed=4).reset()
    np.testing.assert_array_equal(batch.reset()[0], fresh_observations)  # its seeded trajectory is intact


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_fresh_worlds_come_from_the_map_bank_dealt_in_random_orders(backend: str) -> None:
    config = realism_env.EnvConfig(max_cycles=2)
    batch = WorldBatch(config, 64, seed=3, backend=backend, map_bank=3)
    batch.reset()
    bank = batch.maps.map_arrays(to_numpy)
    dealt = set()
    for _ in range(4):  # every world ends at turn 2 and is replaced from the bank (WAIT moves take no province)
        world = batch.world.map_arrays(to_numpy)
        for w in range(world.n_worlds):
            deals = []
            for k in range(bank.size):
                if np.array_equal(world.sea_adjacency[w], bank.sea_adjacency[k]) and np.array_equal(
                    world.land_adjacency[w], bank.land_adjacency[k]
                ):
                    pairs = set(zip(bank.territory[k].tolist(), world.owner[w].tolist(), strict=True))
                    if len(pairs) == len({t for t, _ in pairs}) == len({o for _, o in pairs}) == config.n_nations:
                        deals.append((k, tuple(sorted(pairs))))  # each territory of map k dealt to one nation
            assert deals, f"world {w} is not one of the bank's maps with its territories dealt to the nations"
            dealt.add(deals[0])
        waits = np.zeros((64, config.n_nations), dtype=np.int64)
        batch.step(waits if backend == "numpy" else torch.as_tensor(waits))
    assert len(dealt) > 20, "fresh worlds should deal the bank's territories in many different orders"


def test_ended_worlds_are_replaced_in_place_and_their_last_step_is_kept() -> None:
    batch = WorldBatch(realism_env.EnvConfig(max_cycles=3), 4, seed=0)
    batch.reset()
    for _ in range(3):
        out = batch.step(np.zeros((4, 6), dtype=np.int64))
    assert out.world_reset.all() and out.truncated.all()
    assert (out.final_world.turn == 3).all() and (batch.world.turn == 0).all()
    np.testing.assert_array_equal(out.observations[:, :, batch.layout.own_index("turn")], 0.0)
    np.testing.assert_allclose(out.final_observations[:, :, batch.layout.own_index("turn")], 1.0)


def test_the_default_map_bank_has_eight_maps_per_world_up_to_1024() -> None:
    config = realism_env.EnvConfig()
    assert WorldBatch(config, 2, seed=0).maps.size == 16
    assert realism_env.batch.default_map_bank(4096) == 1024


def test_numpy_namespace_reductions_over_a_short_last_axis_match_numpy() -> None:
    """On many worlds the rules' sums, maxima and any-of over a nation axis add slices (a faster path): the same
    values and dtypes as numpy's own reductions, with keepdims, and numpy's own path for what it does not cover."""
    from realism_env.backend import NUMPY

    rng = np.random.default_rng(7)
    floats = rng.normal(size=(1024, 6, 6))
    ints = rng.integers(-5, 5, size=(1024, 6, 6))
    flags = rng.random((1024, 6, 6)) < 0.2
    for axis in (-1, 2, 1):
        for keepdims in (False, True):
            np.testing.assert_allclose(
                NUMPY.sum(floats, axis=axis, keepdims=keepdims), floats.sum(axis=axis, keepdims=keepdims), rtol=1e-12
            )
            for x in (floats, ints):
                assert np.array_equal(NUMPY.max(x, axis=axis, keepdims=keepdims), x.max(axis=axis, keepdims=keepdims))
            summed = NUMPY.sum(ints, axis=axis, keepdims=keepdims)
            assert summed.dtype == np.int64 and np.array_equal(summed, ints.sum(axis=axis, keepdims=keepdims))
            anywhere = NUMPY.any(flags, axis=axis, keepdims=keepdims)
            assert anywhere.dtype == np.bool_ and np.array_equal(anywhere, flags.any(axis=axis, keepdims=keepdims))
    # Bools and small ints sum into int64 (as numpy and the array API do), never into their own dtype.
    for x in (flags, ints.astype(np.int8)):
        summed = NUMPY.sum(x, axis=-1)
        assert summed.dtype == np.int64 and np.array_equal(summed, x.sum(axis=-1))
    # A long last axis, a whole-array sum and one world take numpy's own path: the same values.
    long_axis = rng.normal(size=(256, 6, 24))
    np.testing.assert_array_equal(NUMPY.sum(long_axis, axis=-1), np.add.reduce(long_axis, axis=-1))
    assert NUMPY.sum(floats) == np.add.reduce(floats, axis=None)
    np.testing.assert_array_equal(NUMPY.sum(floats[:1], axis=-1), np.add.reduce(floats[:1], axis=-1))


def test_torch_namespace_maximum_and_minimum_match_array_api_compat() -> None:
    """The rules' torch namespace clamps a tensor against a Python number (traceable by torch.compile) and gives
    array-api-compat's values and dtypes; everything else is array-api-compat's."""
    import array_api_compat.torch as compat

    from realism_env.backend import array_namespace, torch_namespace

    xp = torch_namespace()
    assert array_namespace(torch.zeros(2)) is xp and resolve_backend("torch").xp is xp
    floats = torch.tensor([-1.5, 0.0, 2.5, float("nan")], dtype=torch.float64)
    ints = torch.tensor([-3, 0, 4], dtype=torch.int64)
    cases = [(floats, 0.5), (floats, 1), (floats.to(torch.float32), 1e-9), (ints, 1), (ints, ints.flip(0))]
    for tensor, other in cases:
        for ours, theirs in ((xp.maximum, compat.maximum), (xp.minimum, compat.minimum)):
            for args in ((tensor, other), (other, tensor)):
                found, expected = ours(*args), theirs(*args)
                assert found.dtype == expected.dtype, (ours.__name__, args)
                torch.testing.assert_close(found, expected, equal_nan=True)
    assert xp.where is compat.where and xp.float64 is compat.float64


@pytest.mark.slow
def test_the_torch_step_traces_as_one_graph_for_torch_compile() -> None:
    """torch.compile can take a whole step: no graph break (array-api-compat's scalar promotion broke it 38 times)."""
    batch = WorldBatch(realism_env.EnvConfig(max_cycles=4), 16, seed=0, backend="torch")
    _, mask = batch.reset()
    actions = torch.as_tensor(random_valid_actions(to_numpy(mask), np.random.default_rng(0)))
    config = batch.config
    draws = draw_step(batch.random, 16, config.n_nations, config.n_provinces, batch.maps.size, 0.0)
    explained = torch._dynamo.explain(step_worlds)(batch.world, batch._derived, actions, draws, batch._spec)
    assert explained.graph_break_count == 0, [str(reason.reason)[:200] for reason in explained.break_reasons]
    assert explained.graph_count == 1


@pytest.mark.slow
@pytest.mark.parametrize("mode", [True, "reduce-overhead"])
def test_a_compiled_torch_batch_follows_the_eager_one_through_its_resets(mode: bool | str) -> None:
    """WorldBatch(compile=...) steps with torch.compile(step_worlds): the same worlds, rewards and resets as eager
    (with "reduce-overhead", a CUDA graph on a GPU; on the CPU torch.compile's default)."""

    def play(compile: bool | str) -> list[np.ndarray]:
        batch = WorldBatch(realism_env.EnvConfig(max_cycles=5), 16, seed=2, backend="torch", compile=compile)
        _, mask = batch.reset()
        choices, trace = np.random.default_rng(7), []
        for _ in range(12):  # every world ends at turn 5 and is replaced, twice
            out = batch.step(torch.as_tensor(random_valid_actions(to_numpy(mask), choices)))
            mask = out.action_mask
            trace += [out.observations, out.rewards, out.action_mask, out.world_reset, batch.world.owner]
        return [to_numpy(array) for array in trace]

    eager = play(False)
    graphs = torch._dynamo.utils.counters["stats"]["unique_graphs"]
    compiled = play(mode)
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] > graphs, "the step did not go through torch.compile"
    assert sum(int(array.sum()) for array in eager[3::5]) == 32  # 16 worlds reset at turns 5 and 10
    for found, expected in zip(compiled, eager, strict=True):
        np.testing.assert_allclose(found, expected, rtol=1e-9, atol=1e-9)


def test_compile_is_a_flag_of_the_torch_backend() -> None:
    config = realism_env.EnvConfig()
    with pytest.raises(ValueError, match="compile=True is invalid for the numpy backend; valid: .*backend='torch'"):
        WorldBatch(config, 2, seed=0, compile=True)
    with pytest.raises(ValueError, match="compile='yes' is invalid; valid: False, True, 'default', 'reduce-overhead'"):
        WorldBatch(config, 2, seed=0, backend="torch", compile="yes")


@pytest.mark.parametrize("compile", [True, *COMPILE_MODES])
def test_a_compiled_batch_on_a_cpu_compiles_the_step_with_the_cpu_options(compile: bool | str, monkeypatch) -> None:
    """WorldBatch(compile=...) hands the step to torch.compile, on a CPU with cpu_compile_options (checked here
    without compiling: the slow test above compiles and compares with eager)."""
    calls = []
    monkeypatch.setattr(torch, "compile", lambda function, **kwargs: calls.append((function, kwargs)) or function)
    WorldBatch(realism_env.EnvConfig(), 2, seed=0, backend="torch", compile=compile)
    mode = "default" if compile is True else compile
    assert calls == [(step_worlds, {"dynamic": False, "options": cpu_compile_options(mode)})]
    assert calls[0][1]["options"]["cpp.simdlen"] == 1


@pytest.mark.parametrize("mode", COMPILE_MODES)
def test_a_compiled_step_on_a_cpu_runs_scalar_loops_with_its_modes_options(mode: str) -> None:
    """On a CPU, WorldBatch compiles with no explicit vector instructions (inductor's 16-lane vectors over the rules'
    6-long axes ran the step 3x slower than eager), and keeps what its mode sets."""
    import torch._inductor
    from torch._inductor import config as inductor_config
    from torch._inductor.cpu_vec_isa import pick_vec_isa

    options = cpu_compile_options(mode)
    assert options.items() >= torch._inductor.list_mode_options(mode).items()
    with inductor_config.patch(options):
        assert not pick_vec_isa()  # what inductor's CPU code generator vectorises with: nothing


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_a_capability_spread_deals_each_episode_its_own_shares(backend: str) -> None:
    """With ``capability_spread`` every fresh world has its own distribution of power (shares summing to 1, not the
    scenario's), the same again from the same seed; without it every world has the scenario's shares."""
    from realism_env.rules import territory

    def income_shares(config: realism_env.EnvConfig, seed: int) -> np.ndarray:
        batch = WorldBatch(config, 64, seed=seed, backend=backend)
        batch.reset()
        income = to_numpy(territory(batch.world).income)
        return income / income.sum(axis=1, keepdims=True)

    equal = realism_env.EnvConfig.from_scenario("multipolar")
    np.testing.assert_allclose(income_shares(equal, 0), 1 / 6, rtol=1e-9)
    spread = equal.replace(capability_spread=0.5)
    shares = income_shares(spread, 0)
    np.testing.assert_allclose(shares.sum(axis=1), 1.0, rtol=1e-9)
    assert shares.max() > 0.3 and shares.min() < 0.08  # log-normal factors of sd 0.5: strong and weak nations
    assert len({tuple(np.round(row, 6)) for row in shares}) == 64  # each world its own
    np.testing.assert_array_equal(income_shares(spread, 0), shares)
    assert not np.allclose(income_shares(spread, 1), shares)
    # Draws made without the spread for a config with one are refused, naming the fix.
    bank = generate_maps(spread, np.random.default_rng(0), 2)
    without = draw_reset(NumpyRandom(np.random.default_rng(0)), 2, 6, spread.n_provinces, bank.size)
    with pytest.raises(ValueError, match="capability_spread=0.5 needs the reset draws' capability normals"):
        initial_worlds(bank, without, spread, realism_env.rules.rule_tables(spread))
    # A scenario's own shares are the centre of the spread: bipolar's superpowers stay strongest on average.
    bipolar = income_shares(realism_env.EnvConfig.from_scenario("bipolar", capability_spread=0.5), 0).mean(axis=0)
    assert bipolar[:2].min() > bipolar[2:].max()
