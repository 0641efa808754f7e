"""PPO in torch over batched worlds, with everything on one device: the fast trainer.

Usage::

    python -m train.fast_ppo --doctrine security --timesteps 2000000 --out runs/fast_sec0
    python -m train.fast_ppo --doctrine mixed --device cuda --n-worlds 4096 --timesteps 20000000 --out runs/gpu
    python -m train.fast_ppo ... --resume          # continue a killed run from its last checkpoint
    python -m train.fast_ppo --help                # every option, with its default

The worlds are a :class:`realism_env.batch.WorldBatch` (``--backend numpy``, the faster on a CPU, or ``torch``, the
one for a GPU: ``auto`` picks by ``--device``). One network acts for every nation of every world (parameter
sharing): its input is a nation's observation and a one-hot of its own doctrine (:func:`realism_env.doctrine_onehot`),
so ``--doctrine mixed`` (:func:`realism_env.mixed_doctrines`) trains both doctrines at once (and a mix of one's own,
``--doctrine security+prosperity``, its doctrines). The loop follows CleanRL's
``ppo.py`` with the changes a multi-agent world needs:

- **Slots.** ``n_worlds x n_nations`` slots act each turn in one forward pass. A nation eliminated mid-episode leaves
  an *inactive* slot until its world ends: its rows get weight 0 in every loss and mean (no host sync: weights, not
  boolean indexing). Ended worlds are replaced inside the step (``WorldBatch``).
- **Action masks.** Masked-out actions get a logit of -1e9 added before sampling and in the loss: probability 0, no
  NaN in the entropy (:mod:`train.masked_categorical`); sampling is Gumbel-max with the trainer's own
  ``torch.Generator``, so the run is reproducible on every device.
- **Learning rate** annealed linearly to 0 at ``--timesteps`` (``--no-anneal-lr`` keeps it fixed), as CleanRL does.
- **Truncation is not termination.** GAE bootstraps a nation's value from the observation at ``max_cycles``
  (``BatchStep.final_observations``) when the episode was cut short, and from zero when the nation was eliminated or
  the world was unified.
- **One host sync per rollout** (the episode statistics and the loss check), none inside a step.
- **Populations** (``--population M``): ``M`` runs, seeds ``--seed`` .. ``--seed + M - 1``, trained as one
  (:mod:`train.population`): one batch of ``M x n_worlds`` worlds, each member's network of its own called on its own
  slots, and each member's update on its own rows alone. On a GPU, a run of a few hundred worlds leaves the device
  waiting on kernel launches and a population fills it; on a CPU it gains nothing. A population of one is the run
  of its seed, bit for bit.
- **Compiled worlds** (torch backend): ``--compile-worlds`` (``torch.compile`` of the step) or ``--cuda-graphs``
  (the step as one CUDA graph on a GPU, for batches small enough that the eager step waits on kernel launches). A
  CUDA graph's next replay overwrites a step's outputs, so the rollout keeps only copies of them.
- **A background population** (``--background``, ``--background-share``, ``--n-focal``): scripted nations of
  :mod:`agents.policies` in a share of the worlds (:mod:`train.background`, Melting Pot's design), their rows left out
  of the loss; each policy decides for all its nations in one call a turn, where the worlds are.
- **Kickstarting** (``--teachers power=offensive_realist``, ``--kickstart-coef``, ``--kickstart-until``): a scripted
  teacher per doctrine labels what each learning nation sees with its own choice, and a cross-entropy toward it joins
  the loss with a weight falling linearly to ``--kickstart-final`` (:mod:`train.kickstart`; Schmitt et al. 2018). Its
  labels are not played, except in the first ``--imitate-until`` share of the run: there the nations with a teacher
  play its choices (behaviour cloning on the teacher's own play, the critic learning the teacher's values) and PPO's
  policy terms skip their rows, which are not the policy's own. Once the weight is 0 for the rest of the run the
  teachers are not asked (a resume to a longer ``--timesteps`` that gives them weight again starts their memories
  afresh, in the middle of the episodes under way).

Timesteps count agent-steps (one per slot and turn, inactive slots included), per member, and are rounded up to
whole rollouts of ``n_steps * n_worlds * n_nations``; a ``--batch-size`` that does not divide those rows is warned
about, as stable-baselines3 does (each epoch would end with a smaller minibatch). Writes into ``--out``:
``model.pt`` (the network's weights and shape, read back with :func:`load_agent`, ``weights_only``), ``config.json``
(arguments and EnvConfig),
``metrics.json`` (mean episode return per doctrine of the learning nations; a learning curve, each point the mean
return of the learners' episodes whose worlds ended in the last ``max_cycles`` turns, an eliminated nation's episode
counted when its world ends; agent-steps/s; ``checkpoint_bytes``, the last checkpoint's size; ``peak_memory_bytes``,
the run's peak resident set on a CPU, torch's peak on a CUDA ``--device``, a population's for each of its members:
``benchmarks.memory`` reads it), ``tb/``
(TensorBoard) and ``checkpoints/``
(weights, optimiser and RNG states, and the episodes under way, written atomically; :mod:`train.checkpoint`): a
resumed run goes on bit for bit as if it had never stopped. A population writes its
``config.json``, ``checkpoints/`` and a ``metrics.json`` of all its members into ``--out``, and each member's run
(``config.json`` with its seed, ``model.pt``, ``metrics.json``, ``tb/``: what a run of its own writes) into
``--members-dir/seed<k>``. SIGTERM or Ctrl-C saves a checkpoint and exits with 128 + the signal number; a run that
diverges (a NaN or infinite loss or weight, or logits that outgrow the action mask) stops with an error and leaves
the last good checkpoint.
"""

from __future__ import annotations

import io
import math
import sys
import time
import warnings
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import numpy as np
import torch
from torch import nn

import realism_env
from agents.plugins import add_import_option, import_plugins
from agents.policies import ArrayPolicy, policy_class
from realism_env import N_ACTS, EnvConfig
from realism_env.backend import peak_memory_bytes, reset_peak_memory, resolve_backend
from realism_env.batch import WorldBatch, check_horizon
from train.background import Background, parse_background
from train.checkpoint import (
    atomic_write_json,
    env_rng_state,
    library_versions,
    read_json,
    restore_env_rng,
    restore_generator,
    save_torch_checkpoint,
)
from train.cli import MAX_SEED, dataclass_parser
from train.kickstart import Teachers, kickstart_weight, parse_teachers
from train.masked_categorical import MASKED_LOGIT, log_prob_and_entropy, mask_logits, sample_actions
from train.population import MemberNetworks
from train.ppo import (
    RUN_RECORD,
    WRITABLE_OUT,
    PPOArgs,
    _arg,
    _StopRequest,
    check_run_dir,
    differences,
    finished,
    make_config,
    net_arch,
    option_defaults,
    os_error_exit,
    parse_run_args,
    run_lock,
    run_record,
    score_command,
    stopped,
    write_summary,
)
from train.ppo import check_args as check_ppo_args

BACKEND_CHOICES = ("auto", "numpy", "torch")
ACTOR_CHOICES = ("per_nation", "mlp")


