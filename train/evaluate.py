"""Score training runs against the scripted realists: the learned nations' returns beside those of the scripted
agents of their doctrine in the same matched worlds, in self-play and as focal nations among scripted backgrounds.

Usage::

    python -m train.evaluate --model runs/fast_sec
    python -m train.evaluate --model runs/quick/runs/power/seed0 runs/quick/runs/power/seed1 --scenario bipolar
    python -m train.evaluate --model runs/fast_sec --background --baseline random --out scores.json
    python -m train.evaluate --model runs/fast_sec --metrics war_onsets mean_arms_level alliances_formed

``--model RUN_DIR ...`` are finished runs of ``train.fast_ppo`` or ``train.ppo`` (``config.json`` and a model). Each
run is played in these settings, as ``train.experiment`` evaluates its runs:

- ``selfplay``: every nation plays the run's policy (with the doctrines it was trained with);
- ``focal_vs_<POLICY>``, for each ``--background POLICY`` (default ``offensive_realist defensive_realist``): nations
  ``0 .. K - 1`` (``--focal K``, default half the nations) play the run's policy, the others the background policy
  (Melting Pot's focal and background populations). ``--background`` with no name plays self-play only.

The baseline is the same population with ``--baseline`` in the learned nations' places: ``scripted`` (the default:
``defensive_realist`` for a security nation, Waltz's defensive realist, and ``offensive_realist`` for a power
nation, Mearsheimer's offensive realist) or any registered policy name (``random``). Both play the matched worlds
``--seed`` .. ``--seed + --episodes - 1`` (the same map, env draws and policy generators in episode ``k``; 10000 is
the experiment's first evaluation seed), in ``--scenario`` (default: the run's training scenario) with the run's
training ``--set`` and ``--max-cycles``, then this command's ``--max-cycles`` and ``--set`` on top. Learned nations
play their greedy choice (``--greedy``; :func:`train.learned.greedy_choice`) unless ``--sample``.

Printed, per doctrine of the runs, scenario and setting (a table per run too with ``--per-run``):

- ``learned``: the learned nations' return (an episode's rewards summed), the mean over them and over episodes (a
  mixed run's security and power nations together, each rewarded by its own doctrine; a mix of one's own's alike);
- ``baseline``: the baseline's, in the same places and worlds;
- ``difference``: learned minus baseline, paired episode by episode;
- ``ratio``: learned over baseline where the baseline's mean is positive (the experiment's checks ask at least 0.97
  in self-play and 1 as focal nations);
- ``verdict``: ``learned ahead`` or ``learned behind`` where the difference's interval excludes 0, ``no clear
  difference`` where it holds 0, ``untested (no interval)`` with a single episode (a metric's rows say ``learned
  higher`` or ``learned lower``, and have no ratio).

Intervals are Student-t at ``--confidence``: over runs, a run's mean over episodes being the unit (training seeds
are what varies between experiments), or over episodes with one run. ``--metrics NAME ...`` adds the learned and
baseline means of behaviour metrics of the focal nations (``realism_env.NATION_METRICS``). ``--out FILE.json``
writes every figure and each run's means of every focal metric, atomically, after every episode has run.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import realism_env
from agents.episodes import Episodes
from agents.evaluate import add_set_option
from agents.evaluation_output import check_out_path
from agents.plugins import add_import_option, import_plugins, unknown_scenario
from agents.policies import POLICIES
from agents.population import make_plan
from realism_env import SCENARIOS, parse_overrides
from train.checkpoint import atomic_write_json
from train.cli import scenarios_of
from train.learned import (
    GREEDY_CHOICES,
    RunInfo,
    check_distinct_runs,
    learned_population,
    play,
    population,
    scripted_names,
    scripted_policies,
)
from train.replay import run_overrides
from train.report_statistics import finite_mean, interval_verdict, mean_ci

#: The backgrounds by default: the two theories' scripted agents, as in the experiment's presets.
DEFAULT_BACKGROUNDS = ("offensive_realist", "defensive_realist")
#: The first evaluation seed of the experiment's presets: scores here match its evaluation episodes.
DEFAULT_SEED = 10000
#: The figures of a setting, each a mean with its interval.
MEASURES = ("learned", "baseline", "difference")


def settings(n_nations: int, backgrounds: Sequence[str], n_focal: int | None) -> list[dict[str, Any]]:
    """``{"name", "n_focal", "background"}`` of self-play and of each background (``n_focal`` focal nations,
    default half the nations); ``ValueError`` naming a bad count or policy."""
    k = n_nations // 2 if n_focal is None else n_focal
    out: list[dict[str, Any]] = [{"name": "selfplay", "n_focal": None, "background": None}]
    for background in backgrounds:
        if background not in POLICIES:
            raise ValueError(f"unknown background policy {background!r}; valid: {', '.join(scripted_policies())}")
        if not 1 <= k < n_nations:
            raise ValueError(f"--focal {k} is invalid with a background; valid: 1..{n_nations - 1}")
        out.append({"name": f"focal_vs_{background}", "n_focal": k, "background": background})
    return out


def background_names(values: Sequence[str]) -> list[str]:
    """The policies of ``--background``: its values, each a name or names joined by commas (as ``train.fast_ppo``
    takes them; no policy name holds a comma, ``agents.register_policy`` refuses one); ``ValueError`` names a value
    that names none."""
    names = []
    for value in values:
        parts = [part.strip() for part in value.split(",")]
        if not any(parts):
            raise ValueError(f"--background {value!r} names no policy; valid: policy names, space- or comma-separated")
        names += [part for part in parts if part]
    return names


def run_world(
    run_dir: str | Path,
    scenario: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    max_cycles: int | None = None,
) -> tuple[RunInfo, str, dict[str, Any], int | None]:
    """(the run, scenario, EnvConfig overrides, max_cycles) of the world a run is scored in: ``scenario`` (default:
    the run's training one) with the run's training ``--set`` and ``--max-cycles``, then ``overrides`` and
    ``max_cycles`` on top. ``ValueError`` naming a world the run's network cannot play (its nations keep the count,
    doctrines and observations they were trained with)."""
    info = RunInfo.read(run_dir)
    scenario = scenario or info.scenario
    if scenario not in SCENARIOS:
        raise ValueError(unknown_scenario(scenario))
    if "doctrines" in (overrides or {}):
        raise ValueError("--set doctrines is not taken: a run's nations keep the doctrines they were trained with")
    trained, trained_cycles = run_overrides(run_dir)
    fields = {**trained, **dict(overrides or {})}
    set_cycles = fields.pop("max_cycles", None)
    cycles = max_cycles if max_cycles is not None else set_cycles if set_cycles is not None else trained_cycles
    check_nation_count(run_dir, info, scenario, fields)
    policies, doctrines = learned_population(run_dir)
    # Building the plan's policies loads the network, which refuses observations of another size than its own.
    Episodes(make_plan(policies, scenario, fields, cycles, doctrines))
    return info, scenario, fields, cycles


def check_nation_count(run_dir: str | Path, info: RunInfo, scenario: str, fields: Mapping[str, Any]) -> None:
    """``ValueError`` where the world ``scenario`` with the EnvConfig overrides ``fields`` has another nation count
    than the run ``run_dir`` (``info``) was trained with: its network takes only that count's observations (played,
    the population's size was refused without saying why). The message fits both ways of changing the count: another
    scenario (``--scenario``) and an override (``--set n_nations``)."""
    trained = len(info.doctrine_per_nation)
    nations = realism_env.EnvConfig.from_scenario(scenario, **fields).n_nations
    if nations != trained:
        overridden = " with its overrides" if fields else ""
        raise ValueError(
            f"the world ({scenario}{overridden}) has {nations} nations, but {run_dir} was trained with {trained} and "
            f"its network takes only that count; valid: a scenario of {trained} nations "
            f"({', '.join(scenarios_of(trained, fields))}), with no n_nations override or n_nations={trained}"
        )


def score_run(
    run_dir: str | Path,
    scenario: str | None = None,
    backgrounds: Sequence[str] = DEFAULT_BACKGROUNDS,
    n_focal: int | None = None,
    baseline: str = "scripted",
    episodes: int = 100,
    seed: int = DEFAULT_SEED,
    overrides: Mapping[str, Any] | None = None,
    max_cycles: int | None = None,
    deterministic: bool = True,
    greedy: str = "act_then_target",
    progress: Any = None,
    baselines: dict[Any, list[dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    """Play one run and its baseline in every setting (see the module docstring); returns ``{"run", "doctrine",
    "scenario", "settings": {name: {"learned": [rows], "baseline": [rows]}}}``, a row per episode as
    :func:`train.learned.play` gives it. ``baselines`` (a dict, filled here) shares the baseline's episodes between
    runs that play the same population in the same worlds. ``progress`` (a tqdm bar or None) counts episodes."""
    info, scenario, fields, cycles = run_world(run_dir, scenario, overrides, max_cycles)
    n = len(info.doctrine_per_nation)
    names = scripted_names(set(info.doctrine_per_nation), baseline)
    seeds = range(seed, seed + episodes)
    baselines = {} if baselines is None else baselines
    played: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for setting in settings(n, backgrounds, n_focal):
        k, background = setting["n_focal"], setting["background"]
        focal = [i < (k or n) for i in range(n)]
        policies, doctrines = learned_population(run_dir, n, k, background, deterministic=deterministic, greedy=greedy)
        learned_rows, _ = play(policies, doctrines, scenario, seeds, fields, cycles, focal, progress=progress)
        base_policies, base_doctrines = population(doctrines[: k or n], names, n, k, background)
        # the focal nations too: a background of the baseline's own policy plays self-play's population
        key = (tuple(base_policies), tuple(base_doctrines), k, scenario, repr(sorted(fields.items())), cycles, seed)
        if len(baselines.get(key, ())) < episodes:
            baselines[key], _ = play(
                base_policies, base_doctrines, scenario, seeds, fields, cycles, focal, progress=progress
            )
        elif progress is not None:
            progress.update(episodes)
        played[setting["name"]] = {"learned": learned_rows, "baseline": baselines[key][:episodes]}
    return {"run": str(run_dir), "doctrine": info.doctrine, "scenario": scenario, "settings": played}


def episode_values(rows: Sequence[Mapping[str, Any]], column: str) -> np.ndarray:
    """[E] a column of the rows (NaN where an episode left it undefined)."""
    return np.array([float("nan") if row.get(column) is None else float(row[column]) for row in rows])


def run_measures(played: Mapping[str, Sequence[Mapping[str, Any]]], column: str) -> dict[str, np.ndarray]:
    """{measure: [E]} of one run in one setting: the learned and baseline episodes' ``column`` and their paired
    difference."""
    learned = episode_values(played["learned"], column)
    base = episode_values(played["baseline"], column)
    return {"learned": learned, "baseline": base, "difference": learned - base}


def summarise(
    per_run: Sequence[Mapping[str, np.ndarray]], confidence: float = 0.95, is_return: bool = True
) -> dict[str, Any]:
    """{measure: mean and interval, "ratio", "verdict"} over runs (``per_run``: :func:`run_measures` of each run:
    a run's episode mean is the unit), or over the episodes of a single run. A return's verdict says who is ahead,
    a metric's which is higher; a metric has no ratio."""
    if len(per_run) > 1:
        values = {m: [finite_mean(run[m]) for run in per_run] for m in MEASURES}
    else:
        values = {m: per_run[0][m] for m in MEASURES}
    summary: dict[str, Any] = {m: mean_ci(values[m], confidence) for m in MEASURES}
    base = summary["baseline"]["mean"]
    summary["ratio"] = summary["learned"]["mean"] / base if is_return and base > 0 else float("nan")
    words = ("learned ahead", "learned behind") if is_return else ("learned higher", "learned lower")
    scale = max(abs(summary["learned"]["mean"]), abs(base)) if math.isfinite(base) else 1.0
    summary["verdict"] = interval_verdict(summary["difference"], *words, scale)
    return summary


def _cell(value: Mapping[str, float]) -> str:
    if not math.isfinite(value["mean"]):
        return "-"
    if not (math.isfinite(value["ci_low"]) and math.isfinite(value["ci_high"])):
        return f"{value['mean']:.2f}"
    return f"{value['mean']:.2f} [{value['ci_low']:.2f}, {value['ci_high']:.2f}]"


def format_table(title: str, rows: Sequence[tuple[str, Mapping[str, Any]]]) -> str:
    """``(label, summary)`` rows as a plain-text table under ``title``."""
    header = ["setting", *MEASURES, "ratio", "verdict"]
    lines = [
        [label, *(_cell(summary[m]) for m in MEASURES), f"{summary['ratio']:.3f}x", summary["verdict"]]
        if math.isfinite(summary["ratio"])
        else [label, *(_cell(summary[m]) for m in MEASURES), "-", summary["verdict"]]
        for label, summary in rows
    ]
    widths = [max(len(row[i]) for row in [header, *lines]) for i in range(len(header))]
    text = [title, "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    text += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in lines]
    return "\n".join(text)


def focal_means(rows: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """The mean over episodes of every focal column (``focal:return`` and each ``focal:<nation metric>``)."""
    columns = [name for name in rows[0] if name.startswith("focal:")]
    means = {}
    for column in columns:
        means[column.removeprefix("focal:")] = finite_mean(episode_values(rows, column))
    return means


def summarise_groups(
    scores: Sequence[Mapping[str, Any]], metrics: Sequence[str] = (), confidence: float = 0.95
) -> list[dict[str, Any]]:
    """The runs' scores (:func:`score_run`) grouped by doctrine and scenario: each group's ``{"doctrine",
    "scenario", "runs", "settings": {setting: {"return": summary, <metric>: summary}}}``."""
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for score in scores:
        groups.setdefault((score["doctrine"], score["scenario"]), []).append(score)
    out = []
    for (doctrine, scenario), members in groups.items():
        by_setting = {}
        for name in members[0]["settings"]:
            by_setting[name] = {
                measure: summarise(
                    [run_measures(member["settings"][name], f"focal:{measure}") for member in members],
                    confidence,
                    measure == "return",
                )
                for measure in ("return", *metrics)
            }
        out.append(
            {
                "doctrine": doctrine,
                "scenario": scenario,
                "runs": [member["run"] for member in members],
                "settings": by_setting,
            }
        )
    return out


def format_group(group: Mapping[str, Any], episodes: int, baseline: str) -> str:
    """A group's table: a row per setting (and per metric of ``--metrics`` below its return)."""
    runs = group["runs"]
    which = f"{len(runs)} runs" if len(runs) > 1 else f"run {runs[0]}"
    unit = "intervals over runs" if len(runs) > 1 else "intervals over episodes"
    title = (
        f"{group['doctrine']}: {which} in {group['scenario']}, {episodes} episodes a setting ({unit}); "
        f"return against the {baseline} baseline:"
    )
    rows = []
    for setting, measures in group["settings"].items():
        for measure, summary in measures.items():
            rows.append((setting if measure == "return" else f"  {measure}", summary))
    return format_table(title, rows)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m train.evaluate",
        description="Score training runs against the scripted realists: the learned nations' returns beside those "
        "of the scripted agents of their doctrine in the same matched worlds, in self-play and among scripted "
        "backgrounds.",
        epilog=f"policies: {', '.join(sorted(POLICIES))}\nnation metrics: {', '.join(realism_env.NATION_METRICS)}\n\n"
        "See the docstring of train/evaluate.py for what each figure means.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--model", nargs="+", required=True, metavar="RUN_DIR", help="finished training runs")
    parser.add_argument(
        "--scenario", default=None, choices=sorted(SCENARIOS), help="the world (default: each run's training one)"
    )
    parser.add_argument(
        "--background",
        nargs="*",
        default=list(DEFAULT_BACKGROUNDS),
        metavar="POLICY",
        help="scripted policies the focal learned nations meet, one setting each, space- or comma-separated "
        "(default: %(default)s); --background with no name: self-play only",
    )
    parser.add_argument(
        "--focal", type=int, default=None, metavar="K", help="learned nations among a background (default: half)"
    )
    parser.add_argument(
        "--baseline",
        default="scripted",
        metavar="POLICY",
        help="what plays in the learned nations' places: scripted (the policy that acts out each doctrine: "
        "defensive_realist for security, offensive_realist for power, a policy of yours whose class attribute "
        "doctrine names yours; the default) or a policy name",
    )
    parser.add_argument("--episodes", type=int, default=100, help="matched worlds per run and setting (100)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="the first env seed (10000, the experiment's)")
    parser.add_argument(
        "--max-cycles", type=int, default=None, metavar="T", help="turns per episode (default: the run's training one)"
    )
    add_set_option(parser, "override an EnvConfig field on top of the run's own (repeatable)")
    parser.add_argument(
        "--greedy", default="act_then_target", choices=GREEDY_CHOICES, help="how learned nations choose (%(default)s)"
    )
    parser.add_argument("--sample", action="store_true", help="learned nations sample instead of the greedy choice")
    parser.add_argument(
        "--metrics", nargs="+", default=[], metavar="NAME", help="focal nation metrics to show beside the return"
    )
    parser.add_argument("--confidence", type=float, default=0.95, help="coverage of the intervals (0.95)")
    parser.add_argument("--per-run", action="store_true", help="also print a table per run")
    parser.add_argument("--out", default=None, metavar="FILE.json", help="also write the figures as JSON")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_import_option(parser)
    return parser


def _check(args: argparse.Namespace) -> dict[str, Any]:
    """The parsed ``--set`` overrides, once every option is valid; ``ValueError`` naming the first bad one."""
    args.background = background_names(args.background)
    if args.episodes < 1:
        raise ValueError(f"--episodes {args.episodes} is invalid; valid: an integer >= 1")
    if args.seed < 0:
        raise ValueError(f"--seed {args.seed} is invalid; valid: an integer >= 0")
    if args.max_cycles is not None and args.max_cycles < 1:
        raise ValueError(f"--max-cycles {args.max_cycles} is invalid; valid: an integer >= 1")
    if not 0.0 < args.confidence < 1.0:
        raise ValueError(f"--confidence {args.confidence} is invalid; valid: a number between 0 and 1")
    unknown = [name for name in args.metrics if name not in realism_env.NATION_METRICS]
    if unknown:
        raise ValueError(f"unknown metric {unknown[0]!r}; valid: {', '.join(realism_env.NATION_METRICS)}")
    overrides = parse_overrides(args.overrides)
    check_distinct_runs(args.model)
    for run_dir in args.model:
        info, *_ = run_world(run_dir, args.scenario, overrides, args.max_cycles)
        scripted_names(set(info.doctrine_per_nation), args.baseline)
        settings(len(info.doctrine_per_nation), args.background, args.focal)
    if args.out is not None:
        check_out_path("--out", args.out)
    return overrides


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """The command line; returns the JSON document. Bad arguments exit with status 2 and a message naming them."""
    import_plugins(argv, "python -m train.evaluate")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        overrides = _check(args)
    except ValueError as error:
        parser.error(str(error))
    progress = None
    if not args.no_progress and sys.stderr.isatty():
        from tqdm import tqdm

        per_run = [2 * (1 + len(args.background)) * args.episodes for _ in args.model]
        progress = tqdm(total=sum(per_run), unit="episode", file=sys.stderr, dynamic_ncols=True)
    scores, baselines = [], {}
    try:
        for run_dir in args.model:
            scores.append(
                score_run(
                    run_dir,
                    args.scenario,
                    args.background,
                    args.focal,
                    args.baseline,
                    args.episodes,
                    args.seed,
                    overrides,
                    args.max_cycles,
                    not args.sample,
                    args.greedy,
                    progress,
                    baselines,
                )  # fmt: skip
            )
    finally:
        if progress is not None:
            progress.close()
    groups = summarise_groups(scores, args.metrics, args.confidence)
    for group in groups:
        print("\n" + format_group(group, args.episodes, args.baseline))
        if args.per_run and len(group["runs"]) > 1:
            for score in scores:
                if score["run"] in group["runs"]:
                    one = summarise_groups([score], args.metrics, args.confidence)[0]
                    print("\n" + format_group(one, args.episodes, args.baseline))
    document = {
        "episodes": args.episodes,
        "seed": args.seed,
        "baseline": args.baseline,
        "confidence": args.confidence,
        "groups": groups,
        "runs": {
            score["run"]: {
                name: {policy: focal_means(rows) for policy, rows in played.items()}
                for name, played in score["settings"].items()
            }
            for score in scores
        },
    }
    if args.out is not None:
        atomic_write_json(Path(args.out), document)
        print(f"\nwritten: {args.out}")
    return document


if __name__ == "__main__":
    main()
