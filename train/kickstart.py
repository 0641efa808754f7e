"""Kickstarting: learners start from the theories' archetypes, then outgrow them under their doctrine's reward.

Kickstarting (Schmitt et al. 2018, "Kickstarting Deep Reinforcement Learning") adds to the RL loss a cross-entropy
toward a *teacher*'s choice on the states the *learner* visits, with a weight that decays to zero; the learner then
keeps what pays and drops the rest. Here the teachers are the scripted realists of :mod:`agents.policies`, one per
doctrine (the offensive realist for power-maximisers, Mearsheimer 2001; the defensive realist for security-maximisers,
Waltz 1979). They are there to supply what exploration alone did not find: power learners trained without a teacher
never attack, even in ``bipolar``, where the offensive realists' conquests earn half as much again as the status quo.
What they do to the learners instead is measured in ``docs/kickstarting.md``.

Each teacher plays a *shadow* of every learning nation of its doctrine, as the strategy tracker's archetypes do
(:mod:`train.strategy`): its own memory, fed every observation the nation sees, and its own draws; its action is a
label, not played, except while the trainer imitates (``--imitate-until``: the nations play their teachers' choices,
behaviour cloning on the teacher's own states before PPO takes over). The shadows decide where the worlds are, as the
background does (:class:`train.background.ScriptedPlayers`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

import realism_env
from agents import make_policy
from agents.policies import POLICIES
from train.background import ScriptedPlayers


def parse_teachers(text: str) -> dict[str, str]:
    """``{doctrine: policy}`` from ``"doctrine=policy,doctrine=policy"`` (empty: none); ``ValueError`` names what is
    malformed or unknown and the valid choices."""
    teachers: dict[str, str] = {}
    doctrines = realism_env.doctrine_names()
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        doctrine, sep, policy = (s.strip() for s in item.partition("="))
        if not sep or not doctrine or not policy:
            raise ValueError(f"teacher {item!r} is malformed; valid: DOCTRINE=POLICY, e.g. power=offensive_realist")
        if doctrine not in doctrines:
            raise ValueError(f"teacher {item!r}: unknown doctrine {doctrine!r}; valid: {', '.join(doctrines)}")
        if policy not in POLICIES:
            raise ValueError(f"teacher {item!r}: unknown policy {policy!r}; valid: {', '.join(sorted(POLICIES))}")
        if doctrine in teachers:
            raise ValueError(f"doctrine {doctrine!r} has two teachers; valid: one teacher per doctrine")
        teachers[doctrine] = policy
    return teachers


def kickstart_weight(coef: float, until: float, done: float, final: float = 0.0) -> float:
    """The teachers' weight when the share ``done`` of the run's timesteps is behind it: ``coef`` at the start,
    falling linearly to ``final`` at the share ``until`` and staying there (Schmitt et al. 2018 anneal it to 0; a
    ``final`` weight above 0 keeps the learner anchored to its teacher, as piKL does in Diplomacy: Jacob et al.
    2022)."""
    if done >= until:
        return final
    return final + (coef - final) * (1.0 - done / until)


class Teachers:
    """The teachers' actions for every slot of ``batch`` whose nation's doctrine has a teacher (module docstring).

    Args:
        batch: the trainer's ``WorldBatch`` (its ``layout`` and ``config`` build the policies).
        teachers: ``{doctrine: policy name}`` (:func:`parse_teachers`).
        seed: the run's seed; the shadows' draws come from a stream of their own, ``(seed, 2)``.
        device: the trainer's torch device (the actions are returned there).
    """

    def __init__(self, batch: Any, teachers: Mapping[str, str], seed: int, device: torch.device) -> None:
        self.device = device
        doctrines = batch.config.doctrine_per_nation
        n_worlds, n_nations = batch.n_worlds, batch.config.n_nations
        self.taught = torch.as_tensor(
            np.tile([doctrine in teachers for doctrine in doctrines], n_worlds), dtype=torch.float32, device=device
        )  #: [S] 1 where the slot's doctrine has a teacher
        placements = []
        for name in dict.fromkeys(teachers.values()):  # each policy once: its nations of every world in one call
            nations = np.array([i for i, d in enumerate(doctrines) if teachers.get(d) == name], dtype=np.int64)
            world, nation = np.meshgrid(np.arange(n_worlds), nations, indexing="ij")
            placements.append((make_policy(name, batch), world.reshape(-1), nation.reshape(-1)))
        self.shadows = ScriptedPlayers(batch, placements, seed, stream=2)
        self.shape = (n_worlds, n_nations)
        #: whether the shadows missed turns (a rollout played without asking them): their memories are stale
        self.idle = False

    def act(self, observations: Any, masks: Any, alive: Any) -> torch.Tensor:
        """[S] int64: each taught live slot's teacher action (0, always allowed, elsewhere); the shadows' memories
        take this turn's observations."""
        if self.shadows.on_device:
            zeros: Any = torch.zeros(self.shape, dtype=torch.int64, device=self.shadows.device)
        else:
            zeros = np.zeros(self.shape, dtype=np.int64)
        actions = self.shadows.act(zeros, observations, masks, alive)
        return torch.as_tensor(actions, device=self.device).reshape(-1).to(torch.int64)

    def state_dict(self) -> dict[str, Any]:
        """The shadows' random state and memories, and whether they are stale, for a checkpoint."""
        return {**self.shadows.state_dict("teacher"), "teacher_idle": self.idle}

    def load_state_dict(self, state: Mapping[str, Any], memories: bool = True) -> None:
        """Continue from a checkpoint's :meth:`state_dict` (one written before teachers were set: fresh streams), with
        the shadows' memories where ``memories`` is set (their worlds were restored too)."""
        self.shadows.load_state_dict(state, "teacher", memories)
        self.idle = bool(state.get("teacher_idle", False)) and memories

    @property
    def memories_saved(self) -> bool:
        """Whether a checkpoint holds the shadows' memories."""
        return self.shadows.memories_saved

    def reset(self, world_reset: Any) -> None:
        """Fresh memories for the shadows of the worlds that ended (``world_reset``: [W] bool)."""
        self.shadows.reset(world_reset)
