"""Throughput of ``realism_env.batch.WorldBatch`` (numpy; torch on CPU or CUDA) against PettingZoo's MPE.

    python -m benchmarks.batch --backend numpy torch --device cpu --worlds 1 64 1024 4096 16384

What is measured. For each backend and each number of worlds ``W``, one ``WorldBatch`` of the scenario (``--scenario``,
episodes of ``--max-cycles`` turns, so ended worlds are replaced inside the step and that reset is part of the cost) is
stepped with random valid actions for ``--seconds`` after ``--warmup`` steps (and at least ``--min-steps`` timed steps,
3 by default, however long they take). The warm-up is one whole episode by default (``--max-cycles`` steps): a batch's
first episode carries costs it pays once, as the memory allocator grows the process's heap to what the batch needs (on
numpy at 4,096 worlds its first steps took 60-110 ms and the step where all its worlds first ended 488 ms, against 29 ms
and 64-100 ms in later episodes), and a training run lives in the later ones (``benchmarks.compare_checkouts`` warms up
the same way). The actions are chosen on the backend, with no host round trip, from the action mask the previous step
returned, exactly uniformly among each nation's valid actions: a uniform arms level (all are always valid) and the
``k``-th valid (act, target) of the level's block, ``k = floor(u * count)``, with float32 uniforms from the backend's
own generator (a numpy ``Generator``; a ``torch.Generator`` on the device). Choosing the actions is part of the measured
time (a few ms per 4096-worlds step on one CPU core); a policy network would cost more.

The reference is PettingZoo's MPE ``simple_spread_v3`` (package ``mpe2``, 3 agents, its default 25-cycle episodes):
one ``ParallelEnv`` stepped with a random action per agent (an integer below its action space's ``n``, as
``benchmarks.step`` does), reset when the episode ends. It runs for ``--seconds`` before the first configuration and
again after each one, and each row is compared with the mean of the two MPE readings taken just before and just after
it (the ``MPE`` column): the speed of a shared machine drifts by 10-20% over a run, and a reference taken beside the
row cancels the drift out of its ratio. The configurations run world count by world count, each backend in turn, so
the torch row that is compared with numpy's ran right after it.

How to read it. ``world-steps/s`` counts worlds advanced one turn per second; ``agent-steps/s`` is that times the
nations of a world (every nation slot, alive or not), the unit of MPE's agent-steps/s (its 3 agents a step). ``x MPE``
is agent-steps/s over MPE's (the row's reference); ``x numpy`` (torch rows) is over the numpy row with the same number
of worlds in the same run. ``steps`` is how many batched steps the figure rests on (few steps: a noisy figure);
``resets`` how many worlds ended and were replaced during them. All worlds of a batch start together and most last
``--max-cycles`` turns (few unify sooner), so most end together, once every ``max_cycles`` steps: numpy builds fresh
worlds only in a step where some world ended, so a row whose few steps include no reset reads a little high (a step
where worlds end costs about twice an ordinary one, once an episode: ``--min-steps`` as large as ``--max-cycles`` times
a whole episode); torch builds fresh worlds every step (no host sync) and keeps those where one ended.

Clocks. CPU rows (numpy, torch on the CPU) and MPE use the process's CPU time (``time.process_time``), steadier than
wall time on a shared machine. CPU time adds up every thread, so a torch row that runs on several threads (the
header prints ``torch.get_num_threads()``; ``--torch-threads`` sets it, 1 by default like numpy's one core, 0 keeps
torch's own) is charged for all of them: it reads as the cost in CPU, not as the latency. Each configuration's
progress line (on stderr) shows the wall time too. CUDA rows
(``--device cuda``) use wall time, with ``torch.cuda.synchronize()`` before the readings at the start and the end
of the budget, so kernels still queued are waited for (the loop itself never synchronizes); numpy rows then still run
on the CPU.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

import realism_env
from realism_env.backend import BACKENDS, DTYPES, resolve_backend
from realism_env.batch import WorldBatch

#: timed steps of a configuration however long they take (after the warm-up), by default
MIN_STEPS = 3
#: how a torch row steps (``--step``): each name's ``WorldBatch(compile=...)``
STEPS = {"eager": False, "compiled": True, "cudagraphs": "reduce-overhead"}
#: MPE steps between two readings of the clock
MPE_CHUNK = 50


@dataclass(frozen=True)
class Row:
    """One measured configuration."""

    backend: str
    device: str
    dtype: str
    worlds: int
    nations: int
    steps: int  #: timed batched steps
    resets: int  #: worlds that ended (and were replaced) in the timed steps
    seconds: float  #: on the row's clock (CPU time, or wall time on CUDA)
    wall_seconds: float
    mpe_reference: float | None = None  #: MPE's agent-steps/s, the mean of the readings just before and after the row
    step: str = "eager"  #: how the torch step ran: a key of STEPS
    compile_seconds: float = 0.0  #: wall time of the first (compiling) step, outside the measured budget

    @property
    def world_steps_per_s(self) -> float:
        return self.steps * self.worlds / self.seconds

    @property
    def agent_steps_per_s(self) -> float:
        return self.world_steps_per_s * self.nations


# --------------------------------------------------------------------------------------------------------- the clocks


def is_cuda(device: str) -> bool:
    """Whether ``device`` names a CUDA device (``"cuda"``, ``"cuda:1"``)."""
    return device.split(":")[0] == "cuda"


def clock_for(backend: str, device: str) -> Callable[[], float]:
    """The clock a row is timed with: wall time after a synchronize on CUDA, the process's CPU time elsewhere."""
    if backend == "torch" and is_cuda(device):
        import torch

        def cuda_wall_time() -> float:
            torch.cuda.synchronize(device)
            return time.perf_counter()

        return cuda_wall_time
    return time.process_time


