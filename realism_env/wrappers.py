"""Wrappers for libraries that need a fixed set of agents (SuperSuit's vector envs, some MARL loops).

The env follows PettingZoo: an eliminated nation terminates and leaves ``agents``. :class:`FixedAgentsWrapper`
keeps every nation in ``agents`` until the episode ends for all of them; an eliminated nation stays on as an
*inactive* agent ("black death", as SuperSuit calls it)::

    import realism_env
    from realism_env.wrappers import FixedAgentsWrapper

    env = FixedAgentsWrapper(realism_env.parallel_env(n_nations=4))
    observations, infos = env.reset(seed=0)     # every nation, every step, until the episode ends

| what an inactive nation gets | value |
|---|---|
| observation | ``observation`` all zeros; ``action_mask`` allowing only the no-op action (below) |
| reward | 0 |
| terminated, truncated | ``False`` until the episode ends for all; then ``terminated=True`` (it was eliminated) |
| info | its reset info (``action_valid=True``; ``rich_infos`` adds empty terms and events), ``"active": False`` |
| its action | ignored, whatever it is (``None`` too) |

The no-op is action ``0`` (``noop_action``): arms level 0, ``WAIT``, target slot 0, which is always valid. A nation
that no longer exists spends nothing, so level 0 is the natural choice; the action is ignored in any case.

The step in which a nation is eliminated brings its reward as the env reports it (with the elimination penalty),
``terminated=False``, and already the inactive observation; the zero observations and rewards after it make an
inactive nation's value zero, so learners see the penalty once. When the last nations finish (one holds every
province, or ``max_cycles`` is reached), every nation is done at once and ``agents`` becomes empty, as PettingZoo
expects; the nations that played that last step get the env's own observations and flags.

``infos[nation]["active"]`` says whether the nation plays the next step (it is in the wrapped env's ``agents``):
while the episode goes on, ``False`` exactly when the nation gets the inactive observation; after the last step,
``False`` for all.

``info_keys`` keeps only the named info keys (``"active"`` is always kept), for libraries that turn every info
value into a tensor (TorchRL) over an env built with ``rich_infos=True``: ``events`` (a list of dicts) and
``reward_terms`` (a dict) are not tensors. The env's default infos are numbers only and need no filter.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

import gymnasium
import numpy as np
from pettingzoo import ParallelEnv
from pettingzoo.utils.wrappers import BaseParallelWrapper

NOOP_ACTION = 0
"""Arms level 0, ``WAIT``, target slot 0: the action an inactive nation is allowed (and that is ignored)."""


class FixedAgentsWrapper(BaseParallelWrapper):
    """Keeps all ``possible_agents`` in ``agents`` until the episode ends; eliminated nations become inactive.

    Args:
        env: a :class:`realism_env.RealismEnv` (or a ParallelEnv with the same ``Dict(observation, action_mask)``
            observations).
        noop_action: the one action an inactive nation's mask allows (default ``0``: arms level 0, ``WAIT``).
        info_keys: keep only these info keys (and ``"active"``); ``None`` keeps them all.
    """

    def __init__(
        self, env: ParallelEnv, noop_action: int = NOOP_ACTION, info_keys: Iterable[str] | None = None
    ) -> None:
        super().__init__(env)
        self.possible_agents = list(env.possible_agents)
        self.agents: list[str] = []
        self.noop_action = int(noop_action)
        self.info_keys = None if info_keys is None else frozenset(info_keys) | {"active"}
        space = env.observation_space(self.possible_agents[0])
        if not (isinstance(space, gymnasium.spaces.Dict) and {"observation", "action_mask"} <= set(space.spaces)):
            raise ValueError(
                f"FixedAgentsWrapper needs Dict(observation=..., action_mask=...) observations; got {space}"
            )
        n_actions = space["action_mask"].shape[0]
        if not 0 <= self.noop_action < n_actions:
            raise ValueError(f"noop_action={noop_action} is outside the action space; valid: 0..{n_actions - 1}")
        self._inactive_mask = np.zeros(n_actions, dtype=space["action_mask"].dtype)
        self._inactive_mask[self.noop_action] = 1
        self._inactive_observation = np.zeros(space["observation"].shape, dtype=space["observation"].dtype)
        self._reset_infos: dict[str, dict[str, Any]] = {}  # each nation's info at reset: an inactive nation's info

    @property
    def active_agents(self) -> list[str]:
        """The nations still in the game (the wrapped env's ``agents``)."""
        return list(self.env.agents)

    def reset(self, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        observations, infos = self.env.reset(seed=seed, options=options)
        self.agents = list(self.possible_agents)
        self._reset_infos = copy.deepcopy(infos)
        return observations, {a: self._info(infos[a], True) for a in self.agents}

    def step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        active_before = set(self.env.agents)
        inner_actions = {a: action for a, action in actions.items() if a in active_before}
        observations, rewards, terminations, truncations, infos = self.env.step(inner_actions)
        active_after = set(self.env.agents)
        over = not active_after
        obs_out, rew_out, term_out, trunc_out, info_out = {}, {}, {}, {}, {}
        for agent in self.agents:
            if agent in active_before:
                # A nation eliminated this step gets the inactive observation already: active == observed.
                obs_out[agent] = observations[agent] if agent in active_after or over else self._inactive()
                rew_out[agent] = rewards[agent]
                info_out[agent] = self._info(infos[agent], agent in active_after)
                # Eliminated this step while others play on: inactive from now on, not terminated yet.
                term_out[agent] = terminations[agent] if over else False
                trunc_out[agent] = truncations[agent] if over else False
            else:
                obs_out[agent] = self._inactive()
                rew_out[agent] = 0.0
                info_out[agent] = self._info(copy.deepcopy(self._reset_infos.get(agent, {})), False)
                term_out[agent] = over
                trunc_out[agent] = False
        if over:
            self.agents = []
        return obs_out, rew_out, term_out, trunc_out, info_out

    def _inactive(self) -> dict[str, np.ndarray]:
        return {"observation": self._inactive_observation.copy(), "action_mask": self._inactive_mask.copy()}

    def _info(self, info: dict[str, Any], active: bool) -> dict[str, Any]:
        out = {**info, "active": active}
        if self.info_keys is not None:
            out = {k: v for k, v in out.items() if k in self.info_keys}
        return out

    def __str__(self) -> str:
        return f"FixedAgentsWrapper<{self.env}>"


def fixed_agents_parallel_env(
    config: Any = None, *, noop_action: int = NOOP_ACTION, info_keys: Iterable[str] | None = None, **kwargs: Any
) -> FixedAgentsWrapper:
    """:func:`realism_env.parallel_env` (same keywords) wrapped in :class:`FixedAgentsWrapper`."""
    from realism_env.env import parallel_env  # the env module does not import this one: no cycle either way

    return FixedAgentsWrapper(parallel_env(config, **kwargs), noop_action=noop_action, info_keys=info_keys)
