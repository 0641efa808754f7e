"""What a nation observes, with a named layout so nobody slices observations by magic index.

:func:`observe` is array code of the rules' backend (numpy, torch, any array-API library): every nation's vector is
one gather from a row of source values per world, with the misperception noise passed in as a draw.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from realism_env.actions import N_ACTS, Act
from realism_env.array_ops import zero_unless
from realism_env.backend import array_namespace
from realism_env.rules import EPS, Territory, acted_on, credibility, relative_order, territory
from realism_env.world import World

if TYPE_CHECKING:
    from realism_env.config import EnvConfig

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

    # The fields and their positions are derived once per layout (scripted policies read a dozen fields a turn).
    @cached_property
    def own_fields(self) -> tuple[str, ...]:
        return tuple(f for f, _ in OWN_FIELDS) + tuple(f"doctrine_{d}" for d in self.doctrine_names)

    @cached_property
    def other_fields(self) -> tuple[str, ...]:
        return tuple(f for f, _ in OTHER_FIELDS) + tuple(f"doctrine_{d}" for d in self.doctrine_names)

    @property
    def size(self) -> int:
        return len(self.own_fields) + (self.n_nations - 1) * len(self.other_fields)

    @cached_property
    def _own_positions(self) -> dict[str, int]:
        return {name: k for k, name in enumerate(self.own_fields)}

    @cached_property
    def _other_positions(self) -> dict[str, np.ndarray]:
        start, width = len(self.own_fields), len(self.other_fields)
        positions = {}
        for offset, name in enumerate(self.other_fields):
            indices = start + offset + width * np.arange(self.n_nations - 1)
            indices.flags.writeable = False  # shared by every caller
            positions[name] = indices
        return positions

    def own_index(self, name: str) -> int:
        """Index of own field ``name`` in the flat vector."""
        try:
            return self._own_positions[name]
        except KeyError:
            raise ValueError(f"unknown own field {name!r}; valid: {', '.join(self.own_fields)}") from None

    def other_indices(self, name: str) -> np.ndarray:
        """Indices (read-only) of field ``name`` for every other nation, in slot order."""
        try:
            return self._other_positions[name]
        except KeyError:
            raise ValueError(f"unknown other field {name!r}; valid: {', '.join(self.other_fields)}") from None

    def own(self, observation: np.ndarray, name: str) -> np.ndarray:
        """Own field ``name`` (works on ``[..., size]`` batches)."""
        return self._checked(observation)[..., self.own_index(name)]

    def other(self, observation: np.ndarray, name: str) -> np.ndarray:
        """Field ``name`` of every other nation, ``[..., N-1]`` in slot order: a strided view of ``observation`` (the
        slots' blocks are evenly spaced), as numpy's slices are; copy it before writing to it."""
        first = self.other_indices(name)[0]
        return self._checked(observation)[..., first :: len(self.other_fields)]

    def _checked(self, observation: Any) -> Any:
        """``observation`` when it is an array whose last axis is this layout's size: another size is the observation of
        an env of another nation count (or doctrine reveal), whose fields sit elsewhere and would read silently
        wrong."""
        shape = getattr(observation, "shape", None)
        if shape is None or len(shape) == 0 or shape[-1] != self.size:
            if isinstance(observation, dict):
                what, hint = "a dict", " (pass observations[agent]['observation'], not the dict)"
            else:
                what, hint = (type(observation).__name__ if shape is None else f"shape {tuple(shape)}"), ""
            raise ValueError(
                f"observation of {what} is invalid for this layout; valid: an array of shape [..., {self.size}], "
                f"the observation vector of an env of {self.n_nations} nations{hint}"
            )
        return observation

    def decode(self, observation: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
        """The whole observation as ``{"own": {field: value}, "others": {field: [N-1]}}``."""
        return {
            "own": {f: self.own(observation, f) for f in self.own_fields},
            "others": {f: self.other(observation, f) for f in self.other_fields},
        }


# Where observe() reads each field: one source row of per-nation values, one scalar, and [N, N] pairwise blocks
# (flags first, then values). Every observation is then a single gather from that row.
_NATION_VALUES = (
    "own_military", "wealth", "provinces", "arms_level", "credibility", "alive",  # computed in the world's dtype
    "wars", "alliances", "demands_made", "demands_received",  # counted from the pairwise flags, in float32
)  # fmt: skip
_PAIR_FLAGS = (
    "at_war", "allied", "demand", "land_border", "sea_border", "proposal", "peace_offer", "acted_on_observer",
)  # fmt: skip
_PAIR_VALUES = ("military", "war_years")
_PAIRS = _PAIR_FLAGS + _PAIR_VALUES
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


class ObservationTables(NamedTuple):
    """Constant arrays of the observation of one config on one backend (:func:`observation_tables`)."""

    gather: Any  #: [N * D] int, where each entry of every nation's vector is read in the source row
    level_fraction: Any  #: [L] float, each arms level as a fraction of the highest
    act_one_hot: Any  #: [K, K] float32
    doctrines: Any  #: [1, N * R] float32, each nation's doctrine one-hot over the revealed doctrines (R may be 0)
    nations: Any  #: [N] int
    misperceived: Any  #: [N, N] bool, off the diagonal: others' forces are seen through noise, one's own is known


def _gather(n: int, n_revealed: int) -> np.ndarray:
    """[N, D] where each entry of nation i's observation vector is read in the source row."""
    n_values = len(_NATION_VALUES)
    turn_at = n_values * n
    acts_at = turn_at + 1
    doctrine_at = acts_at + n * N_ACTS
    pairs_at = doctrine_at + n * n_revealed
    me = np.arange(n)[:, None]  # [N, 1] observer i
    other = relative_order(n)  # [N, N-1] nation j in each slot

    def nation(name: str, who: np.ndarray) -> np.ndarray:
        return _NATION_VALUES.index(name) * n + who

    def pair(name: str, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        return pairs_at + (_PAIRS.index(name) * n + i) * n + j

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
    return np.concatenate([own_block, other_blocks], axis=1)


def observation_tables(
    config: EnvConfig,
    doctrine_one_hot: np.ndarray,
    xp: Any = np,
    device: Any = "cpu",
    float_dtype: Any = None,
) -> ObservationTables:
    """The observation's constant tables. ``doctrine_one_hot`` ([N, R]) is each nation's doctrine over the doctrines
    revealed in observations (``R = 0`` unless ``config.reveal_doctrines``)."""
    float_dtype = xp.float64 if float_dtype is None else float_dtype
    n, n_levels = config.n_nations, len(config.arms_shares)
    revealed = doctrine_one_hot.shape[1] if config.reveal_doctrines else 0
    return ObservationTables(
        gather=xp.asarray(_gather(n, revealed).reshape(-1).astype(np.int64), device=device),
        level_fraction=xp.asarray(np.arange(n_levels) / (n_levels - 1), dtype=float_dtype, device=device),
        act_one_hot=xp.asarray(np.eye(N_ACTS, dtype=np.float32), device=device),
        doctrines=xp.asarray(doctrine_one_hot[:, :revealed].reshape(1, -1).astype(np.float32), device=device),
        nations=xp.asarray(np.arange(n, dtype=np.int64), device=device),
        misperceived=xp.asarray(~np.eye(n, dtype=bool), device=device),
    )


def observe(
    world: World,
    config: EnvConfig,
    perception: Any,
    tables: ObservationTables,
    land: Territory | None = None,
) -> Any:
    """[W, N, size] float32 observations of every nation. Other nations' forces are seen through log-normal noise
    whose mean is the truth (misperception: Bremer & Mihalka 1977; Cusack & Stoll 1990): ``perception`` is a
    [W, N, N] standard normal draw, and observer i sees j's forces times ``exp(sigma * z - sigma^2 / 2)``."""
    xp = array_namespace(world.owner)
    land = territory(world) if land is None else land
    n_worlds, n = world.n_worlds, world.n_nations
    float_dtype = world.wealth.dtype
    sigma = config.misperception
    # exp(0) = 1 on the diagonal: a nation knows its own forces
    noise = xp.exp(zero_unless(tables.misperceived, sigma * xp.astype(perception, float_dtype) - 0.5 * sigma**2))
    estimate = xp.where(world.alive, world.military, 0.0)[:, None, :] * noise  # [W, observer i, j]
    perceived_total = xp.maximum(xp.sum(estimate, axis=2), EPS)  # [W, i]
    nation_values = xp.concat(  # [W, values * N]: each value's N nations in turn
        [
            world.military / perceived_total,
            land.income / xp.maximum(xp.sum(land.income, axis=1, keepdims=True), EPS),
            land.held / float(world.n_provinces),
            xp.reshape(xp.take(tables.level_fraction, xp.reshape(world.arms_level, (-1,))), (n_worlds, n)),
            credibility(world),
            xp.astype(world.alive, float_dtype),
        ],
        axis=1,
    )
    turn = xp.astype(world.turn, float_dtype)[:, None] / float(config.max_cycles)
    acted_on_observer = acted_on(world, tables.nations)
    flags = xp.stack(
        [
            world.at_war,
            world.allied,
            world.demand,
            land.land_border,
            land.sea_border,
            world.alliance_proposal,
            world.peace_offer,
            acted_on_observer,
        ],
        axis=1,
    )
    flags = xp.astype(flags, xp.float32)
    # Wars, alliances and demands made (then received) over N - 1: float32 division of small counts rounds exactly.
    others = float(max(n - 1, 1))
    made = xp.sum(flags[:, :3, ...], axis=3) / others  # [W, 3, N]: wars, alliances, demands made
    received = xp.sum(flags[:, 2, ...], axis=1) / others  # [W, N]: demands received
    values = xp.stack(
        [estimate / perceived_total[:, :, None], xp.astype(world.war_years, float_dtype) / float(config.max_cycles)],
        axis=1,
    )
    blocks = [
        xp.astype(nation_values, xp.float32),
        xp.reshape(made, (n_worlds, -1)),
        received,
        xp.astype(turn, xp.float32),
        xp.reshape(xp.take(tables.act_one_hot, xp.reshape(world.last_act, (-1,)), axis=0), (n_worlds, -1)),
    ]
    if tables.doctrines.shape[1]:  # the doctrine one-hot, when doctrines are revealed
        blocks.append(xp.broadcast_to(tables.doctrines, (n_worlds, tables.doctrines.shape[1])))
    blocks += [xp.reshape(flags, (n_worlds, -1)), xp.reshape(xp.astype(values, xp.float32), (n_worlds, -1))]
    return xp.reshape(xp.take(xp.concat(blocks, axis=1), tables.gather, axis=1), (n_worlds, n, -1))


def global_state(world: World, config: EnvConfig) -> Any:
    """[W, size] float32 true global state: per nation (alive, military share, income share, provinces
    share, arms level), the war and alliance matrices, each province's owner / N and wealth share, turn."""
    xp = array_namespace(world.owner)
    n, n_worlds = world.n_nations, world.n_worlds
    float_dtype = world.wealth.dtype
    land = territory(world)
    inc = land.income
    per_nation = xp.stack(
        [
            xp.astype(world.alive, float_dtype),
            world.military / xp.maximum(xp.sum(world.military, axis=1, keepdims=True), EPS),
            inc / xp.maximum(xp.sum(inc, axis=1, keepdims=True), EPS),
            land.held / float(world.n_provinces),
            xp.astype(world.arms_level, float_dtype) / float(len(config.arms_shares) - 1),
        ],
        axis=2,
    )
    state = xp.concat(
        [
            xp.reshape(per_nation, (n_worlds, -1)),
            xp.reshape(xp.astype(world.at_war, float_dtype), (n_worlds, -1)),
            xp.reshape(xp.astype(world.allied, float_dtype), (n_worlds, -1)),
            xp.astype(world.owner, float_dtype) / float(n),
            world.wealth / xp.maximum(xp.sum(world.wealth, axis=1, keepdims=True), EPS),
            xp.astype(world.turn, float_dtype)[:, None] / float(config.max_cycles),
        ],
        axis=1,
    )
    return xp.astype(state, xp.float32)


def state_size(config: EnvConfig) -> int:
    n = config.n_nations
    return 5 * n + 2 * n * n + 2 * config.n_provinces + 1