# ------------------------------------------------------------------------------------------------ random valid actions


class NumpyActions:
    """Uniform random valid actions on numpy.

    Every arms level is always valid, and the mask of each level's block of acts and targets is the same, so a uniform
    valid action is a uniform level and, independently, a uniform valid (act, target) of the first block. Within the
    block, ``rank = cumsum(block)`` counts the valid entries up to each one; with one uniform ``u`` per nation,
    ``k = floor(u * count)``, and the entry is the first where ``rank > k``: an exactly uniform pick that draws two
    numbers per nation (not one per action) and reads one level's block of the mask.
    """

    def __init__(self, n_levels: int, per_level: int, seed: int) -> None:
        self.generator = np.random.default_rng(seed)
        self.n_levels, self.per_level = n_levels, per_level

    def __call__(self, mask: np.ndarray) -> np.ndarray:
        # int32: numpy's cumulative sum into int32 runs about twice as fast as into int16
        rank = mask[..., : self.per_level].cumsum(axis=-1, dtype=np.int32)  # [W, N, K * (N-1)]
        count = rank[..., -1]
        k = (self.generator.random(count.shape, dtype=np.float32) * count).astype(np.int32)
        level = (self.generator.random(count.shape, dtype=np.float32) * self.n_levels).astype(np.int64)
        return level * self.per_level + (rank > k[..., None]).argmax(axis=-1)


class TorchActions:
    """The same pick with a ``torch.Generator`` on the batch's device: nothing crosses to the host."""

    def __init__(self, n_levels: int, per_level: int, seed: int, device: Any) -> None:
        import torch

        self.torch = torch
        self.generator = torch.Generator(device=device)
        self.generator.manual_seed(seed)
        self.n_levels, self.per_level = n_levels, per_level

    def __call__(self, mask: Any) -> Any:
        torch = self.torch
        # The running count as a product with the upper-triangular ones: a scan over a 40-long axis is slow on a GPU
        # (a sixth of the device time of a 65,536-worlds step on an H200), a matrix product is not; exact here.
        entries = torch.arange(self.per_level, device=mask.device)
        prefix = (entries[:, None] <= entries[None, :]).to(torch.float32)
        rank = mask[..., : self.per_level].to(torch.float32) @ prefix
        count = rank[..., -1]
        uniform = torch.rand((2, *count.shape), generator=self.generator, device=count.device, dtype=torch.float32)
        k = torch.floor(uniform[0] * count)
        level = (uniform[1] * self.n_levels).to(torch.int64)
        first = (rank > k[..., None]).to(torch.uint8).argmax(dim=-1)  # torch has no argmax of bools on the CPU
        return level * self.per_level + first


def random_actions(batch: WorldBatch, seed: int) -> Callable[[Any], Any]:
    """The random valid actions of ``batch``'s backend: call it with the last action mask, get ``[W, N]`` actions."""
    n_levels = len(batch.config.arms_shares)
    per_level = batch.n_actions // n_levels
    if batch.backend.name == "numpy":
        return NumpyActions(n_levels, per_level, seed)
    return TorchActions(n_levels, per_level, seed, batch.backend.device)


# ----------------------------------------------------------------------------------------------------- the measurements


