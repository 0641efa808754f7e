"""Unilateral deviations from learned self-play: would a scripted archetype do better in a learned nation's place?

Usage::

    python -m train.deviation --model runs/quick/runs/power/seed0 runs/quick/runs/power/seed1 \\
        --deviants offensive_realist defensive_realist status_quo

A population's play is stable against a policy when no nation gains by switching to it while the others keep
theirs: Nash's test of a unilateral deviation, which empirical game theory applies to learned policies (a learned
profile that a scripted archetype exploits is not an equilibrium of the game it was trained in). For each run, its
learned nations first play self-play in the matched worlds ``--seed``, ``--seed + 1``, ... (the env seeds, as in
``train.experiment``'s evaluation); then, for each deviant policy and each nation ``k`` of ``--slots`` (default: every
nation, in turn), nation ``k`` plays the deviant in the same worlds while the others keep their learned policy. The
deviant is rewarded by nation ``k``'s training doctrine (a mixed run's nations alternate security and power), so its
return and the learned nation's are the same quantity. The world is the run's training scenario (or ``--scenario``)
with the run's training overrides (its ``--set`` and ``--max-cycles``).

What is printed, per run doctrine and deviant (a row per run with ``--per-run``):

- ``deviant_return``: the deviant's return in nation ``k``'s place (the mean over episodes and slots);
- ``learned_return``: the learned nation's return in the same place and worlds, in self-play;
- ``gain``: their difference, the deviant's gain; above 0, the learned play is exploitable by the deviant;
- ``others_change``: the change in the mean return of the other (learned) nations when one of them deviates;

then each place (nation) where the deviant's own gain lies above 0 at the Bonferroni level over the places
(:func:`places_exploited`): the mean over the places can hide one (a superpower's among minor states), and Nash's
condition is that no nation gains.

Each is a mean over runs with its Student-t interval over runs (the unit, as in the experiment's report); with one
run, the interval is over episodes (each episode's difference, paired in its matched world). The verdict reads the
gain's interval: ``exploits`` (above 0), ``does worse`` (below 0), ``no clear difference``, or, with one unit and
so no interval, ``untested (no interval)``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from agents.episodes import Episodes
from agents.evaluation_output import check_out_path
from agents.plugins import add_import_option, import_plugins, unknown_scenario
from agents.policies import POLICIES
from agents.population import make_plan
from realism_env import SCENARIOS
from train.checkpoint import atomic_write_json
from train.evaluate import check_nation_count
from train.learned import GREEDY_CHOICES, RunInfo, check_distinct_runs, learned_population, register_learned
from train.replay import run_overrides
from train.report_statistics import interval_verdict, mean_ci

#: Deviants by default: the theories' archetypes and the pure status quo.
DEFAULT_DEVIANTS = ("offensive_realist", "defensive_realist", "bandwagoner", "tit_for_tat", "status_quo")
#: The columns of a result row, each a mean with its interval.
MEASURES = ("deviant_return", "learned_return", "gain", "others_change")


def deviation_returns(
    run_dir: str | Path,
    deviants: Sequence[str],
    scenario: str | None = None,
    episodes: int = 40,
    seed: int = 10000,
    slots: Sequence[int] | None = None,
    greedy: str = "act_then_target",
    progress: Any = None,
    overrides: Mapping[str, Any] | None = None,
    max_cycles: int | None = None,
    deterministic: bool = True,
    deviant_runs: Mapping[str, str | Path] | None = None,
) -> dict[str, Any]:
    """Self-play returns of the run's learned nations and the returns with each deviant in each slot, in the same
    matched worlds: ``{"selfplay": [E, N], "deviants": {name: {slot: [E, N]}}, "doctrines": [N], "scenario"}``
    (``E`` episodes, env seeds ``seed .. seed + E - 1``). The world is ``scenario`` (default: the run's training
    scenario) with ``overrides`` and ``max_cycles`` (default: the run's training ``--set`` and ``--max-cycles``);
    learned nations play their ``greedy`` choice, or sample with ``deterministic=False``.

    ``deviant_runs`` (``{label: run folder}``) adds other training runs of the same doctrines as deviants, under
    their label: in nation ``k``'s place, the other run's learned policy of nation ``k``'s doctrine, choosing as the
    run's own nations do. That is cross-play (:mod:`train.crossplay`)."""
    unknown = [name for name in deviants if name not in POLICIES]
    if unknown:
        raise ValueError(f"unknown deviant policy {unknown[0]!r}; valid: {', '.join(sorted(POLICIES))}")
    deviant_runs = dict(deviant_runs or {})
    clash = [label for label in deviant_runs if label in deviants]
    if clash:
        raise ValueError(f"deviant run label {clash[0]!r} is also a deviant policy's name; valid: a label of its own")
    info = RunInfo.read(run_dir)
    scenario = scenario or info.scenario
    if scenario not in SCENARIOS:
        raise ValueError(unknown_scenario(scenario))
    trained_overrides, trained_cycles = run_overrides(run_dir)
    overrides = trained_overrides if overrides is None else dict(overrides)
    max_cycles = trained_cycles if max_cycles is None else max_cycles
    check_nation_count(run_dir, info, scenario, overrides)
    policies, doctrines = learned_population(run_dir, deterministic=deterministic, greedy=greedy)
    n = len(policies)
    # each place's policy name, per deviant: a scripted deviant plays every place; another run plays each place with
    # its learned policy of that place's doctrine (a mixed run's nations alternate security and power)
    per_place = {name: [name] * n for name in deviants}
    for label, other in deviant_runs.items():
        per_place[label] = _deviant_run_policies(other, info, doctrines, scenario, overrides, deterministic, greedy)
    slots = list(range(n)) if slots is None else list(slots)
    bad = [k for k in slots if not 0 <= k < n]
    if bad:
        raise ValueError(f"slot {bad[0]} is invalid for a run of {n} nations; valid: 0..{n - 1}")
    seeds = list(range(seed, seed + episodes))

    def returns(population: list[str]) -> np.ndarray:
        plan = make_plan(population, scenario, overrides, max_cycles, list(doctrines))
        return Episodes(plan).returns(seeds, progress)

    deviated = {
        name: {k: returns([places[i] if i == k else policy for i, policy in enumerate(policies)]) for k in slots}
        for name, places in per_place.items()
    }
    selfplay = returns(list(policies))
    return {"selfplay": selfplay, "deviants": deviated, "doctrines": list(doctrines), "scenario": scenario}


def _deviant_run_policies(
    other: str | Path,
    info: RunInfo,
    doctrines: Sequence[str],
    scenario: str,
    overrides: Mapping[str, Any],
    deterministic: bool,
    greedy: str,
) -> list[str]:
    """The policy name of another run's learned nation in each place (:func:`deviation_returns`'s ``deviant_runs``):
    a run of the same doctrines, whose network takes this world's nations."""
    other_info = RunInfo.read(other)
    if other_info.doctrine != info.doctrine:
        raise ValueError(
            f"deviant run {other} was trained under doctrine {other_info.doctrine!r}; valid: a run of the deviating "
            f"run's doctrine, {info.doctrine!r}"
        )
    check_nation_count(other, other_info, scenario, overrides)
    names = register_learned(other, deterministic=deterministic, greedy=greedy)
    return [names[doctrine] for doctrine in doctrines]


def returns_to_json(returns: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`deviation_returns` as JSON values (lists; slots as strings), read back by :func:`returns_from_json`."""
    return {
        "doctrines": list(returns["doctrines"]),
        "selfplay": np.asarray(returns["selfplay"]).tolist(),
        "deviants": {
            name: {str(slot): np.asarray(values).tolist() for slot, values in by_slot.items()}
            for name, by_slot in returns["deviants"].items()
        },
    }


def returns_from_json(record: Mapping[str, Any]) -> dict[str, Any]:
    """The arrays of :func:`deviation_returns` from :func:`returns_to_json`'s values."""
    return {
        "doctrines": list(record["doctrines"]),
        "selfplay": np.asarray(record["selfplay"]),
        "deviants": {
            name: {int(slot): np.asarray(values) for slot, values in by_slot.items()}
            for name, by_slot in record["deviants"].items()
        },
    }


def deviation_gains(returns: Mapping[str, Any]) -> dict[str, dict[str, np.ndarray]]:
    """{deviant: {measure: [E] per episode}} from :func:`deviation_returns`: the deviant's return, the learned
    nation's in its place, the gain, and the change in the others' mean return, each averaged over the slots."""
    selfplay = returns["selfplay"]
    n = selfplay.shape[1]
    places = place_gain_episodes(returns)
    out = {}
    for name, by_slot in returns["deviants"].items():
        per_slot = {measure: [] for measure in MEASURES}
        for k, deviated in by_slot.items():
            others = np.arange(n) != k
            per_slot["deviant_return"].append(deviated[:, k])
            per_slot["learned_return"].append(selfplay[:, k])
            per_slot["gain"].append(places[name][k])
            per_slot["others_change"].append(deviated[:, others].mean(axis=1) - selfplay[:, others].mean(axis=1))
        out[name] = {measure: np.mean(values, axis=0) for measure, values in per_slot.items()}
    return out


def place_gain_episodes(returns: Mapping[str, Any]) -> dict[str, dict[int, np.ndarray]]:
    """{deviant: {nation: [E] the deviant's gain in that nation's place, per episode}} from :func:`deviation_returns`.
    Nash's condition holds only where no nation gains by deviating: a mean over the places can hide one place's large
    gain (in ``bipolar``, a superpower's place among minor ones)."""
    selfplay = returns["selfplay"]
    return {
        name: {k: deviated[:, k] - selfplay[:, k] for k, deviated in by_slot.items()}
        for name, by_slot in returns["deviants"].items()
    }


def place_gains(returns: Mapping[str, Any]) -> dict[str, dict[int, float]]:
    """{deviant: {nation: the mean over episodes of :func:`place_gain_episodes`}}: a run's gain in each place."""
    return {
        name: {k: float(np.mean(gains)) for k, gains in by_place.items()}
        for name, by_place in place_gain_episodes(returns).items()
    }


def places_exploited(
    per_run: Mapping[str, Mapping[str, Mapping[int, np.ndarray]]], confidence: float = 0.95
) -> dict[str, list[tuple[int, dict[str, float]]]]:
    """{deviant: [(nation, its gain's mean and interval)], largest gain first}: the places where a deviant's gain lies
    above 0 at the Bonferroni level over the places (``1 - (1 - confidence) / places``), over runs (each run's mean
    over its episodes), or over the episodes of one run (``per_run``: {run: :func:`place_gain_episodes`})."""
    runs = list(per_run.values())
    found: dict[str, list[tuple[int, dict[str, float]]]] = {}
    for name in runs[0]:
        places = sorted(runs[0][name])
        level = 1.0 - (1.0 - confidence) / max(len(places), 1)
        found[name] = []
        for k in places:
            values = [float(np.mean(run[name][k])) for run in runs] if len(runs) > 1 else runs[0][name][k]
            summary = mean_ci(values, level)
            if verdict(summary) == "exploits":
                found[name].append((k, summary))
        found[name].sort(key=lambda item: -item[1]["mean"])
    return found


def episode_means(gains: Mapping[str, Mapping[str, np.ndarray]]) -> dict[str, dict[str, float]]:
    """{deviant: {measure: mean over episodes}} of one run's :func:`deviation_gains` (a run is the unit of the
    intervals over runs)."""
    return {name: {measure: float(np.mean(values)) for measure, values in by.items()} for name, by in gains.items()}


def verdict(gain: Mapping[str, float]) -> str:
    """``exploits`` when the gain's interval lies above 0, ``does worse`` below it, "untested (no interval)" without an
    interval (one unit), else ``no clear difference`` (:func:`train.report_statistics.interval_verdict`)."""
    return interval_verdict(gain, "exploits", "does worse")


def summarise(per_run: Mapping[str, Mapping[str, Mapping[str, np.ndarray]]], confidence: float = 0.95) -> dict:
    """{deviant: {measure: mean and interval, "verdict"}} over runs (``per_run``: {run: :func:`deviation_gains`});
    one run: over its episodes."""
    runs = list(per_run.values())
    summary: dict[str, dict[str, Any]] = {}
    for name in runs[0]:
        if len(runs) > 1:
            values = {measure: [episode_means(run)[name][measure] for run in runs] for measure in MEASURES}
        else:
            values = {measure: runs[0][name][measure] for measure in MEASURES}
        summary[name] = {measure: mean_ci(values[measure], confidence) for measure in MEASURES}
        summary[name]["verdict"] = verdict(summary[name]["gain"])
    return summary


def format_table(title: str, summary: Mapping[str, Mapping[str, Any]]) -> str:
    """The summary as a plain-text table under ``title``."""

    def cell(value: Mapping[str, float]) -> str:
        if not np.isfinite(value["ci_low"]):
            return f"{value['mean']:.2f}"
        return f"{value['mean']:.2f} [{value['ci_low']:.2f}, {value['ci_high']:.2f}]"

    header = ["deviant", *MEASURES, "verdict"]
    rows = [[name, *(cell(values[m]) for m in MEASURES), values["verdict"]] for name, values in summary.items()]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = [title, "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m train.deviation",
        description="Would a scripted policy do better in a learned nation's place? Unilateral deviations from the "
        "learned self-play of training runs, in matched worlds.",
    )
    parser.add_argument("--model", nargs="+", required=True, metavar="RUN_DIR", help="finished training runs")
    parser.add_argument(
        "--deviants",
        nargs="+",
        default=list(DEFAULT_DEVIANTS),
        metavar="POLICY",
        help=f"registered policy names (default: {' '.join(DEFAULT_DEVIANTS)})",
    )
    parser.add_argument("--scenario", default=None, help="the world (default: each run's training scenario)")
    parser.add_argument("--episodes", type=int, default=40, help="matched worlds per run, deviant and nation (40)")
    parser.add_argument("--slots", type=int, nargs="+", default=None, help="the nations that deviate (default: all)")
    parser.add_argument("--per-run", action="store_true", help="also print a table per run")
    add_matched_play_options(parser)
    return parser


def add_matched_play_options(parser: argparse.ArgumentParser) -> None:
    """The options of the commands that play learned runs in matched worlds (this one, :mod:`train.crossplay`):
    ``--seed``, ``--greedy``, ``--sample``, ``--out``, ``--no-progress`` and ``--import``."""
    parser.add_argument("--seed", type=int, default=10000, help="the first env seed (10000, the experiment's)")
    parser.add_argument(
        "--greedy",
        default="act_then_target",
        choices=GREEDY_CHOICES,
        help="how learned nations choose (default: act_then_target)",
    )
    parser.add_argument(
        "--sample", action="store_true", help="learned nations sample from their policy, as in training (not --greedy)"
    )
    parser.add_argument("--out", default=None, metavar="FILE.json", help="also write the figures as JSON")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_import_option(parser)


def check_matched_play_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """A usage error (``parser.error``) for an ``--episodes`` below 1, a negative ``--seed``, a run named twice in
    ``--model``, or an ``--out`` that cannot be written (:func:`add_matched_play_options`)."""
    if args.episodes < 1:
        parser.error(f"--episodes {args.episodes} is invalid; valid: an integer >= 1")
    if args.seed < 0:
        parser.error(f"--seed {args.seed} is invalid; valid: an integer >= 0")
    try:
        check_distinct_runs(args.model)
    except ValueError as error:
        parser.error(str(error))
    if args.out is not None and Path(args.out).resolve().parent.is_dir():  # a missing folder is made when written
        try:
            check_out_path("--out", args.out)
        except ValueError as error:
            parser.error(str(error))


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    import_plugins(argv, "python -m train.deviation")
    parser = build_parser()
    args = parser.parse_args(argv)
    check_matched_play_args(parser, args)
    for run_dir in args.model:
        try:
            RunInfo.read(run_dir)  # a finished run whose doctrines and scenario are registered here
        except ValueError as error:
            parser.error(str(error))
    progress = None
    if not args.no_progress and sys.stderr.isatty():
        from tqdm import tqdm

        nations = [len(RunInfo.read(run).doctrine_per_nation) for run in args.model]
        per_run = [args.episodes * (1 + len(args.deviants) * len(args.slots or range(n))) for n in nations]
        progress = tqdm(total=sum(per_run), unit="episode", file=sys.stderr, dynamic_ncols=True)
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    places: dict[tuple[str, str], dict[str, Any]] = {}  # each place's gains, apart (places_exploited)
    try:
        for run_dir in args.model:
            returns = deviation_returns(
                run_dir,
                args.deviants,
                args.scenario,
                args.episodes,
                args.seed,
                args.slots,
                args.greedy,
                progress,
                deterministic=not args.sample,
            )
            key = (RunInfo.read(run_dir).doctrine, returns["scenario"])
            groups.setdefault(key, {})[str(run_dir)] = deviation_gains(returns)
            places.setdefault(key, {})[str(run_dir)] = place_gain_episodes(returns)
    except ValueError as error:
        parser.error(str(error))
    finally:
        if progress is not None:
            progress.close()
    document: dict[str, Any] = {"episodes": args.episodes, "seed": args.seed, "sample": args.sample, "groups": []}
    for (doctrine, scenario), per_run in groups.items():
        summary = summarise(per_run)
        unit = f"{len(per_run)} runs" if len(per_run) > 1 else "1 run (intervals over episodes)"
        play = ", the learned nations sampling" if args.sample else ""
        title = f"\n{doctrine} runs in {scenario}, {unit}, {args.episodes} episodes each{play}:"
        print(format_table(title, summary))
        exploited = places_exploited(places[doctrine, scenario])
        for name, found in exploited.items():
            for k, gain in found:  # a place's gain the mean over the places can hide (Nash: no nation gains)
                print(
                    f"  {name} in nation_{k}'s place: gain {gain['mean']:.2f} [{gain['ci_low']:.2f}, "
                    f"{gain['ci_high']:.2f}] (interval at the Bonferroni level over the places): exploits"
                )
        if args.per_run and len(per_run) > 1:
            for run_dir, gains in per_run.items():
                print(format_table(f"\n{run_dir}:", summarise({run_dir: gains})))
        document["groups"].append(
            {
                "doctrine": doctrine,
                "scenario": scenario,
                "summary": summary,
                "places_exploited": {
                    name: [{"nation": k, **gain} for k, gain in found] for name, found in exploited.items()
                },
                "runs": {run: episode_means(gains) for run, gains in per_run.items()},
            }
        )
    if args.out:
        atomic_write_json(Path(args.out), document)
        print(f"\nwritten: {args.out}")
    return document


if __name__ == "__main__":
    main()
