"""Atomic training checkpoints: a killed run never leaves a corrupt one.

A checkpoint is one file, ``ckpt_<timesteps>.zip``: the stable-baselines3 model archive (policy, optimiser state,
``num_timesteps``) with an extra entry, ``train_state.json`` (the step count, the RNG states of torch, numpy, Python
and the env's generator, and whatever the caller adds), which SB3's ``load`` ignores; the numpy arrays the caller
adds (the episodes under way) go into ``arrays.npz``, read back by :func:`read_arrays` without unpickling. Every file
is written to a temporary file in the same directory, fsynced and moved into place with ``os.replace``;
``latest.json`` points to the newest checkpoint and is replaced last, so a reader sees the old checkpoint or the new
one, never half of one (:func:`find_latest` takes the readable checkpoint with the most timesteps, so a pointer
left stale by a writer killed between the two never sends a resume back to an older one)::

    path = save_checkpoint(model, out / "checkpoints", {"doctrine": "power"}, env_rng=batch.random)
    found = find_latest(out / "checkpoints")      # (path, state) of the newest readable checkpoint, or None
    model = MaskablePPO.load(found[0], env=env)
    restore_rng(found[1]["rng"], env_rng=batch.random)

The env's generator is a :class:`realism_env.batch.WorldBatch`'s ``random`` (a ``realism_env.backend.NumpyRandom``
or ``TorchRandom``), or a plain ``numpy.random.Generator`` or ``torch.Generator``.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import random
import re
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from realism_env import atomic_write_bytes, jsonable
from realism_env.files import temp_writer

STATE_ENTRY = "train_state.json"
ARRAYS_ENTRY = "arrays.npz"
LATEST = "latest.json"
#: The lock file in a run folder (:func:`folder_lock`).
RUN_LOCK = ".lock"
#: A checkpoint's save deletes the temporary files of writers that are gone (killed mid-write) or of its own
#: process, and any older than this (seconds); a younger one of another live process may be mid-write.
STALE_TEMP_S = 600.0
_NAME = re.compile(r"^ckpt_(\d+)\.(zip|pt)$")


def library_versions(*libraries: str) -> dict[str, str]:
    """The versions a run's output depends on: realism_env's, numpy's, each of ``libraries`` (imported by name) and
    Python's, as recorded in config.json and experiment.json."""
    import importlib
    import sys

    import realism_env

    versions = {"realism_env": realism_env.__version__, "numpy": np.__version__}
    versions |= {name: importlib.import_module(name).__version__ for name in libraries}
    return versions | {"python": sys.version.split()[0]}


