"""train.evaluate: a training run's nations scored against the scripted agents of their doctrine in matched worlds."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.runs import tiny_run
from train.evaluate import main, run_measures, score_run, summarise
from train.learned import learned_population, play, register_learned


@pytest.fixture(scope="module")
def power_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real (barely trained) power run of train.fast_ppo in 9-turn episodes."""
    return tiny_run(tmp_path_factory.mktemp("evaluate") / "power", "--doctrine", "power")


def _returns(rows: list[dict]) -> list[float]:
    return [row["focal:return"] for row in rows]


def test_the_learned_and_scripted_nations_play_the_same_worlds_in_each_setting(power_run: Path) -> None:
    score = score_run(power_run, backgrounds=["defensive_realist"], n_focal=2, episodes=3, seed=5)
    assert score["doctrine"] == "power" and score["scenario"] == "multipolar"
    assert list(score["settings"]) == ["selfplay", "focal_vs_defensive_realist"]
    focal = [True] * 2 + [False] * 4
    # the baseline is the offensive realist (power's scripted counterpart) in the learned nations' places
    scripted, _ = play(["offensive_realist"] * 2 + ["defensive_realist"] * 4, ["power"] * 2 + ["security"] * 4,
                       "multipolar", [5, 6, 7], max_cycles=9, focal=focal)  # fmt: skip
    played = score["settings"]["focal_vs_defensive_realist"]
    assert _returns(played["baseline"]) == _returns(scripted)
    policies, doctrines = learned_population(power_run, 6, 2, "defensive_realist")
    learned, _ = play(policies, doctrines, "multipolar", [5, 6, 7], max_cycles=9, focal=focal)
    assert _returns(played["learned"]) == _returns(learned)
    selfplay, _ = play(["offensive_realist"] * 6, ["power"] * 6, "multipolar", [5, 6, 7], max_cycles=9)
    assert _returns(score["settings"]["selfplay"]["baseline"]) == _returns(selfplay)
    assert all(row["turns"] <= 9 for row in played["learned"])  # the run's training episode length


def test_a_background_of_the_baselines_own_policy_is_still_scored_on_the_focal_nations(power_run: Path) -> None:
    """Among offensive realists, a power run's baseline (the offensive realist) plays self-play's population: its
    figure is still the mean over the focal nations, not self-play's over all six (whose power shares sum to 1)."""
    score = score_run(power_run, backgrounds=["offensive_realist"], n_focal=2, episodes=3, seed=5)
    focal = [True] * 2 + [False] * 4
    expected, _ = play(["offensive_realist"] * 6, ["power"] * 6, "multipolar", [5, 6, 7], max_cycles=9, focal=focal)
    baseline = score["settings"]["focal_vs_offensive_realist"]["baseline"]
    assert _returns(baseline) == _returns(expected)
    assert _returns(baseline) != _returns(score["settings"]["selfplay"]["baseline"])


def test_a_run_scored_against_its_own_policy_differs_by_nothing(power_run: Path) -> None:
    own = register_learned(power_run)["power"]
    score = score_run(power_run, backgrounds=["offensive_realist"], baseline=own, episodes=3)
    for played in score["settings"].values():
        assert _returns(played["learned"]) == _returns(played["baseline"])
        summary = summarise([run_measures(played, "focal:return")])
        assert summary["difference"]["mean"] == 0.0 and summary["verdict"] == "no clear difference"


def test_the_verdicts_read_the_difference_interval() -> None:
    def one_run(learned: list[float], baseline: list[float]) -> dict:
        a, b = np.array(learned), np.array(baseline)
        return {"learned": a, "baseline": b, "difference": a - b}

    ahead = summarise([one_run([11.0, 12.0, 13.0], [10.0, 10.5, 11.0])])
    assert ahead["verdict"] == "learned ahead" and ahead["difference"]["ci_low"] > 0
    assert ahead["ratio"] == pytest.approx(12.0 / 10.5)
    assert summarise([one_run([9.0, 9.5, 10.0], [10.0, 10.5, 11.0])])["verdict"] == "learned behind"
    assert summarise([one_run([9.0, 12.0, 10.0], [10.0, 10.5, 11.0])])["verdict"] == "no clear difference"
    assert summarise([one_run([9.0], [10.0])])["verdict"] == "untested (no interval)"
    # the last bits of two sums of shares that are the same by construction (200/6 a nation): no difference
    sums = one_run([200 / 6 - 6.9e-14, 200 / 6 - 7.1e-14, 200 / 6 - 6.7e-14], [200 / 6] * 3)
    assert summarise([sums])["verdict"] == "no clear difference"
    assert math.isnan(summarise([one_run([9.0, 8.0], [-1.0, -2.0])])["ratio"])  # no ratio over a negative baseline
    metric = summarise([one_run([3.0, 4.0, 5.0], [0.0, 0.0, 0.0])], is_return=False)
    assert metric["verdict"] == "learned higher" and math.isnan(metric["ratio"])
    # over runs, each run's mean over episodes is the unit
    runs = summarise([one_run([1.0, 3.0], [0.0, 0.0]), one_run([5.0, 7.0], [1.0, 1.0])])
    assert runs["learned"]["mean"] == 4.0 and runs["learned"]["n"] == 2 and runs["difference"]["mean"] == 3.5


