"""Memory per world of ``WorldBatch`` and of ``train.fast_ppo``: how many worlds fit on a machine.

    python -m benchmarks.memory --backend numpy torch --device cpu --worlds 256 1024 4096 --trainer-worlds 64 256 1024

What is measured. Each configuration runs in a process of its own, so that one's peak never hides another's:

1. ``WorldBatch``: a batch of ``W`` worlds of ``--scenario`` on the backend is reset and stepped ``--max-cycles`` + 1
   turns with random valid actions (:func:`benchmarks.batch.random_actions`), so that the step where every world
   ends, and fresh worlds are made, is among them;
2. ``train.fast_ppo``: a run of two rollouts of ``W`` worlds and their updates (``--n-steps`` turns, minibatches of
   ``--batch-size``, the ``--actor`` network; the full preset's values by default; the second rollout is collected
   after the first's update, as every later one is), its ``peak_memory_bytes`` read from its ``metrics.json``.

Each reads :func:`realism_env.backend.peak_memory_bytes`: on a CPU the process's peak resident set (the interpreter
and its libraries included), on a CUDA ``--device`` the peak of torch's caching allocator there (arrays only).

How to read it. A straight line through the peaks (least squares over the world counts) splits them into a fixed
part (what the process holds whatever the batch: libraries, the network, the map bank's share) and a part per world,
its slope: the figure that sizes ``--n-worlds``. ``state`` is one world's own arrays (the ``World`` that
``WorldBatch.state_dict`` saves), the reference measured in the same run: ``x state`` is the slope over it, how much
more a step holds than the worlds it advances (its intermediate arrays, the observations and masks it returns, the
fresh worlds of a step where worlds end; for the trainer the rollout's storage and the update's activations too).
The last line of each part says how many worlds fit in ``--memory-gib`` (default: the machine's memory, or the CUDA
device's). A fit over world counts too small to dwarf the fixed part reads noisy: the allocator's own steps show.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from realism_env.backend import BACKENDS, DTYPES, resolve_backend

MIB = 2**20


def batch_peak(backend: str, device: str, dtype: str | None, scenario: str, max_cycles: int, n_worlds: int) -> dict:
    """In this process: a ``WorldBatch`` of ``n_worlds`` stepped past its first episode's end; its memory in bytes."""
    import realism_env
    from benchmarks.batch import random_actions
    from realism_env.backend import peak_memory_bytes
    from realism_env.batch import WorldBatch
    from realism_env.world import array_fields

    config = realism_env.EnvConfig.from_scenario(scenario, max_cycles=max_cycles)
    batch = WorldBatch(config, n_worlds, seed=0, backend=backend, device=device, dtype=dtype)
    _, masks = batch.reset()
    choose = random_actions(batch, seed=1)
    for _ in range(max_cycles + 1):  # the last turn ends every world that lasted its max_cycles: fresh worlds
        masks = batch.step(choose(masks)).action_mask
    state = sum(getattr(batch.world, name).nbytes for name in array_fields())
    return {
        "peak": peak_memory_bytes(batch.backend.device),
        "state_per_world": state / n_worlds,
        "map_bank": sum(array.nbytes for array in batch.maps),
        "n_nations": batch.n_nations,
    }


def trainer_peak(args: argparse.Namespace, n_worlds: int, python: str) -> dict:
    """A ``train.fast_ppo`` run of two rollouts and their updates, in a process of its own; its memory in bytes."""
    import realism_env

    n_nations = realism_env.EnvConfig.from_scenario(args.scenario).n_nations
    with tempfile.TemporaryDirectory() as out:
        command = [
            python, "-m", "train.fast_ppo", "--scenario", args.scenario, "--max-cycles", str(args.max_cycles),
            "--n-worlds", str(n_worlds), "--n-steps", str(args.n_steps), "--batch-size", str(args.batch_size),
            "--actor", args.actor, "--timesteps", str(2 * args.n_steps * n_worlds * n_nations), "--device", args.device,
            "--checkpoint-every", "0", "--no-progress-bar", "--out", out,
        ]  # fmt: skip
        if args.device != "cpu":
            command += ["--backend", "torch"]
        finished = subprocess.run(command, capture_output=True, text=True)
        if finished.returncode != 0:
            raise SystemExit(f"error: {' '.join(command)} failed:\n{finished.stderr[-2000:]}")
        metrics = json.loads((Path(out) / "metrics.json").read_text())
    return {"peak": metrics["peak_memory_bytes"], "n_nations": n_nations}


def run_child(args: argparse.Namespace, backend: str, n_worlds: int, python: str) -> dict:
    """:func:`batch_peak` in a fresh process."""
    command = [
        python, "-m", "benchmarks.memory", "--child", "--backend", backend, "--device", args.device,
        "--scenario", args.scenario, "--max-cycles", str(args.max_cycles), "--worlds", str(n_worlds),
    ]  # fmt: skip
    if args.dtype:
        command += ["--dtype", args.dtype]
    finished = subprocess.run(command, capture_output=True, text=True)
    if finished.returncode != 0:
        raise SystemExit(f"error: {' '.join(command)} failed:\n{finished.stderr[-2000:]}")
    return json.loads(finished.stdout.strip().splitlines()[-1])


def per_world_fit(worlds: list[int], peaks: list[float]) -> tuple[float, float]:
    """(bytes per world, fixed bytes): the least-squares line through the peaks; one world count: all per world."""
    if len(set(worlds)) < 2:
        return peaks[0] / worlds[0], 0.0
    slope, intercept = np.polyfit(np.asarray(worlds, dtype=float), np.asarray(peaks, dtype=float), 1)
    return float(slope), float(intercept)


