"""Bad input fails loudly: a ValueError whose message names the culprit and lists what would be valid.

The PettingZoo env (numpy) and :class:`realism_env.batch.WorldBatch` on each backend (numpy, and torch on the CPU
where it is installed)."""

from __future__ import annotations

import math
import pickle
import re
from pathlib import Path

import numpy as np
import pytest

import realism_env
from realism_env import DOCTRINES, SCENARIOS, Act, Doctrine, EnvConfig, encode_action
from realism_env.batch import WorldBatch
from tests.worlds import ARRAY_FIELDS, as_numpy, backend_params, torch_missing

N_ACTIONS = realism_env.n_actions(6)  # the default scenario's action space


# ------------------------------------------------------------------------------------------------
# Actions
# ------------------------------------------------------------------------------------------------


# A float or a bool equal to an integer is refused too, as gymnasium's Discrete.contains refuses it: 3.0 or True is
# more likely a bug in the caller than a choice.
OUT_OF_SPACE = [-1, N_ACTIONS, N_ACTIONS + 7, 2.5, "x", None, np.float64(0.5), [3]]
OUT_OF_SPACE += [3.0, np.float32(2.0), True, np.True_]


@pytest.mark.parametrize("action", OUT_OF_SPACE, ids=repr)
def test_out_of_space_action_raises_naming_nation_and_action(action):
    env = realism_env.parallel_env()
    observations, _ = env.reset(seed=0)
    state = env.state()
    actions = {a: 0 for a in env.agents}
    actions["nation_2"] = action
    with pytest.raises(ValueError) as error:
        env.step(actions)
    message = str(error.value)
    assert "nation_2" in message
    assert repr(action) in message
    assert f"0..{N_ACTIONS - 1}" in message, "the message should give the valid range"
    # Nothing happened: the world is where it was and the env still steps.
    np.testing.assert_array_equal(env.state(), state)
    actions["nation_2"] = 0
    env.step(actions)


@pytest.mark.parametrize("action", [0, N_ACTIONS - 1, np.int64(5), np.int32(7), np.array(4)], ids=repr)
def test_in_space_integers_of_any_integer_type_are_accepted(action):
    env = realism_env.parallel_env()
    env.reset(seed=0)
    *_, infos = env.step({a: action for a in env.agents})
    assert all(isinstance(info["action_valid"], bool) for info in infos.values())


def test_out_of_space_action_in_aec_env_raises_naming_the_nation():
    env = realism_env.env()
    env.reset(seed=0)
    with pytest.raises(ValueError, match=rf"nation_0: action -1 .*0\.\.{N_ACTIONS - 1}"):
        for _ in env.agent_iter(max_iter=len(env.possible_agents)):
            env.step(-1 if env.agent_selection == "nation_0" else 0)


def test_unknown_agent_in_actions_raises_listing_the_agents():
    env = realism_env.parallel_env(n_nations=3)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="nation_7") as error:
        env.step({"nation_0": 0, "nation_7": 0})
    assert "nation_0, nation_1, nation_2" in str(error.value)


def test_step_before_reset_raises():
    env = realism_env.parallel_env()
    with pytest.raises(RuntimeError, match="reset"):
        env.step({"nation_0": 0})
    with pytest.raises(RuntimeError, match="reset"):
        env.state()


@pytest.mark.parametrize(
    ("part", "args"),
    [
        ("arms_level", (-1, Act.WAIT, 0)),
        ("arms_level", (5, Act.WAIT, 0)),
        ("act", (0, -1, 0)),
        ("act", (0, 8, 0)),
        ("target_slot", (0, Act.ATTACK, -1)),
        ("target_slot", (0, Act.ATTACK, 5)),
    ],
)
def test_encode_action_out_of_range_raises(part, args):
    with pytest.raises(ValueError) as error:
        encode_action(*args, n_nations=6)
    message = str(error.value)
    assert message.startswith(f"{part}=")
    assert "valid" in message
    if part == "act":
        assert all(a.name in message for a in Act)
    else:
        assert "0..4" in message  # 5 arms levels; 5 target slots with 6 nations


def test_target_slot_of_self_raises():
    with pytest.raises(ValueError, match="nation 3 cannot target itself"):
        realism_env.target_slot(3, 3, 6)


# ------------------------------------------------------------------------------------------------
# Doctrines, scenarios, config fields
# ------------------------------------------------------------------------------------------------


def _assert_lists(message: str, names) -> None:
    missing = [name for name in names if repr(name) not in message]
    assert not missing, f"{message!r} should list {missing}"


@pytest.mark.parametrize("doctrines", ["liberalism", ("security", "power", "security", "idealism", "power", "power")])
def test_unknown_doctrine_raises_listing_doctrines(doctrines):
    with pytest.raises(ValueError) as error:
        realism_env.parallel_env(doctrines=doctrines)
    message = str(error.value)
    assert "'liberalism'" in message or "'idealism'" in message
    _assert_lists(message, DOCTRINES)


def test_unknown_scenario_raises_listing_scenarios():
    for make in (realism_env.parallel_env, realism_env.env, EnvConfig.from_scenario):
        with pytest.raises(ValueError) as error:
            make(scenario="tripolar")
        message = str(error.value)
        assert "'tripolar'" in message
        _assert_lists(message, SCENARIOS)


def test_unknown_config_field_raises_listing_fields():
    for make in (
        lambda: realism_env.parallel_env(n_nation=3),
        lambda: realism_env.parallel_env(scenario="bipolar", n_nation=3),
        lambda: realism_env.parallel_env(EnvConfig(), n_nation=3),
        lambda: EnvConfig().replace(n_nation=3),
    ):
        with pytest.raises(ValueError) as error:
            make()
        message = str(error.value)
        assert "'n_nation'" in message
        _assert_lists(message, ["n_nations", "max_cycles", "doctrines", "conquest_payoff", "misperception"])


