"""Array backends: which array library runs the rules, and the generator that feeds them random draws.

The rules (:mod:`realism_env.rules`, :mod:`realism_env.observation`, :mod:`realism_env.doctrines`) are written once
in the style of the Python array API standard: every function takes its array namespace from its inputs with
:func:`array_namespace` and calls only standard functions. They run unchanged on

- ``numpy`` (>= 2, whose main namespace follows the standard): the default, no extra dependency;
- ``torch`` on CPU or CUDA, through ``array-api-compat`` (``pip install "realism-env[torch]"``), whose namespace
  :class:`TorchNamespace` passes on with ``maximum`` and ``minimum`` made traceable by ``torch.compile``;
- any other library that ``array-api-compat`` knows, such as ``array-api-strict`` (used by the tests).

torch and array-api-compat are imported only when a torch backend is asked for, so ``import realism_env`` needs
neither.

Random draws never happen inside the rules: each turn's draws are arrays made by the backend's own generator
(:class:`NumpyRandom` wraps a ``numpy.random.Generator``; :class:`TorchRandom` a ``torch.Generator`` on the device)
and passed in (:mod:`realism_env.draws`). The same seed gives the same trajectory on a backend; the two backends'
generators differ, so numpy and torch trajectories from one seed differ (fed the same draws, they agree).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

BACKENDS: tuple[str, ...] = ("numpy", "torch")
DTYPES: tuple[str, ...] = ("float32", "float64")


class NumpyNamespace:
    """numpy's own namespace (numpy >= 2 follows the array API standard), as the rules see it.

    Every name is numpy's, except a few functions that the rules call dozens of times a turn, which go to numpy's C
    entry points for the same operation: reductions to the ufuncs' ``reduce`` (``sum`` is ``np.add.reduce``),
    ``clip`` to ``np.maximum``/``np.minimum``, ``stack`` to ``np.concatenate``, and ``astype``, ``reshape``,
    ``permute_dims``, ``take``, ``argmax`` and ``cumulative_sum`` to the array's methods; and ``sum``, ``max`` and
    ``any`` over a short axis (a nation axis) of a large array combine its slices
    (:func:`_reduce_short_axis`). Same results; at one world
    (the PettingZoo env), where a turn's cost is numpy's per-call overhead, numpy's Python layer around these would
    cost more than the arithmetic.
    """

    def __getattr__(self, name: str) -> Any:
        return getattr(np, name)

    # numpy's own functions, named here so that looking them up costs nothing
    bool = np.bool_
    int8, int64, float32, float64 = np.int8, np.int64, np.float32, np.float64
    inf = np.inf
    where = staticmethod(np.where)
    matmul = staticmethod(np.matmul)
    maximum = staticmethod(np.maximum)
    minimum = staticmethod(np.minimum)
    exp = staticmethod(np.exp)
    floor = staticmethod(np.floor)
    concat = staticmethod(np.concatenate)
    zeros = staticmethod(np.zeros)
    zeros_like = staticmethod(np.zeros_like)
    ones = staticmethod(np.ones)
    arange = staticmethod(np.arange)
    asarray = staticmethod(np.asarray)

    @staticmethod
    def stack(arrays: list[np.ndarray], /, *, axis: int = 0) -> np.ndarray:
        new_axis = (slice(None),) * axis + (None,)
        return np.concatenate([array[new_axis] for array in arrays], axis=axis)

    @staticmethod
    def sum(x: np.ndarray, /, *, axis: Any = None, dtype: Any = None, keepdims: bool = False) -> Any:
        # slices keep these dtypes, as sum does; the size first: it rules out every small array at once
        if x.size >= BY_SLICES_FROM and dtype is None and (x.dtype.kind in "fc" or x.dtype == np.int64):
            by_slices = _reduce_short_axis(np.add, x, axis, keepdims)
            if by_slices is not None:
                return by_slices
        return np.add.reduce(x, axis=axis, dtype=dtype, keepdims=keepdims)

    @staticmethod
    def max(x: np.ndarray, /, *, axis: Any = None, keepdims: bool = False) -> Any:
        by_slices = _reduce_short_axis(np.maximum, x, axis, keepdims) if x.size >= BY_SLICES_FROM else None
        return np.maximum.reduce(x, axis=axis, keepdims=keepdims) if by_slices is None else by_slices

    @staticmethod
    def any(x: np.ndarray, /, *, axis: Any = None, keepdims: bool = False) -> Any:
        if x.size >= BY_SLICES_FROM and x.dtype == np.bool_:
            by_slices = _reduce_short_axis(np.logical_or, x, axis, keepdims)
            if by_slices is not None:
                return by_slices
        return np.logical_or.reduce(x, axis=axis, keepdims=keepdims)

    @staticmethod
    def all(x: np.ndarray, /, *, axis: Any = None, keepdims: bool = False) -> Any:
        return np.logical_and.reduce(x, axis=axis, keepdims=keepdims)

    @staticmethod
    def clip(x: np.ndarray, /, min: Any = None, max: Any = None) -> np.ndarray:
        if min is not None:
            x = np.maximum(x, min)
        return x if max is None else np.minimum(x, max)

    # The array's own methods, called unbound: the same C entry points as ``x.astype(dtype)`` and so on
    astype = staticmethod(np.ndarray.astype)
    reshape = staticmethod(np.ndarray.reshape)
    permute_dims = staticmethod(np.ndarray.transpose)
    take = staticmethod(np.ndarray.take)
    argmax = staticmethod(np.ndarray.argmax)
    cumulative_sum = staticmethod(np.ndarray.cumsum)


#: the longest axis that :func:`_reduce_short_axis` reduces slice by slice
SHORT_AXIS = 8
#: the fewest elements of an array reduced slice by slice (below it one call's overhead is the cost that counts)
BY_SLICES_FROM = 4096


def _reduce_short_axis(ufunc: np.ufunc, x: np.ndarray, axis: Any, keepdims: bool) -> np.ndarray | None:
    """``ufunc.reduce(x, axis)`` over one short axis (2 to :data:`SHORT_AXIS` long, as a nation axis is) of a large
    array (many worlds), as ``ufunc`` applied to its slices in turn; None for any other reduction. numpy reduces a
    short axis with a loop of a few elements per output, several times slower than a few whole-array operations (4x
    for a sum over the last axis of [4096, 6, 6], 3x over the middle one); for a small array (one world) the one call
    is cheaper. A sum may differ from numpy's in the last bit (another order of addition)."""
    if not isinstance(axis, int) or x.size < BY_SLICES_FROM or not -x.ndim <= axis < x.ndim:
        return None
    axis %= x.ndim
    if x.ndim < 2 or not 2 <= x.shape[axis] <= SHORT_AXIS:
        return None
    before = (slice(None),) * axis
    result = ufunc(x[(*before, 0)], x[(*before, 1)])
    for k in range(2, x.shape[axis]):
        result = ufunc(result, x[(*before, k)])
    return np.expand_dims(result, axis) if keepdims else result


