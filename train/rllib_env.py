"""RLlib's multi-agent env over realism_env (imported only once Ray's settings are in place: see train.rllib_ppo)."""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from ray.rllib.env.wrappers.pettingzoo_env import ParallelPettingZooEnv

import realism_env
from agents.plugins import import_plugin

#: The env config's key naming the modules :func:`make_env` imports first (``train.rllib_ppo --import``).
IMPORTS_KEY = "imports"


class RealismMultiAgentEnv(ParallelPettingZooEnv):
    """RLlib's ``ParallelPettingZooEnv`` over :func:`realism_env.parallel_env`, for RLlib's action-masking module.

    Built from a plain dict of :func:`realism_env.parallel_env` keywords (``scenario`` and any
    :class:`realism_env.EnvConfig` field). RLlib's own ``ParallelPettingZooEnv(realism_env.parallel_env())`` takes the
    env as it is (``docs/examples/rllib_pettingzoo.py``); this subclass only gives observations the key and dtype that
    RLlib's ``ActionMaskingTorchRLModule`` reads, ``{"observations": Box, "action_mask": Box(0, 1, float32)}``
    (the env's keys are PettingZoo's ``"observation"`` and ``"action_mask"``, int8), and keeps ``agents`` current.
    """

    def __init__(self, env_config: dict[str, Any] | None = None) -> None:
        super().__init__(realism_env.parallel_env(**dict(env_config or {})))
        inner = self.par_env.observation_space(self.par_env.possible_agents[0])
        space = gymnasium.spaces.Dict(
            {
                "observations": inner["observation"],
                "action_mask": gymnasium.spaces.Box(0.0, 1.0, inner["action_mask"].shape, np.float32),
            }
        )
        self.render_mode = self.par_env.render_mode
        self.possible_agents = list(self.par_env.possible_agents)
        self.agents = list(self.possible_agents)
        self.observation_spaces = {a: space for a in self.possible_agents}
        self.action_spaces = {a: self.par_env.action_space(a) for a in self.possible_agents}
        self.observation_space = gymnasium.spaces.Dict(self.observation_spaces)
        self.action_space = gymnasium.spaces.Dict(self.action_spaces)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        observations, infos = super().reset(seed=seed, options=options)
        self.agents = list(self.par_env.agents)
        return self._convert(observations), infos

    def step(self, action_dict: dict) -> tuple[dict, dict, dict, dict, dict]:
        observations, rewards, terminations, truncations, infos = super().step(action_dict)
        self.agents = list(self.par_env.agents)
        return self._convert(observations), rewards, terminations, truncations, infos

    def render(self) -> Any:
        """The env's frame in its ``render_mode`` (RLlib's wrapper passes the mode as an argument, which PettingZoo's
        ``render()`` does not take)."""
        return self.par_env.render()

    @staticmethod
    def _convert(observations: dict) -> dict:
        return {
            a: {"observations": o["observation"], "action_mask": o["action_mask"].astype(np.float32)}
            for a, o in observations.items()
        }


def make_env(env_config: dict[str, Any]) -> RealismMultiAgentEnv:
    """The env creator given to ``register_env`` (RLlib passes an ``EnvContext``, a dict). Its :data:`IMPORTS_KEY`
    names modules to import first (``train.rllib_ppo --import``): an env runner is a process of its own, which knows
    the doctrines and scenarios of a user's module only once it imports it."""
    config = dict(env_config)
    for name in config.pop(IMPORTS_KEY, ()):
        import_plugin(name)
    return RealismMultiAgentEnv(config)
