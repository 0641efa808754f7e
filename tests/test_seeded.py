"""realism_env.SeededWorlds: the env's episodes of several seeds, stepped as one batch of worlds."""

from __future__ import annotations

import numpy as np
import pytest

import realism_env
from realism_env import EnvConfig, SeededWorlds


@pytest.mark.parametrize("scenario", ["multipolar", "bipolar", "islands", "europe_1914"])
def test_each_world_is_the_env_s_episode_of_its_seed(scenario):
    """Fed the same actions, world k gives the observations, masks, rewards and ends of env.reset(seed=seeds[k])."""
    config = EnvConfig.from_scenario(scenario, max_cycles=40)
    seeds = [0, 7, 8, 21]
    worlds = SeededWorlds(config, seeds)
    observations, masks = worlds.reset()
    envs = [realism_env.parallel_env(config=config) for _ in seeds]
    env_observations = [env.reset(seed=seed)[0] for env, seed in zip(envs, seeds, strict=True)]
    rng = np.random.default_rng(0)
    compared = 0
    while worlds.running.any():
        for k, env in enumerate(envs):
            for agent in env.agents:
                i = env.agent_name_mapping[agent]
                np.testing.assert_array_equal(observations[k, i], env_observations[k][agent]["observation"])
                np.testing.assert_array_equal(masks[k, i], env_observations[k][agent]["action_mask"])
                compared += 1
        # random valid actions (any action for a dead nation: ignored)
        actions = np.array([[rng.choice(np.flatnonzero(m)) if m.any() else 0 for m in world] for world in masks])
        running = worlds.running.copy()
        step = worlds.step(actions)
        for k, env in enumerate(envs):
            if not running[k]:
                continue
            env_observations[k], rewards, terminations, truncations, _ = env.step(
                {agent: int(actions[k, env.agent_name_mapping[agent]]) for agent in env.agents}
            )
            for agent, reward in rewards.items():
                i = env.agent_name_mapping[agent]
                assert step.rewards[k, i] == reward
                assert bool(step.terminated[k, i]) == terminations[agent]
            assert worlds.running[k] == bool(env.agents)
        observations, masks = step.observations, step.action_mask
    assert compared > 4 * 40 * 3


def test_bad_use_names_what_is_wrong():
    config = EnvConfig.from_scenario("multipolar", max_cycles=5)
    with pytest.raises(ValueError, match="seeds is empty"):
        SeededWorlds(config, [])
    worlds = SeededWorlds(config, [1, 2])
    with pytest.raises(RuntimeError, match="call reset"):
        worlds.step(np.zeros((2, 6), dtype=np.int64))
    worlds.reset()
    with pytest.raises(ValueError, match=r"actions have shape \(6,\); valid: \(2, 6\)"):
        worlds.step(np.zeros(6, dtype=np.int64))
    actions = np.zeros((2, 6), dtype=np.int64)
    actions[1, 4] = 10_000
    with pytest.raises(ValueError, match="action 10000 of nation_4 in world 1 is outside the action space; valid: "):
        worlds.step(actions)
