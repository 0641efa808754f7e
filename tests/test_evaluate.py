"""The evaluation harness (agents/evaluate.py, population.py, episodes.py, evaluation_report.py,
evaluation_output.py) and its statistics (agents/stats.py): the command line as a subprocess with a tiny budget, the
report's shape, matched worlds, bootstrap intervals on known data, clear errors for bad input, and output files that a
failed run leaves intact."""

from __future__ import annotations

import io
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import realism_env
from agents import evaluate as ev
from agents import stats
from agents.episodes import Episodes, matched_seeds
from agents.evaluation_output import write_json
from agents.evaluation_report import paired_report
from agents.population import format_population, make_plan, parse_population
from realism_env import jsonable

ROOT = Path(__file__).resolve().parents[1]
SUMMARY_KEYS = {"mean", "ci_low", "ci_high", "n"}
TINY = ["--episodes", "2", "--max-cycles", "8", "--resamples", "200", "--quiet"]


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """``python -m agents.evaluate ARGS`` in the repository root."""
    return subprocess.run(
        [sys.executable, "-m", "agents.evaluate", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def strict_json(path: Path) -> dict:
    """The file parsed as strict JSON (NaN or Infinity would be an error)."""

    def reject(constant: str) -> None:
        raise ValueError(f"non-standard JSON constant {constant}")

    return json.loads(path.read_text(), parse_constant=reject)


def assert_summary(summary: dict, episodes: int) -> None:
    assert set(summary) == SUMMARY_KEYS
    assert 0 <= summary["n"] <= episodes
    if summary["n"] == 0:
        assert summary["mean"] is None and summary["ci_low"] is None and summary["ci_high"] is None
    elif summary["n"] == 1:  # one value: a mean, and no interval
        assert summary["mean"] is not None and summary["ci_low"] is None and summary["ci_high"] is None
    else:
        assert summary["ci_low"] <= summary["mean"] <= summary["ci_high"]


def assert_report(report: dict, episodes: int, seed: int, doctrines: set[str]) -> None:
    """The documented shape of one population's report, as written to JSON."""
    for key in ("scenario", "seed", "n_episodes", "config", "population", "bootstrap", "units", "metrics"):
        assert key in report, key
    assert report["n_episodes"] == episodes and report["seed"] == seed
    assert set(report["metrics"]) == set(realism_env.METRICS)
    for summary in report["metrics"].values():
        assert_summary(summary, episodes)
    assert set(report["by_doctrine"]) == doctrines
    for per_doctrine in report["by_doctrine"].values():
        assert set(per_doctrine) == {"return", *realism_env.NATION_METRICS}
        for summary in per_doctrine.values():
            assert_summary(summary, episodes)
    assert [row["seed"] for row in report["episodes"]] == [seed + k for k in range(episodes)]
    for row in report["episodes"]:
        assert set(realism_env.METRICS) <= set(row)
        assert set(row["by_doctrine"]) == doctrines


# --------------------------------------------------------------------------------------------------
# The command line
# --------------------------------------------------------------------------------------------------


def test_cli_writes_a_report_of_the_documented_shape(tmp_path: Path) -> None:
    out = tmp_path / "metrics.json"
    population = "offensive_realist:3,defensive_realist:3"
    result = run_cli("--population", population, "--scenario", "multipolar", "--seed", "3", "--out", str(out), *TINY)
    assert result.returncode == 0, result.stderr
    report = strict_json(out)
    assert_report(report, episodes=2, seed=3, doctrines={"power", "security"})
    assert report["population"]["spec"] == population
    assert report["population"]["policies"] == ["offensive_realist"] * 3 + ["defensive_realist"] * 3
    assert report["population"]["doctrines"] == ["power"] * 3 + ["security"] * 3
    assert report["config"]["max_cycles"] == 8
    assert report["bootstrap"] == {"method": "percentile", "confidence": 0.95, "n_resamples": 200, "seed": 3}
    assert set(report["by_policy"]) == {"offensive_realist", "defensive_realist"}
    assert not [p for p in tmp_path.iterdir() if p.name != "metrics.json"], "a temporary file was left behind"


def test_cli_compare_reports_both_populations_and_the_paired_difference(tmp_path: Path) -> None:
    out = tmp_path / "compare.json"
    result = run_cli(
        "--population", "defensive_realist:6", "--compare", "offensive_realist:6", "--out", str(out), *TINY
    )
    assert result.returncode == 0, result.stderr
    report = strict_json(out)
    assert_report(report["a"], 2, 0, {"security"})
    assert_report(report["b"], 2, 0, {"power"})
    assert set(report["paired_difference"]) == set(realism_env.METRICS)
    for name, summary in report["paired_difference"].items():
        assert_summary(summary, 2)
        pairs = [
            (a[name], b[name])
            for a, b in zip(report["a"]["episodes"], report["b"]["episodes"], strict=True)
            if a[name] is not None and b[name] is not None
        ]
        assert summary["n"] == len(pairs)
        if pairs:
            assert summary["mean"] == pytest.approx(np.mean([b - a for a, b in pairs]))


def test_cli_prints_a_table_unless_quiet(capsys: pytest.CaptureFixture[str]) -> None:
    ev.main(["--population", "status_quo", "--episodes", "1", "--max-cycles", "3", "--resamples", "50"])
    text = capsys.readouterr().out
    assert "war_onsets" in text and "95% CI" in text and "survived" in text
    ev.main(["--population", "status_quo", "--compare", "random", *TINY[:-1], "--quiet"])
    assert capsys.readouterr().out == ""
    ev.main(["--population", "status_quo", "--compare", "random", "--episodes", "1", "--max-cycles", "3"])
    text = capsys.readouterr().out
    assert "B - A" in text and "*: the interval of B - A excludes 0" in text
    assert "with 1 matched episode the bootstrap intervals are too narrow to trust" in text
    ev.main(["--population", "status_quo", "--compare", "random", "--episodes", "10", "--max-cycles", "2"])
    assert "too narrow" not in capsys.readouterr().out


def test_help_documents_every_option() -> None:
    text = ev.build_parser().format_help()
    for option in (
        "--population",
        "--compare",
        "--scenario",
        "--episodes",
        "--seed",
        "--max-cycles",
        "--set",
        "--doctrines",
        "--confidence",
        "--resamples",
        "--out",
        "--quiet",
    ):
        assert option in text, option
    for name in ("offensive_realist", "defensive_realist", "power", "security", "conquest_payoff"):
        assert name in text


# --------------------------------------------------------------------------------------------------
# Matched worlds and reproducibility
# --------------------------------------------------------------------------------------------------


def test_the_same_seed_gives_identical_reports() -> None:
    kwargs = {"episodes": 2, "seed": 5, "max_cycles": 15, "n_resamples": 100}
    first = ev.evaluate("offensive_realist:3,defensive_realist:3", **kwargs)
    second = ev.evaluate("offensive_realist:3,defensive_realist:3", **kwargs)
    assert json.dumps(jsonable(first)) == json.dumps(jsonable(second))
    other = ev.evaluate("offensive_realist:3,defensive_realist:3", **{**kwargs, "seed": 6})
    assert other["episodes"][0]["seed"] == 6
    assert jsonable(other["episodes"][0]) == jsonable(first["episodes"][1])  # NaN as None: comparable


@pytest.mark.parametrize("scenario", ["multipolar", "islands", "europe_1914"])
def test_different_populations_meet_the_same_worlds(scenario: str) -> None:
    """Episode k of any population resets to the same map, forces and first observations (the env's random stream
    is in the same state), whatever the doctrines."""
    populations = ["defensive_realist", "offensive_realist", "random:2,offensive_realist:2,bandwagoner:1,tit_for_tat:1"]
    plans = [make_plan(p, scenario) for p in populations]
    assert len({plan.doctrines for plan in plans}) == 3
    for seed in matched_seeds(10, 2):
        starts = []
        for plan in plans:
            env = realism_env.parallel_env(config=plan.config)
            observations, _ = env.reset(seed=seed)
            starts.append((env.state(), env.world.owner, env.world.military, observations))
        reference = starts[0]
        for state, owner, military, observations in starts[1:]:
            np.testing.assert_array_equal(state, reference[0])
            np.testing.assert_array_equal(owner, reference[1])
            np.testing.assert_array_equal(military, reference[2])
            for agent, obs in observations.items():
                np.testing.assert_array_equal(obs["observation"], reference[3][agent]["observation"])


def test_the_harness_records_the_world_it_reset_to() -> None:
    """The recorder starts on the world after reset (turn 0) and logs every turn the rollout played."""
    plan = make_plan("offensive_realist:2,defensive_realist:4", max_cycles=12)
    episodes = Episodes(plan)
    row = episodes.run(4)
    log = episodes.group.log(0)
    env = realism_env.parallel_env(config=plan.config)
    env.reset(seed=4)
    np.testing.assert_array_equal(log.owner[0, 0], env.world.owner[0])
    assert log.turn[0, 0] == 0 and log.n_turns == row["turns"] == 12
    # the per-doctrine means of a row are the metrics module's own by_doctrine, and the doctrines' mean returns
    returns = {d: means.pop("return") for d, means in row["by_doctrine"].items()}
    assert jsonable(row["by_doctrine"]) == jsonable(episodes.group.recorder.by_doctrine())
    assert set(row["by_policy"]) == {"offensive_realist", "defensive_realist"}
    # a nation's return is its rewards summed, as the PettingZoo env pays them in the same world
    from agents import build_policies, rollout

    env = realism_env.parallel_env(config=plan.config)
    earned = dict.fromkeys(env.possible_agents, 0.0)
    for transition in rollout(env, build_policies(env, list(plan.policies)), 4):
        for nation, reward in transition.rewards.items():
            earned[nation] += reward
    for doctrine in ("power", "security"):
        members = [earned[f"nation_{i}"] for i, d in enumerate(plan.doctrines) if d == doctrine]
        assert returns[doctrine] == pytest.approx(np.mean(members), rel=1e-12)


def test_progress_bar_counts_episodes_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    ev.compare("status_quo", "random", episodes=2, max_cycles=2, n_resamples=10, progress=True)
    assert "4/4" in terminal.getvalue()
    quiet = Terminal()
    monkeypatch.setattr(sys, "stderr", quiet)
    ev.evaluate("status_quo", episodes=2, max_cycles=2, n_resamples=10, progress=False)
    assert quiet.getvalue() == ""


# --------------------------------------------------------------------------------------------------
# Statistics
# --------------------------------------------------------------------------------------------------


def test_bootstrap_interval_contains_the_mean_and_matches_normal_theory() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(10.0, 2.0, size=400)
    s = stats.summarize(x, seed=1)
    assert s["n"] == 400 and s["mean"] == pytest.approx(x.mean())
    assert s["ci_low"] < s["mean"] < s["ci_high"]
    half_width = 1.96 * x.std(ddof=1) / math.sqrt(x.size)
    assert (s["ci_high"] - s["ci_low"]) / 2 == pytest.approx(half_width, rel=0.15)


def test_bootstrap_interval_shrinks_with_n() -> None:
    rng = np.random.default_rng(1)
    x = rng.exponential(1.0, size=1600)
    widths = [(s["ci_high"] - s["ci_low"]) for s in (stats.summarize(x[:n], seed=0) for n in (25, 100, 400, 1600))]
    assert all(a > b for a, b in zip(widths, widths[1:], strict=False))
    assert widths[0] / widths[-1] == pytest.approx(8.0, rel=0.35)  # width ~ 1 / sqrt(n)


def test_bootstrap_is_seeded_and_reproducible() -> None:
    x = np.arange(20.0) ** 1.5
    assert stats.summarize(x, seed=3) == stats.summarize(x, seed=3)
    assert stats.summarize(x, seed=3) != stats.summarize(x, seed=4)
    np.testing.assert_array_equal(stats.bootstrap_means(x, 50, seed=2), stats.bootstrap_means(x, 50, seed=2))
    # a summary depends on its own values only, not on what was summarised before
    rows = [{"a": v, "b": 2 * v} for v in x]
    assert stats.summarize_rows(rows, seed=3)["b"] == stats.summarize(2 * x, seed=3)


def test_bootstrap_leaves_out_nan_and_counts_the_finite_values() -> None:
    x = [1.0, np.nan, 3.0, np.inf, 5.0, np.nan]
    s = stats.summarize(x)
    assert s["n"] == 3 and s["mean"] == pytest.approx(3.0)
    assert 1.0 <= s["ci_low"] <= 3.0 <= s["ci_high"] <= 5.0
    empty = stats.summarize([np.nan, np.nan])
    assert empty["n"] == 0 and all(math.isnan(empty[k]) for k in ("mean", "ci_low", "ci_high"))
    one = stats.summarize([2.0])  # no spread to estimate from one value: no interval, never significant
    assert one["mean"] == 2.0 and one["n"] == 1 and math.isnan(one["ci_low"]) and math.isnan(one["ci_high"])
    assert not stats.significant(stats.paired_difference([0.168], [0.1667]))
    assert stats.summarize([4.0] * 7) == {"mean": 4.0, "ci_low": 4.0, "ci_high": 4.0, "n": 7}


def test_paired_difference_uses_the_pairs_where_both_are_finite() -> None:
    a = np.array([1.0, 2.0, np.nan, 4.0, 5.0])
    b = np.array([2.0, 4.0, 9.0, np.nan, 8.0])
    d = stats.paired_difference(a, b)
    assert d["n"] == 3 and d["mean"] == pytest.approx((1 + 2 + 3) / 3)
    assert stats.significant(d) and not stats.significant(stats.paired_difference(a, a))
    with pytest.raises(ValueError, match="same shape"):
        stats.paired_difference([1.0, 2.0], [1.0])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"confidence": 1.0}, "confidence"), ({"confidence": 0}, "confidence"), ({"n_resamples": 0}, "n_resamples")],
)
def test_bootstrap_rejects_bad_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        stats.summarize([1.0, 2.0, 3.0], **kwargs)


