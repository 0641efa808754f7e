"""The rules, one at a time, on hand-built worlds (no env, no map generator).

Each test builds the smallest world that shows one rule (see ``tests/worlds.py``), takes one turn of
:func:`realism_env.rules.transition` and checks that rule alone. Empirical rates stack many copies of a
world on the world axis and draw them with one seeded generator.
"""

from __future__ import annotations

import numpy as np
import pytest

from realism_env import Act, World
from realism_env.rules import action_mask, credibility, transition
from tests.worlds import ARRAY_FIELDS, actions, build, config, relabel, repeat, stack, step

# A quiet economy, so one rule shows alone: no growth, no wear, no upkeep, no devastation.
STILL = {"depreciation": 0.0, "upkeep": 0.0, "war_devastation": 0.0}


def logistic_odds(force_ratio: float, rho: float, c: float) -> float:
    """Cederman's capture odds, 1 / (1 + (ratio / rho)^-c)."""
    return 1.0 / (1.0 + (force_ratio / rho) ** -c)


def capture_rate(world: World, moves: dict, cfg, n_worlds: int, seed: int) -> tuple[float, np.ndarray]:
    """Share of ``n_worlds`` copies of ``world`` in which nation 0 took a province from nation 1."""
    after, events = step(repeat(world, n_worlds), moves, cfg, seed=seed)
    taken = events.province_taken[:, 0, 1] > 0
    return float(taken.mean()), taken


# --------------------------------------------------------------------------------------------------
# Attrition
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mil0", "mil1", "attrition", "lost0", "lost1"),
    [
        (10.0, 10.0, 0.1, 1.0, 1.0),  # equal forces, equal losses
        (10.0, 30.0, 0.1, 3.0, 1.0),  # each loses attrition * what the enemy commits
        (2.0, 100.0, 0.1, 2.0, 0.2),  # capped at own force
        (10.0, 10.0, 0.0, 0.0, 0.0),  # no attrition, no losses
        (10.0, 40.0, 0.5, 10.0, 5.0),
    ],
)
def test_attrition_is_proportional_to_the_enemy_force_and_capped(mil0, mil1, attrition, lost0, lost1):
    world = build([0, 0, 1, 1], military=[mil0, mil1], at_war=[(0, 1)], growth=0.0)
    cfg = config(2, attrition=attrition, **STILL)
    after, events = step(world, {}, cfg)  # both wait: the war goes on and the armies grind
    np.testing.assert_allclose(events.forces_lost[0], [[0.0, lost0], [lost1, 0.0]])
    np.testing.assert_allclose(after.military[0], [mil0 - lost0, mil1 - lost1])
    np.testing.assert_allclose(after.forces_lost[0], [lost0, lost1])
    assert events.battle[0, 0, 1] and events.battle[0, 1, 0]
    assert (events.province_taken == 0).all()  # nobody attacked, so nobody captures


def test_attrition_splits_forces_evenly_across_fronts():
    # Nation 0 (30) fights 1 (10) and 2 (10) at once: it commits 15 on each front.
    world = build([1, 0, 2], military=[30.0, 10.0, 10.0], at_war=[(0, 1), (0, 2)], growth=0.0)
    after, events = step(world, {}, config(3, attrition=0.1, **STILL))
    lost = events.forces_lost[0]
    np.testing.assert_allclose(lost[0], [0.0, 1.0, 1.0])  # 0.1 * 10 on each front
    np.testing.assert_allclose(lost[1:, 0], [1.5, 1.5])  # 0.1 * 15, half of nation 0's force
    np.testing.assert_allclose(after.military[0], [28.0, 8.5, 8.5])
    assert not events.battle[0, 1, 2]


def test_no_battle_without_war():
    world = build([0, 1], military=[10.0, 10.0], growth=0.0)
    after, events = step(world, {}, config(2, **STILL))
    assert not events.battle.any() and (events.forces_lost == 0).all()
    np.testing.assert_allclose(after.military[0], [10.0, 10.0])


