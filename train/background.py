"""Scripted nations among the learners of a batched trainer: a background population, as in Melting Pot.

Melting Pot (Leibo et al. 2021) evaluates learned *focal* agents among scripted *background* agents; training among
them too lets learners meet the theories' archetypes (the offensive realist that attacks the weak, the defensive
realist that balances) before they are judged against them. In a :class:`Background`, the first ``n_worlds`` worlds
of a ``WorldBatch`` hold background nations: nations ``n_focal .. N-1`` of world ``w`` are played by the scripted
policy ``names[w % len(names)]`` of :mod:`agents.policies` (through its public Policy contract), and the trainer gives
their rows weight 0 in every loss. Each scripted policy decides for all its background nations in one batched call a
turn (:meth:`agents.ArrayPolicy.act`, a few microseconds a nation). Where the worlds are numpy arrays the policies
play on the host (:class:`agents.players.Players`: the live nations alone; a policy that is not array code steps
nation by nation); where they are torch tensors (``WorldBatch(backend="torch")``, a GPU) the policies play on the
worlds' device with no host sync (:class:`agents.players.DevicePlayers`, their draws from a ``torch.Generator`` of
their own there), so the background adds no round trip to the host to a step.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from agents import make_policy
from agents.players import DevicePlayers, Players
from agents.policies import POLICIES, ArrayPolicy
from realism_env.backend import to_numpy
from train.checkpoint import restore_generator


def parse_background(text: str) -> tuple[str, ...]:
    """Policy names from ``"name,name"`` (empty: none); ``ValueError`` names an unknown one and the valid ones, or
    text that names none (``","``: background worlds whose nations no policy would play)."""
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    if text.strip() and not names:
        raise ValueError(f"background {text!r} names no policy; valid: e.g. offensive_realist,defensive_realist")
    for name in names:
        if name not in POLICIES:
            raise ValueError(f"unknown background policy {name!r}; valid: {', '.join(sorted(POLICIES))}")
    return names


class ScriptedPlayers:
    """Scripted policies on ``(world, nation)`` slots of a trainer's ``WorldBatch``, played where its worlds are: on
    the host for numpy worlds (:class:`agents.players.Players`, the live slots alone), on the worlds' device for torch
    ones (:class:`agents.players.DevicePlayers`, no host sync). Their draws come from a stream of their own,
    ``(seed, stream)``: a numpy ``Generator`` on the host, a ``torch.Generator`` on the device.

    Args:
        batch: the trainer's ``WorldBatch``.
        placements: ``(policy, worlds, nations)`` triples, as for :class:`agents.players.Players`.
        seed, stream: the run's seed and the stream that sets these players' draws apart from the run's others.
    """

    def __init__(self, batch: Any, placements: Sequence[tuple[Any, np.ndarray, np.ndarray]], seed: int, stream: int):
        self.rng = np.random.default_rng((seed, stream))
        self.on_device = batch.backend.name != "numpy"
        if self.on_device:
            import torch

            self.device = batch.backend.device
            like = torch.zeros(1, device=self.device)
            self.players: Players | DevicePlayers = DevicePlayers(
                placements, batch.n_worlds, batch.config.n_nations, like
            )
            self.generator = torch.Generator(device=self.device)
            self.generator.manual_seed(int(np.random.SeedSequence((seed, stream)).generate_state(1)[0]))
        else:
            self.players = Players(placements)

    def act(self, actions: Any, observations: Any, masks: Any, alive: Any) -> Any:
        """``actions`` ([W, N]: numpy for numpy worlds, a tensor on the device for torch ones) with every placed live
        slot's scripted action."""
        if self.on_device:
            import torch

            draws = torch.rand(alive.shape, generator=self.generator, device=alive.device, dtype=torch.float64)
            return self.players.act(actions, observations, masks, alive, draws)
        observations, masks, alive = to_numpy(observations), to_numpy(masks), to_numpy(alive)
        draws = self.rng.random(alive.shape)
        return self.players.act(actions, observations, masks, alive, lambda world, nation: self.rng, draws)

    @property
    def unsaved(self) -> list[str]:
        """The names of the policies whose memories a checkpoint does not hold (not array code: Python objects)."""
        return [policy.name for policy, _, _ in self.players.placements if not isinstance(policy, ArrayPolicy)]

    @property
    def memories_saved(self) -> bool:
        """Whether a checkpoint holds the players' memories (not where a policy is not array code)."""
        return self.players.memory_state() is not None

    def state_dict(self, prefix: str) -> dict[str, Any]:
        """The players' random state and memories, for a checkpoint (tensors and plain values): ``<prefix>_rng``,
        ``<prefix>_generator`` on a device, and ``<prefix>_memories`` where :attr:`memories_saved`."""
        import torch

        state: dict[str, Any] = {f"{prefix}_rng": self.rng.bit_generator.state}
        if self.on_device:
            state[f"{prefix}_generator"] = self.generator.get_state()
        memories = self.players.memory_state()
        if memories is not None:
            state[f"{prefix}_memories"] = [
                None if memory is None else {name: torch.as_tensor(array) for name, array in memory.items()}
                for memory in memories
            ]
        return state

    def load_state_dict(self, state: Mapping[str, Any], prefix: str, memories: bool = True) -> None:
        """Continue from a checkpoint's :meth:`state_dict` (a key a checkpoint lacks leaves its stream fresh), with the
        saved memories where there are some and ``memories`` is set (the worlds they remember were restored too)."""
        if f"{prefix}_rng" in state:
            self.rng.bit_generator.state = state[f"{prefix}_rng"]
        if self.on_device and f"{prefix}_generator" in state:
            restore_generator(self.generator, state[f"{prefix}_generator"], f"the {prefix} players' generator")
        if memories and f"{prefix}_memories" in state:
            self.players.load_memory_state(state[f"{prefix}_memories"])

    def reset(self, world_reset: Any) -> None:
        """Fresh memories for the slots of the worlds that ended (``world_reset``: [W] bool)."""
        if self.on_device:
            import torch

            self.players.reset(torch.as_tensor(world_reset, device=self.device))  # a tensor stays where it is
        else:
            self.players.reset(to_numpy(world_reset))