def test_numpy_integers_are_taken_and_bools_and_floats_refused() -> None:
    """Counts and seeds computed with numpy (np.int64) are integers; True and 2.0 are more likely bugs."""
    report = ev.evaluate("random", episodes=np.int64(2), seed=np.int32(1), max_cycles=2, n_resamples=np.int64(10))
    assert [row["seed"] for row in report["episodes"]] == [1, 2]
    assert type(report["bootstrap"]["n_resamples"]) is int and type(report["bootstrap"]["seed"]) is int
    for name, value in (("episodes", True), ("episodes", 2.0), ("seed", -1), ("n_resamples", True)):
        arguments = {"episodes": 1, "max_cycles": 2, name: value}
        with pytest.raises(ValueError, match=rf"{name}={value!r} is invalid; valid: an integer >= "):
            ev.evaluate("random", **arguments)


def test_json_has_null_for_nan_and_reports_agree_with_their_episodes(tmp_path: Path) -> None:
    report = ev.evaluate("defensive_realist", episodes=3, max_cycles=6, n_resamples=100)
    assert report["metrics"]["hegemony_turn"]["n"] == 0  # nobody reaches hegemony in six peaceful turns
    write_json(tmp_path / "r.json", report)
    written = strict_json(tmp_path / "r.json")
    assert written["metrics"]["hegemony_turn"] == {"mean": None, "ci_low": None, "ci_high": None, "n": 0}
    for name, summary in report["metrics"].items():
        values = [row[name] for row in report["episodes"]]
        assert jsonable(summary) == jsonable(stats.summarize(values, 0.95, 100, 0)), name


