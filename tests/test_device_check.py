"""The prepared GPU check (``benchmarks.device_check``) runs its steps, logs them and records their figures: a session
lent a GPU for a few minutes must not lose them to a broken script. Here, as a dry run on the CPU."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks import device_check


def test_the_device_check_runs_its_steps_and_records_them(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    argv = ["--smoke", "--only", "machine", "fast_ppo", "--out", str(tmp_path / "out"), "--runs", str(runs)]
    assert device_check.main(argv) == 0
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == ["device_check.json", "device_check.log"]
    results = json.loads((tmp_path / "out" / "device_check.json").read_text())
    assert results["device"] == "cpu" and results["smoke"] is True
    assert results["machine"]["status"] == "ok" and any("torch" in line for line in results["machine"]["tail"])
    assert results["fast_ppo"]["status"] == "ok" and results["fast_ppo_wide_agent_steps_per_s"] > 0
    assert (runs / "fast_ppo_wide" / "model.pt").is_file()
    assert "batch" not in results  # --only
    log = (tmp_path / "out" / "device_check.log").read_text()
    assert "===== machine: ok" in log and "===== fast_ppo: ok" in log


@pytest.mark.slow
def test_the_device_checks_population_step_trains_its_members(tmp_path: Path) -> None:
    """The full preset's settings as a population (3 members in the dry run: one rollout of 512 worlds each)."""
    runs = tmp_path / "runs"
    argv = ["--smoke", "--only", "fast_ppo full preset population", "--out", str(tmp_path / "out"), "--runs", str(runs)]
    assert device_check.main(argv) == 0
    results = json.loads((tmp_path / "out" / "device_check.json").read_text())
    assert results["fast_ppo full preset population"]["status"] == "ok"
    assert results["fast_ppo_full_population_agent_steps_per_s"] > 0
    assert all((runs / "fast_ppo_full_population" / f"seed{seed}" / "model.pt").is_file() for seed in range(3))


def test_the_gpu_plan_measures_the_issues_targets_within_the_lease() -> None:
    plan = {step.name: step for step in device_check.steps("python3", "cuda", smoke=False, out=Path("out"))}
    assert list(plan)[:7] == [  # what the GPU calls left unmeasured comes first, with its reference in the same call
        "machine",
        "fast_ppo full preset",
        "fast_ppo full preset population",
        "fast_ppo full preset cuda graphs",
        "fast_ppo full preset x8 cuda graphs",
        "batch compiled",
        "profile",
    ]
    population = plan["fast_ppo full preset population"].command
    assert population[population.index("--population") + 1] == "20" and "--n-worlds" in population
    graphed = plan["fast_ppo full preset cuda graphs"].command
    assert "--cuda-graphs" in graphed and graphed[graphed.index("--n-worlds") + 1] == "512"
    assert plan["fast_ppo full preset x8 cuda graphs"].command[-1] == "--cuda-graphs"
    assert sum(step.limit_s for step in list(plan.values())[:4]) <= 540 - 60  # within one call, with its start
    assert "65536" in plan["batch"].command and "cuda" in plan["batch"].command  # issue 9: >= 65,536 worlds
    memory = plan["memory"].command  # how many worlds fit on the GPU, in the worlds' step and in training
    assert memory[memory.index("--device") + 1] == "cuda" and "65536" in memory and "--trainer-worlds" in memory
    assert "compiled" in plan["batch compiled"].command and "cudagraphs" in plan["batch compiled"].command
    assert "cuda" in plan["fast_ppo"].command and "torch" in plan["fast_ppo"].command
    full = plan["fast_ppo full preset"].command
    assert full[full.index("--n-worlds") + 1] == "512" and full[full.index("--background-share") + 1] == "0.25"


def test_the_summary_gives_each_training_rate_as_a_ratio_over_the_reference_run_of_the_same_call() -> None:
    results = {"fast_ppo_full_agent_steps_per_s": 200_000.0, "fast_ppo_full_cudagraphs_agent_steps_per_s": 300_000.0}
    results["concurrent_graphed_agent_steps_per_s"] = 1_000_000.0
    assert device_check.rate_lines(results) == [
        "fast_ppo_full end to end: 200,000 training agent-steps/s",
        "fast_ppo_full_cudagraphs end to end: 300,000 training agent-steps/s, 1.50x the eager full-preset run of "
        "this call",
        "concurrent_graphed (runs at once, together): 1,000,000 training agent-steps/s, 5.00x the eager full-preset "
        "run of this call",
    ]
    # Without the reference (its step failed or was skipped) the rates stand alone: no ratio over another call's.
    assert device_check.rate_lines({"fast_ppo_wide_agent_steps_per_s": 5.0}) == [
        "fast_ppo_wide end to end: 5 training agent-steps/s"
    ]


def test_the_check_stops_within_its_budget(tmp_path: Path) -> None:
    """A step that would get under 20 s of the budget is skipped and says so: the device call must end in time."""
    argv = ["--smoke", "--only", "machine", "--budget-s", "5", "--out", str(tmp_path), "--runs", str(tmp_path / "r")]
    assert device_check.main(argv) == 1
    results = json.loads((tmp_path / "device_check.json").read_text())
    assert results["machine"]["status"] == "skipped: 5 s of the budget left"


def _running(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie, killed but not yet reaped by its new parent, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _processes_naming(text: str) -> list[int]:
    """The running processes whose command line holds ``text``."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError):  # not a process, or one that has just exited
            continue
        if text in command and entry.name.isdigit() and _running(int(entry.name)):
            found.append(int(entry.name))
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the runs die with their parent on Linux")
def test_the_concurrent_runs_end_with_the_step_that_started_them(tmp_path: Path) -> None:
    """The x8 steps' runs are processes of the step's process: a step stopped at its time limit is killed alone
    (subprocess.run kills the one process), and its runs must not go on training on the device, orphaned, through
    every later step of the check."""
    runs = tmp_path / "runs"
    command = [sys.executable, "-m", "benchmarks.device_check", "--concurrent", "2", "--smoke", "--runs", str(runs)]
    step = subprocess.Popen(command, cwd=device_check.ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    trainers = f"--out {runs}/concurrent_"
    deadline = time.monotonic() + 60
    try:
        while len(_processes_naming(trainers)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        started = _processes_naming(trainers)
        assert len(started) == 2, "the step did not start its two runs"
    finally:
        step.kill()  # as subprocess.run does at a step's time limit
        step.wait()
    deadline = time.monotonic() + 10
    while any(_running(pid) for pid in started) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = [pid for pid in started if _running(pid)]
    for pid in left:  # a failure leaves no process behind
        os.kill(pid, signal.SIGKILL)
    assert not left, f"the runs {left} outlived the step that started them"
