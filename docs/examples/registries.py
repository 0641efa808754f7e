"""Registries: PettingZoo's (``pettingzoo.make``, PettingZoo >= 1.27) and gymnasium's (the single-learner env).

Importing ``realism_env`` registers every id. Gymnasium 1.0 removed the plugin system through which an installed
package could register ids at ``import gymnasium``: with gymnasium alone, name the module in the id
(``"realism_env:realism_env/SingleLearner-v2"``) and gymnasium imports it first.
"""

from __future__ import annotations

import gymnasium
import pettingzoo

import realism_env

gymnasium.register_envs(realism_env)  # a no-op that says why realism_env is imported: it registers the ids


def main(seed: int = 0) -> dict[str, object]:
    parallel = pettingzoo.make("parallel", "realism_env/realism-v2", n_nations=4, max_cycles=20)
    aec = pettingzoo.make("aec", "realism_env/realism-v2", n_nations=4, max_cycles=20)
    fixed = pettingzoo.make("parallel", "realism_env/realism_fixed_agents-v2", n_nations=4, max_cycles=20)
    single = gymnasium.make("realism_env/SingleLearner-v2", max_cycles=20)
    parallel.reset(seed=seed)
    aec.reset(seed=seed)
    fixed.reset(seed=seed)
    single.reset(seed=seed)
    return {"parallel": parallel, "aec": aec, "fixed_agents": fixed, "single_learner": single}


if __name__ == "__main__":
    for name, env in main().items():
        print(f"{name}: {env}")
