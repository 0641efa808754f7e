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
import contextlib
import io
import json
import shlex
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

import realism_env
from agents.plugins import add_import_option, doctrines_differ, import_plugins, own_name_hint, source_digests
from agents.policies import without_counterpart
from realism_env import SCENARIOS, EnvConfig
from realism_env.files import folder_problem
from realism_env.overrides import parse_overrides
from train.checkpoint import (
    RUN_LOCK,
    atomic_write_bytes,
    atomic_write_json,
    find_latest,
    folder_lock,
    library_versions,
    read_arrays,
    read_json,
    readable_model,
    restore_rng,
    save_checkpoint,
    unreadable_checkpoints,
)
from train.cli import check_numbers, dataclass_parser

#: The doctrine conditions built in: each of the two doctrines, and both alternating (realism_env.mixed_doctrines).
DOCTRINE_CHOICES = ("security", "power", realism_env.MIXED)


def read_mix(doctrine: str) -> str | None:
    """``--doctrine``'s value beyond :func:`doctrine_choices`: a mix of registered doctrines joined by ``+``, checked
    (``ValueError`` says what is wrong); ``None`` for any other value (refused as an unknown choice)."""
    if realism_env.MIX_SEPARATOR not in doctrine:
        return None
    realism_env.doctrine_cycle(doctrine)
    return doctrine


def check_condition(doctrine: str, where: str = "--doctrine") -> None:
    """``ValueError`` unless ``doctrine`` is a condition a run can train: one of :func:`doctrine_choices`, or a mix of
    registered doctrines (:func:`read_mix`)."""
    if doctrine in doctrine_choices():
        return
    try:
        read = read_mix(doctrine)
    except ValueError as error:
        raise ValueError(f"{where} {doctrine}: {error}") from None
    if read is None:
        raise ValueError(
            f"{where} {doctrine!r} is unknown; valid: {', '.join(doctrine_choices())}, or a mix of these doctrines "
            f"joined by {realism_env.MIX_SEPARATOR!r} (e.g. security+prosperity; {own_name_hint('doctrine')})"
        )


def doctrine_choices() -> tuple[str, ...]:
    """``--doctrine``'s choices: :data:`DOCTRINE_CHOICES`, then every other registered doctrine (``--import``)."""
    return DOCTRINE_CHOICES + tuple(d for d in realism_env.doctrine_names() if d not in DOCTRINE_CHOICES)


def scenario_choices() -> tuple[str, ...]:
    """``--scenario``'s choices: every registered scenario (``--import`` may add some)."""
    return tuple(sorted(SCENARIOS))


ALGOS = ("maskable_ppo", "ppo")


def _arg(default: Any, help: str, **kwargs: Any) -> Any:
    return field(default=default, metadata={"help": help, **kwargs})


