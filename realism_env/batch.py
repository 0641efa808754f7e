"""Many worlds stepped at once with the same rules, on numpy or on torch (CPU or CUDA).

:class:`WorldBatch` keeps ``W`` independent worlds in one :class:`~realism_env.world.World` and advances them all with
one call of :func:`realism_env.step.step_worlds`, so the cost per world falls as ``W`` grows. A world that ends
(unification or ``max_cycles``) is replaced at once by a fresh one (reset inside the step, as in JaxMARL): a masked
write of every array, with fixed shapes and no host sync. Fresh worlds come from a *map bank* of ``map_bank`` maps
generated from the seed at construction (:mod:`realism_env.maps`): with a bank of ``K`` maps, worlds repeat maps
(``K`` layouts of borders and territories, each dealt to the nations in a random order, with fresh province wealth).

Backends and dtypes:

| backend | device | default float dtype | arrays in and out |
|---|---|---|---|
| ``"numpy"`` | the CPU | float64 (float32 on request) | numpy arrays |
| ``"torch"`` | ``"cpu"`` (default), ``"cuda"``, ... | float64 on the CPU, float32 on a GPU | tensors on the device |

Observations are float32 on every backend. In float64 the two backends fed the same draws give the same
trajectories (the parity tests check 200 turns of 64 worlds of every scenario): identical territories, wars,
alliances, demands, eliminations, masks and which events happen; the events' amounts and the worlds' floats within
1e-9 relative, and observations and rewards within 1e-6 (rounding of sums taken in another order). Float32 worlds
follow the same rules with float32 rounding: quantities agree with float64 to about 1e-5 relative per turn, so a rare
capture roll that falls within that distance of its odds can resolve differently and trajectories then part;
statistics agree (``tests/test_backends.py``).

Randomness: one seed makes a ``numpy.random.SeedSequence`` whose two children seed the map bank (numpy, on the host,
once) and the backend's own generator (a numpy ``Generator``; a ``torch.Generator`` on the device), which makes each
step's draws (:mod:`realism_env.draws`). Same seed, same trajectory, on each backend.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from typing import Any

import numpy as np

from realism_env.backend import Backend, RandomSource, resolve_backend, saved_array_like, seed_sequence, to_numpy
from realism_env.config import EnvConfig
from realism_env.draws import draw_perception, draw_reset, draw_step
from realism_env.maps import MapBank, generate_maps, initial_worlds
from realism_env.observation import observe
from realism_env.rules import Territory, mask_of
from realism_env.step import BatchStep, Derived, StepSpec, derive, step_spec, step_worlds
from realism_env.world import World, array_fields

__all__ = [
    "COMPILE_MODES",
    "DEFAULT_MAP_BANK",
    "BatchStep",
    "WorldBatch",
    "check_horizon",
    "cpu_compile_options",
    "default_map_bank",
]

#: torch.compile's modes that ``WorldBatch(compile=...)`` takes (``True`` is ``"default"``)
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
#: the modes that replay the step as a CUDA graph on a GPU
CUDA_GRAPH_MODES = ("reduce-overhead", "max-autotune")

#: At most this many maps in a bank by default (about 0.7 ms each to generate, once).
DEFAULT_MAP_BANK = 1024


def _is_integer(value: Any) -> bool:
    """A Python or numpy integer, not a bool."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def default_map_bank(n_worlds: int) -> int:
    """The default bank size: 8 maps per world, at most :data:`DEFAULT_MAP_BANK`."""
    return min(DEFAULT_MAP_BANK, 8 * n_worlds)


def cpu_compile_options(mode: str) -> dict[str, Any]:
    """torch.compile's inductor options for the step on a CPU: those of ``mode``, with scalar loops.

    Inductor's CPU code vectorises each loop over its innermost axis, in 16 lanes with AVX-512; the rules' innermost
    axes are short (6 nations, 24 provinces), so its loops ran as masked partial vectors and the compiled step ran at
    about 0.3x eager. With a SIMD width that matches no instruction set, inductor writes plain loops (the C++ compiler
    vectorises what it can): ``python -m benchmarks.batch --backend torch --step eager compiled --worlds 4096`` read
    1.48x eager (2026-12-05, an AMD EPYC, one thread; docs/benchmarks.md).
    """
    import torch._inductor

    # what mode=... would set: torch.compile takes a mode or options, not both
    return {**torch._inductor.list_mode_options(mode), "cpp.simdlen": 1}


