"""PPO training throughput on the native shared-policy vector env next to SuperSuit's vectorisation of the same env.

    python -m train.throughput_benchmark [--n-worlds 8] [--n-steps 64] [--max-cycles 50] [--rounds 5]
                                          [--rollouts 2] [--doctrine security] [--json OUT]

Both paths train the same stable-baselines3 ``PPO`` (plain PPO: SuperSuit's vector env has no action masks; the env
plays a masked-out action as WAIT on both paths) with the same hyperparameters, network (MLP 64-64), ``n_steps`` per
slot and number of agent slots (``n_worlds`` worlds x ``n_nations`` nations), in one process with one torch thread:

- **native**: :class:`train.vec_env.RealismVecEnv`, every slot of every world stepped as one batched transition;
- **supersuit**: the PettingZoo tutorial path, ``supersuit.pettingzoo_env_to_vec_env_v1`` then
  ``concat_vec_envs_v1(..., n_worlds, num_cpus=0, base_class="stable_baselines3")`` over ``realism_env.parallel_env``,
  with :class:`realism_env.wrappers.FixedAgentsWrapper` (SuperSuit needs every agent in every step: eliminated nations
  stay as inactive agents) and a small wrapper that hands PPO the flat observation vector (SuperSuit's Markov vector
  env takes Box observations; the mask is dropped).

Rounds alternate the two paths (native first in even rounds, SuperSuit first in odd ones) after one warm-up round
that is not counted; each round trains ``--rollouts`` rollouts of ``n_steps * slots`` agent-steps per path. Printed:
the median over rounds of agent-steps per second for the whole training loop (rollout collection and PPO updates)
and for rollout collection alone, and the ratio native / SuperSuit of each. Wall time (``time.perf_counter``).

SuperSuit's ``ConcatVecEnv`` lacks the ``seed`` method that SB3 >= 2 calls when a model is given a seed (and that its
own SB3 wrapper's ``reset(seed=...)`` calls), so the SuperSuit model is built without one, after seeding torch, numpy
and Python with the same seed; its worlds draw fresh entropy. Throughput does not depend on the seed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

import realism_env


def flat_observation_env(env: Any) -> Any:
    """A ParallelEnv that returns ``observation["observation"]`` (the flat vector) and empty infos."""
    from pettingzoo.utils.wrappers import BaseParallelWrapper

    class FlatObservation(BaseParallelWrapper):
        def __init__(self, inner: Any) -> None:
            super().__init__(inner)
            self._space = inner.observation_space(inner.possible_agents[0])["observation"]

        def observation_space(self, agent: str) -> Any:
            return self._space

        def reset(self, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
            observations, infos = self.env.reset(seed=seed, options=options)
            return {a: o["observation"] for a, o in observations.items()}, {a: {} for a in infos}

        def step(self, actions: dict) -> tuple[dict, dict, dict, dict, dict]:
            observations, rewards, terminations, truncations, infos = self.env.step(actions)
            flat = {a: o["observation"] for a, o in observations.items()}
            return flat, rewards, terminations, truncations, {a: {} for a in infos}

    return FlatObservation(env)


def supersuit_env(config: realism_env.EnvConfig, n_worlds: int) -> Any:
    """The PettingZoo-tutorial vectorisation: one Markov vector env per world, concatenated for SB3."""
    import supersuit as ss

    from realism_env.wrappers import FixedAgentsWrapper

    env = flat_observation_env(FixedAgentsWrapper(realism_env.parallel_env(config)))
    vec = ss.pettingzoo_env_to_vec_env_v1(env)
    return ss.concat_vec_envs_v1(vec, n_worlds, num_cpus=0, base_class="stable_baselines3")


class _Timer:
    """An SB3 callback that sums the wall time spent collecting rollouts."""

    def __new__(cls) -> Any:
        from stable_baselines3.common.callbacks import BaseCallback

        class Timer(BaseCallback):
            def __init__(self) -> None:
                super().__init__()
                self.rollout_s = 0.0
                self._start = 0.0

            def _on_rollout_start(self) -> None:
                self._start = time.perf_counter()

            def _on_rollout_end(self) -> None:
                self.rollout_s += time.perf_counter() - self._start

            def _on_step(self) -> bool:
                return True

        return Timer()


def build_models(args: argparse.Namespace) -> dict[str, Any]:
    """The two PPO models, same hyperparameters, same slots."""
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.utils import set_random_seed

    from train.vec_env import RealismVecEnv

    torch.set_num_threads(1)
    config = realism_env.EnvConfig.from_scenario(args.scenario, doctrines=args.doctrine, max_cycles=args.max_cycles)
    common = {
        "n_steps": args.n_steps,
        "batch_size": args.batch_size,
        "n_epochs": args.n_epochs,
        "policy_kwargs": {"net_arch": [64, 64]},
        "device": "cpu",
        "verbose": 0,
    }
    native = PPO("MlpPolicy", RealismVecEnv(config, args.n_worlds, seed=args.seed), seed=args.seed, **common)
    set_random_seed(args.seed)
    supersuit = PPO("MlpPolicy", supersuit_env(config, args.n_worlds), **common)
    if native.env.num_envs != supersuit.env.num_envs:
        raise AssertionError(f"slot counts differ: {native.env.num_envs} and {supersuit.env.num_envs}")
    return {"native": native, "supersuit": supersuit}


def measure(model: Any, steps: int) -> dict[str, float]:
    """Train ``steps`` more agent-steps; agent-steps per second of the loop and of rollout collection alone."""
    timer = _Timer()
    before = model.num_timesteps
    start = time.perf_counter()
    model.learn(steps, callback=timer, reset_num_timesteps=False)
    wall = time.perf_counter() - start
    done = model.num_timesteps - before
    return {"steps": done, "wall_s": wall, "train": done / wall, "rollout": done / max(timer.rollout_s, 1e-9)}


def run(args: argparse.Namespace) -> dict[str, Any]:
    models = build_models(args)
    slots = models["native"].env.num_envs
    steps = args.rollouts * args.n_steps * slots
    rounds: dict[str, list[dict[str, float]]] = {name: [] for name in models}
    for r in range(args.rounds + 1):
        order = ["native", "supersuit"] if r % 2 == 0 else ["supersuit", "native"]
        for name in order:
            result = measure(models[name], steps)
            if r > 0:  # round 0 warms up
                rounds[name].append(result)
        if r > 0 and not args.quiet:
            line = ", ".join(f"{n} {rounds[n][-1]['train']:.0f}" for n in models)
            print(f"round {r}: agent-steps/s {line}", file=sys.stderr)
    summary = {
        name: {
            "train_agent_steps_per_s": statistics.median(x["train"] for x in values),
            "rollout_agent_steps_per_s": statistics.median(x["rollout"] for x in values),
        }
        for name, values in rounds.items()
    }
    ratio = {
        key: summary["native"][key] / summary["supersuit"][key]
        for key in ("train_agent_steps_per_s", "rollout_agent_steps_per_s")
    }
    return {
        "settings": {**vars(args), "slots": slots, "agent_steps_per_round": steps},
        "summary": summary,
        "ratio_native_over_supersuit": ratio,
        "rounds": rounds,
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m train.throughput_benchmark",
        description="PPO training throughput: native RealismVecEnv vs SuperSuit's vectorisation of the same env.",
    )
    parser.add_argument("--scenario", default="multipolar", choices=sorted(realism_env.SCENARIOS))
    parser.add_argument("--doctrine", default="security", choices=realism_env.doctrine_names())
    parser.add_argument("--max-cycles", type=int, default=50, help="turns per episode (default: %(default)s)")
    parser.add_argument("--n-worlds", type=int, default=8, help="worlds (x nations = slots; default: %(default)s)")
    parser.add_argument("--n-steps", type=int, default=64, help="PPO n_steps per slot (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=512, help="PPO minibatch (default: %(default)s)")
    parser.add_argument("--n-epochs", type=int, default=4, help="PPO epochs (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=5, help="measured rounds per path (default: %(default)s)")
    parser.add_argument("--rollouts", type=int, default=2, help="rollouts per round and path (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None, metavar="OUT", help="also write the results as JSON")
    parser.add_argument("--quiet", action="store_true", help="no per-round lines")
    return parser


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = build_parser().parse_args(argv)
    for name in ("max_cycles", "n_worlds", "n_steps", "batch_size", "n_epochs", "rounds", "rollouts"):
        if getattr(args, name) < 1:
            build_parser().error(f"--{name.replace('_', '-')} must be >= 1")
    result = run(args)
    s = result["settings"]
    print(
        f"PPO on {s['slots']} agent slots ({s['n_worlds']} worlds x {s['slots'] // s['n_worlds']} nations), "
        f"n_steps {s['n_steps']}, max_cycles {s['max_cycles']}; median of {s['rounds']} alternating rounds"
    )
    print(f"{'path':<11}{'training agent-steps/s':>24}{'rollout-only agent-steps/s':>28}")
    for name, values in result["summary"].items():
        print(f"{name:<11}{values['train_agent_steps_per_s']:>24.0f}{values['rollout_agent_steps_per_s']:>28.0f}")
    ratio = result["ratio_native_over_supersuit"]
    print(
        f"ratio native / supersuit: training {ratio['train_agent_steps_per_s']:.2f}x, "
        f"rollout collection {ratio['rollout_agent_steps_per_s']:.2f}x"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1, default=lambda x: np.asarray(x).tolist()) + "\n")
    return result


if __name__ == "__main__":
    main()
