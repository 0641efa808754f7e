"""Summaries with bootstrap confidence intervals, for evaluation and training (numpy only).

A summary is ``{"mean", "ci_low", "ci_high", "n"}``:

- ``n`` counts the *finite* values; NaN (a metric undefined in that episode, such as the mean war duration of an
  episode without war) and infinities are left out before anything is computed;
- ``mean`` is the mean of those values;
- ``[ci_low, ci_high]`` is the percentile bootstrap interval (Efron & Tibshirani 1993, ch. 13): draw ``n_resamples``
  samples of size ``n`` with replacement from the values, take the mean of each, and read the
  ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` quantiles of those means;
- with ``n == 0`` every field but ``n`` is NaN; with ``n == 1`` the interval is NaN (one value says nothing of its
  spread, so no difference it shows is significant); with all of ``n >= 2`` values equal the interval is the point;
- ``ci_low <= mean <= ci_high`` wherever the interval is defined: in the rare very skewed sample whose percentile
  interval would leave out the sample mean, the interval is widened to reach it.

The resampling uses ``np.random.default_rng(seed)``, made afresh for every summary, so a summary depends only on its
values and arguments (not on what was summarised before) and is reproducible.

Paired differences (:func:`paired_difference`) summarise ``b[k] - a[k]`` over the pairs ``k`` in which both values
are finite: the matched-worlds comparison of two populations, episode ``k`` of one against episode ``k`` of the
other (the design of the M3 paired differences in ``anchors.md``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

#: Resamples per bootstrap interval (the percentile interval's end points settle well before 2000 at 95%).
N_RESAMPLES = 2000
#: Coverage of the intervals.
CONFIDENCE = 0.95

Summary = dict[str, float]


def finite(values: Sequence[float] | np.ndarray) -> np.ndarray:
    """The finite entries of ``values`` as a float64 vector (NaN and infinities dropped)."""
    x = np.asarray(values, dtype=np.float64).ravel()
    return x[np.isfinite(x)]


def bootstrap_means(
    values: Sequence[float] | np.ndarray, n_resamples: int = N_RESAMPLES, seed: int | np.random.SeedSequence = 0
) -> np.ndarray:
    """``n_resamples`` means of samples drawn with replacement from the finite ``values`` (empty if none)."""
    x = finite(values)
    if n_resamples < 1:
        raise ValueError(f"n_resamples={n_resamples} is invalid; valid: an integer >= 1")
    if x.size == 0:
        return np.empty(0)
    rng = np.random.default_rng(seed)
    index = rng.integers(0, x.size, size=(n_resamples, x.size))
    return x[index].mean(axis=1)


def summarize(
    values: Sequence[float] | np.ndarray,
    confidence: float = CONFIDENCE,
    n_resamples: int = N_RESAMPLES,
    seed: int | np.random.SeedSequence = 0,
) -> Summary:
    """``{"mean", "ci_low", "ci_high", "n"}`` of the finite ``values``: the mean and its percentile bootstrap
    interval (see the module docstring)."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence={confidence!r} is invalid; valid: a number strictly between 0 and 1")
    x = finite(values)
    if x.size == 0:
        return {"mean": float("nan"), "ci_low": float("nan"), "ci_high": float("nan"), "n": 0}
    mean = float(x.mean())
    if x.size == 1:
        return {"mean": mean, "ci_low": float("nan"), "ci_high": float("nan"), "n": 1}
    if np.all(x == x[0]):
        return {"mean": mean, "ci_low": mean, "ci_high": mean, "n": int(x.size)}
    means = bootstrap_means(x, n_resamples, seed)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    # Widen to the sample mean in the rare skewed sample whose percentile interval leaves it out (module docstring).
    return {"mean": mean, "ci_low": float(min(low, mean)), "ci_high": float(max(high, mean)), "n": int(x.size)}


def paired_difference(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    confidence: float = CONFIDENCE,
    n_resamples: int = N_RESAMPLES,
    seed: int | np.random.SeedSequence = 0,
) -> Summary:
    """Summary of ``b[k] - a[k]`` over the pairs where both are finite (``n`` counts those pairs)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired samples must have the same shape; got {a.shape} and {b.shape}")
    return summarize(b - a, confidence, n_resamples, seed)  # inf - inf and NaN drop out as non-finite


def summarize_rows(
    rows: Sequence[Mapping[str, float]],
    names: Sequence[str] | None = None,
    confidence: float = CONFIDENCE,
    n_resamples: int = N_RESAMPLES,
    seed: int = 0,
) -> dict[str, Summary]:
    """``{name: summary}`` over a list of ``{name: value}`` rows (a row lacking a name counts as NaN there)."""
    names = list(names if names is not None else dict.fromkeys(k for row in rows for k in row))
    return {name: summarize([row.get(name, np.nan) for row in rows], confidence, n_resamples, seed) for name in names}


def significant(summary: Mapping[str, Any]) -> bool:
    """Whether the interval of ``summary`` excludes zero (both ends on the same side of it)."""
    low, high = summary["ci_low"], summary["ci_high"]
    if not (np.isfinite(low) and np.isfinite(high)):
        return False
    return bool(low > 0 or high < 0)
