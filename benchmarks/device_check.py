"""Every GPU figure of the project in one prepared run, for a session that is lent a GPU machine for a few minutes.

    bash benchmarks/device_wheels.sh                  # here, once: the pure-Python wheels the GPU image lacks
    python3 -m benchmarks.device_check --out $OUT     # there (the device tool carries .device/, see below)
    python -m benchmarks.device_check --smoke         # here: the same steps, tiny, on the CPU (a dry run)

The GPU machine has torch, numpy, pytest, tqdm and tensorboard, but no gymnasium, pettingzoo, array-api-compat or
stable-baselines3, and nothing can be downloaded there. ``benchmarks/device_wheels.sh`` puts their wheels, at this
checkout's versions, in ``.device/wheels`` (ignored by git); name ``.device`` in the device tool's ``carry``, and this
script installs them first (``pip install --no-index``). Then it runs, each with its own time limit so that one slow
step cannot eat the lease, 570 s in all: one device call (at most 10 minutes) holds the whole check.

1. the machine: ``nvidia-smi``, torch's version and device;
2. the CUDA tests: a ``WorldBatch`` step never syncs under ``torch.cuda.set_sync_debug_mode("error")``
   (``tests/test_backends.py``), and the fast trainer's rollout and update do not either (``tests/test_fast_ppo.py``);
3. ``benchmarks.batch`` on the torch backend at 4,096, 65,536 and 262,144 worlds (issue 9's target: 100M
   agent-steps/s at 65,536 worlds or more);
4. ``train.fast_ppo`` end to end on the GPU at 16,384 worlds for a fixed budget of agent-steps (issue 10's target: 1M
   training agent-steps/s), its ``metrics.json`` read back;
5. ``train.throughput_benchmark --device cuda`` (the fast trainer next to stable-baselines3, same network).

Each step's output goes to ``--out`` (``device_check.log``, and the figures in ``device_check.json``), so what ran
comes back even when the lease ends early. The summary's last lines give the figures.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import time
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


def steps(python: str, device: str, smoke: bool, out: Path) -> list[Step]:
    """The check's commands; ``smoke``: tiny sizes (a dry run on the CPU)."""
    worlds = ["8", "64"] if smoke else ["4096", "65536", "262144"]
    train_worlds, train_steps, train_batch = ("8", "20000", "2048") if smoke else ("16384", "30000000", "65536")
    trainer_test = "tests/test_fast_ppo.py::test_on_the_torch_backend_a_rollout_and_its_update_never_sync_with_the_host"
    tests = ["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_backends.py", "-k", "sync", trainer_test]
    batch = ["-m", "benchmarks.batch", "--backend", "torch", "--device", device, "--worlds", *worlds]
    batch += ["--seconds", "1" if smoke else "5", "--min-steps", "3" if smoke else "20"]
    train = ["-m", "train.fast_ppo", "--device", device, "--backend", "torch", "--n-worlds", train_worlds]
    train += ["--n-steps", "32", "--batch-size", train_batch, "--n-epochs", "1", "--timesteps", train_steps]
    train += ["--max-cycles", "50", "--no-progress-bar", "--out", str(out / "fast_ppo_run")]
    rounds = "1" if smoke else "2"
    throughput = ["-m", "train.throughput_benchmark", "--device", device, "--rounds", rounds, "--rollouts", rounds]
    return [
        Step("machine", [python, "-c", _MACHINE], 30),
        Step("cuda tests", [python, *tests], 120),
        Step("batch", [python, *batch], 150),
        Step("fast_ppo", [python, *train], 150),
        Step("throughput", [python, *throughput, "--quiet"], 120),
    ]


_MACHINE = (
    "import subprocess, torch; "
    "print('torch', torch.__version__, 'cuda', torch.version.cuda, 'available', torch.cuda.is_available()); "
    "print(torch.cuda.get_device_name() if torch.cuda.is_available() else 'no GPU'); "
    "subprocess.run(['nvidia-smi', '-L']) if torch.cuda.is_available() else None"
)


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


def run_step(step: Step, log_file: Path) -> dict[str, object]:
    """Run one step under its limit, appending its output to ``log_file``; returns its status and last lines."""
    start = time.perf_counter()
    try:
        result = subprocess.run(step.command, cwd=ROOT, capture_output=True, text=True, timeout=step.limit_s)
        # stderr (progress lines) first, so the tail shows each command's own result on stdout
        output, status = result.stderr + result.stdout, "ok" if result.returncode == 0 else f"rc {result.returncode}"
    except subprocess.TimeoutExpired as error:
        output = (error.stdout or b"").decode() if isinstance(error.stdout, bytes) else (error.stdout or "")
        status = f"stopped at its {step.limit_s} s limit"
    seconds = time.perf_counter() - start
    with log_file.open("a") as log:
        log.write(f"\n===== {step.name}: {status}, {seconds:.0f} s\n$ {' '.join(step.command)}\n{output}\n")
    return {"status": status, "seconds": round(seconds, 1), "tail": output.strip().splitlines()[-12:]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.device_check",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--out", type=Path, default=Path("runs/device_check"), help="where the log and JSON go (default: %(default)s)"
    )
    parser.add_argument("--device", default="cuda", help="torch device (default: %(default)s)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes on the CPU: a dry run of every step")
    parser.add_argument("--only", nargs="+", default=None, help="run only these steps (names as in the log)")
    args = parser.parse_args(argv)
    device = "cpu" if args.smoke else args.device
    args.out.mkdir(parents=True, exist_ok=True)
    log_file = args.out / "device_check.log"
    log_file.write_text("")
    notes: list[str] = []
    install_wheels(sys.executable, notes)
    results: dict[str, object] = {"device": device, "smoke": args.smoke, "notes": notes}
    for step in steps(sys.executable, device, args.smoke, args.out):
        if args.only and step.name not in args.only:
            continue
        print(f"{step.name} ...", flush=True)
        results[step.name] = run_step(step, log_file)
        print(f"  {results[step.name]['status']}", flush=True)
        (args.out / "device_check.json").write_text(json.dumps(results, indent=1))
    metrics_file = args.out / "fast_ppo_run" / "metrics.json"
    if metrics_file.is_file():
        metrics = json.loads(metrics_file.read_text())
        results["fast_ppo_agent_steps_per_s"] = metrics.get("agent_steps_per_s")
        (args.out / "device_check.json").write_text(json.dumps(results, indent=1))
    print("\nsummary")
    for name, result in results.items():
        if isinstance(result, dict):
            print(f"{name}: {result['status']} ({result['seconds']} s)")
            for line in result["tail"][-4:]:
                print(f"  {line}")
    if results.get("fast_ppo_agent_steps_per_s") is not None:
        print(f"fast_ppo end to end: {results['fast_ppo_agent_steps_per_s']:,.0f} training agent-steps/s")
    failed = [n for n, r in results.items() if isinstance(r, dict) and r["status"] != "ok"]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
