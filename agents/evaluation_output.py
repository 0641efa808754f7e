"""Output of the evaluation harness: a report as JSON (written atomically, NaN as null) and as readable tables."""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from agents import stats
from agents.evaluation_report import group_metrics
from realism_env import atomic_write_bytes, file_in_the_way, jsonable


def write_json(path: str | os.PathLike[str], data: Any) -> None:
    """Write ``data`` as JSON (NaN as null) to ``path`` atomically: a temporary file in the same folder, flushed to
    disk, then ``os.replace``; an existing file is replaced whole or left untouched."""
    text = json.dumps(jsonable(data), indent=1, allow_nan=False)
    atomic_write_bytes(path, (text + "\n").encode())


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
        names = group_metrics()
        rows = [(n, *(f"{_fmt(groups[g][n]['mean'])} {_interval(groups[g][n])}" for g in groups)) for n in names]
        parts.append(f"per nation, mean by {title} ({pct}):\n" + _rows_text(("metric", *groups), rows))
    return "\n\n".join(parts)


#: Below this many matched episodes a percentile bootstrap's interval is too narrow to trust (it under-covers: with
#: 3 pairs it spans the observed differences alone), which the comparison table says under its stars.
FEW_PAIRS = 10


def format_comparison(result: Mapping[str, Any]) -> str:
    """A readable table of a comparison: each population's mean and the paired difference B minus A (``*``: its
    interval excludes 0), with a legend; below :data:`FEW_PAIRS` matched episodes it says the intervals are too
    narrow to trust."""
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
    legend = "*: the interval of B - A excludes 0"
    n = result["n_episodes"]
    if n < FEW_PAIRS:
        legend += (
            f"; with {n} matched episode{'' if n == 1 else 's'} the bootstrap intervals are too narrow to trust (they "
            f"under-cover below about {FEW_PAIRS}): use --episodes {2 * FEW_PAIRS} or more"
        )
    return head + "\n\n" + _rows_text(("metric", "A mean", "B mean", "B - A", pct, "pairs", ""), rows) + "\n\n" + legend


def check_out_path(option: str, path: str | os.PathLike[str]) -> None:
    """Raise ValueError naming ``option`` when ``path`` cannot be written as a file: a folder, in a folder that does
    not exist, or in one this process cannot write in."""
    if Path(path).is_dir():
        raise ValueError(f"{option} {str(path)!r} is a folder; valid: a file path in it, e.g. {Path(path) / 'out'}")
    folder = Path(path).resolve().parent
    blocked = file_in_the_way(folder)
    if blocked is not None:  # not a missing folder: one the path goes through is a file
        raise ValueError(
            f"{option} {str(path)!r}: {str(Path(path).parent)!r} {blocked}; valid: a file path in a folder"
        )
    if not folder.is_dir():
        raise ValueError(f"{option} {str(path)!r}: folder {str(Path(path).parent)!r} does not exist")
    try:  # a folder this process cannot write in (no permission, read-only): said now, not after the work
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as error:
        raise ValueError(
            f"{option} {str(path)!r}: cannot write in folder {str(folder)!r} ({error.strerror or error}); valid: a "
            "file in a folder you can write to"
        ) from None
