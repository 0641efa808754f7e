"""The no-sync tests' one check: inside a block, the torch calls that make the host wait for the device raise."""

from __future__ import annotations

import sys
from typing import Any

#: Tensor methods that read a value on the host (on a GPU: wait for the device)
SYNCING = ("__bool__", "item", "tolist", "numpy", "__int__", "__float__", "cpu")
#: torch functions that make a tensor of host data: on a GPU a copy from the host, which waits for the device
FROM_HOST = ("tensor", "as_tensor", "asarray")


def forbid_host_syncs(
    patch: Any, where: str, functions: tuple[str, ...] = (), allowed_from: str | None = None
) -> list[str]:
    """Make :data:`SYNCING` (and the torch ``functions``, e.g. :data:`FROM_HOST`) raise an AssertionError naming
    ``where`` while ``patch`` (a ``monkeypatch.context()``) lasts; calls made from a file whose path holds
    ``allowed_from`` pass. Returns the list the forbidden calls' names are appended to."""
    import torch

    calls: list[str] = []

    def forbidden(owner: Any, name: str) -> Any:
        original = getattr(owner, name)

        def raising(*args: Any, **kwargs: Any) -> Any:
            caller = sys._getframe(1).f_code.co_filename.replace("\\", "/")
            if allowed_from is not None and allowed_from in caller:
                return original(*args, **kwargs)
            calls.append(name)
            raise AssertionError(f"{name} (a host sync) was called {where}")

        return raising

    for name in SYNCING:
        patch.setattr(torch.Tensor, name, forbidden(torch.Tensor, name))
    for name in functions:
        patch.setattr(torch, name, forbidden(torch, name))
    return calls
