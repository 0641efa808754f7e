"""Doctrines: what a nation is rewarded for. Pure array functions of one turn's outcome, for all nations at once.

Built in:

``security`` (defensive realism, Waltz 1979)::

    r = w_survival * alive + w_margin * min(1, S / S*) - w_territory * lost / initial - w_elimination * eliminated
    S = (own military + allies' military) / max military of a non-allied neighbour or enemy (S = inf if none)

S* is ``EnvConfig.security_sufficiency`` (1.1, after the M3 security rule, whose S is a nation's own capability and
whose 1.1 ends its attacks; here allies count and 1.1 caps the margin): power beyond what deters earns nothing.

``power`` (offensive realism, Mearsheimer 2001)::

    r = w_share * n_nations * share + w_hegemony * [share > hegemony_share] - w_elimination * eliminated
    share = (military share + economic share) / 2       (a CINC-like capability share)

``n_nations * share`` is 1 at parity, so rewards keep their scale as the number of nations changes.

Add your own with :func:`register_doctrine` without touching the package. A doctrine's terms are array code of the
outcome's backend: use ``out.xp`` (numpy for the PettingZoo env; torch for a torch ``WorldBatch``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from realism_env.array_ops import zero_unless
from realism_env.backend import array_namespace, device_of, to_numpy
from realism_env.events import Events
from realism_env.names import NAME_RULE, valid_name
from realism_env.rules import Territory, attackable, power_share, territory
from realism_env.world import World

if TYPE_CHECKING:
    from realism_env.config import EnvConfig

#: The alternation of a mixed population: nation i holds ``MIXED_ORDER[i % 2]`` (nation_0 maximises security).
MIXED_ORDER: tuple[str, ...] = ("security", "power")
#: The name of the population of :data:`MIXED_ORDER` (the trainers' ``--doctrine mixed``).
MIXED = "mixed"
#: Joins the doctrines of a mix of one's own: ``"security+prosperity"`` alternates them over the nations.
MIX_SEPARATOR = "+"


class _computed_once:
    """Like ``functools.cached_property`` without its lock (Python 3.11 takes one on every first access): the value
    is stored on the instance, which then shadows this descriptor."""

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
    """The quantities of one turn that doctrines reward, ``[W, N]`` each. Each is computed on first use and then
    kept, so a doctrine pays only for what it reads. ``xp`` is the arrays' namespace; ``before`` and ``after`` are the
    worlds (:class:`~realism_env.world.World`) before and after the turn, ``before_land`` and ``after_land`` their
    :class:`~realism_env.rules.Territory` (``held`` provinces and ``income``, the summed wealth of its provinces, per
    nation), ``events`` the turn's :class:`~realism_env.events.Events`."""

    def __init__(
        self,
        before: World,
        after: World,
        events: Events,
        before_land: Territory | None = None,
        after_land: Territory | None = None,
        threats: Any = None,
    ) -> None:
        self.before, self.after, self.events = before, after, events
        self.before_land = territory(before) if before_land is None else before_land
        self.after_land = territory(after) if after_land is None else after_land
        #: [W, N, N] whether j threatens i after the turn (:func:`realism_env.rules.attackable`), when known
        self.threats = threats
        self.n_nations = after.n_nations
        self.xp = array_namespace(after.owner)

    @property
    def alive(self) -> Any:
        """Alive after the turn."""
        return self.after.alive

    @property
    def eliminated(self) -> Any:
        """Eliminated this turn."""
        return self.events.eliminated

    @property
    def initial_provinces(self) -> Any:
        return self.after.initial_provinces

    @_computed_once
    def provinces_lost(self) -> Any:
        """Net provinces lost this turn (by force or concession), as float: held before less held after, so a
        province taken elsewhere in the same turn offsets one lost (counting each lost province alone would change the
        reward: a candidate for a later version of the env)."""
        return self.xp.maximum(self.before_land.held - self.after_land.held, 0.0)

    @_computed_once
    def power_share(self) -> Any:
        """Capability share after the turn (:func:`realism_env.rules.power_share`)."""
        return power_share(self.after, self.after_land.income)

    @_computed_once
    def security_ratio(self) -> Any:
        """Own side's forces over the strongest threat's (inf if none)."""
        xp, after = self.xp, self.after
        mil = after.military
        # Allies count towards one's own side (Waltz: external balancing).
        own_side = mil + xp.matmul(xp.astype(after.allied, mil.dtype), mil[:, :, None])[:, :, 0]
        # A threat is a live, non-allied nation one borders or is at war with: exactly the nations one may attack,
        # so the attack rule's own test is used (one definition).
        threat = attackable(after, self.after_land) if self.threats is None else self.threats
        strongest = xp.max(zero_unless(threat, mil[:, None, :]), axis=2)
        # A threat so weak that the ratio would pass the float dtype's range counts as none (inf, as the overflowing
        # division would give, without its RuntimeWarning on numpy): the reward is the same either way.
        threatened = strongest > own_side / (float(xp.finfo(mil.dtype).max) / 2.0)
        return xp.where(threatened, own_side / xp.where(threatened, strongest, 1.0), xp.inf)


