"""Policies playing nations of a batch of worlds: each policy's nations decide in one call a turn.

:class:`Players` places policies on ``(world, nation)`` slots of ``[W, N]`` arrays (the layout of
:class:`realism_env.seeded.SeededWorlds` and :class:`realism_env.batch.WorldBatch`) and keeps their memories. Every
:class:`~agents.policies.ArrayPolicy` decides for all its live slots in one :meth:`~agents.policies.ArrayPolicy.act`
call, each slot with its own draw; any other policy steps slot by slot. The evaluation harness plays its matched
episodes with it (``agents.episodes``), the strategy tracker its archetypes' shadows, the trainers their scripted
background populations.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from agents.policies import ArrayPolicy, Policy, put_rows, take_rows


class Players:
    """Policies on the ``(world, nation)`` slots of a batch of worlds, with each slot's memory.

    Args:
        placements: ``(policy, worlds, nations)`` triples: ``policy`` plays the slots ``(worlds[j], nations[j])``
            (``[K]`` int arrays); a policy object appears once, a slot at most once.
    """

    def __init__(self, placements: Sequence[tuple[Policy, np.ndarray, np.ndarray]]) -> None:
        self.placements = [
            (policy, np.asarray(w, dtype=np.int64), np.asarray(i, dtype=np.int64)) for policy, w, i in placements
        ]
        self.memories: list[Any] = [self._initial(policy, len(w)) for policy, w, _ in self.placements]

    @classmethod
    def population(cls, policies: Sequence[Policy], n_worlds: int) -> Players:
        """Nation ``i`` of every world played by ``policies[i]`` (a policy object shared by several nations plays
        them all in one call)."""
        placements = []
        for policy in dict.fromkeys(policies):  # each policy object once, in order of first appearance
            nations = np.array([i for i, p in enumerate(policies) if p is policy])
            worlds, slots = np.meshgrid(np.arange(n_worlds), nations, indexing="ij")
            placements.append((policy, worlds.reshape(-1), slots.reshape(-1)))
        return cls(placements)

    @staticmethod
    def _initial(policy: Policy, n: int) -> Any:
        return policy.initial_states(n) if isinstance(policy, ArrayPolicy) else [policy.initial_state()] * n

    def act(
        self,
        actions: np.ndarray,
        observations: np.ndarray,
        masks: np.ndarray,
        live: np.ndarray,
        generator: Callable[[int, int], np.random.Generator],
        draws: np.ndarray | None = None,
    ) -> np.ndarray:
        """``actions`` ([W, N]) with the choices of the live slots (``live``: [W, N] bool) written in, their memories
        updated. ``observations`` [W, N, D] and ``masks`` [W, N, A] are what the slots see; ``generator(world,
        nation)`` is a slot's generator: a step-only policy is given it, an array policy's slot takes one uniform from
        it a turn (in slot order), unless ``draws`` ([W, N] uniforms) gives them."""
        actions = np.array(actions, copy=True)
        for g, (policy, worlds, nations) in enumerate(self.placements):
            rows = np.flatnonzero(live[worlds, nations])
            if rows.size == 0:
                continue
            w, i = worlds[rows], nations[rows]
            if isinstance(policy, ArrayPolicy):
                if draws is None:
                    uniforms = np.array([generator(a, b).random() for a, b in zip(w.tolist(), i.tolist(), strict=True)])
                else:
                    uniforms = draws[w, i]
                memory = take_rows(self.memories[g], rows)
                chosen, memory = policy.act(observations[w, i], masks[w, i], memory, uniforms)
                self.memories[g] = put_rows(self.memories[g], rows, memory)
                actions[w, i] = chosen
            else:
                for row in rows.tolist():
                    world, nation = int(worlds[row]), int(nations[row])
                    seen = {"observation": observations[world, nation], "action_mask": masks[world, nation]}
                    actions[world, nation], self.memories[g][row] = policy.step(
                        seen, self.memories[g][row], generator(world, nation)
                    )
        return actions

    def reset(self, worlds_ended: np.ndarray) -> None:
        """Fresh memories for the slots of the worlds flagged in ``worlds_ended`` ([W] bool)."""
        for g, (policy, worlds, _) in enumerate(self.placements):
            rows = np.flatnonzero(worlds_ended[worlds])
            if rows.size == 0:
                continue
            if isinstance(policy, ArrayPolicy):
                self.memories[g] = put_rows(self.memories[g], rows, policy.initial_states(rows.size))
            else:
                for row in rows.tolist():
                    self.memories[g][row] = policy.initial_state()