class Background:
    """The scripted nations of the first ``n_worlds`` worlds of ``batch`` (see the module docstring), or of each
    member's block of worlds in a population.

    Args:
        batch: the trainer's ``WorldBatch`` (its ``layout`` and ``config`` build the policies).
        names: the scripted policies, taken in turn by the background worlds.
        n_worlds: how many worlds (the first ones; the first ones of each member's block) hold background nations.
        n_focal: the learning nations of a background world (nations ``0 .. n_focal-1``).
        seed: the run's seed; the policies' generator is seeded with ``(seed, 1)``, a stream of its own.
        members: the population's members (:mod:`train.population`), each owning an equal block of the batch's
            worlds, in order; each member's block gets the same background as a run of its own.
    """

    def __init__(
        self, batch: Any, names: Sequence[str], n_worlds: int, n_focal: int, seed: int, members: int = 1
    ) -> None:
        n_nations = batch.config.n_nations
        if not 1 <= n_focal < n_nations:
            raise ValueError(f"n_focal={n_focal} is invalid; valid: 1..{n_nations - 1} learning nations per world")
        block = batch.n_worlds // members
        if members < 1 or block * members != batch.n_worlds:
            raise ValueError(f"members={members} is invalid; valid: a divisor of the batch's {batch.n_worlds} worlds")
        if not 0 <= n_worlds <= block:
            raise ValueError(f"{n_worlds} background worlds is invalid; valid: 0..{block}")
        self.n_worlds, self.n_focal, self.n_nations = n_worlds, n_focal, n_nations
        self.names = tuple(names) if n_worlds else ()
        # Background world j of each member's block plays policy j (mod the policies), as in a run of its own.
        background = np.array([m * block + j for m in range(members) for j in range(n_worlds)], dtype=np.int64)
        policy_of = np.tile(np.arange(n_worlds), members) % max(len(self.names), 1)
        placements = []
        for name in dict.fromkeys(self.names):  # each policy's background nations as (world, nation) indices
            worlds = background[np.array([self.names[p] == name for p in policy_of], dtype=bool)]
            world, nation = np.meshgrid(worlds, np.arange(n_focal, n_nations), indexing="ij")
            placements.append((make_policy(name, batch), world.reshape(-1), nation.reshape(-1)))
        self.scripted = ScriptedPlayers(batch, placements, seed, stream=1)
        self.players = self.scripted.players
        learner = np.ones((batch.n_worlds, n_nations), dtype=np.float32)
        learner[background, n_focal:] = 0.0
        self.learner = learner.reshape(-1)  #: [W * N] 1 for a learning slot, 0 for a background one

    def act(self, actions: Any, observations: Any, masks: Any, alive: Any) -> Any:
        """``actions`` ([W, N], the learners' samples: numpy for numpy worlds, a tensor on the device for torch ones)
        with every live background nation's scripted action."""
        if not self.n_worlds:
            return actions
        return self.scripted.act(actions, observations, masks, alive)

    def reset(self, world_reset: Any) -> None:
        """Fresh memories for the background nations of the worlds that ended (``world_reset``: [W] bool). Without a
        background it reads nothing (on a GPU, reading ``world_reset`` would wait for the step)."""
        if self.n_worlds:
            self.scripted.reset(world_reset)
