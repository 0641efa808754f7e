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
    The reward doctrine of each nation (``realism_env.DOCTRINES``: security, power): one name for all, or a
    comma-separated list with one per nation. Doctrines decide rewards and how ``by_doctrine`` groups the nations;
    scripted policies ignore rewards. By default each nation's doctrine follows its policy: ``offensive_realist``
    -> ``power`` (Mearsheimer), every other policy -> ``security`` (Waltz; the status-quo, bandwagoning,
    tit-for-tat and random nations have no claim to power maximisation). With ``--compare``, an explicit
    ``--doctrines`` applies to both populations.
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
     "by_doctrine": {doctrine: {NATION_METRIC: summary}},     # per episode, mean over the nations of the doctrine
     "by_policy": {policy: {NATION_METRIC: summary}},         # the same, grouped by policy
     "episodes": [{"seed", "turns", METRIC: value, ..., "by_doctrine": {...}, "by_policy": {...}}]}

and with ``--compare`` (``compare``)::

    {"scenario", "seed", "n_episodes", "bootstrap", "units", "a": report A, "b": report B,
     "paired_difference": {METRIC: summary of B minus A over matched episodes}}

Python API (reused by ``train/``)::

    from agents.evaluate import evaluate, compare
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
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import realism_env
from agents import stats
from agents.policies import POLICIES, Policy
from agents.rollout import build_policies, rollout
from realism_env import group_means, jsonable, parse_override, parse_value

#: Doctrine of a nation played by each policy unless ``doctrines`` says otherwise (see the module docstring).
POLICY_DOCTRINE: dict[str, str] = {"offensive_realist": "power", "defensive_realist": "security"}
#: Doctrine of a nation whose policy is not in :data:`POLICY_DOCTRINE`.
FALLBACK_DOCTRINE = "security"

_CONFIG_TYPES: dict[str, Any] = typing.get_type_hints(realism_env.EnvConfig)


def _choices(options: Any) -> str:
    return ", ".join(sorted(options))


# --------------------------------------------------------------------------------------------------
# Parsing: populations, doctrines, config overrides
# --------------------------------------------------------------------------------------------------


def parse_population(population: str | Sequence[str], n_nations: int) -> tuple[str, ...]:
    """One policy name per nation slot from ``"name:count,name:count"`` (slots filled in the order given), a bare
    ``"name"`` (every nation), or a sequence with one name per nation. Raises ``ValueError`` on unknown names,
    malformed counts, or counts that do not add up to ``n_nations``."""
    if isinstance(population, str):
        text = population.strip()
        if not text:
            raise ValueError(f"population is empty; valid: 'name:count,...' with counts adding up to {n_nations}")
        parts = [p.strip() for p in text.split(",")]
        if len(parts) == 1 and ":" not in parts[0]:
            names: list[str] = [parts[0]] * n_nations
        else:
            names = []
            for part in parts:
                name, sep, count_text = part.partition(":")
                name, count_text = name.strip(), count_text.strip()
                if not sep or not name:
                    raise ValueError(f"population entry {part!r} in {population!r} is invalid; valid: 'name:count'")
                try:
                    count = int(count_text)
                except ValueError:
                    raise ValueError(
                        f"population entry {part!r} has count {count_text!r}; valid: a positive integer"
                    ) from None
                if count < 1:
                    raise ValueError(f"population entry {part!r} has count {count}; valid: a positive integer")
                names += [name] * count
    else:
        names = [str(name) for name in population]
    unknown = sorted({name for name in names if name not in POLICIES})
    if unknown:
        raise ValueError(f"unknown policy {', '.join(map(repr, unknown))}; valid: {_choices(POLICIES)}")
    if len(names) != n_nations:
        raise ValueError(
            f"population {format_population(names)!r} has {len(names)} nations; expected {n_nations} "
            f"(n_nations of the config): the counts must add up to {n_nations}"
        )
    return tuple(names)


def format_population(policies: Sequence[str]) -> str:
    """The ``name:count,...`` spec of a per-nation list (runs of the same name merged, order kept)."""
    runs: list[list[Any]] = []
    for name in policies:
        if runs and runs[-1][0] == name:
            runs[-1][1] += 1
        else:
            runs.append([name, 1])
    return ",".join(f"{name}:{count}" for name, count in runs)


def default_doctrines(policies: Sequence[str]) -> tuple[str, ...]:
    """Each nation's doctrine from its policy (:data:`POLICY_DOCTRINE`, else :data:`FALLBACK_DOCTRINE`)."""
    return tuple(POLICY_DOCTRINE.get(name, FALLBACK_DOCTRINE) for name in policies)


