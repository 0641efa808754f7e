"""What a nation observes, with a named layout so nobody slices observations by magic index."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from realism_env.actions import N_ACTS, Act
from realism_env.config import EnvConfig
from realism_env.rules import acted_on, borders, credibility, income, provinces_held, relative_order
from realism_env.world import World

_EPS = 1e-9
_WAIT = int(Act.WAIT)  # a plain int: numpy is slow to combine arrays with IntEnum members

OWN_FIELDS: tuple[tuple[str, str], ...] = (
    ("military", "own military / (own military + estimated military of all others)"),
    ("wealth", "own income / the system's income"),
    ("provinces", "own provinces / all provinces"),
    ("arms_level", "own domestic arms level / highest level"),
    ("wars", "wars being fought / (N - 1)"),
    ("alliances", "allies / (N - 1)"),
    ("demands_made", "own standing demands on others / (N - 1)"),
    ("demands_received", "others' standing demands on this nation / (N - 1)"),
    ("credibility", "own record of carrying out threats (Laplace rule), 0..1"),
    ("turn", "turn / max_cycles"),
)
OTHER_FIELDS: tuple[tuple[str, str], ...] = (
    ("alive", "1 if the nation still exists"),
    ("military", "estimated military (log-normal misperception) / the observer's perceived total"),
    ("wealth", "income / the system's income"),
    ("provinces", "provinces / all provinces"),
    ("land_border", "1 if it borders the observer by land"),
    ("sea_border", "1 if linked to the observer by sea only"),
    ("at_war", "1 if at war with the observer"),
    ("allied", "1 if allied with the observer"),
    ("war_years", "years of its war with the observer / max_cycles"),
    ("proposal_received", "1 if it stands proposing an alliance to the observer"),
    ("proposal_made", "1 if the observer stands proposing an alliance to it"),
    ("peace_offer_received", "1 if it stands offering the observer peace"),
    ("demand_received", "1 if it stands demanding a province of the observer"),
    ("demand_made", "1 if the observer stands demanding a province of it"),
    ("credibility", "its record of carrying out threats, 0..1"),
    ("wars", "wars it fights (with anyone) / (N - 1): wars are public"),
    ("alliances", "its allies (anyone) / (N - 1): alliances are public"),
    ("acted_on_observer", "1 if its public act last turn was aimed at the observer"),
) + tuple((f"last_act_{a.name.lower()}", f"1 if its public act last turn was {a.name}") for a in Act)


@dataclass(frozen=True)
class ObservationLayout:
    """Where each named field sits in the flat observation vector of one nation.

    The vector is the own block, then one block per other nation in relative order (slot ``k`` is
    nation ``(self + k + 1) % N``, the same slots the action's target uses), each block laid out as
    :data:`OTHER_FIELDS` (plus a doctrine one-hot when ``doctrine_names`` is given).
    """

    n_nations: int
    doctrine_names: tuple[str, ...] = ()

    @property
    def own_fields(self) -> tuple[str, ...]:
        return tuple(f for f, _ in OWN_FIELDS) + tuple(f"doctrine_{d}" for d in self.doctrine_names)

    @property
    def other_fields(self) -> tuple[str, ...]:
        return tuple(f for f, _ in OTHER_FIELDS) + tuple(f"doctrine_{d}" for d in self.doctrine_names)

    @property
    def size(self) -> int:
        return len(self.own_fields) + (self.n_nations - 1) * len(self.other_fields)

    def own_index(self, name: str) -> int:
        """Index of own field ``name`` in the flat vector."""
        try:
            return self.own_fields.index(name)
        except ValueError:
            raise ValueError(f"unknown own field {name!r}; valid: {', '.join(self.own_fields)}") from None

    def other_indices(self, name: str) -> np.ndarray:
        """Indices of field ``name`` for every other nation, in slot order."""
        try:
            offset = self.other_fields.index(name)
        except ValueError:
            raise ValueError(f"unknown other field {name!r}; valid: {', '.join(self.other_fields)}") from None
        start = len(self.own_fields)
        return start + offset + len(self.other_fields) * np.arange(self.n_nations - 1)

    def own(self, observation: np.ndarray, name: str) -> np.ndarray:
        """Own field ``name`` (works on ``[..., size]`` batches)."""
        return observation[..., self.own_index(name)]

    def other(self, observation: np.ndarray, name: str) -> np.ndarray:
        """Field ``name`` of every other nation, ``[..., N-1]`` in slot order."""
        return observation[..., self.other_indices(name)]

    def decode(self, observation: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
        """The whole observation as ``{"own": {field: value}, "others": {field: [N-1]}}``."""
        return {
            "own": {f: self.own(observation, f) for f in self.own_fields},
            "others": {f: self.other(observation, f) for f in self.other_fields},
        }


# Where observe() reads each field: one source row of per-nation values, one scalar, and [N, N] pairwise
# blocks. Every observation is then a single gather from that row (observing is per-call overhead bound,
# so the fewer array operations the better).
_NATION_VALUES = (
    "own_military", "wealth", "provinces", "arms_level", "wars", "alliances",
    "demands_made", "demands_received", "credibility", "alive",
)  # fmt: skip
_PAIR_VALUES = (
    "at_war", "allied", "demand", "military", "land_border", "sea_border", "war_years",
    "proposal", "peace_offer", "acted_on_observer",
)  # fmt: skip
_OWN_SOURCE = (  # own field -> per-nation value (turn is the scalar)
    "own_military", "wealth", "provinces", "arms_level", "wars", "alliances",
    "demands_made", "demands_received", "credibility", "turn",
)  # fmt: skip
# other field -> ("nation", value of j) or ("pair", value, True if read as [j, i] rather than [i, j])
_OTHER_SOURCE: dict[str, tuple] = {
    "alive": ("nation", "alive"),
    "military": ("pair", "military", False),
    "wealth": ("nation", "wealth"),
    "provinces": ("nation", "provinces"),
    "land_border": ("pair", "land_border", False),
    "sea_border": ("pair", "sea_border", False),
    "at_war": ("pair", "at_war", False),
    "allied": ("pair", "allied", False),
    "war_years": ("pair", "war_years", False),
    "proposal_received": ("pair", "proposal", True),
    "proposal_made": ("pair", "proposal", False),
    "peace_offer_received": ("pair", "peace_offer", True),
    "demand_received": ("pair", "demand", True),
    "demand_made": ("pair", "demand", False),
    "credibility": ("nation", "credibility"),
    "wars": ("nation", "wars"),
    "alliances": ("nation", "alliances"),
    "acted_on_observer": ("pair", "acted_on_observer", False),
}
assert tuple(_OTHER_SOURCE) == tuple(f for f, _ in OTHER_FIELDS[: len(_OTHER_SOURCE)])  # the rest: last act


_ACT_ONE_HOT = np.eye(N_ACTS, dtype=np.float32)
_ACT_ONE_HOT.flags.writeable = False


@cache
def _level_fraction(n_levels: int) -> np.ndarray:
    """[L] each arms level as a fraction of the highest."""
    fraction = np.arange(n_levels) / (n_levels - 1)
    fraction.flags.writeable = False
    return fraction


@cache
def _source_layout(n: int, n_revealed: int) -> tuple[int, int, int, int, int, np.ndarray]:
    """Offsets in the source row (turn, last-act one-hot, doctrine one-hot, pairwise blocks), its size, and the
    [N, size] gather that turns it into every nation's observation vector."""
    n_values = len(_NATION_VALUES)
    turn_at = n_values * n
    acts_at = turn_at + 1
    doctrine_at = acts_at + n * N_ACTS
    pairs_at = doctrine_at + n * n_revealed
    size = pairs_at + len(_PAIR_VALUES) * n * n
    me = np.arange(n)[:, None]  # [N, 1] observer i
    other = relative_order(n)  # [N, N-1] nation j in each slot

    def nation(name: str, who: np.ndarray) -> np.ndarray:
        return _NATION_VALUES.index(name) * n + who

    def pair(name: str, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        return pairs_at + (_PAIR_VALUES.index(name) * n + i) * n + j

    own = [np.full((n, 1), turn_at) if f == "turn" else nation(f, me) for f in _OWN_SOURCE]
    own += [doctrine_at + me * n_revealed + d for d in range(n_revealed)]
    others = []
    for source in _OTHER_SOURCE.values():
        if source[0] == "nation":
            others.append(nation(source[1], other))
        else:
            i, j = (other, me) if source[2] else (me, other)
            others.append(pair(source[1], np.broadcast_to(i, other.shape), np.broadcast_to(j, other.shape)))
    others += [acts_at + other * N_ACTS + k for k in range(N_ACTS)]
    others += [doctrine_at + other * n_revealed + d for d in range(n_revealed)]
    own_block = np.concatenate(own, axis=1)  # [N, own width]
    other_blocks = np.stack(others, axis=2).reshape(n, -1)  # [N, (N-1) * other width], slot-major
    gather = np.concatenate([own_block, other_blocks], axis=1)
    gather.flags.writeable = False
    return turn_at, acts_at, doctrine_at, pairs_at, size, gather


def observe(
    world: World,
    config: EnvConfig,
    rng: np.random.Generator,
    doctrine_onehot: np.ndarray | None = None,
) -> np.ndarray:
    """[W, N, size] float32 observations of every nation. ``doctrine_onehot`` ([N, D]) is shown only when
    the config reveals doctrines. Other nations' forces are seen through log-normal noise whose mean is
    the truth (misperception: Bremer & Mihalka 1977; Cusack & Stoll 1990)."""
    n_worlds, n = world.n_worlds, world.n_nations
    sigma = config.misperception
    noise = rng.lognormal(-0.5 * sigma**2, sigma, (n_worlds, n, n))  # mean 1: estimates are unbiased
    noise.reshape(n_worlds, n * n)[:, :: n + 1] = 1.0  # a nation knows its own forces (the diagonal)
    estimate = np.where(world.alive, world.military, 0.0)[:, None, :] * noise  # [W, observer i, j]
    perceived_total = np.maximum(np.add.reduce(estimate, axis=2), _EPS)  # [W, i]
    inc = income(world)
    revealed = doctrine_onehot.shape[1] if config.reveal_doctrines and doctrine_onehot is not None else 0
    turn_at, acts_at, doctrine_at, pairs_at, size, gather = _source_layout(n, revealed)
    others = np.float32(max(n - 1, 1))

    source = np.empty((n_worlds, size), dtype=np.float32)
    nation = source[:, :turn_at].reshape(n_worlds, len(_NATION_VALUES), n)
    pair = source[:, pairs_at:].reshape(n_worlds, len(_PAIR_VALUES), n, n)
    pair[:, 0] = world.at_war
    pair[:, 1] = world.allied
    pair[:, 2] = world.demand
    # Counts of wars, alliances and demands made, then demands received, over N - 1 (float32 division of
    # small counts rounds exactly as float64 would).
    np.divide(np.add.reduce(pair[:, :3], axis=3), others, out=nation[:, 4:7])
    np.divide(np.add.reduce(pair[:, 2], axis=1), others, out=nation[:, 7])
    nation[:, 0] = world.military / perceived_total
    nation[:, 1] = inc / np.maximum(np.add.reduce(inc, axis=1, keepdims=True), _EPS)
    nation[:, 2] = provinces_held(world) / world.n_provinces
    nation[:, 3] = _level_fraction(len(config.arms_shares)).take(world.arms_level)
    nation[:, 8] = credibility(world)
    nation[:, 9] = world.alive
    np.divide(world.turn, config.max_cycles, out=source[:, turn_at])
    source[:, acts_at:doctrine_at] = _ACT_ONE_HOT.take(world.last_act, axis=0).reshape(n_worlds, -1)
    if revealed:
        source[:, doctrine_at:pairs_at] = doctrine_onehot.reshape(-1)
    land, sea = borders(world)
    pair[:, 3] = estimate / perceived_total[:, :, None]
    pair[:, 4] = land
    pair[:, 5] = sea
    np.divide(world.war_years, config.max_cycles, out=pair[:, 6])
    pair[:, 7] = world.alliance_proposal
    pair[:, 8] = world.peace_offer
    pair[:, 9] = acted_on(world)
    return source.take(gather, axis=1)


def global_state(world: World, config: EnvConfig) -> np.ndarray:
    """[W, size] float32 true global state: per nation (alive, military share, income share, provinces
    share, arms level), the war and alliance matrices, each province's owner / N and wealth share, turn."""
    n = world.n_nations
    inc = income(world)
    per_nation = np.stack(
        [
            world.alive.astype(np.float64),
            world.military / np.maximum(np.add.reduce(world.military, axis=1, keepdims=True), _EPS),
            inc / np.maximum(np.add.reduce(inc, axis=1, keepdims=True), _EPS),
            provinces_held(world) / world.n_provinces,
            world.arms_level / (len(config.arms_shares) - 1),
        ],
        axis=2,
    ).reshape(world.n_worlds, -1)
    return np.concatenate(
        [
            per_nation,
            world.at_war.reshape(world.n_worlds, -1),
            world.allied.reshape(world.n_worlds, -1),
            world.owner / n,
            world.wealth / np.maximum(np.add.reduce(world.wealth, axis=1, keepdims=True), _EPS),
            world.turn[:, None] / config.max_cycles,
        ],
        axis=1,
    ).astype(np.float32)


def state_size(config: EnvConfig) -> int:
    n = config.n_nations
    return 5 * n + 2 * n * n + 2 * config.n_provinces + 1
