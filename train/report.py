"""Statistics, the essay's claims, tables and plots for ``python -m train.experiment`` (numpy and matplotlib only).

Statistics (documented in every report):

- *Units.* A learned condition's unit of replication is the **training seed**: each seed's value is the mean of a
  metric over its evaluation episodes (NaN episodes left out), and a condition's summary is the mean over seeds with
  a Student-t 95% interval (``mean +- t(0.975, n-1) * sd / sqrt(n)``; none with one seed). Scripted baselines have no
  training seed: their unit is the **episode** (the same matched worlds), summarised the same way.
- *Pairwise differences* between conditions: Welch's unequal-variance t test on the seed values (two-sided p, the
  Welch-Satterthwaite degrees of freedom, the t interval of the difference), with Holm's step-down adjustment over
  the metrics of each pair. Student's t distribution is computed here (regularised incomplete beta), so SciPy is
  not needed; ``tests/test_experiment.py`` checks it against SciPy where SciPy is installed.
- *Degenerate samples.* With fewer than two finite values on a side nothing is tested (NaN, "inconclusive"). When
  both sides have zero variance the difference is certain given the seeds: p = 0 if the means differ, else t = 0.

The claims (:data:`CLAIMS`) are one-sided tests decided by :func:`verdict`:

- **supported**: the estimate lies in the predicted direction and the one-sided p value in that direction is below
  ``alpha`` (0.05);
- **not supported**: the estimate lies in the opposite direction with one-sided p below ``alpha``, or, for a
  strategy that is claimed to *appear*, it never occurs in any evaluated episode of the predicted condition;
- **inconclusive**: anything else (too few seeds, an effect within the noise).

Kinds of claim: ``greater`` (metric in condition A above condition B: Welch), ``above`` / ``below`` (the mean of
the metric in condition A above / below a reference value: one-sample t), ``paired`` (within each episode of
condition A, metric minus ``metric_b`` above 0: one-sample t on the seed means of the per-episode differences).
"""

from __future__ import annotations

import io
import itertools
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from realism_env import MIXED_ORDER

SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE = "supported", "not supported", "inconclusive"

# --------------------------------------------------------------------------------------------------
# Student's t distribution (no SciPy)
# --------------------------------------------------------------------------------------------------


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz; Numerical Recipes 6.4)."""
    tiny, eps = 1e-300, 3e-16
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 10_000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < eps:
            break
    return h


def betainc(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, 1.0 - x) / b


def t_sf(t: float, df: float) -> float:
    """P(T > t) for Student's t with ``df`` degrees of freedom (``df`` may be fractional, as in Welch's test)."""
    if math.isnan(t) or math.isnan(df) or df <= 0:
        return float("nan")
    if math.isinf(t):
        return 0.0 if t > 0 else 1.0
    tail = 0.5 * betainc(df / 2.0, 0.5, df / (df + t * t))
    return tail if t > 0 else 1.0 - tail


def t_ppf(q: float, df: float) -> float:
    """The ``q`` quantile of Student's t (bisection on :func:`t_sf`)."""
    if not 0.0 < q < 1.0 or not df > 0:
        return float("nan")
    if q == 0.5:
        return 0.0
    if q < 0.5:
        return -t_ppf(1.0 - q, df)
    low, high = 0.0, 1.0
    while t_sf(high, df) > 1.0 - q:
        high *= 2.0
        if high > 1e12:
            return float("inf")
    for _ in range(200):
        mid = 0.5 * (low + high)
        if t_sf(mid, df) > 1.0 - q:
            low = mid
        else:
            high = mid
        if high - low < 1e-12 * max(1.0, high):
            break
    return 0.5 * (low + high)


def finite(values: Iterable[float]) -> np.ndarray:
    """The finite values as a float64 vector."""
    x = np.asarray(list(values) if not isinstance(values, np.ndarray) else values, dtype=np.float64).ravel()
    return x[np.isfinite(x)]


def mean_ci(values: Iterable[float], confidence: float = 0.95) -> dict[str, float]:
    """``{"mean", "ci_low", "ci_high", "n"}``: the mean of the finite values and its Student-t interval."""
    x = finite(values)
    n = int(x.size)
    if n == 0:
        return {"mean": float("nan"), "ci_low": float("nan"), "ci_high": float("nan"), "n": 0}
    mean = float(x.mean())
    if n < 2:
        return {"mean": mean, "ci_low": float("nan"), "ci_high": float("nan"), "n": n}
    half = t_ppf(0.5 + confidence / 2.0, n - 1) * float(x.std(ddof=1)) / math.sqrt(n)
    return {"mean": mean, "ci_low": mean - half, "ci_high": mean + half, "n": n}


def _test(estimate: float, se: float, df: float, confidence: float) -> dict[str, float]:
    """t statistic, one- and two-sided p values and the interval of ``estimate`` (see the module docstring for
    ``se == 0``)."""
    if se == 0.0:
        t = 0.0 if estimate == 0.0 else math.copysign(math.inf, estimate)
    else:
        t = estimate / se
    p_greater = t_sf(t, df)
    p_less = t_sf(-t, df)
    half = t_ppf(0.5 + confidence / 2.0, df) * se if se > 0 else 0.0
    return {
        "estimate": estimate,
        "ci_low": estimate - half,
        "ci_high": estimate + half,
        "t": t,
        "df": df,
        "p_greater": p_greater,
        "p_less": p_less,
        "p_two": min(1.0, 2.0 * min(p_greater, p_less)),
    }


_NAN_TEST = dict.fromkeys(("estimate", "ci_low", "ci_high", "t", "df", "p_greater", "p_less", "p_two"), float("nan"))


def welch(a: Iterable[float], b: Iterable[float], confidence: float = 0.95) -> dict[str, float]:
    """Welch's t test of mean(a) - mean(b): ``estimate``, its interval, ``t``, ``df``, ``p_greater`` (H1: a > b),
    ``p_less``, ``p_two``, and ``n_a``, ``n_b``, ``mean_a``, ``mean_b``."""
    x, y = finite(a), finite(b)
    out: dict[str, float] = {"n_a": int(x.size), "n_b": int(y.size)}
    out["mean_a"] = float(x.mean()) if x.size else float("nan")
    out["mean_b"] = float(y.mean()) if y.size else float("nan")
    if x.size < 2 or y.size < 2:
        return {**_NAN_TEST, "estimate": out["mean_a"] - out["mean_b"], **out}
    va, vb = x.var(ddof=1) / x.size, y.var(ddof=1) / y.size
    se = math.sqrt(va + vb)
    if se > 0:
        df = (va + vb) ** 2 / (va**2 / (x.size - 1) + vb**2 / (y.size - 1))
    else:
        df = float(x.size + y.size - 2)
    return {**_test(out["mean_a"] - out["mean_b"], se, df, confidence), **out}