@dataclass
class Args(PPOArgs):
    """Command-line arguments of ``python -m train.fast_ppo``: ``train.ppo``'s (:class:`train.ppo.PPOArgs`), some
    with other defaults, then this trainer's own."""

    #: what a run made before an option existed did, where that is not the option's default (train.ppo.option_defaults)
    BEFORE_OPTION: ClassVar[dict[str, Any]] = {"actor": "mlp"}

    # train.ppo's flags with this trainer's defaults (and help where the meaning is wider)
    timesteps: int = _arg(2_000_000, "total agent-steps to train for (rounded up to whole rollouts)")
    seed: int = _arg(0, "seed of the worlds, the network's initialisation, the action draws and the minibatches")
    out: str = _arg("runs/fast_ppo", "output directory (model.pt, config.json, metrics.json, tb/, checkpoints/)")
    n_worlds: int = _arg(64, "worlds stepped together; n_worlds * n_nations slots act each turn")
    n_steps: int = _arg(32, "turns per slot in each rollout")
    batch_size: int = _arg(2048, "minibatch size of each gradient step (rows of slot-turns)")
    checkpoint_every: int = _arg(500_000, "save a checkpoint every this many timesteps (0: only at the end)")
    device: str = _arg("cpu", "torch device of the network and, with the torch backend, of the worlds")
    # this trainer's own
    anneal_lr: bool = _arg(True, "anneal the learning rate linearly to 0 at --timesteps (CleanRL's default)")
    actor: str = _arg(
        "per_nation",
        "policy network: per_nation scores every target nation with the same weights (PerNationActor); mlp scores "
        "the flat action (SB3's network)",
        choices=ACTOR_CHOICES,
    )
    backend: str = _arg(
        "auto", "backend of the worlds: numpy, torch, or auto (numpy on a CPU)", choices=BACKEND_CHOICES
    )
    compile_worlds: bool = _arg(
        False,
        "torch backend: step the worlds with torch.compile (WorldBatch(compile=True)); compiles for tens of seconds "
        "at the start; pays on a GPU (on a CPU the step runs 1.5x eager's speed, but the network bounds a run)",
    )
    cuda_graphs: bool = _arg(
        False,
        "torch backend on a GPU: step the worlds as one CUDA graph (WorldBatch(compile='reduce-overhead')), one "
        "launch a step where a small batch's eager step is bound by kernel launches; compiles tens of seconds first",
    )
    population: int = _arg(
        1,
        "members trained together, seeds --seed .. --seed + population - 1, each with its own network and worlds "
        "(train.population): one process fills a GPU with several runs; the members' runs go to "
        "--members-dir/seed<k>",
    )
    members_dir: str = _arg("", "where a population's members' runs go, as seed<k>/ (empty: --out)")
    background: str = _arg(
        "",
        "scripted background policies, comma-separated (agents.POLICIES), taken in turn by the background worlds; "
        "empty: pure self-play",
    )
    background_share: float = _arg(0.0, "share of the worlds whose nations n_focal.. are the scripted background")
    n_focal: int = _arg(0, "learning nations in a background world (0: half the nations)")
    teachers: str = _arg(
        "",
        "kickstarting (train.kickstart): scripted teachers per doctrine, DOCTRINE=POLICY comma-separated (e.g. "
        "power=offensive_realist); learners are pulled toward their teacher's choice, less and less; empty: none",
    )
    kickstart_coef: float = _arg(1.0, "weight of the teachers' cross-entropy in the loss at the start of the run")
    kickstart_until: float = _arg(
        0.25, "share of --timesteps at which the teachers' weight has fallen to --kickstart-final"
    )
    kickstart_final: float = _arg(0.0, "the teachers' weight from --kickstart-until on (0: the learner is on its own)")
    imitate_until: float = _arg(
        0.0,
        "share of --timesteps in which the nations with a teacher play the teacher's choices and learn them with "
        "weight --kickstart-coef (behaviour cloning on the teacher's own play; PPO's policy loss skips those rows)",
    )


def build_parser() -> Any:
    parser = dataclass_parser(Args, "python -m train.fast_ppo", __doc__.split("\n\n")[0])
    add_import_option(parser)
    return parser


def parse_args(argv: list[str] | None = None) -> tuple[Args, EnvConfig]:
    """Parse and validate ``argv``; exits with status 2 and a message naming what is wrong and what is valid."""
    import_plugins(argv, "python -m train.fast_ppo")
    parser = build_parser()
    args, config = parse_run_args(argv, parser, Args, check_args)
    try:
        check_world_horizon(args, config)
    except ValueError as error:
        parser.error(str(error))
    return args, config


def check_args(args: Args) -> None:
    """Raise ``ValueError`` for an argument out of range, naming the valid range (``train.ppo``'s checks, the device's
    among them)."""
    check_ppo_args(args, auto_device=False)
    parse_background(args.background)
    for flag, value in (("--compile-worlds", args.compile_worlds), ("--cuda-graphs", args.cuda_graphs)):
        if value and world_backend(args) != "torch":
            raise ValueError(f"{flag} needs the torch backend; valid: add --backend torch (or --device cuda)")
    if args.compile_worlds and args.cuda_graphs:
        raise ValueError("--compile-worlds and --cuda-graphs are two ways to compile the step; valid: one of them")
    if args.population < 1:
        raise ValueError(f"--population={args.population} is invalid; valid: 1 (one run) or more members")
    if args.seed + args.population - 1 > MAX_SEED:  # the members' seeds are --seed .. --seed + population - 1
        raise ValueError(
            f"--seed={args.seed} with --population={args.population} gives seeds above {MAX_SEED}; valid: --seed up "
            f"to {MAX_SEED - args.population + 1}"
        )
    if args.members_dir and args.population == 1:
        raise ValueError("--members-dir is for a population's members; valid: with --population 2 or more")
    if not 0.0 <= args.background_share <= 1.0:
        raise ValueError(f"--background-share={args.background_share} is invalid; valid: 0 <= share <= 1")
    if args.background_share > 0.0 and not args.background:
        raise ValueError("--background-share needs --background; valid: e.g. --background offensive_realist")
    if args.background and round(args.background_share * args.n_worlds) == 0:  # not one world would have it
        raise ValueError(
            f"--background {args.background} in --background-share={args.background_share} of --n-worlds="
            f"{args.n_worlds} is no world; valid: a share above {0.5 / args.n_worlds:.3g} (half a world; "
            f"{1 / args.n_worlds:.3g} is one)"
        )
    n_nations = make_config(args).n_nations
    if not 0 <= args.n_focal < n_nations:
        raise ValueError(f"--n-focal={args.n_focal} is invalid; valid: 0 (half the nations) to {n_nations - 1}")
    # Options that only act with another would be ignored in silence, and then hold a resume that leaves them out.
    needs = [("--n-focal", args.n_focal, "--background", args.background)]
    needs += [(flag, getattr(args, name), "--teachers", args.teachers) for flag, name in KICKSTART_OPTIONS]
    for flag, value, other, given in needs:
        if value != getattr(Args, flag[2:].replace("-", "_")) and not given:
            raise ValueError(f"{flag}={value} acts only with {other}; valid: add {other}, or leave {flag} out")
    taught = parse_teachers(args.teachers)
    check_device_policies(args, taught)
    learning = set(realism_env.doctrine_cycle(args.doctrine))
    if taught and not set(taught) <= learning:
        idle = ", ".join(sorted(set(taught) - learning))
        raise ValueError(
            f"--teachers {args.teachers}: no nation of --doctrine {args.doctrine} maximises {idle}; valid: teachers "
            f"for {', '.join(sorted(learning))}"
        )
    for flag, weight in (("--kickstart-coef", args.kickstart_coef), ("--kickstart-final", args.kickstart_final)):
        if not (math.isfinite(weight) and weight >= 0.0):
            raise ValueError(f"{flag}={weight} is invalid; valid: a finite weight >= 0")
    for flag, share in (("--kickstart-until", args.kickstart_until), ("--imitate-until", args.imitate_until)):
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"{flag}={share} is invalid; valid: a share 0 <= until <= 1")
    if args.imitate_until > 0.0 and not args.teachers:
        raise ValueError("--imitate-until needs --teachers; valid: e.g. --teachers power=offensive_realist")


def check_device_policies(args: Args, taught: dict[str, str]) -> None:
    """On the torch backend the background and the teachers play where the worlds are (agents.players.DevicePlayers):
    refuse a policy that is not array code (an ArrayPolicy) now, before anything is written, where it would fail at
    the first turn."""
    if world_backend(args) != "torch":
        return
    named = [("--background", args.background, name) for name in parse_background(args.background)]
    named += [("--teachers", args.teachers, name) for name in taught.values()]
    for flag, value, name in named:
        if not issubclass(policy_class(name), ArrayPolicy):
            raise ValueError(
                f"{flag} {value}: policy {name!r} is not array code (an agents.ArrayPolicy), and on the torch backend "
                "the scripted nations play on the worlds' device; valid: --backend numpy (it plays any policy on the "
                "host), or an ArrayPolicy"
            )


#: The kickstart schedule's options (flag, Args field): they act only with --teachers.
KICKSTART_OPTIONS = (
    ("--kickstart-coef", "kickstart_coef"),
    ("--kickstart-until", "kickstart_until"),
    ("--kickstart-final", "kickstart_final"),
)


def check_world_horizon(args: Args, config: EnvConfig) -> None:
    """Raise ``ValueError`` where ``--max-cycles`` is longer than the worlds' float dtype holds: WorldBatch's own
    check (float32 worlds on a GPU hold 2,426 turns at 3% growth), in the words of this command's flags."""
    backend_name = world_backend(args)
    backend = resolve_backend(backend_name, args.device if backend_name == "torch" else None)
    check_horizon(config, backend, "--max-cycles", "--device cpu")


