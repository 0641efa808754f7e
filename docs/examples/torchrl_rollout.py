"""TorchRL: ``PettingZooWrapper`` over the plain env collects a rollout with a random policy that respects the masks.

All nations form one group (``"nation"``), so every tensor has a nation axis. TorchRL reads ``action_mask`` out of
the Dict observation into ``("nation", "action_mask")`` and into the action spec, so ``env.rand_action`` (the
random policy of ``rollout``) draws valid actions only. Nations leave when eliminated: ``use_mask=True`` adds
``("nation", "mask")``, true for the nations still in play; ``done_on_any=False`` ends the episode when every nation
is done, not at the first elimination. The env's infos are numbers (``action_valid``), so they become tensors too.
"""

from __future__ import annotations

import torch
from tensordict import TensorDict
from torchrl.envs import PettingZooWrapper
from torchrl.envs.utils import check_env_specs

import realism_env


def main(max_steps: int = 120, seed: int = 0) -> TensorDict:
    env = PettingZooWrapper(
        env=realism_env.parallel_env(n_nations=4, provinces_per_nation=2, max_cycles=50),
        use_mask=True,  # ("nation", "mask"): the nations still in play
        done_on_any=False,  # the episode ends when all nations are done
        seed=seed,  # seeds the world (reset(seed=...))
    )
    check_env_specs(env)
    torch.manual_seed(seed)  # seeds the random policy
    rollout = env.rollout(max_steps, break_when_any_done=False)  # resets when the episode ends
    env.close()
    return rollout


if __name__ == "__main__":
    rollout = main()
    print(rollout)
    played = rollout["nation", "mask"]
    print("every sampled action was valid:", bool(rollout["next", "nation", "info", "action_valid"][played].all()))