def test_the_command_prints_a_table_and_writes_its_figures(
    power_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "scores.json"
    copy = shutil.copytree(power_run, tmp_path / "copy")  # a second run (of the same weights)
    argv = ["--model", str(power_run), str(copy), "--episodes", "2", "--background", "offensive_realist"]
    document = main([*argv, "--metrics", "war_onsets", "--out", str(out), "--no-progress"])
    printed = capsys.readouterr().out
    assert "power: 2 runs in multipolar, 2 episodes a setting (intervals over runs)" in printed
    assert "selfplay" in printed and "focal_vs_offensive_realist" in printed and "  war_onsets" in printed
    written = json.loads(out.read_text())
    assert written["groups"][0]["runs"] == [str(power_run), str(copy)]
    assert written["groups"][0]["settings"]["selfplay"]["return"]["difference"]["n"] == 2  # one value per run
    assert set(written["runs"][str(power_run)]) == {"selfplay", "focal_vs_offensive_realist"}
    means = written["runs"][str(power_run)]["selfplay"]["learned"]
    assert {"return", "war_onsets", "final_share"} <= set(means)
    assert document["baseline"] == "scripted" and written["episodes"] == 2


def test_background_with_no_name_plays_self_play_only(power_run: Path, capsys: pytest.CaptureFixture) -> None:
    document = main(["--model", str(power_run), "--episodes", "2", "--background", "--max-cycles", "4",
                     "--no-progress"])  # fmt: skip
    assert list(document["groups"][0]["settings"]) == ["selfplay"]
    assert "focal_vs" not in capsys.readouterr().out


def test_backgrounds_may_be_comma_separated_as_train_fast_ppo_takes_them(power_run: Path) -> None:
    """``--background hawk,grudger`` was one unknown policy 'hawk,grudger'."""
    document = main(["--model", str(power_run), "--episodes", "1", "--background", "random,status_quo", "bandwagoner",
                     "--max-cycles", "3", "--no-progress"])  # fmt: skip
    expected = ["selfplay", "focal_vs_random", "focal_vs_status_quo", "focal_vs_bandwagoner"]
    assert list(document["groups"][0]["settings"]) == expected


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--episodes", "0"], "--episodes 0 is invalid; valid: an integer >= 1"),
        (["--background", "nobody"], "unknown background policy 'nobody'; valid: bandwagoner"),
        (["--background", "offensive_realist,nobody"], "unknown background policy 'nobody'; valid: bandwagoner"),
        (["--background", " , "], "--background ' , ' names no policy; valid: policy names, space- or comma-"),
        (["--focal", "6"], "--focal 6 is invalid with a background; valid: 1..5"),
        (["--baseline", "nobody"], "unknown baseline 'nobody'; valid: scripted"),
        (["--metrics", "nope"], "unknown metric 'nope'; valid: survived"),
        (["--set", "doctrines=security"], "--set doctrines is not taken"),
        (["--set", "n_nations=4"], "has 4 nations, but"),
        (["--set", "reveal_doctrines=true"], "the model takes observations of size"),
        (["--set", "nope=1"], "unknown config field 'nope'"),
        (["--confidence", "1.5"], "--confidence 1.5 is invalid"),
    ],
)
def test_bad_input_names_the_culprit_and_the_valid_choices(
    power_run: Path, extra: list[str], message: str, capsys: pytest.CaptureFixture
) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["--model", str(power_run), *extra, "--no-progress"])
    assert raised.value.code == 2
    assert message in capsys.readouterr().err


def test_a_run_named_twice_is_refused(power_run: Path, capsys: pytest.CaptureFixture) -> None:
    """Counted twice, one run would narrow the interval over runs to nothing."""
    with pytest.raises(SystemExit):
        main(["--model", str(power_run), f"{power_run}/", "--no-progress"])
    assert "twice; valid: each run once" in capsys.readouterr().err


