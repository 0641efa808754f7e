"""PPO training throughput: the fast torch trainer next to stable-baselines3 (and, on request, SuperSuit).

    python -m train.throughput_benchmark [--n-worlds 64] [--n-steps 32] [--batch-size 2048] [--rounds 3]
                                          [--rollouts 2] [--supersuit] [--device cpu] [--json OUT]

Every path trains PPO with the same network (MLP 64-64, tanh), ``n_steps`` per slot, minibatch size, epochs,
learning rate and entropy bonus (``train.ppo``'s: 3e-4 and 0.01) and number of agent slots (``n_worlds`` worlds x
``n_nations`` nations), in one process with the same torch threads (``--torch-threads``, 1 by default as in both
trainers):

- **fast_ppo**: :class:`train.trainer.Trainer`, PPO written in torch over ``WorldBatch`` (the numpy backend on a CPU,
  torch on a GPU), rollout, GAE and updates on one device;
- **sb3**: what ``python -m train.ppo`` runs: ``sb3_contrib.MaskablePPO`` on :class:`train.vec_env.RealismVecEnv`;
- **supersuit** (``--supersuit``): the PettingZoo tutorial path, plain SB3 ``PPO`` on
  ``supersuit.pettingzoo_env_to_vec_env_v1`` then ``concat_vec_envs_v1(..., n_worlds, num_cpus=0)`` over
  ``realism_env.parallel_env`` with :class:`realism_env.wrappers.FixedAgentsWrapper` (SuperSuit needs every agent in
  every step) and a wrapper that hands PPO the flat observation (no action masks: the env plays a masked-out action
  as WAIT).

Rounds alternate the order of the paths after one warm-up round that is not counted; each round trains ``--rollouts``
rollouts of ``n_steps * slots`` agent-steps per path. Printed: the median over rounds of agent-steps per second of the
whole training loop (rollouts and updates) and of rollout collection alone, in wall time; the last line is
``speedup over stable-baselines3: N.Nx`` (fast_ppo's training agent-steps/s over sb3's). The line before it gives
a ceiling measured in the same run: the time of the network's forward and backward passes and Adam step over one
minibatch (on a copy of fast_ppo's network), which any PPO update of this network, batch and epochs must spend; with
fast_ppo's rollout time added, sb3's time per agent-step over that sum bounds the speedup any trainer could show.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import realism_env

#: Given to every path, so that all train toward the same objective (train.ppo's defaults; SB3's own entropy bonus is 0
#: and train.fast_ppo's defaults are 1e-3 and 0.001); the time does not depend on them.
LEARNING_RATE, ENT_COEF = 3e-4, 0.01


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


def sb3_models(args: argparse.Namespace, config: realism_env.EnvConfig) -> dict[str, Any]:
    """The stable-baselines3 paths: MaskablePPO on the native vector env (train.ppo's), and SuperSuit's if asked."""
    from sb3_contrib import MaskablePPO
    from stable_baselines3 import PPO
    from stable_baselines3.common.logger import Logger
    from stable_baselines3.common.utils import set_random_seed

    from train.vec_env import RealismVecEnv

    common = {
        "n_steps": args.n_steps,
        "batch_size": args.batch_size,
        "n_epochs": args.n_epochs,
        "learning_rate": LEARNING_RATE,
        "ent_coef": ENT_COEF,
        "policy_kwargs": {"net_arch": [64, 64], "activation_fn": _tanh()},
        "device": args.device,
        "verbose": 0,
    }
    env = RealismVecEnv(config, args.n_worlds, seed=args.seed)
    models = {"sb3": MaskablePPO("MlpPolicy", env, seed=args.seed, **common)}
    if args.supersuit:
        set_random_seed(args.seed)
        models["supersuit"] = PPO("MlpPolicy", supersuit_env(config, args.n_worlds), **common)
        if models["supersuit"].env.num_envs != env.num_envs:
            raise AssertionError(f"slot counts differ: {env.num_envs} and {models['supersuit'].env.num_envs}")
    for model in models.values():  # a logger with no output: SB3's default makes an empty folder in /tmp per run
        model.set_logger(Logger(None, []))
    return models


def _tanh() -> Any:
    from torch import nn

    return nn.Tanh


class FastPath:
    """The fast trainer, timed rollout by rollout (a device sync closes each timing)."""

    def __init__(self, args: argparse.Namespace, config: realism_env.EnvConfig) -> None:
        from train import fast_ppo
        from train.trainer import Trainer

        run_args = fast_ppo.Args(
            doctrine=args.doctrine,
            scenario=args.scenario,
            seed=args.seed,
            n_worlds=args.n_worlds,
            n_steps=args.n_steps,
            batch_size=args.batch_size,
            n_epochs=args.n_epochs,
            learning_rate=LEARNING_RATE,
            ent_coef=ENT_COEF,
            max_cycles=args.max_cycles,
            device=args.device,
            progress_bar=False,
            actor="mlp",  # SB3's network: the comparison is of the trainers, not the architectures
        )
        self.trainer = Trainer(run_args, config)
        self.slots = self.trainer.n_slots

    def measure(self, steps: int) -> dict[str, float]:
        import torch

        trainer, before = self.trainer, self.trainer.num_timesteps
        rollout_s = 0.0
        start = time.perf_counter()
        while trainer.num_timesteps - before < steps:
            collect_start = time.perf_counter()
            rollout = trainer.collect()
            if trainer.device.type == "cuda":
                torch.cuda.synchronize(trainer.device)
            rollout_s += time.perf_counter() - collect_start
            losses = trainer.update(rollout)
            float(losses["policy"])  # waits for the update, as the trainer's own loop does once per rollout
        wall = time.perf_counter() - start
        done = trainer.num_timesteps - before
        return {"steps": done, "wall_s": wall, "train": done / wall, "rollout": done / max(rollout_s, 1e-9)}


def network_seconds_per_minibatch(path: FastPath, batch_size: int, repeats: int = 30) -> float:
    """Wall seconds of the arithmetic no PPO update with this network can skip: the policy's and value network's
    forward and backward passes over one minibatch and one Adam step (no masked categorical, no losses), on a copy of
    the fast trainer's network (same shapes, same device and threads)."""
    import copy

    import torch

    agent = copy.deepcopy(path.trainer.agent)
    optimizer = torch.optim.Adam(agent.parameters(), lr=LEARNING_RATE, eps=1e-5)
    generator = torch.Generator(device=path.trainer.device).manual_seed(0)
    n_inputs = agent.shape["n_inputs"]
    inputs = torch.randn((batch_size, n_inputs), generator=generator, device=path.trainer.device)

    def once() -> None:
        loss = agent.actor(inputs).sum() + agent.value(inputs).sum()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(5):  # warm-up
        once()
    if path.trainer.device.type == "cuda":
        torch.cuda.synchronize(path.trainer.device)
    start = time.perf_counter()
    for _ in range(repeats):
        once()
    if path.trainer.device.type == "cuda":
        torch.cuda.synchronize(path.trainer.device)
    return (time.perf_counter() - start) / repeats


def speedup_ceiling(summary: dict[str, dict[str, float]], network_s: float, batch_size: int, epochs: int) -> float:
    """The most any trainer with fast_ppo's rollout could beat stable-baselines3 by with this network, batch and
    epochs: sb3's time per agent-step over fast_ppo's rollout time per agent-step plus the network's unavoidable
    arithmetic per agent-step (``epochs`` passes of forward, backward and Adam over each row)."""
    sb3_s = 1.0 / summary["sb3"]["train_agent_steps_per_s"]
    rollout_s = 1.0 / summary["fast_ppo"]["rollout_agent_steps_per_s"]
    return sb3_s / (rollout_s + epochs * network_s / batch_size)


def measure(model: Any, steps: int) -> dict[str, float]:
    """Train an SB3 model ``steps`` more agent-steps; agent-steps per second of the loop and of rollouts alone."""
    if isinstance(model, FastPath):
        return model.measure(steps)
    timer = _Timer()
    before = model.num_timesteps
    start = time.perf_counter()
    model.learn(steps, callback=timer, reset_num_timesteps=False)
    wall = time.perf_counter() - start
    done = model.num_timesteps - before
    return {"steps": done, "wall_s": wall, "train": done / wall, "rollout": done / max(timer.rollout_s, 1e-9)}


def run(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    torch.set_num_threads(args.torch_threads)
    config = realism_env.EnvConfig.from_scenario(args.scenario, doctrines=args.doctrine, max_cycles=args.max_cycles)
    paths: dict[str, Any] = {"fast_ppo": FastPath(args, config), **sb3_models(args, config)}
    slots = paths["fast_ppo"].slots
    steps = args.rollouts * args.n_steps * slots
    rounds: dict[str, list[dict[str, float]]] = {name: [] for name in paths}
    names = list(paths)
    for r in range(args.rounds + 1):
        order = names if r % 2 == 0 else names[::-1]
        for name in order:
            result = measure(paths[name], steps)
            if r > 0:  # round 0 warms up
                rounds[name].append(result)
        if r > 0 and not args.quiet:
            line = ", ".join(f"{n} {rounds[n][-1]['train']:,.0f}" for n in names)
            print(f"round {r}: training agent-steps/s {line}", file=sys.stderr)
    summary = {
        name: {
            "train_agent_steps_per_s": statistics.median(x["train"] for x in values),
            "rollout_agent_steps_per_s": statistics.median(x["rollout"] for x in values),
        }
        for name, values in rounds.items()
    }
    speedup = {
        key: summary["fast_ppo"][key] / summary["sb3"][key]
        for key in ("train_agent_steps_per_s", "rollout_agent_steps_per_s")
    }
    network_s = network_seconds_per_minibatch(paths["fast_ppo"], args.batch_size)
    return {
        "settings": {**vars(args), "slots": slots, "agent_steps_per_round": steps},
        "summary": summary,
        "speedup_over_sb3": speedup,
        "network_s_per_minibatch": network_s,
        "speedup_ceiling": speedup_ceiling(summary, network_s, args.batch_size, args.n_epochs),
        "rounds": rounds,
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m train.throughput_benchmark",
        description="PPO training throughput: the fast torch trainer next to stable-baselines3 (MaskablePPO).",
    )
    parser.add_argument("--scenario", default="multipolar", choices=sorted(realism_env.SCENARIOS))
    parser.add_argument("--doctrine", default="security", choices=realism_env.doctrine_names())
    parser.add_argument("--max-cycles", type=int, default=50, help="turns per episode (default: %(default)s)")
    parser.add_argument("--n-worlds", type=int, default=64, help="worlds (x nations = slots; default: %(default)s)")
    parser.add_argument("--n-steps", type=int, default=32, help="PPO turns per slot and rollout (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=2048, help="PPO minibatch (default: %(default)s)")
    parser.add_argument("--n-epochs", type=int, default=4, help="PPO epochs (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds per path (default: %(default)s)")
    parser.add_argument("--rollouts", type=int, default=2, help="rollouts per round and path (default: %(default)s)")
    parser.add_argument("--device", default="cpu", help="torch device of every path (default: %(default)s)")
    parser.add_argument("--torch-threads", type=int, default=1, help="torch CPU threads of every path (default: 1)")
    parser.add_argument("--supersuit", action="store_true", help="also time SuperSuit's vectorisation (plain PPO)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None, metavar="OUT", help="also write the results as JSON")
    parser.add_argument("--quiet", action="store_true", help="no per-round lines")
    return parser


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = build_parser()
    args = parser.parse_args(argv)
    for name in ("max_cycles", "n_worlds", "n_steps", "n_epochs", "rounds", "rollouts", "torch_threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')}={getattr(args, name)} is invalid; valid: an integer >= 1")
    if args.batch_size < 2:
        parser.error(f"--batch-size={args.batch_size} is invalid; valid: an integer >= 2")
    if args.seed < 0:
        parser.error(f"--seed={args.seed} is invalid; valid: an integer >= 0")
    from agents.evaluation_output import check_out_path
    from train.run_args import check_device

    try:  # before the minutes of measuring, not in a traceback after them
        check_device(args.device, auto=False)
        if args.json and Path(args.json).resolve().parent.is_dir():  # a missing folder is made when it is written
            check_out_path("--json", args.json)
    except ValueError as error:
        parser.error(str(error))
    result = run(args)
    s = result["settings"]
    print(
        f"PPO on {s['slots']} agent slots ({s['n_worlds']} worlds x {s['slots'] // s['n_worlds']} nations) on "
        f"{s['device']} ({s['torch_threads']} torch threads), n_steps {s['n_steps']}, minibatch {s['batch_size']}, "
        f"{s['n_epochs']} epochs, MLP 64-64; "
        f"median of {s['rounds']} alternating rounds, wall time"
    )
    print(f"{'path':<11}{'training agent-steps/s':>24}{'rollout-only agent-steps/s':>28}")
    for name, values in result["summary"].items():
        print(f"{name:<11}{values['train_agent_steps_per_s']:>24,.0f}{values['rollout_agent_steps_per_s']:>28,.0f}")
    if args.json:
        from train.checkpoint import atomic_write_json

        atomic_write_json(Path(args.json), result)
    speedup = result["speedup_over_sb3"]
    print(f"rollout collection alone: {speedup['rollout_agent_steps_per_s']:.1f}x stable-baselines3's")
    per_step_us = 1e6 * s["n_epochs"] * result["network_s_per_minibatch"] / s["batch_size"]
    print(
        f"the network's forward, backward and Adam step alone: {1e3 * result['network_s_per_minibatch']:.2f} ms a "
        f"minibatch, {per_step_us:.1f} us an agent-step over {s['n_epochs']} epochs; with fast_ppo's rollout, no "
        f"trainer of this network, batch and epochs could beat stable-baselines3 by more than "
        f"{result['speedup_ceiling']:.1f}x here"
    )
    print(f"speedup over stable-baselines3: {speedup['train_agent_steps_per_s']:.1f}x")
    return result


if __name__ == "__main__":
    main()
