"""TorchRL: ``PettingZooWrapper`` over the env collects a rollout with a random policy that respects the masks.

All nations form one group (``"nation"``), so every tensor has a nation axis. TorchRL reads ``action_mask`` out of
the Dict observation into ``("nation", "action_mask")`` and into the action spec, so ``env.rand_action`` (the
random policy of ``rollout``) draws valid actions only. ``FixedAgentsWrapper`` keeps every nation in the group
until the episode ends; ``info_keys`` keeps the infos that are tensors (``events`` and ``reward_terms`` are not).
"""

from __future__ import annotations

import torch
from tensordict import TensorDict
from torchrl.envs import PettingZooWrapper

import realism_env
from realism_env.wrappers import FixedAgentsWrapper


def main(max_steps: int = 60, seed: int = 0) -> TensorDict:
    env = PettingZooWrapper(
        FixedAgentsWrapper(realism_env.parallel_env(n_nations=4, max_cycles=50), info_keys=("action_valid",)),
        seed=seed,  # seeds the world (reset(seed=...))
    )
    torch.manual_seed(seed)  # seeds the random policy
    rollout = env.rollout(max_steps, break_when_any_done=False)  # resets when the episode ends
    env.close()
    return rollout


if __name__ == "__main__":
    rollout = main()
    print(rollout)
    print("every sampled action was valid:", bool(rollout["next", "nation", "info", "action_valid"].all()))