# --------------------------------------------------------------------------------------------------
# Capture odds
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mil0", "mil1", "low", "high"),
    [
        (1000.0, 1.0, 0.999, 1.0),  # a crushing superiority takes a province almost surely
        (1.0, 1000.0, 0.0, 0.0),  # a hopeless attack never does
    ],
)
def test_capture_is_near_certain_or_near_impossible_at_extreme_ratios(mil0, mil1, low, high):
    world = build([0, 0, 1, 1], military=[mil0, mil1], at_war=[(0, 1)], growth=0.0)
    rate, _ = capture_rate(world, {0: (Act.ATTACK, 1)}, config(2, attrition=0.0), 500, seed=1)
    assert low <= rate <= high


@pytest.mark.parametrize("force_ratio", [2.0, 2.5, 3.0, 3.5])
def test_capture_rate_matches_the_logistic_odds(force_ratio):
    rho, c, n_worlds = 2.5, 5.0, 4000
    world = build([0, 0, 1, 1], military=[10.0 * force_ratio, 10.0], at_war=[(0, 1)], growth=0.0)
    cfg = config(2, offense_defense_balance=rho, capture_steepness=c)
    rate, _ = capture_rate(world, {0: (Act.ATTACK, 1)}, cfg, n_worlds, seed=2)
    expected = logistic_odds(force_ratio, rho, c)
    tolerance = 4.0 * np.sqrt(expected * (1 - expected) / n_worlds) + 1e-3
    assert abs(rate - expected) < tolerance, (rate, expected)


def test_capture_needs_an_attack_not_only_a_war():
    world = build([0, 0, 1, 1], military=[1000.0, 1.0], at_war=[(0, 1)], growth=0.0)
    rate, _ = capture_rate(world, {}, config(2), 200, seed=3)
    assert rate == 0.0


def test_an_attack_declares_war_and_fights_the_same_turn():
    world = build([0, 0, 1, 1], military=[1000.0, 1.0], growth=0.0)
    after, events = step(world, {0: (Act.ATTACK, 1)}, config(2))
    assert events.war_declared[0, 0, 1] and not events.war_declared[0, 1, 0]
    assert after.at_war[0, 0, 1] and after.at_war[0, 1, 0]
    assert after.war_years[0, 0, 1] == 1
    assert events.province_taken[0, 0, 1] == 1
    assert after.owner[0].tolist() == [0, 0, 0, 1]  # the border province, not the far one


def test_a_higher_offense_defense_balance_lowers_captures():
    world = build([0, 0, 1, 1], military=[25.0, 10.0], at_war=[(0, 1)], growth=0.0)
    moves, n_worlds = {0: (Act.ATTACK, 1)}, 2000
    rates, taken = {}, {}
    for balance in (2.0, 2.5, 3.0):  # offence-dominant to defence-dominant, same random draws
        rates[balance], taken[balance] = capture_rate(
            world, moves, config(2, offense_defense_balance=balance), n_worlds, seed=4
        )
    assert rates[2.0] > rates[2.5] > rates[3.0]
    assert not (taken[3.0] & ~taken[2.5]).any() and not (taken[2.5] & ~taken[2.0]).any()


# --------------------------------------------------------------------------------------------------
# The stopping power of water
# --------------------------------------------------------------------------------------------------

# The same two nations, touching by land (0-1 | 2-3 joined by land 1-2) or only across sea (1~2).
OVER_LAND = {"land": [(0, 1), (1, 2), (2, 3)]}
OVER_SEA = {"land": [(0, 1), (2, 3)], "sea": [(1, 2)]}


def test_attack_across_sea_is_weaker_than_over_land():
    force_ratio, n_worlds = 3.0, 4000
    moves = {0: (Act.ATTACK, 1)}
    cfg = config(2, sea_penalty=0.5)
    rates = {}
    for name, links in (("land", OVER_LAND), ("sea", OVER_SEA)):
        world = build([0, 0, 1, 1], military=[10.0 * force_ratio, 10.0], at_war=[(0, 1)], growth=0.0, **links)
        rates[name], _ = capture_rate(world, moves, cfg, n_worlds, seed=5)
    assert rates["sea"] < rates["land"] - 0.3
    expected = logistic_odds(force_ratio * 0.5, cfg.offense_defense_balance, cfg.capture_steepness)
    assert abs(rates["sea"] - expected) < 4.0 * np.sqrt(expected * (1 - expected) / n_worlds) + 1e-3


