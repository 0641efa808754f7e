"""Populations for the evaluation harness (:mod:`agents.evaluate`): a ``name:count`` spec, per-nation doctrines and
config overrides, validated into a :class:`Plan` before the first episode is played."""

from __future__ import annotations

import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import realism_env
from agents.policies import POLICIES
from realism_env import parse_value

#: Doctrine of a nation whose policy acts out none (``Policy.doctrine`` is None), unless ``doctrines`` says otherwise.
FALLBACK_DOCTRINE = "security"

CONFIG_TYPES: dict[str, Any] = typing.get_type_hints(realism_env.EnvConfig)


def format_choices(options: Any) -> str:
    """The valid choices of an error message: the sorted names, comma-separated."""
    return ", ".join(sorted(options))


# --------------------------------------------------------------------------------------------------
# Parsing: populations, doctrines, config overrides
# --------------------------------------------------------------------------------------------------


def parse_population(population: str | Sequence[str], n_nations: int) -> tuple[str, ...]:
    """One policy name per nation slot from ``"name:count,name:count"`` (slots filled in the order given), a bare
    ``"name"`` (every nation), or a sequence with one name per nation. Raises ``ValueError`` on unknown names,
    malformed counts, or counts that do not add up to ``n_nations``."""
    if isinstance(population, str):
        text = population.strip()
        if not text:
            raise ValueError(f"population is empty; valid: 'name:count,...' with counts adding up to {n_nations}")
        parts = [p.strip() for p in text.split(",")]
        if len(parts) == 1 and ":" not in parts[0]:
            names: list[str] = [parts[0]] * n_nations
        else:
            names = []
            for part in parts:
                name, sep, count_text = part.partition(":")
                name, count_text = name.strip(), count_text.strip()
                if not sep or not name:
                    raise ValueError(f"population entry {part!r} in {population!r} is invalid; valid: 'name:count'")
                try:
                    count = int(count_text)
                except ValueError:
                    raise ValueError(
                        f"population entry {part!r} has count {count_text!r}; valid: a positive integer"
                    ) from None
                if count < 1:
                    raise ValueError(f"population entry {part!r} has count {count}; valid: a positive integer")
                names += [name] * count
    else:
        names = [str(name) for name in population]
    unknown = sorted({name for name in names if name not in POLICIES})
    if unknown:
        raise ValueError(f"unknown policy {', '.join(map(repr, unknown))}; valid: {format_choices(POLICIES)}")
    if len(names) != n_nations:
        raise ValueError(
            f"population {format_population(names)!r} has {len(names)} nations; expected {n_nations} "
            f"(n_nations of the config): the counts must add up to {n_nations}"
        )
    return tuple(names)


def format_population(policies: Sequence[str]) -> str:
    """The ``name:count,...`` spec of a per-nation list (runs of the same name merged, order kept)."""
    runs: list[list[Any]] = []
    for name in policies:
        if runs and runs[-1][0] == name:
            runs[-1][1] += 1
        else:
            runs.append([name, 1])
    return ",".join(f"{name}:{count}" for name, count in runs)


def default_doctrines(policies: Sequence[str]) -> tuple[str, ...]:
    """Each nation's doctrine from its policy: the doctrine it acts out (``Policy.doctrine``: security for the
    defensive realist, power for the offensive one), else :data:`FALLBACK_DOCTRINE`."""
    acted = [POLICIES[name].doctrine if name in POLICIES else None for name in policies]
    return tuple(FALLBACK_DOCTRINE if doctrine is None else doctrine for doctrine in acted)


def parse_doctrines(doctrines: str | Sequence[str] | None, policies: Sequence[str]) -> tuple[str, ...]:
    """One doctrine per nation: the defaults by policy when ``doctrines`` is None, else one name for all or a
    comma-separated string / sequence with one name per nation, or a population's name (``mixed``, ``a+b``:
    :func:`realism_env.population_doctrines`, the nations taking its doctrines in turn, as the trainers read it)."""
    if doctrines is None:
        return default_doctrines(policies)
    if isinstance(doctrines, str) and realism_env.is_population(doctrines):
        return realism_env.population_doctrines(doctrines, len(policies))
    names = [d.strip() for d in doctrines.split(",")] if isinstance(doctrines, str) else [str(d) for d in doctrines]
    if len(names) == 1:
        names = names * len(policies)
    unknown = sorted({d for d in names if d not in realism_env.DOCTRINES})
    if unknown:
        raise ValueError(
            f"unknown doctrine {', '.join(map(repr, unknown))}; valid: {format_choices(realism_env.DOCTRINES)}"
        )
    if len(names) != len(policies):
        raise ValueError(
            f"doctrines {','.join(names)!r} name {len(names)} nations; valid: one name, or exactly {len(policies)}"
        )
    return tuple(names)


# --------------------------------------------------------------------------------------------------
# A run's plan: config, policies, doctrines (everything validated before the first episode)
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """A validated evaluation setup: the scenario, the config (doctrines included) and one policy per nation."""

    scenario: str
    config: realism_env.EnvConfig
    policies: tuple[str, ...]

    @property
    def doctrines(self) -> tuple[str, ...]:
        return self.config.doctrine_per_nation

    @property
    def spec(self) -> str:
        return format_population(self.policies)


def make_plan(
    population: str | Sequence[str],
    scenario: str = "multipolar",
    overrides: Mapping[str, Any] | None = None,
    max_cycles: int | None = None,
    doctrines: str | Sequence[str] | None = None,
) -> Plan:
    """Validate and combine the arguments of :func:`evaluate`. ``overrides`` maps EnvConfig fields to values; a
    string value for a non-string field is parsed as ``--set`` would parse it. Raises ``ValueError``."""
    if scenario not in realism_env.SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; valid: {format_choices(realism_env.SCENARIOS)}")
    fields: dict[str, Any] = {}
    for field, value in (overrides or {}).items():
        if field not in CONFIG_TYPES:
            raise ValueError(f"unknown config field {field!r}; valid: {format_choices(CONFIG_TYPES)}")
        if field == "doctrines":
            raise ValueError("set doctrines with the doctrines argument (--doctrines), not as a config override")
        fields[field] = (
            parse_value(field, value) if isinstance(value, str) and CONFIG_TYPES[field] is not str else value
        )
    if max_cycles is not None:
        if "max_cycles" in fields and fields["max_cycles"] != max_cycles:
            raise ValueError(
                f"max_cycles is given twice with different values ({fields['max_cycles']} and {max_cycles})"
            )
        fields["max_cycles"] = max_cycles
    config = realism_env.EnvConfig.from_scenario(scenario, **fields)
    policies = parse_population(population, config.n_nations)
    config = config.replace(doctrines=parse_doctrines(doctrines, policies))
    return Plan(scenario, config, policies)
