"""One browser replay per trained condition and evaluation setting, linked from the report: the learned nations'
most typical evaluation episode (:func:`train.replay.representative_seed`), as a self-contained page
(:mod:`agents.replay`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from train.experiment_design import Design
from train.experiment_jobs import SAMPLED, sampled_name, sampled_strategy
from train.learned import RunInfo
from train.replay import representative_seed, write_replay
from train.report import group_rows


def replay_path(condition: str, setting: str) -> str:
    """Where the replay of a condition and setting lies, relative to the experiment's folder (the sampled self-play,
    :func:`~train.experiment_jobs.sampled_name`: ``<setting's file>_sampled.html``)."""
    suffix = sampled_name("")
    sampled = setting.endswith(suffix)
    base = setting.removesuffix(suffix).replace("@", "_in_")
    return f"replays/{condition}/{base}{'_sampled' if sampled else ''}.html"


def write_replays(design: Design, out: Path, rows: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], str]:
    """Write the replay of every (condition, setting) that has learned evaluation rows, and of the self-play in the
    training scenario that samples (``[evaluate] sampled_strategy``; its setting named ``<setting>@sampled``);
    returns ``{(condition, setting): path relative to out}``.

    The run shown is the training seed of the most typical learned episode over all seeds, and the episode is that
    run's most typical one (the same matched world as its evaluation row, played the same way: the same policy, the
    condition's overrides, the evaluation's turns, ``deterministic`` and ``greedy``; a sampled episode draws what
    its evaluation row drew, the draws being seeded by the episode)."""
    written: dict[tuple[str, str], str] = {}
    by = group_rows(rows, "condition", "policy", "setting")
    deterministic = bool(design.evaluate["deterministic"])
    shown = [(setting.name, "learned", setting, deterministic) for setting in design.settings]
    if sampled_strategy(design):
        training = design.training_setting
        shown.append((sampled_name(training.name), SAMPLED, training, False))
    for condition in design.conditions:
        for name, policy, setting, chooses in shown:
            learned = by.get((condition.name, policy, setting.name), [])
            if not learned:
                continue
            seed = int(float(representative_seed(learned, seed_key="seed")))
            run_dir = out / "runs" / condition.name / f"seed{seed}"
            try:
                RunInfo.read(run_dir)
            except ValueError:  # a run the results still hold but whose folder is gone: no replay to show
                continue
            own = [row for row in learned if int(float(row["seed"])) == seed]
            relative = replay_path(condition.name, name)
            write_replay(
                out / relative,
                run_dir=run_dir,
                scenario=setting.scenario,
                seed=int(float(representative_seed(own))),
                overrides=design.overrides(condition),
                max_cycles=design.eval_max_cycles,
                n_focal=setting.n_focal,
                background=setting.background,
                deterministic=chooses,
                greedy=design.evaluate["greedy"],
            )
            written[(condition.name, name)] = relative
    return written