#: the namespace the rules get for numpy arrays
NUMPY = NumpyNamespace()


class TorchNamespace:
    """array-api-compat's torch namespace, as the rules see it, with ``maximum`` and ``minimum`` of a tensor and a
    Python number as ``torch.clamp_min`` and ``torch.clamp_max``.

    array-api-compat turns the number into a tensor of the promoted dtype with ``torch.result_type``, which returns a
    dtype: ``torch.compile`` cannot put that in a graph and breaks the step into 39 pieces there. Clamping gives the
    same values in the tensor's own dtype (a number of the tensor's kind never changes it under the standard's
    promotion rules), and the whole step traces as one graph. Every other name is array-api-compat's.
    """

    def __init__(self) -> None:
        import array_api_compat.torch as compat
        import torch

        self._compat, self._torch = compat, torch
        # compat's names as this object's own attributes, so that a lookup costs what one on the module does; the
        # two methods below replace compat's own.
        vars(self).update({name: getattr(compat, name) for name in compat.__all__ if name not in _OWN_METHODS})

    def __getattr__(self, name: str) -> Any:  # names outside compat's __all__
        return getattr(self._compat, name)

    def _same_kind(self, tensor: Any, number: Any) -> bool:
        """Whether ``number`` is a Python number of ``tensor``'s kind (an int with an integer tensor, an int or float
        with a floating one)."""
        if not isinstance(tensor, self._torch.Tensor) or isinstance(number, bool):
            return False
        if tensor.dtype.is_floating_point:
            return isinstance(number, (int, float))
        return isinstance(number, int) and tensor.dtype != self._torch.bool

    def maximum(self, x1: Any, x2: Any, /) -> Any:
        return self._clamp_or(self._torch.clamp_min, self._compat.maximum, x1, x2)

    def minimum(self, x1: Any, x2: Any, /) -> Any:
        return self._clamp_or(self._torch.clamp_max, self._compat.minimum, x1, x2)

    def _clamp_or(self, clamp: Any, elementwise: Any, x1: Any, x2: Any) -> Any:
        """``clamp`` of the tensor by the number when one argument is a number of the other's kind, else compat's
        ``elementwise`` function."""
        if self._same_kind(x1, x2):
            return clamp(x1, x2)
        if self._same_kind(x2, x1):
            return clamp(x2, x1)
        return elementwise(x1, x2)