@dataclass
class PPOArgs:
    """PPO's command-line arguments, declared once for ``train.ppo`` (:class:`Args`) and ``train.fast_ppo``, which
    takes the same flags where they mean the same (it overrides some defaults and adds its own)."""

    doctrine: str = _arg(
        "security",
        "reward of every nation; mixed alternates security and power (nation 0 security); or a doctrine of your own "
        "registered by --import; or a mix of registered doctrines joined by + (e.g. security+prosperity: the nations "
        "take them in turn, nation 0 the first)",
        choices=doctrine_choices,
        unknown=own_name_hint("doctrine") + ", on a resume too; a mix: doctrines joined by +",
        other=read_mix,
    )
    scenario: str = _arg(
        "multipolar",
        "scenario preset (realism_env.SCENARIOS)",
        choices=scenario_choices,
        unknown=own_name_hint("scenario") + ", on a resume too",
    )
    timesteps: int = _arg(200_000, "total agent-steps to train for (rounded up to whole rollouts)")
    seed: int = _arg(0, "seed of the env's worlds and of the network's initialisation")
    out: str = _arg("runs/ppo", "output directory (model.zip, config.json, metrics.json, tb/, checkpoints/)")
    n_worlds: int = _arg(8, "worlds stepped together; the vector env has n_worlds * n_nations slots")
    n_steps: int = _arg(64, "turns per slot in each rollout")
    batch_size: int = _arg(512, "minibatch size of each gradient step")
    n_epochs: int = _arg(4, "passes over each rollout")
    learning_rate: float = _arg(3e-4, "Adam learning rate")
    gamma: float = _arg(0.99, "discount factor")
    gae_lambda: float = _arg(0.95, "GAE lambda")
    clip_range: float = _arg(0.2, "PPO clipping range")
    ent_coef: float = _arg(0.01, "entropy bonus coefficient")
    vf_coef: float = _arg(0.5, "value loss coefficient")
    max_grad_norm: float = _arg(0.5, "gradient clipping norm")
    net_arch: str = _arg("64,64", "hidden layer sizes of the policy and value networks, comma-separated")
    max_cycles: int | None = _arg(None, "turns per episode (None: the scenario's max_cycles)")
    capability_spread: float = _arg(
        0.0,
        "domain randomisation while training: each episode spreads the capability shares by exp(S * z), z standard "
        "normal (EnvConfig.capability_spread; 0: the scenario's shares)",
    )
    set: tuple[str, ...] = _arg((), "EnvConfig override FIELD=VALUE (repeatable), e.g. --set conquest_payoff=0.8")
    imports: tuple[str, ...] = _arg((), "modules imported first (--import, agents.plugins)", cli=False)
    checkpoint_every: int = _arg(50_000, "save a checkpoint every this many timesteps (0: only at the end)")
    keep_checkpoints: int = _arg(2, "checkpoints kept on disk")
    resume: bool = _arg(False, "continue from the last checkpoint in --out (a fresh start if there is none)")
    device: str = _arg("cpu", "torch device: cpu, cuda, cuda:N or auto")
    torch_threads: int = _arg(1, "torch CPU threads (small networks train fastest with 1)")
    progress_bar: bool = _arg(True, "show a progress bar on stderr")


@dataclass
class Args(PPOArgs):
    """Command-line arguments of ``python -m train.ppo``."""

    algo: str = _arg("maskable_ppo", "maskable_ppo (invalid actions masked out) or plain ppo", choices=ALGOS)


#: Arguments that may change between a run and its resumption; every other one must match.
RESUMABLE = frozenset(
    (
        "imports",  # what they register is checked where it is used: the run's doctrines and scenario must match
        "timesteps",
        "out",
        "resume",
        "checkpoint_every",
        "keep_checkpoints",
        "device",
        "torch_threads",
        "progress_bar",
        "members_dir",
        # train.fast_ppo's: how the worlds are stepped, not what they are (like --device, whose "auto" backend they
        # follow); worlds of another backend restart their episodes on a resume
        "backend",
        "compile_worlds",
        "cuda_graphs",
    )
)


#: Arguments that only feed the EnvConfig: compared as the EnvConfig they resolve to, so that the same config given
#: in another order or spelling (--set a=1 --set b=2, --set b=2 --set a=1.0, --max-cycles 20) is the same run.
CONFIG_ARGS = frozenset(("set", "max_cycles", "capability_spread"))


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


def parse_run_args(argv: list[str] | None, parser: argparse.ArgumentParser, args_class: type, check: Any) -> Any:
    """``argv`` parsed by ``parser`` into ``args_class`` (a trainer's ``Args``), checked by ``check`` (which raises
    ``ValueError``), with its EnvConfig; exits with status 2 and the error's message on bad input. The modules of
    ``--import`` were imported before the parser was built (:func:`agents.plugins.import_plugins`)."""
    values = vars(parser.parse_args(argv))
    values["imports"] = tuple(values["imports"])
    values["set"] = tuple(values["set"] or ())
    args = args_class(**values)
    try:
        check(args)
        config = make_config(args)
    except ValueError as error:
        parser.error(str(error))
    return args, config


