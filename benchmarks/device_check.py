"""Every GPU figure of the project in one prepared run, for a session that is lent a GPU machine for a few minutes.

    bash benchmarks/device_wheels.sh                                   # here, once: wheels the GPU image lacks
    python3 -m benchmarks.device_check --out $OUT --runs /tmp/runs     # there (the device tool carries .device/)
    python -m benchmarks.device_check --smoke                          # here: the same steps, tiny, on the CPU

The GPU machine has torch, numpy, pytest, tqdm and tensorboard, but no gymnasium, pettingzoo, array-api-compat or
stable-baselines3, and nothing can be downloaded there. ``benchmarks/device_wheels.sh`` puts their wheels, at this
checkout's versions, in ``.device/wheels`` (ignored by git); name ``.device`` in the device tool's ``carry``, and this
script installs them first (``pip install --no-index``). Then it runs these steps, most wanted first, each under its
own time limit and all within ``--budget-s`` (540 s: one device call holds the whole check, start included). What
the calls on an H200 (2026-12-04, README's Benchmarks) left unmeasured comes first:

1. ``machine``: torch's version and the device;
2. ``fast_ppo full preset``: a run of the full preset's ``[train]`` settings (512 worlds, a step bound by its kernel
   launches there), eager, 3M agent-steps: the reference of the call (the summary gives every other training rate
   as a ratio over it);
3. ``fast_ppo full preset population``: a population of 20 members (``--population 20``, :mod:`train.population`:
   the 20 seeds of a condition as one run), 1M agent-steps each: the full preset's 240 runs as 12 such populations;
4. ``fast_ppo full preset cuda graphs``: the single run with ``--cuda-graphs`` (the worlds' step as one CUDA graph),
   the compile included;
5. ``fast_ppo full preset x8 cuda graphs``: 8 such runs at once, 1M agent-steps each, as ``train.experiment
   --workers`` shares a GPU: their rate together (eager, 8 runs trained 492k agent-steps/s together);
6. ``batch compiled``: ``benchmarks.batch --step compiled cudagraphs`` (``WorldBatch(compile=True)`` and
   ``compile="reduce-overhead"``, a CUDA graph) at 512 worlds and 65,536;
7. ``profile``: ``benchmarks.profile_batch --torch-profiler`` at 65,536 worlds: the step's kernels by device time,
   per operator and input shapes (where the 100M target is lost);
8. ``memory``: ``benchmarks.memory`` on the device: the GPU memory a world takes in ``WorldBatch`` (4,096 to 65,536
   worlds) and in ``train.fast_ppo`` (512 to 16,384 worlds), and how many worlds fit;

then the figures the first calls measured, again:

9. ``batch``: ``benchmarks.batch`` on the torch backend at 4,096, 65,536 and 262,144 worlds (issue 9's target: 100M
   agent-steps/s at 65,536 worlds or more);
10. ``fast_ppo``: ``train.fast_ppo`` end to end at 16,384 worlds for 10M agent-steps (issue 10's target: 1M training
    agent-steps/s);
11. ``fast_ppo full preset x8``: 8 eager runs at once;
12. ``fast_ppo full preset compiled``: the full preset's run with ``--compile-worlds``;
13. ``experiment``: ``train.experiment --device`` on those settings at a small scale (3 conditions, 1 seed, 2M
    agent-steps, a held-out scenario): the experiment's path through a GPU, end to end;
14. ``cuda tests``: a ``WorldBatch`` step never syncs under ``torch.cuda.set_sync_debug_mode("error")``
    (``tests/test_backends.py``), nor do the fast trainer's rollout and update; and a resumed run on the GPU goes on
    bit for bit (``tests/test_fast_ppo.py``); the scripted policies' torch ``act`` gives numpy's actions without a
    sync (``tests/test_policies_torch.py``).

``--out`` gets two files, ``device_check.log`` (every step's output) and ``device_check.json`` (statuses, tails and
the trainers' rates), written after each step, so what ran comes back even when the lease ends early; the training
runs go to ``--runs``. The summary's last lines give the figures.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WHEELS = ROOT / ".device" / "wheels"


@dataclass(frozen=True)
class Step:
    """One command of the check, with its time limit in seconds."""

    name: str
    command: list[str]
    limit_s: int


#: the full preset's [train] settings (train/presets/full.toml), for one run's training rate on the device
FULL_PRESET_TRAIN = [
    "--n-worlds", "512", "--n-steps", "32", "--batch-size", "16384", "--n-epochs", "2", "--max-cycles", "100",
    "--actor", "per_nation", "--background", "offensive_realist,defensive_realist", "--background-share", "0.25",
    "--capability-spread", "0.3",
]  # fmt: skip


def steps(python: str, device: str, smoke: bool, out: Path) -> list[Step]:
    """The check's commands, most wanted first (the budget may end the last ones); ``smoke``: tiny sizes (a dry run
    on the CPU)."""
    eager_worlds = ["8", "64"] if smoke else ["4096", "65536", "262144"]
    compiled_worlds = ["8"] if smoke else ["512", "65536"]
    wide_worlds, wide_steps, wide_batch = ("8", "20000", "2048") if smoke else ("16384", "10000000", "65536")
    full_steps = "20000" if smoke else "3000000"
    trainer_tests = [
        "tests/test_fast_ppo.py::test_on_the_torch_backend_a_rollout_and_its_update_never_sync_with_the_host",
        "tests/test_fast_ppo.py::test_on_cuda_a_resumed_run_goes_on_bit_for_bit",
        "tests/test_policies_torch.py::test_act_on_cuda_gives_the_numpy_actions_without_a_sync",
    ]
    tests = [
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "tests/test_backends.py",
        "-k",
        "sync or bit_for_bit",
        *trainer_tests,
    ]
    timing = ["--seconds", "1" if smoke else "4", "--min-steps", "3" if smoke else "20"]
    batch = ["-m", "benchmarks.batch", "--backend", "torch", "--device", device, *timing]
    fast_ppo = ["-m", "train.fast_ppo", "--device", device, "--backend", "torch", "--no-progress-bar"]
    fast_ppo += ["--checkpoint-every", "0"]
    wide = [*fast_ppo, "--n-worlds", wide_worlds, "--n-steps", "32", "--batch-size", wide_batch, "--n-epochs", "1"]
    wide += ["--max-cycles", "50", "--timesteps", wide_steps, "--out", str(out / "fast_ppo_wide")]
    full = [*fast_ppo, *FULL_PRESET_TRAIN, "--timesteps", full_steps, "--out", str(out / "fast_ppo_full")]
    experiment = ["-m", "train.experiment", "--preset-file", str(out / "preset.toml"), "--no-progress"]
    experiment += ["--out", str(out / "experiment")]
    profile = ["-m", "benchmarks.profile_batch", "--backend", "torch", "--device", device, "--torch-profiler"]
    profile += ["--worlds", "64" if smoke else "65536", "--steps", "3", "--top", "25"]
    memory = ["-m", "benchmarks.memory", "--backend", "torch", "--device", device]
    memory += ["--worlds", *(["8", "16"] if smoke else ["4096", "16384", "65536"])]
    memory += ["--trainer-worlds", *(["4", "8"] if smoke else ["512", "4096", "16384"])]
    compiled_full = [*full[:-1], str(out / "fast_ppo_full_compiled"), "--compile-worlds"]
    graphed_full = [*full[:-1], str(out / "fast_ppo_full_cudagraphs"), "--cuda-graphs"]
    population_steps, members = ("20000", "3") if smoke else ("1000000", "20")
    population = [*full[:-3], population_steps, "--out", str(out / "fast_ppo_full_population")]
    population += ["--population", members]
    concurrent = [python, "-m", "benchmarks.device_check", "--concurrent", "2" if smoke else "8", "--runs", str(out)]
    concurrent += ["--device", device, *(["--smoke"] if smoke else [])]
    # What the H200 calls (2026-12-04) left unmeasured comes first; then the figures they measured, again.
    return [
        Step("machine", [python, "-c", _MACHINE], 30),
        Step("fast_ppo full preset", [python, *full], 80),
        Step("fast_ppo full preset population", [python, *population], 120),
        Step("fast_ppo full preset cuda graphs", [python, *graphed_full], 150),
        Step("fast_ppo full preset x8 cuda graphs", [*concurrent, "--cuda-graphs"], 150),
        Step("batch compiled", [python, *batch, "--worlds", *compiled_worlds, "--step", "compiled", "cudagraphs"], 200),
        Step("profile", [python, *profile], 60),
        Step("memory", [python, *memory], 120),
        Step("batch", [python, *batch, "--worlds", *eager_worlds], 100),
        Step("fast_ppo", [python, *wide], 90),
        Step("fast_ppo full preset x8", concurrent, 90),
        Step("fast_ppo full preset compiled", [python, *compiled_full], 120),
        Step("experiment", [python, *experiment], 120),
        Step("cuda tests", [python, *tests], 90),
    ]


def run_concurrently(n_runs: int, runs: Path, device: str, smoke: bool, cuda_graphs: bool = False) -> None:
    """``n_runs`` runs of the full preset's settings at once on one device (as ``train.experiment --workers`` shares a
    GPU), each with ``--cuda-graphs`` if ``cuda_graphs``: prints their agent-steps/s together, from their start to the
    last one's end."""
    timesteps = "20000" if smoke else "1000000"
    command = [sys.executable, "-m", "train.fast_ppo", "--device", device, "--backend", "torch", "--no-progress-bar"]
    command += ["--checkpoint-every", "0", *FULL_PRESET_TRAIN, "--timesteps", timesteps]
    command += ["--cuda-graphs"] if cuda_graphs else []
    name = "concurrent_graphed" if cuda_graphs else "concurrent"
    start = time.perf_counter()
    # The runs end with this process: a step stopped at its time limit kills this process alone, and its runs went
    # on training on the device, orphaned, through every later step of the check, whose figures they skewed.
    processes = [
        subprocess.Popen(
            [*command, "--seed", str(seed), "--out", str(runs / f"{name}_{seed}")],
            cwd=ROOT,
            preexec_fn=_dies_with(os.getpid()),  # safe in this process: no thread of its own (torch is not imported)
        )
        for seed in range(n_runs)
    ]
    codes = [process.wait() for process in processes]
    wall = time.perf_counter() - start
    metrics = [json.loads((runs / f"{name}_{seed}" / "metrics.json").read_text()) for seed in range(n_runs)]
    steps = sum(m["num_timesteps"] for m in metrics)
    each = ", ".join(f"{m['agent_steps_per_s']:,.0f}" for m in metrics)
    print(
        f"{n_runs} runs at once (exit codes {codes}): {steps:,} agent-steps in {wall:.1f} s from the first start to "
        f"the last end, start-up included: {steps / wall:,.0f} agent-steps/s together; each run's own: {each}"
    )
    (runs / f"{name}.json").write_text(json.dumps({"runs": n_runs, "agent_steps_per_s_together": steps / wall}))