def read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path`` (a run's config.json or metrics.json, a cache record), or None where it is missing,
    unreadable or not an object."""
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def atomic_write_json(path: Path, obj: Any) -> None:
    """``obj`` as indented JSON (NaN written as null), atomically."""
    atomic_write_bytes(path, (json.dumps(jsonable(obj), indent=2, allow_nan=False) + "\n").encode())


def _encode_bytes(tensor: torch.Tensor) -> str:
    return base64.b64encode(tensor.cpu().numpy().tobytes()).decode()


def _decode_bytes(text: str) -> torch.Tensor:
    return torch.frombuffer(bytearray(base64.b64decode(text)), dtype=torch.uint8)


def _env_generator(env_rng: Any) -> Any:
    """The generator behind ``env_rng``: a numpy ``Generator`` or a ``torch.Generator`` (a backend's random source,
    such as ``WorldBatch.random``, holds it in ``.generator``)."""
    generator = getattr(env_rng, "generator", env_rng)
    if not isinstance(generator, (np.random.Generator, torch.Generator)):
        raise ValueError(
            f"env_rng={env_rng!r} is invalid; valid: None, a WorldBatch's random source (batch.random), "
            "a numpy.random.Generator or a torch.Generator"
        )
    return generator


def env_rng_state(env_rng: Any) -> dict[str, Any] | None:
    """The state of the env's generator as JSON (None for None): a numpy bit generator's state dict, or
    ``{"torch_generator": base64}`` for a ``torch.Generator``."""
    if env_rng is None:
        return None
    generator = _env_generator(env_rng)
    if isinstance(generator, np.random.Generator):
        return generator.bit_generator.state
    return {"torch_generator": _encode_bytes(generator.get_state())}


def restore_env_rng(state: dict[str, Any] | None, env_rng: Any) -> None:
    """Put the state of :func:`env_rng_state` back into ``env_rng`` (nothing when either is None)."""
    if state is None or env_rng is None:
        return
    generator = _env_generator(env_rng)
    if isinstance(generator, np.random.Generator) != ("torch_generator" not in state):
        raise ValueError(f"the saved env generator state does not fit {type(generator).__name__}")
    if isinstance(generator, np.random.Generator):
        generator.bit_generator.state = state
    else:
        generator.set_state(_decode_bytes(state["torch_generator"]))


def restore_generator(generator: torch.Generator, state: torch.Tensor, name: str) -> bool:
    """Put a ``torch.Generator``'s saved ``state`` back; returns whether it fit. A state saved from a generator of
    another device type (a run resumed on another device: a CUDA generator's state is not a CPU one's) does not: a
    note on stderr names ``name``, and the generator goes on from its seed."""
    try:
        generator.set_state(state.cpu())
    except RuntimeError as error:
        print(f"{name} goes on from its seed: its saved state is another device's ({error})", file=sys.stderr)
        return False
    return True


def rng_state(env_rng: Any = None) -> dict[str, Any]:
    """The RNG states a resumed run needs, as JSON: torch, numpy's global, Python's, and the env's generator."""
    # SB3 draws its minibatch permutations from numpy's global RNG, so that state is part of a run's.
    kind, keys, pos, has_gauss, gauss = np.random.get_state()  # noqa: NPY002
    version, internal, py_gauss = random.getstate()
    return {
        "torch": _encode_bytes(torch.get_rng_state()),
        "numpy_global": [kind, keys.tolist(), pos, has_gauss, gauss],
        "python": [version, list(internal), py_gauss],
        "env": env_rng_state(env_rng),
    }


def restore_rng(state: dict[str, Any], env_rng: Any = None) -> None:
    """Put back the RNG states saved by :func:`rng_state` (the env's into ``env_rng``, if both exist)."""
    torch.set_rng_state(_decode_bytes(state["torch"]))
    kind, keys, pos, has_gauss, gauss = state["numpy_global"]
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), pos, has_gauss, gauss))  # noqa: NPY002
    version, internal, py_gauss = state["python"]
    random.setstate((version, tuple(internal), py_gauss))
    restore_env_rng(state.get("env"), env_rng)


def checkpoint_steps(path: Path) -> int | None:
    """The timestep count in a checkpoint's file name, or None if it is not one."""
    match = _NAME.match(Path(path).name)
    return int(match.group(1)) if match else None


