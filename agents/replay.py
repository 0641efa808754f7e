"""Episode replays in the browser: play one episode and write it as one self-contained HTML page.

Usage::

    python -m agents.replay --population offensive_realist:3,defensive_realist:3 --scenario islands --seed 5 \\
        --out replay.html [--log episode.json]
    python -m agents.replay --from-log episode.json --out replay.html      # a page from an existing episode log
    python -m train.replay --model runs/quick/runs/power/seed0 --out replay.html     # learned nations (train/)

The episode is the evaluation harness's matched world ``--seed`` (:mod:`agents.evaluate`: the same env seed and
policy generators as episode ``seed`` of ``python -m agents.evaluate --seed ...``), played by the population of
``--population``; the options are agents.evaluate's (``--scenario``, ``--max-cycles``, ``--set FIELD=VALUE``,
``--doctrines``). Any policy registered in ``agents.POLICIES`` may play, which is how ``train.replay`` shows
learned nations (``train.learned.register_learned`` registers them; ``agents`` never imports ``train``).

The page (``agents/replay_template.html``, filled in by :func:`replay_html`) holds the episode log
(:mod:`realism_env.episode_log`, docs/episode-log.md) and a small viewer in plain HTML, SVG and JavaScript: the map
with provinces coloured by owner, national borders, sea links, capitals and labels; wars, alliances, demands and
aid of the current turn drawn between nations; a legend with each nation's doctrine and policy; a turn slider with
play/pause and step buttons, arrow keys and a deep link (``replay.html#turn=40`` opens at turn 40); the turn's events
as a log; a chart of power shares over the episode with a cursor at the turn; hovering a nation shows its military,
wealth, provinces and arms level. It fetches nothing (its Content-Security-Policy forbids it).

Python API::

    from agents.replay import record_episode, write_replay
    document = record_episode("offensive_realist:3,defensive_realist:3", scenario="islands", seed=5)
    write_replay(document, "replay.html")
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import realism_env
from agents.episodes import Episodes
from agents.evaluate import add_episode_options
from agents.evaluation_output import check_out_path
from agents.plugins import import_plugins
from agents.population import make_plan
from realism_env import atomic_write_bytes, parse_overrides

#: Where the episode log goes in the template.
PLACEHOLDER = "__EPISODE_JSON__"


def record_episode(
    population: str | Sequence[str],
    scenario: str = "multipolar",
    seed: int = 0,
    overrides: Mapping[str, Any] | None = None,
    max_cycles: int | None = None,
    doctrines: str | Sequence[str] | None = None,
    *,
    title: str | None = None,
    meta: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Play ``population`` in the matched world ``seed`` (arguments as :func:`agents.evaluate.evaluate`'s) and
    return the episode log document (:mod:`realism_env.episode_log`). Its ``meta`` holds the title, scenario, seed,
    population spec, the episode's metrics (``realism_env.METRICS``) and ``meta``'s entries."""
    plan = make_plan(population, scenario, overrides, max_cycles, doctrines)
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed={seed!r} is invalid; valid: an integer >= 0")
    episodes = Episodes(plan)
    row = episodes.run(seed)
    info = {
        "title": title or f"{plan.spec} in {scenario}, seed {seed}",
        "scenario": scenario,
        "seed": seed,
        "population": plan.spec,
        "created_by": "agents.replay",
        "metrics": {name: row[name] for name in realism_env.METRICS},
        **dict(meta or {}),
    }
    return episodes.group.recorder.episode(policies=list(plan.policies), meta=info)


def template() -> str:
    """The viewer page with :data:`PLACEHOLDER` where the episode goes (package data of ``agents``)."""
    return resources.files("agents").joinpath("replay_template.html").read_text(encoding="utf-8")


def script_safe_json(document: Mapping[str, Any]) -> str:
    """``document`` as JSON that can stand inside a ``<script>`` element: ``<``, ``>`` and ``&`` are written as
    ``\\u003c``, ``\\u003e``, ``\\u0026`` (the same string to a JSON parser; no ``</script>`` or ``<!--`` can end or
    change the element)."""
    text = realism_env.dumps_episode(document)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def replay_html(document: Mapping[str, Any]) -> str:
    """The self-contained replay page of an episode log document (validated first)."""
    page = template()
    if page.count(PLACEHOLDER) != 1:
        raise RuntimeError(f"the replay template must hold {PLACEHOLDER} exactly once")
    return page.replace(PLACEHOLDER, script_safe_json(document))


def write_replay(document: Mapping[str, Any], out: str | os.PathLike[str]) -> Path:
    """Write the replay page of ``document`` to ``out`` (an HTML file); returns its path."""
    path = Path(out)
    atomic_write_bytes(path, replay_html(document).encode("utf-8"))
    return path


# --------------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------------

SEED_HELP = "the matched world: env and policy seed, as episode SEED of agents.evaluate (default: %(default)s)"


