"""Hand-built worlds for rule and doctrine tests (PettingZoo's ``test_board.py`` style: no env, no map generator).

    w = build([0, 0, 1, 1], military=[10, 5], at_war=[(0, 1)])          # a line of four provinces
    w = build([[0, 1], [2, 2]], sea=[(0, 3)])                           # a 2x2 grid plus a sea link
    step(w, {0: (Act.ATTACK, 1)}, config(2))                             # one turn, nation 1 waits
    step(w, {0: (Act.ATTACK, 1)}, config(2), backend="torch")            # the same turn on torch (CPU)

Everything not given is defaulted: wealth 1 per province, military 1 per nation, no wars, alliances,
proposals, offers or demands, growth 0.03, arms level 0, every nation that holds a province alive.

Worlds are built as numpy arrays. The wrappers :func:`transition`, :func:`step`, :func:`action_mask`,
:func:`credibility` and :func:`step_batch` take a ``backend`` (one of :data:`BACKENDS`): on ``"torch"`` the world,
the actions and the draws are converted to CPU tensors of the same dtypes (floats stay float64), the rules run on
torch, and what they return is converted back to numpy, so that tests assert on numpy arrays whatever the backend.
Draws always come from a seeded numpy generator (:func:`turn_draws`), so both backends see the very same random
numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from realism_env import Act, EnvConfig, World, encode_action, target_slot
from realism_env import rules as _rules
from realism_env.backend import NumpyRandom, resolve_backend, to_numpy
from realism_env.draws import StepDraws, TurnDraws, draw_perception, draw_turn
from realism_env.rules import Events
from realism_env.step import BatchStep, derive, step_spec, step_worlds
from realism_env.world import array_fields, stack_worlds

#: The array backends every mechanics test runs on.
BACKENDS: tuple[str, ...] = ("numpy", "torch")


def torch_missing() -> str | None:
    """Why the torch backend cannot run here (``None`` when it can): torch or array-api-compat not importable."""
    try:
        import array_api_compat  # noqa: F401
        import torch  # noqa: F401
    except ImportError as error:
        return f"the torch backend needs torch and array-api-compat ({error})"
    return None


Pairs = Iterable[tuple[int, int]]

#: The World's array fields (a derived cache, if the World keeps one, is not among them).
ARRAY_FIELDS: tuple[str, ...] = array_fields()


def backend_params() -> list:
    """``pytest.param`` of each backend for a parametrized ``backend`` fixture; torch is skipped, with the reason,
    where it cannot run."""
    import pytest

    missing = torch_missing()
    return [
        pytest.param(
            name, id=name, marks=pytest.mark.skipif(name == "torch" and missing is not None, reason=str(missing))
        )
        for name in BACKENDS
    ]


def _pairs(n: int, pairs: Pairs, symmetric: bool) -> np.ndarray:
    out = np.zeros((n, n), dtype=bool)
    for i, j in pairs:
        out[i, j] = True
        if symmetric:
            out[j, i] = True
    return out


def _per(value: float | Sequence[float], size: int, name: str) -> np.ndarray:
    arr = np.broadcast_to(np.asarray(value, dtype=np.float64), (size,)).copy()
    if arr.shape != (size,):
        raise ValueError(f"{name} needs {size} values")
    return arr


def build(
    owner: Sequence[int] | Sequence[Sequence[int]],
    *,
    n_nations: int | None = None,
    wealth: float | Sequence[float] = 1.0,
    military: float | Sequence[float] = 1.0,
    land: Pairs | None = None,
    sea: Pairs = (),
    at_war: Pairs = (),
    allied: Pairs = (),
    alliance_proposal: Pairs = (),
    peace_offer: Pairs = (),
    demand: Pairs = (),
    growth: float | Sequence[float] = 0.03,
    arms_level: int | Sequence[int] = 0,
    threats_made: Sequence[int] | None = None,
    threats_enforced: Sequence[int] | None = None,
    initial_provinces: Sequence[int] | None = None,
) -> World:
    """One world (``W = 1``). ``owner`` is a line of provinces (each touching the next by land) or a grid of
    rows (4-neighbour land borders), read row by row. ``land`` replaces those borders with explicit province
    pairs; ``sea`` adds sea-only links. ``at_war`` and ``allied`` are symmetric nation pairs; proposals, peace
    offers and demands are directed ``(from, to)``; a demand is one turn old."""
    grid = np.atleast_2d(np.asarray(owner, dtype=np.int64))
    rows, cols = grid.shape
    flat_owner = grid.reshape(-1)
    p = flat_owner.size
    n = int(flat_owner.max()) + 1 if n_nations is None else n_nations
    r, c = np.divmod(np.arange(p), cols)
    if land is None:
        land_adj = (np.abs(r[:, None] - r[None, :]) + np.abs(c[:, None] - c[None, :])) == 1
    else:
        land_adj = _pairs(p, land, symmetric=True)
    sea_adj = _pairs(p, sea, symmetric=True) & ~land_adj
    held = np.bincount(flat_owner, minlength=n)
    nn_int = np.zeros((1, n, n), dtype=np.int64)
    war = _pairs(n, at_war, symmetric=True)
    ally = _pairs(n, allied, symmetric=True)
    dem = _pairs(n, demand, symmetric=False)
    return World(
        province_xy=np.stack([(c + 0.5) / cols, (r + 0.5) / rows], axis=1)[None].astype(np.float64),
        land_adjacency=land_adj[None],
        sea_adjacency=sea_adj[None],
        growth_rates=_per(growth, n, "growth")[None],
        initial_provinces=(held if initial_provinces is None else np.asarray(initial_provinces))[None].astype(np.int64),
        owner=flat_owner[None].copy(),
        wealth=_per(wealth, p, "wealth")[None],
        military=_per(military, n, "military")[None],
        arms_level=np.broadcast_to(np.asarray(arms_level, dtype=np.int64), (n,))[None].copy(),
        alive=(held > 0)[None],
        at_war=war[None],
        war_years=nn_int + war,
        allied=ally[None],
        alliance_years=nn_int + ally,
        alliance_proposal=_pairs(n, alliance_proposal, symmetric=False)[None],
        peace_offer=_pairs(n, peace_offer, symmetric=False)[None],
        demand=dem[None],
        demand_age=nn_int + dem,
        threats_made=np.asarray(threats_made if threats_made is not None else [0] * n, dtype=np.int64)[None],
        threats_enforced=np.asarray(threats_enforced if threats_enforced is not None else [0] * n, dtype=np.int64)[
            None
        ],
        last_act=np.zeros((1, n), dtype=np.int64),
        last_target=np.zeros((1, n), dtype=np.int64),
        forces_lost=np.zeros((1, n)),
        wealth_destroyed=np.zeros((1, n)),
        turn=np.zeros(1, dtype=np.int64),
    )


def stack(worlds: Sequence[World]) -> World:
    """Worlds side by side on the world axis."""
    return stack_worlds(list(worlds))


def repeat(world: World, n_worlds: int) -> World:
    """``n_worlds`` copies of a one-world ``world`` (for empirical rates with one seeded generator)."""
    return World(**{name: np.repeat(getattr(world, name), n_worlds, axis=0) for name in ARRAY_FIELDS})


def relabel(world: World, perm: Sequence[int]) -> World:
    """The same world with nation ``i`` renamed ``perm[i]`` (a mirror image when ``perm`` swaps two)."""
    perm = np.asarray(perm)
    inv = np.argsort(perm)  # new index -> old index
    changes = {"owner": perm[world.owner]}
    for name in (
        "growth_rates",
        "initial_provinces",
        "military",
        "arms_level",
        "alive",
        "threats_made",
        "threats_enforced",
        "forces_lost",
        "wealth_destroyed",
    ):
        changes[name] = getattr(world, name)[:, inv]
    for name in (
        "at_war",
        "war_years",
        "allied",
        "alliance_years",
        "alliance_proposal",
        "peace_offer",
        "demand",
        "demand_age",
    ):
        changes[name] = getattr(world, name)[:, inv][:, :, inv]
    changes["last_act"] = world.last_act[:, inv]
    changes["last_target"] = perm[world.last_target[:, inv]]
    return world.replace(**changes)


def config(n_nations: int, **overrides: object) -> EnvConfig:
    """A config for an ``n_nations`` hand-built world (the map fields of the config are not used by the rules)."""
    return EnvConfig(n_nations=n_nations, **overrides)


Move = tuple[Act, int]


def actions(
    world: World, moves: Mapping[int, Move] | None = None, level: int | Mapping[int, int] = 0, n_levels: int = 5
) -> np.ndarray:
    """``[W, N]`` flat actions: ``moves[i] = (act, absolute target)``; everyone else waits. ``level`` is the arms
    level of every nation, or a map nation -> level (others 0). The same actions in every world."""
    n = world.n_nations
    moves = dict(moves or {})
    out = np.zeros(n, dtype=np.int64)
    for i in range(n):
        lvl = level.get(i, 0) if isinstance(level, Mapping) else level
        act, tgt = moves.get(i, (Act.WAIT, (i + 1) % n))
        out[i] = encode_action(lvl, act, target_slot(i, tgt, n), n, n_levels)
    return np.broadcast_to(out, (world.n_worlds, n)).copy()


def turn_draws(seed: int | np.random.Generator, n_worlds: int, n_nations: int) -> TurnDraws:
    """One turn's draws (numpy) from a seeded generator (a seed, or a generator to draw on)."""
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    return draw_turn(NumpyRandom(rng), n_worlds, n_nations)


