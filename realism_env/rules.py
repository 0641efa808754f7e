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
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from realism_env.actions import N_ACTS, Act
from realism_env.config import EnvConfig
from realism_env.world import World

_EPS = 1e-9


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


def ownership(world: World) -> np.ndarray:
    """[W, P, N] one-hot (as float) of who holds each province."""
    return (world.owner[:, :, None] == np.arange(world.n_nations)).astype(np.float64)


def income(world: World, owned: np.ndarray | None = None) -> np.ndarray:
    """[W, N] economic output: the summed wealth of a nation's provinces."""
    owned = ownership(world) if owned is None else owned
    return np.einsum("wp,wpn->wn", world.wealth, owned)


def provinces_held(world: World, owned: np.ndarray | None = None) -> np.ndarray:
    """[W, N] number of provinces each nation holds."""
    owned = ownership(world) if owned is None else owned
    return owned.sum(axis=1)


def borders(world: World, owned: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """([W, N, N] land border, [W, N, N] sea-only link) between nations, from their provinces."""
    owned = ownership(world) if owned is None else owned
    owned_t = owned.transpose(0, 2, 1)
    land = (owned_t @ world.land_adjacency @ owned) > 0
    sea = (owned_t @ world.sea_adjacency @ owned) > 0
    eye = np.eye(world.n_nations, dtype=bool)
    land &= ~eye
    return land, sea & ~eye & ~land


def power_share(world: World, inc: np.ndarray | None = None) -> np.ndarray:
    """[W, N] share of the system's capabilities: the mean of military and economic shares
    (after the COW CINC index, a mean of capability shares)."""
    inc = income(world) if inc is None else inc
    mil_share = world.military / np.maximum(world.military.sum(axis=1, keepdims=True), _EPS)
    eco_share = inc / np.maximum(inc.sum(axis=1, keepdims=True), _EPS)
    return 0.5 * (mil_share + eco_share) * world.alive


def credibility(world: World) -> np.ndarray:
    """[W, N] share of refused threats a nation went to war over, with a uniform prior
    (Laplace's rule), so a nation with no record is half credible."""
    return (world.threats_enforced + 1) / (world.threats_made + 2)


def relative_order(n_nations: int) -> np.ndarray:
    """[N, N-1] absolute index of the nation in each relative slot: slot k of i is (i + k + 1) % N."""
    return (np.arange(n_nations)[:, None] + np.arange(1, n_nations)[None, :]) % n_nations


# --------------------------------------------------------------------------------------------------
# Action mask
# --------------------------------------------------------------------------------------------------


def act_target_validity(world: World, owned: np.ndarray | None = None) -> np.ndarray:
    """[W, N, K, N] whether nation i may take act k toward nation j (absolute j)."""
    owned = ownership(world) if owned is None else owned
    land, sea = borders(world, owned)
    n = world.n_nations
    alive = world.alive
    both = alive[:, :, None] & alive[:, None, :] & ~np.eye(n, dtype=bool)
    at_war, allied = world.at_war, world.allied
    neighbour = land | sea
    held = provinces_held(world, owned)
    valid = np.zeros((world.n_worlds, n, N_ACTS, n), dtype=bool)
    valid[:, :, Act.ATTACK] = both & ~allied & (neighbour | at_war)
    valid[:, :, Act.ALLY] = both & ~allied & ~at_war
    valid[:, :, Act.LEAVE_ALLIANCE] = allied
    valid[:, :, Act.THREATEN] = both & ~allied & ~at_war & neighbour & ~world.demand
    # Conceding gives a province bordering the demander; a nation never concedes its last province.
    valid[:, :, Act.CONCEDE] = both & world.demand.transpose(0, 2, 1) & neighbour & (held[:, :, None] > 1)
    valid[:, :, Act.SUPPORT] = both & ~at_war
    valid[:, :, Act.PEACE] = at_war
    return valid


def action_mask(world: World, config: EnvConfig, owned: np.ndarray | None = None) -> np.ndarray:
    """[W, N, L * K * (N-1)] int8 mask of valid flat actions. Every arms level is always valid; WAIT is
    valid with target slot 0 only, so the mask is exact and never all zero."""
    n = world.n_nations
    valid = act_target_validity(world, owned)
    slots = np.take_along_axis(valid, relative_order(n)[None, :, None, :], axis=3)  # [W, N, K, N-1]
    slots[:, :, Act.WAIT, :] = False
    slots[:, :, Act.WAIT, 0] = True
    levels = len(config.arms_shares)
    mask = np.broadcast_to(slots[:, :, None], (world.n_worlds, n, levels, N_ACTS, n - 1))
    return mask.reshape(world.n_worlds, n, -1).astype(np.int8)


# --------------------------------------------------------------------------------------------------
# The transition
# --------------------------------------------------------------------------------------------------


def _pick(candidates: np.ndarray, priority: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of the candidate with the highest random priority along the last axis, and whether any."""
    score = np.where(candidates, priority, -1.0)
    return score.argmax(axis=-1), candidates.any(axis=-1)


def _transfer(owner: np.ndarray, chosen: np.ndarray, happens: np.ndarray, gainer_priority: np.ndarray) -> np.ndarray:
    """New owners after transfers. ``chosen[w, i, j]`` is the province passing from j to i when
    ``happens[w, i, j]``; if several nations win the same province, the higher random priority takes it."""
    w, n, _ = happens.shape
    p = owner.shape[1]
    claim = (chosen[..., None] == np.arange(p)) & happens[..., None]  # [W, N, N, P]
    claim_priority = np.where(claim, gainer_priority[..., None], -1.0).max(axis=2)  # [W, N(gainer), P]
    claimed = claim_priority.max(axis=1) >= 0
    winner = claim_priority.argmax(axis=1)
    return np.where(claimed, winner, owner)


def transition(
    world: World,
    actions: np.ndarray,
    config: EnvConfig,
    rng: np.random.Generator,
    mask: np.ndarray | None = None,
) -> tuple[World, Events]:
    """Advance every world by one year. ``actions`` is ``[W, N]`` flat action indices (any value of a
    dead nation is ignored). Returns the new world and the turn's events."""
    n_worlds, n, n_provinces = world.n_worlds, world.n_nations, world.n_provinces
    nations = np.arange(n)
    owned = ownership(world)
    mask = action_mask(world, config, owned) if mask is None else mask

    # One fixed set of draws per turn, whatever happens, so the random stream never depends on events.
    capture_roll = rng.random((n_worlds, n, n))
    capture_pick = rng.random((n_worlds, n, n, n_provinces))
    concession_pick = rng.random((n_worlds, n, n, n_provinces))
    claim_priority = rng.random((n_worlds, n, n))

    # 1. Validation.
    actions = np.asarray(actions, dtype=np.int64)
    valid = np.take_along_axis(mask, actions[..., None], axis=2)[..., 0].astype(bool) & world.alive
    n_targets = n - 1
    level = actions // (N_ACTS * n_targets)
    act = np.where(valid, actions // n_targets % N_ACTS, Act.WAIT)
    target = np.where(valid, (nations + actions % n_targets + 1) % n, (nations + 1) % n)
    level = np.where(world.alive, level, world.arms_level)
    aims = target[:, :, None] == nations  # [W, N, N]: i's act is aimed at j

    def acts(kind: Act) -> np.ndarray:
        return (act == kind)[:, :, None] & aims

    land, sea = borders(world, owned)

    # 2. Diplomacy. Nothing is enforced: any nation may leave an alliance at any time (anarchy, Waltz 1979).
    left = acts(Act.LEAVE_ALLIANCE)
    allied = world.allied & ~(left | left.transpose(0, 2, 1))
    # An alliance forms when both sides want it, now or by accepting last turn's standing proposal
    # (WarAgent's treaty cycle: request, accept).
    wants = acts(Act.ALLY)
    formed = wants & (wants.transpose(0, 2, 1) | world.alliance_proposal.transpose(0, 2, 1))
    formed |= formed.transpose(0, 2, 1)
    allied |= formed
    proposal = wants & ~formed
    alliance_years = np.where(allied, world.alliance_years + formed, 0)

    offers = acts(Act.PEACE)
    peace = offers & (offers.transpose(0, 2, 1) | world.peace_offer.transpose(0, 2, 1))
    peace |= peace.transpose(0, 2, 1)
    at_war = world.at_war & ~peace
    peace_offer = offers & ~peace

    # Concession under blackmail (Axelrod 1995's tribute model: pay rather than fight): the conceding
    # nation hands the demander one border province, intact.
    concession = acts(Act.CONCEDE)  # i concedes to j
    adj_any = world.land_adjacency | world.sea_adjacency
    touches = (adj_any.astype(np.float64) @ owned) > 0  # [W, P, N]: province p touches nation j
    # candidates[w, i, j, p]: p is held by j and touches i (used for "i gains from j").
    gain_from = owned.transpose(0, 2, 1)[:, None, :, :].astype(bool) & touches.transpose(0, 2, 1)[:, :, None, :]
    conceded_province, can = _pick(gain_from.transpose(0, 2, 1, 3), concession_pick)  # j gains from i
    conceded = concession.transpose(0, 2, 1) & can  # [w, j(gainer), i(giver)]
    owner = _transfer(world.owner, conceded_province, conceded, claim_priority)
    demand = world.demand & ~concession.transpose(0, 2, 1)
    demand_age = world.demand_age

    threats = acts(Act.THREATEN)
    demand = demand | threats
    demand_age = np.where(threats, 0, demand_age)
    threats_made = world.threats_made + threats.sum(axis=2)

    # 3. War. An attack on a nation one is not at war with declares war.
    attack = acts(Act.ATTACK)
    declared = attack & ~at_war
    at_war = at_war | declared | declared.transpose(0, 2, 1)
    # Carrying out a refused threat makes later threats credible (Schelling 1966; Mearsheimer's blackmail).
    enforced = attack & demand
    demand &= ~attack
    demand_age = np.where(demand, demand_age + 1, 0)
    bluff = demand & (demand_age > config.demand_deadline)
    demand &= ~bluff
    threats_enforced = world.threats_enforced + enforced.sum(axis=2)

    # 4. Combat. A nation splits its forces evenly across its fronts.
    fighting = at_war.copy()
    fronts = at_war.sum(axis=2)
    committed = world.military[:, :, None] * at_war / np.maximum(fronts, 1)[:, :, None]  # i's force vs j
    enemy = committed.transpose(0, 2, 1)
    # Attrition (Lanchester's linear law): losses proportional to the force the enemy commits.
    losses = np.minimum(committed, config.attrition * enemy)
    # Capture odds rise with the force ratio (Cederman 1997 logistic: P = 1 / (1 + (ratio/rho)^-c));
    # an attack across sea alone is weakened (Mearsheimer: the stopping power of water).
    owned_now = (owner[:, :, None] == nations).astype(np.float64)
    land_now, sea_now = borders(world.replace(owner=owner), owned_now)
    projection = np.where(land_now, 1.0, config.sea_penalty)
    ratio = (committed * projection + _EPS) / (config.offense_defense_balance * (enemy + _EPS))
    capture_odds = 1.0 / (1.0 + ratio ** -config.capture_steepness)
    touches_now = (adj_any.astype(np.float64) @ owned_now) > 0
    land_touch = (world.land_adjacency.astype(np.float64) @ owned_now) > 0
    # A province is taken from the front: over land where the nations share a land border, else by sea.
    front_touch = np.where(land_now[..., None], land_touch.transpose(0, 2, 1)[:, :, None, :],
                           touches_now.transpose(0, 2, 1)[:, :, None, :])
    candidates = owned_now.transpose(0, 2, 1)[:, None, :, :].astype(bool) & front_touch
    taken_province, reachable = _pick(candidates, capture_pick)
    captured = attack & at_war & reachable & (capture_roll < capture_odds)
    new_owner = _transfer(owner, taken_province, captured, claim_priority)
    moved = new_owner != owner
    old_owner_oh = owned_now.astype(bool)
    province_taken = np.einsum(
        "wpi,wpj->wij", (new_owner[:, :, None] == nations) & moved[:, :, None], old_owner_oh & moved[:, :, None]
    ).astype(np.int64)
    # The conqueror keeps conquest_payoff of a province's wealth; the rest is destroyed.
    wealth = world.wealth.copy()
    destroyed_on_capture = np.where(moved, wealth * (1.0 - config.conquest_payoff), 0.0)
    wealth = wealth - destroyed_on_capture
    owner = new_owner

    # 5. Eliminations.
    owned = (owner[:, :, None] == nations).astype(np.float64)
    held = owned.sum(axis=1)
    eliminated = world.alive & (held == 0)
    alive = world.alive & ~eliminated
    pair_alive = alive[:, :, None] & alive[:, None, :]
    at_war &= pair_alive
    allied &= pair_alive
    proposal &= pair_alive
    peace_offer &= pair_alive & at_war
    demand &= pair_alive & ~at_war
    war_years = np.where(at_war, world.war_years + 1, 0)
    alliance_years = np.where(allied, alliance_years + 1, 0)

    # 6. Economy. Guns cost butter: what goes to arms, aid and upkeep is not invested (Waltz's internal
    # balancing; Welfare Diplomacy's units-versus-welfare trade-off).
    inc = np.einsum("wp,wpn->wn", world.wealth, ownership(world))
    arms_share = np.asarray(config.arms_shares)[level] * world.alive
    support = acts(Act.SUPPORT)
    aid = support * (config.aid_share * inc)[:, :, None]
    aid_share_spent = support.any(axis=2) * config.aid_share
    upkeep = config.upkeep * world.military / np.maximum(inc, _EPS)
    invested = np.clip(1.0 - arms_share - aid_share_spent - upkeep, -1.0, 1.0)
    lost = losses.sum(axis=2)
    military = (1.0 - config.depreciation) * (world.military - lost) + arms_share * inc + aid.sum(axis=1)
    military = np.where(alive, np.maximum(military, 0.0), 0.0)
    growth = 1.0 + world.growth_rates * invested
    # War devastates the economy of every nation that fights (Cusack & Stoll 1990: war costs).
    devastation = np.clip(config.war_devastation * at_war.sum(axis=2), 0.0, 1.0)
    factor_by_nation = np.clip(growth * (1.0 - devastation), 0.0, None)
    factor = np.take_along_axis(factor_by_nation, owner, axis=1)
    devastated = wealth * np.take_along_axis(devastation, owner, axis=1)
    new_wealth = wealth * factor
    destroyed = np.einsum("wp,wpn->wn", destroyed_on_capture, owned_now) + np.einsum(
        "wp,wpn->wn", devastated, owned
    )

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
        demand_age=np.where(demand, demand_age, 0),
        threats_made=threats_made,
        threats_enforced=threats_enforced,
        last_act=np.where(world.alive, act, Act.WAIT),
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
        alliance_formed=formed,
        alliance_left=left & world.allied,
        demand_made=threats,
        concession=concession & conceded.transpose(0, 2, 1),
        threat_enforced=enforced,
        bluff_called=bluff,
        aid=aid,
        peace=peace,
        eliminated=eliminated,
        invalid_action=~valid & world.alive,
    )
    return new_world, events


def is_over(world: World) -> np.ndarray:
    """[W] whether a world has ended by unification (one nation holds every province)."""
    return world.alive.sum(axis=1) <= 1


def event_records(events: Events, world_index: int, names: tuple[str, ...]) -> list[dict[str, object]]:
    """The events of one world as plain records ``{"kind", "actor", "target", "value"}`` (for ``infos``,
    logs and replays). Symmetric events are listed once per pair."""
    records: list[dict[str, object]] = []
    symmetric = {"battle", "alliance_formed", "peace"}
    for kind in EVENT_KINDS:
        array = getattr(events, kind)[world_index]
        if kind == "forces_lost":  # reported with each battle as (actor's losses, target's losses)
            continue
        if kind == "battle":
            lost = events.forces_lost[world_index]
            for i, j in np.argwhere(np.triu(array)):
                records.append({"kind": kind, "actor": names[i], "target": names[j],
                                "value": (float(lost[i, j]), float(lost[j, i]))})
            continue
        if array.ndim == 1:
            for i in np.flatnonzero(array):
                records.append({"kind": kind, "actor": names[i], "target": None, "value": float(array[i])})
            continue
        pairs = np.argwhere(np.triu(array) if kind in symmetric else array)
        for i, j in pairs:
            records.append({"kind": kind, "actor": names[i], "target": names[j], "value": float(array[i, j])})
    return records
