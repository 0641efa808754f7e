"""Test-session settings."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

#: Files the tests keep for people to look at (the replay's screenshot); git-ignored, listed after the run.
ARTIFACT_DIR = Path(__file__).resolve().parents[1] / "test-artifacts"
_kept: list[Path] = []


@pytest.fixture
def artifact() -> Callable[[str], Path]:
    """``artifact(name)``: the path of a file to keep in test-artifacts/ (named in the run's summary)."""

    def keep(name: str) -> Path:
        ARTIFACT_DIR.mkdir(exist_ok=True)
        path = ARTIFACT_DIR / name
        _kept.append(path)
        return path

    return keep


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for path in _kept:
        if path.exists():
            terminalreporter.write_line(f"test artifact kept: {path}")


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread() -> None:
    """The tests step a few small worlds, where torch's intra-op threads only cost (on a busy 2-core machine, an
    operation on a few hundred numbers took milliseconds with two threads and microseconds with one)."""
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _policy_registry_restored() -> Iterator[None]:
    """Learned policies a test registers (``train.learned.register_learned``) leave ``agents.POLICIES`` with it, so
    no test sees another's."""
    from agents.policies import POLICIES

    before = dict(POLICIES)
    yield
    POLICIES.clear()
    POLICIES.update(before)


@pytest.fixture(autouse=True, scope="session")
def _sb3_logs_in_a_temporary_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """stable-baselines3 models trained without a logger of their own make an empty ``SB3-<date>`` folder in the
    system's temporary folder on every ``learn``; the tests' go to pytest's temporary folder instead."""
    import os

    previous = os.environ.get("SB3_LOGDIR")
    os.environ["SB3_LOGDIR"] = str(tmp_path_factory.mktemp("sb3_logs"))
    yield
    if previous is None:
        del os.environ["SB3_LOGDIR"]
    else:
        os.environ["SB3_LOGDIR"] = previous