def measure_batch(
    config: realism_env.EnvConfig,
    backend: str,
    device: str,
    dtype: str | None,
    n_worlds: int,
    seconds: float,
    warmup: int,
    seed: int,
    min_steps: int = MIN_STEPS,
    step: str = "eager",
) -> Row:
    """Step one ``WorldBatch`` of ``n_worlds`` worlds with random valid actions for ``seconds`` on the row's clock
    (``step``: a key of :data:`STEPS`; a compiled step is compiled in a first step outside the budget)."""
    built = time.perf_counter()
    batch = WorldBatch(config, n_worlds, seed=seed, backend=backend, device=device, dtype=dtype, compile=STEPS[step])
    _, mask = batch.reset()
    choose = random_actions(batch, seed)
    built_s = time.perf_counter() - built
    compile_seconds = 0.0
    if STEPS[step]:
        compiling = clock_for(backend, device) if is_cuda(device) else time.perf_counter  # wall: compile workers too
        start = compiling()
        mask = batch.step(choose(mask)).action_mask
        compile_seconds = compiling() - start
    for _ in range(warmup):
        mask = batch.step(choose(mask)).action_mask
    clock = clock_for(backend, device)
    on_cuda = clock is not time.process_time
    # The budget is read without a synchronize (on CUDA one a step would drain the queue of kernels): the loop stops
    # issuing steps once the budget is spent, and the final reading of ``clock`` waits for all of them.
    budget_clock = time.perf_counter if on_cuda else time.process_time
    gc.collect()
    wall_start = time.perf_counter()
    start = clock()
    budget_start = budget_clock()
    steps, resets = 0, 0  # resets: a count on the backend (a tensor on torch), read once at the end
    while steps < min_steps or budget_clock() - budget_start < seconds:
        out = batch.step(choose(mask))
        mask, resets = out.action_mask, resets + out.world_reset.sum()
        steps += 1
    elapsed = clock() - start
    wall = time.perf_counter() - wall_start
    device_name, dtype_name = str(batch.backend.device), _dtype_name(batch.backend.float_dtype)
    row = Row(
        backend,
        device_name,
        dtype_name,
        n_worlds,
        batch.n_nations,
        steps,
        int(resets),
        elapsed,
        wall,
        step=step,
        compile_seconds=compile_seconds,
    )
    compile_note = f", {step}: compiled in {compile_seconds:.1f} s" if STEPS[step] else ""
    print(
        f"  {backend} {row.device} {row.dtype} {n_worlds} worlds: built in {built_s:.1f} s wall{compile_note}; "
        f"{steps} steps "
        f"({row.resets} world resets) in {elapsed:.2f} s {'wall' if on_cuda else 'CPU'} ({wall:.2f} s wall): "
        f"{row.world_steps_per_s:,.0f} world-steps/s, {row.agent_steps_per_s:,.0f} agent-steps/s",
        file=sys.stderr,
        flush=True,
    )
    del batch, mask, choose, out
    if backend == "torch" and is_cuda(device):
        import torch

        torch.cuda.empty_cache()
    return row


def mpe_installed() -> bool:
    """Whether PettingZoo's MPE (the ``mpe2`` package) can be imported."""
    try:
        import mpe2  # noqa: F401
    except ImportError:
        return False
    return True


def measure_mpe(seconds: float, seed: int) -> float:
    """MPE ``simple_spread_v3``'s agent-steps per CPU second, over ``seconds`` of CPU time after a warm-up."""
    from mpe2 import simple_spread_v3

    env = simple_spread_v3.parallel_env()
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    sizes = {agent: int(env.action_space(agent).n) for agent in env.possible_agents}

    def run(steps: int) -> int:
        agent_steps = 0
        for _ in range(steps):
            if not env.agents:
                env.reset()
            agent_steps += len(env.agents)
            env.step({agent: int(rng.integers(sizes[agent])) for agent in env.agents})
        return agent_steps

    run(MPE_CHUNK)  # warm-up
    gc.collect()
    agent_steps, steps, start = 0, 0, time.process_time()
    while steps == 0 or time.process_time() - start < seconds:
        agent_steps += run(MPE_CHUNK)
        steps += MPE_CHUNK
    elapsed = time.process_time() - start
    env.close()
    return agent_steps / elapsed


# -------------------------------------------------------------------------------------------------------------- report


def _dtype_name(dtype: Any) -> str:
    return str(dtype).rsplit(".", 1)[-1].replace("<class '", "").rstrip("'>")


