"""train.crossplay: each run's learned nation in each nation's place among another seed's, in matched worlds."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from agents.episodes import Episodes
from agents.population import make_plan
from tests.runs import tiny_run
from train.learned import learned_population, register_learned


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Real, barely trained runs: two power runs of different seeds, a copy of the first (the same network in
    another folder), a mixed run and its copy."""
    root = tmp_path_factory.mktemp("crossplay")
    made = {
        "power0": tiny_run(root / "power0", "--doctrine", "power", "--seed", "0"),
        "power1": tiny_run(root / "power1", "--doctrine", "power", "--seed", "1"),
        "mixed": tiny_run(root / "mixed", "--doctrine", "mixed"),
    }
    for name in ("power0", "mixed"):
        shutil.copytree(made[name], root / f"{name}_copy")
        made[f"{name}_copy"] = root / f"{name}_copy"
    return made


def test_another_runs_nation_plays_one_place_in_the_partners_worlds(runs: dict[str, Path]) -> None:
    from train.crossplay import crossplay_cells, crossplay_returns

    pair = {"seed0": runs["power0"], "seed1": runs["power1"]}
    returns = crossplay_returns(pair, "seed0", episodes=3)
    assert set(returns["deviants"]) == {"seed1"} and set(returns["deviants"]["seed1"]) == set(range(6))
    policies, doctrines = learned_population(runs["power0"])
    other = register_learned(runs["power1"])["power"]
    in_place_4 = [other if i == 4 else policy for i, policy in enumerate(policies)]
    expected = Episodes(make_plan(in_place_4, "multipolar", None, 9, doctrines)).returns([10000, 10001, 10002])
    np.testing.assert_array_equal(returns["deviants"]["seed1"][4], expected)  # the experiment's env seeds
    cell = crossplay_cells("seed0", returns)[("seed1", "seed0")]
    in_places = [returns["deviants"]["seed1"][k][:, k] - returns["selfplay"][:, k] for k in range(6)]
    assert cell["gain"] == pytest.approx(np.mean(in_places))
    assert cell["gain"] == pytest.approx(cell["focal_return"] - cell["partner_return"])
    assert [cell[f"gain@nation_{k}"] for k in range(6)] == pytest.approx([g.mean() for g in in_places])


@pytest.mark.parametrize("run", ["power0", "mixed"])
def test_the_same_network_from_another_folder_gains_nothing(runs: dict[str, Path], run: str) -> None:
    """A copy of the partner's own network plays each place as the partner does, so every gain is exactly 0; in a
    mixed run only if each place gets the copy's policy of that place's doctrine (security and power alternate)."""
    from train.crossplay import crossplay_cells, crossplay_returns, summarise

    returns = crossplay_returns({"a": runs[run], "b": runs[f"{run}_copy"]}, "a", episodes=2)
    cells = crossplay_cells("a", returns)
    assert all(value == 0.0 for key, value in cells[("b", "a")].items() if key.startswith(("gain", "partners")))
    assert summarise(cells)["relative_loss"] == 0.0


def test_a_run_of_another_doctrine_or_a_clashing_label_is_refused(runs: dict[str, Path]) -> None:
    from train.deviation import deviation_returns

    with pytest.raises(ValueError, match=r"was trained under doctrine 'mixed'; valid: a run of the deviating run's "):
        deviation_returns(runs["power0"], [], episodes=1, deviant_runs={"other": runs["mixed"]})
    with pytest.raises(ValueError, match="label 'status_quo' is also a deviant policy's name; valid: a label of its"):
        deviation_returns(runs["power0"], ["status_quo"], episodes=1, deviant_runs={"status_quo": runs["power1"]})


