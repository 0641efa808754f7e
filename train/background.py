"""Scripted nations among the learners of a batched trainer: a background population, as in Melting Pot.

Melting Pot (Leibo et al. 2021) evaluates learned *focal* agents among scripted *background* agents; training among
them too lets learners meet the theories' archetypes (the offensive realist that attacks the weak, the defensive
realist that balances) before they are judged against them. In a :class:`Background`, the first ``n_worlds`` worlds
of a ``WorldBatch`` hold background nations: nations ``n_focal .. N-1`` of world ``w`` are played by the scripted
policy ``names[w % len(names)]`` of :mod:`agents.policies` (through its public Policy contract), and the trainer gives
their rows weight 0 in every loss. The policies run on the host, one call per background nation and turn, so a
background costs Python time: keep its share of the worlds small.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from agents import make_policy
from agents.policies import POLICIES
from realism_env.backend import to_numpy


def parse_background(text: str) -> tuple[str, ...]:
    """Policy names from ``"name,name"`` (empty: none); ``ValueError`` names an unknown one and the valid ones."""
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    for name in names:
        if name not in POLICIES:
            raise ValueError(f"unknown background policy {name!r}; valid: {', '.join(sorted(POLICIES))}")
    return names


class Background:
    """The scripted nations of the first ``n_worlds`` worlds of ``batch`` (see the module docstring).

    Args:
        batch: the trainer's ``WorldBatch`` (its ``layout`` and ``config`` build the policies).
        names: the scripted policies, taken in turn by the background worlds.
        n_worlds: how many worlds (the first ones) hold background nations.
        n_focal: the learning nations of a background world (nations ``0 .. n_focal-1``).
        seed: the run's seed; the policies' generator is seeded with ``(seed, 1)``, a stream of its own.
    """

    def __init__(self, batch: Any, names: Sequence[str], n_worlds: int, n_focal: int, seed: int) -> None:
        n_nations = batch.config.n_nations
        if not 1 <= n_focal < n_nations:
            raise ValueError(f"n_focal={n_focal} is invalid; valid: 1..{n_nations - 1} learning nations per world")
        if not 0 <= n_worlds <= batch.n_worlds:
            raise ValueError(f"{n_worlds} background worlds is invalid; valid: 0..{batch.n_worlds}")
        self.n_worlds, self.n_focal, self.n_nations = n_worlds, n_focal, n_nations
        self.names = tuple(names) if n_worlds else ()
        self.policies = [make_policy(self.names[w % len(self.names)], batch) for w in range(n_worlds)]
        self.states = [[policy.initial_state() for _ in range(n_focal, n_nations)] for policy in self.policies]
        self.rng = np.random.default_rng((seed, 1))
        learner = np.ones((batch.n_worlds, n_nations), dtype=np.float32)
        learner[:n_worlds, n_focal:] = 0.0
        self.learner = learner.reshape(-1)  #: [W * N] 1 for a learning slot, 0 for a background one

    def act(self, actions: np.ndarray, observations: Any, masks: Any, alive: Any) -> np.ndarray:
        """``actions`` ([W, N], the learners' samples) with every live background nation's scripted action."""
        if not self.n_worlds:
            return actions
        observations, masks, alive = to_numpy(observations), to_numpy(masks), to_numpy(alive)
        actions = np.array(actions, copy=True)
        for w, policy in enumerate(self.policies):  # the background worlds and their nations, on the host
            for k, i in enumerate(range(self.n_focal, self.n_nations)):
                if alive[w, i]:
                    seen = {"observation": observations[w, i], "action_mask": masks[w, i]}
                    actions[w, i], self.states[w][k] = policy.step(seen, self.states[w][k], self.rng)
        return actions

    def reset(self, world_reset: Any) -> None:
        """Fresh memories for the background nations of the worlds that ended (``world_reset``: [W] bool). Without a
        background it reads nothing (on a GPU, reading ``world_reset`` would wait for the step)."""
        if not self.n_worlds:
            return
        ended = to_numpy(world_reset)[: self.n_worlds]
        for w in np.flatnonzero(ended):
            self.states[w] = [self.policies[w].initial_state() for _ in range(self.n_focal, self.n_nations)]
