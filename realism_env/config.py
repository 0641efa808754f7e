"""Frozen, validated configuration and the scenario presets."""

from __future__ import annotations

import dataclasses
import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from realism_env.actions import DEFAULT_ARMS_SHARES
from realism_env.doctrines import DOCTRINES, resolve_doctrines
from realism_env.names import NAME_RULE, valid_name

MAP_KINDS = ("continent", "islands")
#: How far below a float dtype's largest value :meth:`EnvConfig.longest_horizon` keeps the system's wealth: military
#: (a multiple of income), sums over provinces and nations, and misperceived estimates (at misperception up to about
#: 1) are multiples of it.
OVERFLOW_HEADROOM = 1e6


def _choices(options: Any) -> str:
    return ", ".join(repr(o) for o in sorted(options))


@dataclass(frozen=True)
class EnvConfig:
    """Every knob of the world. Build it directly, or from a preset with :meth:`from_scenario`.

    Invalid values raise ``ValueError`` naming the field and what would be valid.
    """

    n_nations: int = 6
    """Number of nations (2 to 64)."""
    max_cycles: int = 200
    """Turns (years) before the episode is truncated: at most :meth:`longest_horizon` (23,437 at 3% growth in
    float64 worlds; a float32 batch checks its own, 2,426), beyond which wealth could overflow."""
    doctrines: str | tuple[str, ...] = "security"
    """One doctrine name for all nations, or a tuple with one per nation (a mixed population)."""
    offense_defense_balance: float = 2.5
    """Force ratio an attacker needs for even odds of taking a province (Cederman 1997's superiority
    ratio: about 2 is offence-dominant, about 3 defence-dominant)."""
    conquest_payoff: float = 0.5
    """Share of a conquered province's wealth the conqueror keeps; the rest is destroyed."""
    misperception: float = 0.2
    """Standard deviation of the logarithm of the mean-one log-normal noise on every estimate of another nation's
    military (Bremer & Mihalka 1977; Horvath 2020 uses 0.1 to 0.4, as the standard deviation of normal noise around 1:
    the two differ by about 1% at 0.2). 0 means perfect information."""
    reveal_doctrines: bool = False
    """Show every nation's doctrine in observations. Off by default: intentions cannot be known."""
    provinces_per_nation: int = 4
    """Provinces each nation starts with, on average (territories grown on the map may end a few smaller or larger);
    the map has ``n_nations * provinces_per_nation``."""
    map_kind: str = "continent"
    """``continent`` (one land mass with a few sea links) or ``islands`` (two land masses joined by sea)."""
    sea_links: int = 3
    """Extra sea links between distant coastal provinces (``continent`` maps)."""
    sea_penalty: float = 0.5
    """Multiplier on an attacker's force across sea only (Mearsheimer's stopping power of water)."""
    capability_shares: tuple[float, ...] | None = None
    """Initial share of the system's wealth and military per nation; ``None`` means equal shares."""
    capability_spread: float = 0.0
    """Random capability shares, for training across distributions of power (domain randomisation): every episode
    multiplies each nation's share by ``exp(capability_spread * z)``, ``z`` a standard normal draw, and renormalises.
    Systems differ in how power is distributed (COW CINC shares; Waltz's polarity), and a learner trained among
    equals never meets a stronger or weaker neighbour. 0 (the default): the scenario's shares in every episode."""
    growth_rates: tuple[float, ...] | None = None
    """Per-nation economic growth per year at zero arms spending; ``None`` means ``growth_rate`` for all."""
    growth_rate: float = 0.03
    """Economic growth per year of a nation that spends nothing on arms; each share of income it spends on arms,
    upkeep or aid forgoes ``|growth_rate|`` of it (below 0, a declining economy declines faster the more it arms)."""
    arms_shares: tuple[float, ...] = DEFAULT_ARMS_SHARES
    """Share of income spent on arms at each domestic level, ascending from disarmament."""
    depreciation: float = 0.1
    """Share of military that wears out each year, so power must be renewed."""
    upkeep: float = 0.02
    """Yearly cost to the economy of each unit of military, as a share of it (power must be paid for)."""
    attrition: float = 0.1
    """Force lost on a front per unit of force the enemy commits there, per year (Lanchester's square law)."""
    capture_steepness: float = 5.0
    """Exponent of the logistic capture odds (Cederman 1997: c = 5)."""
    war_devastation: float = 0.01
    """Share of a nation's wealth destroyed per year per war it fights, whatever the balance of forces (a flat cost,
    after Cusack & Stoll 1990's war costs; theirs peak for even matches)."""
    aid_share: float = 0.2
    """Share of income a SUPPORT act sends as military aid."""
    demand_deadline: int = 2
    """Turns a threatener has to carry out a refused demand before the threat counts as a bluff."""
    hegemony_share: float = 0.5
    """Power share above which a nation counts as hegemon (the power doctrine's bonus): more than half of all
    resources is decisive (Niou, Ordeshook & Rose 1989). Mearsheimer's hegemon is the only great power, a stricter
    test: at 0.51 against 0.49 the polarity metric still counts two great powers."""
    security_sufficiency: float = 1.1
    """Security ratio S* beyond which more power adds no security (after the M3 security rule, where nations stop
    attacking at S >= 1.10; here allies count in S and 1.1 caps the security doctrine's margin)."""
    nation_names: tuple[str, ...] | None = None
    """Display names for rendering (scenarios give historical names); agents stay ``nation_i``."""

    def __post_init__(self) -> None:
        def bad(name: str, value: Any, valid: str) -> ValueError:
            return ValueError(f"EnvConfig.{name}={value!r} is invalid; valid: {valid}")

        for f in dataclasses.fields(self):  # numpy scalars (a sweep over np.arange, a pandas column) as Python's
            value = getattr(self, f.name)
            if isinstance(value, np.generic) and isinstance(value.item(), (bool, int, float, str)):
                object.__setattr__(self, f.name, value.item())
        n = self.n_nations
        if not _whole(n) or not 2 <= n <= 64:
            raise bad("n_nations", n, "an integer from 2 to 64")
        if not _whole(self.max_cycles) or self.max_cycles < 1:
            raise bad("max_cycles", self.max_cycles, "an integer >= 1")
        if isinstance(self.doctrines, str):
            names: tuple[str, ...] = (self.doctrines,)
        elif isinstance(self.doctrines, (tuple, list)):
            if len(self.doctrines) != n:
                raise bad("doctrines", self.doctrines, f"one name, or a tuple of exactly {n} names (one per nation)")
            names = tuple(self.doctrines)
            object.__setattr__(self, "doctrines", names)
        else:
            raise bad("doctrines", self.doctrines, f"a doctrine name or a tuple of them: {_choices(DOCTRINES)}")
        resolve_doctrines(names)
        if not isinstance(self.reveal_doctrines, bool):  # a string "false" would reveal them
            raise bad("reveal_doctrines", self.reveal_doctrines, "True or False")
        positive = ("offense_defense_balance", "capture_steepness", "security_sufficiency")
        for fname in positive:
            v = getattr(self, fname)
            if not _finite(v) or v <= 0:
                raise bad(fname, v, "a finite number > 0")
        unit = (
            "conquest_payoff",
            "sea_penalty",
            "depreciation",
            "upkeep",
            "attrition",
            "aid_share",
            "war_devastation",
            "hegemony_share",
        )
        for fname in unit:
            v = getattr(self, fname)
            if not _finite(v) or not 0 <= v <= 1:
                raise bad(fname, v, "a number from 0 to 1")
        if not _finite(self.capability_spread) or not 0 <= self.capability_spread <= 3:
            raise bad("capability_spread", self.capability_spread, "a number from 0 (off) to 3")
        if not _finite(self.misperception) or self.misperception < 0:
            raise bad("misperception", self.misperception, "a finite number >= 0")
        if not _finite(self.growth_rate) or not -0.5 < self.growth_rate < 1:
            raise bad("growth_rate", self.growth_rate, "a number between -0.5 and 1")
        if not _whole(self.provinces_per_nation) or not 1 <= self.provinces_per_nation <= 32:
            raise bad("provinces_per_nation", self.provinces_per_nation, "an integer from 1 to 32")
        if self.map_kind not in MAP_KINDS:
            raise bad("map_kind", self.map_kind, _choices(MAP_KINDS))
        if self.map_kind == "islands" and n < 2:
            raise bad("map_kind", self.map_kind, "'continent' for fewer than 2 nations")
        # More links than provinces ask for more than a map holds between distant coasts (24 provinces hold about 69
        # at most), and each link asked for costs 20 draws however many the map can hold: 20,000 took 3.5 s a map.
        most_links = max(8, n * self.provinces_per_nation)
        if not _whole(self.sea_links) or not 0 <= self.sea_links <= most_links:
            raise bad("sea_links", self.sea_links, f"an integer from 0 to {most_links} (the provinces, at least 8)")
        if not _whole(self.demand_deadline) or self.demand_deadline < 1:
            raise bad("demand_deadline", self.demand_deadline, "an integer >= 1")
        shares = _numbers(self.arms_shares)
        if shares is None or len(shares) < 2 or any(not 0 <= s <= 1 for s in shares) or list(shares) != sorted(shares):
            raise bad("arms_shares", self.arms_shares, "2 or more ascending shares from 0 to 1")
        object.__setattr__(self, "arms_shares", shares)
        for fname in ("capability_shares", "growth_rates"):
            v = getattr(self, fname)
            if v is None:
                continue
            numbers = _numbers(v)
            if numbers is None or len(numbers) != n:
                raise bad(fname, v, f"None or {n} finite numbers (one per nation)")
            object.__setattr__(self, fname, numbers)
        if self.capability_shares is not None and (
            any(s <= 0 for s in self.capability_shares) or not math.isfinite(sum(self.capability_shares))
        ):  # a sum that overflows would renormalise every share to 0
            raise bad(
                "capability_shares",
                self.capability_shares,
                "positive numbers with a finite sum (renormalised to sum 1)",
            )
        if self.nation_names is not None:
            if isinstance(self.nation_names, str) or not isinstance(self.nation_names, (tuple, list)):
                raise bad("nation_names", self.nation_names, f"None or a tuple of {n} names")
            if len(self.nation_names) != n:
                raise bad("nation_names", self.nation_names, f"None or {n} names")
            object.__setattr__(self, "nation_names", tuple(str(x) for x in self.nation_names))
        if self.growth_rates is not None and any(not -0.5 < g < 1 for g in self.growth_rates):
            raise bad("growth_rates", self.growth_rates, "None or numbers between -0.5 and 1 (as growth_rate)")
        horizon = self.longest_horizon()
        if horizon is not None and self.max_cycles > horizon:
            fastest = max(abs(g) for g in self.growth_per_nation)
            raise bad(
                "max_cycles",
                self.max_cycles,
                f"an integer from 1 to {horizon:,}: with growth of up to {fastest:.3g} a year, wealth could pass the "
                "largest float64 after that many turns",
            )

    # Derived values are properties, never defaults computed from other defaults.
    @property
    def n_provinces(self) -> int:
        return self.n_nations * self.provinces_per_nation

    @property
    def doctrine_per_nation(self) -> tuple[str, ...]:
        if isinstance(self.doctrines, str):
            return (self.doctrines,) * self.n_nations
        return tuple(self.doctrines)

    @property
    def initial_shares(self) -> tuple[float, ...]:
        raw = self.capability_shares or (1.0,) * self.n_nations
        total = sum(raw)
        return tuple(s / total for s in raw)

    @property
    def growth_per_nation(self) -> tuple[float, ...]:
        return self.growth_rates or (self.growth_rate,) * self.n_nations

    def longest_horizon(self, largest_float: float = sys.float_info.max) -> int | None:
        """The most turns these worlds can run before the system's wealth might come within
        :data:`OVERFLOW_HEADROOM` of ``largest_float`` (a float dtype's largest value; float64's by default); None
        when no economy grows, or so slowly that no int64 count of turns gets there. Wealth starts at one unit a
        province on average, and a year multiplies a province's wealth by at most ``1 + |growth|`` (investment is at
        most all of income and at least minus all of it; war and conquest only destroy), so the total after ``t``
        turns is at most ``n_provinces * (1 + max|growth|) ** t``. Beyond it, float overflow would turn observations
        and rewards to NaN."""
        fastest = max(abs(g) for g in self.growth_per_nation)
        room = math.log(largest_float) - math.log(OVERFLOW_HEADROOM * self.n_provinces)
        turns = room / math.log1p(fastest) if fastest > 0 else math.inf
        return None if turns >= sys.maxsize else max(int(turns), 0)

    def display_names(self) -> tuple[str, ...]:
        return self.nation_names or tuple(f"nation_{i}" for i in range(self.n_nations))

    def replace(self, **overrides: Any) -> EnvConfig:
        """A copy with some fields changed (validated again)."""
        _check_fields(overrides)
        return dataclasses.replace(self, **overrides)

    @classmethod
    def from_scenario(cls, scenario: str = "multipolar", **overrides: Any) -> EnvConfig:
        """The preset ``scenario`` with keyword ``overrides`` applied on top of it."""
        if not isinstance(scenario, str) or scenario not in SCENARIOS:
            raise ValueError(f"unknown scenario {scenario!r}; valid: {_choices(SCENARIOS)}")
        _check_fields(overrides)
        fields = dict(SCENARIOS[scenario].overrides)
        own_count = fields.get("n_nations", cls.n_nations)
        if "n_nations" in overrides and overrides["n_nations"] != own_count:
            # A preset's per-nation values only fit its own nation count. Its capabilities and growth rates are what
            # it models (bipolar's two superpowers, europe_1914's CINC shares), so another count needs its own;
            # display names only label the map, and are dropped.
            for per_nation in ("capability_shares", "growth_rates", "doctrines"):
                if per_nation in fields and per_nation not in overrides and not isinstance(fields[per_nation], str):
                    raise ValueError(
                        f"scenario {scenario!r} sets {per_nation} for its {own_count} nations, so n_nations="
                        f"{overrides['n_nations']!r} does not fit it; valid: its own n_nations={own_count}, or give "
                        f"{per_nation} too (one value per nation), or a scenario that sets no per-nation values "
                        "('multipolar', 'islands')"
                    )
            if "nation_names" not in overrides:
                fields.pop("nation_names", None)
        fields.update(overrides)
        return cls(**fields)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _whole(v: Any) -> bool:
    """An int and not a bool (``True`` is an int to Python, and would be written back as "true")."""
    return isinstance(v, int) and not isinstance(v, bool)


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _numbers(values: Any) -> tuple[float, ...] | None:
    """``values`` as a tuple of finite floats, or None when it is not a sequence of finite numbers."""
    if isinstance(values, (str, bytes)):
        return None
    try:
        numbers = tuple(x.item() if isinstance(x, np.generic) else x for x in values)
    except TypeError:
        return None
    return tuple(float(x) for x in numbers) if all(_finite(x) for x in numbers) else None


