"""The rules of the world, written once, as pure functions over a :class:`~realism_env.world.World`.

Every function works on all ``W`` worlds at once with array operations: no Python loop over worlds,
nations, wars or provinces inside a turn. The PettingZoo env calls them with ``W = 1``; batched backends
call them with thousands of worlds.

Order of resolution within a turn (all nations move at once; within a phase every nation acts
simultaneously, and ties are broken by the seeded generator, never by nation index):

1. Validation: an in-space action that the mask forbids becomes WAIT (its arms level still applies).
2. Diplomacy: alliances left, alliances formed, peace made, concessions, new demands.
3. War: declarations (an attack on a nation one is not at war with); a declaration against a nation
   that refused one's demand enforces the threat; refused demands past their deadline become bluffs.
4. Combat on every front: attrition for both sides, then capture attempts by the sides that attacked.
5. Eliminations: a nation with no province is gone; its wars, alliances and demands end.
6. Economy: arms spending, aid, depreciation and upkeep, growth (guns cost butter), war devastation.

Speed. At one world the cost of a turn is numpy's overhead per call, so the code keeps calls few:

- Derived quantities (ownership, income, borders, the action mask, ...) are cached per world
  (:func:`_per_world`; worlds are never mutated) and carried to the next world when what they depend on
  did not change (the map always; ownership-derived values when no province changed hands).
- A section whose act nobody took this turn (no alliance offered, no peace offered, no attack, ...) is
  skipped. Every skip is exact: the section would have changed nothing. A backend where a data-dependent
  branch is costly (a GPU, where it means a device sync) may run every section unconditionally.
- Captures and concessions work on the list of pairs involved (a few per turn), not on ``[W, N, N, P]``.
- Bool arithmetic stays in bools and counts in floats, avoiding mixed-type operations.

``tests/test_rules_regression.py`` pins a trajectory fingerprint: a change that alters it changes the
dynamics, and needs a new env version.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from functools import cache
from typing import Any, NamedTuple

import numpy as np

from realism_env.actions import N_ACTS, Act
from realism_env.config import EnvConfig
from realism_env.world import World

_EPS = 1e-9
# Plain ints for the hot path (IntEnum member access is slow in tight numpy code).
_WAIT, _ATTACK, _ALLY, _LEAVE, _THREATEN, _CONCEDE, _SUPPORT, _PEACE = (int(a) for a in Act)


class Events(NamedTuple):
    """What happened in one turn, as arrays. Directed ``[W, N, N]`` arrays read "i did it to j"."""

    war_declared: np.ndarray  #: bool, i declared war on j
    battle: np.ndarray  #: bool, i and j fought this turn (symmetric)
    forces_lost: np.ndarray  #: float, forces i lost on its front against j
    province_taken: np.ndarray  #: int, provinces i took from j by force
    wealth_destroyed: np.ndarray  #: [W, N] float, wealth of nation i destroyed (conquest, devastation)
    alliance_proposed: np.ndarray  #: bool, i proposed an alliance to j (not yet formed)
    alliance_formed: np.ndarray  #: bool, symmetric
    alliance_left: np.ndarray  #: bool, i left its alliance with j
    demand_made: np.ndarray  #: bool, i threatened j
    concession: np.ndarray  #: bool, i gave in to j's demand (a province passed to j)
    threat_enforced: np.ndarray  #: bool, i went to war over the demand j refused
    bluff_called: np.ndarray  #: bool, i's demand on j lapsed without war
    aid: np.ndarray  #: float, military aid sent from i to j
    peace: np.ndarray  #: bool, i and j made peace (symmetric)
    eliminated: np.ndarray  #: [W, N] bool, nation eliminated this turn
    invalid_action: np.ndarray  #: [W, N] bool, the nation's act was masked out and became WAIT


EVENT_KINDS: tuple[str, ...] = Events._fields


# --------------------------------------------------------------------------------------------------
# Derived quantities
# --------------------------------------------------------------------------------------------------


@cache
def _off_diagonal(n: int) -> np.ndarray:
    mask = ~np.eye(n, dtype=bool)
    mask.flags.writeable = False
    return mask


@cache
def indices(n: int) -> np.ndarray:
    """A cached, read-only ``arange(n)``."""
    index = np.arange(n)
    index.flags.writeable = False
    return index


#: ``_but_not(a, b)`` is ``a & ~b`` for bool arrays, in one array operation (True > False is the only True).
_but_not = np.greater

#: ``count_nonzero(a)`` over the whole array: numpy's C function itself, which skips the Python dispatch layer of
#: ``np.count_nonzero`` (0.8 -> 0.2 us; a turn makes about 20 such tests). Same result; falls back if moved.
try:
    from numpy._core.multiarray import count_nonzero
except ImportError:  # pragma: no cover - numpy < 2
    count_nonzero = np.count_nonzero


def _per_world(key: str) -> Callable[[Callable[[World], Any]], Callable[[World], Any]]:
    """Keep what the decorated function derives from a world in ``world.cache[key]``: computed once per world
    (worlds are never mutated), and carried to the next world by the transition where it cannot have changed."""

    def decorate(compute: Callable[[World], Any]) -> Callable[[World], Any]:
        @functools.wraps(compute)
        def cached(world: World) -> Any:  # noqa: ANN401
            value = world.cache.get(key)
            if value is None:
                value = world.cache[key] = compute(world)
            return value

        return cached

    return decorate


@_per_world("owned")
def ownership(world: World) -> np.ndarray:
    """[W, P, N] one-hot (as float) of who holds each province."""
    return (world.owner[:, :, None] == indices(world.n_nations)).astype(np.float64)


def sum_by_nation(values: np.ndarray, owned: np.ndarray) -> np.ndarray:
    """[W, N] sum of per-province ``values`` ([W, P]) over the provinces each nation holds (``owned``: the
    [W, P, N] one-hot of :func:`ownership`)."""
    return np.matmul(values[:, None, :], owned)[:, 0, :]


@_per_world("income")
def income(world: World) -> np.ndarray:
    """[W, N] economic output: the summed wealth of a nation's provinces."""
    return sum_by_nation(world.wealth, ownership(world))


