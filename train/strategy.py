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
shadows are fed as the nations are). ``focal:agree_chance`` is the chance level in the focal nations' own states: the
share of turns a uniformly random choice among the (act, target) pairs the mask allows would agree with any archetype
(one over their number, averaged over the turns), whatever the archetype chose, since its choice is allowed too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from agents import make_policy
from agents.players import Players
from realism_env import Act

#: The scripted archetypes a learned strategy is compared with.
ARCHETYPES: tuple[str, ...] = ("defensive_realist", "offensive_realist", "bandwagoner", "tit_for_tat")


def strategy_columns(n_arms_levels: int) -> list[str]:
    """The episode row's strategy columns (focal nations' shares of turns): acts, arms levels, agreements."""
    return [
        *(f"focal:act_{act.name.lower()}" for act in Act),
        *(f"focal:arms_level_{level}" for level in range(n_arms_levels)),
        *(f"focal:agree_{name}" for name in ARCHETYPES),
        "focal:agree_chance",
    ]


class StrategyTracker:
    """Counts the focal acts and the archetypes' agreement of episodes played together (see the module docstring).

    Args:
        env: an object with the episodes' ``layout`` and ``config`` (they build the archetypes).
        focal: ``[N]`` bool, the focal nations.
        seeds: the episodes' seeds (episode ``k``'s shadows draw from children of ``SeedSequence([seeds[k], 7])``, one
            generator per archetype, apart from the nations' own).
    """

    def __init__(self, env: Any, focal: Sequence[bool], seeds: Sequence[int]) -> None:
        self.n_nations = env.config.n_nations
        self.n_levels = len(env.config.arms_shares)
        self.focal = np.asarray(focal, dtype=bool)
        n = len(seeds)
        children = [np.random.SeedSequence([seed, 7]).spawn(len(ARCHETYPES)) for seed in seeds]
        #: {archetype: [episode] generator}
        self.rngs = {name: [np.random.default_rng(c[a]) for c in children] for a, name in enumerate(ARCHETYPES)}
        # each archetype's shadows of the focal nations of every episode decide in one batched call
        nations = np.flatnonzero(self.focal)
        worlds, slots = np.meshgrid(np.arange(n), nations, indexing="ij")
        self.shadows = {
            name: Players([(make_policy(name, env), worlds.reshape(-1), slots.reshape(-1))]) for name in ARCHETYPES
        }
        self.acts = np.zeros((n, len(Act)))
        self.levels = np.zeros((n, self.n_levels))
        self.agree = {name: np.zeros(n) for name in ARCHETYPES}
        self.chance = np.zeros(n)  # summed over turns: 1 / the (act, target) pairs the mask allows
        self.turns = np.zeros(n)

    def observe(self, live: np.ndarray, observations: np.ndarray, masks: np.ndarray, actions: np.ndarray) -> None:
        """One turn of the episodes: ``[E, N]`` flags of the nations that acted, ``[E, N, ...]`` what they saw (the
        observation and action mask) and ``[E, N]`` what they chose; the focal ones are counted."""
        counted = live & self.focal
        level, act, slot = self._parts(actions)
        episode, nation = np.nonzero(counted)
        np.add.at(self.acts, (episode, act[episode, nation]), 1)
        np.add.at(self.levels, (episode, level[episode, nation]), 1)
        self.turns += counted.sum(axis=1)
        # every arms level allows the same (act, target) pairs: those of level 0, the first block of the flat action
        pairs = masks[..., : len(Act) * (self.n_nations - 1)].sum(axis=-1)
        self.chance += np.where(counted, 1.0 / np.maximum(pairs, 1), 0.0).sum(axis=1)
        for name, shadows in self.shadows.items():
            rngs = self.rngs[name]
            choices = shadows.act(np.zeros_like(actions), observations, masks, counted, lambda k, _, r=rngs: r[k])
            _, shadow_act, shadow_slot = self._parts(choices)
            self.agree[name] += ((shadow_act == act) & (shadow_slot == slot) & counted).sum(axis=1)

    def _parts(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(arms level, act, target slot) of flat actions, as ``realism_env.decode_action`` splits one."""
        n_targets = self.n_nations - 1
        return actions // (len(Act) * n_targets), actions // n_targets % len(Act), actions % n_targets

    def row(self, k: int) -> dict[str, float]:
        """Episode ``k``'s strategy columns (NaN when no focal nation acted)."""
        turns = self.turns[k] if self.turns[k] else float("nan")
        return {
            **{f"focal:act_{a.name.lower()}": float(self.acts[k, int(a)] / turns) for a in Act},
            **{f"focal:arms_level_{level}": float(self.levels[k, level] / turns) for level in range(self.n_levels)},
            **{f"focal:agree_{name}": float(self.agree[name][k] / turns) for name in ARCHETYPES},
            "focal:agree_chance": float(self.chance[k] / turns),
        }
