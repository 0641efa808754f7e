"""The rules of the world, written once, as pure array functions over a :class:`~realism_env.world.World`.

Every function works on all ``W`` worlds at once: no Python loop over worlds, nations, wars or provinces inside a
turn. The functions take their array namespace from their inputs (:func:`realism_env.backend.array_namespace`) and
call only functions of the Python array API standard, so the same code runs on numpy, on torch (CPU and CUDA) and on
``array-api-strict``. Shapes are fixed: captures and concessions are dense over nations and provinces, never lists
of the pairs involved. Random draws come in as arrays (:class:`realism_env.draws.TurnDraws`).

Order of resolution within a turn (all nations move at once; within a phase every nation acts simultaneously, and
ties are broken by the draws, never by nation index):

1. Validation: an in-space action that the mask forbids becomes WAIT (its arms level still applies).
2. Diplomacy: alliances left, alliances formed, peace made, demands met by concession, new demands.
3. War: declarations (an attack on a nation one is not at war with); a declaration against a nation that refused
   one's demand enforces the threat; refused demands past their deadline become bluffs.
4. Combat on every front: attrition for both sides. Then provinces change hands, all at once, on the borders of
   the start of the turn: each conceding nation gives one province touching its demander, each attacker whose
   capture roll succeeds takes one of its target's provinces bordering it; a concession stands over a capture of
   the same province, and of two captures of one province the higher priority draw.
5. Eliminations: a nation with no province is gone; its wars, alliances and demands end.
6. Economy: arms spending, aid, depreciation and upkeep, growth (guns cost butter), war devastation.

Speed comes from batching worlds. On numpy, where a data-dependent branch costs nothing, a section whose act nobody
took in any world (no alliance offered, no concession, no attack, ...) is skipped, because it would change nothing,
and the province transfers and the territories they change are resolved on the worlds where a province changes hands
alone (the same functions on those rows). Every other backend runs every section on every world, so a step never
waits on the device. The parity tests (``tests/test_backends.py``) check that both paths give identical trajectories.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from realism_env.actions import N_ACTS, Act
from realism_env.array_ops import take_rows, toward_target, zero_unless
from realism_env.backend import array_namespace, device_of, is_numpy, put_rows
from realism_env.draws import TurnDraws
from realism_env.events import EVENT_KINDS, Events, event_records
from realism_env.world import World

if TYPE_CHECKING:
    from realism_env.config import EnvConfig

__all__ = ["EVENT_KINDS", "Events", "event_records"]  # events live in realism_env.events; re-exported here

EPS = 1e-9
WAIT, ATTACK, ALLY, LEAVE, THREATEN, CONCEDE, SUPPORT, PEACE = (int(a) for a in Act)


# --------------------------------------------------------------------------------------------------
# Constant tables
# --------------------------------------------------------------------------------------------------


class RuleTables(NamedTuple):
    """Constant arrays of one config on one backend, built once by :func:`rule_tables` and passed to the rules."""

    nations: Any  #: [N] int, 0..N-1
    identity: Any  #: [N, N] bool, i == j (row n: the one-hot of nation n)
    off_diagonal: Any  #: [N, N] bool, i != j
    wait_target: Any  #: [N, N] bool, WAIT's only valid target: the nation in slot 0
    mask_gather: Any  #: [N * A] int, where flat action a of nation i reads its validity in validity[w] flattened
    slot_gather: Any  #: [N * K * (N-1)] int, the same for (act, target slot) of nation i, at any arms level
    level_of: Any  #: [A] int, the arms level of each flat action
    code_of: Any  #: [N * A] int, ``act * N + absolute target`` of nation i's action a, at ``i * A + a``
    action_offset: Any  #: [N] int, ``i * A``
    wait_code: Any  #: [N] int, the code of WAIT toward slot 0
    act_pairs: Any  #: [K, K * N, N] bool, row ``act * N + j`` of ``act_pairs[k]``: the one-hot of j where act is k
    arms_shares: Any  #: [L] float, share of income to arms at each level
    initial_shares: Any  #: [N] float, capability shares at the start
    growth_rates: Any  #: [N] float, growth per year at zero arms spending
    #: the smallest force ratio whose power ``ratio ** -capture_steepness`` is finite in the float dtype (see
    #: :func:`smallest_force_ratio`)
    smallest_force_ratio: float


def smallest_force_ratio(capture_steepness: float, largest_float: float) -> float:
    """The force ratio below which the capture odds' ``ratio ** -capture_steepness`` would pass half the float
    dtype's ``largest_float``. A smaller ratio is raised to it: the odds there, ``1 / (1 + largest_float / 2)``, are
    nil either way (below 1e-38 in float32), and the power cannot overflow (in float32 worlds it did, on an attack by a
    nearly disarmed nation, with a RuntimeWarning on numpy)."""
    return (largest_float / 2.0) ** (-1.0 / capture_steepness)


def rule_tables(config: EnvConfig, xp: Any = np, device: Any = "cpu", float_dtype: Any = None) -> RuleTables:
    """The constant tables of ``config``'s action encoding and economy, as arrays of namespace ``xp`` on ``device``."""
    float_dtype = xp.float64 if float_dtype is None else float_dtype
    n, n_levels = config.n_nations, len(config.arms_shares)
    n_targets = n - 1
    n_actions = n_levels * N_ACTS * n_targets
    flat = np.arange(n_actions)
    act = flat // n_targets % N_ACTS
    target = (np.arange(n)[:, None] + flat % n_targets + 1) % n  # [N, A] absolute target of each action
    wait_target = np.zeros((n, n), dtype=bool)
    wait_target[np.arange(n), (np.arange(n) + 1) % n] = True

    def ints(values: np.ndarray) -> Any:
        return xp.asarray(np.asarray(values, dtype=np.int64), device=device)

    def floats(values: Any) -> Any:
        return xp.asarray(np.asarray(values, dtype=np.float64), dtype=float_dtype, device=device)

    return RuleTables(
        nations=ints(np.arange(n)),
        identity=xp.asarray(np.eye(n, dtype=bool), device=device),
        off_diagonal=xp.asarray(~np.eye(n, dtype=bool), device=device),
        wait_target=xp.asarray(wait_target, device=device),
        mask_gather=ints(((act * n + np.arange(n)[:, None]) * n + target).reshape(-1)),
        slot_gather=ints(((act * n + np.arange(n)[:, None]) * n + target)[:, : N_ACTS * n_targets].reshape(-1)),
        level_of=ints(flat // (N_ACTS * n_targets)),
        code_of=ints((act * n + target).reshape(-1)),
        action_offset=ints(np.arange(n) * n_actions),
        wait_code=ints((np.arange(n) + 1) % n),
        act_pairs=xp.asarray(
            np.eye(N_ACTS * n, dtype=bool).reshape(N_ACTS * n, N_ACTS, n).transpose(1, 0, 2).copy(), device=device
        ),
        arms_shares=floats(config.arms_shares),
        initial_shares=floats(config.initial_shares),
        growth_rates=floats(config.growth_per_nation),
        smallest_force_ratio=smallest_force_ratio(config.capture_steepness, float(xp.finfo(float_dtype).max)),
    )


def tables_for(world: World, config: EnvConfig) -> RuleTables:
    """:func:`rule_tables` on the namespace, device and float dtype of ``world`` (for one-off calls)."""
    return rule_tables(config, array_namespace(world.owner), device_of(world.owner), world.wealth.dtype)


def relative_order(n_nations: int) -> np.ndarray:
    """[N, N-1] absolute index of the nation in each relative slot: slot k of i is (i + k + 1) % N."""
    return (np.arange(n_nations)[:, None] + np.arange(1, n_nations)[None, :]) % n_nations


# --------------------------------------------------------------------------------------------------
# Derived quantities
# --------------------------------------------------------------------------------------------------


def sum_by_nation(values: Any, owned: Any) -> Any:
    """[W, N] sum of per-province ``values`` ([W, P]) over the provinces each nation holds (``owned``: the [W, P, N]
    one-hot of holders, as floats of ``values``' dtype)."""
    xp = array_namespace(values, owned)
    return xp.matmul(values[:, None, :], owned)[:, 0, :]


def per_province(values: Any, owner: Any) -> Any:
    """[W, P] each province's holder's value of per-nation ``values`` ([W, N]); ``owner``: [W, P] holders."""
    return take_rows(values, owner)


def map_links(land_adjacency: Any, sea_adjacency: Any) -> Any:
    """[..., P, 2P] float32: the land adjacency, then the sea adjacency, as counts (for the border matmuls)."""
    xp = array_namespace(land_adjacency)
    return xp.astype(xp.concat([land_adjacency, sea_adjacency], axis=-1), xp.float32)


class Territory(NamedTuple):
    """What follows from who holds which province on the fixed map, ``[W, ...]`` each (:func:`territory`)."""

    links: Any  #: [W, P, 2P] float32, the map's :func:`map_links` (fixed for an episode; carried turn to turn)
    owned: Any  #: [W, P, N] float one-hot of each province's holder (for sums by nation)
    held: Any  #: [W, N] float, provinces held
    income: Any  #: [W, N] float, the summed wealth of a nation's provinces
    touch_land: Any  #: [W, N, P] bool, nation n holds a province bordering province p by land
    touch_sea: Any  #: [W, N, P] bool, ... linked to p by sea
    land_border: Any  #: [W, N, N] bool, i and j share a land border
    sea_border: Any  #: [W, N, N] bool, i and j are linked by sea only
    neighbours: Any  #: [W, N, N] bool, land border or sea link


def territory(world: World, tables: RuleTables | None = None, links: Any = None) -> Territory:
    """Ownership, income and borders of every world, from its owners, wealth and map (``links``: the map's
    :func:`map_links` when known, e.g. from the same worlds' territory of the last turn)."""
    if links is None:
        links = map_links(world.land_adjacency, world.sea_adjacency)
    return territory_of(world.owner, world.wealth, links, world.n_nations, tables)


def territory_of(
    owner: Any,
    wealth: Any,
    links: Any,
    n: int,
    tables: RuleTables | None = None,
) -> Territory:
    """:func:`territory` from the arrays it reads: owners [W, P], wealth [W, P] and the map's links [W, P, 2P] of
    worlds of ``n`` nations."""
    xp = array_namespace(owner)
    n_worlds, n_provinces = owner.shape
    device = device_of(owner)
    identity = xp.eye(n, dtype=xp.bool, device=device) if tables is None else tables.identity
    # [W, P, N] each province's holder as a one-hot: the holder's row of the identity (a gather of rows is several
    # times faster on numpy than comparing every province with every nation)
    holds = xp.reshape(xp.take(identity, xp.reshape(owner, (-1,)), axis=0), (n_worlds, n_provinces, n))
    owned = xp.astype(holds, wealth.dtype)
    # Borders are two small matmuls of counts, in float32 (exact for any map size here, and faster).
    counts = xp.astype(holds, xp.float32)
    touch = xp.matmul(xp.permute_dims(counts, (0, 2, 1)), links)  # [W, N, 2P]: n's provinces touching p
    linked = xp.matmul(xp.reshape(touch, (n_worlds, 2 * n, n_provinces)), counts) > 0  # [W, (i, land/sea), j]
    linked = xp.reshape(linked, (n_worlds, n, 2, n))
    off_diagonal = ~xp.eye(n, dtype=xp.bool, device=device) if tables is None else tables.off_diagonal
    land = linked[:, :, 0, :] & off_diagonal
    sea = linked[:, :, 1, :] & off_diagonal & ~land
    return Territory(
        links=links,
        owned=owned,
        held=sum_by_nation(xp.ones_like(wealth), owned),  # a matmul: numpy sums a middle axis slowly
        income=sum_by_nation(wealth, owned),
        touch_land=touch[:, :, :n_provinces] > 0,
        touch_sea=touch[:, :, n_provinces:] > 0,
        land_border=land,
        sea_border=sea,
        neighbours=land | sea,
    )


def ownership(world: World) -> Any:
    """[W, P, N] one-hot (as float) of who holds each province."""
    return territory(world).owned


def income(world: World) -> Any:
    """[W, N] economic output: the summed wealth of a nation's provinces."""
    return territory(world).income


def provinces_held(world: World) -> Any:
    """[W, N] number of provinces each nation holds (as float)."""
    return territory(world).held


def borders(world: World) -> tuple[Any, Any]:
    """([W, N, N] land border, [W, N, N] sea-only link) between nations, from their provinces."""
    land = territory(world)
    return land.land_border, land.sea_border


def neighbours(world: World) -> Any:
    """[W, N, N] whether nations i and j border, by land or by sea."""
    return territory(world).neighbours


def power_share(world: World, inc: Any = None) -> Any:
    """[W, N] share of the system's capabilities: the mean of military and economic shares
    (after the COW CINC index, a mean of capability shares)."""
    xp = array_namespace(world.military)
    inc = income(world) if inc is None else inc
    mil_share = world.military / xp.maximum(xp.sum(world.military, axis=1, keepdims=True), EPS)
    eco_share = inc / xp.maximum(xp.sum(inc, axis=1, keepdims=True), EPS)
    return xp.where(world.alive, 0.5 * (mil_share + eco_share), 0.0)


def credibility(world: World) -> Any:
    """[W, N] share of a nation's threats it went to war over, ``(enforced + 1) / (made + 2)`` (Laplace's rule: a
    nation with no record is half credible; Schelling 1966: a threat is as good as the record behind it). Every
    threat made counts, also one the target gave in to, so a nation whose demands are met looks less resolute than
    one whose refused demands it enforced (a share of refused threats only would need a count of them: a candidate
    for a later version of the env)."""
    xp = array_namespace(world.threats_made)
    float_dtype = world.wealth.dtype
    return xp.astype(world.threats_enforced + 1, float_dtype) / xp.astype(world.threats_made + 2, float_dtype)


def acted_on(world: World, nations: Any = None) -> Any:
    """[W, i, j] whether nation j's public act last turn (anything but WAIT) was aimed at nation i (``nations``: the
    [N] indices when the caller has them)."""
    xp = array_namespace(world.last_target)
    nations = xp.arange(world.n_nations, device=device_of(world.last_target)) if nations is None else nations
    return (world.last_target[:, None, :] == nations[:, None]) & (world.last_act != WAIT)[:, None, :]


def live_pairs(world: World, tables: RuleTables | None = None) -> Any:
    """[W, N, N] whether i and j are two different live nations."""
    xp = array_namespace(world.alive)
    off_diagonal = (
        ~xp.eye(world.n_nations, dtype=xp.bool, device=device_of(world.alive))
        if tables is None
        else tables.off_diagonal
    )
    return world.alive[:, :, None] & world.alive[:, None, :] & off_diagonal


def is_over(world: World) -> Any:
    """[W] whether a world has ended by unification (one nation holds every province)."""
    xp = array_namespace(world.alive)
    return xp.sum(xp.astype(world.alive, xp.int64), axis=1) <= 1


# --------------------------------------------------------------------------------------------------
# Action mask
# --------------------------------------------------------------------------------------------------


def attackable(world: World, land: Territory, tables: RuleTables | None = None, both: Any = None) -> Any:
    """[W, N, N] whether i may attack j: j is alive, not allied with i, and borders i or is at war with it (``both``:
    :func:`live_pairs`, when the caller has it). The security doctrine reads the same test as "j threatens i" (one
    definition of a threat)."""
    both = live_pairs(world, tables) if both is None else both
    return both & ~world.allied & (land.neighbours | world.at_war)


def act_target_validity(world: World, land: Territory, tables: RuleTables) -> Any:
    """[W, K, N, N] whether nation i may take act k toward nation j (absolute j). WAIT is valid toward the nation
    in slot 0 only, so every act has exactly one encoding."""
    xp = array_namespace(world.owner)
    both = live_pairs(world, tables)
    at_war, allied, demand = world.at_war, world.allied, world.demand
    support = both & ~at_war  # any live nation one is not at war with
    ally = support & ~allied
    wait = xp.zeros_like(at_war) | tables.wait_target  # the same in every world (broadcast to [W, N, N])
    # Conceding gives a province bordering the demander; a nation never concedes its last province.
    concede = both & xp.permute_dims(demand, (0, 2, 1)) & land.neighbours & (land.held > 1.0)[:, :, None]
    return xp.stack(
        [
            wait,  # WAIT
            attackable(world, land, tables, both),  # ATTACK
            ally,  # ALLY: propose or accept
            allied,  # LEAVE_ALLIANCE
            ally & land.neighbours & ~demand,  # THREATEN: blackmail a neighbour, one demand at a time
            concede,  # CONCEDE
            support,  # SUPPORT
            at_war,  # PEACE
        ],
        axis=1,
    )


def action_mask(
    world: World, config: EnvConfig, tables: RuleTables | None = None, land: Territory | None = None
) -> Any:
    """[W, N, L * K * (N-1)] int8 mask of valid flat actions. Every arms level is always valid; WAIT is valid with
    target slot 0 only, so the mask is exact and never all zero."""
    tables = tables_for(world, config) if tables is None else tables
    land = territory(world, tables) if land is None else land
    return mask_of(act_target_validity(world, land, tables), tables)


def mask_of(validity: Any, tables: RuleTables) -> Any:
    """The flat action mask ([W, N, A] int8) of an :func:`act_target_validity` ([W, K, N, N]): each nation's
    validity by (act, target slot), repeated for every arms level (all are always valid)."""
    xp = array_namespace(validity)
    n_worlds, n_acts, n = validity.shape[0], validity.shape[1], validity.shape[2]
    by_slot = xp.take(xp.reshape(validity, (n_worlds, -1)), tables.slot_gather, axis=1)  # [W, N * K * (N-1)]
    by_slot = xp.reshape(xp.astype(by_slot, xp.int8), (n_worlds * n, n_acts * (n - 1)))  # a row per nation
    n_levels = tables.level_of.shape[0] // (n_acts * (n - 1))
    # Each nation's row once per arms level, in a row: flat action (level * K + act) * (N-1) + slot. (What numpy's
    # tile does inside, without the Python around it that costs more than the copy at one world.)
    return xp.reshape(xp.repeat(by_slot, n_levels, axis=0), (n_worlds, n, n_levels * n_acts * (n - 1)))


# --------------------------------------------------------------------------------------------------
# The transition
# --------------------------------------------------------------------------------------------------


def _transposed(pairs: Any) -> Any:
    """[W, N, N] ``pairs`` seen from the other side: entry [w, i, j] is ``pairs[w, j, i]``."""
    return array_namespace(pairs).permute_dims(pairs, (0, 2, 1))


def _agreed(offered: Any, standing: Any, attack_either: Any) -> Any:
    """[W, N, N] pairs that agree this turn (symmetric): i offers j (``offered``) while j offers i now, or i accepts
    j's offer standing from last turn (``standing``; WarAgent's treaty cycle: request, accept). An attack between the
    two in the same turn kills the deal."""
    agreed = offered & _transposed(offered | standing) & ~attack_either  # j offers i now or did last turn
    return agreed | _transposed(agreed)


def _pick_province(candidates: Any, pick: Any) -> tuple[Any, Any]:
    """[W, N, P] one-hot of the province each nation picks uniformly among its ``candidates`` ([W, N, P] bool),
    with one uniform ``pick`` ([W, N]) each: the candidate of rank k = floor(pick * count) (0-based, in province
    order), all False where a nation has no candidate; and [W, N] whether it picks one (has a candidate)."""
    xp = array_namespace(candidates)
    as_float = xp.astype(candidates, pick.dtype)
    # The rank of each candidate among its nation's candidates: a running count over provinces, as a product with
    # the upper-triangular ones (exact for counts of flags; a scan over a short axis is slow on a GPU).
    provinces = xp.arange(candidates.shape[2], device=device_of(candidates))
    prefix = xp.astype(provinces[:, None] <= provinces[None, :], pick.dtype)  # [P, P]: 1 where p' <= p
    rank = xp.matmul(as_float, prefix) - 1.0
    count = rank[:, :, -1] + 1.0
    chosen = xp.minimum(xp.floor(pick * count), count - 1.0)  # pick < 1; the minimum guards float rounding
    return candidates & (rank == chosen[:, :, None]), count > 0.0


def _transfer(owner: Any, chosen: Any, claiming: Any, priority: Any, gainer: Any, nations: Any) -> tuple[Any, Any]:
    """Provinces change hands: nation i's ``chosen`` province ([W, N, P] one-hot, none where ``claiming`` [W, N] is
    False) passes to ``gainer[w, i]`` ([W, N]). Where two nations' choices name one province, the higher ``priority``
    ([W, N]) stands (the tie of simultaneous claims broken by a draw, never by index). Returns the new ``owner``
    [W, P] and [W, N] whose transfer stood."""
    xp = array_namespace(owner)
    claimed = xp.argmax(xp.astype(chosen, xp.int8), axis=2)  # [W, N] the province (any, where none is chosen)
    # rival[w, i, j]: j claims the province i claims. j's claim beats i's if its priority is higher (equal draws,
    # were they ever drawn, rank by index), so exactly one claim on a province stands.
    rival = claiming[:, None, :] & (claimed[:, None, :] == claimed[:, :, None])
    p_i, p_j = priority[:, :, None], priority[:, None, :]
    beats = (p_j > p_i) | ((p_j == p_i) & (nations[None, :] > nations[:, None]))
    stood = claiming & ~xp.any(rival & beats, axis=2)
    taken = chosen & stood[:, :, None]
    # Each province's gainer, where a claim on it stood (at most one does): a sum by nation over the one-hot, as a
    # matmul (exact for nation indices).
    float_dtype = priority.dtype
    gained = xp.matmul(xp.astype(gainer, float_dtype)[:, None, :], xp.astype(taken, float_dtype))[:, 0, :]
    new_owner = xp.astype(gained, owner.dtype)
    return xp.where(xp.any(taken, axis=1), new_owner, owner), stood


def _province_transfers(
    owner: Any,
    touch_land: Any,
    touch_sea: Any,
    land_border: Any,
    act: Any,
    target: Any,
    capturing: Any,
    draws: TurnDraws,
    worlds: Any,
    nations: Any,
) -> tuple[Any, Any, Any]:
    """Provinces change hands, all at once, on the borders of the start of the turn: a conceding nation gives a
    province touching the demander (its target), intact; a successful attacker (``capturing``) takes one of its
    target's provinces that borders it, over land where the two share a land border, else across sea. Where a
    concession and a capture name one province, the concession stands (diplomacy resolves first); between captures
    the higher priority draw. ``touch_land``, ``touch_sea`` and ``land_border`` are the :class:`Territory` fields of
    these worlds; ``worlds``: the rows of the draws these worlds use (None: all). Returns the new owners
    [W, P], the provinces taken by force [W, P] and the attackers whose capture stood [W, N]."""
    xp = array_namespace(owner)
    float_dtype = draws.province_pick.dtype
    pick, priority = draws.province_pick, draws.claim_priority
    if worlds is not None:
        pick, priority = pick[worlds], priority[worlds]
    conceding = act == CONCEDE
    touch_any = touch_land | touch_sea
    holdings = owner[:, None, :] == nations[:, None]  # [W, N, P] the provinces each nation holds
    reach = xp.where(toward_target(land_border, target)[:, :, None], touch_land, touch_any)
    candidates = reach & take_rows(holdings, target) & capturing[:, :, None]  # the target's provinces
    # The provinces touching each nation's target (the demander, for a conceding nation).
    target_touch = take_rows(touch_any, target)
    givers = target_touch & holdings  # the giver's own provinces
    candidates = xp.where(conceding[:, :, None], givers, candidates)
    chosen, claiming = _pick_province(candidates, pick)
    priority = priority + xp.astype(conceding, float_dtype)
    new_owner, stood = _transfer(owner, chosen, claiming, priority, xp.where(conceding, target, nations), nations)
    took = stood & capturing
    return new_owner, xp.any(chosen & took[:, :, None], axis=1), took


def _some_worlds(xp: Any, flags: Any) -> np.ndarray | None:
    """The worlds where any of ``flags`` ([W, ...]) is set, on numpy when that is not all of them (a section then
    runs on those rows alone; none: it is skipped); None (every world) on other backends or when all are set."""
    if not is_numpy(xp):
        return None
    worlds = flags.reshape(flags.shape[0], -1).any(axis=1).nonzero()[0]
    return None if worlds.size == flags.shape[0] else worlds


def _territory_with_rows(land: Territory, worlds: np.ndarray, rows: Territory) -> Territory:
    """numpy: ``land`` with the worlds at ``worlds`` replaced by ``rows`` (their map links are unchanged)."""
    return Territory(land.links, *(put_rows(a, worlds, b) for a, b in zip(land[1:], rows[1:], strict=True)))


def _acts_taken(xp: Any, act: Any) -> list[bool]:
    """Which acts ([W, N] act of each nation) someone took in some world. On numpy this lets a section whose act
    nobody took be skipped (the skip is exact: the section would change nothing); every other backend runs every
    section (no device sync)."""
    if not is_numpy(xp):
        return [True] * N_ACTS
    return (np.bincount(act.reshape(-1), minlength=N_ACTS) > 0).tolist()


def _anywhere(xp: Any, flags: Any) -> bool:
    """Whether any flag is set, on numpy; always True elsewhere (see :func:`_acts_taken`)."""
    return not is_numpy(xp) or bool(xp.any(flags))


def transition(
    world: World,
    actions: Any,
    draws: TurnDraws,
    config: EnvConfig,
    tables: RuleTables | None = None,
) -> tuple[World, Events]:
    """Advance every world by one year. ``actions`` is ``[W, N]`` flat action indices (any value of a dead nation is
    ignored); ``draws`` are the turn's random draws (:func:`realism_env.draws.draw_turn`). Returns the new world and
    the turn's events."""
    new_world, events, _ = advance(world, actions, draws, config, tables)
    return new_world, events


def advance(
    world: World,
    actions: Any,
    draws: TurnDraws,
    config: EnvConfig,
    tables: RuleTables | None = None,
    land: Territory | None = None,
    validity: Any = None,
) -> tuple[World, Events, Territory]:
    """:func:`transition`, given the world's :func:`territory` and :func:`act_target_validity` when the caller has
    them, also returning the new world's territory, so that a step derives each world's territory once."""
    xp = array_namespace(world.owner)
    tables = tables_for(world, config) if tables is None else tables
    land = territory(world, tables) if land is None else land
    n_worlds, n = world.n_worlds, world.n_nations
    float_dtype = world.wealth.dtype
    nations = tables.nations
    was_alive = world.alive

    # 1. Validation.
    validity = act_target_validity(world, land, tables) if validity is None else validity
    actions = xp.astype(actions, xp.int64)
    flat_actions = xp.reshape(actions, (-1,))
    row = xp.reshape(actions + tables.action_offset, (-1,))  # nation i's action a at i * A + a
    # Where each chosen action's validity sits in the worlds' validity, flattened.
    per_world = validity.shape[1] * n * n
    world_start = xp.arange(0, n_worlds * per_world, per_world, dtype=xp.int64, device=device_of(actions))[:, None]
    cell = xp.reshape(xp.take(tables.mask_gather, row), (n_worlds, n)) + world_start
    valid = xp.reshape(xp.take(xp.reshape(validity, (-1,)), xp.reshape(cell, (-1,))), (n_worlds, n)) & was_alive
    # act * n + absolute target of each chosen action; an invalid one (and any action of the dead) is WAIT to slot 0.
    chosen_code = xp.reshape(xp.take(tables.code_of, row), (n_worlds, n))
    level = xp.where(was_alive, xp.reshape(xp.take(tables.level_of, flat_actions), (n_worlds, n)), world.arms_level)
    code = xp.where(valid, chosen_code, tables.wait_code)
    act, target = code // n, code % n
    flat_code = xp.reshape(code, (-1,))

    def by_act(k: int) -> Any:
        """[W, N, N] whether nation i took act ``k`` toward nation j. A gather of rows for each act, so that each is
        one contiguous array: on numpy an elementwise operation on a strided slice of a [W, N, K, N] one-hot of all
        acts took 20 to 30 times as long as on a contiguous [W, N, N] array (its inner loops are N long)."""
        return xp.reshape(xp.take(tables.act_pairs[k, ...], flat_code, axis=0), (n_worlds, n, n))

    taken = _acts_taken(xp, act)
    device = device_of(world.owner)
    no_pairs = xp.zeros((n_worlds, n, n), dtype=xp.bool, device=device)

    # 2. Diplomacy. Nothing is enforced: any nation may leave an alliance at any time (anarchy, Waltz 1979).
    allied, alliance_left = world.allied, no_pairs
    if taken[LEAVE]:
        left = by_act(LEAVE)
        allied = allied & ~(left | _transposed(left))
        alliance_left = left & world.allied
    attack = by_act(ATTACK)
    attack_either = attack | _transposed(attack)
    # An alliance forms when both sides want it (allies are never at war with each other).
    formed, proposal = no_pairs, no_pairs
    if taken[ALLY]:
        offered = by_act(ALLY)
        formed = _agreed(offered, world.alliance_proposal, attack_either)
        allied = allied | formed
        proposal = offered & ~formed
    # A war ends when both sides offer peace.
    at_war, peace, peace_offer = world.at_war, no_pairs, no_pairs
    if taken[PEACE]:
        offered = by_act(PEACE)
        peace = _agreed(offered, world.peace_offer, attack_either)
        at_war = at_war & ~peace
        peace_offer = offered & ~peace

    # Concession under blackmail (Axelrod 1995's tribute model: pay rather than fight): the conceding nation will
    # hand the demander (its target) a province (resolved with the captures, below); the demand is met.
    concession = by_act(CONCEDE)  # i concedes to j
    demand = world.demand & ~_transposed(concession)
    threats, threats_made = by_act(THREATEN), world.threats_made
    if taken[THREATEN]:
        demand = demand | threats
        threats_made = threats_made + xp.astype(act == THREATEN, xp.int64)  # one act, so one threat, a turn

    # 3. War. An attack on a nation one is not at war with declares war (wars are symmetric).
    declared = attack & ~at_war
    at_war = at_war | attack_either
    threats_enforced, enforced, bluff = world.threats_enforced, no_pairs, no_pairs
    demand_age = xp.zeros((n_worlds, n, n), dtype=xp.int64, device=device)
    if taken[THREATEN] or _anywhere(xp, demand):  # with no demand standing there is nothing to enforce or call
        # Carrying out a refused threat makes later threats credible (Schelling 1966; Mearsheimer's blackmail).
        enforced = attack & demand
        demand = demand & ~attack
        threats_enforced = threats_enforced + xp.sum(xp.astype(enforced, xp.int64), axis=2)
        # A refused demand lapses at its deadline: the threatener's bluff is called.
        demand_age = zero_unless(~threats, world.demand_age) + 1  # the age this turn (a new threat's is 1)
        bluff = demand & (demand_age > config.demand_deadline)
        demand = demand & ~bluff

    # 4. Combat. A nation splits its forces evenly across its fronts.
    fighting = at_war  # the fronts of this turn, before eliminations end any war
    fronts = xp.sum(xp.astype(at_war, float_dtype), axis=2)
    per_front = world.military / xp.maximum(fronts, 1.0)
    committed = zero_unless(at_war, per_front[:, :, None])  # i's force against j
    enemy = xp.permute_dims(committed, (0, 2, 1))
    # Attrition (Lanchester's square law, aimed fire): losses proportional to the force the enemy commits.
    losses = xp.minimum(committed, config.attrition * enemy)
    wealth, owner = world.wealth, world.owner
    province_taken = xp.zeros((n_worlds, n, n), dtype=xp.int64, device=device)
    destroyed_on_capture = xp.zeros((n_worlds, n), dtype=float_dtype, device=device)  # the losers' wealth
    territory_changed = taken[CONCEDE] or taken[ATTACK]
    if territory_changed:
        # Capture odds rise with the force ratio (Cederman 1997 logistic: P = 1 / (1 + (ratio/rho)^-c)); an attack
        # across sea alone is weakened (Mearsheimer 2001: the stopping power of water). A nation attacks one target,
        # so the odds are [W, N], each attacker's against its target: both sides' forces on that front are their
        # per_front (the attack put them at war).
        attacker_force = xp.where(toward_target(land.land_border, target), per_front, config.sea_penalty * per_front)
        defender_force = take_rows(per_front, target)  # the target's force on each of its fronts
        ratio = (attacker_force + EPS) / (config.offense_defense_balance * (defender_force + EPS))
        ratio = xp.maximum(ratio, tables.smallest_force_ratio)  # no overflow below (the odds are 0 there anyway)
        capture_odds = xp.where(act == ATTACK, 1.0 / (1.0 + ratio**-config.capture_steepness), 0.0)
        capturing = draws.capture_roll < capture_odds
        worlds = _some_worlds(xp, capturing | (act == CONCEDE))
        territory_changed = worlds is None or worlds.size > 0
    if territory_changed:
        if worlds is None:
            owner, captured, took = _province_transfers(
                owner, land.touch_land, land.touch_sea, land.land_border, act, target, capturing, draws, None, nations
            )
        else:  # on numpy only the worlds where a province changes hands are resolved (exact)
            new_owner, captured_rows, took_rows = _province_transfers(
                owner[worlds], land.touch_land[worlds], land.touch_sea[worlds], land.land_border[worlds], act[worlds],
                target[worlds], capturing[worlds], draws, worlds, nations,
            )  # fmt: skip
            owner = put_rows(owner, worlds, new_owner)
            captured = put_rows(np.zeros(owner.shape, dtype=bool), worlds, captured_rows)
            took = put_rows(np.zeros(capturing.shape, dtype=bool), worlds, took_rows)
        province_taken = xp.astype(attack & took[:, :, None], xp.int64)  # one province per front and turn
        # The conqueror keeps conquest_payoff of a province's wealth; the rest is destroyed, a loss of the defender.
        destroyed = zero_unless(captured, wealth * (1.0 - config.conquest_payoff))
        wealth = wealth - destroyed
        destroyed_on_capture = sum_by_nation(destroyed, land.owned)

    # 5. Eliminations: a nation left with no province. Relations only ever join nations alive at the start of the
    # turn, so trimming them to live pairs ends the wars, alliances and demands of the eliminated.
    after_land = land
    if territory_changed:
        worlds = _some_worlds(xp, owner != world.owner)
        if worlds is None:
            after_land = territory_of(owner, wealth, land.links, n, tables)
        elif worlds.size:  # on numpy rebuilt only where a province changed hands
            changed = territory_of(owner[worlds], wealth[worlds], land.links[worlds], n, tables)
            after_land = _territory_with_rows(land, worlds, changed)
    eliminated = was_alive & (after_land.held == 0.0)
    alive = was_alive & ~eliminated
    if territory_changed and _anywhere(xp, eliminated):  # on numpy skipped when no one is gone (exact)
        pair_alive = alive[:, :, None] & alive[:, None, :]
        at_war = at_war & pair_alive
        allied = allied & pair_alive
        proposal = proposal & pair_alive
        peace_offer = peace_offer & pair_alive
        demand = demand & pair_alive
    alliance_formed = formed & allied
    proposal = proposal & ~at_war
    peace_offer = peace_offer & at_war
    demand = demand & ~at_war
    demand_age = zero_unless(demand, demand_age)
    war_years = zero_unless(at_war, world.war_years + 1)
    alliance_years = zero_unless(allied, world.alliance_years + 1)

    # 6. Economy. Guns cost butter: what goes to arms, aid and upkeep is not invested (Waltz's internal balancing;
    # Welfare Diplomacy's units-versus-welfare trade-off).
    inc = land.income
    arms_share = xp.reshape(xp.take(tables.arms_shares, xp.reshape(level, (-1,))), (n_worlds, n))
    upkeep = config.upkeep * world.military / xp.maximum(inc, EPS)
    lost = xp.sum(losses, axis=2)
    # A dead nation has no income: its arms share buys nothing.
    military = (1.0 - config.depreciation) * (world.military - lost) + arms_share * inc
    invested = 1.0 - arms_share - upkeep
    aid = xp.zeros((n_worlds, n, n), dtype=float_dtype, device=device)
    if taken[SUPPORT]:  # aid to the target: bait-and-bleed and bloodletting (Mearsheimer 2001)
        aid = zero_unless(by_act(SUPPORT), (config.aid_share * inc)[:, :, None])
        military = military + xp.sum(aid, axis=1)
        invested = invested - config.aid_share * xp.astype(act == SUPPORT, float_dtype)
    military = xp.where(alive, xp.maximum(military, 0.0), 0.0)
    # Each share of income not invested forgoes |g| of the year's growth g, the same cost whatever g's sign: a
    # declining economy (g < 0) shrinks by |g| at zero arms spending and faster the more it arms. That is
    # 1 + g - |g| (1 - invested): g * invested where g >= 0 (v1's arithmetic, to the last bit), g * (2 - invested)
    # where g < 0.
    invested = xp.maximum(invested, -1.0)
    g = world.growth_rates
    growth = 1.0 + g * xp.where(g < 0.0, 2.0 - invested, invested)
    # War devastates the economy of every nation that fights, a flat share per war and year (after Cusack & Stoll
    # 1990's war costs, not their formula, whose cost peaks for even matches); the wars of the eliminated ended with
    # them.
    devastation = xp.minimum(config.war_devastation * xp.sum(xp.astype(at_war, float_dtype), axis=2), 1.0)
    factor_by_nation = xp.maximum(growth * (1.0 - devastation), 0.0)
    new_wealth = wealth * per_province(factor_by_nation, owner)
    # Devastation falls on the holder after the turn; wealth destroyed on capture belonged to the loser.
    destroyed = after_land.income * devastation + destroyed_on_capture

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
        invalid_action=was_alive & ~valid,
    )
    new_land = after_land._replace(income=sum_by_nation(new_wealth, after_land.owned))
    return new_world, events, new_land