def save_checkpoint(
    model: Any,
    directory: Path,
    extra: dict[str, Any] | None = None,
    env_rng: Any = None,
    keep: int = 2,
) -> Path:
    """Save ``model`` (SB3, optimiser included), its step count, the RNG states and ``extra`` as one checkpoint.

    Writes ``ckpt_<num_timesteps>.zip`` atomically, then ``latest.json``, then deletes all but the newest ``keep``
    checkpoints and any temporary file a killed writer left (:data:`STALE_TEMP_S`; not one another live writer may
    be writing). Returns the checkpoint's path. The numpy arrays in
    ``extra`` (at any depth) go into an ``arrays.npz`` entry, read back without unpickling by :func:`read_arrays`;
    the rest into ``train_state.json``.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    steps = int(model.num_timesteps)
    buffer = io.BytesIO()
    model.save(buffer)
    plain, arrays = _split_arrays(extra or {})
    state = {"num_timesteps": steps, "rng": rng_state(env_rng), **plain}
    with zipfile.ZipFile(buffer, mode="a") as archive:
        archive.writestr(STATE_ENTRY, json.dumps(jsonable(state), allow_nan=False))
        if arrays:
            packed = io.BytesIO()
            np.savez(packed, **arrays)
            archive.writestr(ARRAYS_ENTRY, packed.getvalue())
    path = directory / f"ckpt_{steps:012d}.zip"
    atomic_write_bytes(path, buffer.getvalue())
    atomic_write_json(directory / LATEST, {"checkpoint": path.name, "num_timesteps": steps})
    _prune(directory, keep=max(keep, 1), current=path)
    return path


def save_torch_checkpoint(state: dict[str, Any], directory: Path, keep: int = 2) -> Path:
    """Save a torch trainer's ``state`` (tensors, numbers, strings, lists and dicts of them, with an int
    ``num_timesteps``) as ``ckpt_<num_timesteps>.pt`` with ``torch.save``, atomically as :func:`save_checkpoint` does,
    then ``latest.json``, keeping the newest ``keep``. It is read back with ``torch.load(weights_only=True)``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    steps = int(state["num_timesteps"])
    buffer = io.BytesIO()
    torch.save(state, buffer)
    path = directory / f"ckpt_{steps:012d}.pt"
    atomic_write_bytes(path, buffer.getvalue())
    atomic_write_json(directory / LATEST, {"checkpoint": path.name, "num_timesteps": steps})
    _prune(directory, keep=max(keep, 1), current=path)
    return path


def _prune(directory: Path, keep: int, current: Path) -> None:
    checkpoints = sorted((p for p in directory.iterdir() if checkpoint_steps(p) is not None), key=checkpoint_steps)
    for old in checkpoints[:-keep]:
        if old != current:
            old.unlink(missing_ok=True)
    now = time.time()
    for tmp in directory.glob(".*.tmp"):  # a killed writer's; not one another writer may be writing now
        with contextlib.suppress(OSError):
            if not _writing(temp_writer(tmp)) or now - tmp.stat().st_mtime > STALE_TEMP_S:
                tmp.unlink()


def _writing(pid: int | None) -> bool:
    """Whether the process ``pid`` (a temporary file's writer) may still be writing: another live process on this
    machine, or one that cannot be told (None); not this process (its own writes are done) nor a dead one."""
    if pid is None:
        return True
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # alive, another user's
        return True
    return True


@contextlib.contextmanager
def folder_lock(directory: Path, name: str = RUN_LOCK, wait: bool = True) -> Iterator[bool]:
    """An exclusive lock on a folder (released when the process dies, however it dies): yields True once held; with
    ``wait=False``, False at once where another process holds it. ``flock`` locks an open file, not a process: a
    process that opens the file again while it holds the lock does not get it a second time. A run folder's lock
    (:data:`RUN_LOCK`) is held by whoever trains a run in it (``train.ppo`` and ``train.fast_ppo``'s command lines,
    ``train.experiment``'s workers)."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / name, "w") as handle:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: no lock
            yield True
            return
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True


def read_checkpoint(path: Path) -> dict[str, Any] | None:
    """The train state of the checkpoint at ``path``, or None if it is missing, truncated or corrupt. A torch
    trainer's ``.pt`` checkpoint is read whole, with ``weights_only=True`` (never unpickling arbitrary objects)."""
    if Path(path).suffix == ".pt":
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception:  # noqa: BLE001 - any unreadable file (truncated, corrupt, not ours) is skipped
            return None
        return state if isinstance(state, dict) and isinstance(state.get("num_timesteps"), int) else None
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if "data" not in names or STATE_ENTRY not in names or archive.testzip() is not None:
                return None
            state = json.loads(archive.read(STATE_ENTRY))
    except (OSError, zipfile.BadZipFile, ValueError, KeyError, EOFError):
        return None
    return state if isinstance(state, dict) and isinstance(state.get("num_timesteps"), int) else None