# --------------------------------------------------------------------------------------------------
# Parsing and errors
# --------------------------------------------------------------------------------------------------


def test_population_slots_are_filled_in_the_order_given() -> None:
    assert parse_population("offensive_realist:2,defensive_realist:3,random:1", 6) == (
        ("offensive_realist",) * 2 + ("defensive_realist",) * 3 + ("random",)
    )
    assert parse_population("status_quo", 4) == ("status_quo",) * 4
    assert parse_population(["random", "status_quo"], 2) == ("random", "status_quo")
    assert format_population(["random", "random", "status_quo", "random"]) == "random:2,status_quo:1,random:1"


def test_doctrines_follow_policies_unless_given() -> None:
    plan = make_plan("offensive_realist:2,defensive_realist:2,random:1,bandwagoner:1")
    assert plan.doctrines == ("power", "power", "security", "security", "security", "security")
    assert make_plan("offensive_realist", doctrines="security").doctrines == ("security",) * 6
    mixed = "power,security,power,security,power,security"
    assert make_plan("random", doctrines=mixed).doctrines == tuple(mixed.split(","))
    # a population's name, as the trainers read it: the nations take its doctrines in turn, nation_0 the first
    assert make_plan("random", doctrines="mixed").doctrines == realism_env.mixed_doctrines(6)
    assert make_plan("random", doctrines="power+security").doctrines == ("power", "security") * 3


