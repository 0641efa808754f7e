"""Replays of learned nations: the browser replay of :mod:`agents.replay`, played by a training run's policy.

Usage::

    python -m train.replay --model runs/quick/runs/power/seed0 --seed 0 --out replay.html
    python -m train.replay --model RUN_DIR --focal 3 --background offensive_realist --scenario bipolar --out f.html

``--model RUN_DIR`` is a finished run of ``train.fast_ppo`` or ``train.ppo`` (``config.json`` and its model). Its
nations play as in evaluation (:func:`train.learned.learned_population`): every nation in self-play, or the first
``--focal K`` among ``--background`` scripted nations. The world is ``--scenario`` (default: the run's training
scenario) with the run's own training overrides (its ``--set`` and ``--max-cycles``), then this command's
``--max-cycles`` and ``--set`` on top. The other options are ``agents.replay``'s (the same parser), but for
``--population``, ``--doctrines`` and ``--from-log`` (:data:`NOT_WITH_MODEL`): the run chooses its nations and their
doctrines, and plays the episode; its help leaves them out, and each is refused by name. Learned nations play their
greedy choice (``--greedy``: ``act_then_target``, the default, or ``flat``; :data:`train.learned.GREEDY_CHOICES`)
unless ``--sample``.

This lives in ``train/`` because loading models is train/'s business: ``agents`` never imports ``train``. Learned
policies reach ``agents.replay`` the documented way, as names registered in ``agents.POLICIES``
(:func:`train.learned.register_learned`).

For the experiment's report, one replay per condition and setting::

    from train.replay import representative_seed, write_replay
    seed = representative_seed(rows)   # rows of one condition and setting: the episode nearest their medians
    write_replay("replays/power/selfplay_in_multipolar.html", run_dir=run_dir, scenario=setting.scenario,
                 seed=seed, overrides=overrides, max_cycles=max_cycles, n_focal=setting.n_focal,
                 background=setting.background)
"""

from __future__ import annotations

import argparse
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from agents.plugins import import_plugins
from agents.replay import build_parser as replay_parser
from agents.replay import record_episode, run_command
from agents.replay import write_replay as write_replay_page
from realism_env import parse_override, parse_overrides, write_episode
from train.learned import GREEDY_CHOICES, RunInfo, learned_population

#: ``agents.replay``'s options that ``--model`` does not take (their ``args`` names): the run's nations play under
#: their doctrines, in an episode played here (not read from a log). Left out of the help, and refused by name.
NOT_WITH_MODEL = {"--population": "population", "--doctrines": "doctrines", "--from-log": "from_log"}

#: Episode metrics that say what kind of episode it was (war, concentration of power, survival, alliances).
REPRESENTATIVE_METRICS = ("war_onsets", "final_hhi", "surviving_nations", "alliances_formed")


def run_overrides(run_dir: str | Path) -> tuple[dict[str, Any], int | None]:
    """(EnvConfig overrides, max_cycles) that the run was trained with: its ``--set`` and ``--max-cycles`` (or a
    ``--set max_cycles``: the episode length is returned apart, so that a replay's own length replaces it)."""
    args = json.loads((Path(run_dir) / "config.json").read_text())["args"]
    overrides = dict(parse_override(item) for item in args.get("set") or ())
    overrides.pop("doctrines", None)
    set_cycles = overrides.pop("max_cycles", None)
    return overrides, args.get("max_cycles") if args.get("max_cycles") is not None else set_cycles


def learned_episode(
    run_dir: str | Path,
    scenario: str | None = None,
    seed: int = 0,
    overrides: Mapping[str, Any] | None = None,
    max_cycles: int | None = None,
    *,
    n_focal: int | None = None,
    background: str | None = None,
    deterministic: bool = True,
    title: str | None = None,
    meta: Mapping[str, Any] | None = None,
    greedy: str = "act_then_target",
) -> dict[str, Any]:
    """The episode log document of the run's nations in the matched world ``seed`` (see the module docstring for
    how the world is made). The world has the run's nation count: a model takes that count's observations only."""
    info = RunInfo.read(run_dir)
    scenario = scenario or info.scenario
    trained, trained_cycles = run_overrides(run_dir)
    fields = {**trained, **dict(overrides or {})}
    # The episode length given here, as max_cycles or as an override (``--set max_cycles``), replaces the run's.
    given_cycles = max_cycles is not None or "max_cycles" in dict(overrides or {})
    cycles = max_cycles if given_cycles else trained_cycles
    policies, doctrines = learned_population(run_dir, None, n_focal, background, deterministic, greedy=greedy)
    setting = "self-play" if n_focal is None else f"{n_focal} focal vs {background}"
    return record_episode(
        policies,
        scenario,
        seed,
        fields,
        cycles,
        doctrines,
        title=title or f"{Path(run_dir).name} ({info.doctrine}), {setting} in {scenario}, seed {seed}",
        meta={
            "created_by": "train.replay",
            "run_dir": str(run_dir),
            "setting": setting,
            "choice": greedy if deterministic else "sampled",  # how the learned nations chose their actions
            **dict(meta or {}),
        },
    )


