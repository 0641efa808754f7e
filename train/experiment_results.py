"""The experiment's results: the cached evaluations collected into one row per evaluated episode, ``results.csv``
(written atomically; its columns), the runs' deviations into ``deviations.csv`` (:mod:`train.deviation`), their
cross-play into ``crossplay.csv`` (:mod:`train.crossplay`), and :func:`finish`, which writes them and, when what they
show has changed, report.md with its plots (:mod:`train.report`)."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import realism_env
from realism_env import METRICS, NATION_METRICS, EnvConfig
from train.checkpoint import atomic_write_bytes, atomic_write_json, read_json
from train.crossplay import MEASURES as CROSSPLAY_MEASURES
from train.crossplay import crossplay_cells
from train.deviation import MEASURES, deviation_gains, episode_means, place_gains, returns_from_json
from train.experiment_design import Design
from train.experiment_jobs import baseline_jobs, crossplay_jobs, is_deviation, learned_job, report_fingerprint
from train.strategy import strategy_columns

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
        *strategy_columns(n_levels),  # filled in the training scenario's settings
    ]


def collect(design: Design, out: Path) -> tuple[list[dict[str, Any]], dict[tuple[str, str, Any], Any]]:
    """Every evaluated episode as a results.csv row (dict), and the power-share traces by (condition, policy, seed)."""
    rows: list[dict[str, Any]] = []
    traces: dict[tuple[str, str, Any], Any] = {}
    settings = {s.name: s for s in design.settings}
    jobs = baseline_jobs(design, out) + [learned_job(design, out, c, s, d) for c, s, d in design.runs(out)]
    for job in jobs:
        for item in job["items"]:
            if is_deviation(item):
                continue
            record = _record(item)
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


def _record(item: Mapping[str, Any]) -> dict[str, Any]:
    """The cached record of a job item; a ``RuntimeError`` when it is missing or stale."""
    record = read_json(Path(item["path"]))
    if record is None or record.get("key") != json.loads(json.dumps(item["key"])):
        raise RuntimeError(f"evaluation {item['path']} is missing or stale; rerun the experiment")
    return record


#: The columns of deviations.csv: one row per run, scenario and deviant (train.deviation's measures, means over the
#: episodes and the nations that deviated in turn), then the gain in each nation's place (``gain@nation_<k>``, the
#: mean over the episodes; :func:`place_columns`).
DEVIATION_COLUMNS = ("world", "condition", "doctrine", "seed", "scenario", "heldout", "deviant", *MEASURES)


def collect_deviations(design: Design, out: Path) -> list[dict[str, Any]]:
    """Every run's deviations (``[evaluate] deviants``) as deviations.csv rows (dicts)."""
    rows = []
    for condition, seed, run_dir in design.runs(out):
        for item in learned_job(design, out, condition, seed, run_dir)["items"]:
            if not is_deviation(item):
                continue
            returns = returns_from_json(_record(item))
            scenario = item["deviation"]["scenario"]
            places = place_gains(returns)
            for name, means in episode_means(deviation_gains(returns)).items():
                rows.append(
                    {
                        "world": condition.world,
                        "condition": condition.name,
                        "doctrine": condition.doctrine,
                        "seed": seed,
                        "scenario": scenario,
                        "heldout": int(scenario != design.scenario),
                        "deviant": name,
                        **means,
                        **{f"gain@nation_{k}": gain for k, gain in places[name].items()},
                    }
                )
    return rows


#: The columns of crossplay.csv: one row per condition, focal seed and partner seed (train.crossplay's measures,
#: means over the episodes and the places the focal nation took in turn), then the gain in each nation's place
#: (``gain@nation_<k>``, the mean over the episodes).
CROSSPLAY_COLUMNS = ("world", "condition", "doctrine", "seed", "partner_seed", "scenario", *CROSSPLAY_MEASURES)


def collect_crossplay(design: Design, out: Path) -> list[dict[str, Any]]:
    """Every condition's cross-play between its seeds (``[evaluate] crossplay_episodes``) as crossplay.csv rows."""
    rows = []
    for condition in design.conditions:
        for job in crossplay_jobs(design, out, condition):
            item = job["items"][0]
            returns = returns_from_json(_record(item))
            cells = crossplay_cells(f"seed{job['meta']['seed']}", returns)
            for (focal, partner), cell in cells.items():
                rows.append(
                    {
                        "world": condition.world,
                        "condition": condition.name,
                        "doctrine": condition.doctrine,
                        "seed": int(focal.removeprefix("seed")),
                        "partner_seed": int(partner.removeprefix("seed")),
                        "scenario": item["deviation"]["scenario"],
                        **cell,
                    }
                )
    return rows


def place_columns(leading: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """``leading``, then ``gain@nation_<k>`` for every nation any row has (deviations.csv's and crossplay.csv's)."""
    places = sorted({int(key.split("_")[-1]) for row in rows for key in row if key.startswith("gain@nation_")})
    return [*leading, *(f"gain@nation_{k}" for k in places)]


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


def finish(design: Design, out: Path, invocations: Sequence[Mapping[str, Any]], command: str) -> tuple[Path, bool]:
    """Collect the evaluations into results.csv and write report.md with its plots; returns the report's path and
    whether it was written (it is kept as it is when nothing it shows, nor the code that writes it, has changed since
    it was written)."""
    import hashlib

    from train.experiment_replays import write_replays
    from train.report import write_report

    rows, traces = collect(design, out)
    write_csv(out / "results.csv", rows, result_columns(design))
    deviations = collect_deviations(design, out)
    if deviations:
        write_csv(out / "deviations.csv", deviations, place_columns(DEVIATION_COLUMNS, deviations))
    else:  # a preset without deviants: no table left over from one with them
        (out / "deviations.csv").unlink(missing_ok=True)
    crossplay = collect_crossplay(design, out)
    if crossplay:
        write_csv(out / "crossplay.csv", crossplay, place_columns(CROSSPLAY_COLUMNS, crossplay))
    else:
        (out / "crossplay.csv").unlink(missing_ok=True)
    runs = {}
    for condition in design.conditions:
        for seed in design.seeds:
            metrics = read_json(out / "runs" / condition.name / f"seed{seed}" / "metrics.json")
            runs[(condition.name, seed)] = metrics or {}
    work = [i for i in invocations if i.get("trained") or i.get("evaluated")]
    inputs = json.dumps(
        [design.preset(), [runs[k] for k in sorted(runs)], work, command, report_fingerprint()],
        sort_keys=True,
        default=str,
    ).encode()
    tables = ("results.csv", "deviations.csv", "crossplay.csv")
    results = [(out / name).read_bytes() for name in tables if (out / name).is_file()]
    digest = hashlib.sha256(b"".join(results) + inputs).hexdigest()
    stamp = read_json(out / ".report.json") or {}
    path = out / "report.md"
    if stamp.get("digest") == digest and path.is_file() and all((out / p).is_file() for p in stamp.get("files", [])):
        return path, False
    timing = {
        "invocations": len(work),
        "wall_time_s": sum(i["wall_time_s"] for i in work),
        "last": work[-1] if work else (invocations[-1] if invocations else {}),
    }
    units = {name: metric.unit for name, metric in METRICS.items()}
    replays = write_replays(design, out, rows)
    path = write_report(design, out, rows, traces, runs, timing, command, units, replays, deviations, crossplay)
    files = [str(p.relative_to(out)) for p in sorted((out / "plots").glob("*.png"))] + sorted(replays.values())
    atomic_write_json(out / ".report.json", {"digest": digest, "files": files})
    return path, True