def test_config_overrides_are_parsed_to_the_field_type() -> None:
    assert realism_env.parse_override("offense_defense_balance=2") == ("offense_defense_balance", 2.0)
    assert isinstance(realism_env.parse_override("offense_defense_balance=2")[1], float)
    assert realism_env.parse_override("provinces_per_nation=3") == ("provinces_per_nation", 3)
    assert realism_env.parse_override("reveal_doctrines=true") == ("reveal_doctrines", True)
    assert realism_env.parse_override("reveal_doctrines=No") == ("reveal_doctrines", False)
    assert realism_env.parse_override("map_kind=islands") == ("map_kind", "islands")
    assert realism_env.parse_override("growth_rates=none") == ("growth_rates", None)
    assert realism_env.parse_override("capability_shares=0.3,0.3,0.1,0.1,0.1,0.1") == (
        "capability_shares",
        (0.3, 0.3, 0.1, 0.1, 0.1, 0.1),
    )
    plan = make_plan(
        "random:4", overrides={"n_nations": "4", "conquest_payoff": 0.8, "map_kind": "islands"}, max_cycles=30
    )
    assert (plan.config.n_nations, plan.config.conquest_payoff, plan.config.map_kind) == (4, 0.8, "islands")
    assert plan.config.max_cycles == 30


