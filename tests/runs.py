"""Real, barely trained runs of ``train.fast_ppo`` for tests that load a run (replays, deviations): one rollout of 8
agent-steps in one world of 9-turn episodes, written to ``out``."""

from __future__ import annotations

from pathlib import Path

import pytest


def tiny_run(out: Path, *extra: str) -> Path:
    """Train the tiny run into ``out`` with ``extra`` flags of ``train.fast_ppo`` (``--doctrine power``, ``--set
    ...``); skips the test where torch is missing."""
    pytest.importorskip("torch")
    from train.fast_ppo import main

    argv = ["--timesteps", "1", "--n-worlds", "1", "--n-steps", "8", "--batch-size", "8", "--max-cycles", "9"]
    assert main([*argv, *extra, "--out", str(out), "--no-progress-bar"]) == 0
    return out