def _to_torch(array: Any) -> Any:
    """A CPU tensor holding a copy of a numpy array (float64 stays float64, bool stays bool, int64 stays int64)."""
    import torch

    if isinstance(array, torch.Tensor):
        return array
    return torch.as_tensor(np.array(array, copy=True))


def on_backend(value: Any, backend: str) -> Any:
    """A numpy World, Events, TurnDraws or array on ``backend`` (``"numpy"``: unchanged; ``"torch"``: CPU tensors)."""
    check_backend(backend)
    if backend == "numpy" or value is None:
        return value
    if isinstance(value, World):
        return value.map_arrays(_to_torch)
    if isinstance(value, tuple):  # Events, TurnDraws, StepDraws, ResetDraws, or a plain tuple
        parts = (on_backend(part, backend) for part in value)
        return type(value)(*parts) if hasattr(value, "_fields") else tuple(parts)
    return _to_torch(value)


def as_numpy(value: Any) -> Any:
    """A World, Events (any NamedTuple, tuple, list or dict of arrays) or array of any backend as numpy."""
    if isinstance(value, World):
        return value.map_arrays(to_numpy)
    if isinstance(value, (tuple, list)):
        parts = (as_numpy(part) for part in value)
        return type(value)(*parts) if hasattr(value, "_fields") else type(value)(parts)
    if isinstance(value, dict):
        return {key: as_numpy(part) for key, part in value.items()}
    return None if value is None else to_numpy(value)