def test_sea_penalty_of_one_makes_sea_like_land():
    moves = {0: (Act.ATTACK, 1)}
    cfg = config(2, sea_penalty=1.0)
    taken = {}
    for name, links in (("land", OVER_LAND), ("sea", OVER_SEA)):
        world = build([0, 0, 1, 1], military=[30.0, 10.0], at_war=[(0, 1)], growth=0.0, **links)
        _, taken[name] = capture_rate(world, moves, cfg, 1000, seed=6)
    np.testing.assert_array_equal(taken["land"], taken["sea"])  # same draws, same odds, same captures


def test_across_sea_the_province_taken_is_the_coastal_one():
    world = build([0, 0, 1, 1], military=[1000.0, 1.0], at_war=[(0, 1)], growth=0.0, **OVER_SEA)
    after, events = step(world, {0: (Act.ATTACK, 1)}, config(2, sea_penalty=0.5))
    assert after.owner[0].tolist() == [0, 0, 0, 1]


# --------------------------------------------------------------------------------------------------
# Conquest payoff
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("payoff", [0.0, 0.25, 0.5, 1.0])
def test_conqueror_keeps_conquest_payoff_of_the_wealth_and_the_rest_is_destroyed(payoff):
    world = build([0, 0, 1, 1], wealth=[1.0, 1.0, 2.0, 3.0], military=[1000.0, 1.0], at_war=[(0, 1)], growth=0.0)
    cfg = config(2, conquest_payoff=payoff, **STILL)
    after, events = step(world, {0: (Act.ATTACK, 1)}, cfg)
    assert after.owner[0].tolist() == [0, 0, 0, 1]
    np.testing.assert_allclose(after.wealth[0], [1.0, 1.0, 2.0 * payoff, 3.0])
    np.testing.assert_allclose(events.wealth_destroyed[0], [0.0, 2.0 * (1.0 - payoff)])  # the loser's wealth
    np.testing.assert_allclose(after.wealth_destroyed[0], [0.0, 2.0 * (1.0 - payoff)])


# --------------------------------------------------------------------------------------------------
# Alliances
# --------------------------------------------------------------------------------------------------

ALLY_01, ALLY_10, WAIT = (Act.ALLY, 1), (Act.ALLY, 0), None


@pytest.mark.parametrize(
    ("case", "standing", "moves", "allied", "proposal_01", "proposal_10"),
    [
        ("both propose the same turn", [], {0: ALLY_01, 1: ALLY_10}, True, False, False),
        ("1 accepts 0's standing proposal", [(0, 1)], {1: ALLY_10}, True, False, False),
        ("one-sided: only a proposal", [], {0: ALLY_01}, False, True, False),
        ("a standing proposal lapses after a turn", [(0, 1)], {}, False, False, False),
        ("renewing one's own proposal is not acceptance", [(0, 1)], {0: ALLY_01}, False, True, False),
    ],
)
def test_alliance_forms_only_when_both_sides_agree(case, standing, moves, allied, proposal_01, proposal_10):
    world = build([0, 1, 2], alliance_proposal=standing, growth=0.0)
    after, events = step(world, moves, config(3))
    assert bool(after.allied[0, 0, 1]) == bool(after.allied[0, 1, 0]) == allied, case
    assert bool(events.alliance_formed[0, 0, 1]) == bool(events.alliance_formed[0, 1, 0]) == allied, case
    assert bool(after.alliance_proposal[0, 0, 1]) == proposal_01, case
    assert bool(after.alliance_proposal[0, 1, 0]) == proposal_10, case
    assert bool(events.alliance_proposed[0, 0, 1]) == proposal_01, case
    assert not after.allied[0, 2].any()


def test_alliance_years_count_like_war_years():
    # A war declared this turn has lasted one year; so has an alliance formed this turn.
    world = build([0, 1, 2], military=[5.0, 5.0, 5.0], growth=0.0)
    after, _ = step(world, {0: (Act.ALLY, 1), 1: (Act.ALLY, 0), 2: (Act.ATTACK, 1)}, config(3))
    assert after.war_years[0, 2, 1] == 1
    assert after.alliance_years[0, 0, 1] == after.alliance_years[0, 1, 0] == 1


@pytest.mark.parametrize("leaver", [0, 1])
def test_leaving_an_alliance_ends_it_at_once(leaver):
    world = build([0, 1, 2], allied=[(0, 1)], growth=0.0)
    other = 1 - leaver
    after, events = step(world, {leaver: (Act.LEAVE_ALLIANCE, other)}, config(3))
    assert not after.allied[0, 0, 1] and not after.allied[0, 1, 0]
    assert events.alliance_left[0, leaver, other] and not events.alliance_left[0, other, leaver]
    assert after.alliance_years[0, 0, 1] == 0