def check_args(args: Args, auto_device: bool = True) -> None:
    """Raise ``ValueError`` for an argument out of range, naming the valid range (``auto_device``: whether
    ``--device auto`` is valid)."""
    positive = ("timesteps", "n_worlds", "n_steps", "n_epochs", "torch_threads", "keep_checkpoints")
    for name in positive:
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')}={getattr(args, name)} is invalid; valid: an integer >= 1")
    if args.batch_size < 2:
        raise ValueError(f"--batch-size={args.batch_size} is invalid; valid: an integer >= 2")
    if args.checkpoint_every < 0:
        raise ValueError(f"--checkpoint-every={args.checkpoint_every} is invalid; valid: 0 (off) or more timesteps")
    check_condition(args.doctrine)
    check_numbers(
        args,
        unit=("gamma", "gae_lambda"),
        positive=("learning_rate", "clip_range", "max_grad_norm"),
        non_negative=("ent_coef", "vf_coef"),
    )
    net_arch(args)
    check_device(args.device, auto_device)


def check_device(device: str, auto: bool = True) -> None:
    """Raise ``ValueError`` for a device torch cannot parse, or a CUDA device this machine lacks (where
    stable-baselines3 would fall back to the CPU without a word). ``auto``: whether ``"auto"`` is valid."""
    import torch

    if auto and device == "auto":
        return
    valid = "cpu, cuda, cuda:N" + (", auto" if auto else "")
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"--device={device!r} is invalid; valid: {valid}") from None
    if parsed.type not in ("cpu", "cuda"):  # torch knows meta, mps, xpu, ...: the trainers run on these two
        raise ValueError(f"--device={device!r} is invalid; valid: {valid}")
    if parsed.type == "cuda" and not torch.cuda.is_available():
        valid = "cpu" + (" (or auto)" if auto else "")
        raise ValueError(f"--device={device!r} is invalid: torch sees no CUDA device here; valid: {valid}")


def net_arch(args: Args) -> list[int]:
    """``--net-arch`` as a list of layer sizes."""
    try:
        sizes = [int(s) for s in args.net_arch.split(",") if s.strip()]
    except ValueError:
        sizes = []
    if not sizes or min(sizes) < 1:
        raise ValueError(f"--net-arch={args.net_arch!r} is invalid; valid: positive layer sizes, e.g. 64,64")
    return sizes


def make_config(args: Args) -> EnvConfig:
    """The EnvConfig of a run: the scenario, then ``--max-cycles`` and ``--set`` overrides, then the doctrines."""
    overrides = parse_overrides(args.set)
    if "doctrines" in overrides:
        raise ValueError(
            f"--set doctrines=... is not allowed; valid: choose them with --doctrine {'|'.join(doctrine_choices())} "
            "(every nation one doctrine, or mixed: security and power alternating), or a mix of doctrines joined by "
            "+ (e.g. --doctrine security+prosperity)"
        )
    if args.max_cycles is not None:
        if "max_cycles" in overrides:
            raise ValueError("the episode length is given twice; valid: --max-cycles N or --set max_cycles=N")
        overrides["max_cycles"] = args.max_cycles
    if args.capability_spread:
        if "capability_spread" in overrides:
            raise ValueError(
                "the capability spread is given twice; valid: --capability-spread S or --set capability_spread=S"
            )
        overrides["capability_spread"] = args.capability_spread
    config = EnvConfig.from_scenario(args.scenario, **overrides)
    return config.replace(doctrines=realism_env.population_setting(args.doctrine, config.n_nations))


def _algo(name: str) -> type:
    if name == "maskable_ppo":
        from sb3_contrib import MaskablePPO

        return MaskablePPO
    from stable_baselines3 import PPO

    return PPO


def run_uses(args: Any, config: EnvConfig) -> set[tuple[str, str]]:
    """What a run is made of, as ``(kind, name)``: its doctrines, its scenario, and the scripted policies it trains
    among or learns from (train.fast_ppo's ``--background`` and ``--teachers``)."""
    from train.background import parse_background
    from train.kickstart import parse_teachers

    policies = (
        *parse_background(getattr(args, "background", "")),
        *parse_teachers(getattr(args, "teachers", "")).values(),
    )
    return (
        {("doctrine", name) for name in config.doctrine_per_nation}
        | {("scenario", args.scenario)}
        | {("policy", name) for name in policies}
    )