def outcome(
    before: World,
    after: World,
    events: Events,
    config: EnvConfig,
    before_land: Territory | None = None,
    after_land: Territory | None = None,
    threats: Any = None,
) -> Outcome:
    """Summarise a turn for the doctrines (all nations, all worlds, no loops)."""
    return Outcome(before, after, events, before_land, after_land, threats)


TermFunction = Callable[[Outcome, "EnvConfig"], dict[str, Any]]


@dataclass(frozen=True)
class Doctrine:
    """A reward: named terms whose sum is the reward. ``terms(outcome, config)`` returns ``[W, N]`` arrays."""

    name: str
    description: str
    terms: TermFunction

    def reward(self, out: Outcome, config: EnvConfig) -> tuple[Any, dict[str, Any]]:
        parts = self.terms(out, config)
        # Checked from types and shapes alone (no host sync), once a step: a doctrine of one's own that returns
        # something else would fail deep in the step, or broadcast into rewards of another shape, naming nothing.
        if not isinstance(parts, Mapping):
            raise ValueError(
                f"doctrine {self.name!r}: its terms returned {_described(parts)}; valid: a dict of term name to a "
                "[worlds, nations] array"
            )
        expected = tuple(out.after.military.shape)
        if any(tuple(getattr(term, "shape", ())) != expected for term in parts.values()):
            shapes = ", ".join(f"{name!r} {_described(term)}" for name, term in parts.items())
            raise ValueError(
                f"doctrine {self.name!r}: its terms are {shapes}; valid: each term an array of shape {expected} "
                "([worlds, nations]) on the backend of the outcome's arrays"
            )
        terms = list(parts.values())
        total = terms[0] if terms else out.xp.zeros_like(out.after.military)  # a doctrine may have no terms
        for term in terms[1:]:
            total = total + term
        return total, parts


def _described(value: Any) -> str:
    """A value in an error message: an array by its shape, anything else by its type."""
    shape = getattr(value, "shape", None)
    return f"of shape {tuple(shape)}" if shape is not None else f"a {type(value).__name__}"


@dataclass(frozen=True)
class SecurityTerms:
    """Defensive realism (Waltz 1979): survival and a sufficient margin over the strongest threat."""

    survival: float = 0.5
    margin: float = 1.0
    territory: float = 2.0
    elimination: float = 10.0

    def __call__(self, out: Outcome, config: EnvConfig) -> dict[str, Any]:
        xp = out.xp
        float_dtype = out.after.military.dtype
        # min(S / S*, 1), with S capped before the division: the same values, and no overflow for a huge S
        sufficiency = config.security_sufficiency
        margin = xp.where(out.alive, xp.minimum(out.security_ratio, sufficiency) / sufficiency, 0.0)
        initial = xp.maximum(xp.astype(out.initial_provinces, float_dtype), 1.0)
        return {
            "survival": self.survival * xp.astype(out.alive, float_dtype),
            "security_margin": self.margin * margin,
            "territory_lost": -self.territory * out.provinces_lost / initial,
            "elimination": -self.elimination * xp.astype(out.eliminated, float_dtype),
        }


@dataclass(frozen=True)
class PowerTerms:
    """Offensive realism (Mearsheimer 2001): relative power, and hegemony as the goal."""

    share: float = 1.0
    hegemony: float = 1.0
    elimination: float = 10.0

    def __call__(self, out: Outcome, config: EnvConfig) -> dict[str, Any]:
        xp = out.xp
        float_dtype = out.after.military.dtype
        return {
            "relative_power": self.share * out.n_nations * out.power_share,
            "hegemony": self.hegemony * xp.astype(out.power_share > config.hegemony_share, float_dtype),
            "elimination": -self.elimination * xp.astype(out.eliminated, float_dtype),
        }


DOCTRINES: dict[str, Doctrine] = {}


def is_population(name: str) -> bool:
    """Whether ``name`` names a population of several doctrines (``mixed``, ``a+b``) rather than one doctrine."""
    return name == MIXED or MIX_SEPARATOR in name


