"""The world value: every array of the simulation, with a leading world axis.

A :class:`World` holds ``W`` independent worlds at once: ``[worlds, nations]``, ``[worlds, provinces]``
and ``[worlds, nations, nations]`` arrays. The PettingZoo env keeps one (``W = 1``); batched backends keep
thousands. The word *state* is kept for PettingZoo's ``state()`` and policy memory; this is the world.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from realism_env.config import EnvConfig


@dataclass(frozen=True)
class World:
    """A snapshot of ``W`` worlds. Rules return new worlds; they never mutate one."""

    # The map (fixed for an episode).
    province_xy: np.ndarray  #: [W, P, 2] float, drawing position of each province in the unit square
    land_adjacency: np.ndarray  #: [W, P, P] bool, provinces sharing a land border
    sea_adjacency: np.ndarray  #: [W, P, P] bool, provinces linked across sea only
    growth_rates: np.ndarray  #: [W, N] float, growth per year at zero arms spending
    initial_provinces: np.ndarray  #: [W, N] int, provinces held at the start
    # Territory and economy.
    owner: np.ndarray  #: [W, P] int, the nation that holds each province (always a live one)
    wealth: np.ndarray  #: [W, P] float, economic output of each province per year
    # Nations.
    military: np.ndarray  #: [W, N] float, forces in being
    arms_level: np.ndarray  #: [W, N] int, the domestic arms level chosen last turn
    alive: np.ndarray  #: [W, N] bool
    # Relations ([W, N, N]; symmetric ones say so).
    at_war: np.ndarray  #: bool, symmetric
    war_years: np.ndarray  #: int, years the war between i and j has lasted, symmetric
    allied: np.ndarray  #: bool, symmetric
    alliance_years: np.ndarray  #: int, symmetric
    alliance_proposal: np.ndarray  #: bool, i's standing proposal to j (one turn)
    peace_offer: np.ndarray  #: bool, i's standing peace offer to j (one turn)
    demand: np.ndarray  #: bool, i's standing demand on j (blackmail)
    demand_age: np.ndarray  #: int, turns since i's demand on j was made
    # Public record.
    threats_made: np.ndarray  #: [W, N] int
    threats_enforced: np.ndarray  #: [W, N] int, refused demands the threatener went to war over
    last_act: np.ndarray  #: [W, N] int, each nation's act of the last turn (public)
    last_target: np.ndarray  #: [W, N] int, its absolute target
    # The human cost of power politics.
    forces_lost: np.ndarray  #: [W, N] float, cumulative
    wealth_destroyed: np.ndarray  #: [W, N] float, cumulative
    turn: np.ndarray  #: [W] int
    #: derived quantities (ownership, income, borders) computed once per world by the rules; a new world
    #: made by ``replace`` starts with an empty cache. Arrays of a world are never mutated in place.
    cache: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def n_worlds(self) -> int:
        return self.owner.shape[0]

    @property
    def n_nations(self) -> int:
        return self.military.shape[1]

    @property
    def n_provinces(self) -> int:
        return self.owner.shape[1]

    def replace(self, **changes: np.ndarray) -> World:
        """A new world with some arrays changed and an empty derived cache (a fast ``dataclasses.replace``)."""
        unknown = changes.keys() - _ARRAY_FIELD_SET
        if unknown:
            raise ValueError(f"unknown World fields {sorted(unknown)}; valid: {', '.join(_ARRAY_FIELDS)}")
        new = object.__new__(World)
        new.__dict__.update(self.__dict__)
        new.__dict__.update(changes)
        new.__dict__["cache"] = {}
        return new

    def select(self, index: int) -> World:
        """World ``index`` alone, keeping the leading axis (``W = 1``)."""
        return World(**{name: getattr(self, name)[index : index + 1] for name in array_fields()})


def _grid(n_cells: int, width: float, x0: float) -> tuple[np.ndarray, np.ndarray]:
    """Cell positions and 4-neighbour land adjacency of a near-square grid of ``n_cells`` cells."""
    cols = int(np.ceil(np.sqrt(n_cells)))
    rows = int(np.ceil(n_cells / cols))
    idx = np.arange(n_cells)
    r, c = idx // cols, idx % cols
    xy = np.stack([x0 + (c + 0.5) / cols * width, (r + 0.5) / rows], axis=1)
    manhattan = np.abs(r[:, None] - r[None, :]) + np.abs(c[:, None] - c[None, :])
    return xy, manhattan == 1


def _partition(adjacency: np.ndarray, nations: list[int], quota: int, rng: np.random.Generator) -> np.ndarray:
    """Contiguous territories of equal size where the map allows: seeds far apart, then round-robin growth.

    Map generation runs once per reset, so Python loops are fine here (not inside a turn). A uniform pick
    from an array is ``array[rng.integers(0, size)]``: the same draw as ``rng.choice(array)``, faster.
    """
    n_cells = adjacency.shape[0]
    owner = np.full(n_cells, -1)
    hops = _hop_distances(adjacency)
    seeds = [int(rng.integers(n_cells))]
    while len(seeds) < len(nations):
        far = hops[seeds].min(axis=0).astype(float) + rng.random(n_cells) * 0.5
        far[seeds] = -1
        seeds.append(int(np.argmax(far)))
    held, touched = {}, {}  # provinces held, and the cells touching them, per nation
    for nation, seed in zip(nations, seeds, strict=True):
        owner[seed] = nation
        held[nation], touched[nation] = 1, adjacency[seed].copy()
    free = owner == -1
    for _ in range(n_cells):
        grew = False
        for nation in rng.permutation(nations).tolist():
            if held[nation] >= quota:
                continue
            frontier = (free & touched[nation]).nonzero()[0]
            if frontier.size:
                cell = frontier[rng.integers(0, frontier.size)]
                owner[cell], free[cell] = nation, False
                held[nation] += 1
                touched[nation] |= adjacency[cell]
                grew = True
        if not grew:
            break
    while (owner == -1).any():  # cells no one could reach under its quota go to a neighbour
        for cell in np.flatnonzero(owner == -1):
            neighbours = owner[adjacency[cell] & (owner >= 0)]
            if neighbours.size:
                owner[cell] = neighbours[rng.integers(0, neighbours.size)]
    return owner


def _hop_distances(adjacency: np.ndarray) -> np.ndarray:
    """[P, P] hops between cells (read-only; maps repeat, so distances are computed once per map)."""
    return _hop_distances_of(adjacency.tobytes(), adjacency.shape[0])


@functools.lru_cache(maxsize=64)
def _hop_distances_of(adjacency_bytes: bytes, n: int) -> np.ndarray:
    adjacency = np.frombuffer(adjacency_bytes, dtype=bool).reshape(n, n)
    dist = np.full((n, n), n, dtype=int)
    np.fill_diagonal(dist, 0)
    reach = np.eye(n, dtype=bool)
    for step in range(1, n):
        reach_next = reach | (reach.astype(np.int64) @ adjacency.astype(np.int64) > 0)
        dist[reach_next & ~reach] = step
        if (reach_next == reach).all():
            break
        reach = reach_next
    dist.flags.writeable = False
    return dist


def _sea_links(
    xy: np.ndarray,
    land: np.ndarray,
    candidates_a: np.ndarray,
    candidates_b: np.ndarray,
    count: int,
    min_distance: float,
    rng: np.random.Generator,
) -> np.ndarray:
    sea = np.zeros_like(land)
    links = 0
    for _ in range(count * 20):
        if links >= count:
            break
        a = int(candidates_a[rng.integers(0, len(candidates_a))])  # the draw of rng.choice(candidates_a)
        b = int(candidates_b[rng.integers(0, len(candidates_b))])
        if a != b and not land[a, b] and np.linalg.norm(xy[a] - xy[b]) >= min_distance:
            links += not sea[a, b]
            sea[a, b] = sea[b, a] = True
    return sea


def generate_world(config: EnvConfig, rng: np.random.Generator) -> World:
    """One seeded world (``W = 1``) for ``config``: map, territories, wealth and forces."""
    n, quota = config.n_nations, config.provinces_per_nation
    n_provinces = config.n_provinces
    if config.map_kind == "islands":
        # Two land masses, west and east, joined only by sea (islands scenario).
        west = list(range((n + 1) // 2))
        east = list(range((n + 1) // 2, n))
        xy_w, land_w = _grid(len(west) * quota, 0.42, 0.0)
        xy_e, land_e = _grid(len(east) * quota, 0.42, 0.58)
        xy = np.concatenate([xy_w, xy_e])
        land = np.zeros((n_provinces, n_provinces), dtype=bool)
        nw = len(west) * quota
        land[:nw, :nw], land[nw:, nw:] = land_w, land_e
        owner = np.concatenate(
            [
                _partition(land_w, west, quota, rng),
                _partition(land_e, east, quota, rng) if east else np.zeros(0, dtype=int),
            ]
        )
        coast_w = np.flatnonzero(xy_w[:, 0] >= xy_w[:, 0].max() - 1e-9)
        coast_e = nw + np.flatnonzero(xy_e[:, 0] <= xy_e[:, 0].min() + 1e-9)
        sea = _sea_links(xy, land, coast_w, coast_e, max(2, min(len(coast_w), len(coast_e))), 0.0, rng)
    else:
        xy, land = _grid(n_provinces, 1.0, 0.0)
        owner = _partition(land, list(range(n)), quota, rng)
        coast = np.flatnonzero(land.sum(axis=1) < 4)
        sea = _sea_links(xy, land, coast, coast, config.sea_links, 0.5, rng)
    sea &= ~land

    # Province wealth varies; each nation's total matches its capability share (COW CINC where given).
    shares = np.asarray(config.initial_shares)
    wealth = rng.uniform(0.75, 1.25, size=n_provinces)
    onehot = owner[:, None] == np.arange(n)
    nation_raw = wealth @ onehot
    wealth = wealth * (shares * n * quota / np.maximum(nation_raw, 1e-9))[owner]
    income = wealth @ onehot
    # Start at the steady state of the middle arms level: military = share * income / depreciation.
    middle_level = len(config.arms_shares) // 2
    military = config.arms_shares[middle_level] * income / max(config.depreciation, 1e-3)

    zeros_nn = np.zeros((1, n, n), dtype=bool)
    return World(
        province_xy=xy[None].astype(np.float64),
        land_adjacency=land[None],
        sea_adjacency=sea[None],
        growth_rates=np.asarray(config.growth_per_nation, dtype=np.float64)[None],
        initial_provinces=onehot.sum(axis=0)[None],
        owner=owner[None],
        wealth=wealth[None],
        military=military[None],
        arms_level=np.full((1, n), middle_level),
        alive=np.ones((1, n), dtype=bool),
        at_war=zeros_nn.copy(),
        war_years=np.zeros((1, n, n), dtype=np.int64),
        allied=zeros_nn.copy(),
        alliance_years=np.zeros((1, n, n), dtype=np.int64),
        alliance_proposal=zeros_nn.copy(),
        peace_offer=zeros_nn.copy(),
        demand=zeros_nn.copy(),
        demand_age=np.zeros((1, n, n), dtype=np.int64),
        threats_made=np.zeros((1, n), dtype=np.int64),
        threats_enforced=np.zeros((1, n), dtype=np.int64),
        last_act=np.zeros((1, n), dtype=np.int64),
        last_target=np.zeros((1, n), dtype=np.int64),
        forces_lost=np.zeros((1, n)),
        wealth_destroyed=np.zeros((1, n)),
        turn=np.zeros(1, dtype=np.int64),
    )


def stack_worlds(worlds: list[World]) -> World:
    """Concatenate worlds along the world axis (all must share nation and province counts)."""
    return World(**{name: np.concatenate([getattr(w, name) for w in worlds]) for name in array_fields()})


def array_fields() -> tuple[str, ...]:
    """Names of the World's array fields, in order."""
    return _ARRAY_FIELDS


_ARRAY_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(World) if f.init)
_ARRAY_FIELD_SET = frozenset(_ARRAY_FIELDS)