def test_an_ally_cannot_be_attacked():
    world = build([0, 1], allied=[(0, 1)], military=[100.0, 1.0], growth=0.0)
    cfg = config(2)
    attack = actions(world, {0: (Act.ATTACK, 1)})
    assert action_mask(world, cfg)[0, 0, attack[0, 0]] == 0
    after, events = transition(world, attack, cfg, np.random.default_rng(0))
    assert events.invalid_action[0, 0]
    assert not after.at_war.any() and not events.war_declared.any()
    assert after.allied[0, 0, 1] and after.owner[0].tolist() == [0, 1]


# --------------------------------------------------------------------------------------------------
# Demands, concessions, credibility
# --------------------------------------------------------------------------------------------------


def test_threaten_creates_a_demand():
    world = build([0, 0, 1, 1], growth=0.0)
    after, events = step(world, {0: (Act.THREATEN, 1)}, config(2))
    assert after.demand[0, 0, 1] and not after.demand[0, 1, 0]
    assert events.demand_made[0, 0, 1]
    assert after.threats_made[0].tolist() == [1, 0]
    assert not after.at_war.any()


def test_concession_hands_one_bordering_province_over_intact():
    world = build([0, 0, 1, 1], wealth=[1.0, 1.0, 2.0, 3.0], demand=[(0, 1)], growth=0.0)
    after, events = step(world, {1: (Act.CONCEDE, 0)}, config(2, **STILL))
    assert not events.invalid_action.any()
    assert events.concession[0, 1, 0]
    assert not after.demand[0, 0, 1]
    assert after.owner[0].tolist() == [0, 0, 0, 1], "the bordering province should pass to the demander"
    np.testing.assert_allclose(after.wealth[0], [1.0, 1.0, 2.0, 3.0])  # intact: nothing destroyed
    np.testing.assert_allclose(events.wealth_destroyed[0], [0.0, 0.0])
    assert not after.at_war.any()


def test_a_nation_never_concedes_its_last_province():
    world = build([0, 0, 1], demand=[(0, 1)], growth=0.0)
    concede = actions(world, {1: (Act.CONCEDE, 0)})
    assert action_mask(world, config(2))[0, 1, concede[0, 1]] == 0


def test_attacking_over_a_standing_demand_enforces_the_threat():
    world = build([0, 0, 1, 1], demand=[(0, 1)], threats_made=[1, 0], military=[10.0, 10.0], growth=0.0)
    assert credibility(world)[0, 0] == pytest.approx(1 / 3)
    after, events = step(world, {0: (Act.ATTACK, 1)}, config(2))
    assert events.threat_enforced[0, 0, 1] and events.war_declared[0, 0, 1]
    assert after.threats_enforced[0].tolist() == [1, 0]
    assert credibility(after)[0, 0] == pytest.approx(2 / 3)  # Laplace: (1 + 1) / (1 + 2)
    assert not after.demand[0, 0, 1] and not events.bluff_called.any()


@pytest.mark.parametrize("deadline", [1, 2, 3])
def test_a_demand_not_carried_out_by_the_deadline_is_a_bluff(deadline):
    world = build([0, 0, 1, 1], military=[10.0, 10.0], growth=0.0)
    cfg = config(2, demand_deadline=deadline)
    world, _ = step(world, {0: (Act.THREATEN, 1)}, cfg)  # turn 0: the threat
    called_on = None
    for turn in range(1, deadline + 3):  # capped
        world, events = step(world, {}, cfg, seed=turn)
        if events.bluff_called[0, 0, 1]:
            called_on = turn
            break
        assert world.demand[0, 0, 1], f"the demand should stand until the deadline (turn {turn})"
    assert called_on == deadline
    assert not world.demand[0, 0, 1]
    assert world.threats_enforced[0, 0] == 0 and world.threats_made[0, 0] == 1


