"""One step of many worlds: the transition, rewards, episode ends, resets and observations, in one function.

:func:`step_worlds` is the step of every front end: the PettingZoo env steps one world with it (``W = 1``, no
auto-reset), :class:`realism_env.batch.WorldBatch` thousands (ended worlds replaced in place from a map bank). It is
array code of the backend of its inputs, with the step's random draws passed in (:class:`realism_env.draws.StepDraws`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from realism_env.backend import Backend, is_numpy, put_rows
from realism_env.doctrines import (
    Doctrine,
    DoctrineTerms,
    doctrine_groups,
    doctrine_names,
    doctrine_onehot,
    outcome,
    resolve_doctrines,
)
from realism_env.doctrines import rewards as doctrine_rewards
from realism_env.draws import ResetDraws, StepDraws
from realism_env.events import Events
from realism_env.maps import MapBank, episode_start, initial_worlds, maps_of
from realism_env.observation import ObservationLayout, ObservationTables, observation_tables, observe
from realism_env.rules import (
    ATTACK,
    RuleTables,
    Territory,
    act_target_validity,
    advance,
    is_over,
    mask_of,
    rule_tables,
    territory,
)
from realism_env.world import EPISODE_FIELDS, World, put_worlds, where_worlds

if TYPE_CHECKING:
    from realism_env.config import EnvConfig


class BatchStep(NamedTuple):
    """What one batched step returns: ``[W, N, ...]`` arrays of the backend unless said otherwise."""

    observations: Any  #: [W, N, D] float32, of the world after the step (a fresh world where one ended)
    action_mask: Any  #: [W, N, A] int8, for the observations above
    rewards: Any  #: [W, N] float, zero for nations that did not act this step
    terminated: Any  #: [W, N] bool: eliminated now, or the world ended by unification
    truncated: Any  #: [W, N] bool: the world reached max_cycles
    acting: Any  #: [W, N] bool: nations alive at the start of the step (whose actions counted)
    world_reset: Any  #: [W] bool: the world ended (and, in a WorldBatch, was replaced by a fresh one)
    final_observations: Any  #: [W, N, D] observations after the step, before any reset
    final_world: World  #: the worlds after the step, before any reset (for metrics of ended episodes)
    events: Events  #: the step's events (of the worlds before any reset)
    reward_terms: dict[str, dict[str, Any]]  #: {doctrine: {term: [W, N]}} (each for its nations only)


@dataclass(frozen=True)
class StepSpec:
    """Everything constant about stepping one config on one backend, resolved once (:func:`step_spec`)."""

    config: EnvConfig
    backend: Backend
    doctrines: tuple[Doctrine, ...]  #: each nation's doctrine
    doctrine_groups: tuple  #: each distinct doctrine with the [N] bool mask of its nations (backend arrays)
    rules: RuleTables
    observation: ObservationTables
    maps: MapBank | None  #: where fresh worlds come from when ended worlds are replaced; None: no auto-reset
    #: where each named field sits in an observation vector, as the tables above build it (with the doctrine one-hot
    #: over the doctrines registered then, when revealed: a doctrine registered later widens neither)
    layout: ObservationLayout

    def doctrine_terms(self, reward_terms: dict[str, dict[str, Any]]) -> list[DoctrineTerms]:
        """The terms of a step as :class:`~realism_env.doctrines.DoctrineTerms` (doctrine, members, terms)."""
        return [DoctrineTerms(d, members, reward_terms[d.name]) for d, members in self.doctrine_groups]


def step_spec(config: EnvConfig, backend: Backend, maps: MapBank | None = None) -> StepSpec:
    """Resolve doctrines (a ``ValueError`` names an unknown one) and build the constant tables on the backend."""
    xp, device, float_dtype = backend.xp, backend.device, backend.float_dtype
    doctrines = resolve_doctrines(config.doctrine_per_nation)
    names = doctrine_names()  # the one-hot's doctrines, fixed here for the tables and the layout alike
    return StepSpec(
        config=config,
        backend=backend,
        doctrines=doctrines,
        doctrine_groups=doctrine_groups(doctrines, xp, device),
        rules=rule_tables(config, xp, device, float_dtype),
        observation=observation_tables(
            config, doctrine_onehot(config.doctrine_per_nation, names), xp, device, float_dtype
        ),
        maps=maps,
        layout=ObservationLayout(config.n_nations, names if config.reveal_doctrines else ()),
    )


class Derived(NamedTuple):
    """What a step derives from a world and hands to the next step: its territory and act validity."""

    land: Territory  #: :func:`~realism_env.rules.territory`
    validity: Any  #: [W, K, N, N] :func:`~realism_env.rules.act_target_validity`
    map_index: Any = None  #: [W] int, each world's map in ``spec.maps`` (None without a map bank)


def derive(world: World, spec: StepSpec, map_index: Any = None) -> Derived:
    """The territory and act validity of ``world`` (computed by the step for the worlds it returns); ``map_index``:
    each world's map in ``spec.maps``, for worlds made from the bank."""
    links = None if map_index is None else spec.backend.xp.take(spec.maps.links, map_index, axis=0)
    land = territory(world, spec.rules, links)
    return Derived(land, act_target_validity(world, land, spec.rules), map_index)