def run_record(args: Args, config: EnvConfig) -> dict[str, Any]:
    """What ``config.json`` holds: the arguments, the full EnvConfig (JSON types), the doctrines registered (the
    doctrine one-hot's, which ``--import`` may widen) and the source digest of each ``--import`` module that
    registered what the run is made of (:func:`run_uses`: its doctrines are the run's rewards; a module that
    registers only what its evaluation plays is not the run's)."""
    record = {
        "args": asdict(args),
        "env_config": config.to_dict(),
        "doctrine_names": realism_env.doctrine_names(),
        "import_sources": source_digests(args.imports, run_uses(args, config)),
    }
    return json.loads(json.dumps(record))


def differences(saved: dict[str, Any], current: dict[str, Any], defaults: dict[str, Any] | None = None) -> list[str]:
    """Names of the run-defining settings in which ``current`` differs from ``saved`` (both from run_record): the
    arguments other than :data:`RESUMABLE` and :data:`CONFIG_ARGS`, and the EnvConfig's fields. An option that
    ``saved`` lacks (a run made before the option existed) counts as its value in ``defaults``, and an EnvConfig field
    it lacks as the field's default: the behaviour the run was trained with."""
    defaults = defaults or {}
    saved_args = saved.get("args", {})
    diff = [
        f"--{k.replace('_', '-')}"
        for k in current["args"]
        if k not in RESUMABLE | CONFIG_ARGS and saved_args.get(k, defaults.get(k)) != current["args"][k]
    ]
    # A module of the user's edited since the run was made: its doctrines may reward otherwise. Compared by content,
    # not by name, as a module may be named by its path once and by its name the next time (runs made before the
    # digests were recorded are taken as they are). Each module the run is made of now must be one it was made with:
    # a run recorded before only those counted recorded every --import module, which may hold more.
    saved_sources = saved.get("import_sources")
    current_sources = current.get("import_sources") or {}
    if saved_sources is not None and not set(current_sources.values()) <= set(saved_sources.values()):
        changed = [name for name, digest in current_sources.items() if digest not in saved_sources.values()]
        what = ", ".join(f"--import {name}" for name in changed) if changed else "its --import modules"
        diff.append(
            f"the source of {what} (not what the run was made with: it or a module of yours it imports edited since, "
            "or another module)"
        )
    diff += [f"EnvConfig.{k}" for k in config_differences(saved.get("env_config", {}), current["env_config"])]
    return diff