def parse_doctrines(doctrines: str | Sequence[str] | None, policies: Sequence[str]) -> tuple[str, ...]:
    """One doctrine per nation: the defaults by policy when ``doctrines`` is None, else one name for all or a
    comma-separated string / sequence with one name per nation."""
    if doctrines is None:
        return default_doctrines(policies)
    names = [d.strip() for d in doctrines.split(",")] if isinstance(doctrines, str) else [str(d) for d in doctrines]
    if len(names) == 1:
        names = names * len(policies)
    unknown = sorted({d for d in names if d not in realism_env.DOCTRINES})
    if unknown:
        raise ValueError(f"unknown doctrine {', '.join(map(repr, unknown))}; valid: {_choices(realism_env.DOCTRINES)}")
    if len(names) != len(policies):
        raise ValueError(
            f"doctrines {','.join(names)!r} name {len(names)} nations; valid: one name, or exactly {len(policies)}"
        )
    return tuple(names)


# --------------------------------------------------------------------------------------------------
# A run's plan: config, policies, doctrines (everything validated before the first episode)
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """A validated evaluation setup: the scenario, the config (doctrines included) and one policy per nation."""

    scenario: str
    config: realism_env.EnvConfig
    policies: tuple[str, ...]

    @property
    def doctrines(self) -> tuple[str, ...]:
        return self.config.doctrine_per_nation

    @property
    def spec(self) -> str:
        return format_population(self.policies)


def make_plan(
    population: str | Sequence[str],
    scenario: str = "multipolar",
    overrides: Mapping[str, Any] | None = None,
    max_cycles: int | None = None,
    doctrines: str | Sequence[str] | None = None,
) -> Plan:
    """Validate and combine the arguments of :func:`evaluate`. ``overrides`` maps EnvConfig fields to values; a
    string value for a non-string field is parsed as ``--set`` would parse it. Raises ``ValueError``."""
    if scenario not in realism_env.SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; valid: {_choices(realism_env.SCENARIOS)}")
    fields: dict[str, Any] = {}
    for field, value in (overrides or {}).items():
        if field not in _CONFIG_TYPES:
            raise ValueError(f"unknown config field {field!r}; valid: {_choices(_CONFIG_TYPES)}")
        if field == "doctrines":
            raise ValueError("set doctrines with the doctrines argument (--doctrines), not as a config override")
        fields[field] = (
            parse_value(field, value) if isinstance(value, str) and _CONFIG_TYPES[field] is not str else value
        )
    if max_cycles is not None:
        if "max_cycles" in fields and fields["max_cycles"] != max_cycles:
            raise ValueError(
                f"max_cycles is given twice with different values ({fields['max_cycles']} and {max_cycles})"
            )
        fields["max_cycles"] = max_cycles
    config = realism_env.EnvConfig.from_scenario(scenario, **fields)
    policies = parse_population(population, config.n_nations)
    config = config.replace(doctrines=parse_doctrines(doctrines, policies))
    return Plan(scenario, config, policies)


# --------------------------------------------------------------------------------------------------
# Episodes
# --------------------------------------------------------------------------------------------------