def readable_model(path: Path) -> bool:
    """Whether the final model of a run at ``path`` reads whole: ``train.fast_ppo``'s ``model.pt`` (loaded with
    ``weights_only=True``, holding the network's weights) or ``train.ppo``'s ``model.zip`` (an SB3 archive whose
    entries all pass their CRC check). A missing, empty or truncated one does not."""
    path = Path(path)
    if path.suffix == ".pt":
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception:  # noqa: BLE001 - any unreadable file (missing, truncated, corrupt, not ours) is not one
            return False
        return isinstance(state, dict) and "agent" in state
    try:
        with zipfile.ZipFile(path) as archive:
            return {"data", "policy.pth"} <= set(archive.namelist()) and archive.testzip() is None
    except (OSError, zipfile.BadZipFile, ValueError, EOFError):
        return False


def read_arrays(path: Path, state: dict[str, Any]) -> dict[str, Any]:
    """``state`` (what :func:`read_checkpoint` read of the ``.zip`` checkpoint at ``path``) with the numpy arrays
    :func:`save_checkpoint` put in its ``arrays.npz`` entry back in their places (read with ``allow_pickle=False``)."""
    with zipfile.ZipFile(path) as archive:
        if ARRAYS_ENTRY not in archive.namelist():
            return state
        with np.load(io.BytesIO(archive.read(ARRAYS_ENTRY)), allow_pickle=False) as packed:
            arrays = {key: packed[key] for key in packed.files}
    state = json.loads(json.dumps(state))  # a copy to fill in
    for key, array in arrays.items():
        *parents, name = key.split("/")
        place = state
        for parent in parents:
            place = place.setdefault(parent, {})
        place[name] = array
    return state


def _split_arrays(state: dict[str, Any], prefix: str = "") -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """``state`` without its numpy arrays (at any depth of nested dicts), and those arrays by ``/``-joined path."""
    plain: dict[str, Any] = {}
    arrays: dict[str, np.ndarray] = {}
    for key, value in state.items():
        if "/" in str(key):
            raise ValueError(f"checkpoint key {key!r} has a '/'; valid: keys without one (it joins the arrays' paths)")
        if isinstance(value, np.ndarray):
            arrays[prefix + str(key)] = value
        elif isinstance(value, dict):
            plain[key], inner = _split_arrays(value, f"{prefix}{key}/")
            arrays.update(inner)
        else:
            plain[key] = value
    return plain, arrays


def unreadable_checkpoints(directory: Path, newer_than: int = -1) -> list[Path]:
    """The checkpoints in ``directory`` past ``newer_than`` timesteps that cannot be read (truncated, corrupt, not
    ours), oldest first: the ones :func:`find_latest` passed over. Temporary files are not checkpoints."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    steps = {path: checkpoint_steps(path) for path in directory.iterdir()}
    named = sorted((path for path, n in steps.items() if n is not None and n > newer_than), key=steps.__getitem__)
    return [path for path in named if read_checkpoint(path) is None]


def find_latest(directory: Path) -> tuple[Path, dict[str, Any]] | None:
    """The newest readable checkpoint in ``directory`` as (path, train state), or None if there is none.

    The readable ``ckpt_*`` file with the most timesteps; ``latest.json`` only breaks a tie (a ``.zip`` and a ``.pt``
    of one step count). A pointer left stale (a writer killed between a checkpoint and its pointer) or damaged never
    hides a newer readable checkpoint; unreadable ones (truncated, corrupt) are passed over. Temporary files are
    ignored.
    """
    directory = Path(directory)
    if not directory.is_dir():
        return None
    try:
        pointed = Path(str(json.loads((directory / LATEST).read_text())["checkpoint"])).name
    except (OSError, ValueError, KeyError, TypeError):
        pointed = None
    candidates = sorted(
        (p for p in directory.iterdir() if checkpoint_steps(p) is not None),
        key=lambda p: (checkpoint_steps(p), p.name == pointed),
        reverse=True,
    )
    for path in candidates:
        state = read_checkpoint(path)
        if state is not None:
            return path, state
    return None