def memory_budget(device: str, memory_gib: float | None) -> tuple[float, str]:
    """Bytes to fit worlds in, and where they come from."""
    if memory_gib is not None:
        return memory_gib * 2**30, f"{memory_gib:g} GiB (--memory-gib)"
    if device.startswith("cuda"):
        import torch

        properties = torch.cuda.get_device_properties(device)
        return float(properties.total_memory), f"{properties.name}'s {properties.total_memory / 2**30:.0f} GiB"
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return float(total), f"this machine's {total / 2**30:.0f} GiB"


def report(title: str, worlds: list[int], rows: list[dict], state_per_world: float | None, budget: tuple) -> None:
    """One part's table, its fit and how many worlds fit in the budget."""
    print(title)
    print(f"{'worlds':>8}{'peak MiB':>12}{'per world KiB':>15}")
    for n_worlds, row in zip(worlds, rows, strict=True):
        print(f"{n_worlds:>8,}{row['peak'] / MIB:>12,.1f}{row['peak'] / n_worlds / 1024:>15,.1f}")
    per_world, fixed = per_world_fit(worlds, [row["peak"] for row in rows])
    against = ""
    if state_per_world:
        against = f", {per_world / state_per_world:.1f}x state ({state_per_world / 1024:.1f} KiB)"
    print(f"fit: {per_world / 1024:,.1f} KiB per world{against}, fixed {fixed / MIB:,.0f} MiB")
    room, where = budget
    fits = int((room - max(fixed, 0.0)) // per_world) if per_world > 0 else 0
    print(f"worlds that fit in {where}: about {fits:,}\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", nargs="+", default=["numpy"], choices=BACKENDS, help="WorldBatch backends")
    parser.add_argument("--device", default="cpu", help="cpu or a CUDA device (the torch backend and the trainer)")
    parser.add_argument("--dtype", choices=DTYPES, default=None, help="the worlds' floats (default: the backend's)")
    parser.add_argument("--worlds", type=int, nargs="+", default=[256, 1024, 4096], help="WorldBatch world counts")
    trainer_help = "train.fast_ppo's --n-worlds (none: skip the trainer)"
    parser.add_argument("--trainer-worlds", type=int, nargs="*", default=[64, 256, 1024], help=trainer_help)
    parser.add_argument("--scenario", default="multipolar")
    parser.add_argument("--max-cycles", type=int, default=100, help="turns per episode (the full preset's)")
    parser.add_argument("--n-steps", type=int, default=32, help="train.fast_ppo's --n-steps (the full preset's)")
    parser.add_argument("--batch-size", type=int, default=16384, help="train.fast_ppo's --batch-size (full preset's)")
    parser.add_argument("--actor", default="per_nation", choices=("per_nation", "mlp"), help="train.fast_ppo's --actor")
    parser.add_argument("--memory-gib", type=float, default=None, help="memory to fit worlds in (default: all)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)  # one batch_peak, as JSON
    args = parser.parse_args(argv)
    if args.child:  # the parent checked the arguments; torch is imported only if the batch's backend needs it
        (backend,), (n_worlds,) = args.backend, args.worlds
        print(json.dumps(batch_peak(backend, args.device, args.dtype, args.scenario, args.max_cycles, n_worlds)))
        return
    import realism_env

    try:
        realism_env.EnvConfig.from_scenario(args.scenario, max_cycles=args.max_cycles)
        for backend in args.backend:
            resolve_backend(backend, args.device, args.dtype)
        if args.trainer_worlds:  # the trainer's network is torch's, on --device
            resolve_backend("torch", args.device)
    except ValueError as error:
        parser.error(str(error))
    counts = [("--worlds", n) for n in args.worlds] + [("--trainer-worlds", n) for n in args.trainer_worlds]
    for flag, n in counts:
        if n < 1:
            parser.error(f"{flag} {n} is invalid; valid: integers >= 1")
    for flag, value in (("--n-steps", args.n_steps), ("--batch-size", args.batch_size)):
        if value < 1:
            parser.error(f"{flag} {value} is invalid; valid: an integer >= 1")
    if args.memory_gib is not None and not args.memory_gib > 0:
        parser.error(f"--memory-gib {args.memory_gib} is invalid; valid: a number > 0")
    python = sys.executable
    budget = memory_budget(args.device, args.memory_gib)
    where = "peak resident set of the process" if args.device == "cpu" else "torch's allocator peak"
    print(f"{realism_env.NAME} ({args.scenario}, {args.max_cycles}-turn episodes) on {args.device}: {where}\n")
    for backend in args.backend:
        rows = [run_child(args, backend, n, python) for n in args.worlds]
        dtype = args.dtype or ("float64" if args.device == "cpu" else "float32")
        bank = rows[-1]["map_bank"] / MIB
        title = f"WorldBatch, {backend} ({dtype}), {rows[0]['n_nations']} nations; map bank {bank:.1f} MiB at most"
        report(title, args.worlds, rows, rows[-1]["state_per_world"], budget)
    if args.trainer_worlds:
        rows = [trainer_peak(args, n, python) for n in args.trainer_worlds]
        title = (
            f"train.fast_ppo, {args.actor} actor, {args.n_steps}-turn rollouts, minibatches of {args.batch_size:,}, "
            f"two rollouts and their updates"
        )
        report(title, args.trainer_worlds, rows, None, budget)


if __name__ == "__main__":
    main()
