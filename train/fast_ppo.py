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
``--doctrine security+prosperity``, its doctrines). This module is the command (arguments, run folder, checkpoints,
logs, the loop); :mod:`train.trainer` holds the PPO it runs and :mod:`train.networks` its networks. The loop follows
CleanRL's ``ppo.py`` with the changes a multi-agent world needs:

- **Slots.** ``n_worlds x n_nations`` slots act each turn in one forward pass. A nation eliminated mid-episode leaves
  an *inactive* slot until its world ends: its rows get weight 0 in every loss and mean (no host sync: weights, not
  boolean indexing). Ended worlds are replaced inside the step (``WorldBatch``).
- **Action masks.** Masked-out actions get a logit of -1e9 added before sampling and in the loss: probability 0, no
  NaN in the entropy (:mod:`train.masked_categorical`); sampling is Gumbel-max with the trainer's own
  ``torch.Generator``, so the run is reproducible on every device.
- **Learning rate** annealed linearly to 0 at ``--timesteps`` (``--no-anneal-lr`` keeps it fixed), as CleanRL does.
  The defaults, 1e-3 with an entropy bonus of 0.001, are not ``train.ppo``'s (3e-4, SB3's, and 0.01, CleanRL's): at
  those, 2M agent-steps leave the policy unsure of its arms level, safe when it plays its most likely action and not
  when it samples, as in training; at these it is nearly as safe sampling, in the same agent-steps and time
  (``docs/learning.md``). ``train.throughput_benchmark`` gives both trainers the same values.
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
``model.pt`` (the network's weights and shape, read back with :func:`train.networks.load_agent`, ``weights_only``),
``config.json`` (arguments and EnvConfig),
``metrics.json`` (mean episode return per doctrine of the learning nations; a learning curve, each point the mean
return of the learners' episodes whose worlds ended in the last ``max_cycles`` turns, an eliminated nation's episode
counted when its world ends; with ``--background``, ``selfplay_curve``, the same over the self-play worlds alone;
``policy_entropy``, the last update's entropies of the arms level's and the act's marginals beside their maxima, how
sure the policy is of each, also in TensorBoard after every update (``policy/``); agent-steps/s;
``checkpoint_bytes``, the last checkpoint's size; ``peak_memory_bytes``,
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
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch

import realism_env
from agents.plugins import add_import_option, import_plugins
from agents.policies import ArrayPolicy, policy_class
from realism_env import EnvConfig
from realism_env.backend import peak_memory_bytes, reset_peak_memory, resolve_backend
from realism_env.batch import check_horizon
from train.background import parse_background
from train.checkpoint import (
    atomic_write_json,
    library_versions,
    read_json,
    save_torch_checkpoint,
)
from train.cli import MAX_SEED, dataclass_parser
from train.kickstart import parse_teachers
from train.masked_categorical import MASKED_LOGIT
from train.networks import ACTOR_CHOICES
from train.run_args import PPOArgs, arg, make_config, parse_run_args
from train.run_args import check_args as check_ppo_args
from train.run_folder import (
    RUN_RECORD,
    WRITABLE_OUT,
    StopRequest,
    check_run_dir,
    differences,
    finished,
    option_defaults,
    os_error_exit,
    run_lock,
    run_record,
    score_command,
    stopped,
    write_summary,
)
from train.trainer import POLICY_DIAGNOSTICS, Trainer, world_backend

BACKEND_CHOICES = ("auto", "numpy", "torch")


@dataclass
class Args(PPOArgs):
    """Command-line arguments of ``python -m train.fast_ppo``: ``train.ppo``'s (:class:`train.run_args.PPOArgs`), some
    with other defaults, then this trainer's own."""

    #: what a run made before an option existed did, where that is not the option's default
    #: (train.run_folder.option_defaults)
    BEFORE_OPTION: ClassVar[dict[str, Any]] = {"actor": "mlp"}

    # train.ppo's flags with this trainer's defaults (and help where the meaning is wider)
    timesteps: int = arg(2_000_000, "total agent-steps to train for (rounded up to whole rollouts)")
    seed: int = arg(0, "seed of the worlds, the network's initialisation, the action draws and the minibatches")
    out: str = arg("runs/fast_ppo", "output directory (model.pt, config.json, metrics.json, tb/, checkpoints/)")
    n_worlds: int = arg(64, "worlds stepped together; n_worlds * n_nations slots act each turn")
    n_steps: int = arg(32, "turns per slot in each rollout")
    batch_size: int = arg(2048, "minibatch size of each gradient step (rows of slot-turns)")
    learning_rate: float = arg(
        1e-3,
        "Adam learning rate (train.ppo's is 3e-4: in 2M agent-steps it leaves the policy unsure of its arms level; "
        "docs/learning.md)",
    )
    ent_coef: float = arg(0.001, "entropy bonus coefficient (train.ppo's is 0.01; see --learning-rate)")
    checkpoint_every: int = arg(500_000, "save a checkpoint every this many timesteps (0: only at the end)")
    device: str = arg("cpu", "torch device of the network and, with the torch backend, of the worlds")
    # this trainer's own
    anneal_lr: bool = arg(True, "anneal the learning rate linearly to 0 at --timesteps (CleanRL's default)")
    actor: str = arg(
        "per_nation",
        "policy network: per_nation scores every target nation with the same weights (PerNationActor); mlp scores "
        "the flat action (SB3's network)",
        choices=ACTOR_CHOICES,
    )
    backend: str = arg("auto", "backend of the worlds: numpy, torch, or auto (numpy on a CPU)", choices=BACKEND_CHOICES)
    compile_worlds: bool = arg(
        False,
        "torch backend: step the worlds with torch.compile (WorldBatch(compile=True)); compiles for tens of seconds "
        "at the start; pays on a GPU (on a CPU the step runs 1.5x eager's speed, but the network bounds a run)",
    )
    cuda_graphs: bool = arg(
        False,
        "torch backend on a GPU: step the worlds as one CUDA graph (WorldBatch(compile='reduce-overhead')), one "
        "launch a step where a small batch's eager step is bound by kernel launches; compiles tens of seconds first",
    )
    population: int = arg(
        1,
        "members trained together, seeds --seed .. --seed + population - 1, each with its own network and worlds "
        "(train.population): one process fills a GPU with several runs; the members' runs go to "
        "--members-dir/seed<k>",
    )
    members_dir: str = arg("", "where a population's members' runs go, as seed<k>/ (empty: --out)")
    background: str = arg(
        "",
        "scripted background policies, comma-separated (agents.POLICIES), taken in turn by the background worlds; "
        "empty: pure self-play",
    )
    background_share: float = arg(0.0, "share of the worlds whose nations n_focal.. are the scripted background")
    n_focal: int = arg(0, "learning nations in a background world (0: half the nations)")
    teachers: str = arg(
        "",
        "kickstarting (train.kickstart): scripted teachers per doctrine, DOCTRINE=POLICY comma-separated (e.g. "
        "power=offensive_realist); learners are pulled toward their teacher's choice, less and less; empty: none",
    )
    kickstart_coef: float = arg(1.0, "weight of the teachers' cross-entropy in the loss at the start of the run")
    kickstart_until: float = arg(
        0.25, "share of --timesteps at which the teachers' weight has fallen to --kickstart-final"
    )
    kickstart_final: float = arg(0.0, "the teachers' weight from --kickstart-until on (0: the learner is on its own)")
    imitate_until: float = arg(
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


def check_world_horizon(
    args: Args, config: EnvConfig, setting: str = "--max-cycles", instead: str = "--device cpu"
) -> None:
    """Raise ``ValueError`` where ``--max-cycles`` is longer than the worlds' float dtype holds: WorldBatch's own
    check (float32 worlds on a GPU hold 2,426 turns at 3% growth), in the words of this command's flags (or of
    ``setting`` and ``instead``: a preset's keys)."""
    backend_name = world_backend(args)
    backend = resolve_backend(backend_name, args.device if backend_name == "torch" else None)
    check_horizon(config, backend, setting, instead)


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
    with StopRequest() as stop:  # from here on, SIGTERM or Ctrl-C stops the run with a checkpoint
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
    refused the same way as ``--out`` itself (``train.run_folder.check_run_dir``); how the seed is grouped may differ
    (the experiment regroups unfinished seeds into populations)."""
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
        # --population: how the seed is grouped, not what it trains (--members-dir may change anyway)
        diff = differences(saved, member_record(record, seed, out), option_defaults(args), ignore=("population",))
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


class Curve:
    """A learning curve: each point the mean episode return per doctrine over the worlds that ended in the last
    ``window`` turns (an episode's length). Worlds start together, so every full window holds one of their common
    ends, and the share of the worlds that ended early (unified) stays the same from one point to the next."""

    def __init__(self, window: int, points: list[dict[str, Any]], recent: list[Any]) -> None:
        self.points = list(points)
        self.recent: deque[tuple[list[float], list[float]]] = deque(recent, maxlen=window)

    def add(
        self, timesteps: int, totals: list[list[float]], counts: list[list[float]], present: list[tuple[int, str]]
    ) -> dict[str, Any]:
        """One rollout's finished episodes (sum and count per doctrine, turn by turn): the next point (None for a
        doctrine until a whole window of turns has been seen)."""
        self.recent.extend(zip(totals, counts, strict=True))
        point: dict[str, Any] = {"timesteps": timesteps}
        full = len(self.recent) == self.recent.maxlen
        for d, name in present:
            window_count = sum(c[d] for _, c in self.recent)
            point[name] = sum(t[d] for t, _ in self.recent) / window_count if window_count and full else None
        self.points.append(point)
        return point


class MemberLog:
    """One member's learning curves, episode totals and TensorBoard writer (a run of one member is its only one).

    Two curves: ``curve`` over every world's learners, and, in a run with a scripted background
    (``--background``), ``selfplay_curve`` over the learners of the self-play worlds alone, the worlds the
    experiment's self-play evaluation resembles (where a doctrine's self-play return is nearly constant-sum, the first
    curve rises by what the learners win from the background)."""

    def __init__(
        self,
        out: Path,
        seed: int,
        doctrine_names: list[str],
        window: int,
        state: dict[str, Any],
        resumed_at: int | None = None,
        background: bool = False,
    ) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.out, self.seed = out, seed
        self.n_doctrines = len(doctrine_names)
        self.curve = Curve(window, state.get("curve", []), state.get("window", []))
        self.selfplay_curve = (
            Curve(window, state.get("selfplay_curve", []), state.get("selfplay_window", [])) if background else None
        )
        self.totals = {name: 0.0 for name in doctrine_names}
        self.counts = dict.fromkeys(doctrine_names, 0.0)
        for name, (total, count) in dict(state.get("episode_totals", {})).items():
            self.totals[name], self.counts[name] = float(total), float(count)
        # On a resume, TensorBoard drops what a run that died after its checkpoint logged past it (purge_step: the
        # first step dropped), so the curves do not hold two values of one step.
        self.writer = SummaryWriter(str(out / "tb"), purge_step=None if resumed_at is None else resumed_at + 1)
        #: the last update's :data:`~train.trainer.POLICY_DIAGNOSTICS` (none before the run's first update)
        self.policy_entropy: dict[str, float] = dict(state.get("policy_entropy", {}))

    def add(
        self, timesteps: int, totals: list[list[float]], counts: list[list[float]], present: list[tuple[int, str]]
    ) -> dict[str, Any]:
        """One rollout's finished episodes, turn by turn: per group, the sum of returns and their number, the groups
        the doctrines of the self-play worlds, then those of the worlds with a background (``Trainer.stats``).
        Returns the curve's next point."""
        n = self.n_doctrines

        def every_world(by_group: list[float]) -> list[float]:
            return [selfplay + background for selfplay, background in zip(by_group[:n], by_group[n:], strict=True)]

        every_total, every_count = [every_world(t) for t in totals], [every_world(c) for c in counts]
        for total, count in zip(every_total, every_count, strict=True):
            for d, name in present:
                self.totals[name] += total[d]
                self.counts[name] += count[d]
        point = self.curve.add(timesteps, every_total, every_count, present)
        curves = [("episode_return", point)]
        if self.selfplay_curve is not None:
            selfplay = self.selfplay_curve.add(timesteps, [t[:n] for t in totals], [c[:n] for c in counts], present)
            curves.append(("episode_return_selfplay", selfplay))
        for tag, values in curves:
            for _, name in present:
                if values[name] is not None:
                    self.writer.add_scalar(f"{tag}/{name}", values[name], timesteps)
        return point

    def state(self) -> dict[str, Any]:
        """What a checkpoint keeps of it."""
        selfplay = (
            {"selfplay_curve": self.selfplay_curve.points, "selfplay_window": list(self.selfplay_curve.recent)}
            if self.selfplay_curve is not None
            else {}
        )
        return {
            "curve": self.curve.points,
            "episode_totals": {d: [self.totals[d], self.counts[d]] for d in self.totals},
            "window": list(self.curve.recent),
            "policy_entropy": self.policy_entropy,  # so that a run resumed only to finish still reports it
            **selfplay,
        }


def _run(
    args: Args,
    config: EnvConfig,
    record: dict[str, Any],
    found: Any,
    stop: StopRequest,
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
    background = trainer.background.n_worlds > 0  # then a second curve: the self-play worlds alone
    if population:
        saved = list(state.get("members", [{}] * trainer.members))
        logs = []
        for seed, member_state in zip(trainer.seeds, saved, strict=True):
            member_out = members_dir / f"seed{seed}"
            member_out.mkdir(parents=True, exist_ok=True)
            written = {**member_record(record, seed, out), "versions": library_versions("torch")}
            atomic_write_json(member_out / "config.json", written)
            logs.append(
                MemberLog(member_out, seed, trainer.doctrine_names, window, member_state, resumed_at, background)
            )
    else:
        logs = [MemberLog(out, args.seed, trainer.doctrine_names, window, state, resumed_at, background)]
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
            "curve": log.curve.points,
            **({"selfplay_curve": log.selfplay_curve.points} if log.selfplay_curve is not None else {}),
            # how sure the last update's policy was of its arms level and act (nats; a uniform choice: the maxima)
            **(
                {
                    "policy_entropy": {
                        **log.policy_entropy,
                        "arms_level_entropy_max": math.log(trainer.targets.n_levels),
                        "act_entropy_max": math.log(trainer.targets.n_acts),
                    }
                }
                if log.policy_entropy
                else {}
            ),
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
        member_only = (
            "seed", "mean_episode_return", "episodes", "curve", "selfplay_curve", "wall_time_s", "total_wall_time_s",
            "policy_entropy",
        )  # fmt: skip
        shared = {k: v for k, v in members[0].items() if k not in member_only}
        kept = ("seed", "mean_episode_return", "episodes", "policy_entropy")
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
            "members": [{k: m[k] for k in kept if k in m} for m in members],
        }

    def checkpoint() -> Path:
        nonlocal checkpoint_bytes
        logged = {"members": [log.state() for log in logs]} if population else logs[0].state()
        extra = {**logged, "total_wall_time_s": wall_before + time.perf_counter() - start}
        extra[RUN_RECORD] = record  # which run the checkpoint is of (train.run_folder.check_run_dir)
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
        n_groups = 2 * len(trainer.doctrine_names)  # a member's: its self-play worlds' doctrines, then the others'
        points = []
        for member, log in enumerate(logs):
            groups = slice(member * n_groups, (member + 1) * n_groups)
            points.append(
                log.add(trainer.num_timesteps, [t[groups] for t in total], [c[groups] for c in count], present)
            )
            for name, member_values in values.items():
                tag = "policy" if name in POLICY_DIAGNOSTICS else "loss"
                log.writer.add_scalar(f"{tag}/{name}", member_values[member], trainer.num_timesteps)
            log.policy_entropy = {name: values[name][member] for name in POLICY_DIAGNOSTICS}
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
    """``model.pt``'s bytes: one network's weights and shape (read back with :func:`train.networks.load_agent`), and
    the timesteps it was trained for (:func:`train.learned.check_model_current` compares them with the run's)."""
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
