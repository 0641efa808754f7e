"""The fixed-agent wrapper: eliminated nations stay in ``agents`` as inactive until the episode ends for all.

PettingZoo's own ``parallel_api_test`` checks the wrapped env; then a short episode shows the inactive nations.
"""

from __future__ import annotations

import numpy as np
from pettingzoo.test import parallel_api_test

import realism_env
from realism_env.wrappers import NOOP_ACTION, FixedAgentsWrapper


def main(max_turns: int = 200, seed: int = 0) -> dict[str, int]:
    parallel_api_test(FixedAgentsWrapper(realism_env.parallel_env(n_nations=3)), num_cycles=50)

    env = FixedAgentsWrapper(realism_env.parallel_env(n_nations=3, provinces_per_nation=2, max_cycles=max_turns))
    observations, infos = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    inactive_turns = {agent: 0 for agent in env.possible_agents}
    for _ in range(max_turns):
        if not env.agents:
            break
        assert env.agents == env.possible_agents  # nobody leaves before the end
        actions = {a: int(rng.choice(np.flatnonzero(observations[a]["action_mask"]))) for a in env.agents}
        observations, rewards, terminations, truncations, infos = env.step(actions)
        for agent in env.possible_agents:
            if env.agents and not infos[agent]["active"]:  # eliminated, the episode going on for others
                inactive_turns[agent] += 1
                assert not observations[agent]["observation"].any() and not terminations[agent]
                assert np.flatnonzero(observations[agent]["action_mask"]).tolist() == [NOOP_ACTION]
    env.close()
    return inactive_turns


if __name__ == "__main__":
    print("turns spent inactive per nation:", main())
