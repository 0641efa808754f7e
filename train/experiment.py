"""The experiment: train every doctrine condition over several seeds, evaluate what was learned, write a report.

Usage::

    python -m train.experiment --preset quick --out runs/quick        # 5 to 7 minutes on 2 cores
    python -m train.experiment --preset full --out runs/full          # + offense_defense_balance x conquest_payoff
    python -m train.experiment --preset quick --out runs/quick        # again: skips what is done (or resumes)
    python -m train.experiment --preset-file my.toml --out runs/my    # a preset of your own (schema below)
    python -m train.experiment --show-preset quick                    # a built-in preset as TOML, to copy and edit
    python -m train.experiment --preset-file my.toml --import my_realism --out runs/my   # a doctrine of your own
    python -m train.experiment --preset-file train/presets/conquest_sweep.toml --out runs/cp   # an example preset
    python -m train.experiment --preset full --device cuda --workers 8 --out runs/full   # training on a GPU
    python -m train.experiment --help                                  # --workers N, --device D, --no-progress

Presets: ``quick`` (3 conditions x 5 seeds x 2M agent-steps, 50-turn episodes, 100 evaluation episodes per setting;
313 s and 410 s measured on two 2-core machines on 2026-12-05, 336 s on 2026-12-06, about two thirds of it training)
shows the whole pipeline with policies that meet the scripted realists (the report's first lines say where they fall
short). ``full``
(3 conditions x 4 worlds x 20 seeds x 20M agent-steps, 100-turn episodes, 512 worlds a run, 50 evaluation episodes, 4
held-out scenarios) is for conclusions: 4.8 billion agent-steps, some 37 core-hours of training on a CPU (one of its
runs measured whole; the study not run whole) and about 1.05 core-hours of evaluation (estimated). ``--device cuda``
(or ``[train] device = "cuda"``) trains on a GPU (8 of its runs at once trained 492,097 agent-steps/s on an H200, about
2.7 hours for the study); the evaluation stays on the CPU, so give it the host's cores with ``--workers``. The
measurements: ``docs/learning.md``.

What it does:

1. **Trains** one shared-policy PPO run (:mod:`train.fast_ppo`, self-play) per *condition* and seed: the conditions
   are the doctrines ``security`` (every nation), ``power`` (every nation) and ``mixed`` (security and power
   alternating, nation 0 security: :func:`realism_env.mixed_doctrines`; each nation's doctrine one-hot is an input),
   or any registered doctrines (``imports``), alone or mixed as ``security+prosperity`` (the nations take them in
   turn, :func:`realism_env.population_doctrines`), each in every *world* of the sweep (the cross product of the
   ``[sweep]`` values; one world without a sweep).
2. **Evaluates** every run with the harness of :mod:`agents.evaluate` (matched worlds: episode ``k`` of every
   population uses env seed ``evaluate.seed + k``) through :mod:`train.learned`, in these *settings*: self-play in
   the training scenario (``selfplay@<scenario>``), self-play in each held-out scenario, and the learned nations as
   ``n_focal`` focal nations among a scripted background population (``focal_vs_<background>@<scenario>``, in the
   training scenario and the ``focal_heldout`` scenarios); with ``sampled_strategy``, the training scenario's
   settings (self-play and focal) once more with the learned nations sampling from their policy (policy
   ``learned_sampled``).
   The same settings are played by the *baselines*: ``scripted`` (the theories' own scripted agents in place of the
   learned ones: defensive_realist for security, offensive_realist for power, the policy that acts out a doctrine of
   your own), and ``random`` or any other policy named (self-play settings only). Each run's *deviations*
   (:mod:`train.deviation`) follow: in each of ``deviation_scenarios``, each of the ``deviants`` takes one learned
   nation's place at a time in self-play, to see whether it would do better there. Once all of a condition's seeds
   have trained, its *cross-play* (:mod:`train.crossplay`; ``crossplay_episodes``): each run's learned nation takes
   each nation's place among another seed's, to see whether the seeds learned one play or conventions of their own.
3. **Reports** in ``--out``: ``report.md`` (the claims table, per-condition metrics with 95% intervals over seeds,
   pairwise differences with Welch tests, embedded plots; statistics in :mod:`train.report`), ``results.csv`` (one
   row per evaluated episode), ``deviations.csv`` (one row per run, scenario and deviant), ``crossplay.csv`` (one row
   per condition and ordered pair of seeds), ``plots/*.png``,
   ``experiment.json`` (the resolved preset, the command and versions), ``preset.toml`` (the same preset as TOML:
   ``--preset-file DIR/preset.toml`` reproduces it), ``runs/<condition>/seed<k>/`` (each run's ``config.json``,
   ``metrics.json``, ``model.pt``, checkpoints, TensorBoard logs and ``train.log``) and
   ``evals/<condition>/<seed<k>|scripted|random>/<setting>.json`` (each evaluation's episodes, population, config and
   cache key; ``<setting>@sampled.json``: the sampled play; ``deviation@<scenario>.json``: a run's deviations
   there, every episode's returns; ``crossplay@<scenario>.json``: its cross-play, the other seeds' nations in its
   places).

Resuming: rerunning the same command skips finished runs and cached evaluations (an evaluation is recomputed only
when its cache key changes: the model, the population, the evaluation settings, or the code that decides its rows:
``realism_env``, ``agents`` and the evaluation harness, ``train.experiment_jobs.EVALUATION_SOURCES``). A killed
experiment resumes where it stopped: unfinished runs continue from their last checkpoint (``train.fast_ppo
--resume``; at most one ``checkpoint_every`` interval is lost, and a worker whose parent dies saves a checkpoint
first). Ctrl-C or SIGTERM, sent to the experiment or to its whole process group (as a terminal or a service manager
sends it), stops every worker once its run's checkpoint is saved, and the experiment exits with status 130; a second
Ctrl-C ends the experiment at once, its workers still saving theirs. Every results file is written atomically
(temporary file, fsync, rename). An output folder is locked while an invocation runs in it: a second one on the
same ``--out`` is refused at once (it would rewrite the first's ``preset.toml`` and results); each run folder is
locked too, with the lock ``train.fast_ppo`` and ``train.ppo`` take (one of them on a run folder a worker trains in
is refused).

Workers: with ``workers`` above 1, runs and evaluations run in fresh processes (multiprocessing's ``spawn``), one a
core: each starts with one thread per numerical library (``OPENBLAS_NUM_THREADS``, ``OMP_NUM_THREADS`` and
``MKL_NUM_THREADS`` set to 1 where the user has not set them), since a thread per core in every worker oversubscribes
the cores (the quick preset's evaluation took twice as long).

Doctrines, scenarios and policies of your own: register them in a module (:mod:`agents.plugins` shows one) and name
it in ``[experiment] imports`` (or ``--import MODULE``): the experiment and every worker import it first, so
``conditions = ["security", "prosperity"]`` trains and evaluates a doctrine of yours beside the built-in ones, and
its scenarios and policies may be the training scenario, held-out scenarios, backgrounds, baselines or deviants. A
doctrine's scripted counterpart is the policy that acts it out (``Policy.doctrine``: defensive_realist for security,
offensive_realist for power); a doctrine with none has no ``scripted`` baseline: its condition is played by the other
baselines, and the report says it was not checked against the scripted realists. Runs record the modules' source
digests: after an edit, a rerun on the same ``--out`` is refused, naming the module (train it in another ``--out``).
Something registered otherwise, at run time in the launching process only, is unknown to the workers, and their task
fails with a ``ValueError`` that names it and the registered choices.

Preset schema (TOML; every table and key is optional; unknown keys and bad values are errors naming the key and
what is valid). Without ``base``, missing [experiment] and [evaluate] keys take the quick preset's values and
missing [train] keys train.fast_ppo's defaults::

    base = "quick"                      # start from a built-in preset (quick or full) and override it

    [experiment]
    name = "quick"                      # a label for the report
    scenario = "multipolar"             # training scenario (realism_env.SCENARIOS)
    conditions = ["security", "power", "mixed"]
    seeds = [0, 1, 2, 3, 4]             # training seeds (the unit of replication)
    workers = 2                         # parallel processes (runs and evaluations); 1 runs in this process; at
                                        # most 4 per CPU (--workers replaces it)
    imports = ["my_realism"]            # modules every process imports first (module names or .py paths, from the
                                        # current folder): doctrines, scenarios, policies of your own (default: none)

    [train]                             # any option of train.fast_ppo (python -m train.fast_ppo --help) except
    timesteps = 2000000                 # doctrine, scenario, seed, out, resume, set, progress_bar, members_dir,
                                        # imports (give those in [experiment] imports)
    max_cycles = 50
    checkpoint_every = 500000
    device = "cpu"                      # or "cuda": the worlds and the network on the GPU
    population = 1                      # consecutive seeds trained together as one run (train.population; for a GPU)

    [env]                               # EnvConfig overrides for every condition (not doctrines nor max_cycles)
    misperception = 0.2

    [sweep]                             # EnvConfig fields -> lists of values; every combination is a world
    offense_defense_balance = [2.0, 3.0]
    conquest_payoff = [0.2, 0.8]

    [evaluate]
    episodes = 20                       # evaluation episodes per run and setting
    seed = 10000                        # env seed of the first episode (matched worlds)
    max_cycles = 50                     # turns per evaluation episode (default: train.max_cycles)
    heldout = ["bipolar", "islands"]    # held-out scenarios for self-play (of the training scenario's nation count,
                                        # as focal_heldout's and deviation_scenarios': a network takes only its own)
    backgrounds = ["offensive_realist", "defensive_realist"]   # scripted background populations
    n_focal = 3                         # learned nations among a background
    focal_heldout = ["bipolar"]         # focal settings in these held-out scenarios too (default: none)
    baselines = ["scripted", "random"]  # baseline populations in the same worlds (all but scripted: self-play only)
    deterministic = true                # learned nations play their greedy choice (false: sample)
    sampled_strategy = true             # and also sampling, in the training scenario's settings (policy
                                        # learned_sampled; a column of the strategy section and of the checks)
    greedy = "act_then_target"          # the most likely arms level and act, then its most likely target ("flat":
                                        # the most likely single action, which favours acts with few targets)
    deviants = ["offensive_realist", "defensive_realist"]  # would one do better in a learned nation's place? ([] none)
    deviation_episodes = 10             # per run, scenario, deviant and nation
    deviation_scenarios = ["multipolar", "bipolar", "islands"]  # where the deviations are played
    crossplay_episodes = 10             # per pair of seeds and nation: each seed's nation among another's (0: none)
    confidence = 0.95                   # coverage of intervals
    alpha = 0.05                        # significance level of the claims' verdicts

The code: this module is the command line, over :mod:`train.experiment_presets` (the schema above, built-in presets,
validation), :mod:`train.experiment_design` (conditions, settings, runs), :mod:`train.experiment_jobs` (finished runs,
evaluation jobs and their cache keys), :mod:`train.experiment_workers` (worker processes, run locks, the tasks),
:mod:`train.experiment_scheduler` (``execute``) and :mod:`train.experiment_results` (results.csv and the report).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from realism_env.files import folder_problem
from train.checkpoint import atomic_write_bytes, atomic_write_json, folder_lock, library_versions, read_json
from train.experiment_design import Design
from train.experiment_jobs import check_runs
from train.experiment_presets import (
    PRESET_DIR,
    PRESETS,
    PresetError,
    check_workers,
    load_preset,
    merge,
    resolve,
    to_toml,
)
from train.experiment_results import finish
from train.experiment_scheduler import execute
from train.run_args import check_device
from train.run_folder import os_error_exit

#: The lock file an invocation holds in its output folder while it runs (a second one on the folder is refused).
OUT_LOCK = ".experiment.lock"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m train.experiment",
        description="Train every doctrine condition over several seeds, evaluate the learned policies beside "
        "scripted baselines, and write report.md, results.csv and plots.",
        epilog="The preset schema is in the module docstring (python -c 'import train.experiment as e; "
        "print(e.__doc__)'); --show-preset quick prints a preset as TOML.",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--preset", choices=sorted(PRESETS), default=None, help="a built-in preset (default: quick)")
    source.add_argument("--preset-file", metavar="FILE.toml", default=None, help="a preset in TOML")
    source.add_argument("--show-preset", choices=sorted(PRESETS), default=None, help="print a built-in preset as TOML")
    parser.add_argument("--out", metavar="DIR", default=None, help="output folder (required unless --show-preset)")
    parser.add_argument(
        "--workers", type=int, default=None, help="override [experiment] workers (from 1 to 4 per CPU of this machine)"
    )
    parser.add_argument(
        "--import",
        action="append",
        default=[],
        dest="imports",
        metavar="MODULE",
        help="add MODULE to [experiment] imports (repeatable): a module name or a .py file that registers doctrines, "
        "scenarios or policies of your own, imported first in every process, so that the preset may name them",
    )
    parser.add_argument(
        "--device",
        default=None,
        help="override [train] device: cpu, cuda or cuda:N (training's worlds and network; the evaluation runs on the "
        "CPU)",
    )
    parser.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bar (the bar counts the agent-steps trained, rollout by rollout, and played)",
    )
    return parser


def load_design(cli: argparse.Namespace) -> Design:
    """The design of the parsed command line: its preset with ``--device`` in place of ``[train] device`` and the
    ``--import`` modules added to ``[experiment] imports``; raises
    :class:`~train.experiment_presets.PresetError` naming what is wrong (a device torch cannot use among it)."""
    raw = load_preset(cli.preset or ("quick" if cli.preset_file is None else None), cli.preset_file)
    if cli.device is not None:
        try:
            check_device(cli.device, auto=False)
        except ValueError as error:
            raise PresetError(str(error)) from None
        raw = merge(raw, {"train": {"device": cli.device}})
    listed = raw.get("experiment", {}).get("imports", [])
    if cli.imports and isinstance(listed, list):  # anything but a list is refused by resolve, naming it
        added = [name for name in dict.fromkeys(cli.imports) if name not in listed]
        raw = merge(raw, {"experiment": {"imports": listed + added}})
    if cli.workers is not None:  # in place of the preset's (one written for a larger machine may exceed this one's)
        check_workers(cli.workers, f"--workers {cli.workers}")
        raw = merge(raw, {"experiment": {"workers": cli.workers}})
    return resolve(raw)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    cli = parser.parse_args(argv)
    if cli.show_preset:
        options = {
            "--out": cli.out,
            "--workers": cli.workers,
            "--device": cli.device,
            "--no-progress": cli.no_progress,
            "--import": cli.imports or None,
        }
        ignored = [flag for flag, value in options.items() if value not in (None, False)]
        if ignored:
            parser.error(
                f"--show-preset prints a preset and runs nothing, so {', '.join(ignored)} would be ignored; valid: "
                f"--show-preset {cli.show_preset} alone, or --preset {cli.show_preset} with them to run it"
            )
        print((PRESET_DIR / f"{cli.show_preset}.toml").read_text(), end="")
        return 0
    if cli.out is None:
        parser.error("--out DIR is required")
    try:
        design = load_design(cli)
    except PresetError as error:
        parser.error(str(error))
    out = Path(cli.out)
    problem = folder_problem(out)
    if problem is not None:
        parser.error(f"--out {out} {problem}; valid: a folder (new, or holding an experiment) that you can write in")
    try:
        check_runs(design, design.runs(out))
    except PresetError as error:
        parser.error(str(error))
    try:
        out.mkdir(parents=True, exist_ok=True)
        with folder_lock(out, OUT_LOCK, wait=False) as held:
            if not held:
                parser.error(
                    f"another train.experiment is running on {out} (its preset.toml, results and report are its own "
                    "until it ends); valid: wait for it to finish, or another --out"
                )
            return _run(design, out, cli, argv)
    except OSError as error:
        raise os_error_exit(error, "an --out folder you can write in, on a disk with room") from None


def _run(design: Design, out: Path, cli: argparse.Namespace, argv: Sequence[str] | None) -> int:
    """The experiment of ``design`` in ``out`` (locked): train, evaluate, report; returns the exit status."""
    workers = design.workers  # --workers is in it (load_design)
    command = "python -m train.experiment " + " ".join(sys.argv[1:] if argv is None else argv)
    atomic_write_bytes(out / "preset.toml", to_toml(design.preset()).encode())
    atomic_write_json(
        out / "experiment.json",
        {
            "preset": design.raw,
            "resolved": {
                "conditions": [asdict(c) for c in design.conditions],
                "settings": [asdict(s) for s in design.settings],
                "train": design.train,
                "evaluate": design.evaluate,
                "eval_max_cycles": design.eval_max_cycles,
            },
            "command": command,
            "versions": library_versions(),
        },
    )
    signal.signal(signal.SIGTERM, _raise_interrupt)
    history = out / "timing.json"
    started, counts = time.time(), {"trained": 0, "evaluated": 0, "skipped_runs": 0}
    invocation = f"{started:.6f}-{os.getpid()}"  # this invocation's entry, among those of others on the same --out

    def record(status: str) -> list[dict[str, Any]]:
        """This invocation's entry of timing.json, rewritten after every task (a killed run leaves its last) and at
        the end, beside the entries the file holds now (an invocation running beside this one keeps its own);
        returns every invocation's entry."""
        entry = {"started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(started)), "status": status}
        entry.update(counts, wall_time_s=round(time.time() - started, 3), command=command, workers=workers)
        entry["invocation"] = invocation
        others = [e for e in (read_json(history) or {}).get("invocations", []) if e.get("invocation") != invocation]
        entries = sorted([*others, entry], key=lambda e: e.get("started", ""))
        atomic_write_json(history, {"invocations": entries})
        return entries

    record("running")
    try:
        execute(design, out, workers, not cli.no_progress, counts, on_task=lambda: record("running"))
        # The report counts this invocation as finished; interrupted while it is written, it is recorded so.
        path, written = finish(design, out, record("finished"), command)
    except KeyboardInterrupt:
        record("interrupted")
        print(f"\ninterrupted: rerun `{command}` to resume where it stopped", file=sys.stderr)
        return 130
    except RuntimeError as error:
        record("failed")
        print(f"error: {error}", file=sys.stderr)
        return 1
    except BaseException:  # whatever else ends it: timing.json says so, not "running"
        record("failed")
        raise
    total = time.time() - started
    print(
        f"{counts['trained']} runs trained ({counts['skipped_runs']} already finished), {counts['evaluated']} "
        f"evaluation jobs run; {total:.0f} s" + ("" if written else " (nothing new: report unchanged)")
    )
    print(f"report: {path}")
    return 0


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