def _check_fields(overrides: Mapping[str, Any]) -> None:
    valid = {f.name for f in dataclasses.fields(EnvConfig)}
    for key in overrides:
        if key not in valid:
            raise ValueError(f"unknown config field {key!r}; valid: {_choices(valid)}")


@dataclass(frozen=True)
class Scenario:
    """A named preset: config overrides plus the theory or data it illustrates."""

    name: str
    description: str
    overrides: Mapping[str, Any] = field(default_factory=dict)


SCENARIOS: dict[str, Scenario] = {}


def _same_scenario(a: Scenario, b: Scenario) -> bool:
    """Whether two scenarios define the same preset: the same description, fields and resulting config (compared as
    configs, which hold their values as tuples of floats, so that a list or a numpy array of the same shares is the
    same)."""
    return (
        a.description == b.description
        and set(a.overrides) == set(b.overrides)
        and EnvConfig(**a.overrides) == EnvConfig(**b.overrides)
    )


def register_scenario(scenario: Scenario, *, overwrite: bool = False) -> Scenario:
    """Add a preset to :data:`SCENARIOS` (its overrides are validated now). A name already registered is refused
    unless ``overwrite=True`` (a built-in scenario would otherwise be replaced unnoticed, and every run, preset and
    report naming it would mean another world), except for the same definition again: a module that registers it,
    imported a second time, registers nothing new."""
    if not isinstance(scenario, Scenario):
        raise ValueError(f"register_scenario takes a Scenario, got {type(scenario).__name__}")
    # Every list of choices sorts the names (one that is not a string would break each unknown-scenario error), and
    # the experiment names files after them (a '/' would make folders).
    if not valid_name(scenario.name):
        raise ValueError(f"a scenario's name {scenario.name!r} is invalid; valid: {NAME_RULE} (realism_env.names)")
    if not isinstance(scenario.overrides, Mapping):
        raise ValueError(
            f"scenario {scenario.name!r}: overrides={scenario.overrides!r} is invalid; valid: a dict of EnvConfig "
            "fields to values"
        )
    if not isinstance(overwrite, (bool, np.bool_)):  # "no" is truthy: a built-in would be replaced unnoticed
        raise ValueError(f"overwrite={overwrite!r} is invalid; valid: True or False")
    _check_fields(scenario.overrides)
    EnvConfig(**scenario.overrides)
    # a copy of its own: the caller's dict, edited later, would otherwise change the scenario unchecked
    scenario = dataclasses.replace(scenario, overrides=dict(scenario.overrides))
    existing = SCENARIOS.get(scenario.name)
    if existing is not None and not overwrite and not _same_scenario(existing, scenario):
        raise ValueError(
            f"scenario {scenario.name!r} is already registered ({existing.description!r}); valid: another name, or "
            "pass overwrite=True to replace it"
        )
    SCENARIOS[scenario.name] = scenario
    return scenario


