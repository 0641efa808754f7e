"""The episode log: one episode as a documented, versioned JSON document, for replays and other tools.

Written from an :class:`~realism_env.EpisodeRecorder` (which records the env's public state and
``env.last_events``), read back with validation::

    recorder = realism_env.EpisodeRecorder(env.config)
    env.reset(seed=5)
    recorder.start(env.world)
    while env.agents:
        env.step(actions)
        recorder.record(env.world, env.last_events)
    document = recorder.episode(policies=["offensive_realist"] * 6, meta={"scenario": "islands", "seed": 5})
    realism_env.write_episode(document, "episode.json")
    document = realism_env.read_episode("episode.json")  # EpisodeLogError (a ValueError) on a malformed file

``python -m agents.replay ... --log episode.json`` writes one too. The format, version 1 (docs/episode-log.md has
the same with an example). Nations and provinces are referred to by index; map coordinates are rounded to 6
decimals, the turns' numbers to 6 significant digits (``meta`` is kept as given); numbers are strict JSON (no NaN)::

    {"format": "realism_env.episode", "version": 1, "env": "realism_v2",
     "meta": {...},              # free-form: scenario, seed, population, title, metrics, ... (may be empty)
     "config": {...},            # every EnvConfig field (tuples as lists)
     "nations": [{"id": "nation_0", "name": display name, "doctrine": "power", "policy": "offensive_realist" | null,
                  "colour": "#e69f00", "capital": province index (its anchor at turn 0)}, ...],          # N entries
     "map": {"provinces": [[x, y], ...],   # P cell centres in the unit square, x right, y down
             "cell": [width, height],      # a province's cell
             "land_links": [[a, b], ...],  # provinces sharing a land border, a < b
             "land_borders": [[x0, y0, x1, y1], ...],  # the edge between the cells of each land link, same order
             "sea_links": [[a, b], ...]},  # provinces linked across the sea only, a < b
     "turns": [                    # T + 1 entries: turn 0 is the world after reset, turn t the world after turn t
        {"turn": t,
         "owner": [P ints],        # the nation holding each province
         "anchor": [N ints],       # province where each nation is labelled (nearest its territory's centre), -1 dead
         "alive": [N bools], "military": [N], "wealth": [N] (yearly income), "provinces": [N ints],
         "arms_level": [N ints] (index into config.arms_shares), "share": [N] (power share of the live nations),
         "wars": [[i, j], ...] (i < j), "alliances": [[i, j], ...] (i < j), "demands": [[i, j], ...] (i demands of j),
         "aid": [[i, j, amount], ...] (sent during the turn),
         "acts": [["attack", j] | ["wait", null] | null, ...],  # the act each nation played (null: not alive)
         "events": [{"kind": an EVENT_KINDS name, "actor": i, "target": j | null, "value": number | [a, b],
                     "text": "France declared war on Germany"}, ...]},   # what happened during the turn
        ...]}

Turn 0 has no acts, aid or events. Versions: a reader accepts its own :data:`VERSION` and older ones it knows; a
newer file raises :class:`EpisodeLogError` naming both versions. Version history: 1, the first.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from realism_env.actions import Act
from realism_env.config import EnvConfig
from realism_env.events import Events, event_records
from realism_env.files import atomic_write_bytes
from realism_env.geometry import MapGeometry, nation_anchors

if TYPE_CHECKING:
    from realism_env.metrics import EpisodeLog

#: The ``format`` field of every episode log.
FORMAT = "realism_env.episode"
#: The version this module writes (and the newest it reads).
VERSION = 1
#: Versions this module reads.
READABLE_VERSIONS = (1,)

_NATION_SERIES = ("alive", "military", "wealth", "provinces", "arms_level", "share", "anchor")

#: How each event kind reads; ``{a}`` is the actor, ``{b}`` the target, ``{v}`` the value.
EVENT_TEXT: dict[str, str] = {
    "war_declared": "{a} declared war on {b}",
    "battle": "{a} and {b} fought ({a} lost {v0:.2f}, {b} lost {v1:.2f})",
    "province_taken": "{a} took {n} from {b}",
    "wealth_destroyed": "{a} lost {v:.2f} wealth to war",
    "alliance_proposed": "{a} proposed an alliance to {b}",
    "alliance_formed": "{a} and {b} formed an alliance",
    "alliance_left": "{a} left its alliance with {b}",
    "demand_made": "{a} demanded a province of {b}",
    "concession": "{a} gave in to {b}'s demand and ceded a province",
    "threat_enforced": "{a} went to war over the demand {b} refused",
    "bluff_called": "{a}'s demand on {b} lapsed without war",
    "aid": "{a} sent {v:.2f} military aid to {b}",
    "peace": "{a} and {b} made peace",
    "eliminated": "{a} was eliminated",
    "invalid_action": "{a} chose an act the rules did not allow, played as WAIT",
}


class EpisodeLogError(ValueError):
    """A file or document that is not a valid episode log of a version this package reads."""


def _round(x: float) -> float:
    return float(f"{x:.6g}")


def _floats(values: np.ndarray) -> list[float]:
    return [_round(x) for x in np.asarray(values, dtype=np.float64).tolist()]


def _coordinates(values: np.ndarray) -> list[float]:
    """Map coordinates in the unit square, to 6 decimals."""
    return [round(x, 6) + 0.0 for x in np.asarray(values, dtype=np.float64).tolist()]


def _pairs(matrix: np.ndarray, symmetric: bool) -> list[list[int]]:
    m = np.triu(matrix, 1) if symmetric else matrix
    return np.argwhere(m).tolist()


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON types: mappings as dicts with string keys, tuples as lists, numpy scalars and arrays
    as Python values, NaN and infinities as None (for ``json.dumps(..., allow_nan=False)``)."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        return jsonable(value.item())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return value


def event_text(record: Mapping[str, Any], names: Sequence[str]) -> str:
    """A readable sentence for an event record of :func:`realism_env.events.event_records` (actor and target as
    nation indices)."""
    kind, value = str(record["kind"]), record["value"]
    a = names[record["actor"]]
    b = names[record["target"]] if record["target"] is not None else ""
    template = EVENT_TEXT.get(kind)
    if template is None:  # a kind added after this module: still readable
        return f"{kind.replace('_', ' ')}: {a}" + (f" -> {b}" if b else "")
    if isinstance(value, (list, tuple)):
        v0, v1 = value
        return template.format(a=a, b=b, v0=v0, v1=v1, v=v0, n="")
    count = int(round(value))
    return template.format(a=a, b=b, v=value, v0=value, v1=0.0, n="a province" if count == 1 else f"{count} provinces")


def _act(act: int, target: int) -> list[Any]:
    """``[name, target]`` of an act played; WAIT has no target."""
    return ["wait", None] if act == Act.WAIT else [Act(act).name.lower(), target]


def _turn_events(events: Events, world_index: int, t: int, names: Sequence[str]) -> list[dict[str, Any]]:
    """The readable records of what happened in turn ``t + 1`` (index ``t`` of the log's per-turn arrays)."""
    one_turn = Events(*(np.asarray(e)[world_index : world_index + 1, t] for e in events))
    records = event_records(one_turn, 0, tuple(range(len(names))))
    out = []
    for record in records:
        value = record["value"]
        value = _floats(np.asarray(value)) if isinstance(value, tuple) else _round(float(value))
        out.append({**record, "value": value, "text": event_text({**record, "value": value}, names)})
    return out


def episode_document(
    log: EpisodeLog,
    geometry: MapGeometry,
    config: EnvConfig,
    *,
    world_index: int = 0,
    policies: Sequence[str | None] | None = None,
    meta: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The episode log document (version :data:`VERSION`) of world ``world_index`` of ``log`` on the map
    ``geometry`` (:func:`realism_env.geometry.map_geometry` of that world's map). ``policies``: what plays each
    nation (a label such as a policy name, or None); ``meta``: free-form information kept as given (made JSON-able).
    :meth:`realism_env.EpisodeRecorder.episode` calls this with the map it recorded."""
    from realism_env.env import NAME
    from realism_env.render import nation_colours  # lazily, as the env imports render

    n = log.n_nations
    names = config.display_names()
    if policies is not None and len(policies) != n:
        raise ValueError(f"policies names {len(policies)} nations; valid: one label per nation ({n})")
    w = world_index
    centres = geometry.centres
    owners = np.asarray(log.owner[w])
    if owners.shape[1] != centres.shape[0]:
        raise ValueError(f"the map has {centres.shape[0]} provinces but the log's worlds have {owners.shape[1]}")
    anchors = [nation_anchors(owner, centres, n) for owner in owners]
    colours = nation_colours(n)
    nations = [
        {
            "id": f"nation_{i}",
            "name": names[i],
            "doctrine": log.doctrines[i],
            "policy": None if policies is None or policies[i] is None else str(policies[i]),
            "colour": colours[i],
            "capital": int(anchors[0][i]),
        }
        for i in range(n)
    ]
    turns = []
    for t in range(log.n_turns + 1):
        alive = log.alive[w, t]
        turn: dict[str, Any] = {
            "turn": int(log.turn[w, t]),
            "owner": owners[t].tolist(),
            "anchor": anchors[t].tolist(),
            "alive": alive.tolist(),
            "military": _floats(log.military[w, t]),
            "wealth": _floats(log.income[w, t]),
            "provinces": log.provinces[w, t].tolist(),
            "arms_level": log.arms_level[w, t].tolist(),
            "share": _floats(log.shares[w, t]),
            "wars": _pairs(log.at_war[w, t], True),
            "alliances": _pairs(log.allied[w, t], True),
            "demands": _pairs(log.demand[w, t], False),
            "aid": [],
            "acts": [None] * n,
            "events": [],
        }
        if t > 0:
            aid = np.asarray(log.events.aid[w, t - 1])
            turn["aid"] = [[int(i), int(j), _round(aid[i, j])] for i, j in np.argwhere(aid > 0)]
            began_alive = log.alive[w, t - 1]
            turn["acts"] = [
                _act(int(log.act[w, t - 1, i]), int(log.target[w, t - 1, i])) if began_alive[i] else None
                for i in range(n)
            ]
            turn["events"] = _turn_events(log.events, w, t - 1, names)
        turns.append(turn)
    return {
        "format": FORMAT,
        "version": VERSION,
        "env": NAME,
        "meta": jsonable(dict(meta or {})),
        "config": jsonable(config.to_dict()),
        "nations": nations,
        "map": {
            "provinces": [_coordinates(xy) for xy in centres],
            "cell": _coordinates(np.asarray(geometry.cell)),
            "land_links": geometry.land_pairs.tolist(),
            "land_borders": [_coordinates(segment) for segment in geometry.land_borders],
            "sea_links": geometry.sea_pairs.tolist(),
        },
        "turns": turns,
    }


# --------------------------------------------------------------------------------------------------
# Reading and writing
# --------------------------------------------------------------------------------------------------


def _require(condition: bool, where: str, problem: str) -> None:
    if not condition:
        raise EpisodeLogError(f"{where}: {problem}")


def _check_list(value: Any, where: str, length: int | None = None) -> list:
    _require(isinstance(value, list), where, f"expected a list, got {type(value).__name__}")
    if length is not None:
        _require(len(value) == length, where, f"expected {length} entries, got {len(value)}")
    return value


def _is_index(value: Any, low: int, high: int) -> bool:
    """Whether ``value`` is an int (not a bool) in ``low..high``."""
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _is_number(value: Any) -> bool:
    """Whether ``value`` is a finite JSON number (not a bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_values(values: list, where: str, valid: Any, expected: str) -> None:
    """Each of ``values`` passes ``valid``; else an error naming the first that does not."""
    for k, value in enumerate(values):
        _require(valid(value), f"{where}[{k}]", f"expected {expected}, got {value!r}")


def _check_indices(pairs: Any, where: str, bound: int, width: int = 2) -> None:
    for k, pair in enumerate(_check_list(pairs, where)):
        _check_list(pair, f"{where}[{k}]", width)
        ok = all(isinstance(x, int) and not isinstance(x, bool) and 0 <= x < bound for x in pair[:2])
        _require(ok, f"{where}[{k}]", f"expected two indices in 0..{bound - 1}, got {pair[:2]}")


def validate_episode(document: Any, source: str = "episode log") -> dict[str, Any]:
    """``document`` if it is a valid episode log of a readable version; raises :class:`EpisodeLogError` naming the
    first problem (``source`` names the file in the message)."""
    _require(isinstance(document, dict), source, "expected a JSON object at the top level")
    _require(
        document.get("format") == FORMAT,
        source,
        f"format is {document.get('format')!r}; expected {FORMAT!r} (not a realism_env episode log)",
    )
    version = document.get("version")
    _require(isinstance(version, int) and not isinstance(version, bool), source, f"version {version!r} is not a number")
    if version > VERSION:
        raise EpisodeLogError(
            f"{source}: written in episode log version {version}, newer than this realism_env reads "
            f"(versions {', '.join(map(str, READABLE_VERSIONS))}); upgrade realism_env"
        )
    _require(version in READABLE_VERSIONS, source, f"version {version} is unknown; readable: {READABLE_VERSIONS}")
    for key in ("meta", "config", "nations", "map", "turns"):
        _require(key in document, source, f"the field {key!r} is missing")
    _require(isinstance(document["meta"], dict), f"{source}: meta", "expected an object")
    nations = _check_list(document["nations"], f"{source}: nations")
    n = len(nations)
    _require(n >= 1, f"{source}: nations", "expected at least one nation")
    for i, nation in enumerate(nations):
        for key in ("id", "name", "doctrine", "policy", "colour", "capital"):
            _require(isinstance(nation, dict) and key in nation, f"{source}: nations[{i}]", f"{key!r} is missing")
    world_map = document["map"]
    _require(isinstance(world_map, dict), f"{source}: map", "expected an object")
    for key in ("provinces", "cell", "land_links", "land_borders", "sea_links"):
        _require(key in world_map, f"{source}: map", f"{key!r} is missing")
    provinces = _check_list(world_map["provinces"], f"{source}: map.provinces")
    p = len(provinces)
    for k, xy in enumerate(provinces):
        _check_list(xy, f"{source}: map.provinces[{k}]", 2)
    _check_list(world_map["cell"], f"{source}: map.cell", 2)
    _check_indices(world_map["land_links"], f"{source}: map.land_links", p)
    _check_list(world_map["land_borders"], f"{source}: map.land_borders", len(world_map["land_links"]))
    _check_indices(world_map["sea_links"], f"{source}: map.sea_links", p)
    # Every index the page draws from is checked here: a bad one would stop the page's drawing, not its reading.
    for i, nation in enumerate(nations):
        capital = nation["capital"]
        _require(
            _is_index(capital, -1, p - 1), f"{source}: nations[{i}].capital", f"expected -1..{p - 1}, got {capital!r}"
        )
    turns = _check_list(document["turns"], f"{source}: turns")
    _require(len(turns) >= 1, f"{source}: turns", "expected at least the turn after reset")
    for t, turn in enumerate(turns):
        _check_turn(turn, t, turns[0], f"{source}: turns[{t}]", n, p)
    return document


def _check_turn(turn: Any, t: int, first: Any, where: str, n: int, p: int) -> None:
    """Turn ``t`` of a document of ``n`` nations and ``p`` provinces (``first``: its turn 0)."""
    _require(isinstance(turn, dict), where, "expected an object")
    for key in ("turn", "owner", *_NATION_SERIES, "wars", "alliances", "demands", "aid", "acts", "events"):
        _require(key in turn, where, f"{key!r} is missing")
    start = first["turn"]
    _require(_is_index(start, 0, math.inf), f"{where}.turn", f"expected a turn number, got {start!r}")
    # One episode: the turn numbers count up by one (a batched world's record that ran past its end would restart).
    _require(turn["turn"] == start + t, f"{where}.turn", f"expected {start + t}, got {turn['turn']!r}")
    nation_index, province_index = f"an index in 0..{n - 1}", f"an index in -1..{p - 1} (-1: no province)"
    _check_values(
        _check_list(turn["owner"], f"{where}.owner", p),
        f"{where}.owner",
        lambda o: _is_index(o, 0, n - 1),
        nation_index,
    )
    series = {key: _check_list(turn[key], f"{where}.{key}", n) for key in _NATION_SERIES}
    _check_values(series["anchor"], f"{where}.anchor", lambda a: _is_index(a, -1, p - 1), province_index)
    _check_values(series["alive"], f"{where}.alive", lambda a: isinstance(a, bool), "true or false")
    for key in ("military", "wealth", "share"):
        _check_values(series[key], f"{where}.{key}", _is_number, "a finite number")
    for key in ("provinces", "arms_level"):
        _check_values(series[key], f"{where}.{key}", lambda c: _is_index(c, 0, math.inf), "an integer >= 0")
    for key in ("wars", "alliances", "demands"):
        _check_indices(turn[key], f"{where}.{key}", n)
    _check_indices(turn["aid"], f"{where}.aid", n, width=3)
    _check_values([amount for *_, amount in turn["aid"]], f"{where}.aid[][2]", _is_number, "a finite number")

    def valid_act(act: Any) -> bool:  # null (not alive) or [name, target]; WAIT has no target
        return act is None or (
            isinstance(act, list)
            and len(act) == 2
            and isinstance(act[0], str)
            and (act[1] is None or _is_index(act[1], 0, n - 1))
        )

    _check_values(_check_list(turn["acts"], f"{where}.acts", n), f"{where}.acts", valid_act, "null or [act, target]")
    for k, event in enumerate(_check_list(turn["events"], f"{where}.events")):
        ok = isinstance(event, dict) and all(key in event for key in ("kind", "actor", "target", "value", "text"))
        _require(ok, f"{where}.events[{k}]", "expected an object with kind, actor, target, value and text")
        _require(_is_index(event["actor"], 0, n - 1), f"{where}.events[{k}].actor", f"expected {nation_index}")
        target_ok = event["target"] is None or _is_index(event["target"], 0, n - 1)
        _require(target_ok, f"{where}.events[{k}].target", f"expected null or {nation_index}")


def read_episode(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and validate an episode log file; raises :class:`EpisodeLogError` (a ValueError) when the file is not
    JSON or not a valid episode log of a version this package reads."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"), parse_constant=_refuse_constant)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:  # not text, or not JSON
        raise EpisodeLogError(f"{path}: not JSON ({error})") from None
    except ValueError as error:  # NaN or Infinity, which Python writes by default and strict JSON lacks
        raise EpisodeLogError(f"{path}: not strict JSON ({error})") from None
    return validate_episode(document, str(path))


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number; valid: finite numbers, or null")


def dumps_episode(document: Mapping[str, Any]) -> str:
    """The document as compact JSON text (validated first; NaN is refused)."""
    validate_episode(document)
    return json.dumps(document, separators=(",", ":"), allow_nan=False)


def write_episode(document: Mapping[str, Any], path: str | os.PathLike[str]) -> None:
    """Validate ``document`` and write it to ``path`` as JSON."""
    atomic_write_bytes(path, (dumps_episode(document) + "\n").encode("utf-8"))
