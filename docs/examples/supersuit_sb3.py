"""SuperSuit + Stable-Baselines3: PettingZoo's tutorial path, PPO with one policy shared by every nation.

SuperSuit's vector env needs a fixed set of agents, so nations eliminated in an episode stay on as inactive
agents (``FixedAgentsWrapper``); SB3's ``MlpPolicy`` takes a Box, so only ``obs["observation"]`` is passed on.
Without the mask the policy may pick forbidden actions: the env plays them as WAIT (at the chosen arms level).
For masked training use ``train.ppo`` (MaskablePPO over ``train.RealismVecEnv``) instead.
"""

from __future__ import annotations

import supersuit as ss
from stable_baselines3 import PPO
from stable_baselines3.common.utils import set_random_seed

import realism_env
from realism_env.wrappers import FixedAgentsWrapper


def main(total_timesteps: int = 2048, seed: int = 0) -> PPO:
    env = FixedAgentsWrapper(realism_env.parallel_env(n_nations=4, max_cycles=50))
    env = ss.observation_lambda_v0(env, lambda obs, space: obs["observation"], lambda space: space["observation"])
    env = ss.pettingzoo_env_to_vec_env_v1(env)  # one vector slot per nation
    env = ss.concat_vec_envs_v1(env, 2, num_cpus=0, base_class="stable_baselines3")  # 2 worlds x 4 nations
    # SuperSuit's SB3 wrapper has no seed(): seed the worlds through the gymnasium vector env it wraps, and
    # torch/numpy with set_random_seed, rather than PPO(seed=...), which would call the missing seed().
    env.venv.reset(seed=seed)
    set_random_seed(seed)
    model = PPO("MlpPolicy", env, n_steps=64, batch_size=128, n_epochs=2, verbose=0)
    model.learn(total_timesteps=total_timesteps)
    env.close()
    return model


if __name__ == "__main__":
    print(f"trained for {main().num_timesteps} steps")
