"""Test-session settings."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread() -> None:
    """The tests step a few small worlds, where torch's intra-op threads only cost (on a busy 2-core machine, an
    operation on a few hundred numbers took milliseconds with two threads and microseconds with one)."""
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(1)