def register_doctrine(doctrine: Doctrine, *, overwrite: bool = False) -> Doctrine:
    """Add ``doctrine`` to :data:`DOCTRINES` so configs can name it. Register it in every process that builds an env
    (for example at import of the module that defines it): a config unpickled in a fresh process names doctrines.
    With ``reveal_doctrines=True`` observations show a one-hot over every registered doctrine (sorted by name), so a
    registration changes their size: register the same doctrines wherever a policy trained on them is used."""
    if not isinstance(doctrine, Doctrine):
        raise ValueError(f"register_doctrine takes a Doctrine, got {type(doctrine).__name__}")
    if not doctrine.name or not isinstance(doctrine.name, str):
        raise ValueError(f"a doctrine needs a non-empty string name, got {doctrine.name!r}")
    if is_population(doctrine.name):
        raise ValueError(
            f"doctrine name {doctrine.name!r} is reserved for populations; valid: a name without "
            f"{MIX_SEPARATOR!r}, other than {MIXED!r}"
        )
    if not valid_name(doctrine.name):
        raise ValueError(f"a doctrine's name {doctrine.name!r} is invalid; valid: {NAME_RULE} (realism_env.names)")
    if not callable(doctrine.terms):
        raise ValueError(
            f"doctrine {doctrine.name!r}: terms={doctrine.terms!r} is invalid; valid: a function "
            "terms(outcome, config) returning a dict of term name to a [worlds, nations] array (see SecurityTerms)"
        )
    if not isinstance(overwrite, (bool, np.bool_)):  # "no" is truthy: a built-in would be replaced unnoticed
        raise ValueError(f"overwrite={overwrite!r} is invalid; valid: True or False")
    if doctrine.name in DOCTRINES and not overwrite:
        raise ValueError(f"doctrine {doctrine.name!r} is already registered; pass overwrite=True to replace it")
    DOCTRINES[doctrine.name] = doctrine
    return doctrine


register_doctrine(Doctrine("security", "defensive realism: security up to sufficiency (Waltz)", SecurityTerms()))
register_doctrine(Doctrine("power", "offensive realism: relative power and hegemony (Mearsheimer)", PowerTerms()))


def resolve_doctrines(names: Sequence[str]) -> tuple[Doctrine, ...]:
    """The registered :class:`Doctrine` of each name: the one place where names become doctrines. An unknown name
    raises ``ValueError`` listing the registered ones."""
    resolved = []
    for name in names:
        doctrine = DOCTRINES.get(name) if isinstance(name, str) else None
        if doctrine is None:
            valid = ", ".join(repr(d) for d in sorted(DOCTRINES))
            raise ValueError(
                f"unknown doctrine {name!r}; valid: {valid} (a doctrine of your own must be registered with "
                "register_doctrine in every process that builds an env, e.g. at import of the module defining it; "
                "the command lines import such a module with --import MODULE)"
            )
        resolved.append(doctrine)
    return tuple(resolved)


def mixed_doctrines(n_nations: int, order: Sequence[str] = MIXED_ORDER) -> tuple[str, ...]:
    """The doctrines of a mixed population: those of ``order`` alternate, nation_0 holding the first (by default
    :data:`MIXED_ORDER`: security and power, nation_0 maximising security). Every trainer and evaluation that says
    "mixed" means this assignment."""
    return tuple(order[i % len(order)] for i in range(n_nations))


def doctrine_cycle(population: str) -> tuple[str, ...]:
    """The doctrines a population's name gives its nations in turn (nation i holds ``cycle[i % len(cycle)]``):
    ``"mixed"`` is :data:`MIXED_ORDER`; ``"a+b+..."`` alternates the doctrines named (a mix of one's own, nation_0
    holding ``a``); a doctrine's name, that doctrine alone. ``ValueError`` names an unknown doctrine (with the
    registered ones), a doctrine named twice, and ``"security+power"`` (which is called ``mixed``)."""
    if population == MIXED:
        return MIXED_ORDER
    cycle = tuple(population.split(MIX_SEPARATOR)) if isinstance(population, str) else (population,)
    if len(cycle) > 1 and any(not name or name != name.strip() for name in cycle):
        raise ValueError(
            f"{population!r} has an empty doctrine name or spaces around {MIX_SEPARATOR!r}; valid: registered "
            f"doctrines joined by {MIX_SEPARATOR!r} alone, e.g. 'security{MIX_SEPARATOR}prosperity'"
        )
    resolve_doctrines(cycle)
    if len(set(cycle)) != len(cycle):
        raise ValueError(
            f"{population!r} names a doctrine twice; valid: distinct registered doctrines joined by "
            f"{MIX_SEPARATOR!r} (the nations take them in turn)"
        )
    if cycle == MIXED_ORDER:
        raise ValueError(f"{population!r} is the built-in mix; valid: name it {MIXED!r}")
    return cycle