INVALID_VALUES = [
    ("n_nations", 1, ["2 to 64"]),
    ("n_nations", 65, ["2 to 64"]),
    ("n_nations", 3.0, ["integer"]),
    ("max_cycles", 0, [">= 1"]),
    ("conquest_payoff", 1.5, ["0 to 1"]),
    ("conquest_payoff", -0.1, ["0 to 1"]),
    ("conquest_payoff", math.nan, ["0 to 1"]),
    ("offense_defense_balance", 0, ["> 0"]),
    ("offense_defense_balance", math.inf, ["finite", "> 0"]),
    ("misperception", -0.2, [">= 0"]),
    ("capability_spread", -0.5, ["0 (off) to 3"]),
    ("capability_spread", math.nan, ["0 (off) to 3"]),
    ("doctrines", ("security", "power"), ["exactly 6"]),
    ("doctrines", 3, ["'power'", "'security'"]),
    ("map_kind", "moon", ["'continent'", "'islands'"]),
    ("arms_shares", (0.4, 0.2, 0.0), ["ascending"]),
    ("arms_shares", (0.0,), ["2 or more"]),
    ("arms_shares", (0.0, 1.5), ["0 to 1"]),
    ("provinces_per_nation", 0, ["1 to 32"]),
    ("capability_shares", (0.5, 0.5), ["6"]),
    ("capability_shares", (1.0, 1.0, 1.0, 1.0, 1.0, -1.0), ["positive"]),
    ("growth_rates", (0.03,) * 5, ["6"]),
    ("growth_rates", (0.03, 0.03, 0.03, 0.03, 0.03, 5.0), ["between -0.5 and 1"]),
    ("growth_rate", 1.0, ["between -0.5 and 1"]),
    ("max_cycles", 30_000, ["1 to 23,437", "float64"]),  # wealth at 3% a year would overflow float64 (a NaN world)
    ("sea_penalty", 2.0, ["0 to 1"]),
    ("demand_deadline", 0, [">= 1"]),
    ("nation_names", ("A", "B"), ["6"]),
    ("nation_names", 5, ["a tuple of 6 names"]),
    ("reveal_doctrines", "false", ["True or False"]),  # a string from a config file would reveal them
    ("capability_shares", "0.3,0.3,0.1,0.1,0.1,0.1", ["6 finite numbers"]),
    ("growth_rates", (0.03, None, 0.03, 0.03, 0.03, 0.03), ["6 finite numbers"]),
    ("arms_shares", None, ["2 or more"]),
    # a bool is an int to Python, and would be written back to --set as "true", which no int field reads
    ("max_cycles", True, [">= 1"]),
    ("provinces_per_nation", True, ["1 to 32"]),
    ("demand_deadline", False, [">= 1"]),
    ("sea_links", True, ["0 to 24"]),
    # each link asked for costs draws whether or not the map holds it (20,000 took 3.5 s a map)
    ("sea_links", 25, ["an integer from 0 to 24 (the provinces, at least 8)"]),
]


@pytest.mark.parametrize(("field", "value", "valid"), INVALID_VALUES, ids=lambda x: repr(x)[:30])
def test_invalid_config_value_raises_naming_field_and_valid_values(field, value, valid):
    for make in (
        lambda: EnvConfig(**{field: value}),
        lambda: realism_env.parallel_env(**{field: value}),
        lambda: EnvConfig().replace(**{field: value}),
    ):
        with pytest.raises(ValueError) as error:
            make()
        message = str(error.value)
        assert f"EnvConfig.{field}=" in message
        assert repr(value) in message
        assert "valid" in message
        for text in valid:
            assert text in message, f"{message!r} should say {text!r}"


def test_numpy_scalars_are_taken_as_the_python_numbers_they_hold():
    """A sweep over ``np.arange`` or a pandas column gives numpy scalars; the config holds Python numbers."""
    config = EnvConfig(
        n_nations=np.int64(4),
        max_cycles=np.int32(10),
        offense_defense_balance=np.float32(2.0),
        reveal_doctrines=np.bool_(True),
        capability_shares=np.array([2.0, 1.0, 1.0, 1.0]),
    )
    assert config == EnvConfig(
        n_nations=4, max_cycles=10, offense_defense_balance=2.0, reveal_doctrines=True, capability_shares=(2, 1, 1, 1)
    )
    assert type(config.n_nations) is int and type(config.reveal_doctrines) is bool
    assert WorldBatch(config, np.int64(3), seed=0).n_worlds == 3


def test_another_nation_count_for_a_scenario_with_per_nation_values_raises_naming_them():
    """bipolar's two superpowers are its capability shares: 4 nations need 4 shares, not silently equal ones."""
    for scenario, field in [("bipolar", "capability_shares"), ("rising_power", "growth_rates")]:
        for make in (EnvConfig.from_scenario, realism_env.parallel_env):
            with pytest.raises(ValueError) as error:
                make(scenario=scenario, n_nations=4)
            message = str(error.value)
            assert f"scenario {scenario!r} sets {field} for its 6 nations" in message
            assert "n_nations=4" in message and f"give {field} too" in message and "'multipolar'" in message
            assert "valid: its own n_nations=6" in message
    shares = EnvConfig.from_scenario("bipolar", n_nations=4, capability_shares=(2, 1, 1, 1))
    assert shares.capability_shares == (2.0, 1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="sets capability_shares for its 6 nations"):
        EnvConfig.from_scenario("europe_1914", n_nations=4)
    # display names only label the map: they give way to the new count
    named = EnvConfig.from_scenario("europe_1914", n_nations=3, capability_shares=(1, 1, 1))
    assert named.nation_names is None and EnvConfig.from_scenario("islands", n_nations=4).n_nations == 4


def test_a_config_and_a_scenario_together_raise():
    """The config already holds its scenario's values: a scenario beside it would be ignored or override them."""
    with pytest.raises(ValueError, match=r"scenario='bipolar' with a config is ambiguous"):
        realism_env.parallel_env(EnvConfig(), scenario="bipolar")
    assert realism_env.parallel_env(EnvConfig.from_scenario("bipolar")).config.capability_shares[0] == 0.3


def test_a_scenario_with_an_unknown_field_raises_naming_it():
    with pytest.raises(ValueError, match=r"unknown config field 'n_nation'"):
        realism_env.register_scenario(realism_env.Scenario("typo", "a misspelt field", {"n_nation": 3}))
    assert "typo" not in SCENARIOS


