"""Throughput of the batched numpy backend (``realism_env.batch.WorldBatch``) as the number of worlds grows.

    python -m benchmarks.batch [--worlds 1 16 64 256] [--seconds 1.5] [--scenario multipolar]

Random valid actions for every nation of every world (one argmax over random scores masked by the action mask).
Prints batched steps, world-steps and agent-steps per second (CPU time), each against the single-world row, so the
gain from stepping many worlds in one call reads as a ratio measured in the same run.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import realism_env
from realism_env.batch import WorldBatch


def measure(config: realism_env.EnvConfig, n_worlds: int, seconds: float, seed: int = 0) -> float:
    """World-steps per second of ``n_worlds`` worlds with random valid actions."""
    batch = WorldBatch(config, n_worlds, seed=seed)
    _, mask = batch.reset()
    rng = np.random.default_rng(seed)
    steps = 0
    start = time.process_time()
    while time.process_time() - start < seconds:
        actions = (rng.random(mask.shape) * mask).argmax(axis=2)
        mask = batch.step(actions).action_mask
        steps += 1
    return steps * n_worlds / (time.process_time() - start)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worlds", type=int, nargs="+", default=[1, 16, 64, 256], help="batch sizes to measure")
    parser.add_argument("--seconds", type=float, default=1.5, help="CPU seconds per batch size")
    parser.add_argument("--scenario", default="multipolar", choices=sorted(realism_env.SCENARIOS))
    args = parser.parse_args(argv)
    config = realism_env.EnvConfig.from_scenario(args.scenario, max_cycles=50)
    print(f"{'worlds':>8}{'world-steps/s':>16}{'agent-steps/s':>16}{'vs 1 world':>12}")
    reference = None
    for n_worlds in args.worlds:
        rate = measure(config, n_worlds, args.seconds)
        reference = reference or rate
        print(f"{n_worlds:>8}{rate:>16,.0f}{rate * config.n_nations:>16,.0f}{rate / reference:>11.1f}x")


if __name__ == "__main__":
    main()