@pytest.mark.parametrize("deadline", [1, 2, 3])
def test_a_threat_can_still_be_carried_out_on_the_deadline_turn(deadline):
    world = build([0, 0, 1, 1], military=[10.0, 10.0], growth=0.0)
    cfg = config(2, demand_deadline=deadline)
    world, _ = step(world, {0: (Act.THREATEN, 1)}, cfg)
    for turn in range(1, deadline):
        world, _ = step(world, {}, cfg, seed=turn)
    world, events = step(world, {0: (Act.ATTACK, 1)}, cfg, seed=99)
    assert events.threat_enforced[0, 0, 1] and not events.bluff_called.any()


# --------------------------------------------------------------------------------------------------
# Aid (bait-and-bleed, bloodletting)
# --------------------------------------------------------------------------------------------------


def test_support_moves_aid_share_of_income_into_the_target_military():
    wealth = [2.0, 3.0, 1.0, 1.0]  # nation 0's income is 5
    world = build([0, 0, 1, 1], wealth=wealth, military=[4.0, 1.0], growth=0.0)
    cfg = config(2, aid_share=0.2, **STILL)
    after, events = step(world, {0: (Act.SUPPORT, 1)}, cfg)
    assert events.aid[0, 0, 1] == pytest.approx(1.0)
    np.testing.assert_allclose(after.military[0], [4.0, 2.0])  # the giver keeps its forces; 1 gains 0.2 * 5


def test_support_costs_the_giver_growth():
    g, share = 0.05, 0.2
    world = build([0, 0, 1, 1], military=[1.0, 1.0], growth=g)
    cfg = config(2, aid_share=share, **STILL)
    gave, _ = step(world, {0: (Act.SUPPORT, 1)}, cfg)
    waited, _ = step(world, {}, cfg)
    np.testing.assert_allclose(gave.wealth[0, :2], 1.0 + g * (1.0 - share))
    np.testing.assert_allclose(waited.wealth[0, :2], 1.0 + g)
    np.testing.assert_allclose(gave.wealth[0, 2:], waited.wealth[0, 2:])  # the receiver's economy is untouched


# --------------------------------------------------------------------------------------------------
# Peace
# --------------------------------------------------------------------------------------------------

PEACE_01, PEACE_10 = (Act.PEACE, 1), (Act.PEACE, 0)


@pytest.mark.parametrize(
    ("case", "standing", "moves", "war_ends", "offer_01"),
    [
        ("both offer the same turn", [], {0: PEACE_01, 1: PEACE_10}, True, False),
        ("1 accepts 0's standing offer", [(0, 1)], {1: PEACE_10}, True, False),
        ("one-sided offer: war continues", [], {0: PEACE_01}, False, True),
        ("offer answered by an attack", [], {0: PEACE_01, 1: (Act.ATTACK, 0)}, False, True),
        ("an offer lapses after a turn", [(0, 1)], {}, False, False),
    ],
)
def test_war_ends_only_when_both_sides_offer_peace(case, standing, moves, war_ends, offer_01):
    world = build([0, 0, 1, 1], military=[10.0, 10.0], at_war=[(0, 1)], peace_offer=standing, growth=0.0)
    after, events = step(world, moves, config(2, attrition=0.0))
    assert bool(after.at_war[0, 0, 1]) == bool(after.at_war[0, 1, 0]) == (not war_ends), case
    assert bool(events.peace[0, 0, 1]) == bool(events.peace[0, 1, 0]) == war_ends, case
    assert bool(after.peace_offer[0, 0, 1]) == offer_01, case
    assert after.war_years[0, 0, 1] == (0 if war_ends else 2), case
    assert bool(events.battle[0, 0, 1]) == (not war_ends), case


# --------------------------------------------------------------------------------------------------
# Elimination
# --------------------------------------------------------------------------------------------------


def test_losing_the_last_province_eliminates_a_nation_and_ends_its_relations():
    # Nation 1 holds one province; 0 crushes it while 1 is allied with 3 and has a demand standing on 2.
    world = build(
        [0, 1, 2, 3],
        military=[1000.0, 1.0, 5.0, 5.0],
        at_war=[(0, 1)],
        allied=[(1, 3)],
        demand=[(1, 2), (2, 1)],
        growth=0.0,
    )
    after, events = step(world, {0: (Act.ATTACK, 1), 1: (Act.PEACE, 0), 2: (Act.ALLY, 1)}, config(4))
    assert not events.invalid_action.any()
    assert after.owner[0].tolist() == [0, 0, 2, 3]
    assert events.eliminated[0].tolist() == [False, True, False, False]
    assert after.alive[0].tolist() == [True, False, True, True]
    assert after.military[0, 1] == 0.0
    for relation in ("at_war", "allied", "alliance_proposal", "peace_offer", "demand"):
        matrix = getattr(after, relation)[0]
        assert not matrix[1].any() and not matrix[:, 1].any(), relation
    assert after.war_years[0, 0, 1] == 0 and after.alliance_years[0, 1, 3] == 0