def one_sample(a: Iterable[float], ref: float = 0.0, confidence: float = 0.95) -> dict[str, float]:
    """One-sample t test of mean(a) - ref (keys as :func:`welch`, with ``n_a`` and ``mean_a``)."""
    x = finite(a)
    out: dict[str, float] = {"n_a": int(x.size), "mean_a": float(x.mean()) if x.size else float("nan")}
    if x.size < 2:
        return {**_NAN_TEST, "estimate": out["mean_a"] - ref, **out}
    se = float(x.std(ddof=1)) / math.sqrt(x.size)
    return {**_test(out["mean_a"] - ref, se, float(x.size - 1), confidence), **out}


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p values (NaN stays NaN and does not count as a test)."""
    p = np.asarray(pvalues, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    index = np.flatnonzero(np.isfinite(p))
    order = index[np.argsort(p[index], kind="stable")]
    m = len(order)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out.tolist()


# --------------------------------------------------------------------------------------------------
# The essay's claims
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """One claim of the essay, operationalised as a one-sided test (see the module docstring)."""

    id: str
    text: str  #: the claim, as the essay states it
    source: str  #: who argues it
    kind: str  #: greater, above, below or paired
    metric: str  #: results.csv column
    condition: str  #: the doctrine condition it is measured in (A)
    other: str | None = None  #: the comparison condition (B) of a ``greater`` claim
    metric_b: str | None = None  #: the subtracted column of a ``paired`` claim
    ref: float = 0.0  #: the reference value of ``above`` / ``below``
    appears: bool = False  #: a strategy claimed to appear: "not supported" if it never occurs in condition A
    context: str | None = None  #: another condition whose value is shown beside (not tested)
    scenario: str | None = None  #: read in self-play in this (held-out) scenario; None: the training scenario

    @property
    def measure(self) -> str:
        where = f", self-play in `{self.scenario}`" if self.scenario else ""
        if self.kind == "greater":
            return f"`{self.metric}`: {self.condition} > {self.other}{where}"
        if self.kind == "paired":
            return f"in {self.condition}: `{self.metric}` > `{self.metric_b}` (same episodes){where}"
        sign = ">" if self.kind == "above" else "<"
        return f"`{self.metric}` in {self.condition} {sign} {self.ref:g}{where}"

    @property
    def conditions(self) -> tuple[str, ...]:
        return tuple(c for c in (self.condition, self.other, self.context) if c is not None)


CLAIMS: tuple[Claim, ...] = (
    Claim(
        "war",
        "Power-maximisers start more wars",
        "Mearsheimer 2001 (offensive realism)",
        "greater",
        "war_onsets",
        "power",
        "security",
    ),
    Claim(
        "war_mixed",
        "Among mixed nations, power-maximisers declare more wars than security-maximisers",
        "Mearsheimer 2001 vs Waltz 1979",
        "paired",
        "power:war_onsets",
        "mixed",
        metric_b="security:war_onsets",
    ),
    Claim(
        "security_dilemma",
        "Security-maximisers still arms-race (the security dilemma)",
        "critics of defensive realism (Jervis 1978)",
        "above",
        "arms_racing",
        "security",
        ref=0.0,
        context="power",
    ),
    Claim(
        "buck_passing",
        "Buck-passing appears under power maximisation",
        "Mearsheimer 2001",
        "greater",
        "buck_passing",
        "power",
        "security",
        appears=True,
    ),
    Claim(
        "blackmail",
        "Blackmail appears under power maximisation",
        "Mearsheimer 2001",
        "greater",
        "demands_made",
        "power",
        "security",
        appears=True,
    ),
    Claim(
        "bait_and_bleed",
        "Bait-and-bleed appears under power maximisation",
        "Mearsheimer 2001",
        "greater",
        "bait_and_bleed",
        "power",
        "security",
        appears=True,
    ),
    Claim(
        "bloodletting",
        "Bloodletting appears under power maximisation",
        "Mearsheimer 2001",
        "greater",
        "bloodletting",
        "power",
        "security",
        appears=True,
    ),
    Claim(
        "status_quo",
        "Systems of security-maximisers keep the status quo (less territory changes hands than among power-maximisers)",
        "Waltz 1979 (defensive realism)",
        "greater",
        "territorial_change",
        "power",
        "security",
    ),
    Claim(
        "status_quo_absolute",
        "Systems of security-maximisers keep the status quo (most episodes end with no province changed hands)",
        "Waltz 1979 (defensive realism)",
        "above",
        "status_quo_kept",
        "security",
        ref=0.5,
        context="power",
    ),
    Claim(
        "conquest_pays",
        "Conquest pays: nations that start wars end with more power than their targets",
        "Mearsheimer 2001 (offensive realism); against it, Waltz 1979 and Van Evera 1998 (conquest rarely pays)",
        "above",
        "conquest_gain",
        "power",
        ref=0.0,
        context="security",
    ),
    Claim(
        "human_cost",
        "Power politics has a human cost: more forces and wealth are destroyed among power-maximisers",
        "the critics of realism (the human cost of power politics)",
        "greater",
        "casualties",
        "power",
        "security",
    ),
    Claim(
        "balancing_rising_power",
        "Balancing checks a rising power: facing it, the others form balancing alliances against the strongest",
        "Waltz 1979 (the balance of power)",
        "above",
        "balancing",
        "security",
        ref=0.0,
        appears=True,
        context="power",
        scenario="rising_power",
    ),
    Claim(
        "buck_passing_rising_power",
        "The balance fails through buck-passing: facing a rising power, nations pass the buck more than they balance",
        "the critics (balance failures); Mearsheimer 2001 (buck-passing)",
        "paired",
        "buck_passing",
        "power",
        metric_b="balancing",
        scenario="rising_power",
    ),
    Claim(
        "hegemony_attempted",
        "Hegemony is attempted: power-maximisers concentrate power (peak HHI of power shares)",
        "Mearsheimer 2001",
        "greater",
        "peak_hhi",
        "power",
        "security",
    ),
    Claim(
        "hegemony_reached",
        "Hegemony is rarely reached, even by power-maximisers (share of episodes with a hegemon below 0.25)",
        "critics of offensive realism; Waltz 1979 (balancing checks it)",
        "below",
        "hegemony_reached",
        "power",
        ref=0.25,
        context="security",
    ),
)

RULE = (
    "supported: the estimate is in the predicted direction with one-sided p < alpha; not supported: it is in the "
    "opposite direction with one-sided p < alpha, or a strategy claimed to appear never occurs; inconclusive: "
    "otherwise (including fewer than two units per side)"
)


def verdict(estimate: float, p_predicted: float, p_opposite: float, alpha: float = 0.05, never: bool = False) -> str:
    """The verdict of a claim whose ``estimate`` is positive in the predicted direction (rule in the module
    docstring); ``never``: the strategy never occurred in the predicted condition."""
    if never:
        return NOT_SUPPORTED
    if not (math.isfinite(estimate) and math.isfinite(p_predicted) and math.isfinite(p_opposite)):
        return INCONCLUSIVE
    if estimate > 0 and p_predicted < alpha:
        return SUPPORTED
    if estimate < 0 and p_opposite < alpha:
        return NOT_SUPPORTED
    return INCONCLUSIVE


def judge(
    claim: Claim,
    units: Mapping[str, Sequence[float]],
    alpha: float = 0.05,
    confidence: float = 0.95,
    never: bool = False,
) -> dict[str, Any]:
    """Test ``claim`` on per-unit values (``units[condition]``: one value per seed or episode; for a ``paired`` claim,
    ``units[condition]`` holds the per-unit differences). Returns the test (see :func:`welch`), the ``verdict`` and the
    estimate oriented so that positive means "as predicted"."""
    a = units.get(claim.condition, [])
    if claim.kind == "greater":
        test = welch(a, units.get(claim.other or "", []), confidence)
        oriented, p_pred, p_opp = test["estimate"], test["p_greater"], test["p_less"]
    elif claim.kind in ("above", "paired"):
        test = one_sample(a, claim.ref if claim.kind == "above" else 0.0, confidence)
        oriented, p_pred, p_opp = test["estimate"], test["p_greater"], test["p_less"]
    elif claim.kind == "below":
        test = one_sample(a, claim.ref, confidence)
        oriented, p_pred, p_opp = -test["estimate"], test["p_less"], test["p_greater"]
    else:
        raise ValueError(f"unknown claim kind {claim.kind!r}; valid: greater, above, below, paired")
    p = p_pred if oriented >= 0 else p_opp
    return {**test, "oriented": oriented, "p": p, "verdict": verdict(oriented, p_pred, p_opp, alpha, never)}


# --------------------------------------------------------------------------------------------------
# Grouping results
# --------------------------------------------------------------------------------------------------


def column(rows: Iterable[Mapping[str, Any]], name: str) -> np.ndarray:
    """The values of ``name`` in ``rows`` as floats (missing or empty -> NaN)."""
    out = []
    for row in rows:
        value = row.get(name)
        try:
            out.append(float(value) if value not in (None, "") else float("nan"))
        except (TypeError, ValueError):
            out.append(float("nan"))
    return np.asarray(out, dtype=np.float64)


def unit_values(
    rows: Sequence[Mapping[str, Any]], value: Callable[[Sequence[Mapping[str, Any]]], np.ndarray]
) -> np.ndarray:
    """One value per unit: the NaN-aware mean of ``value(rows of the unit)`` for each training seed when the rows are
    learned (they carry a ``seed``), else one value per episode."""
    seeds = [row.get("seed") for row in rows]
    if any(s not in (None, "") for s in seeds):
        groups: dict[Any, list[Mapping[str, Any]]] = defaultdict(list)
        for row in rows:
            groups[str(row.get("seed"))].append(row)
        means = []
        for key in sorted(groups, key=lambda s: (len(s), s)):
            x = finite(value(groups[key]))
            means.append(float(x.mean()) if x.size else float("nan"))
        return np.asarray(means)
    return np.asarray(value(rows), dtype=np.float64)


def metric_units(rows: Sequence[Mapping[str, Any]], metric: str) -> np.ndarray:
    """:func:`unit_values` of one column."""
    return unit_values(rows, lambda r: column(r, metric))


def claim_units(claim: Claim, rows_by_condition: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, np.ndarray]:
    """The per-unit values each condition of ``claim`` contributes."""
    units = {}
    for condition in claim.conditions:
        rows = rows_by_condition.get(condition, [])
        if claim.kind == "paired" and condition == claim.condition:
            units[condition] = unit_values(rows, lambda r: column(r, claim.metric) - column(r, claim.metric_b or ""))
        else:
            units[condition] = metric_units(rows, claim.metric)
    return units


def never_occurs(claim: Claim, rows: Sequence[Mapping[str, Any]]) -> bool:
    """True when a strategy claimed to appear is zero in every evaluated episode of the predicted condition."""
    if not claim.appears or not rows:
        return False
    x = finite(column(rows, claim.metric))
    return bool(x.size) and bool(np.all(x == 0))


def assess(
    claims: Sequence[Claim],
    rows_by_condition: Mapping[str, Sequence[Mapping[str, Any]]],
    alpha: float = 0.05,
    confidence: float = 0.95,
    by_scenario: Mapping[str, Mapping[str, Sequence[Mapping[str, Any]]]] | None = None,
) -> list[dict[str, Any]]:
    """Every claim judged on ``rows_by_condition`` (doctrine -> evaluated episode rows of the training scenario), or,
    for a claim read in another scenario, on ``by_scenario[scenario]``; a claim whose conditions (or scenario) are
    missing gets verdict ``n/a``."""
    results = []
    for claim in claims:
        rows_by_condition_here = (by_scenario or {}).get(claim.scenario, {}) if claim.scenario else rows_by_condition
        results.append(_assess_one(claim, rows_by_condition_here, alpha, confidence))
    return results


def _assess_one(
    claim: Claim, rows_by_condition: Mapping[str, Sequence[Mapping[str, Any]]], alpha: float, confidence: float
) -> dict[str, Any]:
    if any(c not in rows_by_condition or not rows_by_condition[c] for c in claim.conditions if c != claim.context):
        return {"claim": claim, "verdict": "n/a"}
    units = claim_units(claim, rows_by_condition)
    never = never_occurs(claim, rows_by_condition[claim.condition])
    result = judge(claim, units, alpha, confidence, never)
    result["claim"] = claim
    result["summary"] = {c: mean_ci(units[c], confidence) for c in units}
    return result


# --------------------------------------------------------------------------------------------------
# Formatting
# --------------------------------------------------------------------------------------------------


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


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]], align: str | None = None) -> str:
    """A GitHub-flavoured Markdown table (``align``: one of l/r/c per column; default first left, rest right)."""
    align = align or ("l" + "r" * (len(header) - 1))
    marks = {"l": ":---", "r": "---:", "c": ":---:"}
    lines = ["| " + " | ".join(str(h) for h in header) + " |", "|" + "|".join(marks[a] for a in align) + "|"]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def claims_table(results: Sequence[Mapping[str, Any]], scripted: Sequence[Mapping[str, Any]] | None = None) -> str:
    """The claims with the measured values and verdicts (learned, and scripted baselines when given)."""
    header = ["claim", "measure", "learned: values (mean [95% CI])", "estimate [95% CI]", "p", "verdict"]
    if scripted is not None:
        header += ["scripted: values", "scripted verdict"]
    rows = []
    for k, result in enumerate(results):
        claim: Claim = result["claim"]
        row = [f"**{claim.text}** ({claim.source})", claim.measure, *_claim_cells(result)]
        if scripted is not None:
            cells = _claim_cells(scripted[k])
            row += [cells[0], cells[3]]
        rows.append(row)
    return markdown_table(header, rows, "ll" + "l" * (len(header) - 2))


def _claim_cells(result: Mapping[str, Any]) -> list[str]:
    if result.get("verdict") == "n/a":
        return ["-", "-", "-", "n/a"]
    claim: Claim = result["claim"]
    summary = result["summary"]
    values = "; ".join(f"{c}: {fmt_summary(summary[c])}" for c in summary)
    if claim.kind == "paired":
        values = f"{claim.condition} difference: {fmt_summary(summary[claim.condition])}"
    if math.isfinite(result.get("ci_low", float("nan"))):
        estimate = f"{fmt(result['estimate'])} [{fmt(result['ci_low'])}, {fmt(result['ci_high'])}]"
    else:
        estimate = fmt(result.get("estimate"))
    return [values, estimate, fmt_p(result.get("p")), f"**{result['verdict']}**"]


# --------------------------------------------------------------------------------------------------
# Plots (matplotlib, Agg backend; every figure returned as PNG bytes)
# --------------------------------------------------------------------------------------------------


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    _pyplot().close(fig)
    return buffer.getvalue()


def plot_metric_bars(
    summaries: Mapping[str, Mapping[str, Mapping[str, Mapping[str, Any]]]],
    metrics: Sequence[str],
    conditions: Sequence[str],
    title: str,
) -> bytes:
    """Bars of each metric per condition with their 95% intervals: ``summaries[policy][condition][metric]`` holds
    ``mean_ci`` summaries (policy: learned, scripted, random...)."""
    plt = _pyplot()
    cols = min(4, len(metrics))
    nrows = -(-len(metrics) // cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(3.6 * cols, 2.8 * nrows), squeeze=False)
    policies = list(summaries)
    width = 0.8 / max(len(policies), 1)
    hatches = ["", "//", "..", "xx", "\\\\"]
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, metric in zip(axes.flat, metrics, strict=False):
        for p, policy in enumerate(policies):
            xs, means, errs = [], [], [[], []]
            for c, condition in enumerate(conditions):
                s = summaries[policy].get(condition, {}).get(metric)
                if not s or not s.get("n"):
                    continue
                mean = s["mean"]
                low = s["ci_low"] if math.isfinite(s["ci_low"]) else mean
                high = s["ci_high"] if math.isfinite(s["ci_high"]) else mean
                xs.append(c + (p - (len(policies) - 1) / 2) * width)
                means.append(mean)
                errs[0].append(max(mean - low, 0.0))
                errs[1].append(max(high - mean, 0.0))
            if xs:
                ax.bar(
                    xs,
                    means,
                    width,
                    yerr=errs,
                    capsize=2,
                    label=policy,
                    color=colors[p % len(colors)],
                    hatch=hatches[p % len(hatches)],
                    edgecolor="black",
                    linewidth=0.4,
                )
        ax.set_title(metric, fontsize=9)
        ax.set_xticks(range(len(conditions)))
        ax.set_xticklabels(conditions, fontsize=7, rotation=20 if len(conditions) > 3 else 0)
        ax.tick_params(axis="y", labelsize=7)
        ax.axhline(0, color="black", linewidth=0.5)
    for ax in list(axes.flat)[len(metrics) :]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper right", fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0, 0.92, 0.95))
    return _png(fig)


def plot_learning_curves(
    curves: Mapping[str, Mapping[Any, Sequence[Mapping[str, float]]]],
    baselines: Mapping[str, Mapping[str, Mapping[str, float]]] | None = None,
) -> bytes:
    """Mean episode return per doctrine against timesteps, one panel per condition: ``curves[condition][seed]`` is a
    run's ``metrics.json`` curve (thin lines: seeds; thick: their mean); ``baselines[condition][label]`` gives
    ``{doctrine: return}`` of the baselines in evaluation (dashed lines)."""
    plt = _pyplot()
    names = list(curves)
    cols = min(3, max(len(names), 1))
    nrows = max(-(-len(names) // cols), 1)
    fig, axes = plt.subplots(nrows, cols, figsize=(4.2 * cols, 3.0 * nrows), squeeze=False)
    colors = {"security": "tab:blue", "power": "tab:red"}
    styles = ["-.", "--", ":"]
    for ax, condition in zip(axes.flat, names, strict=False):
        per_doctrine: dict[str, dict[float, list[float]]] = defaultdict(lambda: defaultdict(list))
        for curve in curves[condition].values():
            keys = sorted({k for point in curve for k in point if k.startswith("return/")})
            for key in keys:
                doctrine = key.split("/", 1)[1]
                xs = [p["timesteps"] for p in curve if p.get(key) is not None]
                ys = [p[key] for p in curve if p.get(key) is not None]
                ax.plot(xs, ys, color=colors.get(doctrine, "gray"), alpha=0.3, linewidth=0.8)
                for x, y in zip(xs, ys, strict=True):
                    per_doctrine[doctrine][x].append(y)
        for doctrine, points in per_doctrine.items():
            xs = sorted(points)
            ax.plot(
                xs,
                [np.mean(points[x]) for x in xs],
                color=colors.get(doctrine, "gray"),
                linewidth=2,
                label=f"learned ({doctrine})",
            )
        for k, (label, values) in enumerate((baselines or {}).get(condition, {}).items()):
            for doctrine, value in values.items():
                if value is not None and math.isfinite(value):
                    ax.axhline(
                        value,
                        color=colors.get(doctrine, "gray"),
                        linestyle=styles[k % len(styles)],
                        linewidth=1,
                        label=f"{label} ({doctrine})",
                    )
        ax.set_title(condition, fontsize=9)
        ax.set_xlabel("agent-steps", fontsize=8)
        ax.set_ylabel("episode return per nation", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=6)
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    fig.tight_layout()
    return _png(fig)


def plot_power_shares(traces: Mapping[str, Mapping[str, Sequence[Sequence[float]] | None]], title: str) -> bytes:
    """Power shares of every nation over one episode: ``traces[condition][label]`` is ``[turn][nation]`` (one row
    of panels per condition, one column per label: learned, scripted...)."""
    plt = _pyplot()
    conditions = list(traces)
    labels = list(dict.fromkeys(label for c in conditions for label in traces[c]))
    fig, axes = plt.subplots(
        max(len(conditions), 1),
        max(len(labels), 1),
        figsize=(3.8 * max(len(labels), 1), 2.4 * len(conditions)),
        squeeze=False,
    )
    for r, condition in enumerate(conditions):
        for c, label in enumerate(labels):
            ax = axes[r][c]
            shares = traces[condition].get(label)
            if shares is None:
                ax.axis("off")
                continue
            s = np.asarray(shares, dtype=np.float64)
            for i in range(s.shape[1]):
                ax.plot(np.arange(s.shape[0]), s[:, i], linewidth=1, label=f"nation_{i}")
            ax.set_ylim(0, 1)
            ax.set_title(f"{condition}: {label}", fontsize=9)
            ax.set_xlabel("turn", fontsize=8)
            ax.set_ylabel("power share", fontsize=8)
            ax.tick_params(labelsize=7)
    handles, names = axes[0][0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, names, loc="upper right", fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0, 0.9, 0.95))
    return _png(fig)


# --------------------------------------------------------------------------------------------------
# The experiment's report
# --------------------------------------------------------------------------------------------------

#: Metrics shown in the tables of every setting and in the bar plots (the full list is in the self-play table).
HEADLINE = (
    "war_onsets",
    "wars",
    "eliminations",
    "territorial_change",
    "status_quo_kept",
    "final_hhi",
    "peak_hhi",
    "hegemony_reached",
    "arms_racing",
    "buck_passing",
    "demands_made",
    "demands_conceded",
    "bait_and_bleed",
    "bloodletting",
    "balancing",
    "alliances_formed",
    "casualties",
    "escalation_per_nation_turn",
)
PLOTTED = (
    "war_onsets",
    "territorial_change",
    "eliminations",
    "peak_hhi",
    "hegemony_reached",
    "arms_racing",
    "buck_passing",
    "demands_made",
    "bait_and_bleed",
    "bloodletting",
    "balancing",
    "escalation_per_nation_turn",
)
FOCAL = (
    "focal:return",
    "focal:war_onsets",
    "focal:final_share",
    "focal:survived",
    "focal:province_change",
    "focal:mean_arms_level",
    "focal:demands_made",
    "focal:buck_passing",
    "focal:bait_and_bleed",
)

Rows = Sequence[Mapping[str, Any]]


def group_rows(rows: Rows, *keys: str) -> dict[tuple[Any, ...], list[Mapping[str, Any]]]:
    """Rows grouped by the values of ``keys`` (as strings)."""
    groups: dict[tuple[Any, ...], list[Mapping[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[tuple(str(row.get(k, "")) for k in keys)].append(row)
    return groups


def summaries(rows: Rows, metrics: Sequence[str], confidence: float) -> dict[str, dict[str, float]]:
    """{metric: mean_ci over units} (units: seeds for learned rows, episodes for baselines)."""
    return {m: mean_ci(metric_units(rows, m), confidence) for m in metrics}


def _units_label(policy: str) -> str:
    return "seeds" if policy == "learned" else "episodes"


def _doctrines_of(condition_doctrine: str) -> list[str]:
    """The doctrines present in a condition: a mixed population's (:data:`realism_env.MIXED_ORDER`), or its own."""
    return list(MIXED_ORDER) if condition_doctrine == "mixed" else [condition_doctrine]