def check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        raise ValueError(f"backend={backend!r}; valid: {', '.join(map(repr, BACKENDS))}")


def transition(
    world: World,
    flat_actions: np.ndarray,
    cfg: EnvConfig,
    draws: int | np.random.Generator | TurnDraws = 0,
    backend: str = "numpy",
) -> tuple[World, Events]:
    """:func:`realism_env.rules.transition` of a numpy world on ``backend``, with numpy results. ``draws`` are the
    turn's draws, or a seed or generator to draw them from (:func:`turn_draws`)."""
    if not isinstance(draws, TurnDraws):
        draws = turn_draws(draws, world.n_worlds, world.n_nations)
    after, events = _rules.transition(
        on_backend(world, backend),
        on_backend(np.asarray(flat_actions, dtype=np.int64), backend),
        on_backend(draws, backend),
        cfg,
    )
    return as_numpy(after), as_numpy(events)


def action_mask(world: World, cfg: EnvConfig, backend: str = "numpy") -> np.ndarray:
    """:func:`realism_env.rules.action_mask` of a numpy world on ``backend``, as numpy."""
    return to_numpy(_rules.action_mask(on_backend(world, backend), cfg))


def step(
    world: World,
    moves: Mapping[int, Move] | None,
    cfg: EnvConfig,
    seed: int = 0,
    level: int | Mapping[int, int] = 0,
    backend: str = "numpy",
) -> tuple[World, Events]:
    """One turn of every world with draws from a fresh seeded generator, on ``backend`` (numpy results)."""
    return transition(world, actions(world, moves, level, len(cfg.arms_shares)), cfg, seed, backend)


def step_batch(
    world: World, flat_actions: np.ndarray, cfg: EnvConfig, seed: int = 0, backend: str = "numpy"
) -> BatchStep:
    """The whole step of :func:`realism_env.step.step_worlds` (transition, rewards, observations, masks) of a numpy
    world on ``backend``, with no auto-reset; draws (turn, then perception) from a seeded numpy generator. Every
    array of the result is numpy."""
    rng = np.random.default_rng(seed)
    draws = StepDraws(
        turn_draws(rng, world.n_worlds, world.n_nations),
        draw_perception(NumpyRandom(rng), world.n_worlds, world.n_nations),
        None,
    )
    spec = step_spec(cfg, resolve_backend(backend))
    world_b = on_backend(world, backend)
    out, _, _ = step_worlds(
        world_b,
        derive(world_b, spec),
        on_backend(np.asarray(flat_actions, dtype=np.int64), backend),
        on_backend(draws, backend),
        spec,
    )
    return as_numpy(out)


def credibility(world: World, backend: str = "numpy") -> np.ndarray:
    """:func:`realism_env.rules.credibility` of a numpy world on ``backend``, as numpy."""
    return to_numpy(_rules.credibility(on_backend(world, backend)))


def quiet_events(world: World, **overrides: np.ndarray) -> Events:
    """Events of a turn in which nothing happened (for doctrine tests), with some fields given."""
    w, n = world.n_worlds, world.n_nations
    fields = {}
    for name in Events._fields:
        if name in ("wealth_destroyed",):
            fields[name] = np.zeros((w, n))
        elif name in ("eliminated", "invalid_action"):
            fields[name] = np.zeros((w, n), dtype=bool)
        elif name in ("forces_lost", "aid"):
            fields[name] = np.zeros((w, n, n))
        elif name == "province_taken":
            fields[name] = np.zeros((w, n, n), dtype=np.int64)
        else:
            fields[name] = np.zeros((w, n, n), dtype=bool)
    fields.update(overrides)
    return Events(**fields)
