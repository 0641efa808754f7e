"""The experiment: train every doctrine condition over several seeds, evaluate what was learned, write a report.

Usage::

    python -m train.experiment --preset quick --out runs/quick        # about 9 minutes on 2 cores
    python -m train.experiment --preset full --out runs/full          # + offense_defense_balance x conquest_payoff
    python -m train.experiment --preset quick --out runs/quick        # again: skips what is done (or resumes)
    python -m train.experiment --preset-file my.toml --out runs/my    # a preset of your own (schema below)
    python -m train.experiment --show-preset quick                    # a built-in preset as TOML, to copy and edit
    python -m train.experiment --preset-file train/presets/conquest_sweep.toml --out runs/cp   # an example preset
    python -m train.experiment --help                                  # --workers N, --no-progress

Presets: ``quick`` (3 conditions x 5 seeds x 2M agent-steps, 50-turn episodes, 20 evaluation episodes per setting;
537 s measured on this 2-core machine, about 7 minutes of it training) shows the whole pipeline with policies that come
close to the scripted realists (the report's first lines say where they fall short). ``full`` (3 conditions x 4
worlds x 20 seeds x 20M agent-steps, 100-turn episodes, 512 worlds a run, 50 evaluation episodes, 4 held-out
scenarios) is for conclusions: 4.8 billion agent-steps, about 22 hours of training on 2 CPU cores at the fast
trainer's CPU speed (estimated, not run); set ``[train] device = "cuda"`` for a GPU, where it has not been measured.

What it does:

1. **Trains** one shared-policy PPO run (:mod:`train.fast_ppo`, self-play) per *condition* and seed: the conditions
   are the doctrines ``security`` (every nation), ``power`` (every nation) and ``mixed`` (security and power
   alternating, nation 0 security: :func:`realism_env.mixed_doctrines`; each nation's doctrine one-hot is an input),
   each in every *world* of the sweep (the cross product of the ``[sweep]`` values; one world without a sweep).
2. **Evaluates** every run with the harness of :mod:`agents.evaluate` (matched worlds: episode ``k`` of every
   population uses env seed ``evaluate.seed + k``) through :mod:`train.learned`, in these *settings*: self-play in
   the training scenario (``selfplay@<scenario>``), self-play in each held-out scenario, and the learned nations as
   ``n_focal`` focal nations among a scripted background population (``focal_vs_<background>@<scenario>``, in the
   training scenario and the ``focal_heldout`` scenarios).
   The same settings are played by the *baselines*: ``scripted`` (the theories' own scripted agents in place of the
   learned ones: defensive_realist for security, offensive_realist for power) and ``random`` (self-play settings
   only).
3. **Reports** in ``--out``: ``report.md`` (the claims table, per-condition metrics with 95% intervals over seeds,
   pairwise differences with Welch tests, embedded plots; statistics in :mod:`train.report`), ``results.csv`` (one row
   per evaluated episode), ``plots/*.png``, ``experiment.json`` (the resolved preset, the command and versions),
   ``preset.toml`` (the same preset as TOML: ``--preset-file DIR/preset.toml`` reproduces it), ``runs/<condition>/
   seed<k>/`` (each run's ``config.json``, ``metrics.json``, ``model.pt``, checkpoints, TensorBoard logs and
   ``train.log``) and ``evals/<condition>/<seed<k>|scripted|random>/<setting>.json`` (each evaluation's episodes,
   population, config and cache key).

Resuming: rerunning the same command skips finished runs and cached evaluations (an evaluation is recomputed only
when its cache key changes: the model, the population or the evaluation settings). A killed experiment resumes where
it stopped: unfinished runs continue from their last checkpoint (``train.fast_ppo --resume``; at most one
``checkpoint_every`` interval is lost, and a worker whose parent dies saves a checkpoint first). Every results file
is written atomically (temporary file, fsync, rename). Runs of one output folder are locked, so two invocations never
train the same run at once.

Workers: with ``workers`` above 1, runs and evaluations run in fresh processes (multiprocessing's ``spawn``), which
know only what is registered when the modules they import are imported. A scenario, policy or doctrine registered at
run time in the launching process only (``realism_env.register_scenario``, ``agents.register_policy``,
``realism_env.register_doctrine``) is unknown there, and the task fails with a ``ValueError`` that names it and the
registered choices (``error: train task failed: unknown doctrine 'x'; valid: 'power', 'security' ...``). Register
such things at import of the module that defines them and import it in every process: a script that launches the
experiment (``train.experiment.main([...])``) is imported again by each spawned worker, so registering at its top
level, outside ``if __name__ == "__main__":``, is enough; or run with ``--workers 1`` (everything in one process).

Preset schema (TOML; every table and key is optional; unknown keys and bad values are errors naming the key and
what is valid). Without ``base``, missing [experiment] and [evaluate] keys take the quick preset's values and
missing [train] keys train.fast_ppo's defaults::

    base = "quick"                      # start from a built-in preset (quick or full) and override it

    [experiment]
    name = "quick"                      # a label for the report
    scenario = "multipolar"             # training scenario (realism_env.SCENARIOS)
    conditions = ["security", "power", "mixed"]
    seeds = [0, 1, 2, 3, 4]             # training seeds (the unit of replication)
    workers = 2                         # parallel processes (runs and evaluations); 1 runs in this process

    [train]                             # any option of train.fast_ppo (python -m train.fast_ppo --help) except
    timesteps = 2000000                 # doctrine, scenario, seed, out, resume, set, progress_bar
    max_cycles = 50
    checkpoint_every = 500000
    device = "cpu"                      # or "cuda": the worlds and the network on the GPU

    [env]                               # EnvConfig overrides for every condition (not doctrines)
    misperception = 0.2

    [sweep]                             # EnvConfig fields -> lists of values; every combination is a world
    offense_defense_balance = [2.0, 3.0]
    conquest_payoff = [0.2, 0.8]

    [evaluate]
    episodes = 20                       # evaluation episodes per run and setting
    seed = 10000                        # env seed of the first episode (matched worlds)
    max_cycles = 50                     # turns per evaluation episode (default: train.max_cycles)
    heldout = ["bipolar", "islands"]    # held-out scenarios for self-play
    backgrounds = ["offensive_realist", "defensive_realist"]   # scripted background populations
    n_focal = 3                         # learned nations among a background
    focal_heldout = ["bipolar"]         # focal settings in these held-out scenarios too (default: none)
    baselines = ["scripted", "random"]  # baseline populations played in the same settings
    deterministic = true                # learned nations play their most likely allowed action
    confidence = 0.95                   # coverage of intervals
    alpha = 0.05                        # significance level of the claims' verdicts
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import csv
import functools
import hashlib
import importlib
import io
import itertools
import json
import math
import os
import signal
import sys
import time
import typing
from collections.abc import Mapping, Sequence
from concurrent import futures
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import realism_env
from agents.policies import POLICIES
from realism_env import METRICS, NATION_METRICS, SCENARIOS, EnvConfig
from realism_env.overrides import format_value
from train.checkpoint import atomic_write_bytes, atomic_write_json
from train.fast_ppo import Args, check_args
from train.ppo import DOCTRINE_CHOICES, make_config
from train.strategy import strategy_columns

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

EVAL_CACHE_VERSION = 2  # 2: the training setting's rows hold the strategy columns (train.strategy)
#: A run's trained network (train.fast_ppo)
MODEL = "model.pt"

# --------------------------------------------------------------------------------------------------
# Presets: schema, built-ins, parsing
# --------------------------------------------------------------------------------------------------

#: train.fast_ppo options a preset may not set (the experiment sets them per run).
TRAIN_RESERVED = ("doctrine", "scenario", "seed", "out", "resume", "set", "progress_bar")
_ARG_TYPES = typing.get_type_hints(Args)
_ENV_TYPES = typing.get_type_hints(EnvConfig)

#: [experiment] and [evaluate] keys: (type, description). Types: str, int, float, bool, list[str], list[int],
#: int|None (TOML has no null: leave the key out for None).
EXPERIMENT_KEYS: dict[str, tuple[str, str]] = {
    "name": ("str", "a label for the report"),
    "scenario": ("str", "training scenario: " + ", ".join(sorted(SCENARIOS))),
    "conditions": ("list[str]", "doctrine conditions to train: " + ", ".join(DOCTRINE_CHOICES)),
    "seeds": ("list[int]", "training seeds (each condition is trained once per seed)"),
    "workers": ("int", "parallel worker processes (1: everything in this process)"),
}
EVALUATE_KEYS: dict[str, tuple[str, str]] = {
    "episodes": ("int", "evaluation episodes per run and setting"),
    "seed": ("int", "env seed of the first evaluation episode (episode k uses seed + k)"),
    "max_cycles": ("int|None", "turns per evaluation episode (default: the training max_cycles)"),
    "heldout": ("list[str]", "held-out scenarios for self-play evaluation"),
    "backgrounds": ("list[str]", "scripted background populations for focal evaluation (agents.POLICIES)"),
    "n_focal": ("int", "learned (focal) nations among a background population"),
    "focal_heldout": ("list[str]", "held-out scenarios where the focal settings are played too"),
    "baselines": ("list[str]", "baseline populations: scripted, random (or any agents.POLICIES name)"),
    "deterministic": ("bool", "learned nations play their most likely allowed action (false: sample)"),
    "confidence": ("float", "coverage of the intervals"),
    "alpha": ("float", "significance level of the claims' verdicts"),
}
TABLES = ("experiment", "train", "env", "sweep", "evaluate")
TOP_LEVEL = ("base",) + TABLES

#: Where the built-in presets live: one commented TOML file each (``--show-preset NAME`` prints it).
PRESET_DIR = Path(__file__).resolve().parent / "presets"
BUILTIN_PRESETS = ("quick", "full")


def _builtin(name: str) -> dict[str, Any]:
    raw = tomllib.loads((PRESET_DIR / f"{name}.toml").read_text())
    return {table: dict(raw.get(table, {})) for table in TABLES}


PRESETS: dict[str, dict[str, Any]] = {name: _builtin(name) for name in BUILTIN_PRESETS}

#: short names of sweep fields in condition names
SHORT = {"offense_defense_balance": "odb", "conquest_payoff": "cp", "misperception": "mis", "sea_penalty": "sea"}


class PresetError(ValueError):
    """A preset that cannot be used; the message names the key and the valid choices."""


def _kind_ok(kind: str, value: Any) -> bool:
    def is_int(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    def is_float(v: Any) -> bool:
        return (isinstance(v, (int, float)) and not isinstance(v, bool)) and math.isfinite(v)

    checks = {
        "str": lambda v: isinstance(v, str),
        "int": is_int,
        "float": is_float,
        "bool": lambda v: isinstance(v, bool),
        "int|None": lambda v: v is None or is_int(v),
        "list[str]": lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
        "list[int]": lambda v: isinstance(v, list) and all(is_int(x) for x in v),
    }
    return checks[kind](value)


def _arg_kind(name: str) -> str:
    hint = _ARG_TYPES[name]
    if hint in (int, float, str, bool):
        return hint.__name__
    if typing.get_origin(hint) in (typing.Union, getattr(__import__("types"), "UnionType", typing.Union)):
        return "int|None"
    raise AssertionError(f"unexpected Args type for {name}: {hint}")  # pragma: no cover


def train_keys() -> dict[str, tuple[str, str]]:
    """[train] keys: every train.fast_ppo option but :data:`TRAIN_RESERVED`, with its type and help."""
    return {f.name: (_arg_kind(f.name), f.metadata["help"]) for f in fields(Args) if f.name not in TRAIN_RESERVED}


def env_keys() -> list[str]:
    """[env] and [sweep] keys: EnvConfig fields but doctrines."""
    return [f.name for f in fields(EnvConfig) if f.name != "doctrines"]


def _unknown(where: str, key: str, valid: Sequence[str]) -> PresetError:
    return PresetError(f"unknown key {key!r} in {where}; valid keys: {', '.join(sorted(valid))}")


def _check_table(table: str, values: Any, schema: Mapping[str, tuple[str, str]]) -> None:
    if not isinstance(values, dict):
        raise PresetError(f"[{table}] must be a table; got {values!r}")
    for key, value in values.items():
        if key not in schema:
            raise _unknown(f"[{table}]", key, list(schema))
        kind, help_text = schema[key]
        if not _kind_ok(kind, value):
            raise PresetError(f"[{table}] {key} = {value!r} is invalid; valid: {kind} ({help_text})")


def _env_value(key: str, value: Any) -> Any:
    """A TOML value for EnvConfig field ``key`` (lists become tuples)."""
    return tuple(value) if isinstance(value, list) else value


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with each table of ``override`` merged key by key (top-level scalars replaced)."""
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **copy.deepcopy(value)}
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_preset(name: str | None = None, path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The raw preset: a built-in one by ``name``, or a TOML file (which may start from ``base = "<built-in>"``)."""
    if path is None:
        if name not in PRESETS:
            raise PresetError(f"unknown preset {name!r}; valid: {', '.join(PRESETS)} (or --preset-file FILE.toml)")
        return copy.deepcopy(PRESETS[name])
    try:
        raw = tomllib.loads(Path(path).read_text())
    except OSError as error:
        raise PresetError(f"cannot read preset file {path}: {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise PresetError(f"{path} is not valid TOML: {error}") from None
    for key in raw:
        if key not in TOP_LEVEL:
            raise _unknown(f"{path} (top level)", key, TOP_LEVEL)
    base = raw.pop("base", None)
    if base is None:
        start: dict[str, Any] = {"experiment": {}, "train": {}, "env": {}, "sweep": {}, "evaluate": {}}
        start = merge(start, {"experiment": {"name": Path(path).stem}})
    elif base in PRESETS:
        start = copy.deepcopy(PRESETS[base])
    else:
        raise PresetError(f"base = {base!r} is invalid; valid: {', '.join(PRESETS)}")
    for table, values in raw.items():
        if not isinstance(values, dict):
            raise PresetError(f"{table} must be a table ([{table}]); got {values!r}")
    return merge(start, raw)


@dataclass(frozen=True)
class Condition:
    """A trained condition: a doctrine in one world (a point of the sweep)."""

    name: str
    doctrine: str
    world: str
    point: tuple[tuple[str, Any], ...]  #: the sweep values of its world


@dataclass(frozen=True)
class Setting:
    """An evaluation setting: self-play or focal-vs-background, in a scenario."""

    name: str
    scenario: str
    heldout: bool
    n_focal: int | None = None
    background: str | None = None

    @property
    def selfplay(self) -> bool:
        return self.n_focal is None


@dataclass(frozen=True)
class Design:
    """A validated, resolved preset."""

    name: str
    scenario: str
    doctrines: tuple[str, ...]
    seeds: tuple[int, ...]
    workers: int
    train: dict[str, Any]
    env: dict[str, Any]
    sweep: dict[str, list[Any]]
    evaluate: dict[str, Any]
    raw: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    def preset(self) -> dict[str, Any]:
        """The resolved preset (every [experiment] and [evaluate] key filled in), as :func:`load_preset` reads it."""
        return {
            "experiment": {
                "name": self.name,
                "scenario": self.scenario,
                "conditions": list(self.doctrines),
                "seeds": list(self.seeds),
                "workers": self.workers,
            },
            "train": dict(self.train),
            "env": {k: list(v) if isinstance(v, tuple) else v for k, v in self.env.items()},
            "sweep": {k: [list(x) if isinstance(x, tuple) else x for x in v] for k, v in self.sweep.items()},
            "evaluate": dict(self.evaluate),
        }

    @property
    def worlds(self) -> list[tuple[str, tuple[tuple[str, Any], ...]]]:
        """(name, sweep point) of every world: ``base`` without a sweep."""
        if not self.sweep:
            return [("base", ())]
        keys = list(self.sweep)
        out = []
        for values in itertools.product(*(self.sweep[k] for k in keys)):
            point = tuple(zip(keys, values, strict=True))
            name = "_".join(f"{SHORT.get(k, k)}{_value_text(v)}" for k, v in point)
            out.append((name, point))
        return out

    @property
    def conditions(self) -> list[Condition]:
        out = []
        for world, point in self.worlds:
            for doctrine in self.doctrines:
                name = doctrine if world == "base" else f"{doctrine}-{world}"
                out.append(Condition(name, doctrine, world, point))
        return out

    def runs(self, out: Path) -> list[tuple[Condition, int, Path]]:
        """(condition, seed, run folder) of every training run under ``out``."""
        return [(c, s, out / "runs" / c.name / f"seed{s}") for c in self.conditions for s in self.seeds]

    @property
    def settings(self) -> list[Setting]:
        ev = self.evaluate
        out = [Setting(f"selfplay@{self.scenario}", self.scenario, False)]
        out += [Setting(f"selfplay@{s}", s, True) for s in ev["heldout"] if s != self.scenario]
        scenarios = [self.scenario, *(s for s in ev["focal_heldout"] if s != self.scenario)]
        out += [
            Setting(f"focal_vs_{b}@{s}", s, s != self.scenario, ev["n_focal"], b)
            for s in scenarios
            for b in ev["backgrounds"]
        ]
        return out

    @property
    def eval_max_cycles(self) -> int:
        if self.evaluate.get("max_cycles") is not None:
            return int(self.evaluate["max_cycles"])
        if self.train.get("max_cycles") is not None:
            return int(self.train["max_cycles"])
        return EnvConfig.from_scenario(self.scenario, **self.env).max_cycles

    def overrides(self, condition: Condition) -> dict[str, Any]:
        """EnvConfig overrides of a condition (the [env] table and its sweep point)."""
        return {**self.env, **dict(condition.point)}

    def args(self, condition: Condition, seed: int, out: Path) -> Args:
        """The train.fast_ppo arguments of one run."""
        sets = tuple(f"{k}={format_value(v)}" for k, v in self.overrides(condition).items())
        return Args(
            **self.train,
            doctrine=condition.doctrine,
            scenario=self.scenario,
            seed=seed,
            out=str(out),
            resume=True,
            set=sets,
            progress_bar=False,
        )


def _value_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).replace(" ", "")


def resolve(raw: Mapping[str, Any]) -> Design:
    """Validate a raw preset (:func:`load_preset`) into a :class:`Design`; raises :class:`PresetError`."""
    for key in raw:
        if key not in TOP_LEVEL:
            raise _unknown("the preset (top level)", key, TOP_LEVEL)
    experiment = {**PRESETS["quick"]["experiment"], **raw.get("experiment", {})}
    _check_table("experiment", raw.get("experiment", {}), EXPERIMENT_KEYS)
    evaluate = {**PRESETS["quick"]["evaluate"], **raw.get("evaluate", {})}
    _check_table("evaluate", raw.get("evaluate", {}), EVALUATE_KEYS)
    _check_table("train", raw.get("train", {}), train_keys())
    env_schema = {k: ("any", "an EnvConfig field") for k in env_keys()}
    for table in ("env", "sweep"):
        values = raw.get(table, {})
        if not isinstance(values, dict):
            raise PresetError(f"[{table}] must be a table; got {values!r}")
        for key in values:
            if key not in env_schema:
                raise _unknown(f"[{table}]", key, list(env_schema))
    sweep = raw.get("sweep", {})
    for key, values in sweep.items():
        if not isinstance(values, list) or not values:
            raise PresetError(f"[sweep] {key} = {values!r} is invalid; valid: a non-empty list of values")
    if experiment["scenario"] not in SCENARIOS:
        raise PresetError(
            f"[experiment] scenario = {experiment['scenario']!r} is invalid; valid: {', '.join(sorted(SCENARIOS))}"
        )
    doctrines = experiment["conditions"]
    bad = [d for d in doctrines if d not in DOCTRINE_CHOICES]
    if bad or not doctrines or len(set(doctrines)) != len(doctrines):
        raise PresetError(
            f"[experiment] conditions = {doctrines!r} is invalid; "
            f"valid: distinct names from {', '.join(DOCTRINE_CHOICES)}"
        )
    seeds = experiment["seeds"]
    if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise PresetError(f"[experiment] seeds = {seeds!r} is invalid; valid: distinct integers >= 0")
    if experiment["workers"] < 1:
        raise PresetError(f"[experiment] workers = {experiment['workers']} is invalid; valid: an integer >= 1")
    for key in ("heldout", "focal_heldout"):
        for name in evaluate[key]:
            if name not in SCENARIOS:
                raise PresetError(f"[evaluate] {key} has {name!r}; valid: {', '.join(sorted(SCENARIOS))}")
    for name in evaluate["backgrounds"]:
        if name not in POLICIES:
            raise PresetError(f"[evaluate] backgrounds has {name!r}; valid: {', '.join(sorted(POLICIES))}")
    for name in evaluate["baselines"]:
        if name != "scripted" and name not in POLICIES:
            raise PresetError(f"[evaluate] baselines has {name!r}; valid: scripted, {', '.join(sorted(POLICIES))}")
    checks = (
        ("episodes", evaluate["episodes"] >= 1, "an integer >= 1"),
        ("seed", evaluate["seed"] >= 0, "an integer >= 0"),
        ("max_cycles", evaluate.get("max_cycles") is None or evaluate["max_cycles"] >= 1, "an integer >= 1"),
        ("confidence", 0 < evaluate["confidence"] < 1, "a number strictly between 0 and 1"),
        ("alpha", 0 < evaluate["alpha"] < 1, "a number strictly between 0 and 1"),
    )
    for key, ok, valid in checks:
        if not ok:
            raise PresetError(f"[evaluate] {key} = {evaluate[key]!r} is invalid; valid: {valid}")
    env = {k: _env_value(k, v) for k, v in raw.get("env", {}).items()}
    design = Design(
        name=experiment["name"],
        scenario=experiment["scenario"],
        doctrines=tuple(doctrines),
        seeds=tuple(seeds),
        workers=experiment["workers"],
        train=dict(raw.get("train", {})),
        env=env,
        sweep={k: [_env_value(k, v) for v in values] for k, values in sweep.items()},
        evaluate=evaluate,
        raw=copy.deepcopy(dict(raw)),
    )
    # Every condition's run arguments and config must be valid (EnvConfig and train.fast_ppo report the bad field).
    n_nations = None
    for condition in design.conditions:
        args = design.args(condition, design.seeds[0], Path("."))
        try:
            check_args(args)
            config = make_config(args)
            for setting in design.settings:
                EnvConfig.from_scenario(setting.scenario, **design.overrides(condition))
        except ValueError as error:
            where = f" (sweep point {dict(condition.point)})" if condition.point else ""
            raise PresetError(f"{error}{where}") from None
        n_nations = config.n_nations
    if n_nations is not None and not 1 <= evaluate["n_focal"] < n_nations and evaluate["backgrounds"]:
        raise PresetError(f"[evaluate] n_focal = {evaluate['n_focal']} is invalid; valid: 1..{n_nations - 1}")
    return design


def to_toml(preset: Mapping[str, Any]) -> str:
    """A preset as TOML (the inverse of :func:`load_preset` for presets without ``base``)."""

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(value(x) for x in v) + "]"
        raise TypeError(f"cannot write {v!r} as TOML")

    lines = []
    for table in TABLES:
        values = {k: v for k, v in preset.get(table, {}).items() if v is not None}
        lines.append(f"[{table}]")
        lines += [f"{k} = {value(v)}" for k, v in values.items()]
        lines.append("")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------
# Workers: training runs and evaluations (run in worker processes, or in this one with workers = 1)
# --------------------------------------------------------------------------------------------------


_PARENT: int | None = None
_STOP = False


class Interrupted(Exception):
    """A task stopped by a signal (a training run saves a checkpoint first)."""


def _exit_now(signum: int, frame: Any) -> None:
    os._exit(128 + signum)


def _worker_init(parent: int) -> None:
    """Worker processes stop with the experiment. SIGUSR1 means "stop": the experiment sends it when interrupted,
    and on Linux the kernel sends it when the experiment dies (``PR_SET_PDEATHSIG``). A training run then saves a
    checkpoint and stops (the trainer's SIGTERM handler); an evaluation finishes its current setting (or, orphaned,
    exits); no further task starts; an orphaned worker exits."""
    global _PARENT
    _PARENT = parent  # from the parent: if it died while this worker started, getppid() already differs
    signal.signal(signal.SIGUSR1, _on_stop)
    signal.signal(signal.SIGTERM, _exit_now)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the experiment, which stops its workers
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


@contextlib.contextmanager
def _run_lock(directory: Path) -> Any:
    """An exclusive lock on a run folder (released when the process dies)."""
    directory.mkdir(parents=True, exist_ok=True)
    handle = open(directory / ".lock", "w")  # noqa: SIM115
    try:
        try:
            import fcntl

            fcntl.flock(handle, fcntl.LOCK_EX)
        except ImportError:  # pragma: no cover - not POSIX
            pass
        yield
    finally:
        handle.close()


def train_run(args_fields: dict[str, Any], log_path: str) -> dict[str, Any]:
    """Train (or resume) one run with :func:`train.fast_ppo.train`, its output in ``log_path``; returns its metrics."""
    from train.fast_ppo import train

    _check_stop()
    args = Args(**args_fields)
    config = make_config(args)
    out = Path(args.out)
    with _run_lock(out), open(log_path, "a") as log:
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            print(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} train.fast_ppo {args.out}", flush=True)
            code = train(args, config)
    if _orphaned():
        os._exit(1)
    if code >= 128:
        raise Interrupted(f"training {out} stopped by signal {code - 128} after saving a checkpoint")
    if code != 0:
        raise RuntimeError(f"training {out} stopped with exit status {code}; see {log_path}")
    return json.loads((out / "metrics.json").read_text())


def evaluate_job(job: dict[str, Any]) -> list[str]:
    """Play every setting of one evaluation job and write one cache file per setting (atomically)."""
    from train.learned import learned_population, play, population, scripted_names

    written = []
    for item in job["items"]:
        _check_stop()
        setting = Setting(**item["setting"])
        if job["policy"] == "learned":
            policies, doctrines = learned_population(
                job["run_dir"],
                job["n_nations"],
                setting.n_focal,
                setting.background,
                deterministic=job["deterministic"],
                name=job["name"],
            )
        else:
            names = scripted_names(set(job["doctrine_per_nation"]), job["policy"])
            policies, doctrines = population(
                job["doctrine_per_nation"], names, job["n_nations"], setting.n_focal, setting.background
            )
        n_focal = setting.n_focal or job["n_nations"]
        focal = [i < n_focal for i in range(job["n_nations"])]
        seeds = range(job["seed"], job["seed"] + job["episodes"])
        # What the focal nations do and which archetype they resemble, in the training scenario's self-play.
        strategy = setting.selfplay and not setting.heldout
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
            "meta": {**job["meta"], "setting": setting.name, "scenario": setting.scenario},
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


# --------------------------------------------------------------------------------------------------
# Planning and running
# --------------------------------------------------------------------------------------------------


def check_runs(design: Design, runs: Sequence[tuple[Condition, int, Path]]) -> None:
    """Raise :class:`PresetError` when a run folder holds a run with other settings than this preset's (only
    ``timesteps`` and run-time options may change: a larger ``timesteps`` extends finished runs)."""
    from train.ppo import differences, option_defaults, run_record

    for condition, seed, run_dir in runs:
        saved = _read_json(run_dir / "config.json")
        if saved is None:
            continue
        args = design.args(condition, seed, run_dir)
        diff = differences(saved, run_record(args, make_config(args)), option_defaults(args))
        if diff:
            raise PresetError(
                f"{run_dir} holds a run with other settings (it differs in {', '.join(diff)}); valid: the preset "
                "it was made with (only [train] timesteps and run-time options may change), or another --out"
            )


def run_finished(run_dir: Path, timesteps: int) -> bool:
    """Whether ``run_dir`` holds a finished run of at least ``timesteps``."""
    try:
        metrics = json.loads((run_dir / "metrics.json").read_text())
    except (OSError, ValueError):
        return False
    return (
        bool(metrics.get("finished")) and metrics.get("num_timesteps", 0) >= timesteps and (run_dir / MODEL).is_file()
    )


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _cached(path: Path, key: Mapping[str, Any]) -> bool:
    record = _read_json(path)
    return isinstance(record, dict) and record.get("key") == json.loads(json.dumps(key))


def _doctrine_per_nation(design: Design, condition: Condition) -> list[str]:
    return list(make_config(design.args(condition, 0, Path("."))).doctrine_per_nation)


def _eval_common(design: Design, condition: Condition) -> dict[str, Any]:
    ev = design.evaluate
    return {
        "episodes": ev["episodes"],
        "seed": ev["seed"],
        "max_cycles": design.eval_max_cycles,
        "overrides": {k: list(v) if isinstance(v, tuple) else v for k, v in design.overrides(condition).items()},
        "deterministic": ev["deterministic"],
        "n_nations": len(_doctrine_per_nation(design, condition)),
        "doctrine_per_nation": _doctrine_per_nation(design, condition),
    }


@functools.cache
def code_fingerprint() -> str:
    """A hash of the source of ``realism_env`` and ``agents``: cached evaluations are reused only while the rules
    and the scripted policies they were measured with are unchanged."""
    digest = hashlib.sha256()
    for package in ("realism_env", "agents"):
        root = Path(importlib.import_module(package).__file__).parent
        for path in sorted(root.rglob("*.py")):
            digest.update(path.relative_to(root.parent).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _setting_key(common: Mapping[str, Any], setting: Setting, policy: str, extra: Mapping[str, Any]) -> dict:
    return {
        "version": EVAL_CACHE_VERSION,
        "code": code_fingerprint(),
        "policy": policy,
        "setting": asdict(setting),
        **{k: common[k] for k in ("episodes", "seed", "max_cycles", "overrides", "doctrine_per_nation")},
        **extra,
    }


def baseline_jobs(design: Design, out: Path) -> list[dict[str, Any]]:
    """One evaluation job per condition, baseline and setting (random: self-play settings only)."""
    jobs = []
    for condition in design.conditions:
        common = _eval_common(design, condition)
        for policy in design.evaluate["baselines"]:
            for setting in design.settings:
                if policy != "scripted" and not setting.selfplay:
                    continue
                path = out / "evals" / condition.name / policy / f"{setting.name}.json"
                key = _setting_key(common, setting, policy, {})
                meta = _meta(condition, policy, None)
                item = {"setting": asdict(setting), "path": str(path), "key": key}
                jobs.append({**common, "policy": policy, "meta": meta, "items": [item]})
    return jobs


def learned_job(design: Design, out: Path, condition: Condition, seed: int, run_dir: Path) -> dict[str, Any]:
    """The evaluation job of one finished run (all settings), its cache keys bound to the model's digest."""
    from train.learned import file_digest

    common = _eval_common(design, condition)
    digest = file_digest(run_dir / MODEL)
    items = []
    for setting in design.settings:
        path = out / "evals" / condition.name / f"seed{seed}" / f"{setting.name}.json"
        key = _setting_key(
            common, setting, "learned", {"model_sha256": digest, "deterministic": common["deterministic"]}
        )
        items.append({"setting": asdict(setting), "path": str(path), "key": key})
    return {
        **common,
        "policy": "learned",
        "run_dir": str(run_dir),
        "name": f"learned_{condition.name}_s{seed}",
        "meta": _meta(condition, "learned", seed),
        "items": items,
    }


