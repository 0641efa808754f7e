"""Train one shared policy for every nation with PPO (MaskablePPO by default) on the shared-policy vector env.

Usage::

    python -m train.ppo --doctrine security --scenario multipolar --timesteps 200000 --seed 0 --out runs/sec0
    python -m train.ppo --doctrine mixed --set offense_defense_balance=2.0 --set conquest_payoff=0.8 --out runs/mix
    python -m train.ppo ... --resume          # continue a killed run from its last checkpoint
    python -m train.ppo --help                # every option, with its default

``--doctrine security|power`` gives every nation that doctrine; ``mixed`` alternates them
(:func:`realism_env.mixed_doctrines`: nation 0 security, nation 1 power, ...) and adds a doctrine indicator to the
observation (:func:`realism_env.doctrine_onehot`) so one network serves both. A mix of one's own joins registered
doctrines with ``+`` (``--doctrine security+prosperity``: the nations take them in turn, nation 0 the first).

Writes into ``--out``:

- ``model.zip``: the final SB3 model (``MaskablePPO.load`` / ``PPO.load``), optimiser state included;
- ``config.json``: the arguments and the full ``EnvConfig``; ``metrics.json``: the training summary (mean episode
  return and reward terms per doctrine, behaviour metrics of finished episodes, steps, wall time, agent-steps/s,
  a learning curve), rewritten at the end and at each interruption;
- ``tb/``: TensorBoard logs (``tensorboard --logdir DIR/tb``); ``checkpoints/``: the last checkpoints and
  ``latest.json`` (see :mod:`train.checkpoint`).

Timesteps count agent-steps (one per nation slot and turn) and are rounded up to whole rollouts of
``n_steps * n_worlds * n_nations``. ``--resume`` continues with the step count, weights, optimiser and RNG states of the
last checkpoint and with the episodes under way (:func:`episodes_state`): from a periodic checkpoint the run goes on
bit for bit, metrics.json's episode summaries included (a checkpoint written on SIGTERM, mid-rollout, or before
checkpoints held episodes restarts them from fresh worlds of the run's map bank, and the resumed run's periodic
checkpoints hold the episodes again; one written before they held the turns recorded for the behaviour metrics leaves
the episodes under way out of those); without a checkpoint it starts afresh. Re-running a finished run only reports
it, where its model and ``config.json`` read whole (one gone or truncated since: ``--resume`` writes them again from
the last checkpoint, at the run's end, without training a step); ``--resume`` with a larger ``--timesteps`` extends
it. A resume takes the run's settings; its world is compared as the EnvConfig it resolves to, so ``--set`` in another
order or spelling (``--max-cycles 20`` for ``--set max_cycles=20``) is the same run.
A checkpoint holds its run's record, so one copied in from another run is refused by name, as is a run whose
checkpoints are all unreadable (rather than trained again from step 0 over it). SIGTERM or Ctrl-C saves a checkpoint
and exits with 128 + the signal number.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import realism_env
from agents.plugins import add_import_option, import_plugins
from realism_env import EnvConfig
from train.checkpoint import (
    atomic_write_json,
    library_versions,
    read_arrays,
    restore_rng,
    save_checkpoint,
)
from train.cli import dataclass_parser
from train.run_args import PPOArgs, arg, check_args, net_arch, parse_run_args
from train.run_folder import (
    RUN_RECORD,
    WRITABLE_OUT,
    StopRequest,
    check_run_dir,
    finished,
    os_error_exit,
    run_lock,
    run_record,
    stopped,
)

ALGOS = ("maskable_ppo", "ppo")


@dataclass
class Args(PPOArgs):
    """Command-line arguments of ``python -m train.ppo``."""

    algo: str = arg("maskable_ppo", "maskable_ppo (invalid actions masked out) or plain ppo", choices=ALGOS)


def build_parser() -> argparse.ArgumentParser:
    """An argparse parser with one option per field of :class:`Args` (help and default from the field), and
    ``--import``."""
    parser = dataclass_parser(Args, "python -m train.ppo", __doc__.split("\n\n")[0])
    add_import_option(parser)
    return parser


def parse_args(argv: list[str] | None = None) -> tuple[Args, EnvConfig]:
    """Parse and validate ``argv``; exits with status 2 and a message naming what is wrong and what is valid."""
    import_plugins(argv, "python -m train.ppo")
    return parse_run_args(argv, build_parser(), Args, check_args)


def _algo(name: str) -> type:
    if name == "maskable_ppo":
        from sb3_contrib import MaskablePPO

        return MaskablePPO
    from stable_baselines3 import PPO

    return PPO


def build_model(args: Args, env: Any) -> Any:
    """A fresh model of ``args.algo`` with the arguments' hyperparameters."""
    return _algo(args.algo)(
        "MlpPolicy",
        env,
        n_steps=args.n_steps,
        batch_size=args.batch_size,
        n_epochs=args.n_epochs,
        learning_rate=args.learning_rate,
        gamma=args.gamma,
        gae_lambda=args.gae_lambda,
        clip_range=args.clip_range,
        ent_coef=args.ent_coef,
        vf_coef=args.vf_coef,
        max_grad_norm=args.max_grad_norm,
        policy_kwargs={"net_arch": net_arch(args)},
        seed=args.seed,
        device=args.device,
        verbose=0,
    )