def warn_uneven_minibatches(args: Args, n_nations: int) -> None:
    """Warn (as stable-baselines3's PPO does) where ``--batch-size`` does not divide a rollout's rows: each epoch then
    ends with a smaller minibatch, or, where it exceeds them, every update is one minibatch of the whole rollout."""
    rows = args.n_steps * args.n_worlds * n_nations
    shape = f"a rollout's {rows:,} rows (n_steps {args.n_steps} x {args.n_worlds} worlds x {n_nations} nations)"
    if args.batch_size > rows:
        warnings.warn(
            f"--batch-size {args.batch_size} is more than {shape}: each update is one minibatch of {rows:,}; "
            f"for minibatches of {args.batch_size:,}, raise --n-worlds or --n-steps",
            stacklevel=2,
        )
    elif rows % args.batch_size:
        warnings.warn(
            f"--batch-size {args.batch_size} does not divide {shape}: each epoch ends with a minibatch of "
            f"{rows % args.batch_size}; a divisor of {rows:,} avoids it",
            stacklevel=2,
        )


def world_backend(args: Args) -> str:
    """The backend of the worlds: ``--backend``, where ``auto`` is numpy on a CPU and torch elsewhere."""
    if args.backend != "auto":
        return args.backend
    return "numpy" if torch.device(args.device).type == "cpu" else "torch"


# --------------------------------------------------------------------------------------------------
# The network and the masked categorical
# --------------------------------------------------------------------------------------------------


def _layer(n_in: int, n_out: int, std: float) -> nn.Linear:
    """A linear layer with CleanRL's orthogonal initialisation."""
    layer = nn.Linear(n_in, n_out)
    nn.init.orthogonal_(layer.weight, std)
    nn.init.constant_(layer.bias, 0.0)
    return layer


def _mlp(n_in: int, hidden: list[int], n_out: int, last_std: float) -> nn.Sequential:
    sizes = [n_in, *hidden]
    layers: list[nn.Module] = []
    for a, b in zip(sizes, sizes[1:], strict=False):
        layers += [_layer(a, b, math.sqrt(2.0)), nn.Tanh()]
    return nn.Sequential(*layers, _layer(sizes[-1], n_out, last_std))


class TargetLayout(NamedTuple):
    """Where a nation's view of each other nation sits in the network input, and how a flat action is built from
    (arms level, act, target slot): ``action = (level * n_acts + act) * n_targets + slot`` (:mod:`realism_env.actions`).
    """

    own_size: int  #: the observer's own block, first in the observation
    block_size: int  #: one block per other nation, in target-slot order, after the own block
    n_targets: int  #: other nations (target slots)
    n_acts: int
    n_levels: int  #: arms levels

    @classmethod
    def of(cls, layout: Any, n_actions: int) -> TargetLayout:
        """The target layout of an :class:`realism_env.ObservationLayout` and its action count."""
        n_targets = layout.n_nations - 1
        return cls(
            len(layout.own_fields), len(layout.other_fields), n_targets, N_ACTS, n_actions // (N_ACTS * n_targets)
        )


class PerNationActor(nn.Module):
    """Scores an action (arms level, act, target) as ``level_act[level, act] + target[act, slot]``.

    ``level_act`` comes from an MLP over the whole input; ``target`` scores each other nation from its block of the
    observation (and the trunk's features) with *the same* weights for every slot, as entity-based MARL networks do
    (Deep Sets, Zaheer et al. 2017; AlphaStar's pointer head, Vinyals et al. 2019). A rule learned about one nation
    ("accept the alliance it proposes", "attack the weak neighbour") then holds for every nation, whichever slot it
    sits in. A plain MLP over the flat action must learn it slot by slot, and in self-play its greedy policy tends to
    fix on one slot: each nation then proposes alliances to its left neighbour, none accepts, and no alliance forms.
    """

    def __init__(self, n_inputs: int, hidden: list[int], targets: TargetLayout) -> None:
        super().__init__()
        self.targets = targets
        sizes = [n_inputs, *hidden]
        layers: list[nn.Module] = []
        for a, b in zip(sizes, sizes[1:], strict=False):
            layers += [_layer(a, b, math.sqrt(2.0)), nn.Tanh()]
        self.trunk = nn.Sequential(*layers)
        self.level_act = _layer(sizes[-1], targets.n_levels * targets.n_acts, 0.01)
        # The target head's hidden layer reads [block, features]; its weights are split so the features' part is
        # computed once per row rather than once per slot.
        self.target_block = _layer(targets.block_size, hidden[-1], math.sqrt(2.0))
        self.target_features = _layer(sizes[-1], hidden[-1], math.sqrt(2.0))
        self.target_out = _layer(hidden[-1], targets.n_acts, 0.01)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        t = self.targets
        features = self.trunk(inputs)  # [..., H]
        level_act = self.level_act(features).unflatten(-1, (t.n_levels, t.n_acts))  # [..., L, K]
        blocks = inputs[..., t.own_size : t.own_size + t.n_targets * t.block_size]
        # One row per (row, target) before the layer: on a 3-D slice, a population's vmap would copy the weights for
        # every row (train.population).
        per_target = self.target_block(blocks.reshape(-1, t.block_size)).unflatten(0, (*blocks.shape[:-1], t.n_targets))
        hidden = torch.tanh(per_target + self.target_features(features).unsqueeze(-2))  # [..., T, H]
        target = self.target_out(hidden).transpose(-1, -2)  # [..., K, T]
        return (level_act.unsqueeze(-1) + target.unsqueeze(-3)).flatten(-3)  # [..., L * K * T]


