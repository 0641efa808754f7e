"""Running the experiment: :func:`execute` trains the unfinished runs and evaluates what is not cached, on the
workers of :mod:`train.experiment_workers`, with a progress bar; an interrupted experiment stops its workers."""

from __future__ import annotations

import sys
import time
from concurrent import futures
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict
from pathlib import Path
from typing import Any

from train.experiment_design import Design, TrainingJob
from train.experiment_jobs import (
    baseline_jobs,
    crossplay_agent_steps,
    crossplay_jobs,
    evaluation_agent_steps,
    learned_agent_steps,
    learned_job,
    pending_items,
    run_finished,
)
from train.experiment_workers import (
    InlinePool,
    Interrupted,
    ProgressSlots,
    evaluate_job,
    one_thread_per_worker,
    stop_workers,
    train_run,
    worker_pool,
)


class _Progress:
    """A tqdm bar over the experiment's agent-steps, trained and played (or nothing), so that its rate and time left
    follow the work. Tasks differ in size (a training run of the quick preset takes some 40 s, a baseline's
    evaluation about a second), and a bar over tasks foretold 25 minutes for a 6-minute run; an agent-step costs a
    core about as much trained as played (the quick preset's report, 2026-12-05: 563 s of training for 30M agent-steps,
    19 us each; about 200 core-s of evaluation, the rest of 383 s on 2 cores, for 7.5M, some 27 us each)."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.bar = None
        if enabled and total:
            from tqdm import tqdm

            self.bar = tqdm(
                total=total,
                unit="agent-step",
                unit_scale=True,
                desc="experiment",
                file=sys.stderr,
                dynamic_ncols=True,
            )

    def update(self, label: str, agent_steps: int) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(label[-60:], refresh=False)
            self.bar.update(agent_steps)

    def shrink(self, agent_steps: int) -> None:
        """Take ``agent_steps`` off the total: work an earlier invocation did (a resumed run's first timesteps)."""
        if self.bar is not None and agent_steps:
            self.bar.total -= agent_steps
            self.bar.refresh()

    def write(self, text: str) -> None:
        if self.bar is not None:
            self.bar.write(text, file=sys.stderr)
        else:
            print(text, file=sys.stderr)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class _Training:
    """The bar's share of the training tasks as they run: each task's agent-steps are added rollout by rollout, as
    its worker reports them (:class:`train.experiment_workers.ProgressSlots`), so the bar moves during a run (a run
    of the full preset takes minutes on a GPU and ten on a CPU core; a population, a condition's seeds at once). The
    timesteps a resumed run trained before this invocation come off the bar's total when it first reports."""

    def __init__(self, bar: _Progress, jobs: list[TrainingJob]) -> None:
        self.bar, self.jobs = bar, jobs
        self.slots = ProgressSlots(len(jobs))
        self.counted = [0] * len(jobs)  # agent-steps of each task on the bar, or taken off its total
        self.seen = [False] * len(jobs)
        self.ended = [False] * len(jobs)

    def poll(self) -> None:
        """Put what the running tasks have reported since the last poll on the bar."""
        advanced, labels = 0, []
        for task, job in enumerate(self.jobs):
            reported = None if self.ended[task] else self.slots.read(task)
            if reported is None:
                continue
            timesteps, members = int(job.args.timesteps), len(job.members)
            started, reached = (min(value, timesteps) * members for value in reported)
            if not self.seen[task]:
                self.seen[task] = True
                self.bar.shrink(started)
                self.counted[task] = started
            if reached > self.counted[task]:
                advanced += reached - self.counted[task]
                labels.append(_members_label(job))
                self.counted[task] = reached
        if advanced:
            self.bar.update(f"training {labels[0] if len(labels) == 1 else f'{len(labels)} runs'}", advanced)

    def end(self, task: int) -> None:
        """A task has finished: the rest of its agent-steps (all of them, if it never reported) go on the bar."""
        self.poll()
        self.ended[task] = True
        job = self.jobs[task]
        self.bar.update(f"trained {_members_label(job)}", job.agent_steps - self.counted[task])


def _members_label(job: TrainingJob) -> str:
    return f"{job.condition.name} seed{','.join(str(seed) for seed, _ in job.members)}"


#: seconds between two readings of the training tasks' progress while the experiment waits for a task to finish
POLL_S = 1.0


def execute(
    design: Design,
    out: Path,
    workers: int,
    progress: bool = True,
    counts: dict[str, int] | None = None,
    on_task: Any = None,
) -> dict[str, Any]:
    """Train what is unfinished and evaluate what is not cached; ``counts`` (updated as tasks finish, so it is
    right after an interruption too; ``on_task()`` is called after each) and the wall time are returned."""
    start = time.perf_counter()
    runs = design.runs(out)
    timesteps = design.timesteps
    to_train = [(c, s, d) for c, s, d in runs if not run_finished(d, timesteps)]
    jobs = design.training_jobs(out, to_train)
    baselines = [j for j in (pending_items(job) for job in baseline_jobs(design, out)) if j is not None]
    finished_runs = [(c, s, d) for c, s, d in runs if (c, s, d) not in to_train]
    learned_now = [j for j in (pending_items(learned_job(design, out, c, s, d)) for c, s, d in finished_runs) if j]
    # A condition's cross-play starts once all its runs have finished: now, or when its last training task ends.
    waiting = {c.name: c for c, _, _ in to_train}
    crossplay_now = [
        job
        for condition in design.conditions
        if condition.name not in waiting
        for job in map(pending_items, crossplay_jobs(design, out, condition))
        if job is not None
    ]
    # Each task's weight on the bar: its agent-steps (a run's evaluation, known before the run ends, from the design).
    evaluation = {job.condition.name: learned_agent_steps(design, job.condition) for job in jobs}
    total = sum(job.agent_steps + evaluation[job.condition.name] * len(job.members) for job in jobs)
    total += sum(evaluation_agent_steps(job) for job in (*baselines, *learned_now, *crossplay_now))
    total += sum(crossplay_agent_steps(design, condition) for condition in waiting.values())
    bar = _Progress(total, progress)
    training = _Training(bar, jobs)
    if len(runs) - len(to_train):
        bar.write(f"{len(runs) - len(to_train)} of {len(runs)} runs already finished: skipped")
    # Spawned workers start with one thread per numerical library (one_thread_per_worker); the pool may start them
    # as late as its first tasks, so the variables hold while it runs.
    with one_thread_per_worker():
        if workers == 1:  # the tasks run in this process, one after another: the bar moves as they report
            training.slots.on_report = training.poll
            pool: Any = InlinePool(training.slots)
        else:
            pool = worker_pool(workers, training.slots)
        pending: dict[futures.Future, tuple[str, Any]] = {}
        counts = counts if counts is not None else {}
        counts.update(trained=0, evaluated=0, skipped_runs=len(runs) - len(to_train))

        def submit_eval(job: dict[str, Any], label: str, agent_steps: int) -> None:
            pending[pool.submit(evaluate_job, job)] = ("eval", (label, agent_steps))

        try:
            for task, job in enumerate(jobs):
                Path(job.args.out).mkdir(parents=True, exist_ok=True)
                future = pool.submit(train_run, asdict(job.args), str(Path(job.args.out) / "train.log"), task)
                pending[future] = ("train", (task, job))
            for job in learned_now:
                label = f"eval {job['meta']['condition']} seed{job['meta']['seed']}"
                submit_eval(job, label, evaluation_agent_steps(job))
            for job in baselines:
                label = f"eval {job['meta']['condition']} {job['meta']['policy']}"
                submit_eval(job, label, evaluation_agent_steps(job))
            for job in crossplay_now:
                label = f"crossplay {job['meta']['condition']} seed{job['meta']['seed']}"
                submit_eval(job, label, evaluation_agent_steps(job))
            while pending:
                done, _ = futures.wait(list(pending), timeout=POLL_S, return_when=futures.FIRST_COMPLETED)
                training.poll()
                for future in done:
                    kind, what = pending.pop(future)
                    error = future.exception()
                    if isinstance(error, Interrupted):
                        raise KeyboardInterrupt from error
                    if isinstance(error, BrokenProcessPool):  # every unfinished task gets it: name them all
                        unfinished = "; ".join([task_label(kind, what), *(task_label(*t) for t in pending.values())])
                        raise RuntimeError(
                            "a worker process died abruptly (killed, perhaps for lack of memory) with these tasks "
                            f"unfinished: {unfinished}; rerun the experiment to resume them"
                        ) from error
                    if error is not None:
                        raise RuntimeError(f"{task_label(kind, what)} failed: {error}") from error
                    if kind == "train":
                        task, trained = what
                        condition = trained.condition
                        # another invocation on this folder may have trained it while this one waited on its lock
                        counts["trained"] += len(trained.members) if future.result()["trained_here"] else 0
                        training.end(task)
                        for seed, run_dir in trained.members:
                            job = pending_items(learned_job(design, out, condition, seed, run_dir))
                            if job is not None:  # its weight is the whole evaluation's, counted in the total
                                submit_eval(job, f"eval {condition.name} seed{seed}", evaluation[condition.name])
                            else:
                                bar.update("cached", evaluation[condition.name])
                        if condition.name in waiting and all(
                            run_finished(d, timesteps) for c, _, d in runs if c.name == condition.name
                        ):  # its last run: the condition's cross-play
                            del waiting[condition.name]
                            for job in crossplay_jobs(design, out, condition):
                                weight = evaluation_agent_steps(job)
                                if pending_items(job) is None:
                                    bar.update("cached", weight)
                                else:
                                    submit_eval(job, f"crossplay {condition.name} seed{job['meta']['seed']}", weight)
                    else:
                        counts["evaluated"] += 1
                        bar.update(*what)
                    if on_task is not None:
                        on_task()
        except BaseException:
            bar.close()
            stop_workers(pool, list(pending))
            raise
        pool.shutdown(wait=True)
    bar.close()
    return {**counts, "wall_time_s": time.perf_counter() - start}


def task_label(kind: str, what: Any) -> str:
    """A task of the experiment's loop as an error names it: a training run's folder, or an evaluation's label."""
    if kind == "train":
        _, job = what
        return f"training {job.args.out} (its log: {Path(job.args.out) / 'train.log'})"
    label, _ = what
    return f"evaluation task {label!r}"
