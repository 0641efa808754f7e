"""Doctrines: what a nation is rewarded for. Pure functions of one turn's outcome, for all nations at once.

Built in:

``security`` (defensive realism, Waltz 1979)::

    r = w_survival * alive + w_margin * min(1, S / S*) - w_territory * lost / initial - w_elimination * eliminated
    S = (own military + allies' military) / max military of a non-allied neighbour or enemy (S = inf if none)

S* is ``EnvConfig.security_sufficiency`` (1.1, the M3 security rule): power beyond what deters earns nothing.

``power`` (offensive realism, Mearsheimer 2001)::

    r = w_share * n_nations * share + w_hegemony * [share > hegemony_share] - w_elimination * eliminated
    share = (military share + economic share) / 2       (a CINC-like capability share)

``n_nations * share`` is 1 at parity, so rewards keep their scale as the number of nations changes.

Add your own with :func:`register_doctrine` without touching the package.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from realism_env.actions import Act
from realism_env.config import EnvConfig
from realism_env.rules import Events, act_target_validity, count_nonzero, income, power_share, provinces_held
from realism_env.world import World

_ATTACK = int(Act.ATTACK)


class _computed_once:
    """Like ``functools.cached_property`` without its lock (Python 3.11 takes one on every first access): the
    value is stored on the instance, which then shadows this descriptor."""

    def __init__(self, func: Callable) -> None:
        self.func = func
        self.name = func.__name__
        self.__doc__ = func.__doc__

    def __get__(self, instance: object, owner: type | None = None) -> object:
        if instance is None:
            return self
        value = instance.__dict__[self.name] = self.func(instance)
        return value


class Outcome:
    """The quantities of one turn that doctrines reward, ``[W, N]`` each. Each is computed on first use and
    then kept, so a doctrine pays only for what it reads."""

    def __init__(self, before: World, after: World, events: Events) -> None:
        self.before, self.after, self.events = before, after, events
        self.n_nations = after.n_nations

    @property
    def alive(self) -> np.ndarray:
        """Alive after the turn."""
        return self.after.alive

    @property
    def eliminated(self) -> np.ndarray:
        """Eliminated this turn."""
        return self.events.eliminated

    @property
    def initial_provinces(self) -> np.ndarray:
        return self.after.initial_provinces

    @property
    def territory_changed(self) -> bool:
        """Whether any province changed hands this turn (if not, ``provinces_lost`` is all zero)."""
        return self.after.owner is not self.before.owner

    @_computed_once
    def provinces_lost(self) -> np.ndarray:
        """Provinces lost this turn (by force or concession)."""
        if not self.territory_changed:
            return np.zeros(self.after.alive.shape)
        return np.maximum(provinces_held(self.before) - provinces_held(self.after), 0)

    @_computed_once
    def power_share(self) -> np.ndarray:
        """Capability share after the turn (:func:`realism_env.rules.power_share`)."""
        return power_share(self.after, income(self.after))

    @_computed_once
    def security_ratio(self) -> np.ndarray:
        """Own side's forces over the strongest threat's (inf if none)."""
        after = self.after
        mil = after.military
        # Allies count towards one's own side (Waltz: external balancing).
        own_side = mil
        if count_nonzero(after.allied):  # skipping is exact: with no alliance, allies add nothing
            own_side = mil + np.add.reduce(np.where(after.allied, mil[:, None, :], 0.0), axis=2)
        # A threat is a live, non-allied nation one borders or is at war with: exactly the nations one may
        # attack, so the attack rule's own test is used (one definition).
        threat = act_target_validity(after)[:, _ATTACK]
        strongest = np.maximum.reduce(np.where(threat, mil[:, None, :], 0.0), axis=2)
        return np.where(strongest > 0, own_side / np.maximum(strongest, 1e-300), np.inf)


def outcome(before: World, after: World, events: Events, config: EnvConfig) -> Outcome:
    """Summarise a turn for the doctrines (all nations, all worlds, no loops)."""
    return Outcome(before, after, events)


TermFunction = Callable[[Outcome, EnvConfig], dict[str, np.ndarray]]


@dataclass(frozen=True)
class Doctrine:
    """A reward: named terms whose sum is the reward. ``terms(outcome, config)`` returns ``[W, N]`` arrays."""

    name: str
    description: str
    terms: TermFunction

    def reward(self, out: Outcome, config: EnvConfig) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        parts = self.terms(out, config)
        terms = iter(parts.values())
        total = next(terms, None)
        if total is None:  # a doctrine with no terms rewards nothing
            return np.zeros(out.alive.shape), parts
        for term in terms:
            total = total + term
        return total, parts


def _weighted(flags: np.ndarray, weight: float) -> np.ndarray:
    """``weight * flags`` for a bool array, as floats (with its signed zeros), without a mixed-type product."""
    return np.where(flags, weight, 0.0 * weight)


@dataclass(frozen=True)
class SecurityTerms:
    """Defensive realism (Waltz 1979): survival and a sufficient margin over the strongest threat."""

    survival: float = 0.5
    margin: float = 1.0
    territory: float = 2.0
    elimination: float = 10.0

    def __call__(self, out: Outcome, config: EnvConfig) -> dict[str, np.ndarray]:
        margin = np.where(out.alive, np.minimum(1.0, out.security_ratio / config.security_sufficiency), 0.0)
        if out.territory_changed:
            territory_lost = -self.territory * out.provinces_lost / np.maximum(out.initial_provinces, 1)
        else:  # nothing lost: the formula's (signed) zeros without its arithmetic
            territory_lost = np.empty(out.alive.shape)
            territory_lost.fill(-self.territory * 0.0)  # np.full, without its Python layer
        return {
            "survival": _weighted(out.alive, self.survival),
            "security_margin": margin if self.margin == 1.0 else self.margin * margin,
            "territory_lost": territory_lost,
            "elimination": _weighted(out.eliminated, -self.elimination),
        }


@dataclass(frozen=True)
class PowerTerms:
    """Offensive realism (Mearsheimer 2001): relative power, and hegemony as the goal."""

    share: float = 1.0
    hegemony: float = 1.0
    elimination: float = 10.0

    def __call__(self, out: Outcome, config: EnvConfig) -> dict[str, np.ndarray]:
        return {
            "relative_power": self.share * out.n_nations * out.power_share,
            "hegemony": _weighted(out.power_share > config.hegemony_share, self.hegemony),
            "elimination": _weighted(out.eliminated, -self.elimination),
        }


DOCTRINES: dict[str, Doctrine] = {}


def register_doctrine(doctrine: Doctrine, *, overwrite: bool = False) -> Doctrine:
    """Add ``doctrine`` to :data:`DOCTRINES` so configs can name it."""
    if not isinstance(doctrine, Doctrine):
        raise ValueError(f"register_doctrine takes a Doctrine, got {type(doctrine).__name__}")
    if not doctrine.name or not isinstance(doctrine.name, str):
        raise ValueError(f"a doctrine needs a non-empty string name, got {doctrine.name!r}")
    if doctrine.name in DOCTRINES and not overwrite:
        raise ValueError(f"doctrine {doctrine.name!r} is already registered; pass overwrite=True to replace it")
    DOCTRINES[doctrine.name] = doctrine
    return doctrine


register_doctrine(Doctrine("security", "defensive realism: security up to sufficiency (Waltz)", SecurityTerms()))
register_doctrine(Doctrine("power", "offensive realism: relative power and hegemony (Mearsheimer)", PowerTerms()))


class DoctrineTerms(NamedTuple):
    """One doctrine's reward terms for all nations (``[W, N]`` each); only ``members`` hold that doctrine."""

    doctrine: Doctrine
    members: np.ndarray  #: [N] bool
    terms: dict[str, np.ndarray]


