"""train.deviation: unilateral deviations from learned self-play, in matched worlds."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from agents.episodes import Episodes
from agents.population import make_plan
from tests.runs import tiny_run
from train.learned import learned_population, play


@pytest.fixture(scope="module")
def power_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real (barely trained) power run of train.fast_ppo in 9-turn episodes."""
    return tiny_run(tmp_path_factory.mktemp("deviation") / "power", "--doctrine", "power")


def test_episode_returns_are_what_the_evaluation_rows_sum() -> None:
    policies = ["offensive_realist"] * 3 + ["defensive_realist"] * 3
    doctrines = ["power"] * 3 + ["security"] * 3
    seeds = [3, 4, 5]
    returns = Episodes(make_plan(policies, "bipolar", None, 12, doctrines)).returns(seeds)
    rows, _ = play(policies, doctrines, "bipolar", seeds, max_cycles=12, focal=[True] * 3 + [False] * 3)
    assert returns.shape == (3, 6)
    np.testing.assert_allclose(returns[:, :3].mean(axis=1), [row["focal:return"] for row in rows])
    np.testing.assert_allclose(returns[:, 3:].mean(axis=1), [row["security:return"] for row in rows])


def test_a_deviant_plays_one_slot_in_the_same_worlds(power_run: Path) -> None:
    from train.deviation import deviation_gains, deviation_returns

    returns = deviation_returns(power_run, ["offensive_realist"], episodes=3, slots=[0, 2])
    selfplay, deviated = returns["selfplay"], returns["deviants"]["offensive_realist"]
    assert returns["scenario"] == "multipolar" and returns["doctrines"] == ["power"] * 6
    assert selfplay.shape == (3, 6) and set(deviated) == {0, 2}
    policies, doctrines = learned_population(power_run)
    in_slot_2 = [policy if i != 2 else "offensive_realist" for i, policy in enumerate(policies)]
    expected = Episodes(make_plan(in_slot_2, "multipolar", None, 9, doctrines)).returns([10000, 10001, 10002])
    np.testing.assert_array_equal(deviated[2], expected)  # the run's 9-turn episodes, the experiment's env seeds
    gains = deviation_gains(returns)["offensive_realist"]
    np.testing.assert_allclose(gains["deviant_return"], (deviated[0][:, 0] + deviated[2][:, 2]) / 2)
    np.testing.assert_allclose(gains["learned_return"], (selfplay[:, 0] + selfplay[:, 2]) / 2)
    np.testing.assert_allclose(gains["gain"], gains["deviant_return"] - gains["learned_return"])


def test_a_deviant_that_plays_the_learned_policy_gains_nothing(power_run: Path) -> None:
    # The learned policy as its own deviant: the same play in the same worlds, so every difference is exactly 0.
    from train.deviation import deviation_gains, deviation_returns, summarise

    learned = learned_population(power_run)[0][0]
    gains = deviation_gains(deviation_returns(power_run, [learned], episodes=4, slots=[1]))
    assert not np.any(gains[learned]["gain"]) and not np.any(gains[learned]["others_change"])
    summary = summarise({"run": gains})[learned]
    assert summary["gain"]["mean"] == 0.0 and summary["verdict"] == "no clear difference"


def test_the_gains_and_verdicts_of_hand_made_returns() -> None:
    from train.deviation import deviation_gains, summarise, verdict

    selfplay = np.array([[10.0, 20.0, 30.0], [12.0, 18.0, 30.0]])
    deviated = np.array([[15.0, 20.0, 27.0], [17.0, 18.0, 29.0]])  # nation 0 deviates: +5, the others -1.5 and -0.5
    gains = deviation_gains({"selfplay": selfplay, "deviants": {"d": {0: deviated}}})["d"]
    np.testing.assert_allclose(gains["gain"], [5.0, 5.0])
    np.testing.assert_allclose(gains["others_change"], [-1.5, -0.5])
    np.testing.assert_allclose(gains["learned_return"], [10.0, 12.0])

    # Over runs the unit is the run: three runs that gain 5, 6 and 7 exploit; runs that gain and lose do not.
    def run(gain: float) -> dict:
        values = {"deviant_return": np.ones(2), "learned_return": np.zeros(2), "others_change": np.zeros(2)}
        return {"d": {**values, "gain": np.full(2, gain)}}

    exploited = summarise({"a": run(5.0), "b": run(6.0), "c": run(7.0)})["d"]
    assert exploited["gain"]["mean"] == pytest.approx(6.0) and exploited["gain"]["n"] == 3
    assert exploited["verdict"] == "exploits"
    assert summarise({"a": run(5.0), "b": run(-9.0), "c": run(1.0)})["d"]["verdict"] == "no clear difference"
    assert verdict({"mean": -1.0, "ci_low": -2.0, "ci_high": -0.5}) == "does worse"


def test_the_gain_in_each_place_is_kept_apart() -> None:
    """Nash's condition is that no nation gains: a superpower's place can gain where the mean over places does not."""
    from train.deviation import deviation_gains, place_gains

    selfplay = np.array([[10.0, 20.0, 30.0], [12.0, 18.0, 30.0]])
    deviated = {0: selfplay + [[9.0, 0, 0], [11.0, 0, 0]], 1: selfplay + [[0, -4.0, 0], [0, -6.0, 0]]}
    returns = {"selfplay": selfplay, "deviants": {"d": deviated}}
    assert place_gains(returns) == {"d": {0: 10.0, 1: -5.0}}
    np.testing.assert_allclose(deviation_gains(returns)["d"]["gain"], [2.5, 2.5])  # the mean over the two places