def write_replay(
    out: str | os.PathLike[str],
    *,
    run_dir: str | Path | None = None,
    policies: Sequence[str] | None = None,
    doctrines: Sequence[str] | None = None,
    log: str | os.PathLike[str] | None = None,
    **episode: Any,
) -> Path:
    """Play one episode and write its replay page to ``out`` (and its episode log to ``log``); returns ``out``.

    Either ``run_dir``, a training run played as :func:`learned_episode` plays it (``episode``: its ``scenario``,
    ``seed``, ``overrides``, ``max_cycles``, ``n_focal``, ``background``, ``deterministic``,
    ``greedy``, ``title``, ``meta``), or ``policies``, one registered policy name per nation
    (:func:`train.learned.learned_population`'s, or a scripted baseline's) with their ``doctrines``, played by
    :func:`agents.replay.record_episode` (``episode``: ``scenario``, default multipolar, ``seed``, ``overrides``,
    ``max_cycles``, ``title``, ``meta``). The episode is the matched world ``seed``: episode ``seed`` of the evaluation
    rows of the same population and world (:func:`representative_seed` picks a typical one)."""
    if (run_dir is None) == (policies is None):
        raise ValueError("write_replay needs exactly one of run_dir (a training run) and policies (one per nation)")
    if run_dir is not None:
        document = learned_episode(run_dir, **episode)
    else:
        scenario = episode.pop("scenario", None) or "multipolar"
        document = record_episode(list(policies), scenario, doctrines=doctrines, **episode)
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_replay_page(document, path)
    if log is not None:
        write_episode(document, log)
    return path


def representative_seed(
    rows: Sequence[Mapping[str, Any]],
    metrics: Sequence[str] = REPRESENTATIVE_METRICS,
    seed_key: str = "episode_seed",
) -> int:
    """The seed of the episode nearest the typical one: the smallest sum over ``metrics`` of the distance to the
    rows' median, each metric scaled by its spread (interquartile range, or 1 where it is 0); metrics missing or
    NaN in a row count as typical. Ties go to the first row. ``rows`` are evaluation rows
    (:func:`train.learned.play`'s, with ``episode_seed``; agents.evaluate's have ``seed``: pass ``seed_key``)."""
    if not rows:
        raise ValueError("representative_seed needs at least one row")
    distance = np.zeros(len(rows))
    for name in metrics:
        values = np.array([_number(row.get(name)) for row in rows], dtype=np.float64)
        finite = np.isfinite(values)
        if not finite.any():
            continue
        median = float(np.median(values[finite]))
        q1, q3 = np.percentile(values[finite], [25, 75])
        spread = float(q3 - q1) or 1.0
        distance += np.where(finite, np.abs(values - median) / spread, 0.0)
    return int(rows[int(np.argmin(distance))][seed_key])


def _number(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number


# --------------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """agents.replay's command line, with ``--model`` and the focal options."""
    parser = replay_parser(
        "python -m train.replay",
        None,
        "scenario preset (default: the run's training scenario)",
        "turns per episode (default: the length of the run's training episodes)",
    )
    parser.description = "Play one episode of a training run's nations and write it as a self-contained HTML replay."
    for action in parser._actions:
        if set(action.option_strings) & NOT_WITH_MODEL.keys():  # accepted only to be refused by name
            action.help = argparse.SUPPRESS
        elif action.dest == "title":
            action.help = "the page's title (default: the run, its doctrine, the setting, the scenario and the seed)"
    parser.add_argument("--model", required=True, metavar="RUN_DIR", help="a finished train.fast_ppo/train.ppo run")
    parser.add_argument(
        "--focal", type=int, default=None, metavar="K", help="learned nations 0..K-1 among --background (default: all)"
    )
    parser.add_argument("--background", default=None, metavar="POLICY", help="the scripted policy of the others")
    parser.add_argument(
        "--sample", action="store_true", help="learned nations sample actions instead of the greedy choice"
    )
    parser.add_argument(
        "--greedy",
        choices=GREEDY_CHOICES,
        default="act_then_target",
        help="the greedy choice: the most likely arms level and act, then its most likely target (act_then_target), "
        "or the most likely single action (flat)",
    )
    return parser


def _document(args: argparse.Namespace) -> dict[str, Any]:
    given = [flag for flag, name in NOT_WITH_MODEL.items() if getattr(args, name) is not None]
    if given:
        raise ValueError(
            f"{' and '.join(given)} {'is' if len(given) == 1 else 'are'} not taken with --model, which plays the "
            "run's nations under their doctrines; valid: --focal K and --background POLICY to put scripted nations "
            "beside them, or python -m agents.replay for a population or a log of your own"
        )
    return learned_episode(
        args.model,
        args.scenario,
        args.seed,
        parse_overrides(args.overrides),
        args.max_cycles,
        n_focal=args.focal,
        background=args.background,
        deterministic=not args.sample,
        greedy=args.greedy,
        title=args.title,
    )


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """The command line; returns the episode log document. Bad arguments exit with status 2 and a message."""
    import_plugins(argv, "python -m train.replay")
    return run_command(build_parser(), argv, _document)


if __name__ == "__main__":
    main()
