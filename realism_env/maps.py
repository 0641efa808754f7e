"""Maps and fresh worlds: where each world's provinces, borders and territories come from.

A map (the province grid, its land borders and sea links, and a partition into contiguous territories of about
``provinces_per_nation`` provinces, not always equal: :func:`_partition`) is generated on the host by
:func:`generate_maps`, with Python loops: growing territories province by province is sequential work. A fresh world
is then made from a map by :func:`initial_worlds`, a pure array function of the rules' backend with its draws passed
in: which map, which nation gets which territory (a random relabelling), and each province's wealth.

The PettingZoo env generates a new map at every reset. A batched backend draws from a *map bank*: ``K`` maps
generated once from the seed (:class:`MapBank`), so that replacing ended worlds needs no Python loop and no host
work. With a bank of ``K`` maps, worlds repeat maps: there are ``K`` layouts of borders and territories, each dealt
to the nations in a random order with fresh province wealth.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from realism_env.backend import NumpyRandom, array_namespace, device_of
from realism_env.draws import ResetDraws, draw_reset
from realism_env.rules import RuleTables, map_links, per_province, rule_tables, sum_by_nation
from realism_env.world import World

if TYPE_CHECKING:
    from realism_env.config import EnvConfig


class MapBank(NamedTuple):
    """``K`` maps, ``[K, ...]`` arrays of one backend."""

    province_xy: Any  #: [K, P, 2] float, drawing position of each province in the unit square
    land_adjacency: Any  #: [K, P, P] bool
    sea_adjacency: Any  #: [K, P, P] bool
    territory: Any  #: [K, P] int, the territory each province starts in (0..N-1), before nations are dealt them
    links: Any  #: [K, P, 2P] float32, :func:`realism_env.rules.map_links` of each map (what the rules multiply)

    @property
    def size(self) -> int:
        return self.territory.shape[0]

    def map_arrays(self, function: Any) -> MapBank:
        """The bank with every array passed through ``function`` (a change of backend or device)."""
        return MapBank(*(function(array) for array in self))


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
    """Contiguous territories of about ``quota`` cells: seeds far apart, then round-robin growth, one cell a round.

    A territory enclosed by others before it reaches its quota stops growing, and the cells no one could take under
    its quota go to a neighbour, so sizes vary: in ``multipolar`` (quota 4) 8% of maps come out equal, and 56% of
    nations start with 4 provinces, 37% with 3 or 5, the rest with 1, 2 or 6 to 8 (1,000 maps). Capability shares are
    exact whatever the sizes: :func:`episode_start` scales each nation's wealth to its share.

    Map generation runs once per reset, so Python loops are fine here (not inside a turn). A uniform pick
    from an array is ``array[rng.integers(0, size)]``: the same draw as ``rng.choice(array)``, faster.
    """
    n_cells = adjacency.shape[0]
    owner = np.full(n_cells, -1)
    seeds = [int(rng.integers(n_cells))]
    nearest = np.full(n_cells, n_cells)  # each cell's hops to the nearest seed so far
    while len(seeds) < len(nations):
        nearest = np.minimum(nearest, _hops_from(adjacency, seeds[-1]))
        far = nearest.astype(float) + rng.random(n_cells) * 0.5
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


def _hops_from(adjacency: np.ndarray, source: int) -> np.ndarray:
    """[P] land hops from cell ``source`` to every cell (P where none leads there): a breadth-first search, one
    frontier at a time, O(P^2) for P cells. (All-pairs hops by repeated boolean matrix products cost O(P^3) a hop:
    15 s for a 512-province map; the largest valid one had not finished after 9 minutes.)"""
    n = adjacency.shape[0]
    hops = np.full(n, n, dtype=np.int64)
    hops[source] = 0
    frontier, step = np.array([source]), 0
    while frontier.size:
        step += 1
        reached = adjacency[frontier].any(axis=0) & (hops == n)
        hops[reached] = step
        frontier = np.flatnonzero(reached)
    return hops


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


def _one_map(config: EnvConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(xy, land, sea, territory) of one map."""
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
    return xy, land, sea & ~land, owner.astype(np.int64)


def generate_maps(config: EnvConfig, rng: np.random.Generator, count: int) -> MapBank:
    """``count`` seeded maps for ``config`` (numpy arrays; move them with ``MapBank.map_arrays``)."""
    if not isinstance(count, int) or count < 1:
        raise ValueError(f"a map bank of {count!r} maps is invalid; valid: an integer >= 1")
    xy, land, sea, territory = (
        np.stack(parts) for parts in zip(*(_one_map(config, rng) for _ in range(count)), strict=True)
    )
    return MapBank(xy, land, sea, territory, map_links(land, sea))