_OWN_METHODS = ("maximum", "minimum")  # TorchNamespace's own methods
_TORCH: list[TorchNamespace] = []  # built on first use: torch is an optional dependency


def torch_namespace() -> TorchNamespace:
    """The :class:`TorchNamespace` (one for the process)."""
    if not _TORCH:
        _TORCH.append(TorchNamespace())
    return _TORCH[0]


_NUMPY_TYPES = (np.ndarray, np.generic)  # built once: the look-up runs some 20 times a step


def array_namespace(*arrays: Any) -> Any:
    """The array namespace of ``arrays``: :data:`NUMPY` for numpy arrays, :func:`torch_namespace` for torch tensors,
    otherwise what ``array_api_compat.array_namespace`` gives (array-api-strict, ...)."""
    for array in arrays:
        if not isinstance(array, _NUMPY_TYPES):
            break
    else:
        return NUMPY
    torch = sys.modules.get("torch")  # imported already if any array is a tensor
    if torch is not None and all(isinstance(array, torch.Tensor) for array in arrays):
        # without array-api-compat's namespace lookup, whose lru_cache torch.compile warns about at every trace
        return torch_namespace()
    import array_api_compat  # an optional dependency: only non-numpy arrays need it

    namespace = array_api_compat.array_namespace(*arrays)
    return torch_namespace() if namespace is _compat_torch() else namespace


def _compat_torch() -> Any:
    import array_api_compat.torch

    return array_api_compat.torch


def is_numpy(xp: Any) -> bool:
    """Whether ``xp`` is numpy (where a data-dependent branch costs no device sync)."""
    return xp is NUMPY or xp is np


def device_of(array: Any) -> Any:
    """The device an array lives on (``"cpu"`` for numpy)."""
    return getattr(array, "device", "cpu")


def to_numpy(array: Any) -> np.ndarray:
    """A numpy copy (or view) of any backend's array, for logs, metrics and ``infos`` outside the step."""
    if isinstance(array, np.ndarray):
        return array
    if hasattr(array, "detach"):  # torch
        return array.detach().cpu().numpy()
    return np.asarray(array)


def saved_array_like(value: Any, template: Any, name: str, hint: str) -> Any:
    """A copy of ``value`` (a numpy array or a tensor on any device: what a checkpoint held) in ``template``'s
    namespace and on its device; a ``ValueError`` names it (``name``) where its shape or dtype differs from
    ``template``'s, with the ones that fit and ``hint``."""
    if isinstance(template, np.ndarray):
        array = np.array(to_numpy(value), copy=True)
    else:
        import torch

        array = torch.as_tensor(value, device=template.device).clone()
    if tuple(array.shape) != tuple(template.shape) or array.dtype != template.dtype:
        raise ValueError(
            f"{name} is {array.dtype} of shape {tuple(array.shape)}; valid: {template.dtype} of shape "
            f"{tuple(template.shape)} ({hint})"
        )
    return array


def put_rows(array: np.ndarray, rows: np.ndarray, values: np.ndarray) -> np.ndarray:
    """numpy only: a copy of ``array`` with ``values`` written at ``rows`` (increasing indices, as ``nonzero`` gives)
    of its first (world) axis; ``values`` itself where ``rows`` are every row, so a step where every world ends (as
    all do at once when they started together) copies none of the batch's arrays. (On numpy a step may resolve a
    section on the few worlds where it changes anything; other backends keep fixed shapes.)"""
    if rows.size == array.shape[0] and values.dtype == array.dtype:
        return values
    out = array.copy()
    out[rows] = values
    return out


