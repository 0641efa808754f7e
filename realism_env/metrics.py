"""Behaviour metrics: what an episode says about the realist theories.

An :class:`EpisodeRecorder` keeps, turn by turn, the arrays the metrics need from the :class:`~realism_env.world.World`
and the :class:`~realism_env.rules.Events` of each step, stacked over time into an :class:`EpisodeLog` with a leading
world axis (``[W, T+1, ...]`` for the snapshots before the first turn and after every turn, ``[W, T, ...]`` for what
happened during each turn), so a batched backend records thousands of worlds with the same code::

    env = realism_env.parallel_env()
    recorder = EpisodeRecorder(env.config)
    env.reset(seed=0)
    recorder.start(env.world)
    while env.agents:
        env.step(actions)
        recorder.record(env.world, env.last_events)
    recorder.metrics()        # {name: float}, the METRICS registry
    recorder.by_doctrine()    # {doctrine: {name: mean over the nations of that doctrine}}, NATION_METRICS

Every metric is a function of the log decorated with its unit; the first line of its docstring is its definition.
:data:`METRICS` (episode level) and :data:`NATION_METRICS` (one value per nation) map each name to
``(unit, definition, nan_when, compute, bounds)``; :func:`metric_table` renders them for documentation. A metric is NaN
only where its ``nan_when`` says so (a ratio with nothing to divide: no war, no alliance, no demand...), and its finite
values lie in ``bounds`` (:func:`metric_bounds`).

Conventions shared by the strategy metrics (documented once here, tested in ``tests/test_metrics.py``):

- Relations a decision was based on are read from the snapshot at the *start* of the turn (wars, alliances, borders,
  demands, military, power shares); the act and the arms level chosen come from the world after the step.
- *The strongest nation* at a turn is the live nation with the largest power share (``rules.power_share``), if it is
  unique (ties within ``TIE_TOLERANCE`` mean there is none that turn).
- *Threatened by the strongest*: a live nation other than the strongest, not allied with it, that borders it (land
  or sea), is at war with it, or faces its standing demand (an ally of the strongest is one it cannot attack).
- *Great power*: a live nation whose power share is at least ``GREAT_POWER_RATIO`` (0.5) times the largest share.
- Symmetric events (battle, alliance formed, peace) count once per unordered pair.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from functools import cached_property
from typing import Any, NamedTuple

import numpy as np

from realism_env.actions import N_ACTS, Act
from realism_env.config import EnvConfig
from realism_env.episode_log import episode_document
from realism_env.geometry import map_geometry
from realism_env.rules import EVENT_KINDS, Events, power_share, territory
from realism_env.world import MAP_FIELDS, World

#: A great power holds at least this fraction of the largest power share (polarity).
GREAT_POWER_RATIO = 0.5
#: Power shares closer than this count as tied (then no nation is "the strongest").
TIE_TOLERANCE = 1e-9

#: Escalation points per act, after Rivera et al. 2024's escalation score: violent 28, non-violent escalation 12
#: (threats; cutting ties), posturing 4 (alliances, arms transfers), de-escalation -2 (peace offers), status quo 0.
ESCALATION_WEIGHTS: dict[Act, float] = {
    Act.WAIT: 0.0,
    Act.ATTACK: 28.0,
    Act.ALLY: 4.0,
    Act.LEAVE_ALLIANCE: 12.0,
    Act.THREATEN: 12.0,
    Act.CONCEDE: 0.0,
    Act.SUPPORT: 4.0,
    Act.PEACE: -2.0,
}
#: Raising one's arms level is posturing (Rivera: arming, 4); lowering it is de-escalation (disarmament, -2).
ARMS_UP_WEIGHT = 4.0
ARMS_DOWN_WEIGHT = -2.0
_ACT_WEIGHTS = np.array([ESCALATION_WEIGHTS[Act(k)] for k in range(N_ACTS)])
#: A nation-turn's escalation points lie in this range (an act and an arms change): signed, since de-escalation scores
#: below 0.
ESCALATION_PER_TURN_RANGE = (
    min(ESCALATION_WEIGHTS.values()) + ARMS_DOWN_WEIGHT,
    max(ESCALATION_WEIGHTS.values()) + ARMS_UP_WEIGHT,
)
#: A sum of escalation points: any sign.
SIGNED = (-math.inf, math.inf)


# --------------------------------------------------------------------------------------------------
# The log and its recorder
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class EpisodeLog:
    """Everything the metrics read, stacked over time with a leading world axis.

    Snapshots have ``T + 1`` entries along axis 1 (index 0 is the world after reset, index ``t`` the world after
    turn ``t``); per-turn arrays have ``T`` (index ``t - 1`` is what happened in turn ``t``).
    """

    doctrines: tuple[str, ...]  #: one doctrine name per nation
    hegemony_share: float  #: EnvConfig.hegemony_share
    n_arms_levels: int  #: number of domestic arms levels
    # Snapshots [W, T+1, ...].
    turn: np.ndarray  #: [W, T+1] int, the world's turn counter
    military: np.ndarray  #: [W, T+1, N] float
    income: np.ndarray  #: [W, T+1, N] float
    share: np.ndarray  #: [W, T+1, N] float, power share (rules.power_share)
    provinces: np.ndarray  #: [W, T+1, N] int, provinces held
    alive: np.ndarray  #: [W, T+1, N] bool
    arms_level: np.ndarray  #: [W, T+1, N] int, the arms level in force (chosen in the turn that ended)
    owner: np.ndarray  #: [W, T+1, P] int
    at_war: np.ndarray  #: [W, T+1, N, N] bool
    allied: np.ndarray  #: [W, T+1, N, N] bool
    neighbour: np.ndarray  #: [W, T+1, N, N] bool, land border or sea link
    demand: np.ndarray  #: [W, T+1, N, N] bool, i's standing demand on j
    # Per turn [W, T, ...].
    act: np.ndarray  #: [W, T, N] int, the act played (an invalid act was played as WAIT)
    target: np.ndarray  #: [W, T, N] int, its absolute target
    events: Events  #: each field [W, T, ...]

    def __post_init__(self) -> None:
        w, t1 = self.turn.shape
        n = len(self.doctrines)
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, np.ndarray):
                continue
            steps = t1 if f.name in _SNAPSHOT_FIELDS else t1 - 1
            if value.shape[:2] != (w, steps) or (value.ndim > 2 and f.name != "owner" and value.shape[2] != n):
                raise ValueError(f"EpisodeLog.{f.name} has shape {value.shape}; expected [{w}, {steps}, {n}, ...]")
        for kind in EVENT_KINDS:
            value = getattr(self.events, kind)
            if value.shape[:3] != (w, t1 - 1, n):
                expected = f"[{w}, {t1 - 1}, {n}, ...]"
                raise ValueError(f"EpisodeLog.events.{kind} has shape {value.shape}; expected {expected}")

    @property
    def n_worlds(self) -> int:
        return self.turn.shape[0]

    @property
    def n_turns(self) -> int:
        return self.turn.shape[1] - 1

    @property
    def n_nations(self) -> int:
        return len(self.doctrines)

    def select(self, index: int, n_turns: int | None = None) -> EpisodeLog:
        """World ``index`` alone, keeping the leading axis; with ``n_turns``, its first ``n_turns`` turns only (the
        episode of a world that ended earlier than the others it was recorded with)."""
        turns = self.n_turns if n_turns is None else n_turns
        if not 0 <= turns <= self.n_turns:
            raise ValueError(f"n_turns={n_turns} is invalid; valid: 0..{self.n_turns}")
        arrays = {}
        for f in fields(self):
            if f.name in _ARRAY_FIELDS:
                steps = turns + 1 if f.name in _SNAPSHOT_FIELDS else turns
                arrays[f.name] = getattr(self, f.name)[index : index + 1, :steps]
        events = Events(*(e[index : index + 1, :turns] for e in self.events))
        return EpisodeLog(self.doctrines, self.hegemony_share, self.n_arms_levels, events=events, **arrays)

    # Derived quantities, computed once per log.
    @cached_property
    def shares(self) -> np.ndarray:
        """[W, T+1, N] power shares of the live nations, renormalised to sum to 1."""
        s = np.where(self.alive, self.share, 0.0)
        total = s.sum(axis=-1, keepdims=True)
        return np.divide(s, total, out=np.zeros_like(s), where=total > 0)

    @cached_property
    def strongest(self) -> np.ndarray:
        """[W, T, N] one-hot of the unique strongest nation at the start of each turn (all False on a tie)."""
        s = self.shares[:, :-1]
        top = s.max(axis=-1, keepdims=True)
        is_top = (s >= top - TIE_TOLERANCE) & (s > 0)  # the dead hold a share of 0
        return is_top & (is_top.sum(axis=-1, keepdims=True) == 1)

    @cached_property
    def threatened(self) -> np.ndarray:
        """[W, T, N] threatened by the strongest at the start of each turn: it borders or fights the strongest, or
        faces its standing demand, and is not its ally (the rules' own test of a threat, ``rules.attackable``, leaves
        allies out: the strongest cannot attack them)."""
        relation = self.neighbour[:, :-1] | self.at_war[:, :-1] | self.demand[:, :-1]  # [w, t, S, i]
        relation = relation & ~self.allied[:, :-1]
        by_strongest = (self.strongest[..., :, None] & relation).any(axis=-2)
        return by_strongest & ~self.strongest & self.alive[:, :-1]

    @cached_property
    def battle(self) -> np.ndarray:
        """[W, T, N, N] symmetric: the pair fought in that turn."""
        b = self.events.battle.astype(bool)
        return b | b.swapaxes(-1, -2)

    @cached_property
    def formed(self) -> np.ndarray:
        """[W, T, N, N] symmetric: the pair formed an alliance in that turn."""
        f = self.events.alliance_formed.astype(bool)
        return f | f.swapaxes(-1, -2)

    @cached_property
    def outsider_reach(self) -> tuple[np.ndarray, np.ndarray]:
        """([W, T, N, N] g, alive, could aid r as an outsider to a war of r's: r fights some k, and g is at war with
        neither and allied with neither; the same restricted to a k with more military than r), at the start of the
        turn: the chances of bait-and-bleed and of bloodletting."""
        war = self.at_war[:, :-1]
        allied = self.allied[:, :-1]
        mil = self.military[:, :-1]
        n = self.n_nations
        outsider = ~war & ~allied & ~np.eye(n, dtype=bool) & self.alive[:, :-1, :, None]  # [g, k]
        weaker = war & (mil[..., :, None] < mil[..., None, :])  # [r, k]: r fights a stronger k
        # reach[g, r] = any k: war[r, k] & outsider[g, k]   (a matrix product, no N^3 array)
        reach = (outsider.astype(np.float64) @ war.swapaxes(-1, -2).astype(np.float64)) > 0
        reach_weaker = (outsider.astype(np.float64) @ weaker.swapaxes(-1, -2).astype(np.float64)) > 0
        return outsider & reach, outsider & reach_weaker

    @cached_property
    def outsider_aid(self) -> tuple[np.ndarray, np.ndarray]:
        """([W, T, N, N] aid from g to r while r fights some k, g at war with neither and allied with neither;
        the same restricted to a k with more military than r at the start of the turn)."""
        reach, reach_weaker = self.outsider_reach
        aid = self.events.aid > 0
        return aid & reach, aid & reach_weaker

    @cached_property
    def arms_correlation(self) -> tuple[np.ndarray, np.ndarray]:
        """([W, N, N] Pearson correlation of the arms levels chosen by i and j over the turns both were alive at the
        start of, NaN where fewer than 3 turns or a constant series; [W, N, N] rival pairs: they bordered or were at
        war at some snapshot while both alive, and were never allied: allies arming together is no security dilemma,
        whose arms race is each side arming against the other (Jervis 1978))."""
        levels = self.arms_level[:, 1:].astype(np.float64)  # chosen in each turn
        both = (self.alive[:, :-1, :, None] & self.alive[:, :-1, None, :]).astype(np.float64)
        count = both.sum(axis=1)
        s_i = np.einsum("wtij,wti->wij", both, levels)
        s_ii = np.einsum("wtij,wti->wij", both, levels**2)
        s_ij = np.einsum("wtij,wti,wtj->wij", both, levels, levels)
        with np.errstate(divide="ignore", invalid="ignore"):
            mean_i = s_i / count
            mean_j = mean_i.swapaxes(-1, -2)
            var_i = s_ii / count - mean_i**2
            var_j = var_i.swapaxes(-1, -2)
            cov = s_ij / count - mean_i * mean_j
            corr = cov / np.sqrt(var_i * var_j)
        defined = (count >= 3) & (var_i > 1e-9) & (var_j > 1e-9) & ~np.eye(self.n_nations, dtype=bool)
        corr = np.where(defined, np.clip(corr, -1.0, 1.0), np.nan)
        pair_alive = self.alive[:, :, :, None] & self.alive[:, :, None, :]
        rival = ((self.neighbour | self.at_war) & pair_alive).any(axis=1) & ~np.eye(self.n_nations, dtype=bool)
        return corr, rival & ~self.allied.any(axis=1)


_SNAPSHOT_FIELDS = frozenset(
    (
        "turn",
        "military",
        "income",
        "share",
        "provinces",
        "alive",
        "arms_level",
        "owner",
        "at_war",
        "allied",
        "neighbour",
        "demand",
    )
)
_ARRAY_FIELDS = _SNAPSHOT_FIELDS | {"act", "target"}


def snapshot(world: World) -> dict[str, np.ndarray]:
    """The arrays of one world value that the metrics read (each keeps the world axis: [W, ...])."""
    land = territory(world)  # once: income, shares, provinces and borders all follow from it
    return {
        "turn": np.array(world.turn, dtype=np.int64),
        "military": np.array(world.military, dtype=np.float64),
        "income": np.array(land.income, dtype=np.float64),
        "share": np.array(power_share(world, land.income), dtype=np.float64),
        "provinces": np.array(land.held).astype(np.int32),
        "alive": np.array(world.alive, dtype=bool),
        "arms_level": np.array(world.arms_level, dtype=np.int16),
        "owner": np.array(world.owner, dtype=np.int32),
        "at_war": np.array(world.at_war, dtype=bool),
        "allied": np.array(world.allied, dtype=bool),
        "neighbour": np.array(land.neighbours, dtype=bool),
        "demand": np.array(world.demand, dtype=bool),
    }


class EpisodeRecorder:
    """Accumulates an episode, one turn at a time, for all ``W`` worlds of a world value at once.

    ``start(world)`` after reset, ``record(world, events)`` after each step (the world after the step and that step's
    events), then ``log()`` or the metrics. Memory: a few ``[W, N]`` and four ``[W, N, N]`` arrays per turn.
    """

    def __init__(self, config: EnvConfig) -> None:
        self.config = config
        self._snapshots: list[dict[str, np.ndarray]] = []
        self._turns: list[tuple[np.ndarray, np.ndarray, Events]] = []
        self._map: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def start(self, world: World) -> None:
        """Begin a new episode at ``world`` (the world after reset); forgets any earlier one."""
        self._snapshots = [snapshot(world)]
        self._turns = []
        self._map = tuple(np.array(getattr(world, name)) for name in MAP_FIELDS)

    def record(self, world: World, events: Events) -> None:
        """Add one turn: ``world`` is the world after the step, ``events`` what happened during it."""
        if not self._snapshots:
            raise RuntimeError("call start(world) before record()")
        self._snapshots.append(snapshot(world))
        self._turns.append(
            (
                np.array(world.last_act, dtype=np.int8),
                np.array(world.last_target, dtype=np.int16),
                Events(*(np.array(e) for e in events)),
            )
        )

    def log(self) -> EpisodeLog:
        """The episode so far, stacked over time."""
        if not self._snapshots:
            raise RuntimeError("call start(world) before log()")
        arrays = {k: np.stack([s[k] for s in self._snapshots], axis=1) for k in self._snapshots[0]}
        w, n = arrays["military"].shape[0], self.config.n_nations
        if self._turns:
            act = np.stack([t[0] for t in self._turns], axis=1)
            target = np.stack([t[1] for t in self._turns], axis=1)
            events = Events(*(np.stack([t[2][k] for t in self._turns], axis=1) for k in range(len(EVENT_KINDS))))
        else:
            act = np.zeros((w, 0, n), dtype=np.int8)
            target = np.zeros((w, 0, n), dtype=np.int16)
            events = empty_events(w, 0, n)
        return EpisodeLog(
            doctrines=self.config.doctrine_per_nation,
            hegemony_share=self.config.hegemony_share,
            n_arms_levels=len(self.config.arms_shares),
            act=act,
            target=target,
            events=events,
            **arrays,
        )

    def state_dict(self) -> dict[str, Any]:
        """The episode so far, stacked over its turns (copies, numpy arrays), for a checkpoint that goes on with it:
        ``"snapshots"`` (one array per field, [T + 1, W, ...]), ``"map"`` (the world's map fields) and, once a turn
        was recorded, ``"act"``, ``"target"`` and ``"events"`` (one array per kind) of [T, W, ...]."""
        if not self._snapshots or self._map is None:
            raise RuntimeError("call start(world) before state_dict()")
        state: dict[str, Any] = {
            "snapshots": {name: np.stack([s[name] for s in self._snapshots]) for name in self._snapshots[0]},
            "map": {name: np.array(a) for name, a in zip(MAP_FIELDS, self._map, strict=True)},
        }
        if self._turns:
            state["act"] = np.stack([t[0] for t in self._turns])
            state["target"] = np.stack([t[1] for t in self._turns])
            state["events"] = {kind: np.stack([t[2][k] for t in self._turns]) for k, kind in enumerate(EVENT_KINDS)}
        return state

    def load_state_dict(self, state: Mapping[str, Any], where: str = "the recorder") -> None:
        """Go on from :meth:`state_dict`; ``ValueError`` (naming ``where``) if it lacks a part or its turn counts
        differ, and nothing changes then."""
        valid = "valid: an EpisodeRecorder.state_dict()"
        try:
            fields = {name: np.asarray(values) for name, values in state["snapshots"].items()}
            geometry = tuple(np.asarray(state["map"][name]) for name in MAP_FIELDS)
            turns = min(len(values) for values in fields.values()) - 1
            arrays = [np.asarray(state[key]) for key in ("act", "target")] if turns > 0 else []
            events = [np.asarray(state["events"][kind]) for kind in EVENT_KINDS] if turns > 0 else []
        except KeyError as error:
            raise ValueError(f"{where}'s state lacks {error}; {valid}") from None
        except (AttributeError, TypeError, ValueError):
            raise ValueError(f"{where}'s state is not one of a recorder; {valid}") from None
        lengths = {len(values) for values in fields.values()} | {len(values) + 1 for values in (*arrays, *events)}
        if turns < 0 or lengths != {turns + 1}:
            raise ValueError(f"{where}'s state holds {sorted(lengths)} snapshots and turns of snapshots; {valid}")
        self._snapshots = [{name: values[t] for name, values in fields.items()} for t in range(turns + 1)]
        self._turns = [(arrays[0][t], arrays[1][t], Events(*(e[t] for e in events))) for t in range(turns)]
        self._map = geometry

    def episode(
        self,
        world_index: int = 0,
        *,
        policies: Sequence[str | None] | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The episode so far as an episode log document (:mod:`realism_env.episode_log`, JSON-able) of world
        ``world_index``: its map, nations (``policies``: what plays each, a label or None) and every turn;
        ``meta`` is kept as given. The map is the one of the world given to :meth:`start`; a batched world that
        ended and was reset since then is no longer one episode, and raises ``ValueError``."""
        if self._map is None:
            raise RuntimeError("call start(world) before episode()")
        self._check_one_episode(world_index)
        geometry = map_geometry(*(a[world_index] for a in self._map))
        return episode_document(
            self.log(), geometry, self.config, world_index=world_index, policies=policies, meta=meta
        )

    def metrics(self, world_index: int = 0) -> dict[str, float]:
        """:func:`episode_metrics` of world ``world_index``."""
        self._check_one_episode(world_index)
        return episode_metrics(self.log(), world_index)

    def nation_metrics(self, world_index: int = 0) -> dict[str, np.ndarray]:
        """:func:`nation_metrics` of world ``world_index``."""
        self._check_one_episode(world_index)
        return nation_metrics(self.log(), world_index)

    def by_doctrine(self, world_index: int = 0) -> dict[str, dict[str, float]]:
        """:func:`by_doctrine` of world ``world_index``."""
        self._check_one_episode(world_index)
        return by_doctrine(self.log(), world_index)

    def _check_one_episode(self, world_index: int) -> None:
        """``ValueError`` if world ``world_index``'s recorded turns are not one episode: a ``WorldBatch`` resets an
        ended world at once, so turns recorded past its end belong to a new episode on a new map."""
        turns = np.array([int(s["turn"][world_index]) for s in self._snapshots])
        restarts = np.flatnonzero(np.diff(turns) != 1)
        if restarts.size:
            k = int(restarts[0]) + 1
            raise ValueError(
                f"world {world_index}'s record holds more than one episode: its turn counter goes from "
                f"{turns[k - 1]} to {turns[k]} at recorded turn {k} (the world ended and was reset); valid: read the "
                "world's episode when it ends (record a WorldBatch's step.final_world, the world as its last turn "
                "left it, then stop)"
            )


_PAIR_EVENTS = frozenset(k for k in EVENT_KINDS if k not in ("wealth_destroyed", "eliminated", "invalid_action"))
_FLOAT_EVENTS = frozenset(("forces_lost", "wealth_destroyed", "aid"))


def empty_events(n_worlds: int, n_turns: int, n_nations: int) -> Events:
    """Events of ``n_turns`` turns in which nothing happened (zeros, correct dtypes), each ``[W, T, ...]``."""
    arrays = []
    for kind in EVENT_KINDS:
        shape = (n_worlds, n_turns, n_nations) + ((n_nations,) if kind in _PAIR_EVENTS else ())
        dtype = np.float64 if kind in _FLOAT_EVENTS else np.int64 if kind == "province_taken" else bool
        arrays.append(np.zeros(shape, dtype=dtype))
    return Events(*arrays)


# --------------------------------------------------------------------------------------------------
# The registries
# --------------------------------------------------------------------------------------------------


#: The range of a count (and of most metrics): ``[0, inf)``.
COUNT_RANGE = (0.0, math.inf)
#: The range of a share, a probability or a 0/1 indicator.
UNIT_RANGE = (0.0, 1.0)


class Metric(NamedTuple):
    """One metric: its unit, its one-line definition, when it may be NaN (None: never), how it is computed
    (``compute(log)`` gives ``[W]`` for episode metrics, ``[W, N]`` for nation metrics) and the range its finite
    values lie in (:data:`COUNT_RANGE` by default; a report clips a mean's interval to it)."""

    unit: str
    definition: str
    nan_when: str | None
    compute: Callable[[EpisodeLog], np.ndarray]
    bounds: tuple[float, float] = COUNT_RANGE


#: Episode-level metrics: name -> Metric(unit, definition, nan_when, compute, bounds), compute(log) -> [W].
METRICS: dict[str, Metric] = {}
#: Per-nation metrics: name -> Metric, compute(log) -> [W, N]; averaged by doctrine in :func:`by_doctrine`.
NATION_METRICS: dict[str, Metric] = {}


def _register(
    registry: dict[str, Metric], name: str, unit: str, nan_when: str | None, bounds: tuple[float, float]
) -> Callable[[Callable[[EpisodeLog], np.ndarray]], Callable[[EpisodeLog], np.ndarray]]:
    def wrap(fn: Callable[[EpisodeLog], np.ndarray]) -> Callable[[EpisodeLog], np.ndarray]:
        definition = inspect.cleandoc(fn.__doc__ or "").split("\n\n")[0].replace("\n", " ")
        if not definition:
            raise ValueError(f"metric {name!r} needs a one-line definition in its docstring")
        fn.__doc__ = f"{fn.__doc__}\n\n    Unit: {unit}. Range: {format_bounds(bounds)}." + (
            f" NaN when {nan_when}." if nan_when else ""
        )
        registry[name] = Metric(unit, definition, nan_when, fn, bounds)
        return fn

    return wrap


def _metric(name: str, unit: str, nan_when: str | None = None, bounds: tuple[float, float] = COUNT_RANGE):
    return _register(METRICS, name, unit, nan_when, bounds)


def _nation_metric(name: str, unit: str, nan_when: str | None = None, bounds: tuple[float, float] = COUNT_RANGE):
    return _register(NATION_METRICS, name, unit, nan_when, bounds)


def format_bounds(bounds: tuple[float, float]) -> str:
    """``[0, 1]``, ``[0, inf)``, ``(-inf, inf)``: a closed range, open where infinite."""
    low, high = bounds
    left = "(-inf" if low == -math.inf else f"[{low:g}"
    right = "inf)" if high == math.inf else f"{high:g}]"
    return f"{left}, {right}"


def metric_bounds(name: str) -> tuple[float, float]:
    """The range of the episode or nation metric ``name``; ``(-inf, inf)`` for a name that is neither."""
    metric = METRICS.get(name) or NATION_METRICS.get(name)
    return metric.bounds if metric is not None else (-math.inf, math.inf)


def _upper(n: int) -> np.ndarray:
    return np.triu(np.ones((n, n), dtype=bool), 1)


def _pairs(x: np.ndarray) -> np.ndarray:
    """[W] sum of ``x`` ([W, T, N, N]) over time and over unordered pairs i < j."""
    return (x * _upper(x.shape[-1])).sum(axis=(1, 2, 3))


def _spells(x: np.ndarray) -> np.ndarray:
    """[W, ...] number of maximal runs of True along axis 1 of ``x`` ([W, T, ...])."""
    if x.shape[1] == 0:
        return np.zeros(x.shape[:1] + x.shape[2:], dtype=np.int64)
    return x[:, 0].astype(np.int64) + (x[:, 1:] & ~x[:, :-1]).sum(axis=1)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    return np.divide(num, den, out=np.full(np.broadcast(num, den).shape, np.nan), where=den > 0)


def _nanmean(x: np.ndarray, mask: np.ndarray, axis: tuple[int, ...] | int) -> np.ndarray:
    """Mean of the finite entries of ``x`` where ``mask``; NaN where there are none."""
    keep = mask & np.isfinite(x)
    return _ratio(np.where(keep, x, 0.0).sum(axis=axis), keep.sum(axis=axis))


# --------------------------------------------------------------------------------------------------
# War
# --------------------------------------------------------------------------------------------------


@_metric("war_onsets", "declarations")
def war_onsets(log: EpisodeLog) -> np.ndarray:
    """War declarations: directed war_declared events (two nations declaring on each other in one turn count twice)."""
    return log.events.war_declared.sum(axis=(1, 2, 3)).astype(np.float64)


@_metric("wars", "wars")
def wars(log: EpisodeLog) -> np.ndarray:
    """Distinct wars: maximal runs of consecutive turns in which a pair of nations fought (battle), per pair."""
    return (_spells(log.battle) * _upper(log.n_nations)).sum(axis=(1, 2)).astype(np.float64)


@_metric("war_years", "pair-years")
def war_years(log: EpisodeLog) -> np.ndarray:
    """Sum over unordered pairs of nations of the turns (years) in which they fought each other."""
    return _pairs(log.battle).astype(np.float64)


@_metric("mean_war_duration", "years", nan_when="no war was fought")
def mean_war_duration(log: EpisodeLog) -> np.ndarray:
    """war_years / wars: mean length of a war, a war still running at the end counted up to the end."""
    return _ratio(war_years(log), wars(log))


@_metric("forces_lost", "military units")
def forces_lost(log: EpisodeLog) -> np.ndarray:
    """Military forces lost in combat by all nations (forces_lost events)."""
    return log.events.forces_lost.sum(axis=(1, 2, 3))


@_metric("wealth_destroyed", "wealth units")
def wealth_destroyed(log: EpisodeLog) -> np.ndarray:
    """Wealth destroyed by conquest and war devastation (wealth_destroyed events)."""
    return log.events.wealth_destroyed.sum(axis=(1, 2))


@_metric("casualties", "capability units")
def casualties(log: EpisodeLog) -> np.ndarray:
    """The human cost of war: forces_lost + wealth_destroyed (both in units of yearly income)."""
    return forces_lost(log) + wealth_destroyed(log)


def _escalation(log: EpisodeLog) -> np.ndarray:
    """[W, T, N] escalation points of each nation in each turn it began alive."""
    act_points = _ACT_WEIGHTS[log.act]
    change = np.diff(log.arms_level.astype(np.int64), axis=1)
    arms_points = np.where(change > 0, ARMS_UP_WEIGHT, np.where(change < 0, ARMS_DOWN_WEIGHT, 0.0))
    return (act_points + arms_points) * log.alive[:, :-1]


@_metric("escalation_score", "escalation points", bounds=SIGNED)
def escalation_score(log: EpisodeLog) -> np.ndarray:
    """Rivera et al. 2024 escalation score summed over nations and turns: ATTACK 28, THREATEN 12, LEAVE_ALLIANCE 12,
    ALLY 4, SUPPORT 4, arms level raised 4, PEACE -2, arms level lowered -2, WAIT and CONCEDE 0."""
    return _escalation(log).sum(axis=(1, 2))


@_metric(
    "escalation_per_nation_turn",
    "escalation points per nation-turn",
    nan_when="the episode has no turn",
    bounds=ESCALATION_PER_TURN_RANGE,
)
def escalation_per_nation_turn(log: EpisodeLog) -> np.ndarray:
    """escalation_score divided by the number of nation-turns (turns each nation began alive)."""
    return _ratio(escalation_score(log), log.alive[:, :-1].sum(axis=(1, 2)))


# --------------------------------------------------------------------------------------------------
# Structure
# --------------------------------------------------------------------------------------------------


@_metric("surviving_nations", "nations")
def surviving_nations(log: EpisodeLog) -> np.ndarray:
    """Nations alive at the end of the episode."""
    return log.alive[:, -1].sum(axis=-1).astype(np.float64)


@_metric("eliminations", "nations")
def eliminations(log: EpisodeLog) -> np.ndarray:
    """Nations eliminated during the episode (eliminated events)."""
    return log.events.eliminated.sum(axis=(1, 2)).astype(np.float64)


def _great_powers(log: EpisodeLog) -> np.ndarray:
    """[W, T+1] number of great powers: live nations with share >= GREAT_POWER_RATIO * the largest share."""
    s = log.shares
    largest = s.max(axis=-1, keepdims=True)
    return (log.alive & (s >= GREAT_POWER_RATIO * largest - TIE_TOLERANCE)).sum(axis=-1)


@_metric("great_powers", "nations")
def great_powers(log: EpisodeLog) -> np.ndarray:
    """Great powers at the end: live nations whose power share is at least 0.5 times the largest share."""
    return _great_powers(log)[:, -1].astype(np.float64)


@_metric("polarity", "category", bounds=(1.0, 3.0))
def polarity(log: EpisodeLog) -> np.ndarray:
    """Polarity at the end: 1 unipolar, 2 bipolar, 3 multipolar (three or more great powers)."""
    return np.minimum(_great_powers(log)[:, -1], 3).astype(np.float64)


def _hhi(log: EpisodeLog) -> np.ndarray:
    return (log.shares**2).sum(axis=-1)


@_metric("final_hhi", "index in (0, 1]", bounds=UNIT_RANGE)
def final_hhi(log: EpisodeLog) -> np.ndarray:
    """Herfindahl-Hirschman index of power shares at the end: the sum of squared shares of the live nations."""
    return _hhi(log)[:, -1]


@_metric("peak_hhi", "index in (0, 1]", bounds=UNIT_RANGE)
def peak_hhi(log: EpisodeLog) -> np.ndarray:
    """Largest HHI of power shares over the episode, the start included."""
    return _hhi(log).max(axis=1)


@_metric("effective_number_of_powers", "nations")
def effective_number_of_powers(log: EpisodeLog) -> np.ndarray:
    """1 / final_hhi (Laakso-Taagepera): the number of equal powers with the same concentration."""
    return _ratio(1.0, final_hhi(log))


@_metric("largest_share", "power share", bounds=UNIT_RANGE)
def largest_share(log: EpisodeLog) -> np.ndarray:
    """Largest power share at the end."""
    return log.shares[:, -1].max(axis=-1)


def _hegemon(log: EpisodeLog) -> np.ndarray:
    return log.shares.max(axis=-1) > log.hegemony_share  # [W, T+1]


@_metric("hegemony_reached", "0/1", bounds=UNIT_RANGE)
def hegemony_reached(log: EpisodeLog) -> np.ndarray:
    """1 if the largest power share exceeded EnvConfig.hegemony_share at any snapshot (the start included)."""
    return _hegemon(log).any(axis=1).astype(np.float64)


@_metric("hegemony_turn", "turn", nan_when="no nation ever exceeded hegemony_share")
def hegemony_turn(log: EpisodeLog) -> np.ndarray:
    """First turn (the world's turn counter, 0 = the start) at which the largest share exceeded hegemony_share."""
    hegemon = _hegemon(log)
    first = np.take_along_axis(log.turn, hegemon.argmax(axis=1)[:, None], axis=1)[:, 0]
    return np.where(hegemon.any(axis=1), first, np.nan)


@_metric("conquest_gain", "power share", nan_when="no war was declared", bounds=(-2.0, 2.0))
def conquest_gain(log: EpisodeLog) -> np.ndarray:
    """Does conquest pay? Over the episode's war declarations (i on j in a turn), the mean of the initiator's change in
    power share from the start of that turn to the episode's end, minus its target's change: what the war gained it
    relative to its target (a strong state attacking a weak one keeps its lead whether or not the war pays, so the
    final levels alone would say it does). Offensive realism (Mearsheimer 2001) expects war to pay, a positive gain;
    defensive realism (Waltz 1979; Van Evera's "conquest rarely pays") expects none or a negative one."""
    declared = log.events.war_declared  # [W, T, i, j] declarations of i on j in each turn
    change = log.shares[:, -1:] - log.shares[:, :-1]  # [W, T, N] each nation's change from the turn's start to the end
    gap = change[..., :, None] - change[..., None, :]  # [W, T, i, j] the initiator's change minus the target's
    return _ratio((declared * gap).sum(axis=(1, 2, 3)), declared.sum(axis=(1, 2, 3)))


@_metric("territorial_change", "share of provinces", bounds=UNIT_RANGE)
def territorial_change(log: EpisodeLog) -> np.ndarray:
    """Share of provinces whose owner at the end differs from their owner at the start."""
    return (log.owner[:, -1] != log.owner[:, 0]).mean(axis=-1)


@_metric("provinces_transferred", "provinces")
def provinces_transferred(log: EpisodeLog) -> np.ndarray:
    """Provinces that changed hands: taken by force (province_taken) plus given up under blackmail (concession)."""
    return (log.events.province_taken.sum(axis=(1, 2, 3)) + log.events.concession.sum(axis=(1, 2, 3))).astype(
        np.float64
    )


@_metric("status_quo_kept", "0/1", bounds=UNIT_RANGE)
def status_quo_kept(log: EpisodeLog) -> np.ndarray:
    """1 if no province changed hands during the episode (provinces_transferred == 0)."""
    return (provinces_transferred(log) == 0).astype(np.float64)


# --------------------------------------------------------------------------------------------------
# Strategies
# --------------------------------------------------------------------------------------------------


@_metric("alliances_formed", "alliances")
def alliances_formed(log: EpisodeLog) -> np.ndarray:
    """Alliances formed (alliance_formed events, once per pair)."""
    return _pairs(log.formed).astype(np.float64)


@_metric("alliances_broken", "alliances")
def alliances_broken(log: EpisodeLog) -> np.ndarray:
    """Alliances ended by a member leaving (alliance_left, once per pair and turn); an elimination breaks none."""
    left = log.events.alliance_left.astype(bool)
    return _pairs(left | left.swapaxes(-1, -2)).astype(np.float64)


@_metric("mean_alliance_lifetime", "years", nan_when="no alliance held at any snapshot")
def mean_alliance_lifetime(log: EpisodeLog) -> np.ndarray:
    """Mean length of an alliance: pair-years allied after each turn / alliances (runs of the allied relation), an
    alliance still standing at the end counted up to the end."""
    upper = _upper(log.n_nations)
    years = (log.allied[:, 1:] & upper).sum(axis=(1, 2, 3))
    return _ratio(years, (_spells(log.allied) * upper).sum(axis=(1, 2)))


def _alignment(log: EpisodeLog) -> tuple[np.ndarray, np.ndarray]:
    """([W, T, N, N] balancing alliances, [W, T, N, N] bandwagoning alliances), both symmetric."""
    s = log.strongest
    with_strongest = s[..., :, None] | s[..., None, :]
    threatened = log.threatened[..., :, None] | log.threatened[..., None, :]
    balancing = log.formed & ~with_strongest & threatened
    bandwagoning = log.formed & with_strongest
    return balancing, bandwagoning


@_metric("balancing", "alliances")
def balancing(log: EpisodeLog) -> np.ndarray:
    """Alliances formed against the strongest: neither partner is the strongest nation at the start of the turn and
    at least one is threatened by it (it borders that partner, fights it or demands from it)."""
    return _pairs(_alignment(log)[0]).astype(np.float64)


@_metric("bandwagoning", "alliances")
def bandwagoning(log: EpisodeLog) -> np.ndarray:
    """Alliances formed with the strongest nation (at the start of the turn) as one partner."""
    return _pairs(_alignment(log)[1]).astype(np.float64)


@_metric(
    "balancing_share",
    "share of alliances",
    nan_when="no balancing or bandwagoning alliance formed",
    bounds=UNIT_RANGE,
)
def balancing_share(log: EpisodeLog) -> np.ndarray:
    """balancing / (balancing + bandwagoning): Waltz predicts balancing, so near 1; bandwagoning worlds near 0."""
    bal = balancing(log)
    return _ratio(bal, bal + bandwagoning(log))


def _buck_passing(log: EpisodeLog) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """([W, T, N] buck-passing, [W, T, N] threatened, [W, T, N] threatened while another threatened nation balanced:
    the chances to pass the buck) nation-turns."""
    before, after = log.arms_level[:, :-1], log.arms_level[:, 1:]
    arms = (after > before) | (after == log.n_arms_levels - 1)
    target_is_strongest = np.take_along_axis(log.strongest, log.target.astype(np.intp), axis=-1)
    # external balancing: courting a partner other than the strongest, or holding an alliance with one after the turn
    holds = (log.allied[:, 1:] & ~log.strongest[..., None, :]).any(axis=-1)
    allies = ((log.act == Act.ALLY) & ~target_is_strongest) | holds
    # fought the strongest in the turn: a battle with it, also in a war declared that turn
    fights = (log.battle & log.strongest[..., None, :]).any(axis=-1)
    balances = log.threatened & (arms | allies | fights)
    others_balance = balances.sum(axis=-1, keepdims=True) - balances > 0
    chances = log.threatened & others_balance
    return chances & ~balances, log.threatened, chances


@_metric("buck_passing", "nation-turns")
def buck_passing(log: EpisodeLog) -> np.ndarray:
    """Turns a nation threatened by the strongest neither armed (raised its arms level or kept it at the top), allied
    (ALLY toward a nation other than the strongest, or held an alliance with one after the turn) nor fought the
    strongest (a battle with it in the turn), while another threatened nation did: it let others bear the cost of
    balancing (Mearsheimer 2001)."""
    return _buck_passing(log)[0].sum(axis=(1, 2)).astype(np.float64)


@_metric(
    "buck_passing_rate",
    "share of nation-turns",
    nan_when="no nation was ever threatened by a unique strongest",
    bounds=UNIT_RANGE,
)
def buck_passing_rate(log: EpisodeLog) -> np.ndarray:
    """buck_passing / nation-turns threatened by the strongest."""
    passing, threatened, _ = _buck_passing(log)
    return _ratio(passing.sum(axis=(1, 2)), threatened.sum(axis=(1, 2)))


@_metric("buck_passing_chances", "nation-turns")
def buck_passing_chances(log: EpisodeLog) -> np.ndarray:
    """Turns a nation threatened by the strongest saw another threatened nation balance (see buck_passing): the
    turns it could have passed the buck, whether it did or balanced too. With none, buck-passing cannot occur."""
    return _buck_passing(log)[2].sum(axis=(1, 2)).astype(np.float64)


@_metric("demands_made", "demands")
def demands_made(log: EpisodeLog) -> np.ndarray:
    """Blackmail: demands made under threat of war (demand_made events)."""
    return log.events.demand_made.sum(axis=(1, 2, 3)).astype(np.float64)


@_metric("demands_conceded", "demands")
def demands_conceded(log: EpisodeLog) -> np.ndarray:
    """Demands the target gave in to, handing over a province (concession events)."""
    return log.events.concession.sum(axis=(1, 2, 3)).astype(np.float64)


@_metric("threats_enforced", "demands")
def threats_enforced(log: EpisodeLog) -> np.ndarray:
    """Refused demands the threatener went to war over (threat_enforced events): the threat carried out."""
    return log.events.threat_enforced.sum(axis=(1, 2, 3)).astype(np.float64)


@_metric("bluffs_called", "demands")
def bluffs_called(log: EpisodeLog) -> np.ndarray:
    """Refused demands that lapsed past the deadline without war (bluff_called events)."""
    return log.events.bluff_called.sum(axis=(1, 2, 3)).astype(np.float64)


@_metric("demands_refused", "demands")
def demands_refused(log: EpisodeLog) -> np.ndarray:
    """Demands resolved without concession: threats_enforced + bluffs_called (dropped or standing ones excluded)."""
    return threats_enforced(log) + bluffs_called(log)


@_metric("concession_rate", "share of demands", nan_when="no demand was made", bounds=UNIT_RANGE)
def concession_rate(log: EpisodeLog) -> np.ndarray:
    """demands_conceded / demands_made: how often blackmail won without war."""
    return _ratio(demands_conceded(log), demands_made(log))


@_metric("aid_given", "military units")
def aid_given(log: EpisodeLog) -> np.ndarray:
    """Military aid sent by all nations (aid events)."""
    return log.events.aid.sum(axis=(1, 2, 3))


@_metric("bait_and_bleed", "aid acts")
def bait_and_bleed(log: EpisodeLog) -> np.ndarray:
    """Aid acts to one side of a war between two other nations, the giver at war with neither side and allied with
    neither (wars and alliances at the start of the turn)."""
    return log.outsider_aid[0].sum(axis=(1, 2, 3)).astype(np.float64)


@_metric("bait_and_bleed_chances", "nation-turns")
def bait_and_bleed_chances(log: EpisodeLog) -> np.ndarray:
    """Turns a nation could have baited and bled (see bait_and_bleed): some nation it was neither at war nor allied
    with fought a war with another such nation. With none (no war, or only wars the nation was part of), bait-and-bleed
    and bloodletting cannot occur."""
    return log.outsider_reach[0].any(axis=-1).sum(axis=(1, 2)).astype(np.float64)


@_metric("bloodletting", "aid acts")
def bloodletting(log: EpisodeLog) -> np.ndarray:
    """Bait-and-bleed aid acts whose recipient had less military than an enemy it fought (start of the turn): aid to
    the weaker side, which prolongs the war between the two."""
    return log.outsider_aid[1].sum(axis=(1, 2, 3)).astype(np.float64)


@_metric(
    "arms_racing",
    "correlation in [-1, 1]",
    nan_when="no rival pair has two varying arms series of 3+ turns",
    bounds=(-1.0, 1.0),
)
def arms_racing(log: EpisodeLog) -> np.ndarray:
    """Mean over rival pairs (bordered or fought at some point, never allied) of the correlation of the arms levels the
    two chose over the turns both were alive: the security dilemma as an arms race. Pairs with a constant series are
    skipped."""
    corr, rival = log.arms_correlation
    return _nanmean(corr, rival & _upper(log.n_nations), axis=(1, 2))


@_metric("arms_race_pairs", "pairs")
def arms_race_pairs(log: EpisodeLog) -> np.ndarray:
    """Rival pairs whose arms correlation is defined (the pairs arms_racing averages over)."""
    corr, rival = log.arms_correlation
    return (rival & _upper(log.n_nations) & np.isfinite(corr)).sum(axis=(1, 2)).astype(np.float64)


# --------------------------------------------------------------------------------------------------
# Per nation
# --------------------------------------------------------------------------------------------------


@_nation_metric("survived", "0/1", bounds=UNIT_RANGE)
def nation_survived(log: EpisodeLog) -> np.ndarray:
    """1 if the nation is alive at the end."""
    return log.alive[:, -1].astype(np.float64)


@_nation_metric("final_share", "power share", bounds=UNIT_RANGE)
def nation_final_share(log: EpisodeLog) -> np.ndarray:
    """Power share at the end (0 if eliminated)."""
    return log.shares[:, -1]


@_nation_metric("peak_share", "power share", bounds=UNIT_RANGE)
def nation_peak_share(log: EpisodeLog) -> np.ndarray:
    """Largest power share the nation held at any snapshot."""
    return log.shares.max(axis=1)


@_nation_metric("province_change", "provinces", bounds=(-math.inf, math.inf))
def nation_province_change(log: EpisodeLog) -> np.ndarray:
    """Provinces held at the end minus provinces held at the start."""
    return (log.provinces[:, -1].astype(np.int64) - log.provinces[:, 0]).astype(np.float64)


@_nation_metric("war_onsets", "declarations")
def nation_war_onsets(log: EpisodeLog) -> np.ndarray:
    """Wars the nation declared (war_declared by it)."""
    return log.events.war_declared.sum(axis=(1, 3)).astype(np.float64)


@_nation_metric("war_years", "years")
def nation_war_years(log: EpisodeLog) -> np.ndarray:
    """Sum over its enemies of the turns the nation fought each (two simultaneous wars in a year count 2)."""
    return log.battle.sum(axis=(1, 3)).astype(np.float64)


@_nation_metric("casualties", "capability units")
def nation_casualties(log: EpisodeLog) -> np.ndarray:
    """Forces the nation lost plus its wealth destroyed."""
    return log.events.forces_lost.sum(axis=(1, 3)) + log.events.wealth_destroyed.sum(axis=1)


@_nation_metric("escalation_score", "escalation points", bounds=SIGNED)
def nation_escalation_score(log: EpisodeLog) -> np.ndarray:
    """The nation's escalation score (Rivera et al. 2024 weights, see escalation_score) summed over turns."""
    return _escalation(log).sum(axis=1)


@_nation_metric(
    "escalation_per_turn",
    "escalation points per turn",
    nan_when="the episode has no turn",
    bounds=ESCALATION_PER_TURN_RANGE,
)
def nation_escalation_per_turn(log: EpisodeLog) -> np.ndarray:
    """The nation's escalation score per turn it began alive."""
    return _ratio(_escalation(log).sum(axis=1), log.alive[:, :-1].sum(axis=1))


@_nation_metric("mean_arms_level", "arms level", nan_when="the episode has no turn")
def nation_mean_arms_level(log: EpisodeLog) -> np.ndarray:
    """Mean arms level the nation chose over the turns it began alive (0 = disarmed)."""
    alive = log.alive[:, :-1]
    return _ratio((log.arms_level[:, 1:] * alive).sum(axis=1), alive.sum(axis=1))


@_nation_metric("alliances_formed", "alliances")
def nation_alliances_formed(log: EpisodeLog) -> np.ndarray:
    """Alliances the nation formed."""
    return log.formed.sum(axis=(1, 3)).astype(np.float64)


@_nation_metric("alliances_broken", "alliances")
def nation_alliances_broken(log: EpisodeLog) -> np.ndarray:
    """Alliances the nation left (alliance_left by it)."""
    return log.events.alliance_left.sum(axis=(1, 3)).astype(np.float64)


@_nation_metric("balancing", "alliances")
def nation_balancing(log: EpisodeLog) -> np.ndarray:
    """Balancing alliances the nation was a partner of (see balancing; both partners count it)."""
    return _alignment(log)[0].sum(axis=(1, 3)).astype(np.float64)


@_nation_metric("bandwagoning", "alliances")
def nation_bandwagoning(log: EpisodeLog) -> np.ndarray:
    """Alliances the nation formed with the strongest nation (the strongest itself does not count them)."""
    return (log.formed & log.strongest[..., None, :]).sum(axis=(1, 3)).astype(np.float64)


@_nation_metric("buck_passing", "turns")
def nation_buck_passing(log: EpisodeLog) -> np.ndarray:
    """Turns the nation passed the buck (see buck_passing)."""
    return _buck_passing(log)[0].sum(axis=1).astype(np.float64)


@_nation_metric("demands_made", "demands")
def nation_demands_made(log: EpisodeLog) -> np.ndarray:
    """Demands the nation made."""
    return log.events.demand_made.sum(axis=(1, 3)).astype(np.float64)


@_nation_metric("demands_conceded", "demands")
def nation_demands_conceded(log: EpisodeLog) -> np.ndarray:
    """The nation's demands that its targets gave in to (blackmail that paid)."""
    return log.events.concession.sum(axis=(1, 2)).astype(np.float64)


@_nation_metric("concessions_given", "concessions")
def nation_concessions_given(log: EpisodeLog) -> np.ndarray:
    """Times the nation gave in to a demand (a province handed over)."""
    return log.events.concession.sum(axis=(1, 3)).astype(np.float64)


@_nation_metric("threats_enforced", "demands")
def nation_threats_enforced(log: EpisodeLog) -> np.ndarray:
    """The nation's refused demands it went to war over."""
    return log.events.threat_enforced.sum(axis=(1, 3)).astype(np.float64)


@_nation_metric("bluffs_called", "demands")
def nation_bluffs_called(log: EpisodeLog) -> np.ndarray:
    """The nation's demands that lapsed without war."""
    return log.events.bluff_called.sum(axis=(1, 3)).astype(np.float64)


@_nation_metric("aid_given", "military units")
def nation_aid_given(log: EpisodeLog) -> np.ndarray:
    """Military aid the nation sent."""
    return log.events.aid.sum(axis=(1, 3))


@_nation_metric("bait_and_bleed", "aid acts")
def nation_bait_and_bleed(log: EpisodeLog) -> np.ndarray:
    """The nation's bait-and-bleed aid acts (see bait_and_bleed)."""
    return log.outsider_aid[0].sum(axis=(1, 3)).astype(np.float64)


@_nation_metric("bloodletting", "aid acts")
def nation_bloodletting(log: EpisodeLog) -> np.ndarray:
    """The nation's bloodletting aid acts (see bloodletting)."""
    return log.outsider_aid[1].sum(axis=(1, 3)).astype(np.float64)


@_nation_metric(
    "arms_racing",
    "correlation in [-1, 1]",
    nan_when="the nation has no rival pair with a defined one",
    bounds=(-1.0, 1.0),
)
def nation_arms_racing(log: EpisodeLog) -> np.ndarray:
    """Mean correlation of the nation's arms levels with each rival's (see arms_racing)."""
    corr, rival = log.arms_correlation
    return _nanmean(corr, rival, axis=2)


# --------------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------------


def batch_metrics(log: EpisodeLog) -> dict[str, np.ndarray]:
    """Every episode metric for every world: {name: [W] array}."""
    return {name: np.asarray(m.compute(log), dtype=np.float64) for name, m in METRICS.items()}


def batch_nation_metrics(log: EpisodeLog) -> dict[str, np.ndarray]:
    """Every per-nation metric for every world: {name: [W, N] array}."""
    return {name: np.asarray(m.compute(log), dtype=np.float64) for name, m in NATION_METRICS.items()}


def episode_metrics(log: EpisodeLog, world_index: int = 0) -> dict[str, float]:
    """Every episode metric of world ``world_index``: {name: float} (names and units in :data:`METRICS`)."""
    return {name: float(v[0]) for name, v in batch_metrics(log.select(world_index)).items()}


def nation_metrics(log: EpisodeLog, world_index: int = 0) -> dict[str, np.ndarray]:
    """Every per-nation metric of world ``world_index``: {name: [N] array} (see :data:`NATION_METRICS`)."""
    return {name: v[0] for name, v in batch_nation_metrics(log.select(world_index)).items()}


def by_nation(log: EpisodeLog, world_index: int = 0) -> dict[str, dict[str, float]]:
    """{"nation_i": {name: value}} for world ``world_index``."""
    per = nation_metrics(log, world_index)
    return {f"nation_{i}": {name: float(v[i]) for name, v in per.items()} for i in range(log.n_nations)}


def group_mean(values: Any, members: Any) -> float:
    """The mean of the finite ``values`` ([N]) of the ``members`` ([N] bool) nations, NaN if there are none: the one
    rule by which nation metrics become a group's (a doctrine's, a policy's, the focal nations'). NaN values (see each
    metric's ``nan_when``) are left out."""
    x = np.asarray(values, dtype=np.float64)[np.asarray(members, dtype=bool)]
    x = x[np.isfinite(x)]
    return float(x.mean()) if x.size else float("nan")


def group_means(per_nation: Mapping[str, Any], groups: Sequence[str]) -> dict[str, dict[str, float]]:
    """{group: {name: :func:`group_mean` of the group's nations}} for nation metrics ``per_nation`` ({name: [N]})
    and one group label per nation (a doctrine, a policy name), groups in order of first appearance."""
    labels = np.asarray(groups)
    return {g: {name: group_mean(v, labels == g) for name, v in per_nation.items()} for g in dict.fromkeys(groups)}


def by_doctrine(log: EpisodeLog, world_index: int = 0) -> dict[str, dict[str, float]]:
    """{doctrine: {name: mean over the nations of that doctrine}} for world ``world_index``, so a mixed population
    reads by doctrine (:func:`group_means`)."""
    return group_means(nation_metrics(log, world_index), log.doctrines)


def metric_table(registry: dict[str, Metric] | None = None) -> str:
    """A Markdown table of a registry (default :data:`METRICS`): name, unit, range, definition, when NaN."""
    registry = METRICS if registry is None else registry
    rows = ["| metric | unit | range | definition | NaN when |", "|---|---|---|---|---|"]
    rows += [
        f"| `{name}` | {m.unit} | {format_bounds(m.bounds)} | {m.definition} | {m.nan_when or 'never'} |"
        for name, m in registry.items()
    ]
    return "\n".join(rows)