def _dies_with(parent: int) -> Callable[[], None]:
    """What a child process runs before its command: on Linux the kernel kills it when ``parent`` dies
    (``PR_SET_PDEATHSIG``, as train.experiment's workers do), and it exits at once if ``parent`` died already; elsewhere
    nothing."""

    def set_up() -> None:
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)  # 1: PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            return
        if os.getppid() != parent:  # it died before the line above took effect
            os._exit(1)

    return set_up


_MACHINE = (
    "import subprocess, torch; "
    "print('torch', torch.__version__, 'cuda', torch.version.cuda, 'available', torch.cuda.is_available()); "
    "print(torch.cuda.get_device_name() if torch.cuda.is_available() else 'no GPU'); "
    "subprocess.run(['nvidia-smi', '-L']) if torch.cuda.is_available() else None"
)


#: the single training runs whose rates the summary gives
TRAINING_RUNS = (
    "fast_ppo_wide",
    "fast_ppo_full",
    "fast_ppo_full_population",
    "fast_ppo_full_cudagraphs",
    "fast_ppo_full_compiled",
)

#: runs of the full preset's settings trained at once (benchmarks.device_check --concurrent), their rate together
CONCURRENT_RUNS = ("concurrent", "concurrent_graphed")
#: the run every training rate of a call is compared with: the full preset's single eager run of the same call
REFERENCE_RUN = "fast_ppo_full"


