"""Writing files so that an interrupted write never leaves half a file: what was there stays whole until the new
content is complete on disk (checkpoints, results, reports, episode logs, replay pages)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: a temporary file in the same folder (created if missing), flushed to
    disk, then ``os.replace``; an existing file is replaced whole or left untouched. The temporary file is
    ``.<name>.<pid>.<random>.tmp``: :func:`temp_writer` reads the process that writes it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp makes the file readable by its owner alone: give it the mode a plain open() would (0666 less the
        # umask), so that run folders and replay pages shared with colleagues stay readable
        os.chmod(temp, 0o666 & ~_umask())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)


def temp_writer(temp: str | os.PathLike[str]) -> int | None:
    """The id of the process that wrote the temporary file ``temp`` of :func:`atomic_write_bytes`, or None for a
    name without one (written before names held it)."""
    parts = Path(temp).name.split(".")
    return int(parts[-3]) if len(parts) >= 5 and parts[-1] == "tmp" and parts[-3].isdigit() else None


def file_in_the_way(path: str | os.PathLike[str]) -> str | None:
    """Why no folder can be at ``path``, as the words that follow the path in a message: ``"is a file"``, or ``"lies
    under the file F"`` where a folder above it is a file; None where nothing is in the way."""
    path = Path(path)
    existing = next((p for p in (path, *path.parents) if p.exists()), None)
    if existing is None or existing.is_dir():
        return None
    return "is a file" if existing == path else f"lies under the file {existing}"


def folder_problem(path: str | os.PathLike[str]) -> str | None:
    """Why ``path`` cannot be a folder this process writes in (an output folder, new or not), as the words that
    follow the path in a message: a file in the way (:func:`file_in_the_way`), or the nearest folder that exists
    (``path`` itself, or the one it would be made in) taking no new file (no permission, a read-only disk); None where
    nothing is wrong. Said before any work, rather than as a traceback once it has been done."""
    blocked = file_in_the_way(path)
    if blocked is not None:
        return blocked
    path = Path(path)
    existing = next((p for p in (path, *path.parents) if p.is_dir()), None)
    if existing is None:
        return None
    try:
        tempfile.TemporaryFile(dir=existing).close()
    except OSError as error:
        where = "" if existing == path else f" ({existing}, where it would be made)"
        return f"cannot be written{where}: {error.strerror or error}"
    return None


def _umask() -> int:
    """The process's umask (read by setting it, then restoring it at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (where the platform lets a folder be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
