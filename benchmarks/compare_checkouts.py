"""The batched step of this checkout against another checkout's, on this machine, in the same run.

    git worktree add /tmp/before 72ee505        # the code issue 9 measured ("today's")
    python -m benchmarks.compare_checkouts --reference /tmp/before --worlds 4096

Why. A speed target stated against MPE (``benchmarks.batch``'s ``x MPE``) moves with the machine: MPE is pure Python
and numpy is not, and the two speed up differently from one CPU to the next (the ratio read 62.6x, 47.0x and 36.4x on
three machines for the same code). A target stated against earlier code ("3x today's") is measured directly by
stepping both versions here, in turns, and dividing.

What is measured. Each reading is a fresh process that imports ``realism_env`` from one checkout, builds its
``WorldBatch(config, W, seed=...)`` of the scenario and times ``step`` alone (the process's CPU time around each
call; the random valid actions, uniform among each nation's valid flat actions, are picked outside the clock with a
numpy ``Generator``) over ``--episodes`` whole episodes of ``--max-cycles`` turns after one warm-up episode, so every
reading includes the same share of the steps where the worlds end and fresh ones are built. The checkouts take turns
(``--rounds`` readings each), so a drift of the machine's speed falls on both. The last line is the ratio of the
medians: ``this checkout over the reference: N.NNx``. Any checkout whose ``WorldBatch`` takes ``(config, n_worlds,
seed=)`` and returns the action mask from ``reset()`` (second item) and ``step()`` (``.action_mask``) works, which
every version since the batched backend does; ``--backend torch`` needs both checkouts to have it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]


def _worker(root: str, backend: str, n_worlds: int, episodes: int, scenario: str, max_cycles: int, seed: int) -> None:
    """One reading: print ``{"agent_steps_per_s": ..., "steps": ...}`` for the checkout at ``root``."""
    sys.path.insert(0, root)
    import numpy as np

    import realism_env
    from realism_env.batch import WorldBatch

    if backend == "torch":
        import torch

        torch.set_num_threads(1)
    options = {} if backend == "numpy" else {"backend": backend}
    config = realism_env.EnvConfig.from_scenario(scenario, max_cycles=max_cycles)
    batch = WorldBatch(config, n_worlds, seed=seed, **options)
    mask = batch.reset()[1]
    rng = np.random.default_rng(seed + 1)

    def pick(mask: object) -> np.ndarray:
        valid = np.asarray(mask.cpu() if hasattr(mask, "cpu") else mask) > 0
        return np.argmax(np.where(valid, rng.random(valid.shape), -1.0), axis=2)

    for _ in range(max_cycles):  # one warm-up episode
        mask = batch.step(pick(mask)).action_mask
    clock, steps = 0.0, episodes * max_cycles
    for _ in range(steps):
        actions = pick(mask)
        start = time.process_time()
        step = batch.step(actions)
        clock += time.process_time() - start
        mask = step.action_mask
    agent_steps = steps * n_worlds * config.n_nations
    print(json.dumps({"agent_steps_per_s": agent_steps / clock, "steps": steps, "module": realism_env.__file__}))


def reading(root: Path, args: argparse.Namespace) -> float:
    """Agent-steps/s of one reading of the checkout at ``root`` (a fresh process)."""
    command = [
        sys.executable, __file__, "--worker", str(root), "--backend", args.backend, "--worlds", str(args.worlds),
        "--episodes", str(args.episodes), "--scenario", args.scenario, "--max-cycles", str(args.max_cycles),
        "--seed", str(args.seed),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, cwd=root)
    if done.returncode != 0:
        raise SystemExit(f"error: the checkout {root} could not be stepped:\n{done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if Path(result["module"]).resolve().parents[1] != root.resolve():  # imported from somewhere else (installed?)
        raise SystemExit(f"error: the reading of {root} imported realism_env from {result['module']}")
    return float(result["agent_steps_per_s"])


def check_checkout(path: str) -> Path:
    """``path`` as a checkout holding ``realism_env/batch.py``; exits naming it otherwise."""
    root = Path(path).resolve()
    if not (root / "realism_env" / "batch.py").is_file():
        raise SystemExit(
            f"error: --reference {path} holds no realism_env/batch.py; valid: the root of a checkout of this project "
            "from when WorldBatch existed, e.g. git worktree add /tmp/before 72ee505"
        )
    return root


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.compare_checkouts",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--reference", help="root of the other checkout (git worktree add DIR COMMIT); required")
    parser.add_argument("--worlds", type=int, default=4096, help="worlds stepped together (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=3, help="readings of each checkout (default: %(default)s)")
    parser.add_argument("--episodes", type=int, default=2, help="timed episodes a reading (default: %(default)s)")
    parser.add_argument("--backend", default="numpy", choices=("numpy", "torch"), help="backend (default: numpy)")
    parser.add_argument("--scenario", default="multipolar", help="scenario (default: %(default)s)")
    parser.add_argument("--max-cycles", type=int, default=50, help="turns per episode (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the worlds and actions (default: %(default)s)")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is not None:
        _worker(args.worker, args.backend, args.worlds, args.episodes, args.scenario, args.max_cycles, args.seed)
        return 0.0
    if args.reference is None:
        parser.error("--reference is required: the root of the checkout to compare with")
    for name in ("worlds", "rounds", "episodes", "max_cycles"):
        if getattr(args, name) < 1:
            raise SystemExit(f"error: --{name.replace('_', '-')} {getattr(args, name)} is invalid; valid: 1 or more")
    if args.seed < 0:
        raise SystemExit(f"error: --seed {args.seed} is invalid; valid: an integer >= 0")
    import realism_env  # this checkout's, to check the world here rather than in a worker's traceback

    try:
        realism_env.EnvConfig.from_scenario(args.scenario, max_cycles=args.max_cycles)
    except ValueError as error:
        raise SystemExit(f"error: --scenario {args.scenario} --max-cycles {args.max_cycles}: {error}") from None
    roots = {"this checkout": HERE, "reference": check_checkout(args.reference)}
    print(
        f"{args.backend} WorldBatch.step, {args.worlds} worlds of {args.scenario}, {args.episodes} episodes of "
        f"{args.max_cycles} turns a reading (CPU time, actions picked outside the clock); this checkout {HERE}, "
        f"reference {roots['reference']}",
        flush=True,
    )
    readings: dict[str, list[float]] = {name: [] for name in roots}
    for round_ in range(args.rounds):
        for name, root in roots.items():
            readings[name].append(reading(root, args))
            print(f"  round {round_ + 1}: {name}: {readings[name][-1]:,.0f} agent-steps/s", flush=True)
    medians = {name: statistics.median(values) for name, values in readings.items()}
    for name, values in readings.items():
        print(f"{name:>14}: median {medians[name]:,.0f} agent-steps/s ({min(values):,.0f} to {max(values):,.0f})")
    ratio = medians["this checkout"] / medians["reference"]
    print(f"this checkout over the reference: {ratio:.2f}x")
    return ratio


if __name__ == "__main__":
    main()
