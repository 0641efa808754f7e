"""Run scripted policies in a realism_env episode: the wrapper that fills the nations' slots.

The env never calls agents (Melting Pot's scenario wrapper); this loop does, giving every nation its own
seeded generator and memory. The nations that one :class:`~agents.policies.ArrayPolicy` plays decide in one batched
call a turn (:class:`Nations`), each with one draw from its own generator; other policies step nation by nation.
:func:`rollout_together` plays several episodes in lockstep, so that the batch spans their nations too: each
episode plays exactly as :func:`rollout` would play it alone.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from agents.policies import ArrayPolicy, Policy, make_policy, put_rows, take_rows


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
    ``{agent: name}`` covering every agent. ``params`` go to every policy. Nations with the same name share one
    policy object (policies are stateless), so :class:`Nations` batches them."""
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
    policies = {name: make_policy(name, env, **params) for name in dict.fromkeys(names.values())}
    return {agent: policies[names[agent]] for agent in agents}


class Nations:
    """The nations played by scripted policies, with their memories: the nations that share one
    :class:`~agents.policies.ArrayPolicy` object act in one batched call (:meth:`ArrayPolicy.act`), each with one
    uniform draw from its own generator a turn; any other policy steps nation by nation (:meth:`Policy.step`).

    Args:
        policies: ``{nation: policy}`` for the nations to play, in a fixed order; a nation is any key (an agent name,
            or ``(episode, agent)`` across episodes).
    """

    def __init__(self, policies: Mapping[Hashable, Policy]) -> None:
        self.groups: list[tuple[Policy, list[Hashable]]] = []  # (policy, its nations), each policy object once
        for agent, policy in policies.items():
            group = next((members for shared, members in self.groups if shared is policy), None)
            if group is None:
                self.groups.append((policy, [agent]))
            else:
                group.append(agent)
        self.memory: list[Any] = [
            policy.initial_states(len(members))
            if isinstance(policy, ArrayPolicy)
            else [policy.initial_state()] * len(members)
            for policy, members in self.groups
        ]

    def act(
        self, observations: Mapping[Hashable, Mapping[str, np.ndarray]], rngs: Mapping[Hashable, np.random.Generator]
    ) -> dict[Hashable, int]:
        """The actions of the nations with an observation this turn (the live ones), updating their memories."""
        actions: dict[Hashable, int] = {}
        for g, (policy, members) in enumerate(self.groups):
            rows = [k for k, agent in enumerate(members) if agent in observations]
            if not rows:
                continue
            live = [members[k] for k in rows]
            if isinstance(policy, ArrayPolicy):
                chosen, memory = policy.act(
                    np.stack([observations[agent]["observation"] for agent in live]),
                    np.stack([observations[agent]["action_mask"] for agent in live]),
                    take_rows(self.memory[g], np.asarray(rows)),
                    np.array([rngs[agent].random() for agent in live]),
                )
                self.memory[g] = put_rows(self.memory[g], np.asarray(rows), memory)
                actions.update(zip(live, chosen.tolist(), strict=True))
            else:
                for k, agent in zip(rows, live, strict=True):
                    actions[agent], self.memory[g][k] = policy.step(observations[agent], self.memory[g][k], rngs[agent])
        return actions


def rollout(env: Any, policies: Mapping[str, Policy], seed: int, max_steps: int | None = None) -> Iterator[Transition]:
    """Reset ``env`` with ``seed`` and play until every nation is done (or ``max_steps``), yielding each step.

    Nation ``k``'s generator is the ``k``-th child of ``SeedSequence(seed)``, so runs are reproducible.
    """
    for transitions in rollout_together([env], policies, [seed], max_steps):
        yield transitions[0]


def rollout_together(
    envs: Sequence[Any], policies: Mapping[str, Policy], seeds: Sequence[int], max_steps: int | None = None
) -> Iterator[list[Transition | None]]:
    """Play episode ``k`` in ``envs[k]`` from ``seeds[k]`` (as :func:`rollout` does), all in lockstep, so that each
    policy decides for its nations of every episode in one call a turn. Yields each turn's transitions, one per
    episode (``None`` for an episode that has ended), until every episode is done or ``max_steps``.

    The envs share a config (the same agents); each episode's nations keep their own generators and memories, so
    episode ``k`` plays exactly as ``rollout(envs[k], policies, seeds[k])`` would.
    """
    if len(envs) != len(seeds):
        raise ValueError(f"{len(envs)} envs for {len(seeds)} seeds; valid: one env per seed")
    observations = [env.reset(seed=seed)[0] for env, seed in zip(envs, seeds, strict=True)]
    rngs = {}  # nation i of episode k draws from the i-th child of SeedSequence(seeds[k])
    for k, (env, seed) in enumerate(zip(envs, seeds, strict=True)):
        children = np.random.SeedSequence(seed).spawn(len(env.possible_agents))
        for agent, child in zip(env.possible_agents, children, strict=True):
            rngs[k, agent] = np.random.default_rng(child)
    nations = Nations({nation: policies[nation[1]] for nation in rngs})
    limit = envs[0].config.max_cycles if max_steps is None else max_steps
    for turn in range(limit):
        running = [k for k, env in enumerate(envs) if env.agents]
        if not running:
            return
        chosen = nations.act({(k, agent): observations[k][agent] for k in running for agent in envs[k].agents}, rngs)
        transitions: list[Transition | None] = [None] * len(envs)
        for k in running:
            actions = {agent: chosen[k, agent] for agent in envs[k].agents}  # in the env's order of agents
            seen = observations[k]
            observations[k], rewards, terminations, truncations, infos = envs[k].step(actions)
            transitions[k] = Transition(turn, seen, actions, rewards, terminations, truncations, infos)
        yield transitions
