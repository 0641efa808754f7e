"""One browser replay per trained condition and evaluation setting, linked from the report: the learned nations'
most typical evaluation episode (:func:`train.replay.representative_seed`), as a self-contained page
(:mod:`agents.replay`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from train.experiment_design import Design
from train.learned import RunInfo
from train.replay import representative_seed, write_replay
from train.report import group_rows


def replay_path(condition: str, setting: str) -> str:
    """Where the replay of a condition and setting lies, relative to the experiment's folder."""
    return f"replays/{condition}/{setting.replace('@', '_in_')}.html"


def write_replays(design: Design, out: Path, rows: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], str]:
    """Write the replay of every (condition, setting) that has learned evaluation rows; returns ``{(condition,
    setting): path relative to out}``.

    The run shown is the training seed of the most typical learned episode over all seeds, and the episode is that
    run's most typical one (the same matched world as its evaluation row, played the same way: the same policy, the
    condition's overrides, the evaluation's turns, ``deterministic`` and ``greedy``)."""
    written: dict[tuple[str, str], str] = {}
    by = group_rows(rows, "condition", "policy", "setting")
    for condition in design.conditions:
        for setting in design.settings:
            learned = by.get((condition.name, "learned", setting.name), [])
            if not learned:
                continue
            seed = int(float(representative_seed(learned, seed_key="seed")))
            run_dir = out / "runs" / condition.name / f"seed{seed}"
            try:
                RunInfo.read(run_dir)
            except ValueError:  # a run the results still hold but whose folder is gone: no replay to show
                continue
            own = [row for row in learned if int(float(row["seed"])) == seed]
            relative = replay_path(condition.name, setting.name)
            write_replay(
                out / relative,
                run_dir=run_dir,
                scenario=setting.scenario,
                seed=int(float(representative_seed(own))),
                overrides=design.overrides(condition),
                max_cycles=design.eval_max_cycles,
                n_focal=setting.n_focal,
                background=setting.background,
                deterministic=bool(design.evaluate["deterministic"]),
                greedy=design.evaluate["greedy"],
            )
            written[(condition.name, setting.name)] = relative
    return written
