"""The PettingZoo env's episodes of several seeds, stepped as one batch of worlds: matched worlds for evaluation.

:class:`SeededWorlds` plays episode ``k`` exactly as :class:`realism_env.RealismEnv` plays it after
``reset(seed=seeds[k])``: the same map and world, the same draws in the same order from a generator of its own (a
``numpy.random.Generator`` seeded with ``seeds[k]``), so the same trajectory for the same actions. But every turn it
advances all the episodes' worlds with one call of :func:`realism_env.step.step_worlds`, which the env makes once per
world: an evaluation of many episodes pays the per-call cost of the rules once a turn, not once an episode and turn.

There is no auto-reset: an episode that has ended (unification, or ``max_cycles`` for all at once) keeps its world in
the batch, advanced with the others, and :attr:`SeededWorlds.running` says it is over: its later rows (rewards,
events, the world) belong to no episode and are for the caller to ignore, as the env would have stopped there.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from realism_env.backend import NumpyRandom, resolve_backend
from realism_env.batch import checked_actions
from realism_env.draws import StepDraws, TurnDraws, draw_perception, draw_step
from realism_env.maps import generate_world
from realism_env.observation import ObservationLayout, observe
from realism_env.rules import mask_of
from realism_env.step import BatchStep, Derived, derive, step_spec, step_worlds
from realism_env.world import World, stack_worlds

if TYPE_CHECKING:
    from realism_env.config import EnvConfig

__all__ = ["SeededWorlds"]


class SeededWorlds:
    """The episodes ``seeds`` of ``config``'s env, one world each, stepped together (see the module docstring).

    ``reset()`` returns ``([E, N, D] observations, [E, N, A] action masks)`` as the env's reset gives each episode's;
    ``step(actions)`` takes ``[E, N]`` flat actions (those of nations that are not alive are ignored) and returns the
    :class:`~realism_env.step.BatchStep` of every world.

    Attributes:
        world: the worlds (``[E, ...]`` arrays), episode ``k`` in row ``k``.
        running: ``[E]`` bool, the episodes that have not ended (before the last step).
    """

    def __init__(self, config: EnvConfig, seeds: Sequence[int]) -> None:
        if len(seeds) == 0:
            raise ValueError("seeds is empty; valid: one seed per episode, at least one")
        self.config = config
        self.seeds = [int(seed) for seed in seeds]
        self.spec = step_spec(config, resolve_backend("numpy"))
        self.world: World | None = None
        self.running = np.zeros(len(self.seeds), dtype=bool)
        self._random: list[NumpyRandom] = []
        self._derived: Derived | None = None

    @property
    def layout(self) -> ObservationLayout:
        """Where each named field sits in an observation vector (as the env's ``layout``)."""
        return self.spec.layout

    def reset(self) -> tuple[np.ndarray, np.ndarray]:
        """Start every episode afresh, as ``RealismEnv.reset(seed=seeds[k])`` does."""
        config = self.config
        self._random = [NumpyRandom(np.random.default_rng(seed)) for seed in self.seeds]
        # In the env's order: the world, then the perception noise of the first observations.
        worlds = [generate_world(config, random.generator) for random in self._random]
        self.world = stack_worlds(worlds)
        self._derived = derive(self.world, self.spec)
        perception = np.concatenate([draw_perception(r, 1, config.n_nations) for r in self._random])
        observations = observe(self.world, config, perception, self.spec.observation, self._derived.land)
        self.running = np.ones(len(self.seeds), dtype=bool)
        return observations, mask_of(self._derived.validity, self.spec.rules)

    def step(self, actions: np.ndarray) -> BatchStep:
        """Advance every world one turn; episodes that end now are no longer :attr:`running` afterwards."""
        if self.world is None or self._derived is None:
            raise RuntimeError("call reset() before step()")
        config = self.config
        n_actions = self.spec.rules.level_of.shape[0]
        actions = checked_actions(actions, self.spec.backend, (len(self.seeds), config.n_nations), n_actions)
        each = [draw_step(r, 1, config.n_nations, config.n_provinces) for r in self._random]
        turn = TurnDraws(*(np.concatenate(parts) for parts in zip(*(draws.turn for draws in each), strict=True)))
        draws = StepDraws(turn, np.concatenate([draws.perception for draws in each]), None)
        out, self.world, self._derived = step_worlds(self.world, self._derived, actions, draws, self.spec)
        self.running = self.running & ~out.world_reset
        return out