def machine_line(backends: list[str], device: str) -> str:
    """numpy, torch (and its threads), the CPU cores, and the GPU on CUDA."""
    facts = [
        f"python {platform.python_version()}",
        f"numpy {np.__version__}",
        f"{os.cpu_count()} cores ({platform.machine()}, {platform.system()})",
    ]
    if "torch" in backends:
        import torch

        facts.append(f"torch {torch.__version__} ({torch.get_num_threads()} threads)")
        if is_cuda(device):
            facts.append(f"GPU {torch.cuda.get_device_name(device)}")
    return "machine: " + ", ".join(facts)


def table(rows: list[Row]) -> str:
    """The final table: each row's throughput against MPE (the row's own reference, when measured) and, for torch,
    against numpy at the same world count."""
    numpy_rate = {row.worlds: row.agent_steps_per_s for row in rows if row.backend == "numpy"}
    header = (
        f"{'backend':<8}{'step':<11}{'device':<8}{'dtype':<9}{'worlds':>7}{'world-steps/s':>15}{'agent-steps/s':>15}"
        f"{'MPE':>8}{'x MPE':>8}{'x numpy':>9}{'steps':>7}{'resets':>8}"
    )
    lines = [header]
    for row in rows:
        mpe, versus_mpe = "-", "-"
        if row.mpe_reference is not None:
            mpe, versus_mpe = f"{row.mpe_reference:,.0f}", f"{row.agent_steps_per_s / row.mpe_reference:.2f}"
        versus_numpy = ""
        if row.backend != "numpy" and row.worlds in numpy_rate:
            versus_numpy = f"{row.agent_steps_per_s / numpy_rate[row.worlds]:.2f}"
        lines.append(
            f"{row.backend:<8}{row.step:<11}"
            f"{row.device:<8}{row.dtype:<9}{row.worlds:>7}{row.world_steps_per_s:>15,.0f}"
            f"{row.agent_steps_per_s:>15,.0f}{mpe:>8}{versus_mpe:>8}{versus_numpy:>9}"
            f"{row.steps:>7}{row.resets:>8}"
        )
    return "\n".join(lines)


def usable_backends(backends: list[str], device: str, dtype: str | None) -> list[str]:
    """The backends that can run here; a clear message for each that cannot (torch not installed, no CUDA)."""
    usable = []
    for backend in dict.fromkeys(backends):
        try:
            resolve_backend(backend, device if backend == "torch" else None, dtype)
        except ValueError as error:
            print(f"skipping backend {backend!r}: {error}", file=sys.stderr)
            continue
        usable.append(backend)
    return usable