@_per_world("held")
def provinces_held(world: World) -> np.ndarray:
    """[W, N] number of provinces each nation holds."""
    return ownership(world).sum(axis=1)


@_per_world("adjacency")
def _adjacency(world: World) -> np.ndarray:
    """[W, P, 2P] float: the land adjacency columns, then the sea adjacency columns (fixed for an episode)."""
    return np.concatenate([world.land_adjacency, world.sea_adjacency], axis=2).astype(np.float64)


@_per_world("touch_counts")
def _touch_counts(world: World) -> np.ndarray:
    """[W, N, 2, P] how many provinces of nation n touch province p: by land, then by sea."""
    shape = (world.n_worlds, world.n_nations, 2, world.n_provinces)
    return (ownership(world).transpose(0, 2, 1) @ _adjacency(world)).reshape(shape)


@_per_world("borders")
def borders(world: World) -> tuple[np.ndarray, np.ndarray]:
    """([W, N, N] land border, [W, N, N] sea-only link) between nations, from their provinces."""
    n = world.n_nations
    counts = _touch_counts(world).reshape(world.n_worlds, 2 * n, world.n_provinces)
    linked = (counts @ ownership(world) > 0).reshape(world.n_worlds, n, 2, n)  # [W, i, land/sea, j]
    off_diagonal = _off_diagonal(n)
    land = linked[:, :, 0] & off_diagonal
    return land, _but_not(linked[:, :, 1] & off_diagonal, land)


@_per_world("neighbours")
def neighbours(world: World) -> np.ndarray:
    """[W, N, N] whether nations i and j border, by land or by sea."""
    land, sea = borders(world)
    return land | sea


@_per_world("acted_on")
def acted_on(world: World) -> np.ndarray:
    """[W, i, j] whether nation j's public act last turn (anything but WAIT) was aimed at nation i."""
    aimed_at = world.last_target[:, None, :] == indices(world.n_nations)[:, None]
    return aimed_at & (world.last_act != _WAIT)[:, None, :]


