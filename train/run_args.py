"""The arguments the PPO trainers share (``train.ppo``, ``train.fast_ppo``): declared once in :class:`PPOArgs`, with
their checks, and the run's EnvConfig made from them (:func:`make_config`)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Any

import realism_env
from agents.plugins import own_name_hint
from realism_env import SCENARIOS, EnvConfig
from realism_env.overrides import parse_overrides
from train.cli import check_numbers

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


def arg(default: Any, help: str, **kwargs: Any) -> Any:
    return field(default=default, metadata={"help": help, **kwargs})


@dataclass
class PPOArgs:
    """PPO's command-line arguments, declared once for ``train.ppo`` (:class:`train.ppo.Args`) and
    ``train.fast_ppo``, which takes the same flags where they mean the same (it overrides some defaults and adds its
    own)."""

    doctrine: str = arg(
        "security",
        "reward of every nation; mixed alternates security and power (nation 0 security); or a doctrine of your own "
        "registered by --import; or a mix of registered doctrines joined by + (e.g. security+prosperity: the nations "
        "take them in turn, nation 0 the first)",
        choices=doctrine_choices,
        unknown=own_name_hint("doctrine") + ", on a resume too; a mix: doctrines joined by +",
        other=read_mix,
    )
    scenario: str = arg(
        "multipolar",
        "scenario preset (realism_env.SCENARIOS)",
        choices=scenario_choices,
        unknown=own_name_hint("scenario") + ", on a resume too",
    )
    timesteps: int = arg(200_000, "total agent-steps to train for (rounded up to whole rollouts)")
    seed: int = arg(0, "seed of the env's worlds and of the network's initialisation")
    out: str = arg("runs/ppo", "output directory (model.zip, config.json, metrics.json, tb/, checkpoints/)")
    n_worlds: int = arg(8, "worlds stepped together; the vector env has n_worlds * n_nations slots")
    n_steps: int = arg(64, "turns per slot in each rollout")
    batch_size: int = arg(512, "minibatch size of each gradient step")
    n_epochs: int = arg(4, "passes over each rollout")
    learning_rate: float = arg(3e-4, "Adam learning rate")
    gamma: float = arg(0.99, "discount factor")
    gae_lambda: float = arg(0.95, "GAE lambda")
    clip_range: float = arg(0.2, "PPO clipping range")
    ent_coef: float = arg(0.01, "entropy bonus coefficient")
    vf_coef: float = arg(0.5, "value loss coefficient")
    max_grad_norm: float = arg(0.5, "gradient clipping norm")
    net_arch: str = arg("64,64", "hidden layer sizes of the policy and value networks, comma-separated")
    max_cycles: int | None = arg(None, "turns per episode (None: the scenario's max_cycles)")
    capability_spread: float = arg(
        0.0,
        "domain randomisation while training: each episode spreads the capability shares by exp(S * z), z standard "
        "normal (EnvConfig.capability_spread; 0: the scenario's shares)",
    )
    set: tuple[str, ...] = arg((), "EnvConfig override FIELD=VALUE (repeatable), e.g. --set conquest_payoff=0.8")
    imports: tuple[str, ...] = arg((), "modules imported first (--import, agents.plugins)", cli=False)
    checkpoint_every: int = arg(50_000, "save a checkpoint every this many timesteps (0: only at the end)")
    keep_checkpoints: int = arg(2, "checkpoints kept on disk")
    resume: bool = arg(False, "continue from the last checkpoint in --out (a fresh start if there is none)")
    device: str = arg("cpu", "torch device: cpu, cuda, cuda:N or auto")
    torch_threads: int = arg(1, "torch CPU threads (small networks train fastest with 1)")
    progress_bar: bool = arg(True, "show a progress bar on stderr")


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


def check_args(args: PPOArgs, auto_device: bool = True) -> None:
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


def net_arch(args: PPOArgs) -> list[int]:
    """``--net-arch`` as a list of layer sizes."""
    try:
        sizes = [int(s) for s in args.net_arch.split(",") if s.strip()]
    except ValueError:
        sizes = []
    if not sizes or min(sizes) < 1:
        raise ValueError(f"--net-arch={args.net_arch!r} is invalid; valid: positive layer sizes, e.g. 64,64")
    return sizes


def make_config(args: PPOArgs) -> EnvConfig:
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
