"""The report of ``python -m train.experiment``: report.md and its plots (numpy and matplotlib only).

Statistics (documented in every report):

- *Units.* A learned condition's unit of replication is the **training seed**: each seed's value is the mean of a
  metric over its evaluation episodes (NaN episodes left out), and a condition's summary is the mean over seeds with
  a Student-t 95% interval (``mean +- t(0.975, n-1) * sd / sqrt(n)``; none with one seed). Scripted baselines have no
  training seed: their unit is the **episode** (the same matched worlds), summarised the same way.
- *Pairwise differences* between conditions: Welch's unequal-variance t test on the seed values (two-sided p, the
  Welch-Satterthwaite degrees of freedom, the t interval of the difference), with Holm's step-down adjustment over
  the metrics of each pair. Student's t distribution is computed in :mod:`train.report_statistics` (regularised
  incomplete beta), so SciPy is not needed; ``tests/test_experiment.py`` checks it against SciPy where SciPy is
  installed.
- *Degenerate samples.* With fewer than two finite values on a side nothing is tested (NaN, "inconclusive"). When
  both sides have zero variance the difference is certain given the seeds: p = 0 if the means differ, else t = 0.

The claims (:data:`train.claims.CLAIMS`) are one-sided tests decided by :func:`train.claims.verdict`:

- **supported**: the estimate lies in the predicted direction and the one-sided p value in that direction is below
  ``alpha`` (0.05);
- **not supported**: the estimate lies in the opposite direction with one-sided p below ``alpha``, or, for a
  strategy that is claimed to *appear*, it never occurs in any evaluated episode of the predicted condition though it
  had the chance (its ``opportunity`` column, where the claim counts one, is above 0 in some episode);
- **inconclusive**: anything else (too few seeds, an effect within the noise, a strategy that never had the chance to
  occur: bait-and-bleed, say, where no war was fought, whose absence is no evidence).

Kinds of claim: ``greater`` (metric in condition A above condition B: Welch), ``above`` / ``below`` (the mean of
the metric in condition A above / below a reference value: one-sample t), ``paired`` (within each episode of
condition A, metric minus ``metric_b`` above 0: one-sample t on the seed means of the per-episode differences).

The code: :func:`write_report` (this module) puts together the sections of :mod:`train.report_sections`, which use
:mod:`train.report_statistics` (the statistics above), :mod:`train.claims` (the claims and their verdicts),
:mod:`train.plots` (the figures) and :mod:`train.report_markdown` (numbers and tables).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from train.report_sections import (
    behaviour_section,
    claims_section,
    crossplay_section,
    deviation_section,
    files_section,
    header_section,
    learners_section,
    pairwise_section,
    plots_section,
    replays_section,
    returns_section,
    runs_section,
    strategy_section,
)
from train.report_statistics import Rows


def group_rows(rows: Rows, *keys: str) -> dict[tuple[Any, ...], list[Mapping[str, Any]]]:
    """Rows grouped by the values of ``keys`` (as strings)."""
    groups: dict[tuple[Any, ...], list[Mapping[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[tuple(str(row.get(k, "")) for k in keys)].append(row)
    return groups


def write_report(
    design: Any,
    out: Path,
    rows: Rows,
    traces: Mapping[tuple[str, str, Any], Any],
    runs: Mapping[tuple[str, int], Mapping[str, Any]],
    timing: Mapping[str, Any],
    command: str,
    units: Mapping[str, str] | None = None,
    replays: Mapping[tuple[str, str], str] | None = None,
    deviations: Rows = (),
    crossplay: Rows = (),
) -> Path:
    """Write ``out/report.md`` and ``out/plots/*.png`` from the results rows (results.csv), the power-share traces,
    each run's ``metrics.json`` (``runs[(condition, seed)]``), the timing of this invocation, the replay pages
    (``replays[(condition, setting)]``: a path relative to ``out``), the runs' deviations (deviations.csv) and their
    cross-play (crossplay.csv)."""
    from train.checkpoint import atomic_write_bytes

    ev = design.evaluate
    confidence, alpha = float(ev["confidence"]), float(ev["alpha"])
    units = dict(units or {})
    plots = out / "plots"
    by = group_rows(rows, "world", "condition", "policy", "setting")

    def rows_of(world: str, condition: str, policy: str, setting: str) -> list[Mapping[str, Any]]:
        return by.get((world, condition, policy, setting), [])

    def save(name: str, data: bytes) -> str:
        atomic_write_bytes(plots / name, data)
        return f"plots/{name}"

    parts = header_section(design, runs, timing, command)
    verdict_line, learners = learners_section(design, rows_of, confidence, crossplay)
    parts.insert(1, verdict_line)
    parts += learners
    parts += strategy_section(design, rows_of, confidence, save)
    parts += deviation_section(design, deviations, confidence)
    parts += crossplay_section(design, crossplay, confidence, save)
    parts += replays_section(design, replays or {})
    parts += claims_section(design, rows_of, confidence, alpha)
    parts += behaviour_section(design, rows_of, confidence, units)
    parts += returns_section(design, rows_of, confidence)
    parts += pairwise_section(design, rows_of, confidence)
    parts += plots_section(design, rows_of, confidence, runs, traces, save)
    parts += runs_section(design, runs)
    parts += files_section()
    path = out / "report.md"
    atomic_write_bytes(path, ("\n\n".join(parts) + "\n").encode())
    return path
