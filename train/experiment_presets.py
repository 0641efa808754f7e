"""Presets of the experiment: the TOML schema (documented in :mod:`train.experiment`), the built-in presets of
``train/presets/*.toml``, loading and merging, validation into a :class:`~train.experiment_design.Design`, and
writing a preset back as TOML."""

from __future__ import annotations

import copy
import json
import math
import os
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

from agents.plugins import PRESET_IMPORT_IT, PluginNotFound, import_plugin, own_name_hint
from agents.policies import POLICIES
from realism_env import MIX_SEPARATOR, SCENARIOS, EnvConfig
from train.cli import MAX_SEED, scenarios_of
from train.experiment_design import Design
from train.fast_ppo import Args, check_args, check_world_horizon
from train.learned import GREEDY_CHOICES
from train.run_args import DOCTRINE_CHOICES, check_condition, doctrine_choices, make_config

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

#: train.fast_ppo options a preset may not set (the experiment sets them per run).
TRAIN_RESERVED = ("doctrine", "scenario", "seed", "out", "resume", "set", "progress_bar", "members_dir", "imports")
_ARG_TYPES = typing.get_type_hints(Args)

#: [experiment] and [evaluate] keys: (type, description). Types: str, int, float, bool, list[str], list[int],
#: int|None (TOML has no null: leave the key out for None).
EXPERIMENT_KEYS: dict[str, tuple[str, str]] = {
    "name": ("str", "a label for the report"),
    "scenario": ("str", "training scenario: " + ", ".join(sorted(SCENARIOS))),
    "conditions": (
        "list[str]",
        "doctrine conditions to train: " + ", ".join(DOCTRINE_CHOICES) + ", a doctrine of your own (imports), or a "
        "mix of doctrines joined by + (security+prosperity: the nations take them in turn)",
    ),
    "seeds": ("list[int]", "training seeds (each condition is trained once per seed)"),
    "workers": ("int", "parallel worker processes (1: everything in this process; at most 4 per CPU)"),
    "imports": (
        "list[str]",
        "modules imported first, in every process (--import; agents.plugins): doctrines, scenarios, policies of your "
        "own",
    ),
}
EVALUATE_KEYS: dict[str, tuple[str, str]] = {
    "episodes": ("int", "evaluation episodes per run and setting"),
    "seed": ("int", "env seed of the first evaluation episode (episode k uses seed + k)"),
    "max_cycles": ("int|None", "turns per evaluation episode (default: the training max_cycles)"),
    "heldout": ("list[str]", "held-out scenarios for self-play evaluation (of the training scenario's nation count)"),
    "backgrounds": ("list[str]", "scripted background populations for focal evaluation (agents.POLICIES)"),
    "n_focal": ("int", "learned (focal) nations among a background population"),
    "focal_heldout": ("list[str]", "held-out scenarios where the focal settings are played too (as heldout)"),
    "baselines": (
        "list[str]",
        "baseline populations: scripted (every setting), random or any agents.POLICIES name (self-play settings)",
    ),
    "deterministic": ("bool", "learned nations play their greedy choice (false: sample)"),
    "sampled_strategy": (
        "bool",
        "with deterministic = true, each run's nations also play the training scenario's settings (self-play and "
        "focal among each background) sampling from their policy, as in training (policy learned_sampled in "
        "results.csv; a column of the report's strategy section and of its learner checks)",
    ),
    "greedy": (
        "str",
        "the greedy choice: act_then_target (the most likely arms level and act, then its most likely target) or "
        "flat (the most likely single action)",
    ),
    "deviants": (
        "list[str]",
        "scripted policies (agents.POLICIES) that take one learned nation's place at a time in self-play "
        "(train.deviation); [] for none",
    ),
    "deviation_scenarios": ("list[str]", "scenarios where the deviations are played (as heldout)"),
    "deviation_episodes": ("int", "episodes per run, scenario, deviant and nation of the deviations"),
    "crossplay_episodes": (
        "int",
        "episodes per pair of seeds and nation of the cross-play: each run's learned nation in each nation's place "
        "among another seed's, in the training scenario (train.crossplay; crossplay.csv); 0 for none",
    ),
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


class PresetError(ValueError):
    """A preset that cannot be used; the message names the key and the valid choices."""


#: The most worker processes an experiment starts per CPU it may use. A worker runs one thread per numerical library,
#: so more than one a CPU only share the CPUs (a few more may wait on a GPU while others compute); many more only fill
#: the memory, each with its own torch (``workers = 100000`` was taken, and would start a process per pending task).
WORKERS_PER_CPU = 4


def max_workers() -> int:
    """The most workers an experiment takes here: :data:`WORKERS_PER_CPU` per CPU this process may use."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # no affinity on this platform
        cpus = os.cpu_count() or 1
    return WORKERS_PER_CPU * cpus


def check_workers(workers: int, given: str, instead: str = "") -> None:
    """Raise :class:`PresetError` unless ``workers`` is from 1 to :func:`max_workers`; ``given`` names it as the user
    gave it (``--workers 8``, ``[experiment] workers = 8``), ``instead`` another way to give it (a preset written for
    a larger machine runs here with ``--workers``)."""
    top = max_workers()
    if not 1 <= workers <= top:
        raise PresetError(
            f"{given} is invalid; valid: an integer from 1 to {top}{instead} ({WORKERS_PER_CPU} per CPU of the "
            f"{top // WORKERS_PER_CPU} this process may use: more only compete for them)"
        )


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
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return "int|None"
    raise AssertionError(f"unexpected Args type for {name}: {hint}")  # pragma: no cover


def train_keys() -> dict[str, tuple[str, str]]:
    """[train] keys: every train.fast_ppo option but :data:`TRAIN_RESERVED`, with its type and help."""
    return {f.name: (_arg_kind(f.name), f.metadata["help"]) for f in fields(Args) if f.name not in TRAIN_RESERVED}


#: EnvConfig fields that [env] and [sweep] leave to other tables: the conditions name the doctrines, and an episode's
#: length is [train] max_cycles (training) and [evaluate] max_cycles (evaluation), which may differ.
ENV_ELSEWHERE = {
    "doctrines": "[experiment] conditions",
    "max_cycles": "[train] max_cycles (training episodes) and [evaluate] max_cycles (evaluation episodes)",
}


def _check_train_choices(values: Mapping[str, Any]) -> None:
    """Refuse a [train] value outside its train.fast_ppo option's ``choices`` (the field's metadata, which its
    command line takes them from: :func:`train.cli.dataclass_parser`), where the run would refuse it only once the
    experiment had started. An option that also reads values beyond its choices (``other``) is left to check_args."""
    for f in fields(Args):
        if f.name not in values or "choices" not in f.metadata or "other" in f.metadata:
            continue
        choices = f.metadata["choices"]
        choices = choices() if callable(choices) else choices
        if values[f.name] not in choices:
            raise PresetError(
                f"[train] {f.name} = {values[f.name]!r} is invalid; valid: {', '.join(choices)} ({f.metadata['help']})"
            )


_ENV_TYPES = typing.get_type_hints(EnvConfig)
_ENV_KINDS = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}


def _env_kind(key: str) -> tuple[str, Callable[[Any], bool]]:
    """The TOML values EnvConfig field ``key`` takes, from its type: a description and a check. Training reads an
    [env] value as a ``--set`` text, which parses ``"2.5"`` as 2.5, and evaluation passes it to EnvConfig as it is:
    only a value of the field's own type means one thing to both. (TOML has no null: an optional field takes its
    other type.)"""
    hint = _ENV_TYPES[key]
    options = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)

    def scalar_ok(kind: Any, value: Any) -> bool:
        if kind not in _ENV_KINDS:  # a type TOML cannot mean: left to EnvConfig
            return True
        if kind is bool or isinstance(value, bool):  # True is an int to Python
            return kind is bool and isinstance(value, bool)
        return isinstance(value, {int: int, float: (int, float), str: str}[kind])

    def name(kind: Any) -> str:
        return _ENV_KINDS.get(kind, f"a {getattr(kind, '__name__', kind)}")

    kinds, checks = [], []
    for option in (o for o in options if o is not type(None)):
        if typing.get_origin(option) is tuple:
            item = typing.get_args(option)[0]
            kinds.append(f"a list, each {name(item)}")
            checks.append(lambda v, item=item: isinstance(v, list) and all(scalar_ok(item, x) for x in v))
        else:
            kinds.append(name(option))
            checks.append(lambda v, option=option: scalar_ok(option, v))
    return " or ".join(kinds), lambda value: any(check(value) for check in checks)


def _env_type_error(given: str, key: str, value: Any) -> PresetError | None:
    """A :class:`PresetError` for an [env] or [sweep] value not of its EnvConfig field's type (``given``: how the
    preset gave it), else ``None``."""
    kind, ok = _env_kind(key)
    if ok(value):
        return None
    hint = _ENV_TYPES[key]
    quoted = "; quoted, it is a string" if isinstance(value, str) else ""
    return PresetError(f"{given}; valid: {kind} (EnvConfig.{key}: {getattr(hint, '__name__', hint)}{quoted})")


def env_keys() -> list[str]:
    """[env] and [sweep] keys: EnvConfig fields but those of :data:`ENV_ELSEWHERE`."""
    return [f.name for f in fields(EnvConfig) if f.name not in ENV_ELSEWHERE]


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
    except UnicodeDecodeError as error:
        raise PresetError(f"{path} is not a text file ({error}); valid: a preset in TOML, UTF-8") from None
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


def resolve(raw: Mapping[str, Any]) -> Design:
    """Validate a raw preset (:func:`load_preset`) into a :class:`Design`; raises :class:`PresetError`."""
    for key in raw:
        if key not in TOP_LEVEL:
            raise _unknown("the preset (top level)", key, TOP_LEVEL)
    experiment = {"imports": [], **PRESETS["quick"]["experiment"], **raw.get("experiment", {})}
    _check_table("experiment", raw.get("experiment", {}), EXPERIMENT_KEYS)
    imports = experiment["imports"]
    if len(set(imports)) != len(imports):
        raise PresetError(f"[experiment] imports = {imports!r} repeats a module; valid: distinct modules")
    for name in imports:  # first: what they register is valid in the keys below
        try:
            import_plugin(name)
        except PluginNotFound as error:
            raise PresetError(f"[experiment] imports: {error}") from None
    evaluate = {**PRESETS["quick"]["evaluate"], **raw.get("evaluate", {})}
    _check_table("evaluate", raw.get("evaluate", {}), EVALUATE_KEYS)
    _check_table("train", raw.get("train", {}), train_keys())
    _check_train_choices(raw.get("train", {}))
    # the design groups seeds by it and hands each run its group's size, so train.fast_ppo never sees it
    population = raw.get("train", {}).get("population", 1)
    if isinstance(population, bool) or not isinstance(population, int) or population < 1:
        raise PresetError(f"[train] population = {population!r} is invalid; valid: an integer >= 1")
    env_schema = {k: ("any", "an EnvConfig field") for k in env_keys()}
    for table in ("env", "sweep"):
        values = raw.get(table, {})
        if not isinstance(values, dict):
            raise PresetError(f"[{table}] must be a table; got {values!r}")
        for key in values:
            if key in ENV_ELSEWHERE:
                raise PresetError(f"[{table}] {key} is not set here; valid: {ENV_ELSEWHERE[key]}")
            if key not in env_schema:
                raise _unknown(f"[{table}]", key, list(env_schema))
            if table == "env" and (
                error := _env_type_error(f"[env] {key} = {values[key]!r} is invalid", key, values[key])
            ):
                raise error
    sweep = raw.get("sweep", {})
    for key, values in sweep.items():
        if not isinstance(values, list) or not values:
            raise PresetError(f"[sweep] {key} = {values!r} is invalid; valid: a non-empty list of values")
        for value in values:
            if error := _env_type_error(f"[sweep] {key} has {value!r}", key, value):
                raise error
        # 2 and 2.0 are one value: two sweep points of it would be one condition, trained and counted twice
        parsed = [_env_value(key, value) for value in values]
        if any(value in parsed[:k] for k, value in enumerate(parsed)):
            raise PresetError(f"[sweep] {key} = {values!r} repeats a value; valid: distinct values")
    own_scenario = f"({own_name_hint('scenario', PRESET_IMPORT_IT)})"
    if experiment["scenario"] not in SCENARIOS:
        raise PresetError(
            f"[experiment] scenario = {experiment['scenario']!r} is invalid; valid: {', '.join(sorted(SCENARIOS))} "
            f"{own_scenario}"
        )
    doctrines = experiment["conditions"]
    own = "" if imports else f" ({own_name_hint('doctrine', PRESET_IMPORT_IT)})"
    mixes = [d for d in doctrines if MIX_SEPARATOR in d]  # a mix of one's own: each doctrine it names is checked
    for mix in mixes:
        try:
            check_condition(mix, "[experiment] conditions:")
        except ValueError as error:
            raise PresetError(f"{error}{own}") from None
    bad = [d for d in doctrines if d not in doctrine_choices() and d not in mixes]
    if bad or not doctrines or len(set(doctrines)) != len(doctrines):
        raise PresetError(
            f"[experiment] conditions = {doctrines!r} is invalid; "
            f"valid: distinct names from {', '.join(doctrine_choices())}, or mixes of them joined by "
            f"{MIX_SEPARATOR!r} (e.g. security+prosperity){own}"
        )
    seeds = experiment["seeds"]
    if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0 or max(seeds) > MAX_SEED:
        raise PresetError(f"[experiment] seeds = {seeds!r} is invalid; valid: distinct integers from 0 to {MAX_SEED}")
    check_workers(experiment["workers"], f"[experiment] workers = {experiment['workers']}", " or --workers N")
    # a listed name twice would evaluate its settings twice and count their rows twice
    for key in ("heldout", "focal_heldout", "deviation_scenarios", "backgrounds", "deviants", "baselines"):
        names = evaluate[key]
        if len(set(names)) != len(names):
            raise PresetError(f"[evaluate] {key} = {names!r} repeats a name; valid: distinct names")
    for key in ("heldout", "focal_heldout", "deviation_scenarios"):
        for name in evaluate[key]:
            if name not in SCENARIOS:
                raise PresetError(
                    f"[evaluate] {key} has {name!r}; valid: {', '.join(sorted(SCENARIOS))} {own_scenario}"
                )
    for name in evaluate["backgrounds"]:
        if name not in POLICIES:
            raise PresetError(f"[evaluate] backgrounds has {name!r}; valid: {', '.join(sorted(POLICIES))}")
    for name in evaluate["deviants"]:
        if name not in POLICIES:
            raise PresetError(f"[evaluate] deviants has {name!r}; valid: {', '.join(sorted(POLICIES))}")
    for name in evaluate["baselines"]:
        if name != "scripted" and name not in POLICIES:
            raise PresetError(f"[evaluate] baselines has {name!r}; valid: scripted, {', '.join(sorted(POLICIES))}")
    checks = (
        ("episodes", evaluate["episodes"] >= 1, "an integer >= 1"),
        ("deviation_episodes", evaluate["deviation_episodes"] >= 1, "an integer >= 1"),
        ("crossplay_episodes", evaluate["crossplay_episodes"] >= 0, "an integer >= 0 (0: no cross-play)"),
        ("seed", evaluate["seed"] >= 0, "an integer >= 0"),
        ("max_cycles", evaluate.get("max_cycles") is None or evaluate["max_cycles"] >= 1, "an integer >= 1"),
        ("confidence", 0 < evaluate["confidence"] < 1, "a number strictly between 0 and 1"),
        ("alpha", 0 < evaluate["alpha"] < 1, "a number strictly between 0 and 1"),
        ("greedy", evaluate["greedy"] in GREEDY_CHOICES, " or ".join(f'"{c}"' for c in GREEDY_CHOICES)),
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
        imports=tuple(imports),
        train=dict(raw.get("train", {})),
        env=env,
        sweep={k: [_env_value(k, v) for v in values] for k, values in sweep.items()},
        evaluate=evaluate,
        raw=copy.deepcopy(dict(raw)),
    )
    # Every condition's run arguments and config must be valid (EnvConfig and train.fast_ppo report the bad field).
    try:
        eval_max_cycles = design.eval_max_cycles  # of every condition alike
    except ValueError as error:  # [env] alone in the scenario (a sweep point may make it whole for the runs)
        raise PresetError(f"{error} (the evaluation's episode length: [evaluate] max_cycles)") from None
    n_nations = None
    for condition in design.conditions:
        args = design.args(condition, design.seeds[0], Path("."))
        point = f" (sweep point {dict(condition.point)})" if condition.point else ""
        try:
            check_args(args)
            config = make_config(args)
            # as train.fast_ppo's command line does (float32 worlds hold fewer turns), in the preset's words
            check_world_horizon(args, config, "[train] max_cycles", '[train] device = "cpu"')
        except ValueError as error:
            raise PresetError(f"{error}{point}") from None
        # the evaluation's worlds too, with the evaluation's episode length: a world it cannot build, or one of
        # another nation count than the runs' (a network takes only the observations of its own), would otherwise
        # fail only after every run had trained
        scenarios = [setting.scenario for setting in design.settings] + design.deviation_scenarios
        for scenario in dict.fromkeys(scenarios):
            try:
                world = EnvConfig.from_scenario(scenario, **design.overrides(condition), max_cycles=eval_max_cycles)
            except ValueError as error:
                where = f" (evaluation in {scenario}, {eval_max_cycles} turns an episode)"
                raise PresetError(f"{error}{where}{point}") from None
            if world.n_nations != config.n_nations:
                raise PresetError(
                    f"[evaluate] {_evaluation_key(design, scenario)} has {scenario!r}, a world of {world.n_nations} "
                    f"nations, and the runs train in {design.scenario!r} with {config.n_nations}{point}: a network "
                    f"takes only the nation count it was trained with; valid: scenarios of {config.n_nations} "
                    f"nations ({', '.join(scenarios_of(config.n_nations, design.overrides(condition)))})"
                )
        n_nations = config.n_nations
    if n_nations is not None and not 1 <= evaluate["n_focal"] < n_nations and evaluate["backgrounds"]:
        raise PresetError(f"[evaluate] n_focal = {evaluate['n_focal']} is invalid; valid: 1..{n_nations - 1}")
    return design


def _evaluation_key(design: Design, scenario: str) -> str:
    """The [evaluate] key that plays ``scenario`` (the first of them where several list it)."""
    for setting in design.settings:
        if setting.scenario == scenario and setting.heldout:
            return "heldout" if setting.background is None else "focal_heldout"
    return "deviation_scenarios"


def to_toml(preset: Mapping[str, Any]) -> str:
    """A preset as TOML (the inverse of :func:`load_preset` for presets without ``base``)."""

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        if isinstance(v, str):  # TOML's basic strings take JSON's escapes, but not a surrogate pair: keep the text
            return json.dumps(v, ensure_ascii=False)
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