def test_the_summary_takes_the_seeds_as_focal_runs_and_as_partners() -> None:
    from train.crossplay import gain_matrix, summarise
    from train.report_statistics import mean_ci

    def cell(gain: float) -> dict[str, float]:
        return {"focal_return": 10.0 + gain, "partner_return": 10.0, "gain": gain, "partners_change": 0.0}

    # The delete-one-seed jackknife: without a, the cells (b, c) and (c, b), mean -3.5; without b, -3.5; without c, -2.
    gains = {("a", "b"): -1.0, ("a", "c"): -3.0, ("b", "a"): -3.0, ("b", "c"): -3.0, ("c", "a"): -4.0, ("c", "b"): -4.0}
    summary = summarise({pair: cell(g) for pair, g in gains.items()})
    assert summary["gain"]["mean"] == pytest.approx(-3.0) and summary["gain"]["n"] == 3
    half = 4.302653 * np.sqrt(2 / 3 * (0.5**2 + 0.5**2 + 1.0**2))  # t(0.975, 2) x the jackknife's standard error
    assert summary["gain"]["ci_low"] == pytest.approx(-3.0 - half, rel=1e-5)
    assert summary["verdict"] == "no clear difference"  # 3 seeds: every cell shares a seed with every other
    assert summary["selfplay_return"] == 10.0 and summary["crossplay_return"] == pytest.approx(7.0)
    assert summary["relative_loss"] == pytest.approx(0.3)  # (self-play - cross-play) / self-play
    matrix = gain_matrix({pair: cell(g) for pair, g in gains.items() if pair != ("c", "b")}, ["a", "b", "c"])
    assert matrix[0].tolist() == [0.0, -1.0, -3.0] and np.isnan(matrix[2, 1])  # a pair not played: NaN

    seeds = "abcde"
    pairs = [(f, p) for f in seeds for p in seeds if f != p]
    losing = {pair: -3.0 + 0.1 * (k % 5) for k, pair in enumerate(pairs)}  # every seed loses about 3 everywhere
    assert summarise({pair: cell(g) for pair, g in losing.items()})["verdict"] == "loses among other seeds"
    alike = {pair: 2.0 + 0.1 * k for k, pair in enumerate(gains)}
    assert summarise({pair: cell(g) for pair, g in alike.items()})["verdict"] == "exploits other seeds"
    two = summarise({("a", "b"): cell(2.0), ("b", "a"): cell(2.1)})
    assert two["verdict"] == "untested (no interval)" and two["gain"]["n"] == 2  # leaving one out leaves no cell

    # One exploitable seed (e: every other seed's nation gains 4 among its nations, about 0 elsewhere) lifts every
    # row: over the focal runs alone the mean gain would read as above 0; over the seeds in both roles, it does not.
    noise = iter(np.linspace(-0.1, 0.1, 20))
    one = {(f, p): (4.0 if p == "e" else next(noise)) for f, p in pairs}
    rows = [np.mean([g for (f, _), g in one.items() if f == focal]) for focal in seeds]
    assert mean_ci(rows)["ci_low"] > 0
    assert summarise({pair: cell(g) for pair, g in one.items()})["verdict"] == "no clear difference"


def test_the_command_prints_the_matrix_and_writes_its_figures(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from train.crossplay import main

    out = tmp_path / "crossplay.json"
    models = [str(runs[name]) for name in ("power0", "power1", "power0_copy")]
    argv = ["--model", *models, "--episodes", "1", "--scenario", "bipolar"]
    document = main([*argv, "--out", str(out), "--no-progress"])
    printed = capsys.readouterr().out
    assert "focal \\ partner  run0" in printed and f"run1: {runs['power1']}" in printed
    assert "] over 3 runs:" in printed and "relative loss" in printed
    assert json.loads(out.read_text()) == json.loads(json.dumps(document))
    assert document["doctrine"] == "power" and len(document["cells"]) == 3 * 2
    assert np.diag(document["gain_matrix"]).tolist() == [0.0, 0.0, 0.0]
    # run2 is run0's network: as a focal nation among run0's it gains nothing, and run0 nothing among run2's
    assert document["gain_matrix"][2][0] == 0.0 and document["gain_matrix"][0][2] == 0.0
    assert "the learned nations playing their greedy choice (act_then_target):" in printed and not document["sample"]
    greedy = main(["--model", *models[:2], "--episodes", "1", "--no-progress"])
    assert "(no interval over 2 runs: it needs 3 or more): untested (no interval)" in capsys.readouterr().out
    sampled = main(["--model", *models[:2], "--episodes", "1", "--no-progress", "--sample"])
    assert "the learned nations sampling from their policy:" in capsys.readouterr().out and sampled["sample"]
    assert sampled["cells"] != greedy["cells"]  # the same worlds, played otherwise


@pytest.mark.parametrize(
    ("models", "extra", "message"),
    [
        (["power0"], [], "--model names 1 run; valid: 2 or more runs of one doctrine"),
        (["power0", "mixed"], [], "--model names runs of doctrines mixed, power; valid: runs of one doctrine"),
        (["power0", "power0"], [], "twice; valid: each run once"),
        (["power0", "power1"], ["--episodes", "0"], "--episodes 0 is invalid; valid: an integer >= 1"),
        (["power0", "power1"], ["--scenario", "atlantis"], "unknown scenario 'atlantis'; valid: "),
    ],
)
def test_bad_input_names_the_culprit_and_the_valid_choices(
    runs: dict[str, Path], models: list[str], extra: list[str], message: str, capsys: pytest.CaptureFixture
) -> None:
    from train.crossplay import main

    with pytest.raises(SystemExit) as stopped:
        main(["--model", *(str(runs[m]) for m in models), "--episodes", "1", "--no-progress", *extra])
    assert stopped.value.code == 2 and message in capsys.readouterr().err
