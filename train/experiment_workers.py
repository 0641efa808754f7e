"""Worker processes of the experiment: the spawn pool (or an inline stand-in with one worker), how workers stop
with the experiment (signals, the parent's death), the lock on a run folder, how training tasks report how far they
have come (:class:`ProgressSlots`), and the two tasks a worker runs: :func:`train_run` and :func:`evaluate_job`. The
tasks are top-level functions, so that spawned workers import them."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import signal
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent import futures
from pathlib import Path
from typing import Any

from realism_env import EnvConfig
from train.checkpoint import atomic_write_json, folder_lock
from train.experiment_design import Setting
from train.experiment_jobs import SAMPLED, is_deviation, run_finished
from train.fast_ppo import Args
from train.run_args import make_config
from train.run_folder import StopRequest

_PARENT: int | None = None
_STOP = False
_PROGRESS: ProgressSlots | None = None  # where this process's training tasks report (set by _worker_init)


class ProgressSlots:
    """How far each running training task has come, where the experiment can read it while it waits: two int64
    slots a task, the timesteps (each member's agent-steps) its run started from and has reached, written by the
    task after every rollout (:func:`train.fast_ppo.train`'s ``on_rollout``). The values live in shared memory
    (``multiprocessing``'s ``RawArray``, handed to the spawned workers when they start); each is one aligned 8-byte
    word that one task writes and the experiment only reads, so no lock is needed. A task that has not reported
    reads as None. Where the tasks run in the experiment's own process (one worker), ``on_report``, when set, is
    called after each report."""

    def __init__(self, n_tasks: int) -> None:
        import multiprocessing

        self.values = multiprocessing.get_context("spawn").RawArray("q", [-1] * (2 * n_tasks))
        self.on_report: Callable[[], None] | None = None

    def report(self, task: int, started: int, reached: int) -> None:
        self.values[2 * task + 1] = reached
        self.values[2 * task] = started
        if self.on_report is not None:
            self.on_report()

    def read(self, task: int) -> tuple[int, int] | None:
        """(started, reached) of ``task``, or None before its first report."""
        started, reached = self.values[2 * task], self.values[2 * task + 1]
        return None if started < 0 else (started, max(started, reached))


@contextlib.contextmanager
def reporting_to(progress: ProgressSlots | None) -> Any:
    """While it lasts, training tasks run in this process report to ``progress`` (for :class:`InlinePool`; what
    :func:`_worker_init` sets up in a spawned worker)."""
    global _PROGRESS
    before, _PROGRESS = _PROGRESS, progress
    try:
        yield
    finally:
        _PROGRESS = before


class Interrupted(Exception):
    """A task stopped by a signal (a training run saves a checkpoint first)."""


def _exit_now(signum: int, frame: Any) -> None:
    os._exit(128 + signum)


def _worker_init(parent: int, progress: ProgressSlots | None = None) -> None:
    """Worker processes stop with the experiment. SIGUSR1 means "stop": the experiment sends it when interrupted,
    and on Linux the kernel sends it when the experiment dies (``PR_SET_PDEATHSIG``). A training run then saves a
    checkpoint and stops (the trainer's SIGTERM handler); an evaluation finishes its current setting (or, orphaned,
    exits); no further task starts; an orphaned worker exits. Ctrl-C (SIGINT to the process group) is ignored here:
    the experiment takes it and sends SIGUSR1; a SIGTERM to the group stops a training run as SIGUSR1 does, once
    (a repeated signal never ends a worker before its run's checkpoint is written)."""
    global _PARENT, _PROGRESS
    _PARENT = parent  # from the parent: if it died while this worker started, getppid() already differs
    _PROGRESS = progress
    signal.signal(signal.SIGUSR1, _on_stop)
    signal.signal(signal.SIGTERM, _exit_now)
    # Ctrl-C reaches the whole process group: the experiment stops its workers (SIGUSR1), and the trainer leaves an
    # ignored signal ignored. A SIGTERM to the group reaches the trainer, then the experiment's SIGUSR1 raises it again,
    # and the pool terminates the other workers when one exits: a repeat never cuts the first one's checkpoint short.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    StopRequest.repeat_kills = False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGUSR1), 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    _check_stop()


def _orphaned() -> bool:
    return _PARENT is not None and os.getppid() != _PARENT


def _on_stop(signum: int, frame: Any) -> None:
    """SIGUSR1. A dying parent signals once per thread as its threads exit (the worker is reparented to the next live
    thread, so ``getppid`` changes only at the last): a training run is stopped at the first signal; an idle or
    evaluating worker exits once it is orphaned."""
    global _STOP
    first, _STOP = not _STOP, True
    if signal.getsignal(signal.SIGTERM) is not _exit_now:  # the trainer's handler: a run is training
        if first:
            signal.raise_signal(signal.SIGTERM)
    elif _orphaned():
        os._exit(1)


def _check_stop() -> None:
    """Between tasks: an orphaned worker exits; a stopped one refuses the task."""
    if _orphaned():
        os._exit(1)
    if _STOP:
        raise Interrupted("the experiment was interrupted")


def _import_plugins(names: Sequence[str]) -> None:
    """Import the experiment's ``[experiment] imports`` in this process (a spawned worker knows only what the modules
    it imports register); each is imported once per process."""
    from agents.plugins import import_plugin

    for name in names:
        import_plugin(name)


def train_run(args_fields: dict[str, Any], log_path: str, task: int | None = None) -> dict[str, Any]:
    """Train (or resume) one run with :func:`train.fast_ppo.train`, its output in ``log_path``; returns its metrics,
    with ``"trained_here"``: False where another invocation on the same folder had finished it meanwhile (this one
    waited on its lock). ``task``: its slots in the experiment's :class:`ProgressSlots`, where it reports after every
    rollout."""
    from train.fast_ppo import train

    progress = _PROGRESS
    on_rollout = None if progress is None or task is None else functools.partial(progress.report, task)
    _check_stop()
    args = Args(**args_fields)
    _import_plugins(args.imports)
    config = make_config(args)
    out = Path(args.out)
    with folder_lock(out), open(log_path, "a") as log:
        finished_before = run_finished(out, args.timesteps, with_model=args.population == 1)
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            print(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} train.fast_ppo {args.out}", flush=True)
            try:
                code = train(args, config, on_rollout)
            except Exception as error:  # the traceback goes to the run's log; the experiment names the run
                traceback.print_exc()
                raise RuntimeError(f"{type(error).__name__}: {error} (the traceback is in {log_path})") from None
    if _orphaned():
        os._exit(1)
    if code >= 128:
        raise Interrupted(f"training {out} stopped by signal {code - 128} after saving a checkpoint")
    if code != 0:
        raise RuntimeError(f"training {out} stopped with exit status {code}; see {log_path}")
    return {**json.loads((out / "metrics.json").read_text()), "trained_here": not finished_before}


def evaluate_job(job: dict[str, Any]) -> list[str]:
    """Play every setting of one evaluation job and write one cache file per setting (atomically)."""
    from train.learned import learned_population, play, population, scripted_names

    _import_plugins(job.get("imports", ()))
    written = []
    for item in job["items"]:
        _check_stop()
        if is_deviation(item):
            written.append(_deviations(job, item))
            continue
        setting = Setting(**item["setting"])
        sampled = bool(item.get("sampled"))  # the run's nations sample from their policy (SAMPLED)
        if job["policy"] == "learned":
            policies, doctrines = learned_population(
                job["run_dir"],
                job["n_nations"],
                setting.n_focal,
                setting.background,
                deterministic=job["deterministic"] and not sampled,
                name=job["name"] + ("_sampled" if sampled else ""),
                greedy=job["greedy"],
            )
        else:
            names = scripted_names(set(job["doctrine_per_nation"]), job["policy"])
            policies, doctrines = population(
                job["doctrine_per_nation"], names, job["n_nations"], setting.n_focal, setting.background
            )
        n_focal = setting.n_focal or job["n_nations"]
        focal = [i < n_focal for i in range(job["n_nations"])]
        seeds = range(job["seed"], job["seed"] + job["episodes"])
        # What the focal nations do and which archetype they resemble, in the training scenario: in self-play and
        # among each scripted background (what learners do differs between the two).
        strategy = not setting.heldout
        rows, trace = play(
            policies,
            doctrines,
            setting.scenario,
            seeds,
            job["overrides"],
            job["max_cycles"],
            focal,
            trace=True,
            strategy=strategy,
        )
        record = {
            "key": item["key"],
            "meta": {
                **job["meta"],
                "setting": setting.name,
                "scenario": setting.scenario,
                **({"policy": SAMPLED} if sampled else {}),
            },
            "population": {"policies": policies, "doctrines": doctrines},
            "config": EnvConfig.from_scenario(
                setting.scenario, **job["overrides"], max_cycles=job["max_cycles"], doctrines=tuple(doctrines)
            ).to_dict(),
            "rows": rows,
            "trace": trace,
        }
        atomic_write_json(Path(item["path"]), record)
        written.append(item["path"])
    return written


def _deviations(job: dict[str, Any], item: dict[str, Any]) -> str:
    """Play a run's deviations in one scenario (:func:`train.deviation.deviation_returns`) and write its record:
    the episodes' returns in self-play and with each deviant in each nation's place."""
    from train.deviation import deviation_returns, returns_to_json

    deviation = item["deviation"]
    returns = deviation_returns(
        job["run_dir"],
        deviation["deviants"],
        deviation["scenario"],
        deviation["episodes"],
        job["seed"],
        greedy=job["greedy"],
        overrides=job["overrides"],
        max_cycles=job["max_cycles"],
        deterministic=job["deterministic"],
        deviant_runs=deviation.get("runs"),  # other seeds' runs: the cross-play (train.experiment_jobs.crossplay_jobs)
    )
    record = {
        "key": item["key"],
        "meta": {**job["meta"], "scenario": deviation["scenario"]},
        **returns_to_json(returns),
    }
    atomic_write_json(Path(item["path"]), record)
    return item["path"]


class InlinePool:
    """A stand-in for a process pool that runs each task at submission (workers = 1); its training tasks report to
    ``progress``, as a spawned worker's do (:func:`_worker_init`)."""

    def __init__(self, progress: ProgressSlots | None = None) -> None:
        self.progress = progress
        self.failed = False  #: a task raised: later ones are not run

    def submit(self, fn: Any, *args: Any) -> futures.Future:
        """Run ``fn(*args)`` now; once a task has failed, run none: its future never finishes (a process pool's
        caller stops at the first failure it reads, and here every later task would run before it reads one)."""
        future: futures.Future = futures.Future()
        if self.failed:
            return future
        try:
            with reporting_to(self.progress):
                future.set_result(fn(*args))
        except Interrupted as error:  # the run saved a checkpoint on Ctrl-C or SIGTERM: the experiment stops here
            raise KeyboardInterrupt from error
        except BaseException as error:  # noqa: BLE001 - handed to the caller through the future
            if isinstance(error, KeyboardInterrupt):
                raise
            self.failed = True
            future.set_exception(error)
        return future

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        pass


def stop_workers(pool: Any, pending: Sequence[futures.Future], timeout: float = 300.0) -> None:
    """Stop a pool's workers (SIGUSR1: a training run saves a checkpoint, an evaluation ends its current setting)
    and wait for the tasks that were running."""
    if not isinstance(pool, futures.ProcessPoolExecutor):
        return
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        with contextlib.suppress(OSError):
            os.kill(process.pid, signal.SIGUSR1)
    futures.wait(pending, timeout=timeout)
    pool.shutdown(wait=True, cancel_futures=True)


#: The variables that size the thread pools of the numerical libraries a worker loads: OpenBLAS (numpy's matrix
#: products, the learned policies' forward passes in evaluation among them), OpenMP and MKL (torch's).
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


@contextlib.contextmanager
def one_thread_per_worker() -> Any:
    """While it lasts, processes spawned from this one start with one thread in each numerical library's pool
    (:data:`THREAD_VARIABLES`), except where the user set a variable. Why: each worker is one process on one core;
    with the libraries' default of a thread per core in every worker, ``W`` workers run ``W x W`` threads on ``W``
    cores, and OpenBLAS's idle threads spin. Measured on 2 cores: the quick preset's 51 evaluation jobs took 183 s
    with the default threads, 91 s with one. A spawned process reads the variables when it starts and loads the
    libraries, so they must be set before the pool starts its workers, and kept while it may start more."""
    added = [name for name in THREAD_VARIABLES if name not in os.environ]
    os.environ.update({name: "1" for name in added})
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)


def worker_pool(workers: int, progress: ProgressSlots | None = None) -> futures.ProcessPoolExecutor:
    """A pool of ``workers`` spawned processes, each set up to stop with the experiment (:func:`_worker_init`) and
    to report its training tasks' progress to ``progress``; start it inside :func:`one_thread_per_worker`."""
    import multiprocessing

    return futures.ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_worker_init,
        initargs=(os.getpid(), progress),
    )
