"""Which strategies emerge: what focal nations do, and how often each scripted archetype would do the same.

For every turn of a focal nation, a :class:`StrategyTracker` records its act and arms level and asks each archetype
of :data:`ARCHETYPES` what *it* would do in the same observation. Each archetype plays a *shadow* of the nation: its
own memory, fed every observation the nation sees (as if it had been playing from the start, though the world follows
the focal nation's choices), and its own seeded generator. The archetypes act out the theories (``agents/policies.py``):
the defensive realist balances and arms to sufficiency (Waltz), the offensive realist attacks the weak and blackmails
(Mearsheimer), the bandwagoner joins the strongest, tit-for-tat returns what was done to it (Axelrod).

Agreement is on the act and its target (the flat action's act and target slot; arms levels are counted apart):
``focal:agree_<archetype>`` is the share of the focal nations' turns on which the archetype would have taken the same
act toward the same nation. A scripted defensive realist agrees with its own shadow on every turn (the check that the
shadows are fed as the nations are); a uniformly random nation gives each archetype's chance level.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from agents import Nations, make_policy
from realism_env import Act, decode_action

#: The scripted archetypes a learned strategy is compared with.
ARCHETYPES: tuple[str, ...] = ("defensive_realist", "offensive_realist", "bandwagoner", "tit_for_tat")


def strategy_columns(n_arms_levels: int) -> list[str]:
    """The episode row's strategy columns (focal nations' shares of turns): acts, arms levels, agreements."""
    return [
        *(f"focal:act_{act.name.lower()}" for act in Act),
        *(f"focal:arms_level_{level}" for level in range(n_arms_levels)),
        *(f"focal:agree_{name}" for name in ARCHETYPES),
    ]


class StrategyTracker:
    """Counts the focal acts and the archetypes' agreement of episodes played in lockstep (see the module docstring).

    Args:
        env: an env of the episodes (its layout and config build the archetypes).
        focal: the focal agents' names.
        seeds: the episodes' seeds (episode ``k``'s shadows draw from children of ``SeedSequence([seeds[k], 7])``, one
            generator per archetype, apart from the nations' own).
    """

    def __init__(self, env: Any, focal: Sequence[str], seeds: Sequence[int]) -> None:
        self.n_nations = env.config.n_nations
        self.n_levels = len(env.config.arms_shares)
        self.focal = list(focal)
        n = len(seeds)
        # each archetype's shadows of the focal nations of every episode decide together in one batched call
        self.shadows = {}
        self.rngs: dict[str, dict[tuple[int, str], np.random.Generator]] = {name: {} for name in ARCHETYPES}
        for k, seed in enumerate(seeds):
            children = np.random.SeedSequence([seed, 7]).spawn(len(ARCHETYPES))
            for name, child in zip(ARCHETYPES, children, strict=True):
                rng = np.random.default_rng(child)
                self.rngs[name].update({(k, agent): rng for agent in self.focal})
        for name in ARCHETYPES:
            self.shadows[name] = Nations(dict.fromkeys(self.rngs[name], make_policy(name, env)))
        self.acts = np.zeros((n, len(Act)))
        self.levels = np.zeros((n, self.n_levels))
        self.agree = {name: np.zeros(n) for name in ARCHETYPES}
        self.turns = np.zeros(n)

    def observe(self, transitions: Sequence[Any]) -> None:
        """One turn of the episodes: their transitions (``agents.rollout.Transition``, ``None`` for an ended one), what
        each live focal nation saw and chose."""
        chosen = {}
        seen = {}
        for k, transition in enumerate(transitions):
            if transition is None:
                continue
            for agent in self.focal:
                if agent in transition.actions:
                    chosen[k, agent] = decode_action(transition.actions[agent], self.n_nations, self.n_levels)
                    seen[k, agent] = transition.observations[agent]
        for (k, _), (level, act, _) in chosen.items():
            self.acts[k, int(act)] += 1
            self.levels[k, level] += 1
            self.turns[k] += 1
        for name, shadows in self.shadows.items():
            choices = shadows.act(seen, self.rngs[name])
            for nation, (_, act, slot) in chosen.items():
                _, shadow_act, shadow_slot = decode_action(choices[nation], self.n_nations, self.n_levels)
                self.agree[name][nation[0]] += int(shadow_act == act and shadow_slot == slot)

    def row(self, k: int) -> dict[str, float]:
        """Episode ``k``'s strategy columns (NaN when no focal nation acted)."""
        turns = self.turns[k] if self.turns[k] else float("nan")
        return {
            **{f"focal:act_{a.name.lower()}": float(self.acts[k, int(a)] / turns) for a in Act},
            **{f"focal:arms_level_{level}": float(self.levels[k, level] / turns) for level in range(self.n_levels)},
            **{f"focal:agree_{name}": float(self.agree[name][k] / turns) for name in ARCHETYPES},
        }