def population_doctrines(population: str, n_nations: int) -> tuple[str, ...]:
    """The doctrine of each of ``n_nations`` nations in a population named as :func:`doctrine_cycle` reads it.
    ``ValueError`` where the mix has more doctrines than there are nations (one would have no nation)."""
    cycle = doctrine_cycle(population)
    if len(cycle) > n_nations:
        raise ValueError(
            f"{population!r} alternates {len(cycle)} doctrines over {n_nations} nations, so "
            f"{cycle[n_nations]!r} would have none; valid: a mix of at most {n_nations} doctrines, or a scenario "
            "with more nations"
        )
    return mixed_doctrines(n_nations, cycle)


def population_setting(population: str, n_nations: int) -> str | tuple[str, ...]:
    """``EnvConfig.doctrines`` for a population named as :func:`doctrine_cycle` reads it: a doctrine's name for one
    doctrine (as configs have always held it), each nation's doctrine for a mix (:func:`population_doctrines`, which
    checks either)."""
    doctrines = population_doctrines(population, n_nations)
    return doctrines if is_population(population) else population


def doctrine_names() -> tuple[str, ...]:
    """The order of every doctrine one-hot: ``sorted(DOCTRINES)``."""
    return tuple(sorted(DOCTRINES))


def doctrine_onehot(doctrine_per_nation: Sequence[str], names: Sequence[str] | None = None) -> np.ndarray:
    """[N, len(names)] float32 one-hot of each nation's doctrine over ``names`` (default :func:`doctrine_names`):
    the doctrine indicator of learners and of ``reveal_doctrines`` observations, built in this one place."""
    names = doctrine_names() if names is None else tuple(names)
    resolve_doctrines(doctrine_per_nation)
    return np.array([[nation == name for name in names] for nation in doctrine_per_nation], dtype=np.float32).reshape(
        len(doctrine_per_nation), len(names)
    )


class DoctrineTerms(NamedTuple):
    """One doctrine's reward terms for all nations (``[W, N]`` each); only ``members`` hold that doctrine."""

    doctrine: Doctrine
    members: Any  #: [N] bool
    terms: dict[str, Any]


def doctrine_groups(doctrine_per_nation: tuple[Doctrine, ...], xp: Any = np, device: Any = "cpu") -> tuple:
    """Each distinct doctrine with the [N] bool mask (an array of ``xp`` on ``device``) of the nations that hold it
    (resolve once, reuse)."""
    distinct: list[Doctrine] = []
    for doctrine in doctrine_per_nation:
        if not any(doctrine is d for d in distinct):
            distinct.append(doctrine)
    return tuple((d, xp.asarray(np.array([x is d for x in doctrine_per_nation]), device=device)) for d in distinct)


def rewards(
    doctrines: tuple[Doctrine, ...] | tuple[tuple[Doctrine, Any], ...], out: Outcome, config: EnvConfig
) -> tuple[Any, list[DoctrineTerms]]:
    """``[W, N]`` rewards, and the terms of each doctrine present. ``doctrines`` is one Doctrine per nation, or
    their :func:`doctrine_groups`. Each distinct doctrine is evaluated once for all nations at once, so no reward
    depends on the order nations are asked."""
    groups = (
        doctrines
        if doctrines and isinstance(doctrines[0], tuple)
        else doctrine_groups(doctrines, out.xp, device_of(out.after.owner))
    )
    results = []
    total = None
    for doctrine, members in groups:
        reward, parts = doctrine.reward(out, config)
        total = reward if total is None else out.xp.where(members, reward, total)
        results.append(DoctrineTerms(doctrine, members, parts))
    return total, results


def terms_per_nation(
    groups: list[DoctrineTerms], world_index: int = 0, nations: list[int] | None = None
) -> list[dict[str, float]]:
    """Each nation's own doctrine's terms in one world, as plain floats (for ``infos``); only for ``nations``
    (indices; all by default), the others get ``{}``."""
    out: list[dict[str, float]] = [{} for _ in range(len(groups[0].members))]
    for group in groups:
        names = list(group.terms)
        columns = [to_numpy(term)[world_index].tolist() for term in group.terms.values()]
        members = to_numpy(group.members).tolist()
        rows = list(zip(*columns, strict=True)) if columns else [()] * len(members)
        for i in range(len(members)) if nations is None else nations:
            if members[i]:
                out[i] = dict(zip(names, rows[i], strict=True))
    return out
