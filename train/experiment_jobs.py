"""The experiment's work and its caches: which training runs are finished (and whether a run folder matches the
preset), and the evaluation jobs of the baselines and of every learned run (its settings, then its deviations), each
item with a cache key bound to the code that decides its rows (the rules, the scripted policies, the evaluation
harness), the model and the evaluation settings; a job is run only for the items whose cache file is missing or
stale."""

from __future__ import annotations

import functools
import hashlib
import importlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from agents.policies import without_counterpart
from train.checkpoint import read_json, readable_model
from train.experiment_design import Condition, Design, Setting
from train.experiment_presets import PresetError
from train.run_args import make_config

# 2: the training setting's rows hold the strategy columns (train.strategy); 3: the focal settings' rows in the
# training scenario too
EVAL_CACHE_VERSION = 3
#: A run's trained network (train.fast_ppo)
MODEL = "model.pt"


def check_runs(design: Design, runs: Sequence[tuple[Condition, int, Path]]) -> None:
    """Raise :class:`~train.experiment_presets.PresetError` when a run folder holds a run with other settings than
    this preset's (only ``timesteps`` and run-time options may change: a larger ``timesteps`` extends finished runs; a
    smaller one is refused, as its report would pool longer runs with the preset's)."""
    from train.run_folder import differences, option_defaults, run_record

    for condition, seed, run_dir in runs:
        saved = read_json(run_dir / "config.json")
        if saved is None:
            continue
        args = design.args(condition, seed, run_dir)
        # which seeds a run trained beside (a population) is how it was trained, not what: seeds added to the preset
        # regroup them, and finished members are kept as they are
        diff = differences(saved, run_record(args, make_config(args)), option_defaults(args), ignore=("population",))
        if diff:
            raise PresetError(
                f"{run_dir} holds a run with other settings (it differs in {', '.join(diff)}); valid: the preset "
                "it was made with (only [train] timesteps and run-time options may change), or another --out"
            )
        # A longer run would be pooled with the preset's shorter ones under the preset's length: refused
        trained_toward = saved.get("args", {}).get("timesteps")
        if isinstance(trained_toward, int) and trained_toward > args.timesteps:
            raise PresetError(
                f"{run_dir} holds a run trained toward {trained_toward:,} agent-steps where the preset asks for "
                f"{args.timesteps:,}; valid: [train] timesteps >= {trained_toward:,} (a larger one extends it), or "
                "another --out"
            )


def run_finished(run_dir: Path, timesteps: int, with_model: bool = True) -> bool:
    """Whether ``run_dir`` holds a finished run of at least ``timesteps``, its config.json readable and its model too
    (unless ``with_model`` is False: a population's folder, whose members' models are in their own folders)."""
    try:
        metrics = json.loads((run_dir / "metrics.json").read_text())
    except (OSError, ValueError):
        return False
    done = bool(metrics.get("finished")) and metrics.get("num_timesteps", 0) >= timesteps
    # a model or config.json gone or truncated since: the run is trained again from its last checkpoint, which
    # writes them again (train.run_folder.check_run_dir)
    done = done and read_json(run_dir / "config.json") is not None
    return done and (not with_model or readable_model(run_dir / MODEL))


def _cached(path: Path, key: Mapping[str, Any]) -> bool:
    record = read_json(path)
    return isinstance(record, dict) and record.get("key") == json.loads(json.dumps(key))


def _doctrine_per_nation(design: Design, condition: Condition) -> list[str]:
    # any seed's run has the condition's doctrines; the first is one the design trains
    return list(make_config(design.args(condition, design.seeds[0], Path("."))).doctrine_per_nation)