def config_differences(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """The EnvConfig fields in which ``current`` differs from ``saved`` (both as ``config.json`` holds a config: JSON
    types). A field that ``saved`` lacks (added since the run was made) counts as its default, which is what the run
    had (in JSON types too: a tuple default is the list a record holds)."""
    config_defaults = json.loads(json.dumps(EnvConfig().to_dict()))
    return [k for k in current if saved.get(k, config_defaults.get(k)) != current[k]]


def option_defaults(args: Any) -> dict[str, Any]:
    """Each option's value in a run made before the option existed, from a trainer's ``Args`` dataclass (or an
    instance of it): its default, or its entry in the class's ``BEFORE_OPTION`` where the new default changed what a
    run does (an older run keeps the behaviour it was trained with)."""
    return {f.name: f.default for f in fields(args)} | dict(getattr(args, "BEFORE_OPTION", {}))


def report(metrics: dict[str, Any]) -> str:
    """One paragraph summing up ``metrics.json``."""
    returns = ", ".join(f"{d} {r:.3f}" for d, r in (metrics.get("mean_episode_return") or {}).items() if r is not None)
    behaviour = metrics.get("behaviour") or {}
    headline = ", ".join(
        f"{k} {behaviour[k]:.2f}"
        for k in ("war_onsets", "eliminations", "final_hhi", "alliances_formed")
        if behaviour.get(k) is not None
    )
    state = "finished" if metrics.get("finished") else "interrupted"
    # the whole run's mean includes its first, untrained episodes: the curve's last point says where it ended
    last = (metrics.get("curve") or [{}])[-1]
    at_end = ", ".join(f"{d} {r:.3f}" for d, r in last.items() if d != "timesteps" and r is not None)
    return (
        f"{state}: {metrics.get('num_timesteps')} of {metrics.get('target_timesteps')} timesteps, "
        f"{metrics.get('agent_steps_per_s', 0.0):.0f} agent-steps/s; mean episode return over the run: "
        f"{returns or 'n/a'}"
        + (f", at the end: {at_end}" if at_end else "")
        + (f"; per episode: {headline}" if headline else "")
    )


class _StopRequest:
    """Turns SIGTERM and SIGINT into a request to stop after the current step; a second signal kills at once (a
    user's second Ctrl-C), unless :attr:`repeat_kills` is False. A signal the process ignores stays ignored: an
    experiment's worker ignores Ctrl-C, which its experiment handles by asking each worker to stop
    (:mod:`train.experiment_workers`)."""

    #: Whether a second signal kills at once. An experiment's workers set it False: their signals come from the
    #: experiment, the process group and the process pool (which terminates the others when one worker dies), and a
    #: repeat of them must not cut short the checkpoint the first one asked for.
    repeat_kills: ClassVar[bool] = True

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _StopRequest:
        for signum in (signal.SIGTERM, signal.SIGINT):
            if signal.getsignal(signum) is not signal.SIG_IGN:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.signum is not None:
            if not self.repeat_kills:
                return
            signal.signal(signum, signal.SIG_DFL)
            signal.raise_signal(signum)
        self.signum = signum
        print(f"\n{signal.Signals(signum).name}: saving a checkpoint and stopping", file=sys.stderr)

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def __call__(self) -> bool:
        return self.signum is not None


def check_run_dir(
    args: Args, record: dict[str, Any], outputs: Sequence[Path] | None = None
) -> tuple[Path, dict[str, Any]] | str | None:
    """What ``--out`` holds: the checkpoint to resume from, a report of a finished run (a ``str``: nothing to do),
    or None (start afresh). Exits with a message if it is (or lies under) a file, holds a different run, or holds a
    run and no ``--resume``. A finished run has nothing to do only where its ``config.json`` and its other
    ``outputs`` (its models and JSON files; default ``--out/model.zip``) read whole; otherwise ``--resume`` goes on
    from its last checkpoint (at its end: no step trained), which writes them again."""
    out = Path(args.out)
    outputs = [out / "model.zip"] if outputs is None else list(outputs)
    check_out_dir(out)
    saved = read_json(out / "config.json")
    previous = read_json(out / "metrics.json")
    found = find_latest(out / "checkpoints")
    check_checkpoints(out, found)
    if found is not None and isinstance(found[1].get(RUN_RECORD), dict):
        # the checkpoint says which run it belongs to: one copied in from another run (or a config.json that no
        # longer says what the run is) would otherwise load another run's weights under these settings, or fail
        # half-way through loading them
        # Against config.json where it is readable (the settings and modules given now are compared with it below,
        # with the message that fits), else against the settings given now.
        diff = differences(found[1][RUN_RECORD], record if saved is None else saved, option_defaults(args))
        if diff:
            than = "these settings" if saved is None else f"{out / 'config.json'}"
            raise SystemExit(
                f"error: {found[0]} is the checkpoint of a different run than {than} (it differs in "
                f"{', '.join(diff)}); valid: the run's own checkpoints (only --timesteps and run-time options may "
                "change), or another --out"
            )
    elif saved is None and (out / "config.json").exists() and (found is not None or previous is not None):
        # neither config.json nor the checkpoint (one written before checkpoints held their run's record) says what
        # the run is: resuming would train it under whatever settings are given and write them over its config.json
        raise SystemExit(
            f"error: {out / 'config.json'} is unreadable (empty, truncated or not a JSON object), so the run in {out} "
            "cannot be checked against these settings; valid: put back the run's config.json, or another --out"
        )
    if saved is not None:  # checked before anything is written: config.json keeps the run's own record
        problem = doctrines_differ(saved.get("doctrine_names"), saved.get("args", {}).get("imports", ()), str(out))
        if problem is not None:
            raise SystemExit(f"error: {problem}")
    if saved is not None and (found is not None or previous is not None):
        diff = differences(saved, record, option_defaults(args))
        if diff:
            raise SystemExit(
                f"error: {out} holds a different run (it differs in {', '.join(diff)}); "
                "valid: the same settings (only --timesteps and run-time options may change), or another --out"
            )
    if previous and previous.get("finished") and previous.get("num_timesteps", 0) >= args.timesteps:
        damaged = [str(out / "config.json")] if saved is None else []
        readable = {p: read_json(p) is not None if p.suffix == ".json" else readable_model(p) for p in outputs}
        damaged += [str(p) for p, ok in readable.items() if not ok]
        if not damaged:
            return f"{out}: nothing to do, the run is {report(previous)}"
        what = f"{' and '.join(damaged)} {'is' if len(damaged) == 1 else 'are'} missing or unreadable"
        if found is None:
            raise SystemExit(
                f"error: the run in {out} is finished, but {what}, and no checkpoint is left to write "
                f"{'it' if len(damaged) == 1 else 'them'} again from; valid: put back the run's files, or another --out"
            )
        if not args.resume:
            raise SystemExit(
                f"error: the run in {out} is finished, but {what}; valid: --resume to write "
                f"{'it' if len(damaged) == 1 else 'them'} again from its last checkpoint ({found[0].name}), or "
                "another --out"
            )
        print(f"note: {what}: written again from {found[0].name}", file=sys.stderr)
        return found
    if (found is not None or previous is not None) and not args.resume:
        at = found[1]["num_timesteps"] if found else previous.get("num_timesteps")
        raise SystemExit(
            f"error: {out} already holds a run (at {at} timesteps); valid: --resume to continue it, or another --out"
        )
    if args.resume and found is None:
        print(f"no checkpoint in {out / 'checkpoints'}: starting afresh", file=sys.stderr)
    return found if args.resume else None


def check_out_dir(out: Path) -> None:
    """Exit with a message where ``--out`` cannot be a run folder this process writes in: it is (or lies under) a
    file, or it (or the folder it would be made in) takes no new file; said before any work."""
    problem = folder_problem(out)
    if problem is not None:
        raise SystemExit(f"error: --out {out} {problem}; valid: a folder (new, or holding a run) that you can write in")


@contextlib.contextmanager
def run_lock(out: Path) -> Iterator[None]:
    """While it lasts, this process holds the lock of the run folder ``out`` (:func:`train.checkpoint.folder_lock`,
    the one train.experiment's workers hold while they train a run): a second trainer on the same ``--out`` exits at
    once with a message, where it would have mixed its files with the first's (one's config.json beside the other's
    model) or deleted its checkpoint mid-write. Taken by the command lines, not by :func:`train`, which a worker calls
    while it holds the lock (a second ``flock`` of one file in one process would refuse itself)."""
    check_out_dir(out)  # before the lock makes the folder
    made = None  # the outermost folder the lock makes
    for folder in (out, *out.parents):
        if folder.exists():
            break
        made = folder
    try:
        with folder_lock(out, wait=False) as held:
            if not held:
                raise SystemExit(
                    f"error: another run is writing {out} (it holds {out / RUN_LOCK}); valid: wait for it to finish, "
                    "or another --out"
                )
            yield
    except BaseException:
        if made is not None:  # refused before it wrote anything: the folders made for the lock go too
            with contextlib.suppress(OSError):
                if [path.name for path in out.iterdir()] == [RUN_LOCK]:
                    (out / RUN_LOCK).unlink()
                    for folder in (out, *out.parents):
                        folder.rmdir()
                        if folder == made:
                            break
        raise


def os_error_exit(error: OSError, valid: str) -> SystemExit:
    """A command line's exit for ``error`` (a file or folder it could not read or write, a full disk): ``error:
    <path>: <reason>; valid: <valid>``, in place of a traceback."""
    where = f"{error.filename}: " if error.filename is not None else ""
    return SystemExit(f"error: {where}{error.strerror or error}; valid: {valid}")


#: What a trainer's OSError exit says is valid.
WRITABLE_OUT = "an --out folder you can write in, on a disk with room"


#: The key of a checkpoint's train state that holds its run's record (:func:`run_record`), checked on a resume.
RUN_RECORD = "run_record"


def check_checkpoints(out: Path, found: tuple[Path, dict[str, Any]] | None) -> None:
    """Exit with a message where ``out/checkpoints`` holds checkpoints and none can be read: a resume (or a fresh
    start) would begin again from step 0 and write over the run; say on stderr which newer ones ``found``, the
    newest readable, passed over."""
    directory = out / "checkpoints"
    skipped = unreadable_checkpoints(directory, newer_than=-1 if found is None else found[1]["num_timesteps"])
    names = ", ".join(path.name for path in skipped)
    if found is None and skipped:
        raise SystemExit(
            f"error: no checkpoint in {directory} can be read ({names}: truncated or corrupt), so the run in {out} "
            f"cannot go on from one; valid: put back a readable checkpoint, or move {directory} away to train the "
            "run again from the start, or another --out"
        )
    if skipped:
        print(f"note: {names} in {directory} cannot be read (truncated or corrupt): passed over", file=sys.stderr)


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

    with _StopRequest() as stop:
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


def stopped(out: Path, signum: int, checkpoint: Path, metrics: dict[str, Any]) -> int:
    """End a run stopped by a signal: write ``metrics.json``, say how to continue; returns 128 + the signal."""
    atomic_write_json(out / "metrics.json", metrics)
    print(
        f"stopped at {metrics['num_timesteps']} timesteps; checkpoint {checkpoint}; continue with --resume",
        file=sys.stderr,
    )
    return 128 + signum


def finished(
    out: Path,
    model_name: str,
    model_bytes: bytes,
    metrics: dict[str, Any],
    imports: Sequence[str] = (),
    scoring: bool = True,
) -> int:
    """End a finished run: the model and ``metrics.json`` written atomically, a one-line report and, with
    ``scoring``, the command that scores the run (:func:`score_command`); returns 0. A repair (a finished run's
    model or config.json written again from its last checkpoint, no step trained) keeps the run's own ``metrics.json``,
    whose speed and times this invocation, which trained nothing, would replace with zeros."""
    atomic_write_bytes(out / model_name, model_bytes)
    metrics = write_summary(out / "metrics.json", metrics)
    print(f"{out}: {report(metrics)}")
    if scoring:
        print(score_command([out], metrics.get("doctrine"), imports))
    return 0


def write_summary(path: Path, metrics: dict[str, Any]) -> dict[str, Any]:
    """Write a finished run's ``metrics`` to ``path`` atomically and return them, except in a repair (a finished run's
    files written again from its last checkpoint, no step trained: ``start_timesteps`` is ``num_timesteps``), which
    keeps the summary already there of those timesteps and returns it: this invocation's speed and times, of no step,
    would read 0."""
    previous = read_json(path) or {}
    steps = metrics.get("num_timesteps")
    if metrics.get("start_timesteps") == steps and previous.get("finished") and previous.get("num_timesteps") == steps:
        return previous
    atomic_write_json(path, metrics)
    return metrics


def score_command(runs: Sequence[Path], doctrine: str | None, imports: Sequence[str] = ()) -> str:
    """The line that says how to score ``runs`` against the scripted realists (:mod:`train.evaluate`)."""
    command = ["python", "-m", "train.evaluate", *(f"--import={name}" for name in imports), "--model"]
    command += [str(run) for run in runs]
    # no scripted policy acts out one of its doctrines: the default scripted baseline has none to play
    if doctrine is not None and without_counterpart(realism_env.doctrine_cycle(doctrine)):
        command += ["--baseline", "status_quo"]
    return f"score {'it' if len(runs) == 1 else 'them'} against the scripted realists: {shlex.join(command)}"


def main(argv: list[str] | None = None) -> int:
    args, config = parse_args(argv)
    try:
        with run_lock(Path(args.out)):
            return train(args, config)
    except OSError as error:
        raise os_error_exit(error, WRITABLE_OUT) from None


if __name__ == "__main__":
    sys.exit(main())