def main(argv: list[str] | None = None) -> list[Row]:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.batch", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--backend",
        nargs="+",
        default=["numpy", "torch"],
        choices=BACKENDS,
        help="backends to measure, in this order (default: %(default)s; torch is skipped with a message where it is "
        "not installed)",
    )
    parser.add_argument(
        "--device",
        default="cpu",
        help="torch's device: cpu (default), cuda, cuda:1, ...; numpy rows run on the CPU whatever this says",
    )
    parser.add_argument(
        "--worlds",
        type=int,
        nargs="+",
        default=[1, 64, 1024, 4096, 16384],
        help="numbers of worlds stepped together, one configuration each (default: %(default)s)",
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=2.0,
        help="time budget of each configuration and of each MPE reading: CPU seconds (wall seconds for CUDA rows) "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--min-steps",
        type=int,
        default=MIN_STEPS,
        help="timed steps of each configuration however long they take (default: %(default)s); --min-steps 50 with "
        "--max-cycles 50 times at least a whole episode, resets included",
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=None,
        help="untimed steps before each configuration's budget (default: one episode, --max-cycles steps, so that the "
        "first episode's one-time costs are behind it)",
    )
    parser.add_argument(
        "--dtype",
        default=None,
        choices=DTYPES,
        help="float dtype of the worlds (default: WorldBatch's own: float64 on the CPU, float32 on a GPU)",
    )
    parser.add_argument(
        "--step",
        nargs="+",
        default=["eager"],
        choices=tuple(STEPS),
        help="how torch rows step, one row each: eager; compiled (WorldBatch(compile=True): torch.compile of the "
        "step); cudagraphs (compile='reduce-overhead': also replayed as a CUDA graph on a GPU); a compiled step is "
        "compiled in a first untimed step whose time the progress line gives (default: %(default)s; numpy "
        "rows are eager)",
    )
    parser.add_argument(
        "--scenario",
        default="multipolar",
        choices=sorted(realism_env.SCENARIOS),
        help="scenario preset (default: %(default)s)",
    )
    parser.add_argument(
        "--max-cycles",
        type=int,
        default=50,
        help="turns per episode: worlds end and are reset inside the step, which is part of the cost "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--torch-threads",
        type=int,
        default=1,
        help="torch.set_num_threads for CPU rows; 0 keeps torch's own (default: %(default)s: numpy runs on one core "
        "too, and on small arrays torch's threads wait for each other more than they work)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seeds the worlds, the actions and MPE (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    if args.warmup is None:
        args.warmup = args.max_cycles
    if min(args.worlds) < 1 or min(args.max_cycles, args.min_steps) < 1 or args.seconds <= 0 or args.warmup < 0:
        parser.error("--worlds, --max-cycles and --min-steps must be >= 1, --seconds > 0 and --warmup >= 0")
    if not math.isfinite(args.seconds):  # NaN passed the check above and timed nothing; infinity never ends
        parser.error(f"--seconds {args.seconds} is invalid; valid: a finite number > 0")
    if args.seed < 0:
        parser.error(f"--seed {args.seed} is invalid; valid: an integer >= 0")
    try:  # the episode length the scenario can hold: EnvConfig names the limit
        realism_env.EnvConfig.from_scenario(args.scenario, max_cycles=args.max_cycles)
    except ValueError as error:
        parser.error(str(error))
    backends = usable_backends(args.backend, args.device, args.dtype)
    if not backends:
        parser.error("no backend can run here (see the messages above)")
    if "torch" in backends and args.torch_threads > 0 and not is_cuda(args.device):
        import torch

        torch.set_num_threads(args.torch_threads)
    config = realism_env.EnvConfig.from_scenario(args.scenario, max_cycles=args.max_cycles)

    print(machine_line(backends, args.device), flush=True)
    if "torch" in backends and not is_cuda(args.device):
        import torch

        if torch.get_num_threads() > 1:
            print(
                f"note: torch runs on {torch.get_num_threads()} threads, and CPU time charges all of them (with their "
                "waits for each other, long where other processes share the cores); --torch-threads 1 measures "
                "the cost on one core, like numpy's",
                flush=True,
            )
    print(
        f"{realism_env.NAME} {args.scenario}: {config.n_nations} nations, max_cycles {args.max_cycles}; "
        f"{args.seconds:g} s per configuration after {args.warmup} warm-up steps "
        f"(at least {args.min_steps} timed steps)",
        flush=True,
    )
    with_mpe = mpe_installed()
    mpe_readings: list[float] = []

    def read_mpe(when: str) -> None:
        if with_mpe:
            print(f"measuring MPE simple_spread_v3 ({when}) ...", file=sys.stderr, flush=True)
            mpe_readings.append(measure_mpe(args.seconds, args.seed))

    if not with_mpe:
        print("no MPE reference: mpe2 is not installed (pip install mpe2, or the dev extra)", flush=True)
    read_mpe("start")
    rows = []
    for n_worlds in args.worlds:
        for backend in backends:
            device = args.device if backend == "torch" else "cpu"
            for step in args.step if backend == "torch" else ["eager"]:
                print(f"measuring {backend} ({step}) on {device}, {n_worlds} worlds ...", file=sys.stderr, flush=True)
                row = measure_batch(
                    config,
                    backend,
                    device,
                    args.dtype,
                    n_worlds,
                    args.seconds,
                    args.warmup,
                    args.seed,
                    args.min_steps,
                    step=step,
                )
                read_mpe(f"after {backend} ({step}), {n_worlds} worlds")
                if with_mpe:
                    row = replace(row, mpe_reference=(mpe_readings[-2] + mpe_readings[-1]) / 2)
                rows.append(row)
    if with_mpe:
        print(
            f"MPE simple_spread_v3 (3 agents, one ParallelEnv, CPU time), read before the first row and after each: "
            f"{min(mpe_readings):,.0f} to {max(mpe_readings):,.0f} agent-steps/s (mean {np.mean(mpe_readings):,.0f})"
        )
    print(table(rows))
    clocks = "wall time (synchronized) for cuda rows, CPU time for the others" if is_cuda(args.device) else "CPU time"
    versus = "; x MPE against the row's MPE (the mean of the readings before and after it)" if with_mpe else ""
    print(f"clock: {clocks}; agent-steps = world-steps x {config.n_nations} nations{versus}")
    return rows


if __name__ == "__main__":
    main()