def build_parser(
    prog: str = "python -m agents.replay",
    scenario_default: str | None = "multipolar",
    scenario_help: str = "scenario preset (default: %(default)s)",
    max_cycles_help: str = "turns per episode (default: the scenario's, 200)",
) -> argparse.ArgumentParser:
    """The replay command line: agents.evaluate's options for the world and its nations
    (:func:`agents.evaluate.add_episode_options`, ``--population`` optional here), plus ``--out``, ``--log``,
    ``--title`` and ``--from-log``. ``train.replay`` extends it with ``--model``."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Play one episode and write it as a self-contained HTML replay (and optionally its JSON log).",
        epilog="See the docstring of agents/replay.py for the page and docs/episode-log.md for the log format.",
    )
    add_episode_options(parser, SEED_HELP, False, scenario_default, scenario_help, max_cycles_help)
    parser.add_argument("--out", required=True, metavar="PATH", help="the HTML page to write")
    parser.add_argument("--log", default=None, metavar="PATH", help="also write the episode log as JSON")
    parser.add_argument("--title", default=None, help="the page's title (default: population, scenario and seed)")
    parser.add_argument(
        "--from-log", default=None, metavar="PATH", help="make the page of an existing episode log instead of playing"
    )
    return parser


def check_out_paths(args: argparse.Namespace) -> None:
    """Raise ValueError when a file to write is a folder, or its folder does not exist, or when two options name one
    file: the page and the log would overwrite each other, and a page written over ``--from-log`` would destroy the
    log it is made of (before any episode is played)."""
    named = [(option, path) for option, path in (("--out", args.out), ("--log", args.log)) if path is not None]
    for option, path in named:
        check_out_path(option, path)
    named += [("--from-log", args.from_log)] if getattr(args, "from_log", None) is not None else []
    for k, (option, path) in enumerate(named):
        for other, other_path in named[:k]:
            if Path(path).resolve() == Path(other_path).resolve():
                raise ValueError(
                    f"{other} and {option} both name {path}: one would overwrite the other; valid: another file for "
                    f"{option if option != '--from-log' else other}"
                )


def write_outputs(document: Mapping[str, Any], args: argparse.Namespace) -> None:
    """Write the page (and the log with ``--log``) and say where; ``ValueError`` naming a file that cannot be
    written (no permission, a full disk)."""
    writes = [(args.out, write_replay)] + ([(args.log, realism_env.write_episode)] if args.log is not None else [])
    for path, write in writes:
        try:
            write(document, path)
        except OSError as error:
            raise ValueError(f"cannot write {path}: {error.strerror or error}") from None
    print(f"wrote {args.out}" + (f" and {args.log}" if args.log else "") + f" ({len(document['turns']) - 1} turns)")


def run_command(
    parser: argparse.ArgumentParser,
    argv: Sequence[str] | None,
    make_document: Callable[[argparse.Namespace], dict[str, Any]],
) -> dict[str, Any]:
    """Parse ``argv``, make the episode log document from the arguments, write the page (and the log); a
    ValueError on the way, or a file that cannot be written, exits with status 2 and a message. Returns the
    document."""
    args = parser.parse_args(argv)
    try:
        check_out_paths(args)
        document = make_document(args)
        write_outputs(document, args)
    except ValueError as error:
        parser.error(str(error))
    return document


#: The options that choose the episode to play (their ``args`` names), which a replay of a log file cannot change.
EPISODE_OPTIONS = {
    "--population": "population",
    "--scenario": "scenario",
    "--seed": "seed",
    "--max-cycles": "max_cycles",
    "--set": "overrides",
    "--doctrines": "doctrines",
}


def _document(args: argparse.Namespace) -> dict[str, Any]:
    """The episode of the command line: read with ``--from-log``, else played."""
    if args.from_log is not None:
        parser = build_parser()
        given = [option for option, name in EPISODE_OPTIONS.items() if getattr(args, name) != parser.get_default(name)]
        if given:
            raise ValueError(f"--from-log replays a file as it was played: give it without {', '.join(given)}")
        try:
            document = realism_env.read_episode(args.from_log)
        except OSError as error:
            raise ValueError(f"--from-log {args.from_log!r}: {error.strerror or error}") from None
        if args.title:
            document["meta"]["title"] = args.title
        return document
    if args.population is None:
        raise ValueError("give --population (or --from-log)")
    overrides = parse_overrides(args.overrides)
    options = {"overrides": overrides, "max_cycles": args.max_cycles, "doctrines": args.doctrines}
    return record_episode(args.population, args.scenario, args.seed, **options, title=args.title)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """The command line; returns the episode log document. Bad arguments exit with status 2 and a message."""
    import_plugins(argv, "python -m agents.replay")
    return run_command(build_parser(), argv, _document)


if __name__ == "__main__":
    main()