def load_model(args: Args, env: Any, path: Path, state: dict[str, Any], tracker: Any) -> Any:
    """The checkpointed model (weights, optimiser, step count) on ``env``, with the RNG states put back and the
    episodes under way where the checkpoint holds them (:func:`episodes_state`), their recorded turns back in
    ``tracker`` (a :class:`train.callbacks.WorldEpisodeTracker`); otherwise (a checkpoint written on a signal, or
    before checkpoints held episodes) fresh worlds drawn from the env's restored generator."""
    model = _algo(args.algo).load(path, env=env, device=args.device)
    restore_rng(state["rng"], env.batch.random)
    episodes = read_arrays(path, state).get("episodes")
    if episodes is not None:
        try:
            env.load_state_dict(episodes["env"])
        except (ValueError, KeyError) as error:
            print(f"the episodes under way restart from fresh worlds: {error}", file=sys.stderr)
        else:
            model._last_obs = np.asarray(episodes["last_obs"], dtype=np.float32)
            model._last_episode_starts = np.asarray(episodes["last_episode_starts"], dtype=bool)
            if "recorders" in episodes:  # else (a checkpoint written before it held them) the tracker joins late
                try:
                    tracker.load_state_dict(episodes["recorders"], env.batch.world)
                except ValueError as error:
                    print(f"the behaviour metrics leave out the episodes under way: {error}", file=sys.stderr)
            return model
    # SB3's load queued the run's seed for the next reset, which would make a new map bank: drop it, so the fresh
    # worlds come from the map bank of --seed that every later resume builds (its checkpoints' episodes then fit).
    env._reset_seeds()
    model._last_obs = env.reset()
    model._last_episode_starts = np.ones(env.num_envs, dtype=bool)
    return model


def episodes_state(model: Any, env: Any, tracker: Any) -> dict[str, Any]:
    """The episodes under way, for a checkpoint: the env's worlds and bookkeeping
    (:meth:`train.vec_env.RealismVecEnv.state_dict`), SB3's last observations and episode starts, from which its
    next rollout goes on, and the turns of them that ``tracker`` recorded for their behaviour metrics
    (:meth:`train.callbacks.WorldEpisodeTracker.state_dict`), where it records."""
    state = {
        "env": env.state_dict(),
        "last_obs": np.array(model._last_obs, copy=True),
        "last_episode_starts": np.array(model._last_episode_starts, copy=True),
    }
    if tracker.recording:
        state["recorders"] = tracker.state_dict()
    return state