def doctrine_groups(doctrine_per_nation: tuple[Doctrine, ...]) -> tuple[tuple[Doctrine, np.ndarray], ...]:
    """Each distinct doctrine with the [N] bool mask of the nations that hold it (resolve once, reuse)."""
    distinct: list[Doctrine] = []
    for doctrine in doctrine_per_nation:
        if not any(doctrine is d for d in distinct):
            distinct.append(doctrine)
    return tuple((d, np.array([x is d for x in doctrine_per_nation])) for d in distinct)


def rewards(
    doctrines: tuple[Doctrine, ...] | tuple[tuple[Doctrine, np.ndarray], ...], out: Outcome, config: EnvConfig
) -> tuple[np.ndarray, list[DoctrineTerms]]:
    """``[W, N]`` rewards, and the terms of each doctrine present. ``doctrines`` is one Doctrine per nation,
    or their :func:`doctrine_groups`. Each distinct doctrine is evaluated once for all nations at once, so
    no reward depends on the order nations are asked."""
    groups = doctrines if doctrines and isinstance(doctrines[0], tuple) else doctrine_groups(doctrines)
    results = []
    total = None
    for doctrine, members in groups:
        reward, parts = doctrine.reward(out, config)
        total = reward if total is None else np.where(members, reward, total)
        results.append(DoctrineTerms(doctrine, members, parts))
    return total, results


def _as_floats(term: np.ndarray) -> np.ndarray:
    return term if type(term) is np.ndarray and term.dtype == np.float64 else np.asarray(term, dtype=np.float64)


def terms_per_nation(
    groups: list[DoctrineTerms], world_index: int = 0, nations: list[int] | None = None
) -> list[dict[str, float]]:
    """Each nation's own doctrine's terms in one world, as plain floats (for ``infos``); only for ``nations``
    (indices; all by default), the others get ``{}``."""
    out: list[dict[str, float]] = [{} for _ in range(len(groups[0].members))]
    for group in groups:
        names = list(group.terms)
        columns = [_as_floats(term)[world_index].tolist() for term in group.terms.values()]
        members = group.members.tolist()
        # Lengths are equal by construction; zip(strict=True) would cost time on every step.
        rows = list(zip(*columns, strict=False)) if columns else [()] * len(members)
        for i in range(len(members)) if nations is None else nations:
            if members[i]:
                out[i] = dict(zip(names, rows[i], strict=False))
    return out