def test_an_eliminated_nation_acts_no_more():
    world = build([0, 0, 2], n_nations=3, military=[5.0, 5.0, 5.0], growth=0.0)
    world = world.replace(alive=np.array([[True, False, True]]), military=np.array([[5.0, 0.0, 5.0]]))
    after, events = step(world, {1: (Act.SUPPORT, 0)}, config(3, **STILL))
    assert not after.alive[0, 1] and after.military[0, 1] == 0.0
    assert events.aid[0, 1].sum() == 0.0 and not events.eliminated.any()
    assert not events.invalid_action[0, 1]  # the dead are not flagged


# --------------------------------------------------------------------------------------------------
# Growth, arms and upkeep
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "upkeep", "military", "expected_growth"),
    [
        (0, 0.0, 0.0, 1.0),  # all income invested
        (2, 0.0, 0.0, 1.0 - 0.1),  # guns cost butter
        (4, 0.0, 0.0, 1.0 - 0.4),
        (0, 0.05, 4.0, 1.0 - 0.05 * 4.0 / 2.0),  # upkeep: 0.05 * military / income
        (3, 0.05, 4.0, 1.0 - 0.2 - 0.1),
    ],
)
def test_arms_and_upkeep_slow_growth(level, upkeep, military, expected_growth):
    g = 0.1
    world = build([0, 0, 1, 1], military=[military, 1.0], growth=g)  # nation 0's income is 2
    cfg = config(2, depreciation=0.0, upkeep=upkeep, war_devastation=0.0)
    after, _ = step(world, {}, cfg, level={0: level})
    np.testing.assert_allclose(after.wealth[0, :2], 1.0 + g * expected_growth)
    assert after.arms_level[0, 0] == level


def test_higher_arms_share_means_slower_wealth_growth():
    world = repeat(build([0, 0, 1, 1], military=[1.0, 1.0], growth=0.05), 5)
    levels = np.arange(5)
    flat = np.stack([actions(world.select(0), level=int(lv))[0] for lv in levels])
    after, _ = transition(world, flat, config(2), np.random.default_rng(0))
    wealth = after.wealth[:, 0]
    military = after.military[:, 0]
    assert (np.diff(wealth) < 0).all() and (np.diff(military) > 0).all()


@pytest.mark.parametrize("depreciation", [0.0, 0.1, 0.5])
def test_military_depreciates_and_arms_spending_renews_it(depreciation):
    world = build([0, 0, 1, 1], military=[10.0, 10.0], growth=0.0)  # income 2 each
    cfg = config(2, depreciation=depreciation, upkeep=0.0)
    after, _ = step(world, {}, cfg, level={0: 0, 1: 4})
    np.testing.assert_allclose(after.military[0], [10.0 * (1 - depreciation), 10.0 * (1 - depreciation) + 0.4 * 2])


def test_war_devastates_the_economy():
    world = build([0, 0, 1, 1, 2, 2], military=[10.0, 10.0, 10.0], at_war=[(0, 1)], growth=0.0)
    after, events = step(world, {}, config(3, war_devastation=0.1, attrition=0.0, upkeep=0.0))
    np.testing.assert_allclose(after.wealth[0], [0.9, 0.9, 0.9, 0.9, 1.0, 1.0])
    np.testing.assert_allclose(events.wealth_destroyed[0], [0.2, 0.2, 0.0])


# --------------------------------------------------------------------------------------------------
# Simultaneous moves: no advantage to a lower index
# --------------------------------------------------------------------------------------------------