def test_register_scenario_refuses_a_name_taken_and_what_is_no_scenario():
    """A built-in scenario replaced unnoticed would change the world of every run, preset and report naming it; the
    same definition again (its module imported a second time) is no change. A name that is not a string broke every
    later unknown-scenario error, which sorts the names."""
    saved = dict(SCENARIOS)
    try:
        with pytest.raises(ValueError, match=r"scenario 'multipolar' is already registered .*overwrite=True"):
            realism_env.register_scenario(realism_env.Scenario("multipolar", "mine", {"offense_defense_balance": 1.5}))
        assert SCENARIOS["multipolar"] is saved["multipolar"]
        bipolar = saved["bipolar"]
        shares = [0.3, 0.3, 0.1, 0.1, 0.1, 0.1]
        again = realism_env.Scenario("bipolar", bipolar.description, {"capability_shares": shares})
        assert realism_env.register_scenario(again) == again  # the same shares as a list: the same scenario
        with pytest.raises(ValueError, match="'bipolar' is already registered"):  # the same config, a field more
            realism_env.register_scenario(
                realism_env.Scenario("bipolar", bipolar.description, {**bipolar.overrides, "sea_links": 3})
            )
        overrides = {"offense_defense_balance": 1.5}
        mine = realism_env.Scenario("multipolar", "mine", overrides)
        assert realism_env.register_scenario(mine, overwrite=True) is SCENARIOS["multipolar"] == mine
        overrides["offense_defense_balance"] = 99.0  # the caller's dict, edited later: the scenario stays as checked
        assert EnvConfig.from_scenario("multipolar").offense_defense_balance == 1.5
        assert pickle.loads(pickle.dumps(SCENARIOS["multipolar"])) == SCENARIOS["multipolar"]  # as spawn workers get it
        # a '/' would make folders of the outputs; a leading '-' reads as an option
        for name in (None, "", 3, "islands/cheap_sea", "a b", "x+y", "-x", "größe"):
            with pytest.raises(
                ValueError, match=rf"a scenario's name {re.escape(repr(name))} is invalid; valid: ASCII let"
            ):
                realism_env.register_scenario(realism_env.Scenario(name, "nameless", {}))  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="register_scenario takes a Scenario, got dict"):
            realism_env.register_scenario({"name": "d"})  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="unknown scenario 'nope'; valid: 'bipolar'"):
            EnvConfig.from_scenario("nope")
    finally:
        SCENARIOS.clear()
        SCENARIOS.update(saved)


def test_invalid_override_of_a_scenario_names_the_field():
    with pytest.raises(ValueError, match=r"EnvConfig\.conquest_payoff=1\.5 .*0 to 1"):
        realism_env.parallel_env(scenario="europe_1914", conquest_payoff=1.5)


def test_invalid_render_mode_raises_listing_modes():
    with pytest.raises(ValueError) as error:
        realism_env.parallel_env(render_mode="human")
    message = str(error.value)
    assert "'human'" in message and "'ansi'" in message and "'rgb_array'" in message


def test_register_doctrine_rejects_bad_input():
    with pytest.raises(ValueError, match="already registered"):
        realism_env.register_doctrine(DOCTRINES["security"])
    with pytest.raises(ValueError, match="Doctrine"):
        realism_env.register_doctrine("security")  # type: ignore[arg-type]
    # A doctrine's name stands in --teachers DOCTRINE=POLICY, comma-separated lists, results columns (security:return)
    # and file names: 'sec=1' was registered, then --teachers sec=1=defensive_realist read the doctrine 'sec'.
    terms = DOCTRINES["security"].terms
    for name in ("sec=1", "a,b", "a:b", "with space", "x/y", "-lead"):
        with pytest.raises(
            ValueError, match=rf"a doctrine's name {re.escape(repr(name))} is invalid; valid: ASCII letters"
        ):
            realism_env.register_doctrine(realism_env.Doctrine(name, "odd", terms))
    assert set(DOCTRINES) >= {"security", "power"} and not {"sec=1", "a,b", "-lead"} & set(DOCTRINES)


# ------------------------------------------------------------------------------------------------
# WorldBatch, on every backend
# ------------------------------------------------------------------------------------------------

BATCH_WORLDS = 3


@pytest.fixture(params=backend_params())
def backend(request: pytest.FixtureRequest) -> str:
    """The WorldBatch backend (numpy, and torch on the CPU where it is installed)."""
    return request.param


def _batch(backend: str, seed: int = 0, **overrides) -> WorldBatch:
    batch = WorldBatch(EnvConfig(**overrides), BATCH_WORLDS, seed=seed, backend=backend)
    batch.reset()
    return batch


def _on(batch: WorldBatch, actions: np.ndarray):
    """``actions`` as the batch's own array type (a tensor for torch)."""
    return batch.backend.asarray(actions)


def _world_arrays(batch: WorldBatch) -> dict[str, np.ndarray]:
    world = as_numpy(batch.world)
    return {name: getattr(world, name).copy() for name in ARRAY_FIELDS}


@pytest.mark.parametrize("value", [-1, N_ACTIONS, N_ACTIONS + 7, -(2**40), 2**40], ids=repr)
def test_batch_action_outside_the_space_raises_naming_value_nation_and_range(backend, value):
    batch, twin = _batch(backend), _batch(backend)
    before = _world_arrays(batch)
    actions = np.zeros((BATCH_WORLDS, 6), dtype=np.int64)
    actions[1, 4] = value
    with pytest.raises(ValueError) as error:
        batch.step(_on(batch, actions))
    message = str(error.value)
    assert f"action {value} " in message, message
    assert "nation_4" in message and "world 1" in message, message
    assert f"0..{N_ACTIONS - 1}" in message, "the message should give the valid range"
    # Nothing happened: the world is where it was, no draw was spent, and the next valid step is the one a batch
    # that never saw the bad action takes.
    after = _world_arrays(batch)
    for name in ARRAY_FIELDS:
        np.testing.assert_array_equal(after[name], before[name], err_msg=name)
    actions[1, 4] = 0
    ours, theirs = as_numpy(batch.step(_on(batch, actions))), as_numpy(twin.step(_on(twin, actions)))
    np.testing.assert_array_equal(ours.observations, theirs.observations)
    for name in ARRAY_FIELDS:
        np.testing.assert_array_equal(getattr(ours.final_world, name), getattr(theirs.final_world, name), err_msg=name)


