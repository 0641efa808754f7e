"""Where a ``WorldBatch`` step spends its time: cProfile (and torch.profiler on torch) of a few steps.

    python -m benchmarks.profile_batch --backend numpy --worlds 4096 [--steps 5] [--top 30]
    python -m benchmarks.profile_batch --backend torch --worlds 4096 --torch-profiler

After ``--warmup`` steps (one episode by default), ``--steps`` steps with random valid actions (chosen as in
:mod:`benchmarks.batch`) run under cProfile (timed in the process's CPU time); the ``--top`` entries are printed sorted
by own time (tottime: which array operations cost) and by cumulative time (which rule functions cost, with what they
call), then the callers of the most expensive built-in operations (which lines of the rules call them).
``--torch-profiler`` also runs the steps under ``torch.profiler`` and prints its table of operators by self CPU time
(self device time on a GPU), then the same per operator and input shapes (which arrays cost).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time

import realism_env
from benchmarks.batch import is_cuda, random_actions
from realism_env.backend import BACKENDS, DTYPES
from realism_env.batch import WorldBatch


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.profile_batch",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--backend", default="numpy", choices=BACKENDS, help="backend (default: %(default)s)")
    parser.add_argument("--device", default="cpu", help="torch's device (default: %(default)s)")
    parser.add_argument("--worlds", type=int, default=4096, help="worlds stepped together (default: %(default)s)")
    parser.add_argument("--steps", type=int, default=5, help="profiled steps (default: %(default)s)")
    parser.add_argument(
        "--warmup",
        type=int,
        default=None,
        help="steps before profiling (default: one episode, --max-cycles steps, as in benchmarks.batch: the first "
        "episode's one-time costs would skew the profile)",
    )
    parser.add_argument("--dtype", default=None, choices=DTYPES, help="float dtype (default: WorldBatch's own)")
    parser.add_argument("--scenario", default="multipolar", choices=sorted(realism_env.SCENARIOS), help="scenario")
    parser.add_argument("--max-cycles", type=int, default=50, help="turns per episode (default: %(default)s)")
    parser.add_argument("--top", type=int, default=30, help="entries of each table (default: %(default)s)")
    parser.add_argument(
        "--callers", type=int, default=12, help="built-in operations whose callers are listed (default: %(default)s)"
    )
    parser.add_argument("--torch-threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--torch-profiler", action="store_true", help="also run torch.profiler (torch only)")
    parser.add_argument("--seed", type=int, default=0, help="seed (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.warmup is None:
        args.warmup = args.max_cycles
    device = args.device if args.backend == "torch" else None
    if args.backend == "torch" and args.torch_threads is not None:
        import torch

        torch.set_num_threads(args.torch_threads)
    config = realism_env.EnvConfig.from_scenario(args.scenario, max_cycles=args.max_cycles)
    try:
        batch = WorldBatch(config, args.worlds, seed=args.seed, backend=args.backend, device=device, dtype=args.dtype)
    except ValueError as error:
        sys.exit(f"cannot profile backend {args.backend!r}: {error}")
    _, mask = batch.reset()
    choose = random_actions(batch, args.seed)
    synchronize = lambda: None  # noqa: E731
    if args.backend == "torch" and is_cuda(args.device):
        import torch

        synchronize = lambda: torch.cuda.synchronize(args.device)  # noqa: E731
    for _ in range(args.warmup):
        mask = batch.step(choose(mask)).action_mask
    synchronize()

    profile = cProfile.Profile(time.process_time)  # CPU time: a shared machine's waits are not charged
    start = time.process_time()
    profile.enable()
    for _ in range(args.steps):
        mask = batch.step(choose(mask)).action_mask
    synchronize()
    profile.disable()
    elapsed = time.process_time() - start
    print(
        f"{args.backend} {batch.backend.device} {batch.backend.float_dtype} {args.worlds} worlds: {args.steps} steps "
        f"in {elapsed:.2f} CPU s under cProfile ({1000 * elapsed / args.steps:.0f} ms a step)"
    )
    for order in ("tottime", "cumulative"):
        text = io.StringIO()
        pstats.Stats(profile, stream=text).strip_dirs().sort_stats(order).print_stats(args.top)
        print(f"\n===== cProfile by {order} =====")
        print(text.getvalue().split("\n\n", 1)[-1].strip())
    text = io.StringIO()
    pstats.Stats(profile, stream=text).strip_dirs().sort_stats("tottime").print_callers(r"\{|built-in", args.callers)
    print("\n===== callers of the most expensive built-in operations =====")
    print(text.getvalue().split("\n\n", 1)[-1].strip())

    if args.torch_profiler and args.backend == "torch":
        from torch.profiler import ProfilerActivity
        from torch.profiler import profile as torch_profile

        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if is_cuda(args.device) else [])
        with torch_profile(activities=activities, record_shapes=True) as prof:
            for _ in range(args.steps):
                mask = batch.step(choose(mask)).action_mask
            synchronize()
        sort = "self_device_time_total" if is_cuda(args.device) else "self_cpu_time_total"
        print(f"\n===== torch.profiler by {sort} =====")
        print(prof.key_averages().table(sort_by=sort, row_limit=args.top))
        print(f"\n===== torch.profiler by {sort}, per operator and input shapes =====")
        print(
            prof.key_averages(group_by_input_shape=True).table(
                sort_by=sort, row_limit=args.top, max_name_column_width=40
            )
        )


if __name__ == "__main__":
    main()