class _RecordingEnv:
    """The env seen through a metrics recorder: ``reset`` starts it on the new world, ``step`` records each turn.
    Everything else is the env's own, so :func:`agents.rollout.rollout` plays it unchanged."""

    def __init__(self, env: realism_env.RealismEnv) -> None:
        self.env = env
        self.recorder = realism_env.EpisodeRecorder(env.config)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.env, name)

    def reset(self, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        result = self.env.reset(seed=seed, options=options)
        self.recorder.start(self.env.world)
        return result

    def step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        result = self.env.step(actions)
        self.recorder.record(self.env.world, self.env.last_events)
        return result


class Episodes:
    """Plays the episodes of one plan: one env and one set of (stateless) policies, reused for every episode."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.env = _RecordingEnv(realism_env.parallel_env(config=plan.config))
        self.policies: dict[str, Policy] = build_policies(self.env, list(plan.policies))

    def run(self, seed: int) -> dict[str, Any]:
        """One episode in the matched world ``seed``: its row ``{"seed", "turns", METRIC: value, ..., "by_doctrine",
        "by_policy"}``."""
        turns = sum(1 for _ in rollout(self.env, self.policies, seed))
        recorder = self.env.recorder
        per_nation = recorder.nation_metrics()
        row: dict[str, Any] = {"seed": int(seed), "turns": turns}
        row.update(recorder.metrics())
        row["by_doctrine"] = group_means(per_nation, self.plan.doctrines)
        row["by_policy"] = group_means(per_nation, self.plan.policies)
        return row


def run_episodes(plan: Plan, seeds: Sequence[int], progress: Any = None) -> list[dict[str, Any]]:
    """The rows of the episodes ``seeds`` (in order); ``progress`` (a tqdm bar or None) is advanced per episode."""
    episodes = Episodes(plan)
    rows = []
    for seed in seeds:
        rows.append(episodes.run(seed))
        if progress is not None:
            progress.update(1)
    return rows


# --------------------------------------------------------------------------------------------------
# Reports
# --------------------------------------------------------------------------------------------------


def _summaries(rows: Sequence[Mapping[str, Any]], names: Sequence[str], boot: Mapping[str, Any]) -> dict[str, Any]:
    return stats.summarize_rows(rows, names, boot["confidence"], boot["n_resamples"], boot["seed"])


def _grouped(rows: Sequence[Mapping[str, Any]], key: str, boot: Mapping[str, Any]) -> dict[str, Any]:
    groups = dict.fromkeys(g for row in rows for g in row[key])
    names = list(realism_env.NATION_METRICS)
    return {g: _summaries([row[key].get(g, {}) for row in rows], names, boot) for g in groups}


def report(plan: Plan, rows: Sequence[Mapping[str, Any]], seed: int, boot: Mapping[str, Any]) -> dict[str, Any]:
    """The report of one population from its episode rows (the shape is in the module docstring)."""
    return {
        "scenario": plan.scenario,
        "seed": seed,
        "n_episodes": len(rows),
        "config": jsonable(plan.config.to_dict()),
        "population": {"spec": plan.spec, "policies": list(plan.policies), "doctrines": list(plan.doctrines)},
        "bootstrap": dict(boot),
        "units": {name: m.unit for name, m in realism_env.METRICS.items()},
        "metrics": _summaries(rows, list(realism_env.METRICS), boot),
        "by_doctrine": _grouped(rows, "by_doctrine", boot),
        "by_policy": _grouped(rows, "by_policy", boot),
        "episodes": list(rows),
    }


def bootstrap_settings(confidence: float, n_resamples: int, seed: int) -> dict[str, Any]:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence={confidence!r} is invalid; valid: a number strictly between 0 and 1")
    if not isinstance(n_resamples, int) or n_resamples < 1:
        raise ValueError(f"n_resamples={n_resamples!r} is invalid; valid: an integer >= 1")
    return {"method": "percentile", "confidence": confidence, "n_resamples": n_resamples, "seed": seed}


def _check_run(episodes: int, seed: int) -> None:
    if not isinstance(episodes, int) or episodes < 1:
        raise ValueError(f"episodes={episodes!r} is invalid; valid: an integer >= 1")
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed={seed!r} is invalid; valid: an integer >= 0")


def matched_seeds(seed: int, episodes: int) -> list[int]:
    """The env seeds of the matched worlds: episode ``k`` uses ``seed + k``."""
    return [seed + k for k in range(episodes)]


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
    _check_run(episodes, seed)
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
    _check_run(episodes, seed)
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


def paired_report(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    """The comparison of two reports of matched episodes (same seeds, same order): both, and B minus A."""
    seeds_a, seeds_b = [r["seed"] for r in a["episodes"]], [r["seed"] for r in b["episodes"]]
    if seeds_a != seeds_b:
        raise ValueError("the two reports are not matched: their episodes have different seeds")
    boot = a["bootstrap"]
    names = list(realism_env.METRICS)
    difference = {
        name: stats.paired_difference(
            [r.get(name, np.nan) for r in a["episodes"]],
            [r.get(name, np.nan) for r in b["episodes"]],
            boot["confidence"],
            boot["n_resamples"],
            boot["seed"],
        )
        for name in names
    }
    return {
        "scenario": a["scenario"],
        "seed": a["seed"],
        "n_episodes": a["n_episodes"],
        "bootstrap": dict(boot),
        "units": dict(a["units"]),
        "a": dict(a),
        "b": dict(b),
        "paired_difference": difference,
    }


# --------------------------------------------------------------------------------------------------
# Output: JSON and tables
# --------------------------------------------------------------------------------------------------


def write_json(path: str | os.PathLike[str], data: Any) -> None:
    """Write ``data`` as JSON (NaN as null) to ``path`` atomically: a temporary file in the same folder, flushed to
    disk, then ``os.replace``; an existing file is replaced whole or left untouched."""
    path = Path(path)
    text = json.dumps(jsonable(data), indent=1, allow_nan=False)
    folder = path.parent if str(path.parent) else Path(".")
    fd, temp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except FileNotFoundError:
            pass
        raise


def _fmt(x: Any) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    if abs(x) >= 1e4:
        return f"{x:.0f}"
    return f"{x:.4g}"


def _interval(s: Mapping[str, Any]) -> str:
    return f"[{_fmt(s['ci_low'])}, {_fmt(s['ci_high'])}]"


def _rows_text(header: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> str:
    """Aligned columns: the first ``left`` columns flush left, the others flush right."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(
            str(c).ljust(w) if i < left else str(c).rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ).rstrip()
        for r in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_report(result: Mapping[str, Any]) -> str:
    """A readable table of a report: every metric's mean and interval, then the per-doctrine means."""
    pct = f"{100 * result['bootstrap']['confidence']:g}% CI"
    last = result["seed"] + result["n_episodes"] - 1
    head = (
        f"{result['population']['spec']} | scenario {result['scenario']} | {result['n_episodes']} episodes, "
        f"seeds {result['seed']}..{last} | max_cycles {result['config']['max_cycles']}"
    )
    units = result["units"]
    table = _rows_text(
        ("metric", "unit", "mean", pct, "n"),
        [(n, units.get(n, ""), _fmt(s["mean"]), _interval(s), str(s["n"])) for n, s in result["metrics"].items()],
        left=2,
    )
    parts = [head, table]
    population = result["population"]
    pairs = set(zip(population["policies"], population["doctrines"], strict=True))
    same_groups = len(pairs) == len(set(population["policies"])) == len(set(population["doctrines"]))
    for key, title in (("by_doctrine", "doctrine"), ("by_policy", "policy")):
        groups = result[key]
        if key == "by_policy" and same_groups:
            continue  # the policies partition the nations exactly as the doctrines do: the table would repeat
        names = list(realism_env.NATION_METRICS)
        rows = [(n, *(f"{_fmt(groups[g][n]['mean'])} {_interval(groups[g][n])}" for g in groups)) for n in names]
        parts.append(f"per nation, mean by {title} ({pct}):\n" + _rows_text(("metric", *groups), rows))
    return "\n\n".join(parts)