@pytest.mark.parametrize("shape", [(BATCH_WORLDS + 1, 6), (BATCH_WORLDS, 5), (BATCH_WORLDS * 6,), (1, BATCH_WORLDS, 6)])
def test_batch_actions_of_the_wrong_shape_raise_naming_the_expected_shape(backend, shape):
    batch = _batch(backend)
    with pytest.raises(ValueError) as error:
        batch.step(_on(batch, np.zeros(shape, dtype=np.int64)))
    message = str(error.value)
    assert str(shape) in message and f"({BATCH_WORLDS}, 6)" in message and "(worlds, nations)" in message, message


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.bool_], ids=lambda d: np.dtype(d).name)
def test_batch_actions_of_a_non_integer_dtype_raise(backend, dtype):
    batch = _batch(backend)
    with pytest.raises(ValueError, match="dtype.*valid: an integer dtype"):
        batch.step(_on(batch, np.zeros((BATCH_WORLDS, 6), dtype=dtype)))
    batch.step(_on(batch, np.zeros((BATCH_WORLDS, 6), dtype=np.int64)))  # and the batch still steps


@pytest.mark.parametrize("dtype", [str, object], ids=["str", "object"])
def test_batch_actions_that_no_array_library_can_take_as_integers_raise(backend, dtype):
    """Strings and objects given as host arrays: torch's own conversion failed with a bare TypeError."""
    batch = _batch(backend)
    with pytest.raises(ValueError, match="dtype.*valid: an integer dtype"):
        batch.step(np.zeros((BATCH_WORLDS, 6), dtype=np.int64).astype(dtype))


def test_a_batch_action_too_large_for_int64_is_named_as_given(backend):
    batch = _batch(backend)
    actions = np.zeros((BATCH_WORLDS, 6), dtype=np.uint64)
    actions[0, 2] = 2**63 + 5  # int64 would wrap it to a negative number
    with pytest.raises(ValueError, match=f"action {2**63 + 5} of nation_2 in world 0 is outside the action space"):
        batch.step(actions)


_INTEGER_KINDS = ["list", "int64", "int32", "uint8", "tensor_int32"]


@pytest.mark.parametrize("kind", _INTEGER_KINDS)
def test_batch_accepts_in_space_actions_of_any_integer_type(backend, kind):
    batch = _batch(backend)
    zeros = np.zeros((BATCH_WORLDS, 6), dtype=np.int64)
    if kind == "list":
        actions = zeros.tolist()
    elif kind == "tensor_int32":
        torch = pytest.importorskip("torch")
        actions = torch.zeros((BATCH_WORLDS, 6), dtype=torch.int32)
    else:
        actions = zeros.astype(kind)
    step = as_numpy(batch.step(actions))
    assert not step.events.invalid_action.any()  # WAIT toward slot 0 at level 0 is always valid


@pytest.mark.parametrize(
    ("overrides", "valid"),
    [
        ({"backend": "jax"}, ["'numpy'", "'torch'"]),
        ({"device": "cuda"}, ["'cpu'"]),
        ({"dtype": "float16"}, ["'float32'", "'float64'"]),
        ({"backend": "torch", "dtype": "float16"}, ["'float32'", "'float64'"]),
        ({"n_worlds": 0}, ["integer >= 1"]),
        ({"n_worlds": -3}, ["integer >= 1"]),
        ({"n_worlds": 2.0}, ["integer >= 1"]),
        ({"map_bank": 0}, ["integer >= 1"]),
        # Each gave a bare TypeError, AttributeError or torch's RuntimeError (compile=1 passed as torch's mode).
        ({"seed": 1.5}, ["an integer >= 0", "SeedSequence"]),
        ({"seed": -1}, ["an integer >= 0"]),
        ({"seed": True}, ["an integer >= 0"]),
        ({"config": None}, ["realism_env.EnvConfig"]),
        ({"backend": "torch", "compile": 1}, ["False, True, 'default'"]),
    ],
    ids=repr,
)
def test_a_bad_batch_choice_raises_naming_it_and_the_valid_choices(overrides, valid):
    if overrides.get("backend") == "torch" and torch_missing():
        pytest.skip(torch_missing())
    arguments = {"config": EnvConfig(n_nations=3), "n_worlds": 2, **overrides}
    with pytest.raises(ValueError) as error:
        WorldBatch(**arguments)
    message = str(error.value)
    name, value = next((k, v) for k, v in overrides.items() if k != "backend" or v == "jax")
    assert f"{name}={value!r}" in message, message
    assert "valid" in message
    for text in valid:
        assert text in message, f"{message!r} should say {text!r}"


def test_a_float32_batch_longer_than_float32_can_hold_raises_naming_max_cycles_and_the_way_out(backend):
    # 3% growth a year: the system's wealth would pass float32's largest value after about 2,900 turns (and
    # observations would turn to NaN); the config alone is fine, for float64
    config = EnvConfig(n_nations=3, max_cycles=5_000)
    with pytest.raises(ValueError) as error:
        WorldBatch(config, 2, backend=backend, dtype="float32")
    message = str(error.value)
    horizon, widest = config.longest_horizon(float(np.finfo(np.float32).max)), config.longest_horizon()
    assert "EnvConfig.max_cycles=5000" in message and "float32" in message, message
    assert f"max_cycles <= {horizon:,}" in message and f"dtype='float64' (float64 worlds: up to {widest:,})" in message
    WorldBatch(config, 2, backend=backend, dtype="float64")
    WorldBatch(config.replace(max_cycles=horizon), 2, backend=backend, dtype="float32")


@pytest.mark.parametrize("growth_rate", [0.0, 2.2e-308, -1e-300], ids=repr)
def test_without_growth_any_episode_length_is_valid(growth_rate):
    # growth too slow for any int64 count of turns to overflow (hypothesis found the smallest float crashing it)
    assert EnvConfig(growth_rate=growth_rate).longest_horizon() is None
    assert EnvConfig(growth_rate=growth_rate).longest_horizon(float(np.finfo(np.float32).max)) is None
    EnvConfig(growth_rate=growth_rate, max_cycles=10**7)


