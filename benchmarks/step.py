"""Step throughput of realism_env next to PettingZoo's MPE simple_spread_v3, in one process.

    python -m benchmarks.step [--rounds 300] [--chunk 25] [--scenario multipolar]

Both envs run through the same harness: a ParallelEnv stepped with random actions (masked for
realism_env, sampled from the action space for MPE, which has no mask), resetting when an episode
ends. Each env keeps running one long trajectory; the two take turns in short chunks (``--chunk``
parallel steps each, ``--rounds`` times, the first of each round alternating), so a slow spell of a
shared machine hits both alike and cancels out of the ratio. Time is the process's CPU time. The
ratio realism_env / MPE is printed for parallel steps (one ``step()`` call, all agents) and for agent
steps (one agent's action), with the ratio of each quarter of the run to show how steady it was.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

import realism_env


def random_masked_actions(env, observations: dict, rng: np.random.Generator) -> dict:
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


class Runner:
    """One env on one long trajectory of random (masked) actions, timed chunk by chunk."""

    def __init__(self, make_env: Callable[[], object], seed: int) -> None:
        self.env = make_env()
        self.rng = np.random.default_rng(seed)
        self.observations, _ = self.env.reset(seed=seed)

    def run(self, steps: int) -> tuple[int, float]:
        """Advance ``steps`` parallel steps; returns (agent steps, CPU seconds) of this chunk."""
        env, observations, agent_steps = self.env, self.observations, 0
        start = time.process_time()  # CPU time of this process: steadier than wall time on a shared machine
        for _ in range(steps):
            if not env.agents:
                observations, _ = env.reset()
            agent_steps += len(env.agents)
            observations, *_ = env.step(random_masked_actions(env, observations, self.rng))
        elapsed = time.process_time() - start
        self.observations = observations
        return agent_steps, elapsed


def compare(
    make_ours: Callable[[], object], make_reference: Callable[[], object], rounds: int, chunk: int, seed: int = 0
) -> dict[str, float | list[float]]:
    """Interleave the two envs chunk by chunk; throughputs over the whole run and per quarter."""
    runners = (Runner(make_ours, seed), Runner(make_reference, seed))
    for runner in runners:
        runner.run(chunk)  # warm-up (first calls, caches), not counted
    # quarters[q][e]: (agent steps, CPU seconds) of env e (0: ours, 1: the reference) in quarter q of the run
    quarters = np.zeros((4, 2, 2))
    for round_index in range(rounds):
        quarter = min(4 * round_index // rounds, 3)
        # Alternate which env goes first, so neither always runs right after the other (an order bias).
        for e in (0, 1) if round_index % 2 == 0 else (1, 0):
            quarters[quarter, e] += runners[e].run(chunk)
    for runner in runners:
        runner.env.close()
    (ours_agent_steps, ours_seconds), (reference_agent_steps, reference_seconds) = quarters.sum(axis=0)
    steps = rounds * chunk
    counted = quarters[:, 0, 1] > 0
    return {
        "ours_steps_per_s": steps / ours_seconds,
        "ours_agent_steps_per_s": ours_agent_steps / ours_seconds,
        "reference_steps_per_s": steps / reference_seconds,
        "reference_agent_steps_per_s": reference_agent_steps / reference_seconds,
        "parallel_ratio": reference_seconds / ours_seconds,
        "agent_ratio": (ours_agent_steps / ours_seconds) / (reference_agent_steps / reference_seconds),
        "parallel_ratio_by_quarter": (quarters[counted, 1, 1] / quarters[counted, 0, 1]).tolist(),
    }


def main(argv: list[str] | None = None) -> dict[str, float | list[float]]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=300, help="chunks of each env, taken in turn")
    parser.add_argument("--chunk", type=int, default=25, help="parallel steps per chunk")
    parser.add_argument("--scenario", default="multipolar", choices=sorted(realism_env.SCENARIOS))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.chunk < 1:
        parser.error(f"--rounds and --chunk must be >= 1; got {args.rounds} and {args.chunk}")
    if args.seed < 0:
        parser.error(f"--seed {args.seed} is invalid; valid: an integer >= 0")
    from mpe2 import simple_spread_v3

    result = compare(
        lambda: realism_env.parallel_env(scenario=args.scenario),
        simple_spread_v3.parallel_env,
        args.rounds,
        args.chunk,
        args.seed,
    )
    ours_name = f"{realism_env.NAME} ({args.scenario})"
    print(f"{'env':<34}{'parallel steps/s':>18}{'agent steps/s':>16}")
    print(f"{ours_name:<34}{result['ours_steps_per_s']:>18,.0f}{result['ours_agent_steps_per_s']:>16,.0f}")
    reference = "mpe2 simple_spread_v3"
    print(f"{reference:<34}{result['reference_steps_per_s']:>18,.0f}{result['reference_agent_steps_per_s']:>16,.0f}")
    quarters = ", ".join(f"{r:.2f}" for r in result["parallel_ratio_by_quarter"])
    print(
        f"ratio realism_env / MPE: {result['parallel_ratio']:.2f}x parallel steps (quarters: {quarters}), "
        f"{result['agent_ratio']:.2f}x agent steps"
    )
    return result


if __name__ == "__main__":
    main()