def power_share(world: World, inc: np.ndarray | None = None) -> np.ndarray:
    """[W, N] share of the system's capabilities: the mean of military and economic shares
    (after the COW CINC index, a mean of capability shares)."""
    inc = income(world) if inc is None else inc
    mil_share = world.military / np.maximum(np.add.reduce(world.military, axis=1, keepdims=True), _EPS)
    eco_share = inc / np.maximum(np.add.reduce(inc, axis=1, keepdims=True), _EPS)
    return 0.5 * (mil_share + eco_share) * world.alive


@_per_world("credibility")
def credibility(world: World) -> np.ndarray:
    """[W, N] share of refused threats a nation went to war over, with a uniform prior
    (Laplace's rule), so a nation with no record is half credible."""
    return (world.threats_enforced + 1) / (world.threats_made + 2)


@cache
def relative_order(n_nations: int) -> np.ndarray:
    """[N, N-1] absolute index of the nation in each relative slot: slot k of i is (i + k + 1) % N."""
    order = (np.arange(n_nations)[:, None] + np.arange(1, n_nations)[None, :]) % n_nations
    order.flags.writeable = False
    return order


# --------------------------------------------------------------------------------------------------
# Action mask
# --------------------------------------------------------------------------------------------------


@_per_world("live_pairs")
def live_pairs(world: World) -> np.ndarray:
    """[W, N, N] whether i and j are two different live nations."""
    alive = world.alive
    return alive[:, :, None] & alive[:, None, :] & _off_diagonal(world.n_nations)


@_per_world("validity")
def act_target_validity(world: World) -> np.ndarray:
    """[W, K, N, N] whether nation i may take act k toward nation j (absolute j). WAIT is valid toward
    the nation in slot 0 only, so every act has exactly one encoding. Read-only (cached per world)."""
    n = world.n_nations
    both = live_pairs(world)
    at_war, allied, demand = world.at_war, world.allied, world.demand
    neighbour = neighbours(world)
    free = _but_not(both, allied)
    valid = np.empty((world.n_worlds, N_ACTS, n, n), dtype=bool)
    valid[:, _WAIT] = _wait_target(n)
    np.logical_and(free, neighbour | at_war, out=valid[:, _ATTACK])
    np.greater(free, at_war, out=valid[:, _ALLY])
    valid[:, _LEAVE] = allied
    np.logical_and(valid[:, _ALLY], neighbour, out=valid[:, _THREATEN])
    if count_nonzero(demand):  # with no demand standing, no one may concede and anyone may threaten
        valid[:, _THREATEN] &= ~demand
        # Conceding gives a province bordering the demander; a nation never concedes its last province.
        np.logical_and(
            both & demand.transpose(0, 2, 1).copy() & neighbour,
            provinces_held(world)[:, :, None] > 1,
            out=valid[:, _CONCEDE],
        )
    else:
        valid[:, _CONCEDE] = False
    np.greater(both, at_war, out=valid[:, _SUPPORT])
    valid[:, _PEACE] = at_war
    valid.flags.writeable = False
    return valid


@cache
def _wait_target(n: int) -> np.ndarray:
    """[N, N] WAIT's only valid target: the nation in slot 0."""
    target = np.zeros((n, n), dtype=bool)
    target[np.arange(n), (np.arange(n) + 1) % n] = True
    target.flags.writeable = False
    return target


@cache
def _mask_gather(n: int, n_levels: int) -> np.ndarray:
    """[N, A] where each flat action of nation i reads its validity in ``act_target_validity(...)[w]`` flattened
    (``(act * N + i) * N + target``): one gather builds the whole mask."""
    flat = np.arange(n_levels * N_ACTS * (n - 1))
    act = flat // (n - 1) % N_ACTS
    target = (np.arange(n)[:, None] + flat % (n - 1) + 1) % n
    gather = (act * n + np.arange(n)[:, None]) * n + target
    gather.flags.writeable = False
    return gather


