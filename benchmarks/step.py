"""Step throughput of realism_env next to PettingZoo's MPE simple_spread_v3, in one process.

    python -m benchmarks.step [--steps 3000] [--repeats 3] [--scenario multipolar]

Both envs run through the same harness: a ParallelEnv stepped with random actions (masked for
realism_env, sampled from the action space for MPE, which has no mask), resetting when an episode
ends. Time is the process's CPU time (single-threaded work; steadier than wall time when other
processes share the machine). Repeats alternate between the two so machine noise hits both alike; the
best repeat of each is reported, with the ratio realism_env / MPE.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

import realism_env


def random_masked_actions(env, observations: dict, rng: np.random.Generator) -> dict:  # noqa: ANN001
    """Uniform over each agent's valid actions (the mask where there is one)."""
    actions = {}
    for agent in env.agents:
        obs = observations[agent]
        if isinstance(obs, dict) and "action_mask" in obs:
            valid = np.flatnonzero(obs["action_mask"])
            actions[agent] = int(valid[rng.integers(valid.size)])
        else:
            actions[agent] = int(rng.integers(env.action_space(agent).n))
    return actions


def measure(make_env: Callable[[], object], steps: int, seed: int) -> tuple[float, float]:
    """(parallel steps per second, agent steps per second) over ``steps`` parallel steps."""
    env = make_env()
    rng = np.random.default_rng(seed)
    observations, _ = env.reset(seed=seed)
    agent_steps = 0
    start = time.process_time()  # CPU time of this process: steadier than wall time on a shared machine
    for _ in range(steps):
        if not env.agents:
            observations, _ = env.reset()
        agent_steps += len(env.agents)
        observations, *_ = env.step(random_masked_actions(env, observations, rng))
    elapsed = time.process_time() - start
    env.close()
    return steps / elapsed, agent_steps / elapsed


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=3000, help="parallel steps per measurement")
    parser.add_argument("--repeats", type=int, default=3, help="alternating measurements of each env")
    parser.add_argument("--scenario", default="multipolar", choices=sorted(realism_env.SCENARIOS))
    args = parser.parse_args(argv)
    from mpe2 import simple_spread_v3

    envs = {
        f"realism_v0 ({args.scenario})": lambda: realism_env.parallel_env(scenario=args.scenario),
        "mpe2 simple_spread_v3": lambda: simple_spread_v3.parallel_env(),
    }
    best: dict[str, tuple[float, float]] = {}
    for repeat in range(args.repeats):
        for name, make in envs.items():
            result = measure(make, args.steps, seed=repeat)
            if name not in best or result[0] > best[name][0]:
                best[name] = result
    print(f"{'env':<34}{'parallel steps/s':>18}{'agent steps/s':>16}")
    for name, (steps_per_s, agent_steps_per_s) in best.items():
        print(f"{name:<34}{steps_per_s:>18,.0f}{agent_steps_per_s:>16,.0f}")
    ours, mpe = (v[0] for v in best.values())
    ours_agents, mpe_agents = (v[1] for v in best.values())
    print(f"ratio realism_env / MPE: {ours / mpe:.2f}x parallel steps, {ours_agents / mpe_agents:.2f}x agent steps")
    return {"parallel_ratio": ours / mpe, "agent_ratio": ours_agents / mpe_agents}


if __name__ == "__main__":
    main()