#: The episode behaviour the theories argue about (focal nations' means, realism_env.NATION_METRICS): balancing
#: against bandwagoning (Waltz; Walt), buck-passing (Mearsheimer; the critics' balance failures), blackmail (demands),
#: bait-and-bleed and bloodletting (Mearsheimer), arms racing (the security dilemma, Jervis), and war itself.
BEHAVIOUR = (
    "balancing", "bandwagoning", "buck_passing", "demands_made", "bait_and_bleed", "bloodletting", "arms_racing",
    "war_onsets", "mean_arms_level",
)  # fmt: skip
_ACT_PHRASE = {
    "wait": "wait", "attack": "attack", "ally": "propose or accept alliances", "leave_alliance": "leave alliances",
    "threaten": "make threats", "concede": "concede to demands", "support": "send aid", "peace": "offer peace",
}  # fmt: skip
_WHO = {"security": "Security-maximisers", "power": "Power-maximisers", "mixed": "In mixed populations, the nations"}


def strategy_section(
    design: Any, rows_of: Callable[[str, str, str, str], Sequence[Mapping[str, Any]]], confidence: float
) -> list[str]:
    """ "Which strategies emerge": per learned condition, in self-play in the training scenario, the focal nations'
    acts and arms levels, their agreement with each scripted archetype (:mod:`train.strategy`) with its interval over
    seeds and the closest archetype, and the behaviour the theories argue about; scripted and random nations in the
    same worlds beside them. Returns the section's markdown parts."""
    from realism_env import Act
    from train.strategy import ARCHETYPES

    setting = design.settings[0].name
    pct = f"{100 * confidence:g}%"
    parts = [
        "## Which strategies emerge",
        f"Self-play in `{design.scenario}`, every nation. Shares of the nations' turns; learned: mean [{pct} interval] "
        "over seeds, scripted and random: means over episodes in the same worlds. *Agreement with an archetype*: the "
        "share of turns on which that scripted policy, fed the same observations with its own memory, would have "
        "taken the same act toward the same nation (`train/strategy.py`); the random nations' agreement is the "
        "chance level, and a scripted defensive realist agrees with its own archetype on every turn.",
    ]
    acts = [f"act_{a.name.lower()}" for a in Act]
    for condition in design.conditions:
        learned = rows_of(condition.world, condition.name, "learned", setting)
        if not learned or f"focal:{acts[0]}" not in learned[0]:
            continue
        references = {p: rows_of(condition.world, condition.name, p, setting) for p in ("scripted", "random")}

        def learned_mean(name: str, learned: Sequence[Mapping[str, Any]] = learned) -> dict[str, float]:
            return mean_ci(metric_units(learned, f"focal:{name}"), confidence)

        def share(name: str) -> dict[str, float]:
            """A share of turns: its interval clipped to [0, 1] (a t interval over a few seeds can overshoot)."""
            summary = learned_mean(name)
            return {**summary, "ci_low": max(summary["ci_low"], 0.0), "ci_high": min(summary["ci_high"], 1.0)}

        def reference(policy: str, name: str, references: Mapping[str, Any] = references) -> str:
            data = references[policy]
            return fmt(float(np.mean(finite(column(data, f"focal:{name}"))))) if data else "-"

        n_levels = sum(1 for key in learned[0] if key.startswith("focal:arms_level_"))
        levels = [f"arms_level_{k}" for k in range(n_levels)]
        agreement = {name: share(f"agree_{name}") for name in ARCHETYPES}
        closest = max(ARCHETYPES, key=lambda name: agreement[name]["mean"])
        shares = {name: share(name) for name in acts + levels}
        top = sorted(acts, key=lambda name: -shares[name]["mean"])[:2]
        level = max(levels, key=lambda name: shares[name]["mean"])
        chance = reference("random", f"agree_{closest}")
        top = [name for name in top if name == top[0] or shares[name]["mean"] >= 0.05]
        doing = " and ".join(f"{_ACT_PHRASE[name[4:]]} ({100 * shares[name]['mean']:.0f}% of turns)" for name in top)
        parts.append(f"### `{condition.name}`" + (f" ({condition.world})" if len(design.worlds) > 1 else ""))
        parts.append(
            f"**{_WHO.get(condition.doctrine, condition.name)} learned to {doing}, at arms level "
            f"{level.rsplit('_', 1)[1]} on {100 * shares[level]['mean']:.0f}% of turns; the closest archetype is "
            f"`{closest}`, whose choice they make on {100 * agreement[closest]['mean']:.0f}% of turns "
            f"[{fmt(100 * agreement[closest]['ci_low'])}, {fmt(100 * agreement[closest]['ci_high'])}] "
            f"(a random nation: {fmt(100 * float(chance)) if chance != '-' else '-'}%).**"
        )
        header = ["", "learned", "scripted", "random"]
        table = [[f"agree `{name}`", fmt_summary(agreement[name]), reference("scripted", f"agree_{name}"),
                  reference("random", f"agree_{name}")] for name in ARCHETYPES]  # fmt: skip
        table += [[f"`{name}`", fmt_summary(shares[name]), reference("scripted", name), reference("random", name)]
                  for name in acts + levels]  # fmt: skip
        table += [[f"`{name}` (per nation)", fmt_summary(learned_mean(name)), reference("scripted", name),
                   reference("random", name)] for name in BEHAVIOUR]  # fmt: skip
        parts.append(markdown_table(header, table, "lrrr"))
    return parts