@pytest.mark.parametrize(
    ("args", "messages"),
    [
        (["--population", "offensive_realist:3"], ["has 3 nations", "expected 6"]),
        (["--population", "offensive_realist:3,defensive_realist:4"], ["has 7 nations", "expected 6"]),
        (["--population", "realist:6"], ["unknown policy 'realist'", "defensive_realist", "tit_for_tat"]),
        (["--population", "offensive_realist:x,defensive_realist:3"], ["count 'x'", "positive integer"]),
        (["--population", "offensive_realist:0,defensive_realist:6"], ["count 0", "positive integer"]),
        (["--population", "offensive_realist:3,,defensive_realist:3"], ["''", "name:count"]),
        (["--population", "random:4", "--set", "n_nations=5"], ["expected 5"]),
        (["--population", "random", "--set", "offence_balance=2"], ["offence_balance", "offense_defense_balance"]),
        (["--population", "random", "--set", "conquest_payoff=lots"], ["conquest_payoff", "a number"]),
        (["--population", "random", "--set", "conquest_payoff=2"], ["conquest_payoff", "from 0 to 1"]),
        (["--population", "random", "--set", "map_kind=moon"], ["map_kind", "'continent', 'islands'"]),
        (["--population", "random", "--set", "n_nations=2.5"], ["n_nations", "an integer"]),
        (["--population", "random", "--set", "reveal_doctrines=maybe"], ["reveal_doctrines", "a boolean"]),
        (["--population", "random", "--set", "conquest_payoff"], ["FIELD=VALUE"]),
        (["--population", "random", "--set", "doctrines=power"], ["--doctrines"]),
        (["--population", "random", "--doctrines", "glory"], ["unknown doctrine 'glory'", "power, security"]),
        (["--population", "random", "--doctrines", "power,security"], ["exactly 6"]),
        (["--population", "random", "--doctrines", "power+glory"], ["unknown doctrine 'glory'", "'power', 'security'"]),
        (["--population", "random", "--doctrines", "security+power"], ["the built-in mix; valid: name it 'mixed'"]),
        (["--population", "random", "--max-cycles", "0"], ["max_cycles", ">= 1"]),
        (["--population", "random", "--set", "max_cycles=9", "--max-cycles", "10"], ["max_cycles is given twice"]),
        (["--population", "random", "--episodes", "0"], ["episodes=0"]),
        (["--population", "random", "--compare", "random:5"], ["expected 6"]),
        (["--population", "random", "--confidence", "95"], ["confidence"]),
        (["--population", "random", "--out", "/nonexistent/folder/m.json"], ["does not exist"]),
        (["--population", "random", "--out", "."], ["'.' is a folder", "valid: a file path in it"]),  # before playing
    ],
)
def test_bad_arguments_exit_with_a_message_naming_the_problem(
    args: list[str], messages: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        ev.main([*args, "--quiet"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    for message in messages:
        assert message in err, (message, err)


def test_bad_arguments_exit_nonzero_from_the_shell(tmp_path: Path) -> None:
    out = tmp_path / "never.json"
    result = run_cli("--population", "offensive_realist:3,defensive_realist:2", "--out", str(out), *TINY)
    assert result.returncode == 2
    assert "expected 6" in result.stderr and "Traceback" not in result.stderr
    assert not out.exists()


def test_the_python_api_raises_value_error() -> None:
    with pytest.raises(ValueError, match="unknown scenario 'atlantis'"):
        ev.evaluate("random", scenario="atlantis", episodes=1)
    with pytest.raises(ValueError, match="expected 6"):
        ev.compare("random", "random:3", episodes=1)
    with pytest.raises(ValueError, match="not matched"):
        a = ev.evaluate("random", episodes=1, max_cycles=2, n_resamples=10)
        b = ev.evaluate("random", episodes=1, max_cycles=2, seed=1, n_resamples=10)
        paired_report(a, b)


# --------------------------------------------------------------------------------------------------
# Output files survive failed runs
# --------------------------------------------------------------------------------------------------


def test_a_run_that_fails_midway_leaves_the_old_file_intact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "metrics.json"
    out.write_text('{"old": true}\n')
    real_row = Episodes.row
    calls = []

    def failing_row(self: Episodes, recorder: object, seed: int, turns: int, returns: object = None) -> dict:
        calls.append(seed)
        if len(calls) == 2:
            raise RuntimeError("simulated crash in episode 2")
        return real_row(self, recorder, seed, turns, returns)

    monkeypatch.setattr(Episodes, "row", failing_row)
    with pytest.raises(RuntimeError, match="simulated crash"):
        ev.main(["--population", "random", "--episodes", "3", "--max-cycles", "3", "--out", str(out), "--quiet"])
    assert out.read_text() == '{"old": true}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_a_write_that_fails_leaves_the_old_file_intact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "metrics.json"
    out.write_text('{"old": true}\n')

    def failing_fsync(fd: int) -> None:
        raise OSError("simulated disk failure after a partial write")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="simulated disk failure"):
        write_json(out, {"metrics": {"war_onsets": {"mean": 1.0}}, "padding": "x" * 100_000})
    assert out.read_text() == '{"old": true}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]
    monkeypatch.undo()
    write_json(out, {"new": float("nan")})
    assert strict_json(out) == {"new": None}