class RandomSource(Protocol):
    """A backend's seeded generator, making arrays of draws on the backend's device."""

    def uniform(self, shape: tuple[int, ...]) -> Any: ...

    def normal(self, shape: tuple[int, ...]) -> Any: ...

    def integers(self, high: int, shape: tuple[int, ...]) -> Any: ...


@dataclass
class NumpyRandom:
    """Draws from a ``numpy.random.Generator``."""

    generator: np.random.Generator
    dtype: Any = np.float64

    def uniform(self, shape: tuple[int, ...]) -> np.ndarray:
        return self.generator.random(shape, dtype=self.dtype)

    def normal(self, shape: tuple[int, ...]) -> np.ndarray:
        return self.generator.standard_normal(shape, dtype=self.dtype)

    def integers(self, high: int, shape: tuple[int, ...]) -> np.ndarray:
        return self.generator.integers(0, high, size=shape, dtype=np.int64)


@dataclass
class TorchRandom:
    """Draws from a ``torch.Generator`` that lives on the device, so no draw crosses to the host."""

    generator: Any
    device: Any
    dtype: Any

    def uniform(self, shape: tuple[int, ...]) -> Any:
        import torch

        return torch.rand(shape, generator=self.generator, device=self.device, dtype=self.dtype)

    def normal(self, shape: tuple[int, ...]) -> Any:
        import torch

        return torch.randn(shape, generator=self.generator, device=self.device, dtype=self.dtype)

    def integers(self, high: int, shape: tuple[int, ...]) -> Any:
        import torch

        return torch.randint(0, high, shape, generator=self.generator, device=self.device, dtype=torch.int64)


@dataclass(frozen=True)
class Backend:
    """A resolved choice of array library, device and float dtype."""

    name: str  #: "numpy" or "torch"
    xp: Any  #: the array namespace the rules call
    device: Any  #: "cpu" for numpy; a torch.device for torch
    float_dtype: Any  #: the dtype of every float array of the world

    @property
    def float_dtype_name(self) -> str:
        """``"float64"`` or ``"float32"``."""
        return str(_dtype_name(self.float_dtype))

    @property
    def largest_float(self) -> float:
        """The largest finite value of the float dtype."""
        return float(self.xp.finfo(self.float_dtype).max)

    def asarray(self, values: Any, dtype: Any = None) -> Any:
        """``values`` (numpy arrays, lists) as an array of this backend, on its device."""
        if self.name == "numpy":
            return np.asarray(values, dtype=dtype)
        import torch

        return torch.as_tensor(np.asarray(values), device=self.device, dtype=dtype)

    def random(self, seed: int | np.random.SeedSequence | None) -> RandomSource:
        """The backend's own generator, seeded: ``seed`` an int, a ``SeedSequence``, or None (fresh entropy)."""
        sequence = seed_sequence(seed)
        if self.name == "numpy":
            return NumpyRandom(np.random.default_rng(sequence), self.float_dtype)
        import torch

        generator = torch.Generator(device=self.device)
        generator.manual_seed(int(sequence.generate_state(1, np.uint64)[0] >> np.uint64(1)))
        return TorchRandom(generator, self.device, self.float_dtype)


def _device_kind(device: Any) -> str:
    """``"cpu"``, ``"cuda"``, ...: a torch device's type, or a device string's before any ``:index``."""
    return getattr(device, "type", str(device).split(":")[0])


def peak_memory_bytes(device: Any = "cpu") -> int | None:
    """The most memory this process has held so far where arrays on ``device`` live: on a CUDA device, the peak of
    torch's caching allocator there (``torch.cuda.max_memory_allocated``: arrays only); on the CPU, the process's peak
    resident set (everything: the interpreter and its libraries too). ``None`` where it cannot be read (another
    accelerator; an OS without ``resource``)."""
    kind = _device_kind(device)
    if kind == "cuda":
        import torch

        return int(torch.cuda.max_memory_allocated(device))
    if kind != "cpu":
        return None
    try:  # Linux: this program's own peak (getrusage's ru_maxrss keeps the peak of the process it was forked from)
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024  # kB
    except OSError:
        pass
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)  # bytes on macOS, KiB on other Unixes