def action_mask(world: World, config: EnvConfig) -> np.ndarray:
    """[W, N, L * K * (N-1)] int8 mask of valid flat actions. Every arms level is always valid; WAIT is
    valid with target slot 0 only, so the mask is exact and never all zero. Cached per world: copy before
    writing to it."""
    n_levels = len(config.arms_shares)
    key = f"mask{n_levels}"
    mask = world.cache.get(key)
    if mask is None:
        valid = act_target_validity(world).reshape(world.n_worlds, -1)
        mask = world.cache[key] = valid.take(_mask_gather(world.n_nations, n_levels), axis=1).view(np.int8)
    return mask


# --------------------------------------------------------------------------------------------------
# The transition
# --------------------------------------------------------------------------------------------------


def _province_gains(
    world: World, gains: np.ndarray, pick: np.ndarray, priority: np.ndarray, by_force: bool
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """New owners after every flagged pair ``gains[w, i, j]`` passes one province from j to i, and the
    (w, i, j) indices of the pairs whose transfer took place.

    The province is the one with the highest random ``pick[w, i, j, p]`` among j's provinces that touch i:
    by force, over land where the two share a land border, else across sea; by concession, any that
    touches i. If several nations gain the same province, the higher ``priority[w, i, j]`` takes it.
    Works on the list of flagged pairs (a few per turn), not on every pair of nations.
    """
    w, i, j = gains.nonzero()
    counts = _touch_counts(world)[w, i] > 0  # [K, land/sea, P]
    touches = counts[:, 0] | counts[:, 1]
    if by_force:
        touches = np.where(borders(world)[0][w, i, j][:, None], counts[:, 0], touches)
    candidates = touches & (world.owner[w] == j[:, None])
    province = np.where(candidates, pick[w, i, j], -1.0).argmax(axis=1)
    if w.size > 1:  # where two gains name the same province, the one of higher priority stands
        key = w * world.n_provinces + province
        order = np.lexsort((priority[w, i, j], key))
        winners = order[np.append(key[order][1:] != key[order][:-1], True)]
        w, i, j, province = w[winners], i[winners], j[winners], province[winners]
    owner = world.owner.copy()
    owner[w, province] = i
    return owner, (w, i, j)


_OWNER_DERIVED = ("owned", "held", "touch_counts", "borders", "neighbours")
_MAP_DERIVED = ("adjacency",)
_ALIVE_DERIVED = ("live_pairs",)


def _with_owner(world: World, owner: np.ndarray) -> World:
    """``world`` with new owners, keeping the cached values of the fixed map."""
    new = world.replace(owner=owner)
    _carry(world, new, _MAP_DERIVED)
    return new


def _carry(source: World, target: World, keys: tuple[str, ...]) -> None:
    """Copy the cached values ``keys`` that ``source`` has into ``target`` (they must be equal in both)."""
    cache, target_cache = source.cache, target.cache
    for key in keys:
        if key in cache:
            target_cache[key] = cache[key]


@cache
def _as_array(values: tuple[float, ...]) -> np.ndarray:
    array = np.array(values)
    array.flags.writeable = False
    return array


@cache
def _decoder(n_nations: int, n_levels: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Lookup tables of the flat action encoding: ([A] arms level, [N * A] act * N + absolute target of
    nation i's action a at ``i * A + a``, [N] each nation's offset ``i * A`` into it, [N] the code of WAIT
    toward slot 0)."""
    n_actions = n_levels * N_ACTS * (n_nations - 1)
    flat = np.arange(n_actions)
    n_targets = n_nations - 1
    level = flat // (N_ACTS * n_targets)
    act = flat // n_targets % N_ACTS
    target = (np.arange(n_nations)[:, None] + flat % n_targets + 1) % n_nations
    tables = level, (act * n_nations + target).ravel(), np.arange(n_nations) * n_actions
    tables += ((np.arange(n_nations) + 1) % n_nations,)
    for table in tables:
        table.flags.writeable = False
    return tables


@cache
def _row_offsets(n_worlds: int, n_nations: int, row_length: int) -> np.ndarray:
    """[W, N] offset of row (w, i) in a flattened ``[W, N, row_length]`` array."""
    offsets = np.arange(n_worlds * n_nations).reshape(n_worlds, n_nations) * row_length
    offsets.flags.writeable = False
    return offsets


def _agreed(
    offered: np.ndarray, offered_to_me: np.ndarray, standing: np.ndarray, attack_either: np.ndarray | None
) -> np.ndarray:
    """[W, N, N] pairs that agree this turn (symmetric): i offers j while j offers i now, or i accepts j's
    offer standing from last turn (WarAgent's treaty cycle: request, accept). An attack between the two in
    the same turn kills the deal (``attack_either``: None when nobody attacked)."""
    agreed = offered & (offered_to_me | standing.transpose(0, 2, 1).copy())
    if attack_either is not None:
        agreed = _but_not(agreed, attack_either)
    agreed |= agreed.transpose(0, 2, 1).copy()
    return agreed


@cache
def _act_codes(n_nations: int) -> np.ndarray:
    """[K, 1, N] the code ``act * N + target`` of act k toward nation j."""
    codes = np.arange(N_ACTS * n_nations).reshape(N_ACTS, 1, n_nations)
    codes.flags.writeable = False
    return codes


def transition(
    world: World,
    actions: np.ndarray,
    config: EnvConfig,
    rng: np.random.Generator,
    mask: np.ndarray | None = None,
) -> tuple[World, Events]:
    """Advance every world by one year. ``actions`` is ``[W, N]`` flat action indices (any value of a
    dead nation is ignored). Returns the new world and the turn's events."""
    n_worlds, n, n_provinces = world.owner.shape[0], world.military.shape[1], world.owner.shape[1]
    mask = action_mask(world, config) if mask is None else mask
    was_alive = world.alive
    pair_shape = (n_worlds, n, n)
    projection_key = f"projection{config.sea_penalty}"  # attack strength kept across sea, per front

    # One fixed set of draws per turn, whatever happens, so the random stream never depends on events.
    draws = rng.random((n_worlds, n, n, 2 * n_provinces + 2))
    capture_pick, concession_pick = draws[..., :n_provinces], draws[..., n_provinces : 2 * n_provinces]
    capture_roll, claim_priority = draws[..., -2], draws[..., -1]

    # 1. Validation.
    actions = np.asarray(actions, dtype=np.int64)
    level_of, act_target_of, nation_offset, wait_code = _decoder(n, len(config.arms_shares))
    valid = mask.take(actions + _row_offsets(n_worlds, n, mask.shape[2])).view(bool) & was_alive
    level = np.where(was_alive, level_of[actions], world.arms_level)
    # act * n + absolute target; an invalid action (and any action of a dead nation) is WAIT toward slot 0.
    code = np.where(valid, act_target_of[actions + nation_offset], wait_code)
    act, target = np.divmod(code, n)
    # by_act[w, k, i, j]: nation i took act k toward nation j; toward[w, k, i, j]: j took act k toward i.
    by_act = code[:, None, :, None] == _act_codes(n)
    toward = by_act.transpose(0, 1, 3, 2).copy()
    # Sections whose act nobody took are skipped; the skipping is exact (they would change nothing).
    taken = np.bincount(act.ravel(), minlength=N_ACTS).tolist()

    # 2. Diplomacy. Nothing is enforced: any nation may leave an alliance at any time (anarchy, Waltz 1979).
    allied = world.allied
    alliance_left = np.zeros(pair_shape, dtype=bool)
    if taken[_LEAVE]:
        left = by_act[:, _LEAVE]
        allied = _but_not(allied, left | toward[:, _LEAVE])
        alliance_left = left & world.allied
    attack = by_act[:, _ATTACK]
    attack_either = attack | toward[:, _ATTACK] if taken[_ATTACK] else None
    # An alliance forms when both sides want it (allies are never at war with each other).
    formed = np.zeros(pair_shape, dtype=bool)
    proposal = np.zeros(pair_shape, dtype=bool)
    if taken[_ALLY]:
        formed = _agreed(by_act[:, _ALLY], toward[:, _ALLY], world.alliance_proposal, attack_either)
        allied = allied | formed
        proposal = _but_not(by_act[:, _ALLY], formed)

    # A war ends when both sides offer peace.
    at_war = world.at_war
    peace = np.zeros(pair_shape, dtype=bool)
    peace_offer = np.zeros(pair_shape, dtype=bool)
    if taken[_PEACE]:
        peace = _agreed(by_act[:, _PEACE], toward[:, _PEACE], world.peace_offer, attack_either)
        at_war = _but_not(at_war, peace)
        peace_offer = _but_not(by_act[:, _PEACE], peace)

    # Concession under blackmail (Axelrod 1995's tribute model: pay rather than fight): the conceding
    # nation hands the demander one border province, intact.
    concession = by_act[:, _CONCEDE]  # i concedes to j
    mid = world  # the world as territory stands after concessions
    demand = world.demand
    if taken[_CONCEDE]:
        conceded = toward[:, _CONCEDE] & neighbours(world)  # [w, gainer, giver]
        pick = concession_pick.transpose(0, 2, 1, 3)
        mid = _with_owner(world, _province_gains(world, conceded, pick, claim_priority, by_force=False)[0])
        concession = concession & conceded.transpose(0, 2, 1)
        demand = _but_not(demand, toward[:, _CONCEDE])

    threats = by_act[:, _THREATEN]
    threats_made = world.threats_made
    if taken[_THREATEN]:
        demand = demand | threats
        threats_made = threats_made + np.add.reduce(threats, axis=2)

    # 3. War. An attack on a nation one is not at war with declares war (wars are symmetric).
    declared = np.zeros(pair_shape, dtype=bool)
    enforced = np.zeros(pair_shape, dtype=bool)
    threats_enforced = world.threats_enforced
    if attack_either is not None:
        declared = _but_not(attack, at_war)
        at_war = at_war | attack_either
        # Carrying out a refused threat makes later threats credible (Schelling 1966; Mearsheimer's blackmail).
        enforced = attack & demand
        demand = _but_not(demand, attack)
        if count_nonzero(enforced):
            threats_enforced = threats_enforced + np.add.reduce(enforced, axis=2)
    # A refused demand lapses at its deadline: the threatener's bluff is called.
    demands_stand = count_nonzero(demand) > 0
    bluff = np.zeros(pair_shape, dtype=bool)
    if demands_stand:
        demand_age = world.demand_age + 1  # the age this turn, where a demand stands
        if taken[_THREATEN]:
            demand_age = np.where(threats, 1, demand_age)
        bluff = demand & (demand_age > config.demand_deadline)
        demand = _but_not(demand, bluff)

    # 4. Combat. A nation splits its forces evenly across its fronts.
    fighting = at_war  # the fronts of this turn, before eliminations end any war
    fronts = np.add.reduce(at_war, axis=2, dtype=np.float64)  # float: the arithmetic below stays in one type
    per_front = world.military / np.maximum(fronts, 1.0)
    committed = np.where(at_war, per_front[:, :, None], 0.0)  # i's force against j
    enemy = committed.transpose(0, 2, 1).copy()
    # Attrition (Lanchester's linear law): losses proportional to the force the enemy commits.
    losses = np.minimum(committed, config.attrition * enemy)
    after = mid
    wealth = world.wealth
    province_taken = np.zeros(pair_shape, dtype=np.int64)
    destroyed_on_capture = None
    assaults = attack & at_war
    if attack_either is not None and count_nonzero(assaults):  # skipping is exact: no assault, no capture
        # Capture odds rise with the force ratio (Cederman 1997 logistic: P = 1 / (1 + (ratio/rho)^-c));
        # an attack across sea alone is weakened (Mearsheimer: the stopping power of water).
        projection = mid.cache.get(projection_key)
        if projection is None:
            projection = mid.cache[projection_key] = np.where(borders(mid)[0], 1.0, config.sea_penalty)
        ratio = (committed * projection + _EPS) / (config.offense_defense_balance * (enemy + _EPS))
        capture_odds = 1.0 / (1.0 + ratio**-config.capture_steepness)
        captured = assaults & neighbours(mid) & (capture_roll < capture_odds)
        if count_nonzero(captured):
            new_owner, takers = _province_gains(mid, captured, capture_pick, claim_priority, by_force=True)
            province_taken[takers] = 1  # one province per front and turn
            moved = new_owner != mid.owner
            # The conqueror keeps conquest_payoff of a province's wealth; the rest is destroyed.
            destroyed_on_capture = np.where(moved, wealth * (1.0 - config.conquest_payoff), 0.0)
            wealth = wealth - destroyed_on_capture
            after = _with_owner(mid, new_owner)

    # 5. Eliminations: a nation left with no province (only when provinces changed hands). Relations only
    # ever join nations alive at the start of the turn, so they need trimming only when someone is gone.
    eliminated = np.zeros(was_alive.shape, dtype=bool) if after is world else was_alive & (provinces_held(after) == 0)
    alive = was_alive
    alliance_formed = formed
    anyone_eliminated = after is not world and count_nonzero(eliminated) > 0
    if anyone_eliminated:
        alive = _but_not(was_alive, eliminated)
        pair_alive = alive[:, :, None] & alive[:, None, :]
        at_war = at_war & pair_alive
        allied = allied & pair_alive
        proposal = proposal & pair_alive
        peace_offer = peace_offer & pair_alive
        demand = demand & pair_alive
        alliance_formed = formed & allied
    if taken[_ALLY]:
        proposal = _but_not(proposal, at_war)
    if taken[_PEACE]:
        peace_offer = peace_offer & at_war
    if demands_stand:
        demand = _but_not(demand, at_war)
        demand_age = np.where(demand, demand_age, 0)
    else:
        demand_age = np.zeros(pair_shape, dtype=world.demand_age.dtype)
    war_years = np.where(at_war, world.war_years + 1, 0)
    if count_nonzero(allied):
        alliance_years = np.where(allied, world.alliance_years + 1, 0)
    else:
        alliance_years = np.zeros(pair_shape, dtype=world.alliance_years.dtype)

    # 6. Economy. Guns cost butter: what goes to arms, aid and upkeep is not invested (Waltz's internal
    # balancing; Welfare Diplomacy's units-versus-welfare trade-off).
    inc = income(world)
    arms_share = _as_array(config.arms_shares)[level]  # a dead nation has no income: its share buys nothing
    upkeep = config.upkeep * world.military / np.maximum(inc, _EPS)
    lost = np.add.reduce(losses, axis=2)
    military = (1.0 - config.depreciation) * (world.military - lost) + arms_share * inc
    if taken[_SUPPORT]:  # skipping is exact: no aid adds and spends exactly 0.0
        support = by_act[:, _SUPPORT]
        aid = support * (config.aid_share * inc)[:, :, None]
        invested = 1.0 - arms_share - np.logical_or.reduce(support, axis=2) * config.aid_share - upkeep
        military += np.add.reduce(aid, axis=1)
    else:
        aid = np.zeros(pair_shape)
        invested = 1.0 - arms_share - upkeep
    military = np.maximum(military, 0.0)
    if anyone_eliminated:
        military *= alive
    growth = 1.0 + world.growth_rates * np.maximum(invested, -1.0)
    # War devastates the economy of every nation that fights (Cusack & Stoll 1990: war costs).
    if anyone_eliminated:  # their wars ended with them
        fronts = np.add.reduce(at_war, axis=2, dtype=np.float64)
    devastation = np.minimum(config.war_devastation * fronts, 1.0)
    factor_by_nation = np.maximum(growth * (1.0 - devastation), 0.0)
    owner = after.owner
    new_wealth = wealth * factor_by_nation.take(owner if n_worlds == 1 else owner + _row_offsets(n_worlds, 1, n))
    # Wealth destroyed on capture belonged to the loser; devastation falls on the holder after the turn.
    destroyed = (income(world) if after is world else sum_by_nation(wealth, ownership(after))) * devastation
    if destroyed_on_capture is not None:
        destroyed += sum_by_nation(destroyed_on_capture, ownership(mid))

    new_world = world.replace(
        owner=owner,
        wealth=new_wealth,
        military=military,
        arms_level=level,
        alive=alive,
        at_war=at_war,
        war_years=war_years,
        allied=allied,
        alliance_years=alliance_years,
        alliance_proposal=proposal,
        peace_offer=peace_offer,
        demand=demand,
        demand_age=demand_age,
        threats_made=threats_made,
        threats_enforced=threats_enforced,
        last_act=act,  # WAIT for the dead, whose code is always WAIT's
        last_target=target,
        forces_lost=world.forces_lost + lost,
        wealth_destroyed=world.wealth_destroyed + destroyed,
        turn=world.turn + 1,
    )
    # Ownership-derived values depend only on the owner array and the fixed map: carry them over.
    _carry(after, new_world, (*_OWNER_DERIVED, projection_key))
    _carry(world, new_world, _MAP_DERIVED if alive is not was_alive else _MAP_DERIVED + _ALIVE_DERIVED)
    if threats_made is world.threats_made and threats_enforced is world.threats_enforced:
        _carry(world, new_world, ("credibility",))
    new_world.cache["acted_on"] = np.logical_or.reduce(toward[:, _WAIT + 1 :], axis=1)  # what acted_on() computes
    events = Events(
        war_declared=declared,
        battle=fighting,
        forces_lost=losses,
        province_taken=province_taken,
        wealth_destroyed=destroyed,
        alliance_proposed=proposal,
        alliance_formed=alliance_formed,
        alliance_left=alliance_left,
        demand_made=threats,
        concession=concession,
        threat_enforced=enforced,
        bluff_called=bluff,
        aid=aid,
        peace=peace,
        eliminated=eliminated,
        invalid_action=_but_not(was_alive, valid),
    )
    return new_world, events


def is_over(world: World) -> np.ndarray:
    """[W] whether a world has ended by unification (one nation holds every province)."""
    return np.add.reduce(world.alive, axis=1) <= 1


_SYMMETRIC_EVENTS = frozenset({"battle", "alliance_formed", "peace"})


@cache
def _upper(n: int) -> np.ndarray:
    return np.triu(np.ones((n, n), dtype=bool), 1)


# (position in Events, kind, listed once per pair) of every kind that becomes a record.
_RECORDED = tuple(
    (index, kind, kind in _SYMMETRIC_EVENTS) for index, kind in enumerate(EVENT_KINDS) if kind != "forces_lost"
)
_BATTLE = EVENT_KINDS.index("battle")
_BOOL = np.dtype(bool)


def event_records(events: Events, world_index: int, names: tuple[str, ...]) -> list[dict[str, object]]:
    """The events of one world as plain records ``{"kind", "actor", "target", "value"}`` (for ``infos``,
    logs and replays). Symmetric events are listed once per pair; a battle's value is
    (actor's losses, target's losses); a flag's value is 1.0."""
    records: list[dict[str, object]] = []
    one_world = events.eliminated.shape[0] == 1  # then the whole array is the world's: no view to count on
    for index, kind, symmetric in _RECORDED:
        arrays = events[index]
        if not count_nonzero(arrays if one_world else arrays[world_index]):
            continue
        array = arrays[world_index]
        flags = array.dtype is _BOOL
        if array.ndim == 1:
            hits = array.nonzero()[0].tolist()
            values = [1.0] * len(names) if flags else array.tolist()
            records += [{"kind": kind, "actor": names[i], "target": None, "value": float(values[i])} for i in hits]
            continue
        n = array.shape[1]
        pairs = [divmod(cell, n) for cell in (array & _upper(n) if symmetric else array).ravel().nonzero()[0].tolist()]
        if index == _BATTLE:
            lost = events.forces_lost[world_index].tolist()
            records += [
                {"kind": kind, "actor": names[i], "target": names[j], "value": (lost[i][j], lost[j][i])}
                for i, j in pairs
            ]
        elif flags:
            records += [{"kind": kind, "actor": names[i], "target": names[j], "value": 1.0} for i, j in pairs]
        else:
            values = array.tolist()
            records += [
                {"kind": kind, "actor": names[i], "target": names[j], "value": float(values[i][j])} for i, j in pairs
            ]
    return records