def _meta(condition: Condition, policy: str, seed: int | None) -> dict[str, Any]:
    return {
        "world": condition.world,
        "condition": condition.name,
        "doctrine": condition.doctrine,
        "policy": policy,
        "seed": seed,
        "point": dict(condition.point),
    }


def _pending_items(job: dict[str, Any]) -> dict[str, Any] | None:
    """``job`` reduced to its settings without a valid cache file (None if all are cached)."""
    items = [item for item in job["items"] if not _cached(Path(item["path"]), item["key"])]
    return {**job, "items": items} if items else None


class _Progress:
    """A tqdm bar over tasks (or nothing)."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.bar = None
        if enabled and total:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="task", desc="experiment", file=sys.stderr, dynamic_ncols=True)

    def update(self, label: str) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(label[-60:], refresh=False)
            self.bar.update(1)

    def write(self, text: str) -> None:
        if self.bar is not None:
            self.bar.write(text, file=sys.stderr)
        else:
            print(text, file=sys.stderr)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class _Inline:
    """A stand-in for a process pool that runs each task at submission (workers = 1)."""

    def submit(self, fn: Any, *args: Any) -> futures.Future:
        future: futures.Future = futures.Future()
        try:
            future.set_result(fn(*args))
        except BaseException as error:  # noqa: BLE001 - handed to the caller through the future
            if isinstance(error, KeyboardInterrupt):
                raise
            future.set_exception(error)
        return future

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        pass


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
    timesteps = int(design.train.get("timesteps", Args.timesteps))
    to_train = [(c, s, d) for c, s, d in runs if not run_finished(d, timesteps)]
    baselines = [j for j in (_pending_items(job) for job in baseline_jobs(design, out)) if j is not None]
    finished_runs = [(c, s, d) for c, s, d in runs if (c, s, d) not in to_train]
    learned_now = [j for j in (_pending_items(learned_job(design, out, c, s, d)) for c, s, d in finished_runs) if j]
    total = len(to_train) + len(baselines) + len(learned_now) + len(to_train)
    bar = _Progress(total, progress)
    if len(runs) - len(to_train):
        bar.write(f"{len(runs) - len(to_train)} of {len(runs)} runs already finished: skipped")
    pool: Any = _Inline() if workers == 1 else _pool(workers)
    pending: dict[futures.Future, tuple[str, Any]] = {}
    counts = counts if counts is not None else {}
    counts.update(trained=0, evaluated=0, skipped_runs=len(runs) - len(to_train))

    def submit_eval(job: dict[str, Any], label: str) -> None:
        pending[pool.submit(evaluate_job, job)] = ("eval", label)

    try:
        for condition, seed, run_dir in to_train:
            args = design.args(condition, seed, run_dir)
            run_dir.mkdir(parents=True, exist_ok=True)
            future = pool.submit(train_run, asdict(args), str(run_dir / "train.log"))
            pending[future] = ("train", (condition, seed, run_dir))
        for job in learned_now:
            submit_eval(job, f"eval {job['meta']['condition']} seed{job['meta']['seed']}")
        for job in baselines:
            submit_eval(job, f"eval {job['meta']['condition']} {job['meta']['policy']}")
        while pending:
            done, _ = futures.wait(list(pending), return_when=futures.FIRST_COMPLETED)
            for future in done:
                kind, what = pending.pop(future)
                error = future.exception()
                if isinstance(error, Interrupted):
                    raise KeyboardInterrupt from error
                if error is not None:
                    raise RuntimeError(f"{kind} task failed: {error}") from error
                if kind == "train":
                    condition, seed, run_dir = what
                    counts["trained"] += 1
                    bar.update(f"trained {condition.name} seed{seed}")
                    job = _pending_items(learned_job(design, out, condition, seed, run_dir))
                    if job is not None:
                        submit_eval(job, f"eval {condition.name} seed{seed}")
                    else:
                        bar.update("cached")
                else:
                    counts["evaluated"] += 1
                    bar.update(what)
                if on_task is not None:
                    on_task()
    except BaseException:
        bar.close()
        _stop_workers(pool, list(pending))
        raise
    pool.shutdown(wait=True)
    bar.close()
    return {**counts, "wall_time_s": time.perf_counter() - start}


def _stop_workers(pool: Any, pending: Sequence[futures.Future], timeout: float = 300.0) -> None:
    """Stop a pool's workers (SIGUSR1: a training run saves a checkpoint, an evaluation ends its current setting)
    and wait for the tasks that were running."""
    if not isinstance(pool, futures.ProcessPoolExecutor):
        return
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        with contextlib.suppress(OSError):
            os.kill(process.pid, signal.SIGUSR1)
    futures.wait(pending, timeout=timeout)
    pool.shutdown(wait=True, cancel_futures=True)


def _pool(workers: int) -> futures.ProcessPoolExecutor:
    import multiprocessing

    return futures.ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_worker_init,
        initargs=(os.getpid(),),
    )


# --------------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------------

#: leading columns of results.csv (then the sweep fields, METRICS, focal:*, <doctrine>:*)
META_COLUMNS = (
    "world",
    "condition",
    "doctrine",
    "policy",
    "seed",
    "setting",
    "scenario",
    "heldout",
    "n_focal",
    "background",
    "focal_policy",
    "episode_seed",
    "turns",
)


def result_columns(design: Design) -> list[str]:
    """The columns of results.csv, in order."""
    nation = ["return", *NATION_METRICS]
    groups = ["focal", *realism_env.doctrine_names()]
    n_levels = len(EnvConfig.from_scenario(design.scenario, **design.env).arms_shares)
    return [
        *META_COLUMNS,
        *design.sweep,
        *METRICS,
        *(f"{group}:{name}" for group in groups for name in nation),
        *strategy_columns(n_levels),  # filled in the training scenario's self-play
    ]


def collect(design: Design, out: Path) -> tuple[list[dict[str, Any]], dict[tuple[str, str, Any], Any]]:
    """Every evaluated episode as a results.csv row (dict), and the power-share traces by (condition, policy, seed)."""
    rows: list[dict[str, Any]] = []
    traces: dict[tuple[str, str, Any], Any] = {}
    settings = {s.name: s for s in design.settings}
    jobs = baseline_jobs(design, out) + [learned_job(design, out, c, s, d) for c, s, d in design.runs(out)]
    for job in jobs:
        for item in job["items"]:
            record = _read_json(Path(item["path"]))
            if record is None or record.get("key") != json.loads(json.dumps(item["key"])):
                raise RuntimeError(f"evaluation {item['path']} is missing or stale; rerun the experiment")
            meta = record["meta"]
            setting = settings[meta["setting"]]
            focal_policy = record["population"]["policies"][0]
            if setting.selfplay and meta["scenario"] == design.scenario:
                traces[(meta["condition"], meta["policy"], meta["seed"])] = record.get("trace")
            for episode in record["rows"]:
                row = {
                    "world": meta["world"],
                    "condition": meta["condition"],
                    "doctrine": meta["doctrine"],
                    "policy": meta["policy"],
                    "seed": "" if meta["seed"] is None else meta["seed"],
                    "setting": setting.name,
                    "scenario": setting.scenario,
                    "heldout": int(setting.heldout),
                    "n_focal": setting.n_focal or job["n_nations"],
                    "background": setting.background or "",
                    "focal_policy": focal_policy,
                    **meta["point"],
                }
                row.update({k: (float("nan") if v is None else v) for k, v in episode.items() if k != "episode_seed"})
                row["episode_seed"] = episode["episode_seed"]
                rows.append(row)
    return rows, traces


def write_csv(path: Path, rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> None:
    """results.csv, atomically; NaN written as an empty cell."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        cells = []
        for name in columns:
            value = row.get(name, "")
            if isinstance(value, float):
                value = "" if math.isnan(value) else repr(value)
            cells.append(value)
        writer.writerow(cells)
    atomic_write_bytes(path, buffer.getvalue().encode())