class WorldBatch:
    """``n_worlds`` worlds of one config, stepped together.

    Args:
        config: the worlds' config (all share it).
        n_worlds: worlds stepped together (``W``).
        seed: seeds the map bank and the backend's generator: an integer >= 0, a numpy ``SeedSequence``, or ``None``
            (fresh entropy).
        backend: ``"numpy"`` or ``"torch"``.
        device: the torch device (``"cpu"``, ``"cuda"``, ...); numpy runs on the CPU only.
        dtype: ``"float64"`` or ``"float32"`` for the world's floats; default float64 on the CPU, float32 on a GPU.
            Wealth compounds, so float32 worlds hold shorter episodes: ``max_cycles`` up to
            ``config.longest_horizon(largest float32)`` (2,426 turns at 3% growth; ``ValueError`` beyond).
        map_bank: maps in the bank fresh worlds are drawn from (default :func:`default_map_bank`).
        compile: torch only: ``True`` (or ``"default"``) steps with ``torch.compile(step_worlds)``: one graph, its
            elementwise operations fused into fewer kernels. ``"reduce-overhead"`` also replays the step as a CUDA
            graph on a GPU (one launch for the whole step, torch.compile's mode of that name): a step's outputs are
            then valid until the next step, so copy what you keep (``.clone()``). The first step compiles (tens of
            seconds); the trajectories are those of the eager step up to float rounding. On a GPU the eager step is
            bound by its kernel launches at moderate batch sizes; on a CPU compiling (with scalar loops:
            :func:`cpu_compile_options`) gives 1.5x eager at 4,096 worlds and 3x at 64 (see the README's
            benchmarks), where numpy stays faster still.

    ``reset()`` returns ``([W, N, D] observations, [W, N, A] action masks)``; ``step(actions)`` takes ``[W, N]``
    integer flat actions (a tensor on the device for torch) and returns a :class:`~realism_env.step.BatchStep`.
    """

    def __init__(
        self,
        config: EnvConfig,
        n_worlds: int,
        seed: int | np.random.SeedSequence | None = None,
        backend: str = "numpy",
        device: Any = None,
        dtype: Any = None,
        map_bank: int | None = None,
        compile: bool | str = False,
    ) -> None:
        if not isinstance(config, EnvConfig):
            raise ValueError(f"config={config!r} is invalid; valid: a realism_env.EnvConfig")
        if not _is_integer(n_worlds) or n_worlds < 1:
            raise ValueError(f"n_worlds={n_worlds!r} is invalid; valid: an integer >= 1")
        if map_bank is not None and (not _is_integer(map_bank) or map_bank < 1):
            raise ValueError(f"map_bank={map_bank!r} is invalid; valid: None (the default) or an integer >= 1")
        n_worlds, map_bank = int(n_worlds), None if map_bank is None else int(map_bank)
        self.config = config
        self.n_worlds = n_worlds
        self.n_nations = config.n_nations
        self.backend = resolve_backend(backend, device, dtype)
        check_horizon(config, self.backend, "EnvConfig.max_cycles")
        self.map_bank_size = default_map_bank(n_worlds) if map_bank is None else map_bank
        # a bool or a mode's name (1 == True, but torch.compile takes no mode 1)
        if not (isinstance(compile, (bool, np.bool_)) or (isinstance(compile, str) and compile in COMPILE_MODES)):
            valid = ", ".join(["False", "True", *map(repr, COMPILE_MODES)])
            raise ValueError(f"compile={compile!r} is invalid; valid: {valid}")
        if compile and self.backend.name != "torch":
            raise ValueError(f"compile={compile!r} is invalid for the numpy backend; valid: backend='torch'")
        compile = bool(compile) if isinstance(compile, np.bool_) else compile
        self.compile_mode = ("default" if compile is True else compile) or None  #: None: the eager step
        self._step_worlds = step_worlds
        if self.compile_mode:
            import torch

            # static shapes: a batch keeps its size
            if self.backend.device.type == "cpu":
                options = cpu_compile_options(self.compile_mode)
                self._step_worlds = torch.compile(step_worlds, dynamic=False, options=options)
            else:  # a GPU's kernels are Triton's, whatever cpp.simdlen says
                self._step_worlds = torch.compile(step_worlds, dynamic=False, mode=self.compile_mode)
        self.world: World | None = None
        self._derived: Derived | None = None
        # Built once: the doctrines and the observation layout stay those of construction, whatever is registered
        # later (a reseed replaces only the maps).
        self._spec: StepSpec = step_spec(self.config, self.backend)
        self._seed(seed)
        self.layout = self._spec.layout
        self.doctrines = self._spec.doctrines
        self.n_actions = self._spec.rules.level_of.shape[0]

    def _seed(self, seed: int | np.random.SeedSequence | None) -> None:
        """A new map bank and generator from ``seed``."""
        bank_seed, step_seed = seed_sequence(seed).spawn(2)
        bank = generate_maps(self.config, np.random.default_rng(bank_seed), self.map_bank_size)
        self.maps: MapBank = bank.map_arrays(self.backend.asarray)
        self.random: RandomSource = self.backend.random(step_seed)
        self._spec = dataclasses.replace(self._spec, maps=self.maps)

    @property
    def observation_size(self) -> int:
        return self.layout.size

    @property
    def xp(self) -> Any:
        """The array namespace of the backend."""
        return self.backend.xp

    def reset(self, seed: int | None = None) -> tuple[Any, Any]:
        """Fresh worlds (reseeded, with a new map bank, when ``seed`` is given); returns ([W, N, D] observations,
        [W, N, A] action masks)."""
        if seed is not None:
            self._seed(seed)
        config, spec = self.config, self._spec
        draws = draw_reset(
            self.random, self.n_worlds, self.n_nations, config.n_provinces, self.maps.size, config.capability_spread
        )
        self.world = initial_worlds(self.maps, draws, config, spec.rules)
        self._derived = derive(self.world, spec, draws.map_index)
        perception = draw_perception(self.random, self.n_worlds, self.n_nations)
        observations = observe(self.world, config, perception, spec.observation, self._derived.land)
        return observations, mask_of(self._derived.validity, spec.rules)

    def step(self, actions: Any) -> BatchStep:
        """Advance every world one turn with ``[W, N]`` flat actions (ignored for dead nations)."""
        if self.world is None:
            raise RuntimeError("call reset() before step()")
        actions = self._checked(actions)
        config = self.config
        draws = draw_step(
            self.random, self.n_worlds, self.n_nations, config.n_provinces, self.maps.size, config.capability_spread
        )
        graphed = self.compile_mode in CUDA_GRAPH_MODES and self.backend.device.type == "cuda"
        if graphed:
            import torch

            torch.compiler.cudagraph_mark_step_begin()
        out, world, derived = self._step_worlds(self.world, self._derived, actions, draws, self._spec)
        if graphed:  # the graph's outputs are overwritten by its next replay: keep copies of what the next step reads
            world = world.map_arrays(lambda array: array.clone())
            derived = Derived(
                Territory(*(a.clone() for a in derived.land)), derived.validity.clone(), derived.map_index.clone()
            )
        self.world, self._derived = world, derived
        return out

    def _checked(self, actions: Any) -> Any:
        return checked_actions(actions, self.backend, (self.n_worlds, self.n_nations), self.n_actions)

    def state_dict(self) -> dict[str, Any]:
        """The worlds as they stand, for a checkpoint that continues them turn for turn: ``"world"`` (every
        :class:`~realism_env.world.World` array, of the backend), ``"map_index"`` ([W], each world's map in the bank),
        ``"random"`` (the generator's state: a numpy bit generator's dict, or a ``torch.Generator``'s ByteTensor),
        ``"backend"``, ``"map_bank"`` (a digest of the bank, which the seed makes) and ``"config"`` (the batch's
        ``EnvConfig.to_dict()``); the arrays are copies. The last step's observations and masks are not in it: keep
        them beside it. ``torch.save`` writes it; numpy arrays need ``torch.as_tensor`` first for a ``weights_only``
        load."""
        if self.world is None or self._derived is None:
            raise RuntimeError("call reset() before state_dict(): there are no worlds yet")
        copy = self.backend.xp.asarray
        return {
            "world": {name: copy(getattr(self.world, name), copy=True) for name in array_fields()},
            "map_index": copy(self._derived.map_index, copy=True),
            "random": self._generator_state(),
            "backend": self.backend.name,
            "map_bank": self._map_bank_digest(),
            "config": self.config.to_dict(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue the worlds of :meth:`state_dict`, saved from a batch of the same config, size, seed (the map bank)
        and dtype; its arrays may be numpy arrays or tensors on any device. A state of another batch raises
        ``ValueError`` naming what differs; nothing of this batch changes then."""
        if not isinstance(state, Mapping):
            raise ValueError(f"state={type(state).__name__} is invalid; valid: a WorldBatch.state_dict()")
        missing = [key for key in ("world", "map_index", "random", "backend", "map_bank") if key not in state]
        if missing:
            raise ValueError(f"the state lacks {missing}; valid: a WorldBatch.state_dict()")
        if state["backend"] != self.backend.name:  # another generator: its draws could not go on
            raise ValueError(
                f"the state was saved from a {state['backend']!r} batch; valid: a {state['backend']!r} batch (this one "
                f"is {self.backend.name!r})"
            )
        self._check_config(state.get("config"))
        if state["map_bank"] != self._map_bank_digest():
            raise ValueError(
                "the state's worlds were drawn from another map bank; valid: a WorldBatch of the same config, "
                "n_worlds, seed and map_bank as the one that saved it"
            )
        before = (self.world, self._derived, self._generator_state())
        try:
            if self.world is None:  # shapes and dtypes to check against (the draws are put back below)
                self.reset()
            self._load(state)
        except Exception as error:  # whatever went wrong, the batch stays as it was
            self.world, self._derived = before[:2]
            self._set_generator_state(before[2])
            if isinstance(error, ValueError):
                raise
            raise ValueError(
                f"the state does not fit this batch ({type(error).__name__}: {error}); valid: a WorldBatch.state_dict()"
            ) from error

    def _check_config(self, saved: Mapping[str, Any] | None) -> None:
        """Raise ``ValueError`` naming the fields where a state's config differs from this batch's (states saved
        before the config was kept in them have none to check)."""
        if saved is None:
            return
        if not isinstance(saved, Mapping):
            raise ValueError(
                f"the state's config is {type(saved).__name__}; valid: a WorldBatch.state_dict()'s (a dict)"
            )
        ours = self.config.to_dict()
        differ = sorted(name for name, value in ours.items() if _as_saved(value) != _as_saved(saved.get(name)))
        if differ:
            theirs = ", ".join(f"{name}={saved.get(name)!r}" for name in differ)
            mine = ", ".join(f"{name}={ours[name]!r}" for name in differ)
            raise ValueError(f"the state was saved from a batch whose config has {theirs}; valid: a state of {mine}")

    def _load(self, state: Mapping[str, Any]) -> None:
        saved, template = state["world"], self.world
        unknown = sorted(set(saved) - set(array_fields()))
        absent = [name for name in array_fields() if name not in saved]
        if unknown or absent:
            raise ValueError(f"the state's world has fields {unknown} and lacks {absent}; valid: {array_fields()}")
        hint = "a batch of the same config, n_worlds and dtype"
        arrays = {
            name: saved_array_like(saved[name], getattr(template, name), f"the state's world.{name}", hint)
            for name in saved
        }
        map_index = saved_array_like(state["map_index"], self._derived.map_index, "the state's map_index", hint)
        world = World(**arrays)
        derived = derive(world, self._spec, map_index)
        self._set_generator_state(state["random"])
        self.world, self._derived = world, derived

    def _generator_state(self) -> Any:
        generator = self.random.generator
        if isinstance(generator, np.random.Generator):
            return generator.bit_generator.state
        return generator.get_state()

    def _set_generator_state(self, state: Any) -> None:
        generator = self.random.generator
        try:
            if isinstance(generator, np.random.Generator):
                generator.bit_generator.state = state
            else:
                import torch

                generator.set_state(torch.as_tensor(state, dtype=torch.uint8).cpu())  # a tensor or numpy array
        except (TypeError, ValueError, AttributeError, RuntimeError) as error:
            raise ValueError(f"the state's random state does not fit this batch's generator ({error})") from None

    def _map_bank_digest(self) -> str:
        """A digest of the map bank's territories and borders (what a seed and config make)."""
        digest = hashlib.sha256()
        for array in (self.maps.territory, self.maps.land_adjacency, self.maps.sea_adjacency):
            digest.update(to_numpy(array).tobytes())
        return digest.hexdigest()


def _as_saved(value: Any) -> Any:
    """A config value as a saved state holds it after a round trip (tuples may come back as lists)."""
    return [_as_saved(v) for v in value] if isinstance(value, (tuple, list)) else value


def check_horizon(config: EnvConfig, backend: Backend, setting: str, instead: str = "dtype='float64'") -> None:
    """A ``ValueError`` if the worlds' wealth could overflow the backend's float dtype within ``max_cycles`` turns
    (:meth:`~realism_env.config.EnvConfig.longest_horizon`; the config itself checks float64). The message names
    the ``setting`` to shorten and the way to longer episodes ``instead`` (a command's flags say theirs)."""
    horizon = config.longest_horizon(backend.largest_float)
    if horizon is not None and config.max_cycles > horizon:
        dtype = backend.float_dtype_name
        raise ValueError(
            f"{setting}={config.max_cycles} is too long for {dtype} worlds: their wealth could pass the largest "
            f"{dtype} after {horizon:,} turns and turn observations to NaN; valid: {setting} <= {horizon:,}, or "
            f"{instead} (float64 worlds: up to {config.longest_horizon():,})"
        )


def checked_actions(actions: Any, backend: Backend, shape: tuple[int, int], n_actions: int) -> Any:
    """``actions`` as an int64 array of ``backend``, after checking their ``[W, N]`` shape, type and range (a
    ``ValueError`` names the first action outside ``0..n_actions-1``, its nation and world). On torch the range is
    checked with ``torch._assert_async``: no host sync; on a GPU a bad action fails at the next synchronisation as a
    device-side assert (which ends the CUDA context), on the CPU at once as the ValueError."""
    xp = backend.xp
    on_torch = backend.name == "torch"
    if on_torch:
        import torch
    if not (on_torch and isinstance(actions, torch.Tensor)):  # numpy arrays, lists: checked on the host
        try:
            host = np.asarray(actions)
        except ValueError:  # rows of different lengths
            raise ValueError(
                f"actions are not a rectangular array (rows of different lengths); valid: {shape} "
                "(worlds, nations) integers"
            ) from None
        if host.dtype.kind not in "iu":  # strings and objects torch cannot take; floats and bools refused below
            _refuse_dtype(host.dtype)
        if host.dtype == np.uint64 and host.shape == shape and (host >= 2**63).any():
            _raise_outside(host, host < n_actions, n_actions)  # named before a cast to int64 would wrap it
        actions = torch.as_tensor(host, device=backend.device) if on_torch else host
    if tuple(actions.shape) != shape:
        raise ValueError(f"actions have shape {tuple(actions.shape)}; valid: {shape} (worlds, nations)")
    if actions.dtype == xp.bool or not xp.isdtype(actions.dtype, "integral"):
        _refuse_dtype(actions.dtype)
    actions = xp.astype(actions, xp.int64)
    if backend.name == "torch" and actions.device != backend.device:
        actions = actions.to(backend.device)
    inside = (actions >= 0) & (actions < n_actions)
    if backend.name == "numpy":
        if not inside.all():
            _raise_outside(actions, inside, n_actions)
        return actions
    try:
        torch._assert_async(xp.all(inside), "an action is outside the action space")
    except RuntimeError:  # on the CPU the assert is immediate: name the culprit
        _raise_outside(actions, inside, n_actions)
    return actions


def _refuse_dtype(dtype: Any) -> None:
    raise ValueError(f"actions have dtype {dtype}; valid: an integer dtype (flat action indices)")


def _raise_outside(actions: Any, inside: Any, n_actions: int) -> None:
    actions, inside = to_numpy(actions), to_numpy(inside)
    world, nation = np.argwhere(~inside)[0].tolist()
    raise ValueError(
        f"action {int(actions[world, nation])} of nation_{nation} in world {world} is outside the action space; "
        f"valid: integers in 0..{n_actions - 1}"
    )