def test_a_torch_device_that_does_not_exist_raises_naming_it():
    if torch_missing():
        pytest.skip(torch_missing())
    import torch

    # devices torch knows but this machine lacks, or that hold no data (meta), as well as nonsense
    absent = [d for d in ("mps", "xpu") if not getattr(torch, d).is_available()]
    for device in ("nonsense", "cuda:99", "meta", *absent):
        with pytest.raises(ValueError) as error:
            WorldBatch(EnvConfig(n_nations=3), 2, backend="torch", device=device)
        assert f"device={device!r}" in str(error.value) and "valid" in str(error.value)


def test_an_unknown_doctrine_in_the_config_of_a_batch_raises_listing_the_doctrines(backend):
    # A config naming a doctrine that was unregistered after the config was made: the batch resolves it and refuses.
    # (A config naming one never registered is refused by EnvConfig itself: tests of the config.)
    doctrine = realism_env.register_doctrine(
        Doctrine("test_transient", "registered for a moment", DOCTRINES["power"].terms)
    )
    try:
        config = EnvConfig(n_nations=3, doctrines=doctrine.name)
    finally:
        DOCTRINES.pop(doctrine.name)
    with pytest.raises(ValueError) as error:
        WorldBatch(config, 2, backend=backend)
    assert "'test_transient'" in str(error.value)
    _assert_lists(str(error.value), ["power", "security"])
    _assert_lists(str(error.value), ["power", "security"])


# ------------------------------------------------------------------------------------------------
# The API beyond actions: seeds, the actions' container, a state to load
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [-1, 1.5, "1"], ids=repr)
def test_a_bad_reset_seed_raises_naming_the_seed(seed):
    env = realism_env.parallel_env()
    with pytest.raises(ValueError, match=rf"seed={re.escape(repr(seed))} is invalid; valid: None, an integer >= 0"):
        env.reset(seed=seed)


def test_actions_that_are_not_a_dict_raise_naming_the_agents():
    env = realism_env.parallel_env(n_nations=3)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"actions=\[0, 0, 0\] is invalid; valid: a dict .*nation_0, nation_1"):
        env.step([0, 0, 0])


def test_loading_a_state_that_is_not_a_mapping_raises():
    batch = WorldBatch(EnvConfig(max_cycles=10), n_worlds=2)
    batch.reset()
    with pytest.raises(ValueError, match="state=NoneType is invalid; valid: a WorldBatch.state_dict"):
        batch.load_state_dict(None)


# ------------------------------------------------------------------------------------------------
# The command lines: a user's mistake is a message (exit status 2), never a traceback, and nothing written is lost
# ------------------------------------------------------------------------------------------------


def _refused(capsys: pytest.CaptureFixture, main, argv, *expected: str) -> str:
    """Run ``main(argv)``: it must exit with an error whose message holds each of ``expected``."""
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    message = capsys.readouterr().err + str(exit_.value.code if not isinstance(exit_.value.code, int) else "")
    assert exit_.value.code not in (0, None), message
    for text in expected:
        assert text in message, message
    return message


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--episodes", "0"], "--episodes 0 is invalid; valid: an integer >= 1"),
        (["--episodes", "-1"], "--episodes -1 is invalid"),
        (["--seed", "-1"], "--seed -1 is invalid; valid: an integer >= 0"),
        (["--max-cycles", "0"], "EnvConfig.max_cycles=0 is invalid; valid: an integer >= 1"),
        (["--max-cycles", "100000000"], "valid: an integer from 1 to 23,437"),
    ],
)
def test_the_demo_refuses_bad_numbers(capsys, argv, expected):
    from realism_env import demo

    _refused(capsys, demo.main, [*argv, "--quiet"], expected)


def test_a_field_set_twice_is_refused_naming_both():
    with pytest.raises(ValueError, match=r"--set 'max_cycles=6': max_cycles is already set by --set 'max_cycles=5'"):
        realism_env.parse_overrides(["max_cycles=5", "max_cycles=6"])
    assert realism_env.parse_overrides(["max_cycles=5", "conquest_payoff=0.5"]) == {
        "max_cycles": 5,
        "conquest_payoff": 0.5,
    }


def test_every_tool_refuses_a_field_set_twice(capsys, tmp_path):
    from agents import evaluate as agents_evaluate
    from train import fast_ppo

    twice = ["--set", "conquest_payoff=0.1", "--set", "conquest_payoff=0.2"]
    argv = ["--population", "random", "--episodes", "1", "--max-cycles", "2", "--quiet", *twice]
    _refused(capsys, agents_evaluate.main, argv, "conquest_payoff is already set", "each field once")
    _refused(capsys, fast_ppo.parse_args, ["--out", str(tmp_path / "run"), *twice], "conquest_payoff is already set")


def test_a_replay_written_over_the_log_it_reads_is_refused_and_the_log_kept(capsys, tmp_path):
    from agents import replay

    log = tmp_path / "episode.json"
    replay.main(["--population", "random", "--max-cycles", "2", "--out", str(tmp_path / "a.html"), "--log", str(log)])
    before = log.read_bytes()
    _refused(capsys, replay.main, ["--out", str(log), "--from-log", str(log)], "--out and --from-log both name")
    assert log.read_bytes() == before
    page = tmp_path / "b.html"
    argv = ["--population", "random", "--max-cycles", "2", "--out", str(page), "--log", str(tmp_path / "." / "b.html")]
    _refused(capsys, replay.main, argv, "--out and --log both name", "valid: another file for --log")
    assert not page.exists()


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs a folder no one can create files in (/proc)")
def test_an_output_in_a_folder_that_cannot_be_written_is_refused_before_the_work():
    from agents.evaluation_output import check_out_path

    with pytest.raises(ValueError, match=r"--out '/proc/x.json': cannot write in folder '/proc'"):
        check_out_path("--out", "/proc/x.json")