def _eval_common(design: Design, condition: Condition) -> dict[str, Any]:
    ev = design.evaluate
    return {
        "episodes": ev["episodes"],
        "seed": ev["seed"],
        "max_cycles": design.eval_max_cycles,
        "overrides": {k: list(v) if isinstance(v, tuple) else v for k, v in design.overrides(condition).items()},
        "deterministic": ev["deterministic"],
        "greedy": ev["greedy"],
        "n_nations": len(_doctrine_per_nation(design, condition)),
        "doctrine_per_nation": _doctrine_per_nation(design, condition),
        "imports": list(design.imports),  # imported by the worker first; their code is in the keys (_code_key)
    }


def _code_key(common: Mapping[str, Any]) -> dict[str, str]:
    """What a cache key holds of the code that decides a row: :func:`code_fingerprint`, and with ``[experiment]
    imports``, their modules' source (:func:`plugin_fingerprint`), whose doctrines reward and policies act."""
    imports = common.get("imports") or []
    return {"code": code_fingerprint(), **({"plugins": plugin_fingerprint(tuple(imports))} if imports else {})}


@functools.cache
def plugin_fingerprint(imports: tuple[str, ...]) -> str:
    """A hash of the source files of the modules ``imports`` (:func:`agents.plugins.source_digests`)."""
    from agents.plugins import source_digests

    return hashlib.sha256(json.dumps(source_digests(imports)).encode()).hexdigest()[:16]


#: The code that decides an evaluation row, relative to the repository: the rules, the scripted policies, the
#: harness that loads a learned network, plays its episodes and tracks its strategy, and the worker's task that sets
#: up each setting's episodes (their seeds, focal nations and strategy columns; a deviation's overrides).
EVALUATION_SOURCES = (
    "realism_env", "agents", "train/learned.py", "train/strategy.py", "train/networks.py", "train/deviation.py",
    "train/experiment_workers.py", "train/replay.py",
)  # fmt: skip


#: The code that writes the report from the results: its sections and plots, and the replays it links (which play
#: their episodes again).
REPORT_SOURCES = ("realism_env", "agents", "train")


@functools.cache
def code_fingerprint() -> str:
    """A hash of :data:`EVALUATION_SOURCES`: cached evaluations are reused only while the code they were measured
    with is unchanged."""
    return fingerprint(_repository())


@functools.cache
def report_fingerprint() -> str:
    """A hash of :data:`REPORT_SOURCES`: a finished experiment's report is written again once this code changed."""
    return fingerprint(_repository(), REPORT_SOURCES)


def _repository() -> Path:
    return Path(importlib.import_module("train").__file__).parent.parent


def fingerprint(root: Path, sources: Sequence[str] = EVALUATION_SOURCES) -> str:
    """The hash of ``sources`` under ``root`` (every ``.py`` file of a folder, by path and content)."""
    digest = hashlib.sha256()
    for source in sources:
        path = root / source
        for file in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            digest.update(file.relative_to(root).as_posix().encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def _setting_key(common: Mapping[str, Any], setting: Setting, policy: str, extra: Mapping[str, Any]) -> dict:
    return {
        "version": EVAL_CACHE_VERSION,
        **_code_key(common),
        "policy": policy,
        "setting": asdict(setting),
        **{k: common[k] for k in ("episodes", "seed", "max_cycles", "overrides", "doctrine_per_nation")},
        **extra,
    }


def baseline_jobs(design: Design, out: Path) -> list[dict[str, Any]]:
    """One evaluation job per condition, baseline and setting (random: self-play settings only; scripted: only for
    conditions whose every doctrine has a scripted counterpart, :func:`agents.policies.without_counterpart`)."""
    jobs = []
    for condition in design.conditions:
        common = _eval_common(design, condition)
        for policy in design.evaluate["baselines"]:
            if policy == "scripted" and without_counterpart(common["doctrine_per_nation"]):
                continue  # no scripted policy acts out a doctrine of the condition
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
            common,
            setting,
            "learned",
            {"model_sha256": digest, "deterministic": common["deterministic"], "greedy": common["greedy"]},
        )
        items.append({"setting": asdict(setting), "path": str(path), "key": key})
    for setting in sampled_settings(design):
        path = out / "evals" / condition.name / f"seed{seed}" / f"{sampled_name(setting.name)}.json"
        key = _setting_key(common, setting, SAMPLED, {"model_sha256": digest, "deterministic": False})
        items.append({"setting": asdict(setting), "path": str(path), "key": key, "sampled": True})
    items += _deviation_items(design, out, condition, seed, common, digest)
    return {
        **common,
        "policy": "learned",
        "run_dir": str(run_dir),
        "name": f"learned_{condition.name}_s{seed}",
        "meta": _meta(condition, "learned", seed),
        "items": items,
    }