def step_worlds(
    world: World,
    derived: Derived,
    actions: Any,
    draws: StepDraws,
    spec: StepSpec,
) -> tuple[BatchStep, World, Derived]:
    """Advance every world one turn with ``[W, N]`` flat ``actions`` (ignored for dead nations). ``derived`` is
    :func:`derive` of ``world`` (what the previous step returned).

    Returns the step's :class:`BatchStep`, and the next world with what it derives: where ``spec.maps`` is given, a
    world that ended (unification or ``max_cycles``) is replaced by a fresh one with a masked write (reset inside the
    step, as in JaxMARL), and its last observations are kept in ``final_observations``.
    """
    xp, config = spec.backend.xp, spec.config
    if spec.maps is not None and derived.map_index is None:
        raise ValueError("with a map bank, step_worlds needs derive(world, spec, map_index): each world's map in it")
    if spec.maps is not None and draws.reset is None:  # needed only once a world ends: say so on the first step
        raise ValueError("with a map bank, step_worlds needs draws with the resets' draws: draw_step(..., n_maps=...)")
    land = derived.land
    after, events, after_land = advance(world, actions, draws.turn, config, spec.rules, land, derived.validity)
    validity = act_target_validity(after, after_land, spec.rules)
    out = outcome(world, after, events, config, land, after_land, threats=validity[:, ATTACK, ...])
    total, groups = doctrine_rewards(spec.doctrine_groups, out, config)
    acting = world.alive
    over = is_over(after)
    out_of_time = after.turn >= config.max_cycles
    terminated = acting & (~after.alive | over[:, None])
    truncated = acting & ~terminated & out_of_time[:, None]
    world_reset = over | out_of_time
    final_observations = observe(after, config, draws.perception, spec.observation, after_land)
    next_world, next_land, observations, map_index = after, after_land, final_observations, derived.map_index
    if spec.maps is not None and is_numpy(xp):
        # On numpy only the worlds that ended are rebuilt (an index write; none in most steps of a small batch).
        ended = np.flatnonzero(world_reset)
        if ended.size:
            reset = ResetDraws(*(None if draw is None else draw[ended] for draw in draws.reset))
            fresh = initial_worlds(spec.maps, reset, config, spec.rules)
            fresh_land = territory(fresh, spec.rules, spec.maps.links[reset.map_index])
            fresh_validity = act_target_validity(fresh, fresh_land, spec.rules)
            fresh_observations = observe(fresh, config, draws.perception[ended], spec.observation, fresh_land)
            next_world = put_worlds(after, ended, fresh)
            next_land = Territory(*(put_rows(a, ended, b) for a, b in zip(after_land, fresh_land, strict=True)))
            validity = put_rows(validity, ended, fresh_validity)
            observations = put_rows(final_observations, ended, fresh_observations)
            map_index = put_rows(map_index, ended, reset.map_index)
    elif spec.maps is not None:
        # Elsewhere every step builds fresh worlds for all and keeps those of the worlds that ended: fixed shapes, a
        # masked write, no host sync.
        # The maps are taken from the bank by each world's map index (a gather, not a masked write of [W, P, P]).
        fresh = after.replace(**episode_start(spec.maps, draws.reset, config, spec.rules))
        map_index = xp.where(world_reset, draws.reset.map_index, map_index)
        maps = maps_of(spec.maps, map_index, spec.backend.float_dtype)
        next_world = where_worlds(world_reset, fresh, after, EPISODE_FIELDS).replace(**maps)
        next_land = territory(next_world, spec.rules, xp.take(spec.maps.links, map_index, axis=0))
        validity = act_target_validity(next_world, next_land, spec.rules)
        observations = observe(next_world, config, draws.perception, spec.observation, next_land)
    step = BatchStep(
        observations=observations,
        action_mask=mask_of(validity, spec.rules),
        rewards=xp.where(acting, total, 0.0),
        terminated=terminated,
        truncated=truncated,
        acting=acting,
        world_reset=world_reset,
        final_observations=final_observations,
        final_world=after,
        events=events,
        reward_terms={group.doctrine.name: group.terms for group in groups},
    )
    return step, next_world, Derived(next_land, validity, map_index)
