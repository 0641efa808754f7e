"""Evaluation harness: play scripted populations over many seeded episodes and summarise the behaviour metrics.

Usage::

    python -m agents.evaluate --population offensive_realist:3,defensive_realist:3 --scenario multipolar \\
        --episodes 50 --seed 0 --out metrics.json
    python -m agents.evaluate --population defensive_realist:6 --compare offensive_realist:6 --episodes 50
    python -m agents.evaluate --population offensive_realist:6 --set offense_defense_balance=2 \\
        --set conquest_payoff=0.8 --max-cycles 100 --quiet --out odb2.json

Options (``--help`` lists them all):

``--population SPEC``
    Which scripted policy plays each nation: ``name:count,name:count,...`` (names from ``agents.POLICIES``:
    defensive_realist, offensive_realist, status_quo, random, bandwagoner, tit_for_tat). The counts must add up to
    the scenario's ``n_nations``; a single bare ``name`` gives every nation that policy. Nations are filled in the
    order given: ``offensive_realist:3,defensive_realist:3`` makes ``nation_0..2`` offensive and ``nation_3..5``
    defensive realists.
``--compare SPEC``
    A second population (B), played in the same matched worlds; the report gives both populations' summaries and
    the paired difference B minus A of every metric.
``--scenario NAME``
    A preset of ``realism_env.SCENARIOS`` (default ``multipolar``).
``--episodes N``, ``--seed S``
    Episode ``k`` (0-based) resets the env with seed ``S + k`` and gives nation ``i`` the ``i``-th child generator of
    ``SeedSequence(S + k)`` (``agents.rollout``). Any population in the same scenario and config therefore meets
    the same map, the same env random stream and the same policy generators in episode ``k``: these are *matched
    worlds*, and populations compare pair by pair. The bootstrap resampling is seeded with ``S`` too, so a run is
    reproducible to the bit.
``--max-cycles T``
    Turns per episode (default: the scenario's ``max_cycles``, 200).
``--set FIELD=VALUE`` (repeatable)
    Override any ``realism_env.EnvConfig`` field; the value is parsed to the field's type (int, float, bool as
    true/false, str, a comma-separated tuple, or ``none`` where the field may be None), e.g.
    ``--set offense_defense_balance=2 --set conquest_payoff=0.8 --set capability_shares=0.3,0.3,0.1,0.1,0.1,0.1``.
    An unknown field or a bad value stops the run with an error naming the field and the valid choices.
    ``doctrines`` is set with ``--doctrines``.
``--doctrines D``
    The reward doctrine of each nation (``realism_env.DOCTRINES``: security, power, and any registered with
    ``--import``): one name for all, a comma-separated list with one per nation, or ``mixed`` or ``a+b`` (the
    nations take the doctrines in turn, nation_0 the first, as in the trainers). Doctrines decide each nation's
    ``return`` and how ``by_doctrine`` groups the nations; scripted policies ignore rewards. By default each nation's
    doctrine is the one its policy acts out (``Policy.doctrine``): ``offensive_realist`` -> ``power`` (Mearsheimer),
    ``defensive_realist`` -> ``security`` (Waltz), a policy of yours -> the doctrine it names; any other policy ->
    ``security`` (the status-quo, bandwagoning, tit-for-tat and random nations have no claim to power maximisation).
    With ``--compare``, an explicit ``--doctrines`` applies to both populations.
``--confidence C``, ``--resamples R``
    Coverage (default 0.95) and number of resamples (default 2000) of the bootstrap intervals.
``--out PATH``
    Write the report as JSON. The file is written atomically (a temporary file in the same folder, then
    ``os.replace``) and only after every episode has run, so a failed run never corrupts an existing file.
``--quiet``
    No progress bar and no table (the progress bar also hides itself when stderr is not a terminal).

Statistics (``agents.stats``): every summary is ``{"mean", "ci_low", "ci_high", "n"}``, the mean over episodes and
its percentile bootstrap interval; NaN values (a metric undefined in an episode, such as the mean war duration of an
episode without war; see each metric's ``nan_when``) are left out and ``n`` counts the finite ones. Paired
differences use the pairs where both episodes are finite. In the JSON file NaN is written as ``null``.

The report (``evaluate``; the JSON file holds the same with NaN as null)::

    {"scenario", "seed", "n_episodes", "config": EnvConfig fields,
     "population": {"spec", "policies": [per nation], "doctrines": [per nation]},
     "bootstrap": {"method", "confidence", "n_resamples", "seed"}, "units": {metric: unit},
     "metrics": {METRIC: summary},                            # realism_env.METRICS, per episode
     "by_doctrine": {doctrine: {"return" | NATION_METRIC: summary}},  # per episode, mean over the doctrine's
                                                              # nations; return: a nation's rewards summed
     "by_policy": {policy: {"return" | NATION_METRIC: summary}},  # the same, grouped by policy
     "episodes": [{"seed", "turns", METRIC: value, ..., "by_doctrine": {...}, "by_policy": {...}}]}

and with ``--compare`` (``compare``)::

    {"scenario", "seed", "n_episodes", "bootstrap", "units", "a": report A, "b": report B,
     "paired_difference": {METRIC: summary of B minus A over matched episodes}}

Python API (reused by ``train/``)::

    from agents.evaluate import evaluate, compare
    from agents.evaluation_report import paired_report
    report = evaluate("offensive_realist:3,defensive_realist:3", scenario="multipolar", episodes=50, seed=0,
                      overrides={"conquest_payoff": 0.8}, max_cycles=100)
    report["metrics"]["war_onsets"]          # {"mean": ..., "ci_low": ..., "ci_high": ..., "n": 50}
    diff = compare("defensive_realist:6", "offensive_realist:6", episodes=20)["paired_difference"]
    # two configs (or any two reports of the same seeds) in matched worlds: B minus A
    low = evaluate("offensive_realist", episodes=20, overrides={"conquest_payoff": 0.1})
    high = evaluate("offensive_realist", episodes=20, overrides={"conquest_payoff": 0.9})
    paired_report(low, high)["paired_difference"]["war_onsets"]

A config override that changes how the map is drawn (``n_nations``, ``provinces_per_nation``, ``map_kind``,
``sea_links``, ``capability_shares``...) changes the worlds themselves, so such reports are no longer matched pair
by pair, though their seeds are.

The harness's parts: :mod:`agents.population` (population specs, doctrines and overrides into a validated ``Plan``),
:mod:`agents.episodes` (playing a plan's matched episodes, one row of metrics each), :mod:`agents.evaluation_report`
(rows into a report; paired differences), :mod:`agents.evaluation_output` (JSON and tables) and :mod:`agents.stats`
(the bootstrap); this module holds the API above and the command line.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import realism_env
from agents import stats
from agents.episodes import matched_seeds, run_episodes
from agents.evaluation_output import check_out_path, format_comparison, format_report, write_json
from agents.evaluation_report import bootstrap_settings, paired_report, report, whole_number
from agents.plugins import add_import_option, import_plugins
from agents.policies import POLICIES
from agents.population import CONFIG_TYPES, format_choices, make_plan
from realism_env import parse_overrides

# --------------------------------------------------------------------------------------------------
# Python API
# --------------------------------------------------------------------------------------------------


def _check_run(episodes: int, seed: int) -> tuple[int, int]:
    """``episodes`` and ``seed`` as Python ints (numpy integers are taken); ``ValueError`` naming a bad one."""
    return whole_number("episodes", episodes, 1), whole_number("seed", seed, 0)


def _progress_bar(total: int, enabled: bool) -> Any:
    if not enabled or not sys.stderr.isatty():
        return None
    try:
        from tqdm import tqdm
    except ImportError:  # tqdm is optional (extra "agents"): no bar without it
        return None
    return tqdm(total=total, unit="episode", file=sys.stderr, dynamic_ncols=True)


def evaluate(
    population: str | Sequence[str],
    scenario: str = "multipolar",
    episodes: int = 50,
    seed: int = 0,
    overrides: Mapping[str, Any] | None = None,
    max_cycles: int | None = None,
    doctrines: str | Sequence[str] | None = None,
    *,
    confidence: float = stats.CONFIDENCE,
    n_resamples: int = stats.N_RESAMPLES,
    progress: bool = False,
) -> dict[str, Any]:
    """Play ``population`` for ``episodes`` matched worlds (seeds ``seed .. seed + episodes - 1``) and summarise
    every metric; the report's shape is in the module docstring (NaN stays NaN here; :func:`write_json` writes it
    as null). Arguments are validated before the first episode (``ValueError``)."""
    plan = make_plan(population, scenario, overrides, max_cycles, doctrines)
    episodes, seed = _check_run(episodes, seed)
    boot = bootstrap_settings(confidence, n_resamples, seed)
    bar = _progress_bar(episodes, progress)
    try:
        rows = run_episodes(plan, matched_seeds(seed, episodes), bar)
    finally:
        if bar is not None:
            bar.close()
    return report(plan, rows, seed, boot)


def compare(
    population_a: str | Sequence[str],
    population_b: str | Sequence[str],
    scenario: str = "multipolar",
    episodes: int = 50,
    seed: int = 0,
    overrides: Mapping[str, Any] | None = None,
    max_cycles: int | None = None,
    doctrines: str | Sequence[str] | None = None,
    *,
    confidence: float = stats.CONFIDENCE,
    n_resamples: int = stats.N_RESAMPLES,
    progress: bool = False,
) -> dict[str, Any]:
    """Play two populations in the same matched worlds and report both, plus the paired difference B minus A of
    every metric (episode ``k`` of B minus episode ``k`` of A, bootstrapped over the pairs)."""
    plan_a = make_plan(population_a, scenario, overrides, max_cycles, doctrines)
    plan_b = make_plan(population_b, scenario, overrides, max_cycles, doctrines)
    episodes, seed = _check_run(episodes, seed)
    boot = bootstrap_settings(confidence, n_resamples, seed)
    seeds = matched_seeds(seed, episodes)
    bar = _progress_bar(2 * episodes, progress)
    try:
        rows_a = run_episodes(plan_a, seeds, bar)
        rows_b = run_episodes(plan_b, seeds, bar)
    finally:
        if bar is not None:
            bar.close()
    return paired_report(report(plan_a, rows_a, seed, boot), report(plan_b, rows_b, seed, boot))


# --------------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------------


def add_episode_options(
    parser: argparse.ArgumentParser,
    seed_help: str,
    population_required: bool = True,
    scenario_default: str | None = "multipolar",
    scenario_help: str = "scenario preset (default: %(default)s)",
    max_cycles_help: str = "turns per episode (default: the scenario's, 200)",
) -> None:
    """The options that say which world is played and by whom: ``--population``, ``--scenario``, ``--seed``,
    ``--max-cycles``, ``--set``, ``--import`` and ``--doctrines`` (shared with ``agents.replay``; :func:`make_plan`
    parses them; :func:`agents.plugins.import_plugins` imports before the parser is built)."""
    parser.add_argument(
        "--population",
        required=population_required,
        metavar="SPEC",
        help="policy per nation: 'name:count,name:count' (counts add up to n_nations; nations filled in the order "
        "given) or one bare name for all",
    )
    parser.add_argument(
        "--scenario",
        default=scenario_default,
        choices=sorted(realism_env.SCENARIOS),
        help=scenario_help,
    )
    parser.add_argument("--seed", type=int, default=0, help=seed_help)
    parser.add_argument("--max-cycles", type=int, default=None, metavar="T", help=max_cycles_help)
    add_set_option(parser)
    add_import_option(parser)
    parser.add_argument(
        "--doctrines",
        default=None,
        metavar="D",
        help="reward doctrine: one name for all nations, a comma-separated list, one per nation, or mixed or a+b "
        "(the nations take the doctrines in turn, nation_0 the first) (default: "
        "the doctrine each nation's policy acts out, Policy.doctrine: offensive_realist -> power, defensive_realist "
        "-> security; security for a policy that acts out none)",
    )


def add_set_option(
    parser: argparse.ArgumentParser,
    help: str = "override an EnvConfig field, parsed to its type (repeatable), e.g. --set offense_defense_balance=2",
) -> None:
    """``--set FIELD=VALUE`` (repeatable), collected as texts in ``overrides`` for
    :func:`realism_env.parse_override`."""
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", dest="overrides", help=help)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m agents.evaluate",
        description="Play scripted populations in seeded, matched worlds and summarise the behaviour metrics "
        "(means with bootstrap intervals).",
        epilog=f"policies: {format_choices(POLICIES)}\ndoctrines: {format_choices(realism_env.DOCTRINES)}\n"
        f"config fields: {format_choices(CONFIG_TYPES)}\n\n"
        "See the docstring of agents/evaluate.py for the report format.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_episode_options(
        parser, seed_help="episode k uses env and policy seed SEED + k; also seeds the bootstrap (default: %(default)s)"
    )
    parser.add_argument(
        "--compare",
        metavar="SPEC",
        default=None,
        help="a second population B, played in the same matched worlds; reports B minus A per metric",
    )
    parser.add_argument("--episodes", type=int, default=50, help="episodes per population (default: %(default)s)")
    parser.add_argument(
        "--confidence", type=float, default=stats.CONFIDENCE, help="coverage of the intervals (default: %(default)s)"
    )
    parser.add_argument(
        "--resamples", type=int, default=stats.N_RESAMPLES, help="bootstrap resamples (default: %(default)s)"
    )
    parser.add_argument("--out", default=None, metavar="PATH", help="write the report as JSON (atomically)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar and no table")
    return parser


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """The command line; returns the report. Bad arguments exit with status 2 and a message naming the problem."""
    import_plugins(argv, "python -m agents.evaluate")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        overrides = parse_overrides(args.overrides)
        common = {
            "scenario": args.scenario,
            "overrides": overrides,
            "max_cycles": args.max_cycles,
            "doctrines": args.doctrines,
        }
        plans = [make_plan(args.population, **common)]
        if args.compare is not None:
            plans.append(make_plan(args.compare, **common))
        _check_run(args.episodes, args.seed)
        bootstrap_settings(args.confidence, args.resamples, args.seed)
        if args.out is not None:
            check_out_path("--out", args.out)
    except ValueError as error:
        parser.error(str(error))
    kwargs = {
        **common,
        "episodes": args.episodes,
        "seed": args.seed,
        "confidence": args.confidence,
        "n_resamples": args.resamples,
        "progress": not args.quiet,
    }
    if args.compare is None:
        result = evaluate(args.population, **kwargs)
        text = format_report(result)
    else:
        result = compare(args.population, args.compare, **kwargs)
        text = format_comparison(result)
    if args.out is not None:
        write_json(args.out, result)
    if not args.quiet:
        print(text)
        if args.out is not None:
            print(f"\nwrote {args.out}")
    return result


if __name__ == "__main__":
    main()
