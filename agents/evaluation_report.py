"""The evaluation harness's reports: episode rows summarised per metric, per doctrine and per policy (means with
bootstrap intervals, :mod:`agents.stats`), and the paired difference of two reports of matched episodes. The shape of
a report is in the docstring of :mod:`agents.evaluate`."""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

import realism_env
from agents import stats
from agents.population import Plan
from realism_env import jsonable


def _summaries(rows: Sequence[Mapping[str, Any]], names: Sequence[str], boot: Mapping[str, Any]) -> dict[str, Any]:
    return stats.summarize_rows(rows, names, boot["confidence"], boot["n_resamples"], boot["seed"])


def group_metrics() -> list[str]:
    """What ``by_doctrine`` and ``by_policy`` summarise per nation: ``return`` (the nation's rewards summed over the
    episode, under its own doctrine), then every metric of ``realism_env.NATION_METRICS``."""
    return ["return", *realism_env.NATION_METRICS]


def _grouped(rows: Sequence[Mapping[str, Any]], key: str, boot: Mapping[str, Any]) -> dict[str, Any]:
    groups = dict.fromkeys(g for row in rows for g in row[key])
    names = group_metrics()
    return {g: _summaries([row[key].get(g, {}) for row in rows], names, boot) for g in groups}


def report(plan: Plan, rows: Sequence[Mapping[str, Any]], seed: int, boot: Mapping[str, Any]) -> dict[str, Any]:
    """The report of one population from its episode rows (the shape is in the docstring of :mod:`agents.evaluate`)."""
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
    """A report's ``bootstrap`` entry; raises ``ValueError`` on a bad ``confidence`` or ``n_resamples``."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence={confidence!r} is invalid; valid: a number strictly between 0 and 1")
    n_resamples = whole_number("n_resamples", n_resamples, 1)
    return {"method": "percentile", "confidence": float(confidence), "n_resamples": n_resamples, "seed": seed}


def whole_number(name: str, value: Any, minimum: int) -> int:
    """``value`` as a Python int (any integer type, numpy's included; not a bool or a float); ``ValueError`` naming
    ``name`` and the valid range otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name}={value!r} is invalid; valid: an integer >= {minimum}")
    return int(value)


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