class Agent(nn.Module):
    """The policy and the value network (tanh) over a nation's observation and doctrine one-hot.

    The value network is an MLP; the policy is a :class:`PerNationActor` (``actor="per_nation"``) or an MLP over the
    flat action (``actor="mlp"``, SB3's and CleanRL's network, for like-for-like comparisons).
    """

    def __init__(
        self, n_inputs: int, n_actions: int, hidden: list[int], actor: str = "mlp", targets: TargetLayout | None = None
    ) -> None:
        super().__init__()
        if actor not in ACTOR_CHOICES:
            raise ValueError(f"actor={actor!r} is invalid; valid: {', '.join(ACTOR_CHOICES)}")
        self.shape: dict[str, Any] = {"n_inputs": n_inputs, "n_actions": n_actions, "hidden": list(hidden)}
        if actor == "per_nation":
            if targets is None:
                raise ValueError("actor='per_nation' needs the observation's TargetLayout")
            self.shape.update(actor=actor, targets=list(targets))
            self.actor: nn.Module = PerNationActor(n_inputs, hidden, targets)
        else:
            self.actor = _mlp(n_inputs, hidden, n_actions, 0.01)
        self.critic = _mlp(n_inputs, hidden, 1, 1.0)

    def value(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.critic(inputs)[..., 0]

    def masked_logits(self, inputs: torch.Tensor, forbidden: torch.Tensor) -> torch.Tensor:
        """The policy's logits, masked where ``forbidden`` (the action mask inverted; :func:`mask_logits`)."""
        return mask_logits(self.actor(inputs), forbidden)


# --------------------------------------------------------------------------------------------------
# Rollouts and advantages
# --------------------------------------------------------------------------------------------------


class Rollout(NamedTuple):
    """One rollout, ``[T, S, ...]`` tensors on the device (``S`` = slots = worlds x nations)."""

    inputs: torch.Tensor  #: float32 [T, S, D], observation and doctrine one-hot
    forbidden: torch.Tensor  #: bool [T, S, A], the action masks inverted
    actions: torch.Tensor  #: int64 [T, S]
    log_probs: torch.Tensor  #: float32 [T, S]
    values: torch.Tensor  #: float32 [T, S]
    rewards: torch.Tensor  #: float32 [T, S]
    next_values: torch.Tensor  #: float32 [T, S]: the value the step leads to (0 after an elimination or unification)
    continues: torch.Tensor  #: float32 [T, S]: 1 where the slot's episode goes on into turn t + 1
    active: torch.Tensor  #: float32 [T, S]: 1 where the slot's nation acted (was alive)
    teacher_actions: torch.Tensor  #: int64 [T, S]: the teacher's choice (train.kickstart; 0 where none)
    taught: torch.Tensor  #: float32 [T, S]: 1 where a teacher chose (its doctrine has one, and it was kickstarting)
    imitated: torch.Tensor  #: float32 [T, S]: 1 where the teacher's choice was played (--imitate-until)


def advantages(rollout: Rollout, gamma: float, gae_lambda: float) -> tuple[torch.Tensor, torch.Tensor]:
    """GAE (Schulman et al. 2016) over the rollout: ``(advantages, returns)``, ``[T, S]`` each."""
    deltas = rollout.rewards + gamma * rollout.next_values - rollout.values
    result = torch.zeros_like(deltas)
    running = torch.zeros_like(deltas[0])
    for t in range(deltas.shape[0] - 1, -1, -1):  # over turns (the rollout's time axis), not nations or worlds
        running = deltas[t] + gamma * gae_lambda * rollout.continues[t] * running
        result[t] = running
    return result, result + rollout.values


class EpisodeStats:
    """Returns of finished episodes per group (doctrine, or member and doctrine), summed on the device turn by turn
    and read once per rollout."""

    def __init__(self, group_of_slot: torch.Tensor, n_groups: int, n_turns: int) -> None:
        self.one_hot = torch.nn.functional.one_hot(group_of_slot, n_groups).to(torch.float64)
        self.running = torch.zeros(group_of_slot.shape[0], dtype=torch.float64, device=group_of_slot.device)
        self.total = torch.zeros(n_turns, n_groups, dtype=torch.float64, device=group_of_slot.device)
        self.count = torch.zeros_like(self.total)
        self.turn = 0  # the row of this rollout's next turn

    def add(self, rewards: torch.Tensor, active: torch.Tensor, ended: torch.Tensor) -> None:
        """One turn: ``rewards`` [S] of the ``active`` slots; ``ended`` [S] slots whose episode is counted now (its
        return so far is added and starts again from 0)."""
        self.running += rewards.to(torch.float64) * active
        finished = ended.to(torch.float64)
        row = self.turn % self.total.shape[0]
        self.total[row] += (self.running * finished) @ self.one_hot
        self.count[row] += finished @ self.one_hot
        self.running *= 1.0 - finished
        self.turn += 1

    def take(self) -> tuple[list[list[float]], list[list[float]]]:
        """(sum of returns, number of episodes) per turn and group since the last call (one host sync)."""
        total, count = self.total.tolist(), self.count.tolist()
        self.total.zero_()
        self.count.zero_()
        self.turn = 0
        return total, count


class Trainer:
    """The worlds, the network, the optimiser and the trainer's generator of one run."""

    def __init__(self, args: Args, config: EnvConfig) -> None:
        self.args, self.config = args, config
        self.device = torch.device(args.device)
        backend = world_backend(args)
        self.members = args.population
        self.seeds = [args.seed + member for member in range(self.members)]
        self.batch = WorldBatch(
            config,
            self.members * args.n_worlds,  # member m owns worlds m * n_worlds .. (m + 1) * n_worlds - 1
            seed=args.seed,
            backend=backend,
            device=args.device if backend == "torch" else None,
            compile="reduce-overhead" if args.cuda_graphs else args.compile_worlds,
        )
        self.n_nations = config.n_nations
        self.member_slots = args.n_worlds * config.n_nations  # a member's slots, contiguous
        self.n_slots = self.members * self.member_slots
        warn_uneven_minibatches(args, config.n_nations)
        self.doctrine_names = realism_env.doctrine_names()
        n_doctrines = len(self.doctrine_names)
        one_hot = realism_env.doctrine_onehot(config.doctrine_per_nation, self.doctrine_names)  # [N, R]
        self.doctrine_inputs = torch.as_tensor(one_hot, device=self.device).repeat(self.batch.n_worlds, 1)  # [S, R]
        doctrine_of_slot = torch.as_tensor(one_hot.argmax(axis=1), device=self.device).repeat(self.batch.n_worlds)
        member_of_slot = torch.arange(self.n_slots, device=self.device) // self.member_slots
        self.doctrines_present = sorted({int(d) for d in one_hot.argmax(axis=1)})
        # episode returns per (member, doctrine)
        self.stats = EpisodeStats(
            member_of_slot * n_doctrines + doctrine_of_slot, self.members * n_doctrines, args.n_steps
        )
        n_inputs = self.batch.layout.size + one_hot.shape[1]
        targets = TargetLayout.of(self.batch.layout, self.batch.n_actions)
        agents = []
        for seed in self.seeds:
            torch.manual_seed(seed)  # the member's network's initialisation, as in a run of its own seed
            agents.append(Agent(n_inputs, self.batch.n_actions, net_arch(args), args.actor, targets).to(self.device))
        self.networks = MemberNetworks(agents)
        self.optimizer = torch.optim.Adam(self.networks.parameters(), lr=args.learning_rate, eps=1e-5)
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(args.seed)
        n_background = round(args.background_share * args.n_worlds) if args.background else 0  # per member
        self.background = Background(
            self.batch, parse_background(args.background), n_background, args.n_focal or self.n_nations // 2,
            seed=args.seed, members=self.members,
        )  # fmt: skip
        self.learner = torch.as_tensor(self.background.learner, device=self.device)  # [S]: 0 for background slots
        self.is_learner = self.learner > 0
        teachers = parse_teachers(args.teachers)
        self.teachers = Teachers(self.batch, teachers, args.seed, self.device) if teachers else None
        self.num_timesteps = 0
        self.iterations = 0
        self.inputs, self.forbidden = self._start()

    @property
    def agent(self) -> Agent:
        """The network of a one-member run (a population's members: :meth:`member_agent`)."""
        if self.networks.single is None:
            raise ValueError(f"a population of {self.members} has one network per member; valid: member_agent(m)")
        return self.networks.single

    def member_agent(self, member: int) -> Agent:
        """A copy of member ``member``'s network, as an :class:`Agent` of its own."""
        agent = agent_of_shape(self.networks.shape)
        agent.load_state_dict(self.networks.member_state_dict(member))
        return agent.to(self.device)

    def _by_member(self, slots: torch.Tensor) -> torch.Tensor:
        """``[S, ...]`` slot rows as ``[M, S / M, ...]``: each member's own slots."""
        return slots.reshape(self.members, -1, *slots.shape[1:])

    def _tensor(self, array: Any) -> torch.Tensor:
        return torch.as_tensor(array, device=self.device)

    def _inputs(self, observations: Any) -> torch.Tensor:
        """[S, D] network inputs: each slot's observation and its doctrine one-hot."""
        flat = self._tensor(observations).reshape(self.n_slots, -1).to(torch.float32)
        return torch.cat([flat, self.doctrine_inputs], dim=1)

    def _start(self) -> tuple[torch.Tensor, torch.Tensor]:
        observations, mask = self.batch.reset()
        self.seen = (observations, mask)  # what the background policies read
        self.background.reset(np.ones(self.batch.n_worlds, dtype=bool))
        if self.teachers is not None:
            self.teachers.reset(np.ones(self.batch.n_worlds, dtype=bool))
        return self._inputs(observations), self._tensor(mask).reshape(self.n_slots, -1) == 0

    def kickstart_weight(self, timesteps: int) -> float:
        """The teachers' weight in the loss of the rollout that starts at ``timesteps`` (0 without teachers)."""
        if self.teachers is None:
            return 0.0
        args = self.args
        if self.imitating(timesteps):
            return args.kickstart_coef
        return kickstart_weight(
            args.kickstart_coef, args.kickstart_until, timesteps / args.timesteps, args.kickstart_final
        )

    def imitating(self, timesteps: int) -> bool:
        """Whether the rollout that starts at ``timesteps`` plays the teachers' choices (``--imitate-until``)."""
        return self.teachers is not None and timesteps < self.args.imitate_until * self.args.timesteps

    def collect(self) -> Rollout:
        """Play ``n_steps`` turns in every world with the current policy."""
        n_steps, slots = self.args.n_steps, self.n_slots
        rows: dict[str, list[torch.Tensor]] = {name: [] for name in Rollout._fields}
        imitating = self.imitating(self.num_timesteps)
        labelling = imitating or self.kickstart_weight(self.num_timesteps) > 0.0
        # The teachers' shadows see the turns while they label, and before, where their weight rises from 0 (a final
        # weight above 0), so that their memories hold the episodes whole; the schedule is linear, then constant, so
        # once the weight is 0 with a final weight of 0 they are never asked again.
        following = labelling or (self.teachers is not None and self.args.kickstart_final > 0.0)
        if self.teachers is not None:
            if following and self.teachers.idle:  # they missed turns (a resume gave them weight again): start afresh
                self.teachers.reset(np.ones(self.batch.n_worlds, dtype=bool))
            self.teachers.idle = not following
        no_teacher = torch.zeros(slots, dtype=torch.int64, device=self.device)
        no_weight = torch.zeros(slots, device=self.device)
        if imitating:  # the learning nations whose doctrine has a teacher play its choices
            imitated = (self.teachers.taught * self.learner) > 0
        with torch.no_grad():
            for _ in range(n_steps):
                logits = self.networks.masked_logits(self._by_member(self.inputs), self._by_member(self.forbidden))
                logits = logits.reshape(slots, -1)
                actions = sample_actions(logits, self.generator)
                if following:  # the teachers' labels for what the nations see now (their memories take it in)
                    teacher_actions = self.teachers.act(*self.seen, self.batch.world.alive)
                    if imitating:
                        actions = torch.where(imitated, teacher_actions, actions)
                log_probs = torch.log_softmax(logits, dim=-1).gather(-1, actions[:, None])[:, 0]
                values = self._value(self.inputs)
                world_actions = actions.reshape(self.batch.n_worlds, self.n_nations)
                if self.batch.backend.name == "numpy":
                    world_actions = world_actions.cpu().numpy()
                if self.background.n_worlds:  # scripted nations act, beside the worlds (their rows get weight 0)
                    world_actions = self.background.act(world_actions, *self.seen, self.batch.world.alive)
                step = self.batch.step(world_actions)
                self.background.reset(step.world_reset)
                if following:
                    self.teachers.reset(step.world_reset)
                self.seen = (step.observations, step.action_mask)
                # A copy: with --cuda-graphs the next step's replay overwrites this step's outputs (float32 worlds
                # would otherwise hand over the output itself); everything else kept below is computed from them.
                rewards = self._tensor(step.rewards).reshape(slots).to(torch.float32, copy=True)
                terminated = self._tensor(step.terminated).reshape(slots)
                truncated = self._tensor(step.truncated).reshape(slots)
                active = self._tensor(step.acting).reshape(slots).to(torch.float32) * self.learner
                # The value of the last observation of a truncated episode (where no world ended, the next turn's
                # observation is that same one and its value is read below; numpy tells at no cost whether any did).
                if self.batch.backend.name != "numpy" or step.world_reset.any():
                    final_value = self._value(self._inputs(step.final_observations))
                else:
                    final_value = torch.zeros(slots, device=self.device)
                rows["inputs"].append(self.inputs)
                rows["forbidden"].append(self.forbidden)
                rows["actions"].append(actions)
                rows["log_probs"].append(log_probs)
                rows["values"].append(values)
                rows["rewards"].append(rewards)
                rows["active"].append(active)
                rows["teacher_actions"].append(teacher_actions if labelling else no_teacher)
                rows["taught"].append(self.teachers.taught * active if labelling else no_weight)
                rows["imitated"].append(imitated * active if imitating else no_weight)
                rows["continues"].append(active * (~terminated & ~truncated).to(torch.float32))
                # Truncated: bootstrap from the last observation; terminated: nothing follows.
                rows["next_values"].append(torch.where(terminated, 0.0, final_value))
                # The curve's episodes are the learners' (a background nation's earns nothing here), each counted
                # when its world ends (a nation eliminated earlier keeps its return until then): every count is of
                # whole worlds, so the curve does not swing with how many early ends a window holds.
                world_ended = self._tensor(step.world_reset)[:, None].expand(-1, self.n_nations).reshape(slots)
                self.stats.add(rewards, active, world_ended & self.is_learner)
                self.inputs = self._inputs(step.observations)
                self.forbidden = self._tensor(step.action_mask).reshape(slots, -1) == 0
            last_values = self._value(self.inputs)
        stacked = {name: torch.stack(values) for name, values in rows.items()}
        # Where the episode goes on, the next value is the value of the next turn's observation.
        following = torch.cat([stacked["values"][1:], last_values[None]])
        continues = stacked["continues"] > 0
        stacked["next_values"] = torch.where(continues, following, stacked["next_values"])
        self.num_timesteps += n_steps * self.member_slots  # each member's own agent-steps
        return Rollout(**stacked)

    def _value(self, inputs: torch.Tensor) -> torch.Tensor:
        """[S] values of every slot's ``inputs`` [S, D], each by its member's network."""
        return self.networks.value(self._by_member(inputs)).reshape(-1)

    def update(self, rollout: Rollout) -> dict[str, torch.Tensor]:
        """PPO's clipped update over the rollout, each member on its own rows; returns the mean losses ([M] device
        tensors)."""
        args, members = self.args, self.members
        advantage, returns = advantages(rollout, args.gamma, args.gae_lambda)

        def by_member(value: torch.Tensor) -> torch.Tensor:  # [T, S, ...] -> [M, T * S / M, ...]
            turns = value.shape[0]
            value = value.reshape(turns, members, -1, *value.shape[2:]).transpose(0, 1)
            return value.reshape(members, -1, *value.shape[3:])

        rows = {name: by_member(value) for name, value in rollout._asdict().items()}
        rows["advantage"], rows["returns"] = by_member(advantage), by_member(returns)
        n_rows = rows["advantage"].shape[1]
        kickstart = self.kickstart_weight(self.num_timesteps - n_rows)
        if args.anneal_lr:  # the share of --timesteps done before this rollout
            done = (self.num_timesteps - n_rows) / args.timesteps
            for group in self.optimizer.param_groups:
                group["lr"] = args.learning_rate * max(1.0 - done, 0.0)
        names = ("policy", "value", "entropy", "approx_kl", "kickstart")
        sums = {name: torch.zeros(members, device=self.device) for name in names}
        n_batches = 0
        member = torch.arange(members, device=self.device)[:, None]
        for _ in range(args.n_epochs):
            # One shuffle of each member's rows per epoch, then contiguous minibatches (fewer, larger gathers).
            order = torch.stack(
                [torch.randperm(n_rows, generator=self.generator, device=self.device) for _ in range(members)]
            )
            # one gather of whole rows (index_select), not advanced indexing over two axes: 2-5x faster on a CPU
            rows_in_order = (member * n_rows + order).reshape(-1)
            epoch = {
                name: value.reshape(members * n_rows, *value.shape[2:])
                .index_select(0, rows_in_order)
                .reshape(members, n_rows, *value.shape[2:])
                for name, value in rows.items()
            }
            for start in range(0, n_rows, args.batch_size):
                batch = {name: value[:, start : start + args.batch_size] for name, value in epoch.items()}
                weight = batch["active"]  # [M, B]
                total_weight = weight.sum(-1).clamp(min=1.0)

                def mean(x: torch.Tensor, weight: torch.Tensor = weight, total: torch.Tensor = total_weight) -> Any:
                    return (x * weight).sum(-1) / total  # [M]: each member's mean over its rows

                # PPO's policy terms take the rows whose action the policy chose itself (not the teachers' played
                # choices of --imitate-until: off-policy, learned by the cross-entropy alone).
                own = weight - batch["imitated"]
                own_total = own.sum(-1).clamp(min=1.0)

                def own_mean(x: torch.Tensor, own: torch.Tensor = own, total: torch.Tensor = own_total) -> Any:
                    return (torch.where(own > 0, x, 0.0) * own).sum(-1) / total  # a skipped row's ratio may be inf

                logits = self.networks.masked_logits(batch["inputs"], batch["forbidden"])
                log_probs, entropy = log_prob_and_entropy(logits, batch["actions"])
                ratio = (log_probs - batch["log_probs"]).exp()
                adv = batch["advantage"]
                adv_mean = own_mean(adv)[:, None]
                adv = (adv - adv_mean) / (own_mean((adv - adv_mean) ** 2).sqrt()[:, None] + 1e-8)
                policy_loss = own_mean(
                    torch.maximum(-adv * ratio, -adv * ratio.clamp(1.0 - args.clip_range, 1.0 + args.clip_range))
                )
                value = self.networks.value(batch["inputs"])
                value_loss = 0.5 * mean((value - batch["returns"]) ** 2)
                entropy_loss = own_mean(entropy)
                loss = policy_loss - args.ent_coef * entropy_loss + args.vf_coef * value_loss
                if kickstart > 0.0:  # cross-entropy toward the teachers' choices (train.kickstart)
                    taught = batch["taught"]
                    teacher_log_p = torch.log_softmax(logits, dim=-1).gather(-1, batch["teacher_actions"][..., None])
                    # where no teacher chose, the label may be masked out (log p about -1e9): 0 before the product
                    cross_entropy = -torch.where(taught > 0, teacher_log_p[..., 0], 0.0)
                    kickstart_loss = (cross_entropy * taught).sum(-1) / taught.sum(-1).clamp(min=1.0)
                    loss = loss + kickstart * kickstart_loss
                else:
                    kickstart_loss = torch.zeros_like(policy_loss)
                # The members share no weight: the sum's gradient is each member's own loss's.
                loss = loss.sum()
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self.networks.clip_grad_norm_(args.max_grad_norm)
                self.optimizer.step()
                with torch.no_grad():
                    sums["policy"] += policy_loss
                    sums["value"] += value_loss
                    sums["entropy"] += entropy_loss
                    sums["approx_kl"] += own_mean((ratio - 1.0) - torch.log(ratio))
                    sums["kickstart"] += kickstart_loss
                n_batches += 1
        self.iterations += 1
        return {name: total / n_batches for name, total in sums.items()}

    def health(self, rollout: Rollout) -> torch.Tensor:
        """[2] float on the device, for the run's divergence check: 1 if every weight is finite (else 0), and how
        many of the rollout's actions chosen by the policy its mask forbade: logits that outgrow
        :data:`~train.masked_categorical.MASKED_LOGIT` (a diverged network) no longer keep them out."""
        with torch.no_grad():
            finite = torch.stack([weights.isfinite().all() for weights in self.networks.parameters()]).all()
            chosen = (rollout.active > 0) & (rollout.imitated == 0)  # the teachers' played choices are theirs
            forbidden = rollout.forbidden.gather(-1, rollout.actions[..., None])[..., 0] & chosen
            return torch.stack([finite.to(torch.float32), forbidden.sum().to(torch.float32)])

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint holds (plain tensors and numbers): weights, optimiser, step count and RNG states, and,
        where every scripted policy's memory can be saved (array policies: all the built-in ones), the worlds as they
        stand with what the nations last saw, each episode's return so far and the scripted nations' memories, so
        that a resumed run goes on turn for turn, bit for bit."""
        state = {
            "num_timesteps": self.num_timesteps,
            "iterations": self.iterations,
            "agent": self.networks.state_dict(),
            "agent_shape": self.networks.shape,
            "optimizer": self.optimizer.state_dict(),
            "generator": self.generator.get_state(),
            **self.background.scripted.state_dict("background"),
            **(self.teachers.state_dict() if self.teachers is not None else {}),
        }
        if not self.episodes_saved:  # the worlds' generator alone: the episodes restart on a resume
            state["env_rng"] = env_rng_state(self.batch.random)
        else:
            worlds = self.batch.state_dict()
            world = {name: torch.as_tensor(array) for name, array in worlds["world"].items()}
            observations, mask = self.seen
            state["episodes"] = {
                "worlds": {**worlds, "world": world, "map_index": torch.as_tensor(worlds["map_index"])},
                "observations": torch.as_tensor(observations),
                "action_mask": torch.as_tensor(mask),
                "returns_so_far": self.stats.running,
            }
        return state

    @property
    def episodes_saved(self) -> bool:
        """Whether a checkpoint holds the episodes under way (not where a scripted policy's memory cannot be saved)."""
        scripted = [self.background.scripted, *([self.teachers] if self.teachers is not None else [])]
        return all(players.memories_saved for players in scripted)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a checkpoint: weights, optimiser, RNG states, and the episodes under way where it holds them
        (otherwise, as in checkpoints written before it did, the episodes restart from fresh worlds)."""
        self.networks.load_state_dict(state["agent"])
        self.optimizer.load_state_dict(state["optimizer"])
        restore_generator(self.generator, state["generator"], "the trainer's sampling generator")
        self.num_timesteps = int(state["num_timesteps"])
        self.iterations = int(state["iterations"])
        episodes = state.get("episodes")
        try:
            if episodes is not None:
                self.batch.load_state_dict(episodes["worlds"])
            else:
                restore_env_rng(state.get("env_rng"), self.batch.random)
        except ValueError as error:  # worlds of another backend or dtype: a resume on another device
            print(f"the episodes under way restart from fresh worlds: {error}", file=sys.stderr)
            episodes = None
        # A checkpoint without the episodes, as one of a run whose scripted policy is not array code: they restart,
        # as the README says; said here as a resume on another device says it, naming the policies.
        if state.get("episodes") is None and not self.episodes_saved:
            roles = [("background", self.background.scripted)]
            roles += [("teacher", self.teachers.shadows)] if self.teachers is not None else []
            named = [f"the {role} policy {name!r}" for role, players in roles for name in players.unsaved]
            if named:
                keeps = "keeps its" if len(named) == 1 else "keep their"
                print(
                    f"the episodes under way restart from fresh worlds: {', '.join(named)} {keeps} memories as Python "
                    "objects (not array code), which a checkpoint does not hold",
                    file=sys.stderr,
                )
        self.background.scripted.load_state_dict(state, "background", memories=episodes is not None)
        if self.teachers is not None:
            self.teachers.load_state_dict(state, memories=episodes is not None)
        if episodes is None:
            self.inputs, self.forbidden = self._start()
            return
        observations, mask = episodes["observations"], episodes["action_mask"]
        if self.batch.backend.name == "numpy":
            observations, mask = observations.numpy(), mask.numpy()
        else:
            observations, mask = observations.to(self.device), mask.to(self.device)
        self.seen = (observations, mask)
        self.inputs = self._inputs(observations)
        self.forbidden = self._tensor(mask).reshape(self.n_slots, -1) == 0
        self.stats.running = episodes["returns_so_far"].to(self.device)


def load_agent(path: str | Path, device: str = "cpu") -> Agent:
    """The trained network of ``model.pt`` (or of a one-member run's checkpoint), read with ``weights_only=True``: a
    file never runs code on load."""
    state = torch.load(Path(path), map_location=device, weights_only=True)
    agent = agent_of_shape(state["agent_shape"])
    name, weights = next(iter(agent.state_dict().items()))
    saved = state["agent"][name]
    if saved.ndim == weights.ndim + 1:  # a population's checkpoint: its members' weights stacked
        raise ValueError(
            f"{path} holds the weights of a population of {saved.shape[0]} members; valid: one member's model.pt "
            "(in --members-dir/seed<k>)"
        )
    agent.load_state_dict(state["agent"])
    return agent.to(device)


def agent_of_shape(shape: dict[str, Any]) -> Agent:
    """A fresh :class:`Agent` of the shape saved beside its weights (``Agent.shape``)."""
    targets = TargetLayout(*(int(v) for v in shape["targets"])) if "targets" in shape else None
    hidden = [int(h) for h in shape["hidden"]]
    return Agent(int(shape["n_inputs"]), int(shape["n_actions"]), hidden, shape.get("actor", "mlp"), targets)


# --------------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------------


class NonFiniteLoss(RuntimeError):
    """The training diverged (a NaN or infinite loss or weight, or logits that outgrew the action mask): the run
    stops and keeps its last good checkpoint."""


#: The update's terms whose NaN or infinity stops a run (``approx_kl``, a diagnostic, is infinite whenever an action's
#: probability falls by more than float32's range in one update, and is only logged).
LOSS_TERMS = ("policy", "value", "entropy", "kickstart")


def diverged(losses: dict[str, list[float]], weights_finite: float, forbidden_played: float) -> str:
    """What shows that the training diverged (empty if nothing): the loss terms of :data:`LOSS_TERMS` that are not
    finite (per member), weights that are not, or actions the mask forbids played by the policy."""
    problems = []
    for name in LOSS_TERMS:
        member_values = losses.get(name, [])
        if not all(math.isfinite(v) for v in member_values):
            problems.append(f"the {name} loss is {member_values[0] if len(member_values) == 1 else member_values}")
    if not weights_finite:
        problems.append("a weight is not finite")
    if forbidden_played:
        problems.append(
            f"the policy played {int(forbidden_played)} actions its mask forbids (its logits outgrew the mask's "
            f"{MASKED_LOGIT:g})"
        )
    return "; ".join(problems)


def train(args: Args, config: EnvConfig, on_rollout: Callable[[int, int], None] | None = None) -> int:
    """Train (or resume, or report) the run of ``args``; returns the process exit status. ``on_rollout``, if given,
    is called with (the timesteps the run started from, the timesteps reached), each member's agent-steps, before the
    first rollout and after each: how far the run has come, for a caller's own progress display (the bar of
    :mod:`train.experiment`, whose runs train in worker processes)."""
    record = run_record(args, config)
    found = check_run_dir(args, record, final_outputs(args))
    if isinstance(found, str):
        print(found)
        return 0
    if args.population > 1:
        check_member_dirs(args, record, resuming=found is not None)
    if found is not None:
        note_changed_horizon(args, Path(args.out) / "config.json")
    with _StopRequest() as stop:  # from here on, SIGTERM or Ctrl-C stops the run with a checkpoint
        return _run(args, config, record, found, stop, on_rollout)


def final_outputs(args: Args) -> list[Path]:
    """What a finished run wrote besides ``--out/config.json``: its ``model.pt``, or each member's ``model.pt`` and
    ``config.json`` (in ``--members-dir/seed<k>``) for a population."""
    if args.population == 1:
        return [Path(args.out) / "model.pt"]
    members = Path(args.members_dir or args.out)
    seeds = range(args.seed, args.seed + args.population)
    return [members / f"seed{seed}" / name for seed in seeds for name in ("model.pt", "config.json")]


def member_record(record: dict[str, Any], seed: int, out: Path) -> dict[str, Any]:
    """A population member's ``config.json`` record: the population's, with the member's seed."""
    return {**record, "args": {**record["args"], "seed": seed}, "population_out": str(out)}


def check_member_dirs(args: Args, record: dict[str, Any], resuming: bool) -> None:
    """Exit with a message where a population would write its members' runs over something else: ``--out`` as a
    member's folder, a member folder holding a different run, or (starting afresh) a finished one. A run folder is
    refused the same way as ``--out`` itself (``train.ppo.check_run_dir``); how the seed is grouped may differ (the
    experiment regroups unfinished seeds into populations)."""
    out = Path(args.out)
    members_dir = Path(args.members_dir or args.out)
    for seed in range(args.seed, args.seed + args.population):
        member_out = members_dir / f"seed{seed}"
        if member_out.resolve() == out.resolve():
            raise SystemExit(
                f"error: --out {out} is member seed{seed}'s folder (--members-dir/seed<k>); valid: an --out apart "
                "from the members' folders, e.g. its parent"
            )
        saved = read_json(member_out / "config.json")
        if saved is None:
            continue
        regrouped = ("--population", "--members-dir")  # how the seed is grouped, not what it trains
        diff = differences(saved, member_record(record, seed, out), option_defaults(args))
        diff = [d for d in diff if d not in regrouped]
        if diff:
            raise SystemExit(
                f"error: {member_out} holds a different run (it differs in {', '.join(diff)}); valid: another "
                "--members-dir, or the same settings"
            )
        if not resuming and (read_json(member_out / "metrics.json") or {}).get("finished"):
            raise SystemExit(
                f"error: {member_out} holds a finished run, which this population would train again; valid: another "
                "--members-dir, or --resume with the population's --out"
            )


def note_changed_horizon(args: Args, saved_config: Path) -> None:
    """On a resume with another ``--timesteps`` than the run's last, say on stderr what changes: every schedule
    set as a share of ``--timesteps`` (the learning rate's annealing, the teachers' kickstart and imitation) now
    runs to the new one, so the run from here is not the one a single run to it would have been."""
    saved = read_json(saved_config) or {}
    before = saved.get("args", {}).get("timesteps")
    if not isinstance(before, int) or before == args.timesteps:
        return
    schedules = ["the learning rate anneals to 0"] if args.anneal_lr else []
    if args.teachers and args.kickstart_until > 0.0:
        schedules.append(f"the teachers' kickstart lasts --kickstart-until {args.kickstart_until} of it")
    if args.teachers and args.imitate_until > 0.0:
        schedules.append(f"the imitation lasts --imitate-until {args.imitate_until} of it")
    if schedules:
        print(
            f"note: --timesteps {args.timesteps:,} where the run was trained toward {before:,}: "
            f"{'; '.join(schedules)}, counted to {args.timesteps:,}; so from here the run differs from one trained to "
            f"{args.timesteps:,} in one go",
            file=sys.stderr,
        )


class MemberLog:
    """One member's learning curve, episode totals and TensorBoard writer (a run of one member is its only one)."""

    def __init__(
        self,
        out: Path,
        seed: int,
        doctrine_names: list[str],
        window: int,
        state: dict[str, Any],
        resumed_at: int | None = None,
    ) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.out, self.seed = out, seed
        self.curve: list[dict[str, Any]] = list(state.get("curve", []))
        self.totals = {name: 0.0 for name in doctrine_names}
        self.counts = dict.fromkeys(doctrine_names, 0.0)
        for name, (total, count) in dict(state.get("episode_totals", {})).items():
            self.totals[name], self.counts[name] = float(total), float(count)
        # The curve averages the episodes of the worlds that ended in the last `window` turns (an episode's length):
        # worlds start together, so every full window holds one of their common ends, and the share of the worlds
        # that ended early (unified) stays the same from one point to the next.
        self.recent: deque[tuple[list[float], list[float]]] = deque(state.get("window", []), maxlen=window)
        # On a resume, TensorBoard drops what a run that died after its checkpoint logged past it (purge_step: the
        # first step dropped), so the curves do not hold two values of one step.
        self.writer = SummaryWriter(str(out / "tb"), purge_step=None if resumed_at is None else resumed_at + 1)

    def add(
        self, timesteps: int, totals: list[list[float]], counts: list[list[float]], present: list[tuple[int, str]]
    ) -> dict:
        """One rollout's finished episodes (sum and count per doctrine, turn by turn): the curve's next point (None
        for a doctrine until a whole window of turns has been seen)."""
        point: dict[str, Any] = {"timesteps": timesteps}
        for total, count in zip(totals, counts, strict=True):
            self.recent.append((total, count))
            for d, name in present:
                self.totals[name] += total[d]
                self.counts[name] += count[d]
        for d, name in present:
            window_count = sum(c[d] for _, c in self.recent)
            full = len(self.recent) == self.recent.maxlen
            point[name] = sum(t[d] for t, _ in self.recent) / window_count if window_count and full else None
            if point[name] is not None:
                self.writer.add_scalar(f"episode_return/{name}", point[name], timesteps)
        self.curve.append(point)
        return point

    def state(self) -> dict[str, Any]:
        """What a checkpoint keeps of it."""
        return {
            "curve": self.curve,
            "episode_totals": {d: [self.totals[d], self.counts[d]] for d in self.totals},
            "window": list(self.recent),
        }


def _run(
    args: Args,
    config: EnvConfig,
    record: dict[str, Any],
    found: Any,
    stop: _StopRequest,
    on_rollout: Callable[[int, int], None] | None = None,
) -> int:
    """The body of :func:`train`: set up, then roll out and update until the target or a stop request."""
    from tqdm import tqdm

    out = Path(args.out)
    torch.set_num_threads(args.torch_threads)
    reset_peak_memory(args.device)  # this run's peak, not that of what the process ran before (experiment workers)
    trainer = Trainer(args, config)
    out.mkdir(parents=True, exist_ok=True)
    state: dict[str, Any] = {}
    if found is not None:
        path, state = found
        try:
            trainer.load_state_dict(state)
        except (RuntimeError, KeyError, ValueError, TypeError, IndexError) as error:
            # a checkpoint that does not say which run it is of (written before checkpoints did) and is not this
            # run's: its network or worlds have another shape
            lines = [line.strip() for line in str(error).splitlines() if line.strip()]  # torch's: a title, then each
            first = " ".join(lines[:2]) or type(error).__name__
            raise SystemExit(
                f"error: {path} does not fit the run of these settings ({first}); valid: the settings it was trained "
                f"with, or move it out of {path.parent} to resume from an earlier checkpoint, or another --out"
            ) from None
        print(f"resuming {out} from {path.name} at {trainer.num_timesteps} timesteps", file=sys.stderr)
    # written once the checkpoint has loaded: one that does not fit leaves the run's config.json as it was
    atomic_write_json(out / "config.json", {**record, "versions": library_versions("torch")})
    resumed_at = trainer.num_timesteps if found is not None else None
    population = trainer.members > 1
    members_dir = Path(args.members_dir or args.out)
    window = config.max_cycles  # turns
    if population:
        saved = list(state.get("members", [{}] * trainer.members))
        logs = []
        for seed, member_state in zip(trainer.seeds, saved, strict=True):
            member_out = members_dir / f"seed{seed}"
            member_out.mkdir(parents=True, exist_ok=True)
            written = {**member_record(record, seed, out), "versions": library_versions("torch")}
            atomic_write_json(member_out / "config.json", written)
            logs.append(MemberLog(member_out, seed, trainer.doctrine_names, window, member_state, resumed_at))
    else:
        logs = [MemberLog(out, args.seed, trainer.doctrine_names, window, state, resumed_at)]
    present = [(d, trainer.doctrine_names[d]) for d in trainer.doctrines_present]
    start_steps, start = trainer.num_timesteps, time.perf_counter()
    if on_rollout is not None:
        on_rollout(start_steps, start_steps)
    wall_before = float(state.get("total_wall_time_s", 0.0))
    rollout_size = args.n_steps * trainer.member_slots  # a member's agent-steps a rollout
    target = -(-args.timesteps // rollout_size) * rollout_size
    checkpoints = out / "checkpoints"
    last_checkpoint = trainer.num_timesteps
    checkpoint_bytes = 0  # the size of the last checkpoint written (the episodes under way make most of it)

    def rate() -> float:  # agent-steps/s of every member together
        return trainer.members * (trainer.num_timesteps - start_steps) / max(time.perf_counter() - start, 1e-9)

    def summary(finished: bool, log: MemberLog) -> dict[str, Any]:
        wall = time.perf_counter() - start
        names = [name for _, name in present]
        metrics = {
            "finished": finished,
            "algo": "fast_ppo",
            "doctrine": args.doctrine,
            "scenario": args.scenario,
            "seed": log.seed,
            "backend": trainer.batch.backend.name,
            "device": str(trainer.device),
            "target_timesteps": args.timesteps,
            "num_timesteps": trainer.num_timesteps,
            "start_timesteps": start_steps,
            "resumed": bool(state),
            "n_slots": trainer.member_slots,
            "rollout_size": rollout_size,
            "updates": trainer.iterations,
            "checkpoint_bytes": checkpoint_bytes,
            "wall_time_s": wall,
            "total_wall_time_s": wall_before + wall,
            "agent_steps_per_s": rate() / trainer.members,
            # this run's peak: the process's resident set on a CPU (all of it), the allocator's on a GPU; a
            # population's members share one process, so each records the population's
            "peak_memory_bytes": peak_memory_bytes(trainer.device),
            "mean_episode_return": {d: log.totals[d] / log.counts[d] if log.counts[d] else None for d in names},
            "episodes": {d: int(log.counts[d]) for d in names},
            "curve": log.curve,
        }
        if population:  # a member's share of the population's time and speed (so that members' times add up)
            metrics.update(
                population=trainer.members,
                population_out=str(out),
                population_agent_steps_per_s=rate(),
                population_wall_time_s=metrics["total_wall_time_s"],
                wall_time_s=wall / trainer.members,
                total_wall_time_s=metrics["total_wall_time_s"] / trainer.members,
            )
        return metrics

    def population_summary(finished: bool) -> dict[str, Any]:
        """The population's own metrics.json: every member's, and their speed together."""
        members = [summary(finished, log) for log in logs]
        member_only = ("seed", "mean_episode_return", "episodes", "curve", "wall_time_s", "total_wall_time_s")
        shared = {k: v for k, v in members[0].items() if k not in member_only}
        kept = ("seed", "mean_episode_return", "episodes")
        wall = time.perf_counter() - start
        returns = {d: [m["mean_episode_return"][d] for m in members if m["mean_episode_return"][d] is not None]
                   for d in members[0]["mean_episode_return"]}  # fmt: skip
        return {
            **shared,
            "mean_episode_return": {d: sum(r) / len(r) if r else None for d, r in returns.items()},  # over members
            "wall_time_s": wall,
            "total_wall_time_s": wall_before + wall,
            "seeds": trainer.seeds,
            "agent_steps_per_s": rate(),
            "members_dir": str(members_dir),
            "members": [{k: m[k] for k in kept} for m in members],
        }

    def checkpoint() -> Path:
        nonlocal checkpoint_bytes
        logged = {"members": [log.state() for log in logs]} if population else logs[0].state()
        extra = {**logged, "total_wall_time_s": wall_before + time.perf_counter() - start}
        extra[RUN_RECORD] = record  # which run the checkpoint is of (train.ppo.check_run_dir)
        path = save_torch_checkpoint({**trainer.state_dict(), **extra}, checkpoints, keep=args.keep_checkpoints)
        checkpoint_bytes = path.stat().st_size
        return path

    def close() -> None:
        for log in logs:
            log.writer.close()

    bar = tqdm(
        total=target, initial=trainer.num_timesteps, unit="step", disable=not args.progress_bar, dynamic_ncols=True
    )
    while trainer.num_timesteps < target and not stop():
        rollout = trainer.collect()
        losses = trainer.update(rollout)
        values = {name: v.reshape(-1).tolist() for name, v in losses.items()}  # per member: the host sync
        weights_finite, forbidden_played = trainer.health(rollout).tolist()  # (the device has just synced)
        problem = diverged(values, weights_finite, forbidden_played)
        if problem:
            bar.close()
            close()
            latest = f"the last good checkpoint is in {checkpoints}" if checkpoints.exists() else "no checkpoint"
            raise NonFiniteLoss(
                f"the training diverged at {trainer.num_timesteps} timesteps: {problem}; {latest}. valid: a smaller "
                "--learning-rate or --max-grad-norm, in a new --out (a --resume keeps them, and would repeat the "
                "same steps)"
            )
        total, count = trainer.stats.take()
        n_doctrines = len(trainer.doctrine_names)
        points = []
        for member, log in enumerate(logs):
            groups = slice(member * n_doctrines, (member + 1) * n_doctrines)
            points.append(
                log.add(trainer.num_timesteps, [t[groups] for t in total], [c[groups] for c in count], present)
            )
            for name, member_values in values.items():
                log.writer.add_scalar(f"loss/{name}", member_values[member], trainer.num_timesteps)
            log.writer.add_scalar("agent_steps_per_s", rate() / trainer.members, trainer.num_timesteps)
        bar.update(rollout_size)
        if on_rollout is not None:
            on_rollout(start_steps, trainer.num_timesteps)
        shown = {}  # the members' mean of each doctrine's point
        for _, name in present:
            known = [point[name] for point in points if point[name] is not None]
            if known:
                shown[name] = f"{sum(known) / len(known):.2f}"
        bar.set_postfix(shown | {"steps/s": f"{rate():,.0f}"})
        if args.checkpoint_every and trainer.num_timesteps - last_checkpoint >= args.checkpoint_every:
            checkpoint()
            last_checkpoint = trainer.num_timesteps
    bar.close()
    path = checkpoint()
    close()
    # The checkpoint above was written under the stop handler: a second signal would have ended the process at once,
    # and the atomic write would have left the checkpoint before it whole.
    if stop.signum is not None:
        if not population:
            return stopped(out, stop.signum, path, summary(False, logs[0]))
        for log in logs:
            atomic_write_json(log.out / "metrics.json", summary(False, log))
        return stopped(out, stop.signum, path, population_summary(False))
    for member, log in enumerate(logs):  # a run alone is its one member, in --out
        weights = _model_bytes(trainer.networks.member_state_dict(member), trainer)
        finished(log.out, "model.pt", weights, summary(True, log), args.imports, scoring=not population)
    if not population:
        return 0
    write_summary(out / "metrics.json", population_summary(True))
    print(f"{out}: a population of {trainer.members} finished ({rate():,.0f} agent-steps/s together)")
    print(score_command([log.out for log in logs], args.doctrine, args.imports))  # its runs together: over runs
    return 0


def _model_bytes(weights: dict[str, torch.Tensor], trainer: Trainer) -> bytes:
    """``model.pt``'s bytes: one network's weights and shape (read back with :func:`load_agent`), and the timesteps
    it was trained for (:func:`train.learned.check_model_current` compares them with the run's)."""
    buffer = io.BytesIO()
    model = {"agent": weights, "agent_shape": trainer.networks.shape, "num_timesteps": trainer.num_timesteps}
    torch.save(model, buffer)
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> int:
    args, config = parse_args(argv)
    try:
        with run_lock(Path(args.out)):
            return train(args, config)
    except NonFiniteLoss as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        raise os_error_exit(error, WRITABLE_OUT) from None


if __name__ == "__main__":
    sys.exit(main())