def train(args: Args, config: EnvConfig) -> int:
    """Train (or resume, or report) the run of ``args``; returns the process exit status."""
    import torch
    from stable_baselines3.common.logger import configure

    from train.callbacks import PeriodicCheckpoint, RealismLogger, TqdmProgress
    from train.vec_env import RealismVecEnv

    out = Path(args.out)
    checkpoints = out / "checkpoints"
    record = run_record(args, config)
    found = check_run_dir(args, record)
    if isinstance(found, str):
        print(found)
        return 0
    out.mkdir(parents=True, exist_ok=True)
    versions = library_versions("stable_baselines3", "sb3_contrib", "torch")
    atomic_write_json(out / "config.json", {**record, "versions": versions})
    torch.set_num_threads(args.torch_threads)
    indicator = realism_env.is_population(args.doctrine)  # a mix: each nation reads its own doctrine's one-hot
    env = RealismVecEnv(config, n_worlds=args.n_worlds, seed=args.seed, doctrine_indicator=indicator)
    state: dict[str, Any] = {}
    log = RealismLogger(config, args.n_worlds)
    if found is not None:
        path, state = found
        model = load_model(args, env, path, state, log.tracker)
        print(f"resuming {out} from {path.name} at {model.num_timesteps} timesteps", file=sys.stderr)
    else:
        model = build_model(args, env)
    model.set_logger(configure(str(out / "tb"), ["tensorboard"]))

    log.load_state_dict(state.get("logger", {}))
    start_steps = int(model.num_timesteps)
    wall_before = float(state.get("total_wall_time_s", 0.0))
    start = time.perf_counter()

    def summary(finished: bool) -> dict[str, Any]:
        wall = time.perf_counter() - start
        return {
            "finished": finished,
            "algo": args.algo,
            "doctrine": args.doctrine,
            "scenario": args.scenario,
            "seed": args.seed,
            "target_timesteps": args.timesteps,
            "num_timesteps": int(model.num_timesteps),
            "start_timesteps": start_steps,
            "resumed": bool(state),
            "n_slots": env.num_envs,
            "rollout_size": args.n_steps * env.num_envs,
            "updates": int(getattr(model, "_n_updates", 0)),
            "wall_time_s": wall,
            "total_wall_time_s": wall_before + wall,
            "agent_steps_per_s": (model.num_timesteps - start_steps) / max(wall, 1e-9),
            **log.summary(),
            "curve": log.curve,
        }

    def checkpoint(episodes: bool = True) -> Path:
        extra = {"logger": log.state_dict(), "total_wall_time_s": wall_before + time.perf_counter() - start}
        extra[RUN_RECORD] = record  # which run the checkpoint is of (check_run_dir)
        if episodes:
            extra["episodes"] = episodes_state(model, env, log.tracker)
        return save_checkpoint(model, checkpoints, extra, env_rng=env.batch.random, keep=args.keep_checkpoints)

    with StopRequest() as stop:
        callbacks = [log, PeriodicCheckpoint(args.checkpoint_every, checkpoint, stop)]
        remaining = max(args.timesteps - model.num_timesteps, 0)
        if args.progress_bar:
            rollout = args.n_steps * env.num_envs
            callbacks.append(TqdmProgress(model.num_timesteps + -(-remaining // rollout) * rollout, log))
        model.learn(remaining, callback=callbacks, reset_num_timesteps=False, progress_bar=False)
        # A stop ends SB3's rollout after a step whose observations it has not kept (its last observation is the
        # one before): that checkpoint leaves the episodes out, and a resume restarts them.
        path = checkpoint(episodes=stop.signum is None)
        env.close()
        if stop.signum is not None:  # written while the stop handler still holds SIGTERM: a second signal waits
            return stopped(out, stop.signum, path, summary(finished=False))
    buffer = io.BytesIO()
    model.save(buffer)
    return finished(out, "model.zip", buffer.getvalue(), summary(finished=True), args.imports)


def main(argv: list[str] | None = None) -> int:
    args, config = parse_args(argv)
    try:
        with run_lock(Path(args.out)):
            return train(args, config)
    except OSError as error:
        raise os_error_exit(error, WRITABLE_OUT) from None


if __name__ == "__main__":
    sys.exit(main())