def rate_lines(results: dict[str, object]) -> list[str]:
    """The summary's training rates, each with its ratio over :data:`REFERENCE_RUN`'s rate in the same call (the
    machine and its load are the same for both; figures of other calls are not)."""
    reference = results.get(f"{REFERENCE_RUN}_agent_steps_per_s")
    lines = []
    for name in (*TRAINING_RUNS, *CONCURRENT_RUNS):
        rate = results.get(f"{name}_agent_steps_per_s")
        if rate is None:
            continue
        line = f"{name} end to end: {rate:,.0f} training agent-steps/s"
        if name in CONCURRENT_RUNS:
            line = f"{name} (runs at once, together): {rate:,.0f} training agent-steps/s"
        if reference and name != REFERENCE_RUN:
            line += f", {rate / reference:.2f}x the eager full-preset run of this call"
        lines.append(line)
    return lines


NEEDED = ("gymnasium", "pettingzoo", "array_api_compat", "stable_baselines3", "sb3_contrib")


def install_wheels(python: str, log: list[str]) -> None:
    """Install the carried wheels where a package is missing (no index: nothing can be downloaded there)."""
    missing = [name for name in NEEDED if importlib.util.find_spec(name) is None]
    if not missing:
        log.append("gymnasium, pettingzoo, array-api-compat and stable-baselines3 are installed")
        return
    wheels = sorted(str(path) for path in WHEELS.glob("*.whl"))
    if not wheels:
        log.append(f"{', '.join(missing)} missing, no wheels in {WHEELS}: run benchmarks/device_wheels.sh here first")
        return
    result = subprocess.run(
        [python, "-m", "pip", "install", "--no-index", "--no-deps", "--quiet", *wheels],
        capture_output=True,
        text=True,
    )
    log.append(f"installed {len(wheels)} wheels (rc {result.returncode}) {result.stderr[-2000:]}")


