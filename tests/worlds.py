"""Hand-built worlds for rule and doctrine tests (PettingZoo's ``test_board.py`` style: no env, no map generator).

    w = build([0, 0, 1, 1], military=[10, 5], at_war=[(0, 1)])          # a line of four provinces
    w = build([[0, 1], [2, 2]], sea=[(0, 3)])                           # a 2x2 grid plus a sea link
    step(w, {0: (Act.ATTACK, 1)}, config(2))                             # one turn, nation 1 waits

Everything not given is defaulted: wealth 1 per province, military 1 per nation, no wars, alliances,
proposals, offers or demands, growth 0.03, arms level 0, every nation that holds a province alive.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from realism_env import Act, EnvConfig, World, encode_action, target_slot
from realism_env.rules import Events, transition
from realism_env.world import array_fields, stack_worlds

Pairs = Iterable[tuple[int, int]]

#: The World's array fields (a derived cache, if the World keeps one, is not among them).
ARRAY_FIELDS: tuple[str, ...] = array_fields()


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


def step(
    world: World,
    moves: Mapping[int, Move] | None,
    cfg: EnvConfig,
    seed: int = 0,
    level: int | Mapping[int, int] = 0,
) -> tuple[World, Events]:
    """One turn of every world with a fresh seeded generator."""
    return transition(world, actions(world, moves, level, len(cfg.arms_shares)), cfg, np.random.default_rng(seed))


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