def format_comparison(result: Mapping[str, Any]) -> str:
    """A readable table of a comparison: each population's mean and the paired difference B minus A (``*``: its
    interval excludes 0)."""
    a, b = result["a"], result["b"]
    pct = f"{100 * result['bootstrap']['confidence']:g}% CI"
    head = (
        f"A = {a['population']['spec']}\nB = {b['population']['spec']}\n"
        f"scenario {result['scenario']} | {result['n_episodes']} matched episodes, seeds "
        f"{result['seed']}..{result['seed'] + result['n_episodes'] - 1} | max_cycles {a['config']['max_cycles']}"
    )
    rows = []
    for name, d in result["paired_difference"].items():
        mark = "*" if stats.significant(d) else ""
        rows.append(
            (
                name,
                _fmt(a["metrics"][name]["mean"]),
                _fmt(b["metrics"][name]["mean"]),
                _fmt(d["mean"]),
                _interval(d),
                str(d["n"]),
                mark,
            )
        )
    return head + "\n\n" + _rows_text(("metric", "A mean", "B mean", "B - A", pct, "pairs", ""), rows)


# --------------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------------


def add_episode_options(
    parser: argparse.ArgumentParser,
    seed_help: str,
    population_required: bool = True,
    scenario_default: str | None = "multipolar",
    scenario_help: str = "scenario preset (default: %(default)s)",
) -> None:
    """The options that say which world is played and by whom: ``--population``, ``--scenario``, ``--seed``,
    ``--max-cycles``, ``--set`` and ``--doctrines`` (shared with ``agents.replay``; :func:`make_plan` parses them)."""
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
    parser.add_argument(
        "--max-cycles", type=int, default=None, metavar="T", help="turns per episode (default: the scenario's, 200)"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        dest="overrides",
        help="override an EnvConfig field, parsed to its type (repeatable), e.g. --set offense_defense_balance=2",
    )
    parser.add_argument(
        "--doctrines",
        default=None,
        metavar="D",
        help="reward doctrine: one name for all nations or a comma-separated list, one per nation (default: "
        "offensive_realist -> power, every other policy -> security)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m agents.evaluate",
        description="Play scripted populations in seeded, matched worlds and summarise the behaviour metrics "
        "(means with bootstrap intervals).",
        epilog=f"policies: {_choices(POLICIES)}\ndoctrines: {_choices(realism_env.DOCTRINES)}\n"
        f"config fields: {_choices(_CONFIG_TYPES)}\n\nSee the docstring of agents/evaluate.py for the report format.",
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
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        overrides = dict(parse_override(text) for text in args.overrides)
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
        if args.out is not None and not Path(args.out).resolve().parent.is_dir():
            raise ValueError(f"--out {args.out!r}: folder {str(Path(args.out).parent)!r} does not exist")
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
