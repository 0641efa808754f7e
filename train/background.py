"""Scripted nations among the learners of a batched trainer: a background population, as in Melting Pot.

Melting Pot (Leibo et al. 2021) evaluates learned *focal* agents among scripted *background* agents; training among
them too lets learners meet the theories' archetypes (the offensive realist that attacks the weak, the defensive
realist that balances) before they are judged against them. In a :class:`Background`, the first ``n_worlds`` worlds
of a ``WorldBatch`` hold background nations: nations ``n_focal .. N-1`` of world ``w`` are played by the scripted
policy ``names[w % len(names)]`` of :mod:`agents.policies` (through its public Policy contract), and the trainer gives
their rows weight 0 in every loss. The policies run on the host: each scripted policy decides for all its live
background nations in one batched call a turn (:meth:`agents.ArrayPolicy.act`, a few microseconds a nation); a policy
that is not array code (a learned one) steps nation by nation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from agents import ArrayPolicy, make_policy, put_rows, take_rows
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
        self.rng = np.random.default_rng((seed, 1))
        # each policy's background nations as (world, nation) index arrays, with their memories
        self.groups: list[tuple[Any, np.ndarray, np.ndarray]] = []
        self.states: list[Any] = []
        for name in dict.fromkeys(self.names):
            worlds = np.array([w for w in range(n_worlds) if self.names[w % len(self.names)] == name])
            world, nation = np.meshgrid(worlds, np.arange(n_focal, n_nations), indexing="ij")
            policy = make_policy(name, batch)
            self.groups.append((policy, world.reshape(-1), nation.reshape(-1)))
            self.states.append(self._initial(policy, world.size))
        learner = np.ones((batch.n_worlds, n_nations), dtype=np.float32)
        learner[:n_worlds, n_focal:] = 0.0
        self.learner = learner.reshape(-1)  #: [W * N] 1 for a learning slot, 0 for a background one

    @staticmethod
    def _initial(policy: Any, n: int) -> Any:
        return policy.initial_states(n) if isinstance(policy, ArrayPolicy) else [policy.initial_state()] * n

    def act(self, actions: np.ndarray, observations: Any, masks: Any, alive: Any) -> np.ndarray:
        """``actions`` ([W, N], the learners' samples) with every live background nation's scripted action."""
        if not self.n_worlds:
            return actions
        observations, masks, alive = to_numpy(observations), to_numpy(masks), to_numpy(alive)
        actions = np.array(actions, copy=True)
        for g, (policy, world, nation) in enumerate(self.groups):
            live = np.flatnonzero(alive[world, nation])
            w, i = world[live], nation[live]
            if isinstance(policy, ArrayPolicy):
                chosen, states = policy.act(
                    observations[w, i], masks[w, i], take_rows(self.states[g], live), self.rng.random(len(live))
                )
                self.states[g] = put_rows(self.states[g], live, states)
                actions[w, i] = chosen
            else:
                for row in live:
                    seen = {
                        "observation": observations[world[row], nation[row]],
                        "action_mask": masks[world[row], nation[row]],
                    }
                    actions[world[row], nation[row]], self.states[g][row] = policy.step(
                        seen, self.states[g][row], self.rng
                    )
        return actions

    def reset(self, world_reset: Any) -> None:
        """Fresh memories for the background nations of the worlds that ended (``world_reset``: [W] bool). Without a
        background it reads nothing (on a GPU, reading ``world_reset`` would wait for the step)."""
        if not self.n_worlds:
            return
        ended = to_numpy(world_reset)
        for g, (policy, world, _) in enumerate(self.groups):
            rows = np.flatnonzero(ended[world])
            if len(rows) == 0:
                continue
            if isinstance(policy, ArrayPolicy):
                self.states[g] = put_rows(self.states[g], rows, policy.initial_states(len(rows)))
            else:
                for row in rows:
                    self.states[g][row] = policy.initial_state()