def run_step(step: Step, log_file: Path, limit_s: float) -> dict[str, object]:
    """Run one step for at most ``limit_s`` seconds, appending its output to ``log_file``; returns its status and last
    lines."""
    start = time.perf_counter()
    try:
        result = subprocess.run(step.command, cwd=ROOT, capture_output=True, text=True, timeout=limit_s)
        # stderr (progress lines) first, so the tail shows each command's own result on stdout
        output, status = result.stderr + result.stdout, "ok" if result.returncode == 0 else f"rc {result.returncode}"
    except subprocess.TimeoutExpired as error:
        output = (error.stdout or b"").decode() if isinstance(error.stdout, bytes) else (error.stdout or "")
        status = f"stopped at its {limit_s:.0f} s limit"
    seconds = time.perf_counter() - start
    with log_file.open("a") as log:
        log.write(f"\n===== {step.name}: {status}, {seconds:.0f} s\n$ {' '.join(step.command)}\n{output}\n")
    return {"status": status, "seconds": round(seconds, 1), "tail": output.strip().splitlines()[-12:]}


def experiment_preset(device: str, smoke: bool) -> str:
    """A small study on the full preset's [train] settings (3 conditions, 1 seed, no sweep, a held-out scenario),
    trained on ``device``: the experiment's path through a GPU, end to end, and its cost."""
    timesteps, episodes, workers = (20000, 2, 2) if smoke else (2000000, 10, 6)
    return f"""# benchmarks.device_check: the full preset's [train] settings on {device}, at a small scale
[experiment]
name = "device_check"
scenario = "multipolar"
conditions = ["security", "power", "mixed"]
seeds = [0]
workers = {workers}

[train]
timesteps = {timesteps}
max_cycles = 100
n_worlds = 512
n_steps = 32
batch_size = 16384
n_epochs = 2
checkpoint_every = 0
actor = "per_nation"
background = "offensive_realist,defensive_realist"
background_share = 0.25
capability_spread = 0.3
device = "{device}"

[evaluate]
episodes = {episodes}
heldout = ["bipolar"]
backgrounds = ["offensive_realist"]
n_focal = 3
focal_heldout = []
baselines = ["scripted"]
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.device_check",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("runs/device_check"),
        help="where the log and the JSON go (default: %(default)s): two files, as the device tool brings back",
    )
    parser.add_argument(
        "--runs", type=Path, default=None, help="where the training runs go (default: OUT/runs; many files)"
    )
    parser.add_argument("--device", default="cuda", help="torch device (default: %(default)s)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes on the CPU: a dry run of every step")
    parser.add_argument("--only", nargs="+", default=None, help="run only these steps (names as in the log)")
    parser.add_argument(
        "--budget-s",
        type=float,
        default=540.0,
        help="the whole check's time: each step runs at most its own limit and what is left of this, and steps "
        "that would get under 20 s are skipped (default: %(default)s)",
    )
    parser.add_argument("--concurrent", type=int, default=0, help=argparse.SUPPRESS)  # the "x8" steps' own command
    parser.add_argument("--cuda-graphs", action="store_true", help=argparse.SUPPRESS)  # ... with --cuda-graphs
    args = parser.parse_args(argv)
    if args.concurrent:
        runs, device = args.runs or args.out / "runs", "cpu" if args.smoke else args.device
        run_concurrently(args.concurrent, runs, device, args.smoke, args.cuda_graphs)
        return 0
    deadline = time.perf_counter() + args.budget_s
    device = "cpu" if args.smoke else args.device
    runs = args.runs or args.out / "runs"
    args.out.mkdir(parents=True, exist_ok=True)
    runs.mkdir(parents=True, exist_ok=True)
    (runs / "preset.toml").write_text(experiment_preset(device, args.smoke))
    log_file = args.out / "device_check.log"
    log_file.write_text("")
    notes: list[str] = []
    install_wheels(sys.executable, notes)
    results: dict[str, object] = {"device": device, "smoke": args.smoke, "notes": notes}
    for step in steps(sys.executable, device, args.smoke, runs):
        if args.only and step.name not in args.only:
            continue
        left = deadline - time.perf_counter()
        if left < 20:
            results[step.name] = {"status": f"skipped: {left:.0f} s of the budget left", "seconds": 0, "tail": []}
            continue
        print(f"{step.name} ...", flush=True)
        results[step.name] = run_step(step, log_file, min(step.limit_s, left))
        print(f"  {results[step.name]['status']}", flush=True)
        (args.out / "device_check.json").write_text(json.dumps(results, indent=1))
    for name in TRAINING_RUNS:
        metrics_file = runs / name / "metrics.json"
        if metrics_file.is_file():
            metrics = json.loads(metrics_file.read_text())
            results[f"{name}_agent_steps_per_s"] = metrics.get("agent_steps_per_s")
            results[f"{name}_returns"] = metrics.get("mean_episode_return")
    report = runs / "experiment" / "report.md"
    if report.is_file():
        results["experiment_report_head"] = report.read_text().splitlines()[:40]
    (args.out / "device_check.json").write_text(json.dumps(results, indent=1))
    print("\nsummary")
    for name, result in results.items():
        if isinstance(result, dict) and "status" in result:
            print(f"{name}: {result['status']} ({result['seconds']} s)")
            for line in result["tail"][-4:]:
                print(f"  {line}")
    for name in CONCURRENT_RUNS:
        together = runs / f"{name}.json"
        if together.is_file():
            results[f"{name}_agent_steps_per_s"] = json.loads(together.read_text())["agent_steps_per_s_together"]
    (args.out / "device_check.json").write_text(json.dumps(results, indent=1))
    for line in rate_lines(results):
        print(line)
    failed = [n for n, r in results.items() if isinstance(r, dict) and r.get("status", "ok") != "ok"]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