#: results.csv's policy of a run's nations playing the training scenario's settings sampling from their policy,
#: beside their greedy play (``[evaluate] sampled_strategy``)
SAMPLED = "learned_sampled"


def sampled_name(setting: str) -> str:
    """How the sampled play of ``setting`` is named (its eval file, its replay): ``<setting>@sampled``, which no
    setting's own name can be ('@' stands in no scenario's name, realism_env.names)."""
    return f"{setting}@sampled"


def sampled_settings(design: Design) -> list[Setting]:
    """The settings each run's nations also play sampling from their policy (:func:`sampled_strategy`): those of the
    training scenario, self-play and focal among each background (none otherwise)."""
    if not sampled_strategy(design):
        return []
    return [setting for setting in design.settings if not setting.heldout]


def sampled_strategy(design: Design) -> bool:
    """Whether each run's nations also play the training scenario's settings sampling from their policy: with
    ``[evaluate] sampled_strategy`` where the evaluation is greedy (``deterministic``; otherwise it samples already).
    Why: where a policy is unsure, its greedy choice plays one act on every turn where sampling, as in training,
    plays them all, and the worlds the two lead to differ (a power-maximiser's sampled play can blackmail where its
    greedy play rarely threatens)."""
    return bool(design.evaluate["deterministic"] and design.evaluate["sampled_strategy"])


def _deviation_items(
    design: Design, out: Path, condition: Condition, seed: int, common: Mapping[str, Any], digest: str
) -> list[dict[str, Any]]:
    """A run's deviations (:mod:`train.deviation`), one item per scenario of ``design.deviation_scenarios``, each
    cached under a key bound to the model, the deviants and the worlds."""
    ev = design.evaluate
    items = []
    for scenario in design.deviation_scenarios:
        deviation = {"scenario": scenario, "deviants": list(ev["deviants"]), "episodes": ev["deviation_episodes"]}
        key = {
            "version": EVAL_CACHE_VERSION,
            **_code_key(common),
            "deviation": deviation,
            "model_sha256": digest,
            **{k: common[k] for k in ("seed", "max_cycles", "overrides", "deterministic", "greedy")},
        }
        path = out / "evals" / condition.name / f"seed{seed}" / f"deviation@{scenario}.json"
        items.append({"deviation": deviation, "path": str(path), "key": key})
    return items


#: The name of the cross-play (``crossplay@<scenario>.json`` in a run's evaluation folder; its jobs' policy)
CROSSPLAY = "crossplay"


