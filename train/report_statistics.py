"""Statistics of the experiment's report, with numpy only (no SciPy): Student's t distribution, means with t
intervals, Welch's and one-sample t tests, Holm's adjustment, and the per-unit values they are computed on (the
training seed for learned rows, the episode for baselines). The rules, as every report states them, are in the
docstring of :mod:`train.report`."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from realism_env import metric_bounds

#: Rows as results.csv has them (one per evaluated episode).
Rows = Sequence[Mapping[str, Any]]


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


#: the verdict of a difference without an interval (one unit: a single training seed, or one run of one episode)
UNTESTED = "untested (no interval)"
#: A difference this small against the values compared is rounding, not a difference: a doctrine that rewards shares
#: alone gives every self-play population the same mean return, up to the last bits of its sums.
ROUNDING = 1e-9


def interval_verdict(difference: Mapping[str, float], above: str, below: str, scale: float = 1.0) -> str:
    """``above`` when the interval of ``difference`` (a :func:`mean_ci` summary) lies above 0, ``below`` when below
    it, :data:`UNTESTED` without an interval, else ``no clear difference`` (also for an interval within
    :data:`ROUNDING` times ``scale``, the size of the values compared, of 0)."""
    low, high = difference["ci_low"], difference["ci_high"]
    if not (math.isfinite(low) and math.isfinite(high)):
        return UNTESTED
    if max(abs(low), abs(high)) <= ROUNDING * max(abs(scale), 1.0):
        return "no clear difference"
    if low > 0:
        return above
    if high < 0:
        return below
    return "no clear difference"


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
    """t statistic, one- and two-sided p values and the interval of ``estimate`` (``se == 0``: see
    "Degenerate samples" in the docstring of :mod:`train.report`)."""
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
        return np.asarray([finite_mean(value(group)) for group in seed_groups(rows).values()])
    return np.asarray(value(rows), dtype=np.float64)


def seed_groups(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    """Learned rows grouped by training seed (the ``seed`` column as text), in the seeds' order: the units."""
    groups: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[str(row.get("seed"))].append(row)
    return {key: groups[key] for key in sorted(groups, key=lambda s: (len(s), s))}


def finite_mean(values: np.ndarray) -> float:
    """The mean of the finite values (NaN when there are none)."""
    x = finite(values)
    return float(x.mean()) if x.size else float("nan")


def metric_units(rows: Sequence[Mapping[str, Any]], metric: str) -> np.ndarray:
    """:func:`unit_values` of one column."""
    return unit_values(rows, lambda r: column(r, metric))


def column_bounds(name: str) -> tuple[float, float]:
    """The range of a results.csv column's values: its metric's (``realism_env.metric_bounds``; ``security:wars`` and
    ``focal:wars`` read ``wars``), unbounded for returns and anything else."""
    return metric_bounds(name.rsplit(":", 1)[-1])


def within(summary: dict[str, float], bounds: tuple[float, float]) -> dict[str, float]:
    """``summary`` (:func:`mean_ci`) with its interval clipped to ``bounds``: a t interval over a few units can reach
    past what the values can take (below 0 for a count that is often 0), where the mean cannot."""
    low, high = bounds
    return {**summary, **{end: float(np.clip(summary[end], low, high)) for end in ("ci_low", "ci_high")}}


def summaries(rows: Rows, metrics: Sequence[str], confidence: float) -> dict[str, dict[str, float]]:
    """{metric: mean_ci over units} (units: seeds for learned rows, episodes for baselines), each interval within its
    column's range (:func:`column_bounds`)."""
    return {m: within(mean_ci(metric_units(rows, m), confidence), column_bounds(m)) for m in metrics}