def read_csv(path: Path) -> list[dict[str, str]]:
    """results.csv as a list of dicts of strings."""
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


# --------------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------------


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
    parser.add_argument("--workers", type=int, default=None, help="override [experiment] workers")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    cli = parser.parse_args(argv)
    if cli.show_preset:
        print((PRESET_DIR / f"{cli.show_preset}.toml").read_text(), end="")
        return 0
    if cli.out is None:
        parser.error("--out DIR is required")
    try:
        raw = load_preset(cli.preset or ("quick" if cli.preset_file is None else None), cli.preset_file)
        design = resolve(raw)
        if cli.workers is not None and cli.workers < 1:
            raise PresetError(f"--workers {cli.workers} is invalid; valid: an integer >= 1")
    except PresetError as error:
        parser.error(str(error))
    out = Path(cli.out)
    try:
        check_runs(design, design.runs(out))
    except PresetError as error:
        parser.error(str(error))
    out.mkdir(parents=True, exist_ok=True)
    workers = cli.workers or design.workers
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
            "versions": _versions(),
        },
    )
    signal.signal(signal.SIGTERM, _raise_interrupt)
    history = out / "timing.json"
    invocations = list((_read_json(history) or {}).get("invocations", []))
    started, counts = time.time(), {"trained": 0, "evaluated": 0, "skipped_runs": 0}

    def record(status: str) -> None:
        """This invocation's entry of timing.json (rewritten after every task, so a killed run leaves its last)."""
        entry = {"started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(started)), "status": status}
        entry.update(counts, wall_time_s=round(time.time() - started, 3), command=command, workers=workers)
        atomic_write_json(history, {"invocations": [*invocations, entry]})
        if status != "running":
            invocations.append(entry)

    record("running")
    try:
        execute(design, out, workers, not cli.no_progress, counts, on_task=lambda: record("running"))
    except KeyboardInterrupt:
        record("interrupted")
        print(f"\ninterrupted: rerun `{command}` to resume where it stopped", file=sys.stderr)
        return 130
    except RuntimeError as error:
        record("failed")
        print(f"error: {error}", file=sys.stderr)
        return 1
    record("finished")
    path, written = finish(design, out, invocations, command)
    total = time.time() - started
    print(
        f"{counts['trained']} runs trained ({counts['skipped_runs']} already finished), {counts['evaluated']} "
        f"evaluation jobs run; {total:.0f} s" + ("" if written else " (nothing new: report unchanged)")
    )
    print(f"report: {path}")
    return 0


def finish(design: Design, out: Path, invocations: Sequence[Mapping[str, Any]], command: str) -> tuple[Path, bool]:
    """Collect the evaluations into results.csv and write report.md with its plots; returns the report's path and
    whether it was written (it is kept as it is when nothing it shows has changed since it was written)."""
    import hashlib

    from train.report import write_report

    rows, traces = collect(design, out)
    write_csv(out / "results.csv", rows, result_columns(design))
    runs = {}
    for condition in design.conditions:
        for seed in design.seeds:
            metrics = _read_json(out / "runs" / condition.name / f"seed{seed}" / "metrics.json")
            runs[(condition.name, seed)] = metrics or {}
    work = [i for i in invocations if i.get("trained") or i.get("evaluated")]
    inputs = json.dumps(
        [design.preset(), [runs[k] for k in sorted(runs)], work, command], sort_keys=True, default=str
    ).encode()
    digest = hashlib.sha256((out / "results.csv").read_bytes() + inputs).hexdigest()
    stamp = _read_json(out / ".report.json") or {}
    path = out / "report.md"
    if stamp.get("digest") == digest and path.is_file() and all((out / p).is_file() for p in stamp.get("files", [])):
        return path, False
    timing = {
        "invocations": len(work),
        "wall_time_s": sum(i["wall_time_s"] for i in work),
        "last": work[-1] if work else (invocations[-1] if invocations else {}),
    }
    units = {name: metric.unit for name, metric in METRICS.items()}
    path = write_report(design, out, rows, traces, runs, timing, command, units)
    files = [str(p.relative_to(out)) for p in sorted((out / "plots").glob("*.png"))]
    atomic_write_json(out / ".report.json", {"digest": digest, "files": files})
    return path, True


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _versions() -> dict[str, str]:
    import numpy

    return {"realism_env": realism_env.__version__, "numpy": numpy.__version__, "python": sys.version.split()[0]}


if __name__ == "__main__":
    sys.exit(main())
