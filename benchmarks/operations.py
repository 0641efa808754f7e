"""Single array operations at the batched step's and the trainer's shapes, each beside its reference in one run.

    python -m benchmarks.operations [--worlds 4096] [--nations 6] [--repeats 300]

Why. A batched step is a few hundred array operations, and what one costs depends on its shape as much as on its
size: numpy and torch run an operation whose operands broadcast over a short inner axis (a nation axis, 6 long) with
an inner loop of 6 elements per row, several times slower than the same operation on operands of equal shapes. And
torch's CPU kernels differ from one machine to the next (``tanh`` against the ``sigmoid`` it can be written with).
This prints each case's time (median of ``--repeats`` calls after a warm-up, one thread, wall time) and its ratio to
the reference on its line: for a broadcast, the same operation on operands of equal shapes; for ``tanh``,
``2 sigmoid(2x) - 1``. docs/benchmarks.md gives the figures of 2026-12-05.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np


def median_us(operation: Callable[[], Any], repeats: int) -> float:
    """Median wall time of one call of ``operation`` in microseconds."""
    for _ in range(max(repeats // 10, 3)):
        operation()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        operation()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def broadcast_cases(asarray: Callable[[np.ndarray], Any], worlds: int, n: int) -> list[tuple[str, Any, Any]]:
    """(name, operation, reference) of the broadcasts the rules use on ``[worlds, n, n]`` arrays."""
    rng = np.random.default_rng(0)
    flags, other = asarray(rng.random((worlds, n, n)) < 0.5), asarray(rng.random((worlds, n, n)) < 0.5)
    vector = asarray(rng.random((worlds, n)) < 0.5)
    values, column = asarray(rng.random((worlds, n, n))), asarray(rng.random((worlds, n)))
    same_bool = lambda: flags & other  # noqa: E731
    same_float = lambda: values * values  # noqa: E731
    return [
        ("bool & a [W, 1, N] row", lambda: flags & vector[:, None, :], same_bool),
        ("bool & a [W, N, 1] column", lambda: flags & vector[:, :, None], same_bool),
        ("outer product of two [W, N] bools", lambda: vector[:, :, None] & vector[:, None, :], same_bool),
        ("float * a [W, N, 1] column", lambda: values * column[:, :, None], same_float),
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.operations",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--worlds", type=int, default=4096, help="worlds of the arrays (default: %(default)s)")
    parser.add_argument("--nations", type=int, default=6, help="nations of the arrays (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=300, help="timed calls of each (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.worlds < 1 or args.nations < 2 or args.repeats < 1:
        parser.error("--worlds and --repeats must be >= 1 and --nations >= 2")
    shape = f"[{args.worlds}, {args.nations}, {args.nations}]"
    rows = []
    namespaces: list[tuple[str, Callable[[np.ndarray], Any]]] = [("numpy", np.asarray)]
    try:
        import torch

        torch.set_num_threads(1)
        namespaces.append(("torch", torch.as_tensor))
    except ImportError:
        torch = None
    for library, asarray in namespaces:
        for name, operation, reference in broadcast_cases(asarray, args.worlds, args.nations):
            found, same = median_us(operation, args.repeats), median_us(reference, args.repeats)
            rows.append((library, f"{name}, {shape}", found, "equal shapes", same))
    if torch is not None:
        x = torch.randn(2048, 64, generator=torch.Generator().manual_seed(0))
        via_sigmoid = lambda: torch.sigmoid(x * 2.0).mul_(2.0).sub_(1.0)  # noqa: E731
        found, reference = median_us(lambda: torch.tanh(x), args.repeats), median_us(via_sigmoid, args.repeats)
        rows.append(("torch", "tanh, [2048, 64] float32", found, "2 sigmoid(2x) - 1", reference))
    print(f"{'library':8s} {'operation':48s} {'us':>9s}   {'reference':18s} {'us':>9s}   ratio")
    for library, name, found, reference_name, reference in rows:
        ratio = found / reference
        print(f"{library:8s} {name:48s} {found:9.1f}   {reference_name:18s} {reference:9.1f}   {ratio:5.1f}x")
    print("median wall time of one call, one thread; ratio: the operation over its reference, measured in this run")


if __name__ == "__main__":
    main()
