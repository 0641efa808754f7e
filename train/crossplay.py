"""Cross-play between training seeds: does a learned nation still do well among nations another seed learned?

Usage::

    python -m train.crossplay --model runs/quick/runs/security/seed0 runs/quick/runs/security/seed1 \\
        runs/quick/runs/security/seed2

Runs of one doctrine trained from different seeds may each reach a play of their own (conventions that work among
the nations they were trained with and nowhere else), and self-play evaluation, where every nation comes from one run,
cannot tell. Cross-play puts one run's learned nation (the *focal* run) in one nation's place among another run's (the
*partner*), in the matched worlds of the partner's self-play, each nation's place in turn: a unilateral deviation
(:mod:`train.deviation`) whose deviant is another seed's learner. Its *gain* is the focal nation's return less the
partner's own nation's in the same place and worlds. Lanctot et al. (2017, "A unified game-theoretic approach to
multiagent reinforcement learning") read the same matrix of seeds against seeds, the joint-policy correlation, and
found independent learners overfitting to each other; Hu et al. (2020, "Other-play") build on its off-diagonal.

What is printed: the matrix of gains (focal runs in rows, partners in columns; the diagonal is self-play, 0 by
definition), and the mean gain with its Student-t interval over the runs, each of which is both a focal run and a
partner (the delete-one-run jackknife, :func:`gain_interval`; 3 runs or more), its verdict (:func:`verdict`), and a
relative loss after Lanctot et al.'s: the mean self-play return less the mean cross-play return, over the mean
self-play return (theirs compares joint returns; this one, the focal nation's own).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from agents.plugins import import_plugins
from train.checkpoint import atomic_write_json
from train.deviation import (
    add_matched_play_options,
    check_matched_play_args,
    deviation_gains,
    deviation_returns,
    episode_means,
    place_gains,
)
from train.learned import RunInfo
from train.report_statistics import interval_verdict, t_ppf

#: A cross-play cell's measures (one focal run among one partner run), means over the episodes and the places:
#: the focal nation's return, the partner's own nation's in the same place and worlds (self-play), the gain (their
#: difference), and the change in the mean return of the partner's other nations.
MEASURES = ("focal_return", "partner_return", "gain", "partners_change")
#: :func:`train.deviation.deviation_gains`' name of each measure.
_DEVIATION_MEASURES = dict(zip(MEASURES, ("deviant_return", "learned_return", "gain", "others_change"), strict=True))


def crossplay_cells(partner_label: str, returns: Mapping[str, Any]) -> dict[tuple[str, str], dict[str, float]]:
    """{(focal, partner): {measure: mean, "gain@nation_<k>": the gain in nation k's place}} of one partner run's
    cross-play (``returns``: :func:`train.deviation.deviation_returns` with the focal runs as ``deviant_runs``)."""
    means = episode_means(deviation_gains(returns))
    places = place_gains(returns)
    cells = {}
    for focal, measures in means.items():
        cell = {name: measures[deviation] for name, deviation in _DEVIATION_MEASURES.items()}
        cell.update({f"gain@nation_{k}": gain for k, gain in places[focal].items()})
        cells[(focal, partner_label)] = cell
    return cells


def crossplay_returns(
    runs: Mapping[str, str | Path],
    partner: str,
    scenario: str | None = None,
    episodes: int = 10,
    seed: int = 10000,
    greedy: str = "act_then_target",
    overrides: Mapping[str, Any] | None = None,
    max_cycles: int | None = None,
    deterministic: bool = True,
    progress: Any = None,
) -> dict[str, Any]:
    """The cross-play of ``runs[partner]`` (``{label: run folder}``, runs of one doctrine): its self-play, then each
    other run's learned nation in each nation's place (:func:`train.deviation.deviation_returns`, whose arguments
    the others are)."""
    others = {label: run for label, run in runs.items() if label != partner}
    return deviation_returns(
        runs[partner],
        [],
        scenario,
        episodes,
        seed,
        greedy=greedy,
        progress=progress,
        overrides=overrides,
        max_cycles=max_cycles,
        deterministic=deterministic,
        deviant_runs=others,
    )


#: The verdicts of a mean gain whose interval lies below 0 and above it (:func:`verdict`).
LOSES, EXPLOITS = "loses among other seeds", "exploits other seeds"


def verdict(gain: Mapping[str, float], scale: float = 1.0) -> str:
    """``exploits other seeds`` when the mean gain's interval lies above 0 (a run's nation does better among another
    seed's nations than their own: that play can be exploited), ``loses among other seeds`` below it (each seed's
    nations play a convention of their own), else ``no clear difference`` or, with fewer than 3 runs (no interval),
    untested."""
    return interval_verdict(gain, EXPLOITS, LOSES, scale)


def summarise(cells: Mapping[tuple[str, str], Mapping[str, float]], confidence: float = 0.95) -> dict[str, Any]:
    """The cross-play of one doctrine's runs: the mean gain with its interval over the seeds (:func:`gain_interval`)
    and :func:`verdict`; the mean self-play and cross-play returns (over the cells) and the relative loss after
    Lanctot et al., ``(self-play - cross-play) / |self-play|`` (NaN where the self-play return is 0)."""
    gain = gain_interval(cells, confidence)
    selfplay = float(np.mean([cell["partner_return"] for cell in cells.values()]))
    crossplay = float(np.mean([cell["focal_return"] for cell in cells.values()]))
    loss = (selfplay - crossplay) / abs(selfplay) if selfplay != 0 else float("nan")
    return {
        "gain": gain,
        "verdict": verdict(gain, scale=abs(selfplay)),
        "selfplay_return": selfplay,
        "crossplay_return": crossplay,
        "relative_loss": loss,
    }


def gain_interval(cells: Mapping[tuple[str, str], Mapping[str, float]], confidence: float = 0.95) -> dict[str, float]:
    """The mean gain over the cells and its Student-t interval over the seeds, from the delete-one-seed jackknife.

    Each seed enters the matrix twice, as a focal run (a row: its nation may gain among every partner) and as a
    partner (a column: one exploitable seed lifts every row), and each cell shares its two seeds with others, so the
    cells are not independent, nor are the rows' means. The jackknife takes the seeds as the unit: the mean over the
    cells without seed ``k`` (its row and its column), for each ``k``, and their spread,
    ``(seeds - 1) / seeds * sum((mean_without_k - their mean) ** 2)``, estimates the variance of the mean gain, both
    of a seed's roles and their correlation included (the jackknife is consistent for such pairwise means); the
    interval takes ``seeds - 1`` degrees of freedom. An interval over the focal runs alone would take the partners
    drawn as fixed, and read one exploitable seed as every seed's gain.
    ``{"mean", "ci_low", "ci_high", "n"}`` (``n``: the seeds; no interval with fewer than 3, where leaving one out
    leaves a single seed and no cell)."""
    seeds = list(dict.fromkeys(seed for pair in cells for seed in pair))
    mean = float(np.mean([cell["gain"] for cell in cells.values()])) if cells else float("nan")
    without = [[cell["gain"] for pair, cell in cells.items() if seed not in pair] for seed in seeds]
    if len(seeds) < 3 or not all(without):
        return {"mean": mean, "ci_low": float("nan"), "ci_high": float("nan"), "n": len(seeds)}
    means = np.array([np.mean(gains) for gains in without])
    variance = (len(seeds) - 1) / len(seeds) * float(np.sum((means - means.mean()) ** 2))
    half = t_ppf(0.5 + confidence / 2.0, len(seeds) - 1) * float(np.sqrt(variance))
    return {"mean": mean, "ci_low": mean - half, "ci_high": mean + half, "n": len(seeds)}


def gain_matrix(cells: Mapping[tuple[str, str], Mapping[str, float]], labels: Sequence[str]) -> np.ndarray:
    """The gains as a ``[focal, partner]`` matrix over ``labels`` (0 on the diagonal, self-play; NaN where a cell is
    missing)."""
    matrix = np.full((len(labels), len(labels)), np.nan)
    for i, focal in enumerate(labels):
        for j, partner in enumerate(labels):
            if i == j:
                matrix[i, j] = 0.0
            elif (focal, partner) in cells:
                matrix[i, j] = cells[focal, partner]["gain"]
    return matrix


def format_matrix(matrix: np.ndarray, labels: Sequence[str]) -> str:
    """The gain matrix as plain text: focal runs in rows, partners in columns."""
    header = ["focal \\ partner", *labels]
    rows = [[label, *(f"{value:.2f}" if np.isfinite(value) else "-" for value in matrix[i])] for i, label in
            enumerate(labels)]  # fmt: skip
    widths = [max(len(row[k]) for row in [header, *rows]) for k in range(len(header))]
    return "\n".join("  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)) for row in [header, *rows])


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m train.crossplay``."""
    parser = argparse.ArgumentParser(
        prog="python -m train.crossplay",
        description="Cross-play between training runs of one doctrine: each run's learned nation in each nation's "
        "place among another run's, in matched worlds.",
    )
    parser.add_argument("--model", nargs="+", required=True, metavar="RUN_DIR", help="2 or more finished runs")
    parser.add_argument("--scenario", default=None, help="the world (default: the first run's training scenario)")
    parser.add_argument("--episodes", type=int, default=10, help="matched worlds per pair of runs and nation (10)")
    add_matched_play_options(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Play the runs of ``--model`` against each other, print the gain matrix and its summary, and return the figures
    (as ``--out`` writes them)."""
    import_plugins(argv, "python -m train.crossplay")
    parser = build_parser()
    args = parser.parse_args(argv)
    if len(args.model) < 2:
        parser.error(f"--model names {len(args.model)} run; valid: 2 or more runs of one doctrine")
    check_matched_play_args(parser, args)
    try:
        infos = [RunInfo.read(run_dir) for run_dir in args.model]
    except ValueError as error:
        parser.error(str(error))
    doctrines = sorted({info.doctrine for info in infos})
    if len(doctrines) > 1:
        parser.error(f"--model names runs of doctrines {', '.join(doctrines)}; valid: runs of one doctrine")
    runs = {str(run_dir): run_dir for run_dir in args.model}
    labels = list(runs)
    progress = None
    if not args.no_progress and sys.stderr.isatty():
        from tqdm import tqdm

        nations = len(infos[0].doctrine_per_nation)
        total = len(runs) * args.episodes * (1 + (len(runs) - 1) * nations)
        progress = tqdm(total=total, unit="episode", file=sys.stderr, dynamic_ncols=True)
    cells: dict[tuple[str, str], dict[str, float]] = {}
    try:
        for partner in labels:
            returns = crossplay_returns(
                runs, partner, args.scenario or infos[0].scenario, args.episodes, args.seed, args.greedy,
                deterministic=not args.sample, progress=progress,
            )  # fmt: skip
            cells.update(crossplay_cells(partner, returns))
    except ValueError as error:
        parser.error(str(error))
    finally:
        if progress is not None:
            progress.close()
    summary = summarise(cells)
    matrix = gain_matrix(cells, labels)
    short = [f"run{k}" for k in range(len(labels))]
    print("\n".join(f"run{k}: {label}" for k, label in enumerate(labels)))
    play = "sampling from their policy" if args.sample else f"playing their greedy choice ({args.greedy})"
    print(
        f"\nGain of the focal run's nation over the partner's own, {args.episodes} episodes per pair and nation, the "
        f"learned nations {play}:"
    )
    print(format_matrix(matrix, short))
    gain = summary["gain"]
    interval = (
        f"[{gain['ci_low']:.2f}, {gain['ci_high']:.2f}] over {gain['n']} runs"
        if np.isfinite(gain["ci_low"])
        else f"(no interval over {gain['n']} runs: it needs 3 or more)"
    )
    print(
        f"\nmean gain {gain['mean']:.2f} {interval}: {summary['verdict']}; self-play return "
        f"{summary['selfplay_return']:.2f}, cross-play {summary['crossplay_return']:.2f}, relative loss "
        f"{100 * summary['relative_loss']:.1f}%"
    )
    document = {
        "doctrine": doctrines[0],
        "episodes": args.episodes,
        "seed": args.seed,
        "sample": args.sample,
        "runs": labels,
        "summary": summary,
        "gain_matrix": matrix.tolist(),
        "cells": [{"focal": f, "partner": p, **cell} for (f, p), cell in cells.items()],
    }
    if args.out:
        atomic_write_json(Path(args.out), document)
        print(f"\nwritten: {args.out}")
    return document


if __name__ == "__main__":
    main()
