"""What a nation observes, with a named layout so nobody slices observations by magic index."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from realism_env.actions import N_ACTS, Act
from realism_env.config import EnvConfig
from realism_env.rules import borders, credibility, income, indices, provinces_held, relative_order
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
    order = relative_order(n)  # [N, N-1]
    sigma = config.misperception
    noise = rng.lognormal(-0.5 * sigma**2, sigma, (n_worlds, n, n))  # mean 1: estimates are unbiased
    noise[:, indices(n), indices(n)] = 1.0  # a nation knows its own forces
    estimate = world.military[:, None, :] * noise * world.alive[:, None, :]  # [W, observer i, j]
    perceived_total = np.maximum(np.add.reduce(estimate, axis=2), _EPS)  # [W, i]
    inc = income(world)
    income_share = inc / np.maximum(np.add.reduce(inc, axis=1, keepdims=True), _EPS)
    held_share = provinces_held(world) / world.n_provinces
    land, sea = borders(world)
    cred = credibility(world)
    scale = 1.0 / max(n - 1, 1)
    n_own, n_other = len(OWN_FIELDS), len(OTHER_FIELDS)
    revealed = doctrine_onehot.shape[1] if config.reveal_doctrines and doctrine_onehot is not None else 0
    own_width, other_width = n_own + revealed, n_other + revealed

    flat = np.empty((n_worlds, n, own_width + (n - 1) * other_width), dtype=np.float32)
    own = flat[..., :own_width]
    own[..., 0] = world.military / perceived_total
    own[..., 1] = income_share
    own[..., 2] = held_share
    own[..., 3] = world.arms_level / (len(config.arms_shares) - 1)
    own[..., 4] = np.add.reduce(world.at_war, axis=2) * scale
    own[..., 5] = np.add.reduce(world.allied, axis=2) * scale
    own[..., 6] = np.add.reduce(world.demand, axis=2) * scale
    own[..., 7] = np.add.reduce(world.demand, axis=1) * scale
    own[..., 8] = cred
    own[..., 9] = world.turn[:, None] / config.max_cycles

    # Pairwise features [W, observer i, other j, F], gathered once into relative slots.
    pair = np.empty((n_worlds, n, n, other_width), dtype=np.float32)
    pair[..., 0] = world.alive[:, None, :]
    pair[..., 1] = estimate / perceived_total[:, :, None]
    pair[..., 2] = income_share[:, None, :]
    pair[..., 3] = held_share[:, None, :]
    pair[..., 4] = land
    pair[..., 5] = sea
    pair[..., 6] = world.at_war
    pair[..., 7] = world.allied
    pair[..., 8] = world.war_years / config.max_cycles
    pair[..., 9] = world.alliance_proposal.transpose(0, 2, 1)
    pair[..., 10] = world.alliance_proposal
    pair[..., 11] = world.peace_offer.transpose(0, 2, 1)
    pair[..., 12] = world.demand.transpose(0, 2, 1)
    pair[..., 13] = world.demand
    pair[..., 14] = cred[:, None, :]
    pair[..., 15] = own[:, None, :, 4]  # the wars and alliances of every nation are public knowledge
    pair[..., 16] = own[:, None, :, 5]
    # j's public act last turn was aimed at the observer i.
    pair[..., 17] = (world.last_target[:, None, :] == indices(n)[:, None]) & (world.last_act != _WAIT)[:, None, :]
    pair[..., 18:n_other] = world.last_act[:, None, :, None] == indices(N_ACTS)
    if revealed:
        own[..., n_own:] = doctrine_onehot
        pair[..., n_other:] = doctrine_onehot[None, None]
    flat[..., own_width:].reshape(n_worlds, n, n - 1, other_width)[...] = pair[:, indices(n)[:, None], order]
    return flat


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