def maps_of(bank: MapBank, map_index: Any, float_dtype: Any) -> dict[str, Any]:
    """The map arrays (:data:`realism_env.world.MAP_FIELDS`) of worlds on the maps ``map_index`` ([W] int) of
    ``bank``."""
    xp = array_namespace(bank.territory)
    return {
        "province_xy": xp.astype(xp.take(bank.province_xy, map_index, axis=0), float_dtype),
        "land_adjacency": xp.take(bank.land_adjacency, map_index, axis=0),
        "sea_adjacency": xp.take(bank.sea_adjacency, map_index, axis=0),
    }


def initial_worlds(bank: MapBank, draws: ResetDraws, config: EnvConfig, tables: RuleTables) -> World:
    """Fresh worlds (``W`` = the draws' length) from maps of ``bank``: the world at the start of an episode. Each
    world takes map ``draws.map_index`` (:func:`maps_of`) and the rest of its state from :func:`episode_start`."""
    float_dtype = tables.arms_shares.dtype
    return World(**maps_of(bank, draws.map_index, float_dtype), **episode_start(bank, draws, config, tables))


def episode_start(bank: MapBank, draws: ResetDraws, config: EnvConfig, tables: RuleTables) -> dict[str, Any]:
    """Every field of fresh worlds but the map's (:data:`realism_env.world.EPISODE_FIELDS`).

    Each world deals the territories of its map (``draws.map_index``) to the nations in the random order of
    ``draws.nation_order``. Province wealth is uniform in [0.75, 1.25], scaled so that each nation's total matches
    its capability share (COW CINC where the scenario gives it; spread at random with ``config.capability_spread``);
    military starts at the steady state of the middle arms level (military = share * income / depreciation); no
    wars, alliances or demands.
    """
    xp = array_namespace(bank.territory)
    float_dtype = tables.arms_shares.dtype
    n, quota = config.n_nations, config.provinces_per_nation
    index = draws.map_index
    n_worlds = index.shape[0]
    device = device_of(bank.territory)
    territory = xp.take(bank.territory, index, axis=0)  # [W, P]
    dealt = xp.argsort(draws.nation_order, axis=1)  # [W, N]: territory t goes to nation dealt[w, t]
    owner = xp.take_along_axis(dealt, territory, axis=1)
    owned = xp.astype(owner[:, :, None] == tables.nations, float_dtype)
    raw = 0.75 + 0.5 * xp.astype(draws.wealth, float_dtype)
    shares = tables.initial_shares
    if config.capability_spread > 0 and draws.capability is None:
        raise ValueError(
            f"config.capability_spread={config.capability_spread} needs the reset draws' capability normals; valid: "
            "draws from draw_reset(..., capability_spread=config.capability_spread)"
        )
    if draws.capability is not None:  # domain randomisation: log-normal factors on the shares, renormalised
        spread = xp.exp(config.capability_spread * xp.astype(draws.capability, float_dtype))
        shares = shares * spread / xp.sum(shares * spread, axis=1, keepdims=True)
    scale = shares * float(n * quota) / xp.maximum(sum_by_nation(raw, owned), 1e-9)
    wealth = raw * per_province(scale, owner)
    income = sum_by_nation(wealth, owned)
    middle_level = len(config.arms_shares) // 2
    military = config.arms_shares[middle_level] * income / max(config.depreciation, 1e-3)
    pairs, nations = (n_worlds, n, n), (n_worlds, n)

    def no() -> Any:  # each field its own array: aliased inputs would make torch.compile guard on the aliasing
        return xp.zeros(pairs, dtype=xp.bool, device=device)

    def zeros(shape: tuple[int, ...]) -> Any:
        return xp.zeros(shape, dtype=xp.int64, device=device)

    return dict(
        growth_rates=xp.broadcast_to(tables.growth_rates, (n_worlds, n)) + 0.0,
        initial_provinces=xp.astype(xp.sum(owned, axis=1), xp.int64),
        owner=owner,
        wealth=wealth,
        military=military,
        arms_level=zeros(nations) + middle_level,
        alive=xp.ones((n_worlds, n), dtype=xp.bool, device=device),
        at_war=no(),
        war_years=zeros(pairs),
        allied=no(),
        alliance_years=zeros(pairs),
        alliance_proposal=no(),
        peace_offer=no(),
        demand=no(),
        demand_age=zeros(pairs),
        threats_made=zeros(nations),
        threats_enforced=zeros(nations),
        last_act=zeros(nations),
        last_target=zeros(nations),
        forces_lost=xp.zeros((n_worlds, n), dtype=float_dtype, device=device),
        wealth_destroyed=xp.zeros((n_worlds, n), dtype=float_dtype, device=device),
        turn=xp.zeros((n_worlds,), dtype=xp.int64, device=device),
    )


def generate_world(config: EnvConfig, rng: np.random.Generator) -> World:
    """One seeded numpy world (``W = 1``) for ``config``: a new map, dealt and endowed by :func:`initial_worlds`."""
    bank = generate_maps(config, rng, 1)
    draws = draw_reset(NumpyRandom(rng), 1, config.n_nations, config.n_provinces, 1, config.capability_spread)
    return initial_worlds(bank, draws, config, rule_tables(config))
