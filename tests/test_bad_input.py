"""Bad input fails loudly: a ValueError whose message names the culprit and lists what would be valid."""

from __future__ import annotations

import math

import numpy as np
import pytest

import realism_env
from realism_env import DOCTRINES, SCENARIOS, Act, EnvConfig, encode_action

N_ACTIONS = realism_env.n_actions(6)  # the default scenario's action space


# ------------------------------------------------------------------------------------------------
# Actions
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("action", [-1, N_ACTIONS, N_ACTIONS + 7, 2.5, "x", None, np.float64(0.5), [3]], ids=repr)
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


@pytest.mark.parametrize("action", [0, N_ACTIONS - 1, np.int64(5), np.int32(7)], ids=repr)
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
    ("sea_penalty", 2.0, ["0 to 1"]),
    ("demand_deadline", 0, [">= 1"]),
    ("nation_names", ("A", "B"), ["6"]),
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
    assert set(DOCTRINES) >= {"security", "power"}
