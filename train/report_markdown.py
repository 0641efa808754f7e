"""Markdown of the experiment's report: numbers, p values, means with intervals, and tables."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any


def fmt(x: Any, digits: int = 3) -> str:
    """A number for a table: ``-`` for NaN / None, ``digits`` significant figures."""
    if x is None:
        return "-"
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    if not math.isfinite(v):
        return "-" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    if v != 0 and (abs(v) >= 1e5 or abs(v) < 1e-3):
        return f"{v:.2e}"
    return f"{v:.{digits}g}"


def fmt_p(p: Any) -> str:
    try:
        v = float(p)
    except (TypeError, ValueError):
        return "-"
    if not math.isfinite(v):
        return "-"
    return "<0.001" if v < 0.001 else f"{v:.3f}"


def fmt_summary(s: Mapping[str, Any]) -> str:
    """``mean [low, high]`` (or the mean alone when there is no interval)."""
    if not s or s.get("n", 0) == 0:
        return "-"
    if not math.isfinite(s.get("ci_low", float("nan"))):
        return fmt(s["mean"])
    return f"{fmt(s['mean'])} [{fmt(s['ci_low'])}, {fmt(s['ci_high'])}]"


def listed(items: Sequence[str]) -> str:
    """Items as a sentence lists them: "a", "a and b", "a, b and c"."""
    return " and ".join(items) if len(items) < 3 else f"{', '.join(items[:-1])} and {items[-1]}"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]], align: str | None = None) -> str:
    """A GitHub-flavoured Markdown table (``align``: one of l/r/c per column; default first left, rest right)."""
    align = align or ("l" + "r" * (len(header) - 1))
    marks = {"l": ":---", "r": "---:", "c": ":---:"}
    lines = ["| " + " | ".join(str(h) for h in header) + " |", "|" + "|".join(marks[a] for a in align) + "|"]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)
