"""train.throughput_benchmark: the fast trainer and stable-baselines3 timed side by side, the speedup as last line."""

from __future__ import annotations

import json

import pytest

from train import throughput_benchmark


def test_prints_both_paths_and_ends_with_the_speedup(capsys, tmp_path):
    saved = tmp_path / "throughput.json"
    result = throughput_benchmark.main(
        ["--n-worlds", "2", "--n-steps", "8", "--batch-size", "32", "--rounds", "1", "--rollouts", "1", "--quiet"]
        + ["--json", str(saved)]
    )
    lines = capsys.readouterr().out.strip().splitlines()
    assert set(result["summary"]) == {"fast_ppo", "sb3"}
    speedup = result["speedup_over_sb3"]["train_agent_steps_per_s"]
    fast, sb3 = (result["summary"][p]["train_agent_steps_per_s"] for p in ("fast_ppo", "sb3"))
    assert speedup == pytest.approx(fast / sb3)
    assert lines[-1] == f"speedup over stable-baselines3: {speedup:.1f}x"
    # The ceiling: sb3's time per agent-step over fast_ppo's rollout plus the network's arithmetic, printed before.
    network_s, ceiling = result["network_s_per_minibatch"], result["speedup_ceiling"]
    fast_rollout = result["summary"]["fast_ppo"]["rollout_agent_steps_per_s"]
    assert ceiling == pytest.approx((1 / sb3) / (1 / fast_rollout + 4 * network_s / 32))
    assert f"could beat stable-baselines3 by more than {ceiling:.1f}x here" in lines[-2]
    # Both paths trained the same number of agent-steps per round.
    steps = {p: result["rounds"][p][0]["steps"] for p in result["rounds"]}
    assert steps["fast_ppo"] == steps["sb3"] == 2 * 6 * 8
    # --json keeps the figures for later comparison
    assert json.loads(saved.read_text())["speedup_over_sb3"] == pytest.approx(result["speedup_over_sb3"])


def test_bad_sizes_are_refused(capsys):
    with pytest.raises(SystemExit):
        throughput_benchmark.main(["--n-worlds", "0"])
    assert "--n-worlds=0 is invalid; valid: an integer >= 1" in capsys.readouterr().err