#: A learned security nation's self-play return must reach this share of the scripted defensive realists'.
SELFPLAY_BAR = 0.97


def learner_checks(
    design: Any, rows_of: Callable[[str, str, str, str], Sequence[Mapping[str, Any]]], confidence: float
) -> list[dict[str, Any]]:
    """How learned nations compare with the scripted realists in matched worlds: security self-play in the training
    scenario (own return >= :data:`SELFPLAY_BAR` x the defensive realists'), and every focal setting (the learned
    focal nations' return >= the scripted focal baseline's among the same background). One dict per check: label,
    learned (mean and interval over seeds), scripted mean, ratio, bar, meets."""
    checks = []
    train_setting = design.settings[0].name
    for condition in design.conditions:
        doctrines = _doctrines_of(condition.doctrine)
        where = f" ({condition.world})" if len(design.worlds) > 1 else ""
        for setting in design.settings:
            if setting.selfplay and setting.name != train_setting:
                continue
            learned_rows = rows_of(condition.world, condition.name, "learned", setting.name)
            scripted_rows = rows_of(condition.world, condition.name, "scripted", setting.name)
            if not learned_rows or not scripted_rows:
                continue
            if setting.selfplay:
                if "security" not in doctrines:
                    continue
                metric, factor = "security:return", SELFPLAY_BAR
                label = f"`{condition.name}`{where}: security self-play in `{setting.scenario}`"
            else:
                metric, factor = "focal:return", 1.0
                held = ", held out" if setting.heldout else ""
                label = f"`{condition.name}`{where}: focal among `{setting.background}` in `{setting.scenario}`{held}"
            learned = mean_ci(metric_units(learned_rows, metric), confidence)
            scripted = float(np.mean(finite(column(scripted_rows, metric))))
            bar = factor * scripted
            checks.append(
                {
                    "label": label,
                    "learned": learned,
                    "scripted": scripted,
                    "ratio": learned["mean"] / scripted if scripted else float("nan"),
                    "bar": bar,
                    "meets": bool(learned["mean"] >= bar),
                }
            )
    return checks


