"""Do the theories show up? Scripted populations in seeded, matched worlds, read through the evaluation harness.

Each check compares conditions pair by pair (episode ``k`` of one condition against episode ``k`` of the other,
same map and random streams) and asks that the 95% bootstrap interval of the paired difference lies on the side the
theory predicts, i.e. excludes zero:

- defensive realists alone (Waltz): nobody is eliminated and wars are rare;
- offensive against defensive realists (Mearsheimer against Waltz): more war onsets, a higher final HHI and fewer
  surviving nations, the direction of the paired differences of model M3 of the game-of-international-life simulation;
- offence-dominant (``offense_defense_balance=2``) against defence-dominant (3) worlds of offensive realists: more
  consolidation, fewer survivors (Cederman 1997's superiority ratio; Jervis 1978);
- conquest that pays (``conquest_payoff=0.9``) against conquest that does not (0.1), offensive realists: more war
  (Liberman 1996, *Does Conquest Pay?*; Van Evera 1999).

If one fails, the rules or the agents are wrong, not the test. The runs are cached per module, so the whole file plays
six conditions of ``EPISODES`` episodes once.
"""

from __future__ import annotations

import functools
from typing import Any

import pytest

from agents.evaluate import evaluate
from agents.evaluation_report import paired_report

#: Episodes and turns of the population contrasts. About half of the all-offensive episodes in the default world see
#: no war within 100 turns (no neighbour is ever weak enough for the odds to favour an attack), so this contrast
#: needs ten episodes for its interval to clear zero at other seeds too (checked at seeds 0, 100, ..., 400).
EPISODES, MAX_CYCLES = 10, 100
#: The config contrasts are sharper (every offence-dominant or high-payoff episode sees war): fewer, shorter runs.
CONFIG_EPISODES, CONFIG_MAX_CYCLES = 8, 80
SEED = 0
RESAMPLES = 1000


@functools.cache
def run(population: str, episodes: int = EPISODES, max_cycles: int = MAX_CYCLES, **overrides: Any) -> dict[str, Any]:
    """The harness report of ``population`` in the default scenario with config ``overrides`` (cached)."""
    return evaluate(
        population,
        scenario="multipolar",
        episodes=episodes,
        seed=SEED,
        overrides=overrides,
        max_cycles=max_cycles,
        n_resamples=RESAMPLES,
    )


def run_config(**overrides: Any) -> dict[str, Any]:
    """Offensive realists in the default scenario with config ``overrides`` (the config contrasts)."""
    return run("offensive_realist", CONFIG_EPISODES, CONFIG_MAX_CYCLES, **overrides)


def difference(a: dict[str, Any], b: dict[str, Any], metric: str) -> dict[str, float]:
    """Summary of B minus A of ``metric`` over the matched episodes."""
    return paired_report(a, b)["paired_difference"][metric]


def assert_positive(summary: dict[str, float], what: str, pairs: int) -> None:
    assert summary["n"] == pairs, f"{what}: only {summary['n']} of {pairs} pairs are defined"
    assert summary["ci_low"] > 0, f"{what}: expected > 0, got mean {summary['mean']:.3g} {summary}"


def assert_negative(summary: dict[str, float], what: str, pairs: int) -> None:
    assert summary["n"] == pairs, f"{what}: only {summary['n']} of {pairs} pairs are defined"
    assert summary["ci_high"] < 0, f"{what}: expected < 0, got mean {summary['mean']:.3g} {summary}"


def test_defensive_realists_alone_keep_the_peace() -> None:
    report = run("defensive_realist")
    eliminations = [row["eliminations"] for row in report["episodes"]]
    assert eliminations == [0.0] * EPISODES, f"defensive realists eliminated nations: {eliminations}"
    assert [row["surviving_nations"] for row in report["episodes"]] == [6.0] * EPISODES
    onsets = report["metrics"]["war_onsets"]["mean"]
    assert onsets <= 1.0, f"few wars expected among defensive realists, got {onsets:.3g} declarations per episode"


@pytest.mark.parametrize(
    ("metric", "sign"),
    [("war_onsets", +1), ("final_hhi", +1), ("surviving_nations", -1)],
)
def test_offensive_realists_fight_more_and_consolidate_more_than_defensive_realists(metric: str, sign: int) -> None:
    """Power-maximisers minus security-seekers, matched worlds (M3: +attack orders, +final HHI, -final states)."""
    d = difference(run("defensive_realist"), run("offensive_realist"), metric)
    check = assert_positive if sign > 0 else assert_negative
    check(d, f"offensive minus defensive realists, {metric}", EPISODES)


@pytest.mark.parametrize(("metric", "sign"), [("surviving_nations", -1), ("final_hhi", +1)])
def test_offence_dominance_consolidates_the_system(metric: str, sign: int) -> None:
    defence_dominant = run_config(offense_defense_balance=3.0)
    offence_dominant = run_config(offense_defense_balance=2.0)
    d = difference(defence_dominant, offence_dominant, metric)
    check = assert_positive if sign > 0 else assert_negative
    check(d, f"offence-dominant minus defence-dominant, {metric}", CONFIG_EPISODES)


def test_war_is_more_frequent_when_conquest_pays() -> None:
    low = run_config(conquest_payoff=0.1)
    high = run_config(conquest_payoff=0.9)
    assert_positive(difference(low, high, "war_onsets"), "conquest_payoff 0.9 minus 0.1, war_onsets", CONFIG_EPISODES)