def test_the_places_exploited_are_those_above_0_at_the_bonferroni_level() -> None:
    from train.deviation import places_exploited

    def run(first: float) -> dict:  # place 0 gains about `first`, place 1 nothing, place 2 a little
        return {"d": {0: np.array([first - 1, first + 1]), 1: np.array([-1.0, 1.0]), 2: np.array([2.0, 3.0])}}

    # over runs (each run's mean over its episodes): place 0 clearly; place 2's 2.5 [2.5, 2.5] too, with no spread
    found = places_exploited({"a": run(100.0), "b": run(110.0), "c": run(120.0)})["d"]
    assert [k for k, _ in found] == [0, 2] and found[0][1]["mean"] == pytest.approx(110.0)
    # one run: over its episodes; 2 episodes of place 0, 99 and 101, lie above 0 even at 1 - 0.05 / 3
    assert [k for k, _ in places_exploited({"a": run(100.0)})["d"]] == [0]
    # at 95% alone place 0 of runs gaining 10, 12 and 4 would be exploited; at the Bonferroni level over 3 it is not
    assert [k for k, _ in places_exploited({"a": run(10.0), "b": run(12.0), "c": run(4.0)})["d"]] == [2]


def test_returns_survive_the_experiments_json_cache() -> None:
    """The experiment caches a run's deviation returns as JSON (slots become strings) and reads them back."""
    from train.deviation import deviation_gains, returns_from_json, returns_to_json

    returns = {
        "doctrines": ["power", "power", "power"],
        "selfplay": np.array([[10.0, 20.0, 30.0], [12.0, 18.0, 30.0]]),
        "deviants": {"d": {0: np.array([[15.0, 20.0, 27.0], [17.0, 18.0, 29.0]]), 2: np.zeros((2, 3))}},
    }
    stored = json.loads(json.dumps(returns_to_json(returns)))
    assert set(stored["deviants"]["d"]) == {"0", "2"}
    back = returns_from_json(stored)
    assert back["doctrines"] == returns["doctrines"] and set(back["deviants"]["d"]) == {0, 2}
    np.testing.assert_array_equal(back["selfplay"], returns["selfplay"])
    for measure, values in deviation_gains(back)["d"].items():
        np.testing.assert_array_equal(values, deviation_gains(returns)["d"][measure])


def test_the_command_prints_a_table_and_writes_its_figures(
    power_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from train.deviation import main

    out = tmp_path / "deviation.json"
    argv = ["--model", str(power_run), "--deviants", "status_quo", "--episodes", "2", "--slots", "0"]
    document = main([*argv, "--scenario", "bipolar", "--out", str(out), "--no-progress"])
    printed = capsys.readouterr().out
    assert "power runs in bipolar, 1 run (intervals over episodes), 2 episodes each:" in printed
    assert printed.count("status_quo") == 1 and "verdict" in printed
    assert json.loads(out.read_text()) == json.loads(json.dumps(document))
    group = document["groups"][0]
    assert group["doctrine"] == "power" and set(group["summary"]) == {"status_quo"}
    assert set(group["places_exploited"]) == {"status_quo"}  # each place where it gains, apart (maybe none)
    sampled = main([*argv, "--scenario", "bipolar", "--no-progress", "--sample"])
    assert "2 episodes each, the learned nations sampling:" in capsys.readouterr().out and sampled["sample"]
    assert sampled["groups"][0]["runs"] != document["groups"][0]["runs"]  # the same worlds, played otherwise


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--deviants", "napoleon"], "unknown deviant policy 'napoleon'; valid: "),
        (["--slots", "6"], "slot 6 is invalid for a run of 6 nations; valid: 0..5"),
        (["--scenario", "atlantis"], "unknown scenario 'atlantis'; valid: "),
        (["--scenario", "atlantis"], "unipolar (a scenario of your own: --import the module that registers it)"),
        (["--episodes", "0"], "--episodes 0 is invalid; valid: an integer >= 1"),
    ],
)
def test_bad_input_names_the_culprit_and_the_valid_choices(
    power_run: Path, extra: list[str], message: str, capsys: pytest.CaptureFixture
) -> None:
    from train.deviation import main

    with pytest.raises(SystemExit) as stopped:
        main(["--model", str(power_run), "--episodes", "1", "--no-progress", *extra])
    assert stopped.value.code == 2 and message in capsys.readouterr().err  # a usage error, as the other commands'


def test_a_world_of_another_nation_count_is_named_as_train_evaluate_names_it(
    power_run: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """A run's network takes only its nation count: --scenario of another count gave "population ... has 6 nations;
    expected 4", which said neither why nor what would do; an n_nations override is named the same way."""
    import realism_env
    from train.deviation import deviation_returns, main

    quad = realism_env.Scenario("quad", "four powers", {"n_nations": 4, "capability_shares": (0.4, 0.2, 0.2, 0.2)})
    monkeypatch.setitem(realism_env.SCENARIOS, "quad", quad)
    with pytest.raises(SystemExit) as stopped:
        main(["--model", str(power_run), "--episodes", "1", "--no-progress", "--scenario", "quad"])
    assert stopped.value.code == 2
    assert (
        f"the world (quad) has 4 nations, but {power_run} was trained with 6 and its network takes only that count; "
        "valid: a scenario of 6 nations (bipolar, cold_war_1950, europe_1914, islands, multipolar, rising_power, "
        "unipolar), with no n_nations override or n_nations=6"
    ) in capsys.readouterr().err
    with pytest.raises(ValueError, match=r"the world \(islands with its overrides\) has 4 nations, .* n_nations=6$"):
        deviation_returns(power_run, ["status_quo"], "islands", episodes=1, overrides={"n_nations": 4})


def test_a_folder_that_is_not_a_run_is_named(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from train.deviation import main

    with pytest.raises(SystemExit):
        main(["--model", str(tmp_path), "--no-progress"])
    assert "is not a finished training run" in capsys.readouterr().err
