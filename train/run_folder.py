"""A run folder, as both PPO trainers (``train.ppo``, ``train.fast_ppo``) keep it: the run's record (``config.json``:
:func:`run_record`) and how a later run is compared with it (:func:`differences`), what ``--out`` holds before a run
starts (:func:`check_run_dir`: resume, report, or refuse), the folder's lock (:func:`run_lock`), a stop on SIGTERM or
Ctrl-C (:class:`StopRequest`), and the end of a run (:func:`stopped`, :func:`finished`)."""

from __future__ import annotations

import contextlib
import json
import shlex
import signal
import sys
from collections.abc import Iterator, Sequence
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any, ClassVar

import realism_env
from agents.plugins import doctrines_differ, source_digests
from agents.policies import without_counterpart
from realism_env import EnvConfig
from realism_env.files import folder_problem
from train.checkpoint import (
    RUN_LOCK,
    atomic_write_bytes,
    atomic_write_json,
    find_latest,
    folder_lock,
    read_json,
    readable_model,
    unreadable_checkpoints,
)
from train.run_args import PPOArgs

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


def run_record(args: PPOArgs, config: EnvConfig) -> dict[str, Any]:
    """What ``config.json`` holds: the arguments, the full EnvConfig (JSON types), the doctrines registered (the
    doctrine one-hot's, which ``--import`` may widen) and the source digest of each ``--import`` module that
    registered what the run is made of (:func:`run_uses`: its doctrines are the run's rewards; a module that
    registers only what its evaluation plays is not the run's)."""
    record = {
        "env": realism_env.NAME,  # the rules the run was trained under (realism_env.version)
        "args": asdict(args),
        "env_config": config.to_dict(),
        "doctrine_names": realism_env.doctrine_names(),
        "import_sources": source_digests(args.imports, run_uses(args, config)),
    }
    return json.loads(json.dumps(record))


def differences(
    saved: dict[str, Any],
    current: dict[str, Any],
    defaults: dict[str, Any] | None = None,
    ignore: Sequence[str] = (),
    current_is: str = "given",
) -> list[str]:
    """The run-defining settings in which ``current`` differs from ``saved`` (both from run_record), one text each:
    an argument other than :data:`RESUMABLE`, :data:`CONFIG_ARGS` and ``ignore`` (field names) as its flag with its
    value in ``saved`` and, in brackets, ``current_is`` and its value in ``current`` (so that a run made at defaults
    since changed can be resumed by giving its own); an EnvConfig field, an edited ``--import`` module or another env
    version by name. An option that ``saved`` lacks (a run made before the option existed) counts as its value in
    ``defaults``, and an EnvConfig field it lacks as the field's default: the behaviour the run was trained with."""
    defaults = defaults or {}
    unknown = set(ignore) - set(current["args"])
    if unknown:
        raise ValueError(f"ignore={sorted(unknown)} names no argument; valid: {', '.join(current['args'])}")
    skipped = RESUMABLE | CONFIG_ARGS | set(ignore)
    saved_args = saved.get("args", {})
    diff = [
        f"--{k.replace('_', '-')} {_shown(saved_args.get(k, defaults.get(k)))} ({current_is} {_shown(value)})"
        for k, value in current["args"].items()
        if k not in skipped and saved_args.get(k, defaults.get(k)) != value
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
    # Trained under other rules (the env's version was bumped since): its policy learned another world.
    trained_in, now = trained_env(saved), trained_env(current)
    if trained_in != now:
        diff.append(f"the env version ({trained_in} when trained, {now} now: the rules changed since)")
    return diff


def _shown(value: Any) -> str:
    """An argument's value as text: a string as it is (an empty one as ""), anything else as JSON (true, [1, 2])."""
    return value if isinstance(value, str) and value else json.dumps(value)


#: The env of a run whose record does not say (recorded before run records held it): it was trained in realism_v2 or
#: an earlier version, so it is taken as realism_v2's, and refused once the version moves on.
UNRECORDED_ENV = "realism_v2"


def trained_env(record: dict[str, Any]) -> str:
    """The env a run was trained in, from its record (``config.json`` or a checkpoint's): its ``env``, or
    :data:`UNRECORDED_ENV` for a run recorded before records held it."""
    return str(record.get("env") or UNRECORDED_ENV)


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


class StopRequest:
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

    def __enter__(self) -> StopRequest:
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
    args: PPOArgs, record: dict[str, Any], outputs: Sequence[Path] | None = None
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
        against, than, label = (
            (record, "these settings", "given") if saved is None else (saved, out / "config.json", "config.json has")
        )
        diff = differences(found[1][RUN_RECORD], against, option_defaults(args), current_is=label)
        if diff:
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
    model) or deleted its checkpoint mid-write. Taken by the command lines, not by :func:`train.fast_ppo.train`, which
    a worker calls while it holds the lock (a second ``flock`` of one file in one process would refuse itself)."""
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