def test_a_run_folder_with_a_broken_config_or_model_is_named(tmp_path):
    from train.learned import RunInfo, load_network

    run = tmp_path / "run"
    run.mkdir()
    (run / "model.pt").write_bytes(b"not a model")
    for text in ("{bad", '{"args": 3}', "[1, 2]"):
        (run / "config.json").write_text(text)
        with pytest.raises(ValueError, match=rf"{re.escape(str(run / 'config.json'))} is not the config.json of a"):
            RunInfo.read(run)
    with pytest.raises(ValueError, match=rf"{re.escape(str((run / 'model.pt').resolve()))} cannot be read as the"):
        load_network(run / "model.pt", "fast_ppo")


def test_deviation_refuses_a_bad_seed_a_run_named_twice_and_an_output_folder(capsys, tmp_path):
    from train import deviation

    run = str(tmp_path / "run")
    _refused(capsys, deviation.main, ["--model", run, "--seed", "-1"], "--seed -1 is invalid; valid: an integer >= 0")
    _refused(capsys, deviation.main, ["--model", run, run + "/"], "twice; valid: each run once")
    _refused(capsys, deviation.main, ["--model", run, "--out", str(tmp_path)], "is a folder; valid: a file path")


def test_a_seed_the_trainers_cannot_take_is_refused(capsys, tmp_path):
    from train import fast_ppo, ppo

    out = ["--out", str(tmp_path / "run")]
    _refused(capsys, ppo.parse_args, [*out, "--seed", str(2**32)], f"--seed={2**32} is invalid; valid: an integer")
    _refused(capsys, fast_ppo.parse_args, [*out, "--seed", str(10**20)], "valid: an integer from 0 to 4294967295")
    argv = [*out, "--seed", str(2**32 - 1), "--population", "2"]
    _refused(capsys, fast_ppo.parse_args, argv, "gives seeds above 4294967295")


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--gamma", "2"], "--gamma=2.0 is invalid; valid: in (0.0, 1.0]"),
        (["--learning-rate", "nan"], "--learning-rate=nan is invalid; valid: a finite number > 0"),
        (["--clip-coef", "-1"], "--clip-coef=-1.0 is invalid"),
        (["--seed", "-1"], "--seed=-1 is invalid"),
    ],
)
def test_cleanrl_ppo_refuses_numbers_out_of_range(capsys, argv, expected):
    from train import cleanrl_ppo

    _refused(capsys, cleanrl_ppo.parse_args, argv, expected)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--gamma", "5"], "--gamma=5.0 is invalid"),
        (["--lr", "nan"], "--lr=nan is invalid; valid: a finite number > 0"),
        (["--seed", "-1"], "--seed=-1 is invalid"),
        (["--address", "bogus"], "--address 'bogus' is invalid; valid: empty (a local Ray instance), auto, or HOST"),
    ],
)
def test_rllib_ppo_refuses_bad_arguments_before_ray_starts(capsys, tmp_path, argv, expected):
    from train import rllib_ppo

    _refused(capsys, rllib_ppo.parse_args, [*argv, "--out", str(tmp_path / "rl")], expected)


def test_the_benchmarks_refuse_bad_arguments_before_measuring(capsys, tmp_path):
    from benchmarks import batch, compare_checkouts, step
    from train import throughput_benchmark

    _refused(capsys, throughput_benchmark.main, ["--device", "tpu"], "--device='tpu' is invalid; valid: cpu")
    _refused(capsys, throughput_benchmark.main, ["--seed", "-1"], "--seed=-1 is invalid")
    _refused(capsys, throughput_benchmark.main, ["--json", str(tmp_path)], "--json", "is a folder")
    _refused(capsys, step.main, ["--seed", "-1"], "--seed -1 is invalid")
    for argv, expected in (
        (["--seconds", "nan"], "--seconds nan is invalid; valid: a finite number > 0"),
        (["--seconds", "inf"], "--seconds inf is invalid"),
        (["--seed", "-1"], "--seed -1 is invalid"),
        (["--max-cycles", "100000000"], "EnvConfig.max_cycles=100000000 is invalid"),
    ):
        _refused(capsys, batch.main, ["--backend", "numpy", *argv], expected)
    here = str(Path(__file__).resolve().parents[1])
    for argv, expected in (
        (["--scenario", "mars"], "unknown scenario 'mars'; valid:"),
        (["--seed", "-1"], "--seed -1 is invalid"),
        (["--max-cycles", "100000000"], "EnvConfig.max_cycles=100000000 is invalid"),
    ):
        message = _refused(capsys, compare_checkouts.main, ["--reference", here, *argv], expected)
        assert "Traceback" not in message


# ------------------------------------------------------------------------------------------------
# Experiment presets: what the evaluation needs is checked before anything trains
# ------------------------------------------------------------------------------------------------

_TINY_PRESET = """
[experiment]
conditions = ["security"]
seeds = [0]
workers = 1
[train]
timesteps = 1000
max_cycles = 10
"""


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("[evaluate]\nmax_cycles = 100000000\n", "EnvConfig.max_cycles=100000000 is invalid"),
        (
            "[env]\nn_nations = 4\n[evaluate]\nheldout = []\nfocal_heldout = []\nbackgrounds = []\n"
            'deviation_scenarios = ["bipolar"]\n',
            "(evaluation in bipolar, 10 turns an episode)",
        ),
    ],
    ids=["eval-max-cycles", "deviation-scenario"],
)
def test_a_preset_whose_evaluation_cannot_run_is_refused_up_front(tmp_path, extra, expected):
    from train.experiment_presets import PresetError, load_preset, resolve

    path = tmp_path / "p.toml"
    path.write_text(_TINY_PRESET + extra)
    with pytest.raises(PresetError) as error:
        resolve(load_preset(path=path))
    assert expected in str(error.value)


def test_a_preset_file_that_is_not_text_or_has_huge_seeds_is_refused(tmp_path):
    from train.experiment_presets import PresetError, load_preset, resolve

    path = tmp_path / "p.toml"
    path.write_bytes(b"\xff\xfe[experiment]")
    with pytest.raises(PresetError, match="is not a text file"):
        load_preset(path=path)
    path.write_text("[experiment]\nseeds = [9223372036854775807]\n")
    with pytest.raises(PresetError, match=r"seeds = \[9223372036854775807\] is invalid; valid: distinct integers from"):
        resolve(load_preset(path=path))


