"""The array operations the rules share (``realism_env.array_ops``) and numpy's reductions over a short axis: the same
results as the obvious spelling, on numpy, torch and array-api-strict."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from realism_env.array_ops import take_rows, toward_target, zero_unless
from realism_env.backend import NUMPY, to_numpy


def namespaces() -> list[Any]:
    """The asarray of numpy, then of torch and array-api-strict where installed."""
    found = [pytest.param(np.asarray, id="numpy")]
    try:
        import torch

        found.append(pytest.param(torch.as_tensor, id="torch"))
    except ImportError:
        pass
    try:
        import array_api_strict

        found.append(pytest.param(array_api_strict.asarray, id="array_api_strict"))
    except ImportError:
        pass
    return found


@pytest.mark.parametrize("asarray", namespaces())
@pytest.mark.parametrize("trailing", [(), (7,), (3, 2)])
def test_take_rows_is_take_along_the_nation_axis(asarray: Any, trailing: tuple[int, ...]) -> None:
    rng = np.random.default_rng(0)
    values = rng.random((5, 4, *trailing))
    index = rng.integers(0, 4, (5, 6))
    expected = np.stack([values[w, index[w]] for w in range(5)])
    found = to_numpy(take_rows(asarray(values), asarray(index)))
    assert found.shape == (5, 6, *trailing)
    np.testing.assert_array_equal(found, expected)


@pytest.mark.parametrize("asarray", namespaces())
def test_toward_target_reads_each_nations_entry_toward_its_target(asarray: Any) -> None:
    rng = np.random.default_rng(1)
    pairs = rng.random((3, 4, 4)) < 0.5
    target = rng.integers(0, 4, (3, 4))
    expected = np.array([[pairs[w, i, target[w, i]] for i in range(4)] for w in range(3)])
    np.testing.assert_array_equal(to_numpy(toward_target(asarray(pairs), asarray(target))), expected)


@pytest.mark.parametrize("asarray", namespaces())
@pytest.mark.parametrize("dtype", [np.float64, np.int64])
def test_zero_unless_is_where_with_zero(asarray: Any, dtype: Any) -> None:
    rng = np.random.default_rng(2)
    keep = rng.random((4, 3, 3)) < 0.5
    values = (rng.random((4, 3, 1)) * 10).astype(dtype)  # broadcast over the last axis, as the rules use it
    found = to_numpy(zero_unless(asarray(keep), asarray(values)))
    np.testing.assert_array_equal(found, np.where(keep, values, 0))
    assert found.dtype == dtype


@pytest.mark.parametrize("axis", [1, 2, -1, -2])
@pytest.mark.parametrize("keepdims", [False, True])
def test_numpy_reductions_over_a_short_axis_of_many_worlds_match_numpys(axis: int, keepdims: bool) -> None:
    """Sums, maxima and any over a nation axis of [4096, 6, 6] arrays take the slice path; they equal numpy's."""
    rng = np.random.default_rng(3)
    counts = rng.integers(0, 9, (4096, 6, 6))
    floats = rng.random((4096, 6, 6))
    flags = rng.random((4096, 6, 6)) < 0.2
    np.testing.assert_array_equal(
        NUMPY.sum(counts, axis=axis, keepdims=keepdims), np.sum(counts, axis=axis, keepdims=keepdims)
    )
    np.testing.assert_allclose(
        NUMPY.sum(floats, axis=axis, keepdims=keepdims), np.sum(floats, axis=axis, keepdims=keepdims), rtol=1e-15
    )
    np.testing.assert_array_equal(
        NUMPY.max(floats, axis=axis, keepdims=keepdims), np.max(floats, axis=axis, keepdims=keepdims)
    )
    np.testing.assert_array_equal(
        NUMPY.any(flags, axis=axis, keepdims=keepdims), np.any(flags, axis=axis, keepdims=keepdims)
    )
