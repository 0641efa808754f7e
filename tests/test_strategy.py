"""train.strategy: what focal nations do, and how often each scripted archetype would do the same."""

from __future__ import annotations

import numpy as np
import pytest

from agents.episodes import Episodes
from train.learned import play
from train.strategy import ARCHETYPES, strategy_columns

SEEDS = range(3)


def _rows(population: str, doctrine: str = "security") -> list[dict]:
    rows, _ = play([population] * 6, [doctrine] * 6, "multipolar", SEEDS, max_cycles=30, strategy=True)
    return rows


@pytest.mark.parametrize("archetype", ["defensive_realist", "offensive_realist", "tit_for_tat"])
def test_a_scripted_nation_agrees_with_its_own_archetype_on_every_turn(archetype):
    # The shadows see what the nations see, with their own memory: a deterministic archetype is its own shadow.
    for row in _rows(archetype, "power" if archetype == "offensive_realist" else "security"):
        assert row[f"focal:agree_{archetype}"] == 1.0


def test_shares_are_distributions_and_random_nations_agree_at_chance():
    rows = _rows("random")
    for row in rows:
        assert set(strategy_columns(5)) <= set(row)
        acts = [row[c] for c in strategy_columns(5) if c.startswith("focal:act_")]
        levels = [row[c] for c in strategy_columns(5) if c.startswith("focal:arms_level_")]
        assert sum(acts) == pytest.approx(1.0) and sum(levels) == pytest.approx(1.0)
        assert min(levels) > 0.05  # uniform arms levels
    for name in ARCHETYPES:
        assert np.mean([row[f"focal:agree_{name}"] for row in rows]) < 0.3
    # The chance level in the nations' own states (one over the allowed (act, target) pairs): what a uniformly random
    # nation's agreement with any archetype comes to, within its sampling error (540 turns: about 0.012).
    chance = np.mean([row["focal:agree_chance"] for row in rows])
    assert 0.02 < chance < 0.3
    for name in ARCHETYPES:
        assert abs(np.mean([row[f"focal:agree_{name}"] for row in rows]) - chance) < 0.035, name


def test_without_strategy_the_rows_hold_no_strategy_columns():
    rows, _ = play(["random"] * 6, ["security"] * 6, "multipolar", SEEDS, max_cycles=5)
    assert not set(strategy_columns(5)) & set(rows[0])


def test_episodes_played_together_give_the_rows_of_episodes_played_one_by_one(monkeypatch):
    # The shadows of every episode decide in one batched call per archetype; each episode keeps its own generators.
    population = ["tit_for_tat", "offensive_realist", "random", "bandwagoner", "defensive_realist", "tit_for_tat"]
    doctrines = ["security", "power"] * 3
    together, _ = play(
        population, doctrines, "bipolar", SEEDS, max_cycles=30, focal=[True] * 4 + [False] * 2, strategy=True
    )
    monkeypatch.setattr(Episodes, "TOGETHER", 1)
    alone, _ = play(
        population, doctrines, "bipolar", SEEDS, max_cycles=30, focal=[True] * 4 + [False] * 2, strategy=True
    )
    assert len(together) == len(alone) == len(SEEDS)
    for a, b in zip(together, alone, strict=True):
        assert a.keys() == b.keys()
        for column in a:
            assert a[column] == b[column] or (np.isnan(a[column]) and np.isnan(b[column])), column