def _renormalised(shares: dict[str, float]) -> dict[str, Any]:
    total = sum(shares.values())
    return {
        "n_nations": len(shares),
        "capability_shares": tuple(round(s / total, 4) for s in shares.values()),
        "nation_names": tuple(shares),
    }


#: What a historical scenario takes from history: the capability shares alone (COW NMC has no map or relations).
_GENERIC = " Capabilities only: the map, growth and starting relations are generic."

for _scenario in (
    Scenario("multipolar", "Six equal great powers (Waltz's multipolarity; Mearsheimer's balanced multipolarity)."),
    Scenario(
        "bipolar",
        "Two superpowers with four lesser states (Waltz 1979: bipolarity is the most stable).",
        {"capability_shares": (0.3, 0.3, 0.1, 0.1, 0.1, 0.1)},
    ),
    Scenario(
        "unipolar",
        "One preponderant power holding 45% of capabilities (a would-be hegemon).",
        {"capability_shares": (0.45, 0.11, 0.11, 0.11, 0.11, 0.11)},
    ),
    Scenario(
        "rising_power",
        "Equal nations, but nation_0 grows three times as fast (power transition; Mearsheimer ch. 10).",
        {"growth_rates": (0.09, 0.03, 0.03, 0.03, 0.03, 0.03)},
    ),
    Scenario(
        "islands",
        "Two land masses joined only by sea: water stops power projection (Mearsheimer 2001 ch. 4).",
        {"map_kind": "islands"},
    ),
    Scenario(
        "europe_1914",
        "The six European powers of 1914, CINC shares from COW NMC v6.0, renormalised (three are great powers by the "
        "polarity metric's half-the-largest rule)." + _GENERIC,
        _renormalised(
            {"Germany": 0.158, "UK": 0.138, "Russia": 0.111, "France": 0.075, "Austria-Hungary": 0.068, "Italy": 0.026}
        ),
    ),
    Scenario(
        "cold_war_1950",
        "The great powers of 1950, CINC shares from COW NMC v6.0, renormalised (bipolarity)." + _GENERIC,
        _renormalised({"USA": 0.284, "USSR": 0.181, "China": 0.118, "UK": 0.061, "India": 0.050, "France": 0.033}),
    ),
):
    register_scenario(_scenario)
