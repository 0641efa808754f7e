"""Array operations the rules share: gathers along the nation axis and a masked zero, in array-API style.

Each is the standard spelling that stays fast at thousands of worlds on numpy, where the obvious one is not (measured
on [4096, 6, 6] arrays on one CPU core): ``take_along_axis`` builds index arrays for every axis and gathers element by
element (a gather of [W, N, P] rows by nation took 1.0 ms; one ``take`` of the flattened rows takes 0.03 ms), and
``where(keep, values, 0)`` runs at about 2 ns an element, four times a product with the 0/1 mask. On torch both
spellings are one kernel each.
"""

from __future__ import annotations

from typing import Any

from realism_env.backend import array_namespace, device_of


def take_rows(values: Any, index: Any) -> Any:
    """``values[w, index[w, m], ...]`` for every world ``w``: the [W, M, ...] rows of ``values`` ([W, N, ...]) at the
    nation indices ``index`` ([W, M] int64), as ``take_along_axis`` along the nation axis."""
    xp = array_namespace(values)
    n_worlds, n = values.shape[0], values.shape[1]
    first_row = xp.arange(0, n_worlds * n, n, dtype=index.dtype, device=device_of(index))[:, None]  # w * n
    rows = xp.take(xp.reshape(values, (n_worlds * n, -1)), xp.reshape(index + first_row, (-1,)), axis=0)
    return xp.reshape(rows, (n_worlds, index.shape[1], *values.shape[2:]))


def toward_target(pairs: Any, target: Any) -> Any:
    """[W, N] each nation's entry of pairwise ``pairs`` ([W, N, N]) toward its ``target`` ([W, N] nation index):
    ``pairs[w, i, target[w, i]]``."""
    xp = array_namespace(pairs)
    n_worlds, n = target.shape
    # row (w, i) of the pairs starts at (w * n + i) * n of them flattened
    row_start = xp.arange(0, n_worlds * n * n, n, dtype=target.dtype, device=device_of(target))
    entries = xp.take(xp.reshape(pairs, (-1,)), xp.reshape(target, (-1,)) + row_start)
    return xp.reshape(entries, (n_worlds, n))


def zero_unless(keep: Any, values: Any) -> Any:
    """``values`` where ``keep``, 0 elsewhere (``where(keep, values, 0)``, broadcast alike), for finite ``values``: a
    product with the 0/1 mask (inf or nan times 0 would be nan)."""
    xp = array_namespace(values)
    return values * xp.astype(keep, values.dtype)