def reset_peak_memory(device: Any = "cpu") -> None:
    """Start :func:`peak_memory_bytes` afresh from what is held now (a run's own peak, in a process that ran others
    before it): ``torch.cuda.reset_peak_memory_stats`` on a CUDA device; on Linux, the kernel's peak resident set
    (``/proc/self/clear_refs``); elsewhere nothing (the process's peak stays)."""
    kind = _device_kind(device)
    if kind == "cuda":
        import torch

        torch.cuda.reset_peak_memory_stats(device)
    elif kind == "cpu":
        try:
            with open("/proc/self/clear_refs", "w") as clear:
                clear.write("5")  # 5: reset the peak resident set size (proc(5))
        except OSError:  # not Linux, or not allowed: the process's peak stays
            pass


def seed_sequence(seed: Any) -> np.random.SeedSequence:
    """``seed`` as a ``SeedSequence``: an integer >= 0, a ``SeedSequence`` (kept), or None (fresh entropy);
    ``ValueError`` naming any other seed."""
    if isinstance(seed, np.random.SeedSequence):
        return seed
    try:
        if isinstance(seed, (bool, np.bool_)) or (seed is not None and seed < 0):
            raise ValueError
        return np.random.SeedSequence(seed)
    except (TypeError, ValueError):
        raise ValueError(f"seed={seed!r} is invalid; valid: None, an integer >= 0, or a numpy SeedSequence") from None


def resolve_backend(backend: str = "numpy", device: Any = None, dtype: Any = None) -> Backend:
    """Check a backend choice and resolve its defaults.

    ``backend``: ``"numpy"`` or ``"torch"``. ``device``: numpy only runs on ``"cpu"``; torch takes any torch device
    (default ``"cpu"``). ``dtype``: ``"float64"`` or ``"float32"`` (or the library's dtype object); default float64
    on the CPU and float32 on a GPU (see the tolerances in :mod:`realism_env.batch`).
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend={backend!r} is invalid; valid: {', '.join(map(repr, BACKENDS))}")
    name = _dtype_name(dtype)
    if backend == "numpy":
        if device not in (None, "cpu"):
            raise ValueError(f"device={device!r} is invalid for the numpy backend; valid: None or 'cpu' (torch: any)")
        return Backend("numpy", NUMPY, "cpu", np.dtype(name or "float64").type)
    try:
        import array_api_compat  # noqa: F401
        import torch
    except ImportError as error:
        raise ValueError(
            f"backend='torch' needs torch and array-api-compat ({error}); valid: backend='numpy', or install them "
            "with: pip install torch==2.13.0 array-api-compat (torch's CPU build first on a machine without a GPU)"
        ) from None
    try:
        torch_device = torch.device("cpu" if device is None else device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"device={device!r} is invalid ({error}); valid: 'cpu', 'cuda', 'cuda:0', ...") from None
    if torch_device.type == "meta":  # shapes without data: no world can be stepped on it
        raise ValueError(f"device={device!r} is invalid: a meta tensor holds no data; valid: 'cpu', 'cuda', ...")
    if torch_device.type != "cpu":  # cuda, or another accelerator torch knows (mps, xpu, ...): is one here?
        accelerator = getattr(torch, torch_device.type, None)
        available = accelerator is not None and accelerator.is_available()
        kind = "CUDA" if torch_device.type == "cuda" else torch_device.type
        if not available:
            raise ValueError(f"device={device!r} is invalid: torch sees no {kind} device here; valid: 'cpu'")
        count = accelerator.device_count() if hasattr(accelerator, "device_count") else 1
        if torch_device.index is not None and torch_device.index >= count:
            valid = ", ".join(repr(f"{torch_device.type}:{i}") for i in range(count))
            raise ValueError(f"device={device!r} is invalid: torch sees {count} {kind} device(s) here; valid: {valid}")
    default = "float32" if torch_device.type != "cpu" else "float64"
    return Backend("torch", torch_namespace(), torch_device, getattr(torch, name or default))


def _dtype_name(dtype: Any) -> str | None:
    if dtype is None:
        return None
    # a name as given; a dtype object by its printed name (np.float32, np.dtype("float32"), torch.float32)
    name = dtype if isinstance(dtype, str) else str(dtype).rsplit(".", 1)[-1].replace("<class '", "").rstrip("'>")
    if name not in DTYPES:
        raise ValueError(f"dtype={dtype!r} is invalid; valid: {', '.join(map(repr, DTYPES))} (or None: the default)")
    return name
