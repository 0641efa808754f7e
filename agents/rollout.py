"""Run scripted policies in a realism_env episode: the wrapper that fills the nations' slots.

The env never calls agents (Melting Pot's scenario wrapper); this loop does, giving every nation its own
seeded generator and memory.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from agents.policies import Policy, make_policy


@dataclass(frozen=True)
class Transition:
    """One parallel step: what each live nation saw and chose, and what the env returned."""

    turn: int
    observations: dict[str, dict[str, np.ndarray]]
    actions: dict[str, int]
    rewards: dict[str, float]
    terminations: dict[str, bool]
    truncations: dict[str, bool]
    infos: dict[str, dict[str, Any]]


def build_policies(env: Any, population: str | Sequence[str] | Mapping[str, str], **params: Any) -> dict[str, Policy]:
    """One policy per nation: a single name for all, a sequence with one name per nation, or a mapping
    ``{agent: name}`` covering every agent. ``params`` go to every policy."""
    agents = list(env.possible_agents)
    if isinstance(population, str):
        names = dict.fromkeys(agents, population)
    elif isinstance(population, Mapping):
        names = dict(population)
    else:
        if len(population) != len(agents):
            raise ValueError(f"population has {len(population)} names; valid: one per nation ({len(agents)})")
        names = dict(zip(agents, population, strict=True))
    missing = [a for a in agents if a not in names]
    if missing:
        raise ValueError(f"population names no policy for {', '.join(missing)}; valid: every agent of the env")
    return {agent: make_policy(names[agent], env, **params) for agent in agents}


def rollout(env: Any, policies: Mapping[str, Policy], seed: int, max_steps: int | None = None) -> Iterator[Transition]:
    """Reset ``env`` with ``seed`` and play until every nation is done (or ``max_steps``), yielding each step.

    Nation ``k``'s generator is the ``k``-th child of ``SeedSequence(seed)``, so runs are reproducible.
    """
    observations, _ = env.reset(seed=seed)
    children = np.random.SeedSequence(seed).spawn(len(env.possible_agents))
    rngs = {agent: np.random.default_rng(child) for agent, child in zip(env.possible_agents, children, strict=True)}
    memory = {agent: policies[agent].initial_state() for agent in env.possible_agents}
    limit = env.config.max_cycles if max_steps is None else max_steps
    for turn in range(limit):
        if not env.agents:
            return
        actions = {}
        for agent in env.agents:
            actions[agent], memory[agent] = policies[agent].step(observations[agent], memory[agent], rngs[agent])
        seen = observations
        observations, rewards, terminations, truncations, infos = env.step(actions)
        yield Transition(turn, seen, actions, rewards, terminations, truncations, infos)