def write_report(
    design: Any,
    out: Path,
    rows: Rows,
    traces: Mapping[tuple[str, str, Any], Any],
    runs: Mapping[tuple[str, int], Mapping[str, Any]],
    timing: Mapping[str, Any],
    command: str,
    units: Mapping[str, str] | None = None,
) -> Path:
    """Write ``out/report.md`` and ``out/plots/*.png`` from the results rows (results.csv), the power-share traces,
    each run's ``metrics.json`` (``runs[(condition, seed)]``) and the timing of this invocation."""
    from train.checkpoint import atomic_write_bytes

    ev = design.evaluate
    confidence, alpha = float(ev["confidence"]), float(ev["alpha"])
    pct = f"{100 * confidence:g}%"
    units = dict(units or {})
    plots = out / "plots"
    by = group_rows(rows, "world", "condition", "policy", "setting")
    train_setting = design.settings[0].name
    baselines = list(ev["baselines"])
    parts: list[str] = []
    total_train = sum(float(m.get("total_wall_time_s") or 0.0) for m in runs.values())

    def rows_of(world: str, condition: str, policy: str, setting: str) -> list[Mapping[str, Any]]:
        return by.get((world, condition, policy, setting), [])

    def save(name: str, data: bytes) -> str:
        atomic_write_bytes(plots / name, data)
        return f"plots/{name}"

    # ---- header -----------------------------------------------------------------------------------
    conditions = design.conditions
    worlds = design.worlds
    parts.append(f"# Experiment report: {design.name}")
    last = timing.get("last") or {}
    parts.append(
        f"Command: `{command}`  \nWall time of training and evaluation: {timing.get('wall_time_s', 0):.0f} s over "
        f"{timing.get('invocations', 0)} invocation(s) (the last: {last.get('wall_time_s', 0):.0f} s with "
        f"{last.get('workers', '?')} workers, {last.get('trained', 0)} runs trained, {last.get('evaluated', 0)} "
        f"evaluation jobs; every invocation is in `timing.json`); training time summed over runs: {total_train:.0f} s."
    )
    sweep = "; ".join(f"`{k}` in {v}" for k, v in design.sweep.items()) or "none"
    parts.append(
        "**Design.** Conditions: "
        + ", ".join(f"`{d}`" for d in design.doctrines)
        + f" (mixed: nations alternate {' and '.join(MIXED_ORDER)}, nation_0 {MIXED_ORDER[0]}, one network with "
        "the doctrine indicator); "
        f"training scenario `{design.scenario}`; sweep: {sweep}; seeds {list(design.seeds)}; "
        f"{design.train.get('timesteps', 'default')} agent-steps per run "
        "(train.fast_ppo, self-play, one shared network per run). "
        f"Evaluation: {ev['episodes']} matched episodes per run and setting (env seeds {ev['seed']}.."
        f"{ev['seed'] + ev['episodes'] - 1}, {design.eval_max_cycles} turns), "
        + ("deterministic" if ev["deterministic"] else "stochastic")
        + " learned policies; settings: "
        + ", ".join(f"`{s.name}`" + (" (held out)" if s.heldout else "") for s in design.settings)
        + f". Baselines in the same worlds: {', '.join(f'`{b}`' for b in baselines) or 'none'} (scripted: "
        "defensive_realist for security nations, offensive_realist for power nations; random: self-play only)."
    )
    parts.append(
        f"**Statistics.** A learned condition's unit is the training seed (its mean over the evaluation episodes); "
        f"means carry Student-t {pct} intervals over seeds. Baselines have no training seed: their unit is the "
        f"episode. Pairwise differences: Welch's t test over seeds with Holm's adjustment across metrics. Claims: "
        f"one-sided tests at alpha = {alpha:g}; {RULE}. Details: the docstring of `train/report.py`."
    )

    # ---- how good the learners are (first: a learner that falls short is said at once) ------------
    checks = learner_checks(design, rows_of, confidence)
    short = [c for c in checks if not c["meets"]]
    verdict_line = (
        f"**Learners against the scripted realists: {len(checks) - len(short)} of {len(checks)} checks met.** "
        + ("Falls short: " + "; ".join(c["label"] for c in short) + "." if short else "Every check is met.")
    )
    parts.insert(1, verdict_line)
    parts.append("## Learners against the scripted realists")
    parts.append(
        "Matched worlds (the same env seeds for learned and scripted populations). Self-play: a learned security "
        f"nation's own return against the scripted `defensive_realist`'s in the same worlds; it meets the bar at "
        f"{SELFPLAY_BAR:g}x or more. Focal: learned nations as the focal nations among a scripted background, "
        "against the scripted focal baseline of their doctrine (`defensive_realist` for security, "
        "`offensive_realist` for power) among the same background; the bar is the baseline's mean. Learned values "
        f"are means over seeds with {pct} intervals."
    )
    parts.append(
        markdown_table(
            ["check", "learned", "scripted", "ratio", "bar", "met"],
            [
                [c["label"], fmt_summary(c["learned"]), fmt(c["scripted"]), fmt(c["ratio"]), fmt(c["bar"]),
                 "yes" if c["meets"] else "**no**"]
                for c in checks
            ],
            "lrrrrc",
        )
    )  # fmt: skip

    parts += strategy_section(design, rows_of, confidence)

    # ---- claims -----------------------------------------------------------------------------------
    claim_results: dict[str, list[dict[str, Any]]] = {}
    parts.append("## The essay's claims")
    for world, _point in worlds:

        def by_doctrine(
            policy: str, world: str = world, setting: str = train_setting
        ) -> dict[str, list[Mapping[str, Any]]]:
            return {c.doctrine: rows_of(world, c.name, policy, setting) for c in conditions if c.world == world}

        def by_scenario(policy: str) -> dict[str, dict[str, list[Mapping[str, Any]]]]:
            """The self-play rows of every held-out scenario (for the claims read there)."""
            return {s.scenario: by_doctrine(policy, setting=s.name) for s in design.settings if s.selfplay}

        learned = assess(CLAIMS, by_doctrine("learned"), alpha, confidence, by_scenario("learned"))
        scripted = (
            assess(CLAIMS, by_doctrine("scripted"), alpha, confidence, by_scenario("scripted"))
            if "scripted" in baselines
            else None
        )
        claim_results[world] = learned
        title = f"### World `{world}`" + (f" ({', '.join(f'{k}={v}' for k, v in _point)})" if _point else "")
        parts.append(title if len(worlds) > 1 else f"Self-play in the training scenario `{design.scenario}`.")
        parts.append(claims_table(learned, scripted))
    if len(worlds) > 1:
        overview = [
            [claim.text] + [claim_results[w][k]["verdict"] for w, _ in worlds] for k, claim in enumerate(CLAIMS)
        ]
        parts.append("### Verdicts across worlds")
        parts.append(markdown_table(["claim", *(w for w, _ in worlds)], overview, "l" + "c" * len(worlds)))
    parts.append(
        "Values are means with "
        + pct
        + " intervals (learned: over seeds; scripted: over episodes); the estimate is the tested quantity (a "
        "difference of means, or the mean minus the reference) and p its one-sided p value in the direction the "
        "estimate points. Verdict rule: "
        + RULE
        + ". Claims marked n/a need a condition this preset did not train, or self-play in a scenario it did not "
        "evaluate (the rising-power claims read `rising_power`, a held-out scenario of the full preset)."
    )

    # ---- per setting tables -----------------------------------------------------------------------
    parts.append("## Behaviour per condition")
    parts.append(
        f"Each cell: mean [{pct} interval] (learned: over {len(design.seeds)} seeds; baselines: over episodes). "
        "Metric definitions: `realism_env.METRICS` (README) and the `realism_env/metrics.py` docstrings."
    )
    for world, _point in worlds:
        world_conditions = [c for c in conditions if c.world == world]
        if len(worlds) > 1:
            parts.append(f"### World `{world}`")
        for setting in design.settings:
            if setting.name == train_setting:
                metrics = list(units) if units else list(HEADLINE)
            else:
                metrics = list(HEADLINE)
            if not setting.selfplay:
                metrics = list(FOCAL) + metrics
            header = ["metric"]
            columns: list[tuple[str, str]] = []
            for c in world_conditions:
                for policy in ["learned", *baselines]:
                    if policy != "learned" and policy != "scripted" and not setting.selfplay:
                        continue
                    if rows_of(world, c.name, policy, setting.name):
                        columns.append((c.name, policy))
                        header.append(f"{c.name} {policy}")
            table = []
            cache = {
                col: summaries(rows_of(world, col[0], col[1], setting.name), metrics, confidence) for col in columns
            }
            for m in metrics:
                label = f"`{m}`" + (f" ({units[m]})" if m in units else "")
                table.append([label] + [fmt_summary(cache[col][m]) for col in columns])
            kind = "held out" if setting.heldout else ("training scenario" if setting.selfplay else "focal")
            parts.append(f"#### `{setting.name}` ({kind})")
            if not setting.selfplay:
                parts.append(
                    f"Nations 0..{setting.n_focal - 1} are the focal (learned or baseline) nations, the others play "
                    f"`{setting.background}`; `focal:*` columns average over the focal nations."
                )
            parts.append(markdown_table(header, table))

    # ---- returns: learned against the baselines ---------------------------------------------------
    parts.append("## Learned policies against the baselines (episode return per nation)")
    table = []
    for c in conditions:
        for doctrine in _doctrines_of(c.doctrine):
            cells = [c.name, doctrine]
            learned_units = metric_units(rows_of(c.world, c.name, "learned", train_setting), f"{doctrine}:return")
            for policy in ["learned", *baselines]:
                data = rows_of(c.world, c.name, policy, train_setting)
                cells.append(
                    fmt_summary(mean_ci(metric_units(data, f"{doctrine}:return"), confidence)) if data else "-"
                )
            for policy in baselines:
                reference = mean_ci(column(rows_of(c.world, c.name, policy, train_setting), f"{doctrine}:return"))
                test = one_sample(learned_units, reference["mean"], confidence)
                cells.append(f"{fmt(test['estimate'])} (p {fmt_p(test['p_greater'])})")
            table.append(cells)
    parts.append(
        f"Self-play in `{design.scenario}`: the mean over a doctrine's nations of their own-doctrine episode return. "
        "`learned - X`: the learned mean minus baseline X's, with the one-sided p of a t test over seeds that the "
        "learned policies earn more (the baseline's mean taken as fixed). In self-play a power-maximiser's return is "
        "nearly constant-sum (relative power), so only the security rows measure learning directly."
    )
    align = "ll" + "r" * (1 + 2 * len(baselines))
    header = ["condition", "doctrine", "learned", *baselines, *(f"learned - {b}" for b in baselines)]
    parts.append(markdown_table(header, table, align))

    # ---- pairwise differences ---------------------------------------------------------------------
    parts.append("## Pairwise differences between conditions (learned, self-play, training scenario)")
    parts.append(
        f"B - A with its Welch {pct} interval over seeds, two-sided Welch p and Holm-adjusted p (across the metrics "
        "of the pair). Headline metrics; every metric is in results.csv."
    )
    for world, _point in worlds:
        world_conditions = [c for c in conditions if c.world == world]
        for a, b in itertools.combinations(world_conditions, 2):
            ra, rb = rows_of(world, a.name, "learned", train_setting), rows_of(world, b.name, "learned", train_setting)
            if not ra or not rb:
                continue
            tests = [welch(metric_units(rb, m), metric_units(ra, m), confidence) for m in HEADLINE]
            adjusted = holm([t["p_two"] for t in tests])
            table = []
            for m, t, adj in zip(HEADLINE, tests, adjusted, strict=True):
                diff = f"{fmt(t['estimate'])} [{fmt(t['ci_low'])}, {fmt(t['ci_high'])}]"
                table.append([f"`{m}`", fmt(t["mean_a"]), fmt(t["mean_b"]), diff, fmt_p(t["p_two"]), fmt_p(adj)])
            parts.append(f"### A = `{a.name}`, B = `{b.name}`")
            parts.append(markdown_table(["metric", "B mean", "A mean", "B - A [CI]", "p", "Holm p"], table))

    # ---- plots ------------------------------------------------------------------------------------
    parts.append("## Plots")
    for world, _point in worlds:
        world_conditions = [c for c in conditions if c.world == world]
        data = {}
        for policy in ["learned", *baselines]:
            data[policy] = {
                c.name: summaries(rows_of(world, c.name, policy, train_setting), PLOTTED, confidence)
                for c in world_conditions
            }
        name = save(
            f"metrics_{world}.png",
            plot_metric_bars(
                data,
                PLOTTED,
                [c.name for c in world_conditions],
                f"self-play in {design.scenario} ({world}): mean and {pct} interval",
            ),
        )
        parts.append(f"![metrics {world}]({name})")
    curves = {c.name: {s: runs.get((c.name, s), {}).get("curve", []) for s in design.seeds} for c in conditions}
    lines: dict[str, dict[str, dict[str, float]]] = {}
    for c in conditions:
        lines[c.name] = {}
        for policy in ["learned", *baselines]:
            data = rows_of(c.world, c.name, policy, train_setting)
            if data:
                doctrines = _doctrines_of(c.doctrine)
                label = "learned, evaluated" if policy == "learned" else policy
                lines[c.name][label] = {d: mean_ci(column(data, f"{d}:return"))["mean"] for d in doctrines}
    name = save("learning_curves.png", plot_learning_curves(curves, lines))
    parts.append(
        "Learning curves: mean episode return per nation in training (thin: seeds; thick: their mean), with the "
        "evaluation returns of the final learned policies and of the baselines as horizontal lines (training "
        "episodes and evaluation episodes have the same length"
        + ("" if design.eval_max_cycles == design.train.get("max_cycles") else ", unless [evaluate] max_cycles differs")
        + "). Training samples actions from the policy; "
        + (
            "evaluation plays its most likely allowed action, so the two can differ."
            if ev["deterministic"]
            else "evaluation samples too."
        )
    )
    parts.append(f"![learning curves]({name})")
    for world, _point in worlds:
        world_traces: dict[str, dict[str, Any]] = {}
        for c in (c for c in conditions if c.world == world):
            world_traces[c.name] = {f"learned seed {design.seeds[0]}": traces.get((c.name, "learned", design.seeds[0]))}
            if "scripted" in baselines:
                world_traces[c.name]["scripted"] = traces.get((c.name, "scripted", None))
        name = save(
            f"power_shares_{world}.png",
            plot_power_shares(
                world_traces, f"power shares over episode seed {ev['seed']} ({design.scenario}, {world})"
            ),
        )
        parts.append(f"Power shares of every nation over one self-play episode (env seed {ev['seed']}):")
        parts.append(f"![power shares {world}]({name})")

    # ---- training runs ----------------------------------------------------------------------------
    parts.append("## Training runs")
    table = []
    for c in conditions:
        for s in design.seeds:
            m = runs.get((c.name, s), {})
            returns = ", ".join(f"{d} {fmt(r)}" for d, r in (m.get("mean_episode_return") or {}).items())
            table.append(
                [
                    f"`runs/{c.name}/seed{s}`",
                    m.get("num_timesteps", "-"),
                    fmt(m.get("total_wall_time_s")),
                    fmt(m.get("agent_steps_per_s")),
                    returns or "-",
                ]
            )
    parts.append(markdown_table(["run", "timesteps", "wall s", "agent-steps/s", "last mean return"], table))

    # ---- reproduction -----------------------------------------------------------------------------
    parts.append("## Files and reproduction")
    parts.append(
        "- `results.csv`: one row per evaluated episode. Columns: `world`, `condition`, `doctrine` (the condition's "
        "training doctrine), `policy` (learned, scripted, random), `seed` (training seed; empty for baselines), "
        "`setting`, `scenario`, `heldout` (0/1), `n_focal`, `background`, `focal_policy`, `episode_seed` (the env "
        "seed: matched across populations), `turns`, the sweep fields, every metric of `realism_env.METRICS`, then "
        "`focal:<m>` and `<doctrine>:<m>` (the mean over the focal nations / the nations of that doctrine of each "
        "per-nation metric of `realism_env.NATION_METRICS` and of `return`, the episode return of the nation's own "
        "doctrine). Empty cells are NaN (a metric undefined in that episode).\n"
        "- `experiment.json` and `preset.toml`: the resolved preset (`python -m train.experiment --preset-file "
        "preset.toml --out DIR` reruns it), the command and versions.\n"
        "- `runs/<condition>/seed<k>/`: `config.json` (train.fast_ppo arguments and the full EnvConfig), "
        "`metrics.json` (training summary and learning curve), `model.pt`, `checkpoints/`, `tb/`, `train.log`.\n"
        "- `evals/<condition>/<seed<k>|scripted|random>/<setting>.json`: each evaluation's population, doctrines, "
        "full EnvConfig, episode rows and cache key.\n"
        "- Every number of this report is computed from `results.csv` (and the runs' `metrics.json` for the "
        "learning curves) by `train/report.py`."
    )
    path = out / "report.md"
    atomic_write_bytes(path, ("\n\n".join(parts) + "\n").encode())
    return path
