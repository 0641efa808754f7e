"""Run scripted policies in a realism_env episode: the wrapper that fills the nations' slots.

The env never calls agents (Melting Pot's scenario wrapper); this loop does, giving every nation its own
seeded generator and memory. The nations that one :class:`~agents.policies.ArrayPolicy` plays decide in one batched
call a turn (:class:`Nations`), each with one draw from its own generator; other policies step nation by nation.
(The evaluation harness plays many episodes as one batch of worlds instead: ``agents.episodes``.)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from agents.players import Players
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
    ``{agent: name}`` covering every agent (and no other). ``params`` go to every policy. Nations with the same name
    share one policy object (policies are stateless), so :class:`Nations` batches them."""
    agents = list(env.possible_agents)
    if isinstance(population, str):
        names = dict.fromkeys(agents, population)
    elif isinstance(population, Mapping):
        names = dict(population)
        _check_agents("population", names, agents)
    elif isinstance(population, Iterable):
        listed = list(population)
        if len(listed) != len(agents):
            raise ValueError(f"population has {len(listed)} names; valid: one per nation ({len(agents)})")
        names = dict(zip(agents, listed, strict=True))
    else:
        raise ValueError(
            f"population={population!r} is invalid; valid: a policy name for every nation, a sequence of one name per "
            f"nation ({len(agents)}), or a mapping {{agent: name}} over {', '.join(agents)}"
        )
    policies = {name: make_policy(name, env, **params) for name in dict.fromkeys(names.values())}
    return {agent: policies[names[agent]] for agent in agents}


def _check_agents(what: str, given: Mapping[str, Any], agents: Sequence[str]) -> None:
    """Refuse a mapping ``given`` (``what``: its name in the message) keyed by anything but exactly ``agents``: a
    nation without a policy would fail mid-episode with a bare KeyError, an unknown one would be ignored in silence."""
    unknown = [repr(agent) for agent in given if agent not in agents]
    if unknown:
        raise ValueError(f"{what} has a policy for unknown agents {', '.join(unknown)}; valid: {', '.join(agents)}")
    missing = [agent for agent in agents if agent not in given]
    if missing:
        raise ValueError(
            f"{what} has no policy for {', '.join(missing)}; valid: one for every agent: {', '.join(agents)}"
        )


class Nations:
    """The nations of one PettingZoo env played by policies, with their memories: :class:`agents.players.Players` on
    the env's dict observations. The nations that share one :class:`~agents.policies.ArrayPolicy` object act in one
    batched call, each with one uniform draw from its own generator a turn; any other policy steps nation by nation.

    Args:
        policies: ``{agent: policy}`` for the nations to play (any of the env's ``possible_agents``).
        agents: the env's ``possible_agents``, in order.
    """

    def __init__(self, policies: Mapping[str, Policy], agents: Sequence[str]) -> None:
        self.agents = list(agents)
        placements = []
        for policy in dict.fromkeys(policies.values()):  # each policy object once: it plays all its nations at once
            nations = np.array([self.agents.index(a) for a, p in policies.items() if p is policy])
            placements.append((policy, np.zeros_like(nations), nations))
        self.players = Players(placements)
        self.played = [a for a in self.agents if a in policies]  #: the agents these nations are

    def act(
        self, observations: Mapping[str, Mapping[str, np.ndarray]], rngs: Mapping[str, np.random.Generator]
    ) -> dict[str, int]:
        """The actions of the played nations with an observation this turn (the live ones), updating their memories."""
        index = {agent: i for i, agent in enumerate(self.agents)}
        first = next(iter(observations.values()))
        n = len(self.agents)
        batch = np.zeros((1, n, first["observation"].size), dtype=first["observation"].dtype)
        masks = np.zeros((1, n, first["action_mask"].size), dtype=first["action_mask"].dtype)
        live = np.zeros((1, n), dtype=bool)
        for agent, seen in observations.items():
            batch[0, index[agent]] = seen["observation"]
            masks[0, index[agent]] = seen["action_mask"]
            live[0, index[agent]] = True
        played = self.players.act(
            np.zeros((1, n), dtype=np.int64), batch, masks, live, lambda _, i: rngs[self.agents[i]]
        )
        return {agent: int(played[0, index[agent]]) for agent in self.played if agent in observations}


def rollout(env: Any, policies: Mapping[str, Policy], seed: int, max_steps: int | None = None) -> Iterator[Transition]:
    """Reset ``env`` with ``seed`` and play until every nation is done (or ``max_steps``), yielding each step.

    Nation ``k``'s generator is the ``k``-th child of ``SeedSequence(seed)``, so runs are reproducible. ``policies``
    holds one policy for each of ``env.possible_agents`` (:func:`build_policies`); ``ValueError`` names any other.
    """
    if not isinstance(policies, Mapping):
        raise ValueError(
            f"policies={policies!r} is invalid; valid: a mapping {{agent: policy}} (agents.build_policies)"
        )
    _check_agents("policies", policies, list(env.possible_agents))
    return _played(env, policies, seed, max_steps)  # checked at the call, not at the first step


def _played(env: Any, policies: Mapping[str, Policy], seed: int, max_steps: int | None) -> Iterator[Transition]:
    observations, _ = env.reset(seed=seed)
    children = np.random.SeedSequence(seed).spawn(len(env.possible_agents))
    rngs = {agent: np.random.default_rng(child) for agent, child in zip(env.possible_agents, children, strict=True)}
    nations = Nations({agent: policies[agent] for agent in env.possible_agents}, env.possible_agents)
    limit = env.config.max_cycles if max_steps is None else max_steps
    for turn in range(limit):
        if not env.agents:
            return
        chosen = nations.act({agent: observations[agent] for agent in env.agents}, rngs)
        actions = {agent: chosen[agent] for agent in env.agents}  # in the env's order of agents
        seen = observations
        observations, rewards, terminations, truncations, infos = env.step(actions)
        yield Transition(turn, seen, actions, rewards, terminations, truncations, infos)