def test_an_output_folder_that_is_or_lies_under_a_file_is_refused_by_name_before_the_work(capsys, tmp_path):
    """train.experiment used to end in FileExistsError / NotADirectoryError tracebacks, and train.evaluate said the
    folder of ``afile/x.json`` did not exist though it is a file."""
    from agents.evaluation_output import check_out_path
    from train import experiment, fast_ppo

    afile = tmp_path / "afile"
    afile.write_text("x")
    preset = tmp_path / "tiny.toml"
    preset.write_text('base = "quick"\n[train]\ntimesteps = 384\n')
    for out, says in ((afile, "is a file"), (afile / "x", f"lies under the file {afile}")):
        argv = ["--preset-file", str(preset), "--out", str(out), "--no-progress"]
        _refused(capsys, experiment.main, argv, f"--out {out} {says}; valid: a folder")
        _refused(capsys, fast_ppo.main, ["--out", str(out), "--timesteps", "1"], f"--out {out} {says}; valid: a folder")
    with pytest.raises(ValueError, match=f"'{afile}' is a file; valid: a file path in a folder"):
        check_out_path("--out", afile / "x.json")
    with pytest.raises(ValueError, match=f"lies under the file {afile}"):
        check_out_path("--out", afile / "x" / "y.json")
    assert afile.read_text() == "x"


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs a folder no one can create files in (/proc)")
def test_an_output_folder_that_cannot_be_written_is_refused_before_the_work(capsys):
    """A read-only --out ended in a PermissionError traceback after the trainer had set up (or at the experiment's
    lock); /proc takes no new file even for root, who may write in any folder whatever its mode."""
    from train import experiment, fast_ppo, ppo

    out = "/proc/no_such_folder/run"
    says = "cannot be written (/proc, where it would be made)"
    _refused(capsys, experiment.main, ["--out", out, "--no-progress"], f"--out {out} {says}")
    for main in (fast_ppo.main, ppo.main):
        _refused(capsys, main, ["--out", out, "--timesteps", "1"], f"--out {out} {says}", "valid: a folder")


def test_an_os_error_while_training_is_a_message_naming_the_path(capsys, tmp_path, monkeypatch):
    """What the up-front check cannot foresee (a disk that fills, a folder made read-only meanwhile) ends as a line
    naming the file and the reason, not a traceback."""
    from train import fast_ppo, ppo

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path / "run" / "config.json"))

    for module in (fast_ppo, ppo):
        monkeypatch.setattr(module, "train", refuse)
        message = _refused(capsys, module.main, ["--out", str(tmp_path / "run"), "--timesteps", "1"])
        path = tmp_path / "run" / "config.json"
        valid = "valid: an --out folder you can write in, on a disk with room"
        assert message == f"error: {path}: Permission denied; {valid}"


# ------------------------------------------------------------------------------------------------
# The env's entry points, spaces and layout; the action helpers; registration
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("config", ["bipolar", {"n_nations": 3}], ids=repr)
def test_a_scenario_or_dict_given_as_the_config_raises_naming_the_keywords(config):
    """``parallel_env("bipolar")`` reads as a scenario to a user, but the first argument is the config: it failed
    with an AttributeError deep in the constructor."""
    with pytest.raises(ValueError, match=r"config=.* is invalid; valid: a realism_env.EnvConfig or None.*scenario="):
        realism_env.parallel_env(config)


@pytest.mark.parametrize("scenario", [["bipolar"], 3, None], ids=repr)
def test_a_scenario_that_is_no_name_raises_listing_the_scenarios(scenario):
    with pytest.raises(ValueError, match=r"unknown scenario .*; valid: 'bipolar'"):
        EnvConfig.from_scenario(scenario)  # type: ignore[arg-type]


@pytest.mark.parametrize("agent", ["nation_9", 0, None], ids=repr)
def test_the_spaces_of_an_unknown_agent_raise_listing_the_agents(agent):
    env = realism_env.parallel_env()
    for space in (env.observation_space, env.action_space):
        with pytest.raises(
            ValueError, match=rf"agent {re.escape(repr(agent))} is unknown; valid: nation_0, .*nation_5"
        ):
            space(agent)


def test_a_step_after_the_episode_ended_raises_and_leaves_the_world_as_it_ended():
    """Stepping on after every nation was truncated ran the world past ``max_cycles``, with actions no one checked."""
    env = realism_env.parallel_env(max_cycles=2)
    env.reset(seed=0)
    env.step({})
    env.step({})
    assert not env.agents and int(env.world.turn[0]) == 2
    with pytest.raises(RuntimeError, match=r"the episode is over \(turn 2.*call reset\(\)"):
        env.step({"nation_0": "garbage"})
    assert int(env.world.turn[0]) == 2
    env.reset(seed=1)
    env.step({})  # a reset starts a new episode


