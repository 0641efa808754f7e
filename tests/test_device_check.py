"""The prepared GPU check (``benchmarks.device_check``) runs its steps, logs them and records their figures: a session
lent a GPU for a few minutes must not lose them to a broken script. Here, as a dry run on the CPU."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks import device_check


def test_the_device_check_runs_its_steps_and_records_them(tmp_path: Path) -> None:
    assert device_check.main(["--smoke", "--only", "machine", "fast_ppo", "--out", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "device_check.json").read_text())
    assert results["device"] == "cpu" and results["smoke"] is True
    assert results["machine"]["status"] == "ok" and any("torch" in line for line in results["machine"]["tail"])
    assert results["fast_ppo"]["status"] == "ok" and results["fast_ppo_agent_steps_per_s"] > 0
    assert "batch" not in results  # --only
    log = (tmp_path / "device_check.log").read_text()
    assert "===== machine: ok" in log and "===== fast_ppo: ok" in log


def test_the_gpu_plan_measures_the_issues_targets_within_the_lease() -> None:
    plan = {step.name: step for step in device_check.steps("python3", "cuda", smoke=False, out=Path("out"))}
    assert list(plan) == ["machine", "cuda tests", "batch", "fast_ppo", "throughput"]
    assert "65536" in plan["batch"].command and "cuda" in plan["batch"].command  # issue 9: >= 65,536 worlds
    assert "cuda" in plan["fast_ppo"].command and "torch" in plan["fast_ppo"].command
    assert sum(step.limit_s for step in plan.values()) <= 570  # one device call: at most 10 minutes, start included
