"""Many worlds stepped at once with the same rules: the numpy batched backend.

:class:`WorldBatch` keeps ``W`` independent worlds in one :class:`~realism_env.world.World` and advances them all
with a single call of :func:`~realism_env.rules.transition`, so the cost per world falls as ``W`` grows. A world
that ends (unification or ``max_cycles``) is replaced at once by a fresh one drawn from the same generator (reset
inside the step, as in JaxMARL), and its last observations are kept in ``final_observations``.

It is what the stable-baselines3 adapter in ``train/`` uses; a torch backend can follow the same interface.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from realism_env.config import EnvConfig
from realism_env.doctrines import DOCTRINES, doctrine_groups, outcome, rewards
from realism_env.observation import ObservationLayout, observe
from realism_env.rules import Events, action_mask, is_over, transition
from realism_env.world import World, array_fields, generate_world, stack_worlds


class BatchStep(NamedTuple):
    """What one batched step returns; ``[W, N, ...]`` arrays unless said otherwise."""

    observations: np.ndarray  #: [W, N, D] float32, of the world after the step (a fresh world where one ended)
    action_mask: np.ndarray  #: [W, N, A] int8, for the observations above
    rewards: np.ndarray  #: [W, N] float, zero for nations that did not act this step
    terminated: np.ndarray  #: [W, N] bool: eliminated now, or the world ended by unification
    truncated: np.ndarray  #: [W, N] bool: the world reached max_cycles
    acting: np.ndarray  #: [W, N] bool: nations alive at the start of the step (whose actions counted)
    world_reset: np.ndarray  #: [W] bool: the world ended and was replaced by a fresh one
    final_observations: np.ndarray  #: [W, N, D] observations after the step, before any reset
    final_world: World  #: the worlds after the step, before any reset (for metrics of ended episodes)
    events: Events  #: the step's events (of the worlds before any reset)
    reward_terms: dict[str, dict[str, np.ndarray]]  #: {doctrine: {term: [W, N]}} (each for its nations only)


class WorldBatch:
    """``n_worlds`` worlds of one config, stepped together. All randomness flows from one seeded generator."""

    def __init__(self, config: EnvConfig, n_worlds: int, seed: int | None = None) -> None:
        if not isinstance(n_worlds, int) or n_worlds < 1:
            raise ValueError(f"n_worlds={n_worlds!r} is invalid; valid: an integer >= 1")
        self.config = config
        self.n_worlds = n_worlds
        self.n_nations = config.n_nations
        self.layout = ObservationLayout(config.n_nations, tuple(sorted(DOCTRINES)) if config.reveal_doctrines else ())
        self.doctrines = tuple(DOCTRINES[name] for name in config.doctrine_per_nation)
        self._groups = doctrine_groups(self.doctrines)
        revealed = tuple(sorted(DOCTRINES)) if config.reveal_doctrines else ()
        self._doctrine_onehot = np.array(
            [[name == d for d in revealed] for name in config.doctrine_per_nation], dtype=np.float64
        ).reshape(config.n_nations, len(revealed))
        self.rng = np.random.default_rng(seed)
        self.world: World | None = None

    @property
    def observation_size(self) -> int:
        return self.layout.size

    def reset(self, seed: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Fresh worlds; returns ([W, N, D] observations, [W, N, A] action masks)."""
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self.world = stack_worlds([generate_world(self.config, self.rng) for _ in range(self.n_worlds)])
        return self._observe(self.world)

    def _observe(self, world: World) -> tuple[np.ndarray, np.ndarray]:
        return observe(world, self.config, self.rng, self._doctrine_onehot), action_mask(world, self.config)

    def step(self, actions: np.ndarray) -> BatchStep:
        """Advance every world one turn with ``[W, N]`` flat actions (ignored for dead nations)."""
        if self.world is None:
            raise RuntimeError("call reset() before step()")
        actions = np.asarray(actions)
        expected = (self.n_worlds, self.n_nations)
        if actions.shape != expected:
            raise ValueError(f"actions have shape {actions.shape}; valid: {expected} (worlds, nations)")
        n_actions = action_mask(self.world, self.config).shape[2]
        if actions.size and (actions.min() < 0 or actions.max() >= n_actions):
            bad = actions[(actions < 0) | (actions >= n_actions)][0]
            raise ValueError(f"action {bad} is outside the action space; valid: integers in 0..{n_actions - 1}")
        before = self.world
        after, events = transition(before, actions, self.config, self.rng)
        total, groups = rewards(self._groups, outcome(before, after, events, self.config), self.config)
        acting = before.alive
        over = is_over(after)
        out_of_time = after.turn >= self.config.max_cycles
        terminated = acting & (~after.alive | over[:, None])
        truncated = acting & ~terminated & out_of_time[:, None]
        final_observations, masks = self._observe(after)
        world_reset = over | out_of_time
        observations = final_observations
        final_world = after
        if world_reset.any():
            after = self._replace_worlds(after, world_reset)
            observations, masks = self._observe(after)
        self.world = after
        terms = {group.doctrine.name: group.terms for group in groups}
        return BatchStep(
            observations=observations,
            action_mask=masks,
            rewards=np.where(acting, total, 0.0),
            terminated=terminated,
            truncated=truncated,
            acting=acting,
            world_reset=world_reset,
            final_observations=final_observations,
            final_world=final_world,
            events=events,
            reward_terms=terms,
        )

    def _replace_worlds(self, world: World, which: np.ndarray) -> World:
        """``world`` with the worlds flagged in ``which`` replaced by freshly generated ones."""
        fresh = stack_worlds([generate_world(self.config, self.rng) for _ in range(int(which.sum()))])
        index = np.flatnonzero(which)
        arrays = {}
        for name in array_fields():
            values = getattr(world, name).copy()
            values[index] = getattr(fresh, name)
            arrays[name] = values
        return World(**arrays)
