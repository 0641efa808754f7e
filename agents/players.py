"""Policies playing nations of a batch of worlds: each policy's nations decide in one call a turn.

:class:`Players` places policies on ``(world, nation)`` slots of ``[W, N]`` arrays (the layout of
:class:`realism_env.seeded.SeededWorlds` and :class:`realism_env.batch.WorldBatch`) and keeps their memories. Every
:class:`~agents.policies.ArrayPolicy` decides for all its live slots in one :meth:`~agents.policies.ArrayPolicy.act`
call, each slot with its own draw; any other policy steps slot by slot. The evaluation harness plays its matched
episodes with it (``agents.episodes``), the strategy tracker its archetypes' shadows, the trainers their scripted
background populations on a CPU. :class:`DevicePlayers` does the same with fixed shapes on any array backend (the
trainers' backgrounds on a GPU).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from agents.policies import ArrayPolicy, Policy, memory_arrays, put_rows, take_rows
from agents.policy_checks import (
    HOST,
    allowed,
    check_form,
    check_memory,
    check_on_host,
    checked_step_action,
    is_tensor,
    like_initial,
    noted,
    on_host,
    refuse_actions,
)
from realism_env import array_namespace, device_of, saved_array_like


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
        self.memories: list[Any] = []
        for policy, worlds, _ in self.placements:
            memory = noted(policy, "initial_states", self._initial, policy, len(worlds))
            if isinstance(policy, ArrayPolicy):
                check_memory(policy, memory, HOST, len(worlds), "initial_states")
            self.memories.append(memory)

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
                seen = masks[w, i]
                chosen, memory = noted(policy, "act", policy.act, observations[w, i], seen, memory, uniforms)
                check_on_host(policy, chosen, memory, seen, w, i)
                self.memories[g] = put_rows(self.memories[g], rows, memory)
                actions[w, i] = chosen
            else:
                for row in rows.tolist():
                    world, nation = int(worlds[row]), int(nations[row])
                    mask = masks[world, nation]
                    seen = {"observation": observations[world, nation], "action_mask": mask}
                    action, self.memories[g][row] = noted(
                        policy, "step", policy.step, seen, self.memories[g][row], generator(world, nation)
                    )
                    actions[world, nation] = checked_step_action(policy, action, mask, world, nation)
        return actions

    def memory_state(self) -> list[dict[str, Any] | None] | None:
        """Every slot's memory, for a checkpoint: :func:`memory_arrays` of each placement; ``None`` where a policy is
        not array code (its memories are Python objects, which a checkpoint does not hold)."""
        if not all(isinstance(policy, ArrayPolicy) for policy, _, _ in self.placements):
            return None
        return [memory_arrays(memory) for memory in self.memories]

    def load_memory_state(self, state: Sequence[dict[str, Any] | None]) -> None:
        """Put back the memories of :meth:`memory_state` (of players placed the same way)."""
        self.memories = _loaded_memories(self.memories, state)

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


class DevicePlayers:
    """Policies on the ``(world, nation)`` slots of a batch of worlds, on any array backend, with fixed shapes and no
    host sync: the counterpart of :class:`Players` for worlds on a GPU (``realism_env.batch.WorldBatch(backend=
    "torch")``). Every policy decides for all its slots each turn, live or not, and the choices and memories of the
    slots that are not live are discarded by masked writes, where :class:`Players` selects the live slots first (a
    data-dependent shape). Only :class:`~agents.policies.ArrayPolicy` policies can play here.

    Args:
        placements: ``(policy, worlds, nations)`` triples as for :class:`Players`.
        n_worlds, n_nations: the batch's shape.
        like: an array of the backend and device to play on (its namespace and device are taken).
    """

    def __init__(
        self,
        placements: Sequence[tuple[Policy, np.ndarray, np.ndarray]],
        n_worlds: int,
        n_nations: int,
        like: Any,
    ) -> None:
        xp, device = array_namespace(like), device_of(like)
        self.xp, self.shape = xp, (n_worlds, n_nations)
        self.like = xp.zeros((0,), device=device)  #: what actions and memories are like: their type and device
        self.placements = []
        self.initial: list[Any] = []
        #: each placement's message where its actions are checked on the device (a GPU's assert shows no culprit)
        self.asserts: list[str] = []
        for policy, worlds, nations in placements:
            if not isinstance(policy, ArrayPolicy):
                raise ValueError(f"policy {policy.name!r} is not array code; valid: an ArrayPolicy (or use Players)")
            slots = np.asarray(worlds, dtype=np.int64) * n_nations + np.asarray(nations, dtype=np.int64)
            position = np.full(n_worlds * n_nations, -1, dtype=np.int64)  # each slot's row among the policy's
            position[slots] = np.arange(slots.size)
            rows = xp.asarray(slots, device=device)
            self.placements.append((policy, rows, xp.asarray(position, device=device)))
            memory = noted(policy, "initial_states", policy.initial_states, slots.size, like=like)
            check_memory(policy, memory, like, slots.size, "initial_states")
            self.initial.append(memory)
            self.asserts.append(
                f"policy {policy.name!r} chose, for a live nation, an action outside the action space or one its "
                "action mask forbids; valid: an action its mask allows"
            )
        self.memories: list[Any] = list(self.initial)

    def act(self, actions: Any, observations: Any, masks: Any, live: Any, draws: Any) -> Any:
        """``actions`` ([W, N]) with the choices of the live slots (``live``: [W, N] bool) written in, their memories
        updated. ``observations`` [W, N, D], ``masks`` [W, N, A] and ``draws`` [W, N] (uniforms) are what the slots
        see and draw, all of the backend."""
        xp = self.xp
        n_slots = self.shape[0] * self.shape[1]
        flat_observations = xp.reshape(observations, (n_slots, -1))
        flat_masks = xp.reshape(masks, (n_slots, -1))
        flat_live, flat_draws = xp.reshape(live, (n_slots,)), xp.reshape(draws, (n_slots,))
        result = xp.reshape(actions, (n_slots,))
        for g, (policy, rows, position) in enumerate(self.placements):
            seen, live_rows = xp.take(flat_masks, rows, axis=0), xp.take(flat_live, rows, axis=0)
            chosen, memory = noted(
                policy,
                "act",
                policy.act,
                xp.take(flat_observations, rows, axis=0),
                seen,
                self.memories[g],
                xp.take(flat_draws, rows, axis=0),
            )
            self._check_actions(g, chosen, seen, live_rows)
            if not like_initial(memory, self.initial[g]):  # the fast path failed: the full check names what is wrong
                check_memory(policy, memory, self.like, rows.shape[0], "act", self.initial[g])
            self.memories[g] = _where_rows(xp, live_rows, memory, self.memories[g])
            mine = (position >= 0) & flat_live
            result = xp.where(mine, xp.take(chosen, xp.clip(position, min=0), axis=0), result)
        return xp.reshape(result, self.shape)

    def _check_actions(self, g: int, chosen: Any, masks: Any, live: Any) -> None:
        """Refuse (``ValueError`` naming the policy) actions of placement ``g`` not of the form :class:`Players`
        checks, or, for a live slot (``live``: [K] bool), outside the space or forbidden by its mask (``masks``:
        [K, A]). On torch the values are checked with ``torch._assert_async``, as ``WorldBatch`` checks the actions it
        steps: no host sync; on a GPU a bad action fails at the next synchronisation as a device-side assert naming
        the policy, on the CPU at once as the ValueError that names its nation and world too."""
        policy, rows, _ = self.placements[g]
        check_form(policy, chosen, self.like, rows.shape[0])
        if isinstance(self.like, np.ndarray):  # a branch on the host costs nothing
            fine = ~live | allowed(np, chosen, masks)
            if not fine.all():
                self._refuse(g, chosen, masks, fine)
            return
        if not is_tensor(self.like):  # another array API library: checked on the host
            fine = ~live | allowed(self.xp, chosen, masks)
            if not bool(self.xp.all(fine)):
                self._refuse(g, chosen, masks, fine)
            return
        import torch

        # torch's own gather and clamp: through the namespace's take_along_axis and where, 5x the time on a CPU
        last = masks.shape[1] - 1
        picked = torch.gather(masks, 1, torch.clamp(chosen, 0, last)[:, None])[:, 0]
        fine = ~live | ((chosen >= 0) & (chosen <= last) & (picked > 0))
        try:
            torch._assert_async(torch.all(fine), self.asserts[g])
        except RuntimeError:  # on the CPU the assert is immediate: name the culprit
            self._refuse(g, chosen, masks, fine)

    def _refuse(self, g: int, chosen: Any, masks: Any, fine: Any) -> None:
        policy, rows, _ = self.placements[g]
        slots = on_host(rows)
        refuse_actions(policy, on_host(chosen), on_host(masks), on_host(fine), *divmod(slots, self.shape[1]))

    def memory_state(self) -> list[dict[str, Any] | None]:
        """Every slot's memory, for a checkpoint: :func:`memory_arrays` of each placement (arrays on the device)."""
        return [memory_arrays(memory) for memory in self.memories]

    def load_memory_state(self, state: Sequence[dict[str, Any] | None]) -> None:
        """Put back the memories of :meth:`memory_state` (of players placed the same way), on this device."""
        self.memories = _loaded_memories(self.memories, state)

    def reset(self, worlds_ended: Any) -> None:
        """Fresh memories for the slots of the worlds flagged in ``worlds_ended`` ([W] bool, of the backend)."""
        xp = self.xp
        ended = xp.reshape(xp.broadcast_to(worlds_ended[:, None], self.shape), (-1,))
        for g, (_, rows, _) in enumerate(self.placements):
            self.memories[g] = _where_rows(xp, xp.take(ended, rows, axis=0), self.initial[g], self.memories[g])