def test_mirror_worlds_give_mirror_outcomes():
    # Nation 0 (12) and 1 (8) attack each other; relabelled, the same war is fought by 1 (12) and 0 (8).
    world = build([0, 0, 1, 1], military=[12.0, 8.0], at_war=[(0, 1)], growth=0.03)
    mirror = relabel(world, [1, 0])
    assert mirror.owner[0].tolist() == [1, 1, 0, 0] and mirror.military[0].tolist() == [8.0, 12.0]
    moves = {0: (Act.ATTACK, 1), 1: (Act.ATTACK, 0)}
    cfg, n_worlds = config(2, offense_defense_balance=1.0, capture_steepness=2.0), 3000
    a, ev_a = step(repeat(world, n_worlds), moves, cfg, seed=7)
    b, ev_b = step(repeat(mirror, n_worlds), moves, cfg, seed=8)
    # Deterministic parts swap exactly.
    np.testing.assert_allclose(ev_a.forces_lost[0], ev_b.forces_lost[0][::-1, ::-1])
    # Captures swap in distribution.
    for i in (0, 1):
        rate_a = (ev_a.province_taken[:, i, 1 - i] > 0).mean()
        rate_b = (ev_b.province_taken[:, 1 - i, i] > 0).mean()
        assert abs(rate_a - rate_b) < 0.05, (i, rate_a, rate_b)
    held_a = (a.owner == 0).sum(axis=1).mean()
    held_b = (b.owner == 1).sum(axis=1).mean()
    assert abs(held_a - held_b) < 0.1


@pytest.mark.parametrize("seed", [10, 11])
def test_a_province_two_nations_take_at_once_goes_to_either_with_equal_odds(seed):
    # 0 and 2 both crush 1's only province on the same turn: the tie is broken by the generator, not the index.
    world = build([0, 1, 2], military=[1000.0, 1.0, 1000.0], at_war=[(0, 1), (1, 2)], growth=0.0)
    n_worlds = 2000
    after, events = step(repeat(world, n_worlds), {0: (Act.ATTACK, 1), 2: (Act.ATTACK, 1)}, config(3), seed=seed)
    winner = after.owner[:, 1]
    assert set(np.unique(winner).tolist()) == {0, 2}
    assert abs((winner == 0).mean() - 0.5) < 0.05
    assert events.eliminated[:, 1].all()
    np.testing.assert_array_equal(events.province_taken[:, 0, 1] + events.province_taken[:, 2, 1], 1)


def test_a_symmetric_world_is_symmetric_in_distribution():
    world = build([0, 0, 1, 1], military=[10.0, 10.0], at_war=[(0, 1)], growth=0.0)
    moves = {0: (Act.ATTACK, 1), 1: (Act.ATTACK, 0)}
    after, events = step(repeat(world, 4000), moves, config(2, offense_defense_balance=1.0), seed=12)
    rate_0 = (events.province_taken[:, 0, 1] > 0).mean()
    rate_1 = (events.province_taken[:, 1, 0] > 0).mean()
    assert 0.4 < rate_0 < 0.6 and abs(rate_0 - rate_1) < 0.05


# --------------------------------------------------------------------------------------------------
# Invalid actions
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "relations", "move", "valid"),
    [
        ("attack an ally", {"allied": [(0, 1)]}, (Act.ATTACK, 1), False),
        ("attack a non-neighbour at peace", {}, (Act.ATTACK, 2), False),
        ("offer peace when at peace", {}, (Act.PEACE, 1), False),
        ("leave an alliance one is not in", {}, (Act.LEAVE_ALLIANCE, 1), False),
        ("concede with no demand standing", {}, (Act.CONCEDE, 1), False),
        ("threaten a non-neighbour", {}, (Act.THREATEN, 2), False),
        ("threaten twice", {"demand": [(0, 1)]}, (Act.THREATEN, 1), False),
        ("ally with an enemy", {"at_war": [(0, 1)]}, (Act.ALLY, 1), False),
        ("support an enemy", {"at_war": [(0, 1)]}, (Act.SUPPORT, 1), False),
        ("wait with a target slot other than 0", {}, (Act.WAIT, 2), False),
        ("attack a neighbour", {}, (Act.ATTACK, 1), True),
        ("attack an enemy beyond the border", {"at_war": [(0, 2)]}, (Act.ATTACK, 2), True),
        ("support a distant nation", {}, (Act.SUPPORT, 2), True),
    ],
)
def test_a_masked_action_becomes_wait_and_is_flagged(case, relations, move, valid):
    world = build([0, 0, 1, 1, 2, 2], military=[10.0, 10.0, 10.0], growth=0.0, **relations)
    cfg = config(3, attrition=0.0)
    flat = actions(world, {0: move}, level=3)
    assert action_mask(world, cfg)[0, 0, flat[0, 0]] == int(valid), case
    after, events = transition(world, flat, cfg, np.random.default_rng(0))
    assert bool(events.invalid_action[0, 0]) == (not valid), case
    assert not events.invalid_action[0, 1:].any()
    assert after.arms_level[0, 0] == 3, "the arms level of an invalid action still applies"
    if not valid:
        assert after.last_act[0, 0] == Act.WAIT
        waited, _ = transition(world, actions(world, {}, level=3), cfg, np.random.default_rng(0))
        for name in ARRAY_FIELDS:
            np.testing.assert_array_equal(getattr(after, name), getattr(waited, name), err_msg=case)