def test_the_layout_refuses_an_observation_of_another_size_or_the_whole_dict():
    """Read with the layout of 6 nations, a 3-nation observation gave values of the wrong fields, silently."""
    six, three = realism_env.parallel_env(), realism_env.parallel_env(n_nations=3)
    observations_6, _ = six.reset(seed=0)
    observations_3, _ = three.reset(seed=0)
    size = six.layout.size
    with pytest.raises(ValueError, match=rf"shape \({three.layout.size},\) is invalid.*\[\.\.\., {size}\].*6 nations"):
        six.layout.other(observations_3["nation_0"]["observation"], "military")
    with pytest.raises(ValueError, match=r"a dict is invalid.*pass observations\[agent\]\['observation'\]"):
        six.layout.own(observations_6["nation_0"], "military")
    vector = observations_6["nation_0"]["observation"]
    assert six.layout.own(vector, "military") == vector[six.layout.own_index("military")]
    batch = np.stack([observations_6[a]["observation"] for a in six.agents])  # [..., size] batches still read
    assert six.layout.other(batch, "military").shape == (6, 5)


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (lambda: encode_action(1.5, Act.ATTACK, 0, 6), "arms_level=1.5 is invalid; valid: an integer in 0..4"),
        (lambda: encode_action(1, Act.ATTACK, 0.5, 6), "target_slot=0.5 is invalid; valid: an integer in 0..4"),
        (lambda: encode_action(0, "ATTACK", 0, 6), "act='ATTACK' is invalid; valid: an Act (WAIT, ATTACK"),
        (lambda: encode_action(0, Act.WAIT, 0, "6"), "n_nations='6' is invalid; valid: an integer >= 2"),
        (
            lambda: realism_env.decode_action(3.7, 6),
            "action=3.7 is invalid; valid: an integer in 0..199 (the action space)",
        ),
        (lambda: realism_env.decode_action("3", 6), "action='3' is invalid; valid: an integer in"),
        (lambda: realism_env.decode_action(None, 6), "action=None is invalid; valid: an integer in"),
        (lambda: realism_env.target_slot(0, 9, 6), "target=9 is invalid; valid: an integer in 0..5"),
        (lambda: realism_env.target_nation(0, 9, 6), "target_slot=9 is invalid; valid: an integer in 0..4"),
        (lambda: realism_env.target_nation(6, 0, 6), "observer=6 is invalid; valid: an integer in 0..5"),
        (lambda: realism_env.n_actions(1), "n_nations=1 is invalid; valid: an integer >= 2"),
        (lambda: realism_env.n_actions(6, 0), "n_arms_levels=0 is invalid; valid: an integer >= 1"),
    ],
)
def test_the_action_helpers_refuse_what_is_no_index_in_range(call, expected):
    """A float, a string or an index out of range went through the arithmetic: a fractional action, a wrapped
    target, a negative space size."""
    with pytest.raises(ValueError, match=re.escape(expected)):
        call()


def test_the_action_helpers_take_any_integer_type():
    assert encode_action(np.int64(2), Act.ATTACK, np.int32(3), 6) == encode_action(2, 1, 3, 6)
    assert realism_env.decode_action(np.int64(88), 6) == realism_env.decode_action(88, 6)
    assert realism_env.target_nation(np.int64(5), 0, 6) == 0 and realism_env.target_slot(5, np.int8(0), 6) == 0


def test_register_doctrine_refuses_terms_that_are_no_function_and_an_overwrite_that_is_no_bool():
    with pytest.raises(ValueError, match=r"doctrine 'nothing': terms=None is invalid; valid: a function"):
        realism_env.register_doctrine(Doctrine("nothing", "no terms", None))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"overwrite='no' is invalid; valid: True or False"):
        realism_env.register_doctrine(DOCTRINES["security"], overwrite="no")  # type: ignore[arg-type]
    assert "nothing" not in DOCTRINES


@pytest.mark.parametrize(
    ("terms", "expected"),
    [
        (lambda out, config: [out.alive], r"its terms returned a list; valid: a dict of term name"),
        (lambda out, config: {"a": 1.0}, r"its terms are 'a' a float; valid: each term an array of shape \(1, 6\)"),
        (
            lambda out, config: {"a": out.xp.zeros((1, 6, 6))},
            r"its terms are 'a' of shape \(1, 6, 6\); valid: each term an array of shape \(1, 6\)",
        ),
        (  # broadcast into rewards of the right shape, it failed later, in the rich infos
            lambda out, config: {"a": out.xp.zeros((1, 6)), "b": out.xp.zeros((1, 1))},
            r"its terms are 'a' of shape \(1, 6\), 'b' of shape \(1, 1\); valid: each term an array of shape",
        ),
    ],
)
def test_a_doctrine_whose_terms_return_no_rewards_raises_naming_it(terms, expected):
    """A doctrine of one's own returning a list failed with an AttributeError in the step; one of the wrong shape
    broadcast into rewards of another shape."""
    saved = dict(DOCTRINES)
    try:
        realism_env.register_doctrine(Doctrine("odd", "terms of the wrong kind", terms))
        env = realism_env.parallel_env(doctrines="odd")
        env.reset(seed=0)
        with pytest.raises(ValueError, match=r"doctrine 'odd': " + expected):
            env.step({})
    finally:
        DOCTRINES.clear()
        DOCTRINES.update(saved)


def test_register_scenario_refuses_overrides_that_are_no_dict_and_an_overwrite_that_is_no_bool():
    saved = dict(SCENARIOS)
    try:
        with pytest.raises(ValueError, match=r"scenario 'mine': overrides=None is invalid; valid: a dict"):
            realism_env.register_scenario(realism_env.Scenario("mine", "d", None))  # type: ignore[arg-type]
        with pytest.raises(ValueError, match=r"overwrite='no' is invalid; valid: True or False"):
            realism_env.register_scenario(realism_env.Scenario("bipolar", "d", {}), overwrite="no")  # type: ignore
        assert SCENARIOS == saved
    finally:
        SCENARIOS.clear()
        SCENARIOS.update(saved)


def test_capability_shares_whose_sum_overflows_raise():
    """Their sum overflowed to inf and renormalised every nation's share to 0: worlds of nations with nothing."""
    with pytest.raises(ValueError, match=r"capability_shares=.* is invalid; valid: positive numbers with a finite sum"):
        EnvConfig(capability_shares=(1e308, 1e308, 1, 1, 1, 1))


def test_batch_actions_in_rows_of_different_lengths_raise_naming_the_shape(backend):
    batch = _batch(backend)
    with pytest.raises(ValueError, match=r"not a rectangular array .*valid: \(3, 6\) \(worlds, nations\)"):
        batch.step([[0] * 6, [0] * 6, [0] * 5])


def test_a_batch_state_whose_config_is_no_dict_raises_and_the_batch_is_unchanged(backend):
    batch = _batch(backend)
    state = batch.state_dict()
    before = _world_arrays(batch)
    with pytest.raises(ValueError, match=r"the state's config is str; valid: "):
        batch.load_state_dict({**state, "config": "junk"})
    after = _world_arrays(batch)
    assert all(np.array_equal(before[name], after[name]) for name in before)


@pytest.mark.parametrize("dtype", ["foo.float32", "numpy.float32", "float"], ids=repr)
def test_a_dtype_name_that_is_not_exactly_a_valid_one_raises(dtype):
    with pytest.raises(ValueError, match=rf"dtype={re.escape(repr(dtype))} is invalid; valid: 'float32', 'float64'"):
        WorldBatch(EnvConfig(), 2, dtype=dtype)
