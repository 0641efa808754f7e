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

from agents import make_policy
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
    """Counts one episode's focal acts and the archetypes' agreement (see the module docstring).

    Args:
        env: the episode's env (its layout and config build the archetypes).
        focal: the focal agents' names.
        seed: the episode's seed (the shadows' generators are its children, apart from the nations' own).
    """

    def __init__(self, env: Any, focal: Sequence[str], seed: int) -> None:
        self.n_nations = env.config.n_nations
        self.n_levels = len(env.config.arms_shares)
        self.focal = list(focal)
        self.shadows = {name: make_policy(name, env) for name in ARCHETYPES}
        children = np.random.SeedSequence([seed, 7]).spawn(len(ARCHETYPES))
        self.rngs = {name: np.random.default_rng(child) for name, child in zip(ARCHETYPES, children, strict=True)}
        self.memory = {(name, agent): self.shadows[name].initial_state() for name in ARCHETYPES for agent in focal}
        self.acts = np.zeros(len(Act))
        self.levels = np.zeros(self.n_levels)
        self.agree = dict.fromkeys(ARCHETYPES, 0)
        self.turns = 0

    def observe(self, observations: dict[str, Any], actions: dict[str, int]) -> None:
        """One turn: what each live focal nation saw (``observations``) and chose (``actions``)."""
        for agent in self.focal:
            if agent not in actions:
                continue
            level, act, slot = decode_action(actions[agent], self.n_nations, self.n_levels)
            self.acts[int(act)] += 1
            self.levels[level] += 1
            self.turns += 1
            for name, shadow in self.shadows.items():
                choice, self.memory[name, agent] = shadow.step(
                    observations[agent], self.memory[name, agent], self.rngs[name]
                )
                _, shadow_act, shadow_slot = decode_action(choice, self.n_nations, self.n_levels)
                self.agree[name] += int(shadow_act == act and shadow_slot == slot)

    def row(self) -> dict[str, float]:
        """The episode's strategy columns (NaN when no focal nation acted)."""
        turns = self.turns if self.turns else float("nan")
        return {
            **{f"focal:act_{a.name.lower()}": float(self.acts[int(a)] / turns) for a in Act},
            **{f"focal:arms_level_{k}": float(self.levels[k] / turns) for k in range(self.n_levels)},
            **{f"focal:agree_{name}": self.agree[name] / turns for name in ARCHETYPES},
        }