def crossplay_jobs(design: Design, out: Path, condition: Condition) -> list[dict[str, Any]]:
    """The cross-play of a condition's runs (``[evaluate] crossplay_episodes``; :mod:`train.crossplay`), once all of
    them have finished: a job per run, whose self-play in the training scenario is joined by each other seed's
    learned nation in each nation's place. Each is cached under a key bound to every run's model, so a run trained
    again is played again against all the others. None with one seed or ``crossplay_episodes = 0``."""
    if not design.crossplay:
        return []
    from train.learned import file_digest

    common = _eval_common(design, condition)
    runs = {seed: run_dir for c, seed, run_dir in design.runs(out) if c == condition}
    digests = {f"seed{seed}": file_digest(run_dir / MODEL) for seed, run_dir in runs.items()}
    episodes = design.evaluate["crossplay_episodes"]
    jobs = []
    for seed, run_dir in runs.items():
        label = f"seed{seed}"
        others = {f"seed{other}": str(path) for other, path in runs.items() if other != seed}
        deviation = {"scenario": design.scenario, "deviants": [], "episodes": episodes, "runs": others}
        key = {
            "version": EVAL_CACHE_VERSION,
            **_code_key(common),
            "crossplay": {"scenario": design.scenario, "episodes": episodes, "partner": label},
            "models_sha256": digests,
            **{k: common[k] for k in ("seed", "max_cycles", "overrides", "deterministic", "greedy")},
        }
        path = out / "evals" / condition.name / label / f"{CROSSPLAY}@{design.scenario}.json"
        jobs.append(
            {
                **common,
                "policy": "learned",
                "run_dir": str(run_dir),
                "name": f"learned_{condition.name}_s{seed}",
                "meta": _meta(condition, CROSSPLAY, seed),
                "items": [{"deviation": deviation, "path": str(path), "key": key}],
            }
        )
    return jobs


def crossplay_agent_steps(design: Design, condition: Condition) -> int:
    """:func:`evaluation_agent_steps` of a condition's whole cross-play, from the design alone (before its runs have
    models to digest)."""
    if not design.crossplay:
        return 0
    others = dict.fromkeys(f"seed{seed}" for seed in design.seeds[1:])
    deviation = {"deviants": [], "episodes": design.evaluate["crossplay_episodes"], "runs": others}
    job = {**_eval_common(design, condition), "items": [{"deviation": deviation}]}
    return evaluation_agent_steps(job) * len(design.seeds)


def evaluation_agent_steps(job: Mapping[str, Any]) -> int:
    """The agent-steps an evaluation job plays (its progress weight: an agent-step played costs a core roughly what
    one trained does, 27 against 19 us in the quick preset's report of 2026-12-05): each setting's episodes, and
    each deviation's self-play episodes and one set per deviant (scripted, or another run's learner in cross-play)
    and nation, of up to ``max_cycles`` turns of every nation."""
    episode = job["max_cycles"] * job["n_nations"]
    total = 0
    for item in job["items"]:
        if is_deviation(item):
            deviation = item["deviation"]
            deviants = len(deviation["deviants"]) + len(deviation.get("runs", ()))
            total += deviation["episodes"] * (1 + deviants * job["n_nations"]) * episode
        else:
            total += job["episodes"] * episode
    return total


def learned_agent_steps(design: Design, condition: Condition) -> int:
    """:func:`evaluation_agent_steps` of a run's whole evaluation job, from the design alone (before the run has a
    model to digest)."""
    ev = design.evaluate
    deviation = {"scenario": None, "deviants": list(ev["deviants"]), "episodes": ev["deviation_episodes"]}
    items = [{"setting": None}] * (len(design.settings) + len(sampled_settings(design)))
    items += [{"deviation": deviation}] * len(design.deviation_scenarios)
    return evaluation_agent_steps({**_eval_common(design, condition), "items": items})


def is_deviation(item: Mapping[str, Any]) -> bool:
    """Whether a job item is a run's deviations (or its cross-play) rather than an evaluation setting."""
    return "deviation" in item


def _meta(condition: Condition, policy: str, seed: int | None) -> dict[str, Any]:
    return {
        "world": condition.world,
        "condition": condition.name,
        "doctrine": condition.doctrine,
        "policy": policy,
        "seed": seed,
        "point": dict(condition.point),
    }


def pending_items(job: dict[str, Any]) -> dict[str, Any] | None:
    """``job`` reduced to its settings without a valid cache file (None if all are cached)."""
    items = [item for item in job["items"] if not _cached(Path(item["path"]), item["key"])]
    return {**job, "items": items} if items else None