def test_the_mask_is_never_all_zero_and_wait_slot_zero_is_always_valid():
    worlds = [
        build([0, 0, 1, 1]),
        build([0, 1], allied=[(0, 1)]),
        build([0, 1], at_war=[(0, 1)], demand=[(1, 0)]),
    ]
    for world in worlds:
        mask = action_mask(world, config(world.n_nations))
        wait0 = actions(world, {})
        assert mask.any(axis=2).all()
        assert (np.take_along_axis(mask, wait0[..., None], axis=2) == 1).all()


# --------------------------------------------------------------------------------------------------
# Batching
# --------------------------------------------------------------------------------------------------


def test_stepping_worlds_together_equals_stepping_them_one_by_one_without_combat():
    # Three different peaceful worlds: economy, aid, alliances, threats. No random draw matters.
    worlds = [
        build([0, 0, 1, 1, 2, 2], wealth=[1.0, 2.0, 0.5, 1.5, 1.0, 1.0], military=[3.0, 1.0, 2.0], growth=0.04),
        build([0, 1, 1, 2, 2, 2], military=[1.0, 5.0, 2.0], allied=[(0, 2)], growth=[0.02, 0.03, 0.09]),
        build([0, 0, 0, 1, 2, 2], wealth=2.0, military=[8.0, 1.0, 1.0], alliance_proposal=[(1, 2)], growth=0.03),
    ]
    moves = [
        {0: (Act.SUPPORT, 2), 1: (Act.THREATEN, 2), 2: (Act.ALLY, 0)},
        {0: (Act.LEAVE_ALLIANCE, 2), 1: (Act.SUPPORT, 0)},
        {1: (Act.THREATEN, 0), 2: (Act.ALLY, 1)},
    ]
    levels = [{0: 4, 1: 1, 2: 0}, {0: 2, 1: 2, 2: 3}, {0: 0, 1: 4, 2: 1}]
    cfg = config(3)
    flat = np.concatenate([actions(w, m, lv) for w, m, lv in zip(worlds, moves, levels, strict=True)])
    together, ev_together = transition(stack(worlds), flat, cfg, np.random.default_rng(0))
    for k, world in enumerate(worlds):
        alone, ev_alone = transition(world, flat[k : k + 1], cfg, np.random.default_rng(100 + k))
        for name in ARRAY_FIELDS:
            np.testing.assert_allclose(getattr(together, name)[k], getattr(alone, name)[0], rtol=1e-12, err_msg=name)
        for name in ev_alone._fields:
            np.testing.assert_allclose(getattr(ev_together, name)[k], getattr(ev_alone, name)[0], err_msg=name)


def test_batched_combat_matches_one_by_one_in_its_deterministic_parts():
    worlds = [
        build([0, 0, 1, 1], military=[12.0, 8.0], at_war=[(0, 1)]),
        build([0, 1, 1, 1], military=[2.0, 30.0], at_war=[(0, 1)]),
    ]
    cfg = config(2, capture_steepness=1.0)
    flat = np.concatenate([actions(w, {0: (Act.ATTACK, 1)}) for w in worlds])
    together, ev_together = transition(stack(worlds), flat, cfg, np.random.default_rng(0))
    for k, world in enumerate(worlds):
        alone, ev_alone = transition(world, flat[k : k + 1], cfg, np.random.default_rng(1))
        np.testing.assert_allclose(ev_together.forces_lost[k], ev_alone.forces_lost[0])
        np.testing.assert_allclose(together.military[k], alone.military[0])
