"""Ray RLlib: its own ``ParallelPettingZooEnv`` over the plain env, PPO with one policy per doctrine.

As RLlib's PettingZoo examples do: the env is registered with ``register_env`` through RLlib's wrapper, the Dict
observation is flattened by RLlib's ``FlattenObservations`` connector, and ``policy_mapping_fn`` maps each nation to
its doctrine's policy. Nations leave the episode when eliminated; RLlib's new API stack handles that. This policy
does not read the mask: a forbidden action is played as WAIT at its arms level (``infos[nation]["action_valid"]``
says so). For masked PPO see ``python -m train.rllib_ppo``.
"""

from __future__ import annotations

import ray
from ray.rllib.algorithms.ppo import PPOConfig
from ray.rllib.connectors.env_to_module import FlattenObservations
from ray.rllib.core.rl_module.multi_rl_module import MultiRLModuleSpec
from ray.rllib.core.rl_module.rl_module import RLModuleSpec
from ray.rllib.env.wrappers.pettingzoo_env import ParallelPettingZooEnv
from ray.tune.registry import register_env

import realism_env

ENV_CONFIG = {"n_nations": 3, "provinces_per_nation": 2, "max_cycles": 40, "doctrines": ["security", "power", "power"]}


def main(iterations: int = 1, seed: int = 0) -> dict[str, object]:
    register_env("realism", lambda config: ParallelPettingZooEnv(realism_env.parallel_env(**config)))
    doctrine_of = {f"nation_{i}": doctrine for i, doctrine in enumerate(ENV_CONFIG["doctrines"])}
    config = (
        PPOConfig()
        .environment("realism", env_config=ENV_CONFIG)
        .env_runners(
            num_env_runners=0,  # sample in this process; raise it to sample on Ray actors
            env_to_module_connector=lambda env, spaces, device: FlattenObservations(multi_agent=True),
        )
        .multi_agent(
            policies=set(doctrine_of.values()),
            policy_mapping_fn=lambda agent_id, episode, **kwargs: doctrine_of[agent_id],
        )
        .rl_module(rl_module_spec=MultiRLModuleSpec(rl_module_specs={d: RLModuleSpec() for d in doctrine_of.values()}))
        .training(train_batch_size_per_learner=400, minibatch_size=100, num_epochs=1)
        .debugging(seed=seed)
    )
    ray.init(num_cpus=2, include_dashboard=False)
    try:
        algo = config.build_algo()
        for _ in range(iterations):
            result = algo.train()
        algo.stop()
    finally:
        ray.shutdown()
    runners = result["env_runners"]
    return {
        "env_steps": int(result["num_env_steps_sampled_lifetime"]),
        "episodes": int(runners["num_episodes_lifetime"]),
        "returns": {policy: float(value) for policy, value in runners["module_episode_returns_mean"].items()},
    }


if __name__ == "__main__":
    print(main())