def _where_rows(xp: Any, flags: Any, new: Any, old: Any) -> Any:
    """Memories (``None`` or a dataclass of ``[K, ...]`` arrays) taking ``new``'s rows where ``flags`` ([K] bool) is
    set and ``old``'s elsewhere."""
    if new is None:
        return None
    fields = {}
    for field in dataclasses.fields(new):
        a, b = getattr(new, field.name), getattr(old, field.name)
        fields[field.name] = xp.where(xp.reshape(flags, (-1,) + (1,) * (a.ndim - 1)), a, b)
    return dataclasses.replace(new, **fields)


def _loaded_memories(current: list[Any], state: Sequence[dict[str, Any] | None]) -> list[Any]:
    """``current`` memories with the arrays of ``state`` (numpy arrays or tensors on any device) put in, each as an
    array of its current one's namespace, device, shape and dtype; ``ValueError`` names a memory that does not fit."""
    if len(state) != len(current):
        raise ValueError(f"the state holds {len(state)} policies' memories; valid: {len(current)}, one per placement")
    loaded = []
    for g, (memory, saved) in enumerate(zip(current, state, strict=True)):
        expected = memory_arrays(memory)
        if expected is None or saved is None or set(saved) != set(expected):
            if expected is None and saved is None:  # a memoryless policy
                loaded.append(None)
                continue
            found = None if saved is None else sorted(saved)
            valid = None if expected is None else sorted(expected)
            raise ValueError(f"policy {g}'s saved memory has fields {found}; valid: {valid}")
        hint = "players placed as when it was saved"
        fields = {
            name: saved_array_like(saved[name], now, f"policy {g}'s saved memory {name!r}", hint)
            for name, now in expected.items()
        }
        loaded.append(dataclasses.replace(memory, **fields))
    return loaded