def test_a_folder_that_is_not_a_run_and_an_out_folder_are_named(
    power_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    with pytest.raises(SystemExit):
        main(["--model", str(tmp_path)])
    assert "is not a finished training run" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--model", str(power_run), "--out", str(tmp_path)])
    assert "is a folder" in capsys.readouterr().err


def test_a_population_prints_one_scoring_command_and_its_folder_names_its_members(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """Scored together, a population's runs give an interval over runs: its folder holds checkpoints, not a run."""
    pytest.importorskip("torch")
    from train.fast_ppo import main as train

    argv = ["--timesteps", "1", "--n-worlds", "1", "--n-steps", "8", "--batch-size", "8", "--max-cycles", "9"]
    assert train([*argv, "--population", "2", "--out", str(tmp_path), "--no-progress-bar"]) == 0
    printed = capsys.readouterr().out
    assert printed.count("against the scripted realists") == 1
    assert f"score them against the scripted realists: python -m train.evaluate --model {tmp_path}/seed0 " in printed
    with pytest.raises(SystemExit):
        main(["--model", str(tmp_path), "--no-progress"])
    message = capsys.readouterr().err
    assert "holds a population's checkpoints, not a run; valid: its members' runs" in message
    assert f"{tmp_path}/seed1" in message


def test_a_run_is_refused_where_its_scenario_is_no_longer_the_world_it_was_trained_in(
    tmp_path: Path, power_run: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """A run names its scenario; the scenario is looked up here by that name. After an edit to the module that
    registers it (or with a built-in name registered otherwise) the run was scored, replayed and deviated from in
    another world, unnoticed. Its world is rebuilt with its own --set and --max-cycles and compared with config.json's:
    an evaluation's own --scenario, --set and --max-cycles still go on top of it, and an older run, whose record lacks
    a field added since, is read as it was."""
    import realism_env
    from train.deviation import main as deviation
    from train.learned import RunInfo
    from train.replay import main as replay

    tight = realism_env.Scenario("tight", "offence strong", {"offense_defense_balance": 2.0})
    monkeypatch.setitem(realism_env.SCENARIOS, "tight", tight)
    options = ["--set", "conquest_payoff=0.8", "--capability-spread", "0.3"]
    run = tiny_run(tmp_path / "tight", "--scenario", "tight", *options)
    document = main(["--model", str(run), "--episodes", "1", "--background", "--max-cycles", "3", "--set",
                     "sea_penalty=0.9", "--scenario", "islands", "--no-progress"])  # fmt: skip
    assert document["groups"][0]["scenario"] == "islands"
    older = tmp_path / "older"  # made before capability_spread existed: neither the option nor the field recorded
    shutil.copytree(run, older)
    record = json.loads((run / "config.json").read_text())
    del record["env_config"]["capability_spread"], record["args"]["capability_spread"]
    (older / "config.json").write_text(json.dumps(record))
    assert RunInfo.read(older).scenario == "tight"

    # the module edited since: the scenario's offence balance is another
    edited = realism_env.Scenario("tight", "offence strong", {"offense_defense_balance": 1.5, "sea_links": 4})
    monkeypatch.setitem(realism_env.SCENARIOS, "tight", edited)
    message = (
        f"the scenario 'tight' here differs from the one {run} was trained in: offense_defense_balance 1.5 here (2.0 "
        "then), sea_links 4 here (3 then); valid: the scenario as the run had it (the run imported no module: the "
        "built-in one, redefined here by a module imported, or changed in realism_env since)"
    )
    with pytest.raises(ValueError) as refused:
        RunInfo.read(run)
    assert str(refused.value) == message
    for command, extra in (
        (main, ["--episodes", "1", "--no-progress"]),
        (replay, ["--out", str(tmp_path / "replay.html")]),
        (deviation, ["--episodes", "1", "--no-progress"]),
    ):
        with pytest.raises(SystemExit) as stopped:
            command(["--model", str(run), *extra])
        assert stopped.value.code == 2 and message in capsys.readouterr().err
    # a built-in name registered for another world: a run of the built-in one is refused too
    multipolar = realism_env.Scenario("multipolar", "mine", {"map_kind": "islands"})
    monkeypatch.setitem(realism_env.SCENARIOS, "multipolar", multipolar)
    with pytest.raises(ValueError, match=r"differs from the one .*: map_kind 'islands' here \('continent' then\)"):
        RunInfo.read(power_run)


def test_a_run_resumed_past_its_model_and_stopped_is_refused_until_resumed_to_its_end(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A finished run resumed toward a larger --timesteps and stopped left metrics.json unfinished at more timesteps
    beside the model it wrote when it finished, which train.evaluate scored silently as the run."""
    import signal

    import torch

    from train.fast_ppo import main as train
    from train.run_folder import StopRequest

    run = tiny_run(tmp_path / "run")  # one rollout: 48 timesteps (8 turns of one world's 6 nations)
    calls = {"n": 0}

    def stopped_after_two_rollouts(self: StopRequest) -> bool:  # as SIGTERM stops it
        calls["n"] += 1
        if calls["n"] > 2:
            self.signum = signal.SIGTERM
        return self.signum is not None

    tiny = ["--n-worlds", "1", "--n-steps", "8", "--batch-size", "8", "--max-cycles", "9", "--no-progress-bar"]
    with monkeypatch.context() as patched:
        patched.setattr(StopRequest, "__call__", stopped_after_two_rollouts)
        assert train([*tiny, "--out", str(run), "--resume", "--timesteps", "480"]) == 128 + signal.SIGTERM
    capsys.readouterr()
    with pytest.raises(SystemExit) as raised:
        main(["--model", str(run), "--episodes", "1", "--no-progress"])
    assert raised.value.code == 2
    message = capsys.readouterr().err
    expected = f"{run}: its model.pt is of 48 timesteps, but the run has gone on to 144 timesteps of 480 (resumed and"
    assert expected in message and "valid: --resume it to its end" in message
    model = torch.load(run / "model.pt", weights_only=True)  # a model.pt written before it held its timesteps
    torch.save({k: v for k, v in model.items() if k != "num_timesteps"}, run / "model.pt")
    with pytest.raises(SystemExit):
        main(["--model", str(run), "--episodes", "1", "--no-progress"])
    assert "its model.pt is of an earlier step count" in capsys.readouterr().err
    tiny_run(tmp_path / "run", "--resume", "--timesteps", "480")  # to its end: the model is the run's again
    assert main(["--model", str(run), "--episodes", "1", "--no-progress", "--background"])["runs"]


def test_a_run_trained_under_another_version_of_the_rules_is_refused(tmp_path: Path, monkeypatch) -> None:
    """A run's config.json records the env version it was trained in: after a rule change (realism_v2 -> v3) its policy
    learned another world, and scoring it (RunInfo.read: train.evaluate, the experiment's evaluation) or resuming it is
    refused by name. Before, both went on in silence."""
    import realism_env
    from train.fast_ppo import main as train
    from train.learned import RunInfo

    run = tiny_run(tmp_path / "run")
    trained_in = realism_env.NAME
    assert json.loads((run / "config.json").read_text())["env"] == trained_in
    monkeypatch.setattr(realism_env, "NAME", "realism_v99")  # as a bumped version would read
    with pytest.raises(ValueError, match=rf"was trained in {trained_in}, and this is realism_v99: the rules changed"):
        RunInfo.read(run)
    argv = ["--n-worlds", "1", "--n-steps", "8", "--batch-size", "8", "--max-cycles", "9", "--no-progress-bar"]
    with pytest.raises(SystemExit, match=rf"differs in the env version \({trained_in} when trained, realism_v99 now"):
        train([*argv, "--timesteps", "16", "--resume", "--out", str(run)])
    # A run recorded before config.json held the version was trained in realism_v2 or earlier: taken as realism_v2's,
    # so that it too is refused once the version moves on.
    record = json.loads((run / "config.json").read_text())
    del record["env"]
    (run / "config.json").write_text(json.dumps(record))
    with pytest.raises(ValueError, match=r"was trained in realism_v2, and this is realism_v99"):
        RunInfo.read(run)
    monkeypatch.setattr(realism_env, "NAME", "realism_v2")
    assert RunInfo.read(run).run_dir == str(run)
    # Either side of a comparison may be such a record (a checkpoint's record against an older config.json, too).
    from train.run_folder import differences

    newer = {**record, "env": "realism_v99"}
    expected = "the env version (realism_v2 when trained, realism_v99 now: the rules changed since)"
    assert expected in differences(record, newer)
    assert any("realism_v99 when trained, realism_v2 now" in d for d in differences(newer, record))
    assert differences(record, {**record, "env": "realism_v2"}) == []


def test_a_differing_argument_is_named_with_both_values_and_only_known_arguments_are_ignored() -> None:
    """What a refused resume prints for each argument: the run's value and the one given (an empty one visible), so
    the user can give the run's own; ``ignore`` takes argument names, and a misspelt one fails rather than ignore
    nothing."""
    from train.run_folder import differences

    run = {"args": {"background": "", "anneal_lr": True, "population": 1}, "env_config": {}}
    given = {"args": {"background": "offensive_realist", "anneal_lr": False, "population": 2}, "env_config": {}}
    assert differences(run, given, ignore=("population",)) == [
        '--background "" (given offensive_realist)',
        "--anneal-lr true (given false)",
    ]
    assert (
        differences(run, given, current_is="config.json has")[0]
        == '--background "" (config.json has offensive_realist)'
    )
    with pytest.raises(ValueError, match=r"ignore=\['--population'\] names no argument; valid: background, anneal_lr"):
        differences(run, given, ignore=("--population",))
