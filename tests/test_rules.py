"""The rules, one at a time, on hand-built worlds (no env, no map generator).

Each test builds the smallest world that shows one rule (see ``tests/worlds.py``), takes one turn of
:func:`realism_env.rules.transition` and checks that rule alone. Empirical rates stack many copies of a
world on the world axis and draw them with one seeded generator.

Every mechanics test runs on each backend (the ``backend`` fixture: numpy, and torch on the CPU in float64, where
torch is installed): the hand-built numpy world, its actions and its draws go to the backend and the results come
back as numpy (``tests/worlds.py``). The draws come from a seeded numpy generator on both backends, so a test sees
the same random numbers on each, and the last section checks that the two backends then agree exactly.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from realism_env import EVENT_KINDS, Act, World
from realism_env.draws import TurnDraws
from tests.worlds import (
    ARRAY_FIELDS,
    action_mask,
    actions,
    backend_params,
    build,
    config,
    credibility,
    relabel,
    repeat,
    stack,
    step,
    step_batch,
    torch_missing,
    transition,
    turn_draws,
)


@pytest.fixture(params=backend_params())
def backend(request: pytest.FixtureRequest) -> str:
    """The array backend a mechanics test runs its hand-built worlds on (each test runs on every backend)."""
    return request.param


# A quiet economy, so one rule shows alone: no growth, no wear, no upkeep, no devastation.
STILL = {"depreciation": 0.0, "upkeep": 0.0, "war_devastation": 0.0}


def logistic_odds(force_ratio: float, rho: float, c: float) -> float:
    """Cederman's capture odds, 1 / (1 + (ratio / rho)^-c)."""
    return 1.0 / (1.0 + (force_ratio / rho) ** -c)


def capture_rate(
    world: World, moves: dict, cfg, n_worlds: int, seed: int, backend: str = "numpy"
) -> tuple[float, np.ndarray]:
    """Share of ``n_worlds`` copies of ``world`` in which nation 0 took a province from nation 1."""
    after, events = step(repeat(world, n_worlds), moves, cfg, seed=seed, backend=backend)
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
def test_attrition_is_proportional_to_the_enemy_force_and_capped(mil0, mil1, attrition, lost0, lost1, backend):
    world = build([0, 0, 1, 1], military=[mil0, mil1], at_war=[(0, 1)], growth=0.0)
    cfg = config(2, attrition=attrition, **STILL)
    after, events = step(world, {}, cfg, backend=backend)  # both wait: the war goes on and the armies grind
    np.testing.assert_allclose(events.forces_lost[0], [[0.0, lost0], [lost1, 0.0]])
    np.testing.assert_allclose(after.military[0], [mil0 - lost0, mil1 - lost1])
    np.testing.assert_allclose(after.forces_lost[0], [lost0, lost1])
    assert events.battle[0, 0, 1] and events.battle[0, 1, 0]
    assert (events.province_taken == 0).all()  # nobody attacked, so nobody captures


def test_attrition_splits_forces_evenly_across_fronts(backend):
    # Nation 0 (30) fights 1 (10) and 2 (10) at once: it commits 15 on each front.
    world = build([1, 0, 2], military=[30.0, 10.0, 10.0], at_war=[(0, 1), (0, 2)], growth=0.0)
    after, events = step(world, {}, config(3, attrition=0.1, **STILL), backend=backend)
    lost = events.forces_lost[0]
    np.testing.assert_allclose(lost[0], [0.0, 1.0, 1.0])  # 0.1 * 10 on each front
    np.testing.assert_allclose(lost[1:, 0], [1.5, 1.5])  # 0.1 * 15, half of nation 0's force
    np.testing.assert_allclose(after.military[0], [28.0, 8.5, 8.5])
    assert not events.battle[0, 1, 2]


def test_no_battle_without_war(backend):
    world = build([0, 1], military=[10.0, 10.0], growth=0.0)
    after, events = step(world, {}, config(2, **STILL), backend=backend)
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
def test_capture_is_near_certain_or_near_impossible_at_extreme_ratios(mil0, mil1, low, high, backend):
    world = build([0, 0, 1, 1], military=[mil0, mil1], at_war=[(0, 1)], growth=0.0)
    rate, _ = capture_rate(world, {0: (Act.ATTACK, 1)}, config(2, attrition=0.0), 500, seed=1, backend=backend)
    assert low <= rate <= high


def test_a_disarmed_attacker_never_captures_and_its_odds_do_not_overflow(backend):
    # ratio = 1e-9 / (2.5 * 1000): its power -40 (about 1e496) is past float64's range, as the default -5 is past
    # float32's for a nearly disarmed attacker; the odds must come out 0, not as an overflow (numpy warns).
    world = build([0, 0, 1, 1], military=[0.0, 1000.0], at_war=[(0, 1)], growth=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        rate, _ = capture_rate(world, {0: (Act.ATTACK, 1)}, config(2, capture_steepness=40.0), 200, 3, backend)
    assert rate == 0.0


@pytest.mark.parametrize("force_ratio", [2.0, 2.5, 3.0, 3.5])
def test_capture_rate_matches_the_logistic_odds(force_ratio, backend):
    rho, c, n_worlds = 2.5, 5.0, 4000
    world = build([0, 0, 1, 1], military=[10.0 * force_ratio, 10.0], at_war=[(0, 1)], growth=0.0)
    cfg = config(2, offense_defense_balance=rho, capture_steepness=c)
    rate, _ = capture_rate(world, {0: (Act.ATTACK, 1)}, cfg, n_worlds, seed=2, backend=backend)
    expected = logistic_odds(force_ratio, rho, c)
    tolerance = 4.0 * np.sqrt(expected * (1 - expected) / n_worlds) + 1e-3
    assert abs(rate - expected) < tolerance, (rate, expected)


def test_capture_needs_an_attack_not_only_a_war(backend):
    world = build([0, 0, 1, 1], military=[1000.0, 1.0], at_war=[(0, 1)], growth=0.0)
    rate, _ = capture_rate(world, {}, config(2), 200, seed=3, backend=backend)
    assert rate == 0.0


def test_an_attack_declares_war_and_fights_the_same_turn(backend):
    world = build([0, 0, 1, 1], military=[1000.0, 1.0], growth=0.0)
    after, events = step(world, {0: (Act.ATTACK, 1)}, config(2), backend=backend)
    assert events.war_declared[0, 0, 1] and not events.war_declared[0, 1, 0]
    assert after.at_war[0, 0, 1] and after.at_war[0, 1, 0]
    assert after.war_years[0, 0, 1] == 1
    assert events.province_taken[0, 0, 1] == 1
    assert after.owner[0].tolist() == [0, 0, 0, 1]  # the border province, not the far one


def test_a_higher_offense_defense_balance_lowers_captures(backend):
    world = build([0, 0, 1, 1], military=[25.0, 10.0], at_war=[(0, 1)], growth=0.0)
    moves, n_worlds = {0: (Act.ATTACK, 1)}, 2000
    rates, taken = {}, {}
    for balance in (2.0, 2.5, 3.0):  # offence-dominant to defence-dominant, same random draws
        rates[balance], taken[balance] = capture_rate(
            world, moves, config(2, offense_defense_balance=balance), n_worlds, seed=4, backend=backend
        )
    assert rates[2.0] > rates[2.5] > rates[3.0]
    assert not (taken[3.0] & ~taken[2.5]).any() and not (taken[2.5] & ~taken[2.0]).any()


# --------------------------------------------------------------------------------------------------
# The stopping power of water
# --------------------------------------------------------------------------------------------------

# The same two nations, touching by land (0-1 | 2-3 joined by land 1-2) or only across sea (1~2).
OVER_LAND = {"land": [(0, 1), (1, 2), (2, 3)]}
OVER_SEA = {"land": [(0, 1), (2, 3)], "sea": [(1, 2)]}


def test_attack_across_sea_is_weaker_than_over_land(backend):
    force_ratio, n_worlds = 3.0, 4000
    moves = {0: (Act.ATTACK, 1)}
    cfg = config(2, sea_penalty=0.5)
    rates = {}
    for name, links in (("land", OVER_LAND), ("sea", OVER_SEA)):
        world = build([0, 0, 1, 1], military=[10.0 * force_ratio, 10.0], at_war=[(0, 1)], growth=0.0, **links)
        rates[name], _ = capture_rate(world, moves, cfg, n_worlds, seed=5, backend=backend)
    assert rates["sea"] < rates["land"] - 0.3
    expected = logistic_odds(force_ratio * 0.5, cfg.offense_defense_balance, cfg.capture_steepness)
    assert abs(rates["sea"] - expected) < 4.0 * np.sqrt(expected * (1 - expected) / n_worlds) + 1e-3


def test_sea_penalty_of_one_makes_sea_like_land(backend):
    moves = {0: (Act.ATTACK, 1)}
    cfg = config(2, sea_penalty=1.0)
    taken = {}
    for name, links in (("land", OVER_LAND), ("sea", OVER_SEA)):
        world = build([0, 0, 1, 1], military=[30.0, 10.0], at_war=[(0, 1)], growth=0.0, **links)
        _, taken[name] = capture_rate(world, moves, cfg, 1000, seed=6, backend=backend)
    np.testing.assert_array_equal(taken["land"], taken["sea"])  # same draws, same odds, same captures


def test_across_sea_the_province_taken_is_the_coastal_one(backend):
    world = build([0, 0, 1, 1], military=[1000.0, 1.0], at_war=[(0, 1)], growth=0.0, **OVER_SEA)
    after, events = step(world, {0: (Act.ATTACK, 1)}, config(2, sea_penalty=0.5), backend=backend)
    assert after.owner[0].tolist() == [0, 0, 0, 1]


# --------------------------------------------------------------------------------------------------
# Which province changes hands: one uniform per acting nation, on the borders of the start of the turn
# --------------------------------------------------------------------------------------------------

# Three rows of two: nation 0 holds the west column (provinces 0, 2, 4), nation 1 the east one (1, 3, 5), so
# every province of 1 borders 0 by land.
COLUMNS = [[0, 1], [0, 1], [0, 1]]
EAST = [1, 3, 5]


def test_the_province_taken_is_uniform_among_those_bordering_the_attacker(backend):
    world = build(COLUMNS, military=[1000.0, 1.0], at_war=[(0, 1)], growth=0.0)
    n_worlds = 4000
    after, events = step(repeat(world, n_worlds), {0: (Act.ATTACK, 1)}, config(2), seed=13, backend=backend)
    assert (events.province_taken[:, 0, 1] == 1).all()
    gained = after.owner[:, EAST] == 0  # [W, 3]: which of 1's provinces passed to 0
    np.testing.assert_array_equal(gained.sum(axis=1), 1)  # one province per front and turn
    tolerance = 4.0 * np.sqrt((1 / 3) * (2 / 3) / n_worlds)
    np.testing.assert_allclose(gained.mean(axis=0), 1 / 3, atol=tolerance)


def test_the_province_conceded_is_uniform_among_those_bordering_the_demander(backend):
    world = build(COLUMNS, demand=[(0, 1)], growth=0.0)
    n_worlds = 4000
    after, events = step(repeat(world, n_worlds), {1: (Act.CONCEDE, 0)}, config(2, **STILL), seed=14, backend=backend)
    assert events.concession[:, 1, 0].all() and not events.invalid_action.any()
    gained = after.owner[:, EAST] == 0
    np.testing.assert_array_equal(gained.sum(axis=1), 1)
    tolerance = 4.0 * np.sqrt((1 / 3) * (2 / 3) / n_worlds)
    np.testing.assert_allclose(gained.mean(axis=0), 1 / 3, atol=tolerance)


@pytest.mark.parametrize(("pick", "province"), [(0.0, 1), (0.3, 1), (0.34, 3), (0.66, 3), (0.67, 5), (0.999, 5)])
def test_one_uniform_per_attacker_picks_the_province(pick, province, backend):
    # The k-th eligible province (by index) for k = floor(pick * eligible): the draw alone decides, uniformly.
    world = build(COLUMNS, military=[1000.0, 1.0], at_war=[(0, 1)], growth=0.0)
    draws = TurnDraws(
        capture_roll=np.zeros((1, 2)), province_pick=np.array([[pick, 0.5]]), claim_priority=np.full((1, 2), 0.5)
    )
    after, _ = transition(world, actions(world, {0: (Act.ATTACK, 1)}), config(2), draws, backend=backend)
    assert np.flatnonzero(after.owner[0] == 0).tolist() == sorted([0, 2, 4, province])


@pytest.mark.parametrize(("priority", "winner"), [((0.9, 0.5, 0.1), 0), ((0.1, 0.5, 0.9), 2), ((0.5, 0.9, 0.6), 2)])
def test_a_province_claimed_twice_goes_to_the_higher_priority_draw(priority, winner, backend):
    world = build([0, 1, 2], military=[1000.0, 1.0, 1000.0], at_war=[(0, 1), (1, 2)], growth=0.0)
    draws = TurnDraws(np.zeros((1, 3)), np.full((1, 3), 0.5), np.array([priority]))
    flat = actions(world, {0: (Act.ATTACK, 1), 2: (Act.ATTACK, 1)})
    after, events = transition(world, flat, config(3), draws, backend=backend)
    assert after.owner[0].tolist() == [0, winner, 2]
    assert events.province_taken[0, winner, 1] == 1 and events.province_taken[0, 2 - winner, 1] == 0
    assert events.eliminated[0].tolist() == [False, True, False]


def test_equal_priority_draws_still_give_a_province_to_one_claimant(backend):
    # Two equal draws (float32 draws on a GPU can tie) must not let both claims stand: exactly one attacker takes the
    # province, and its owner stays a nation.
    world = build([0, 1, 2], military=[1000.0, 1.0, 1000.0], at_war=[(0, 1), (1, 2)], growth=0.0)
    draws = TurnDraws(np.zeros((1, 3)), np.full((1, 3), 0.5), np.full((1, 3), 0.5))
    flat = actions(world, {0: (Act.ATTACK, 1), 2: (Act.ATTACK, 1)})
    after, events = transition(world, flat, config(3), draws, backend=backend)
    assert after.owner[0, 1] in (0, 2)
    assert events.province_taken[0, :, 1].sum() == 1


def test_a_capture_reads_the_borders_of_the_start_of_the_turn(backend):
    # 1 concedes province 1 to 0 while 0 attacks it: 0's only bordering province of 1 was the one conceded, and
    # province 2 only comes to border 0 after the concession, so nothing is captured this turn.
    world = build([0, 1, 1], military=[1000.0, 1.0], demand=[(0, 1)], growth=0.0)
    after, events = step(world, {0: (Act.ATTACK, 1), 1: (Act.CONCEDE, 0)}, config(2, **STILL), backend=backend)
    assert not events.invalid_action.any()
    assert events.concession[0, 1, 0] and events.war_declared[0, 0, 1]
    assert after.owner[0].tolist() == [0, 0, 1]
    assert events.province_taken[0, 0, 1] == 0 and after.alive[0].all()


def test_where_a_land_border_exists_the_attack_stays_on_land(backend):
    # 0 and 1 share the land border 1-2 and a sea link 0~3: the province taken is always 2, never 3.
    world = build([0, 0, 1, 1], sea=[(0, 3)], military=[1000.0, 1.0], at_war=[(0, 1)], growth=0.0)
    after, events = step(repeat(world, 500), {0: (Act.ATTACK, 1)}, config(2), seed=15, backend=backend)
    assert (events.province_taken[:, 0, 1] == 1).all()
    assert (after.owner == [0, 0, 0, 1]).all()


# --------------------------------------------------------------------------------------------------
# Conquest payoff
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("payoff", [0.0, 0.25, 0.5, 1.0])
def test_conqueror_keeps_conquest_payoff_of_the_wealth_and_the_rest_is_destroyed(payoff, backend):
    world = build([0, 0, 1, 1], wealth=[1.0, 1.0, 2.0, 3.0], military=[1000.0, 1.0], at_war=[(0, 1)], growth=0.0)
    cfg = config(2, conquest_payoff=payoff, **STILL)
    after, events = step(world, {0: (Act.ATTACK, 1)}, cfg, backend=backend)
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
def test_alliance_forms_only_when_both_sides_agree(case, standing, moves, allied, proposal_01, proposal_10, backend):
    world = build([0, 1, 2], alliance_proposal=standing, growth=0.0)
    after, events = step(world, moves, config(3), backend=backend)
    assert bool(after.allied[0, 0, 1]) == bool(after.allied[0, 1, 0]) == allied, case
    assert bool(events.alliance_formed[0, 0, 1]) == bool(events.alliance_formed[0, 1, 0]) == allied, case
    assert bool(after.alliance_proposal[0, 0, 1]) == proposal_01, case
    assert bool(after.alliance_proposal[0, 1, 0]) == proposal_10, case
    assert bool(events.alliance_proposed[0, 0, 1]) == proposal_01, case
    assert not after.allied[0, 2].any()


def test_alliance_years_count_like_war_years(backend):
    # A war declared this turn has lasted one year; so has an alliance formed this turn.
    world = build([0, 1, 2], military=[5.0, 5.0, 5.0], growth=0.0)
    after, _ = step(world, {0: (Act.ALLY, 1), 1: (Act.ALLY, 0), 2: (Act.ATTACK, 1)}, config(3), backend=backend)
    assert after.war_years[0, 2, 1] == 1
    assert after.alliance_years[0, 0, 1] == after.alliance_years[0, 1, 0] == 1


@pytest.mark.parametrize("leaver", [0, 1])
def test_leaving_an_alliance_ends_it_at_once(leaver, backend):
    world = build([0, 1, 2], allied=[(0, 1)], growth=0.0)
    other = 1 - leaver
    after, events = step(world, {leaver: (Act.LEAVE_ALLIANCE, other)}, config(3), backend=backend)
    assert not after.allied[0, 0, 1] and not after.allied[0, 1, 0]
    assert events.alliance_left[0, leaver, other] and not events.alliance_left[0, other, leaver]
    assert after.alliance_years[0, 0, 1] == 0


def test_an_ally_cannot_be_attacked(backend):
    world = build([0, 1], allied=[(0, 1)], military=[100.0, 1.0], growth=0.0)
    cfg = config(2)
    attack = actions(world, {0: (Act.ATTACK, 1)})
    assert action_mask(world, cfg, backend=backend)[0, 0, attack[0, 0]] == 0
    after, events = transition(world, attack, cfg, 0, backend=backend)
    assert events.invalid_action[0, 0]
    assert not after.at_war.any() and not events.war_declared.any()
    assert after.allied[0, 0, 1] and after.owner[0].tolist() == [0, 1]


# --------------------------------------------------------------------------------------------------
# Demands, concessions, credibility
# --------------------------------------------------------------------------------------------------


def test_threaten_creates_a_demand(backend):
    world = build([0, 0, 1, 1], growth=0.0)
    after, events = step(world, {0: (Act.THREATEN, 1)}, config(2), backend=backend)
    assert after.demand[0, 0, 1] and not after.demand[0, 1, 0]
    assert events.demand_made[0, 0, 1]
    assert after.threats_made[0].tolist() == [1, 0]
    assert not after.at_war.any()


def test_concession_hands_one_bordering_province_over_intact(backend):
    world = build([0, 0, 1, 1], wealth=[1.0, 1.0, 2.0, 3.0], demand=[(0, 1)], growth=0.0)
    after, events = step(world, {1: (Act.CONCEDE, 0)}, config(2, **STILL), backend=backend)
    assert not events.invalid_action.any()
    assert events.concession[0, 1, 0]
    assert not after.demand[0, 0, 1]
    assert after.owner[0].tolist() == [0, 0, 0, 1], "the bordering province should pass to the demander"
    np.testing.assert_allclose(after.wealth[0], [1.0, 1.0, 2.0, 3.0])  # intact: nothing destroyed
    np.testing.assert_allclose(events.wealth_destroyed[0], [0.0, 0.0])
    assert not after.at_war.any()


def test_a_nation_never_concedes_its_last_province(backend):
    world = build([0, 0, 1], demand=[(0, 1)], growth=0.0)
    concede = actions(world, {1: (Act.CONCEDE, 0)})
    assert action_mask(world, config(2), backend=backend)[0, 1, concede[0, 1]] == 0


def test_attacking_over_a_standing_demand_enforces_the_threat(backend):
    world = build([0, 0, 1, 1], demand=[(0, 1)], threats_made=[1, 0], military=[10.0, 10.0], growth=0.0)
    assert credibility(world, backend=backend)[0, 0] == pytest.approx(1 / 3)
    after, events = step(world, {0: (Act.ATTACK, 1)}, config(2), backend=backend)
    assert events.threat_enforced[0, 0, 1] and events.war_declared[0, 0, 1]
    assert after.threats_enforced[0].tolist() == [1, 0]
    assert credibility(after, backend=backend)[0, 0] == pytest.approx(2 / 3)  # Laplace: (1 + 1) / (1 + 2)
    assert not after.demand[0, 0, 1] and not events.bluff_called.any()


@pytest.mark.parametrize("deadline", [1, 2, 3])
def test_a_demand_not_carried_out_by_the_deadline_is_a_bluff(deadline, backend):
    world = build([0, 0, 1, 1], military=[10.0, 10.0], growth=0.0)
    cfg = config(2, demand_deadline=deadline)
    world, _ = step(world, {0: (Act.THREATEN, 1)}, cfg, backend=backend)  # turn 0: the threat
    called_on = None
    for turn in range(1, deadline + 3):  # capped
        world, events = step(world, {}, cfg, seed=turn, backend=backend)
        if events.bluff_called[0, 0, 1]:
            called_on = turn
            break
        assert world.demand[0, 0, 1], f"the demand should stand until the deadline (turn {turn})"
    assert called_on == deadline
    assert not world.demand[0, 0, 1]
    assert world.threats_enforced[0, 0] == 0 and world.threats_made[0, 0] == 1


@pytest.mark.parametrize("deadline", [1, 2, 3])
def test_a_threat_can_still_be_carried_out_on_the_deadline_turn(deadline, backend):
    world = build([0, 0, 1, 1], military=[10.0, 10.0], growth=0.0)
    cfg = config(2, demand_deadline=deadline)
    world, _ = step(world, {0: (Act.THREATEN, 1)}, cfg, backend=backend)
    for turn in range(1, deadline):
        world, _ = step(world, {}, cfg, seed=turn, backend=backend)
    world, events = step(world, {0: (Act.ATTACK, 1)}, cfg, seed=99, backend=backend)
    assert events.threat_enforced[0, 0, 1] and not events.bluff_called.any()


# --------------------------------------------------------------------------------------------------
# Aid (bait-and-bleed, bloodletting)
# --------------------------------------------------------------------------------------------------


def test_support_moves_aid_share_of_income_into_the_target_military(backend):
    wealth = [2.0, 3.0, 1.0, 1.0]  # nation 0's income is 5
    world = build([0, 0, 1, 1], wealth=wealth, military=[4.0, 1.0], growth=0.0)
    cfg = config(2, aid_share=0.2, **STILL)
    after, events = step(world, {0: (Act.SUPPORT, 1)}, cfg, backend=backend)
    assert events.aid[0, 0, 1] == pytest.approx(1.0)
    np.testing.assert_allclose(after.military[0], [4.0, 2.0])  # the giver keeps its forces; 1 gains 0.2 * 5


def test_support_costs_the_giver_growth(backend):
    g, share = 0.05, 0.2
    world = build([0, 0, 1, 1], military=[1.0, 1.0], growth=g)
    cfg = config(2, aid_share=share, **STILL)
    gave, _ = step(world, {0: (Act.SUPPORT, 1)}, cfg, backend=backend)
    waited, _ = step(world, {}, cfg, backend=backend)
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
def test_war_ends_only_when_both_sides_offer_peace(case, standing, moves, war_ends, offer_01, backend):
    world = build([0, 0, 1, 1], military=[10.0, 10.0], at_war=[(0, 1)], peace_offer=standing, growth=0.0)
    after, events = step(world, moves, config(2, attrition=0.0), backend=backend)
    assert bool(after.at_war[0, 0, 1]) == bool(after.at_war[0, 1, 0]) == (not war_ends), case
    assert bool(events.peace[0, 0, 1]) == bool(events.peace[0, 1, 0]) == war_ends, case
    assert bool(after.peace_offer[0, 0, 1]) == offer_01, case
    assert after.war_years[0, 0, 1] == (0 if war_ends else 2), case
    assert bool(events.battle[0, 0, 1]) == (not war_ends), case


# --------------------------------------------------------------------------------------------------
# Elimination
# --------------------------------------------------------------------------------------------------


def test_losing_the_last_province_eliminates_a_nation_and_ends_its_relations(backend):
    # Nation 1 holds one province; 0 crushes it while 1 is allied with 3 and has a demand standing on 2.
    world = build(
        [0, 1, 2, 3],
        military=[1000.0, 1.0, 5.0, 5.0],
        at_war=[(0, 1)],
        allied=[(1, 3)],
        demand=[(1, 2), (2, 1)],
        growth=0.0,
    )
    after, events = step(world, {0: (Act.ATTACK, 1), 1: (Act.PEACE, 0), 2: (Act.ALLY, 1)}, config(4), backend=backend)
    assert not events.invalid_action.any()
    assert after.owner[0].tolist() == [0, 0, 2, 3]
    assert events.eliminated[0].tolist() == [False, True, False, False]
    assert after.alive[0].tolist() == [True, False, True, True]
    assert after.military[0, 1] == 0.0
    for relation in ("at_war", "allied", "alliance_proposal", "peace_offer", "demand"):
        matrix = getattr(after, relation)[0]
        assert not matrix[1].any() and not matrix[:, 1].any(), relation
    assert after.war_years[0, 0, 1] == 0 and after.alliance_years[0, 1, 3] == 0


def test_an_eliminated_nation_acts_no_more(backend):
    world = build([0, 0, 2], n_nations=3, military=[5.0, 5.0, 5.0], growth=0.0)
    world = world.replace(alive=np.array([[True, False, True]]), military=np.array([[5.0, 0.0, 5.0]]))
    after, events = step(world, {1: (Act.SUPPORT, 0)}, config(3, **STILL), backend=backend)
    assert not after.alive[0, 1] and after.military[0, 1] == 0.0
    assert events.aid[0, 1].sum() == 0.0 and not events.eliminated.any()
    assert not events.invalid_action[0, 1]  # the dead are not flagged


# --------------------------------------------------------------------------------------------------
# Growth, arms and upkeep
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("g", [0.1, -0.1])
@pytest.mark.parametrize(
    ("level", "upkeep", "military", "forgone"),
    [
        (0, 0.0, 0.0, 0.0),  # all income invested
        (2, 0.0, 0.0, 0.1),  # guns cost butter
        (4, 0.0, 0.0, 0.4),
        (0, 0.05, 4.0, 0.05 * 4.0 / 2.0),  # upkeep: 0.05 * military / income
        (3, 0.05, 4.0, 0.2 + 0.1),
    ],
)
def test_arms_and_upkeep_slow_growth(g, level, upkeep, military, forgone, backend):
    world = build([0, 0, 1, 1], military=[military, 1.0], growth=g)  # nation 0's income is 2
    cfg = config(2, depreciation=0.0, upkeep=upkeep, war_devastation=0.0)
    after, _ = step(world, {}, cfg, level={0: level}, backend=backend)
    # Each share of income not invested costs |g| of growth, whatever g's sign: a declining economy declines faster.
    np.testing.assert_allclose(after.wealth[0, :2], 1.0 + g - abs(g) * forgone)
    assert after.arms_level[0, 0] == level


@pytest.mark.parametrize("g", [0.05, -0.05])
def test_higher_arms_share_means_slower_wealth_growth(g, backend):
    world = repeat(build([0, 0, 1, 1], military=[1.0, 1.0], growth=g), 5)
    levels = np.arange(5)
    flat = np.stack([actions(world.select(0), level=int(lv))[0] for lv in levels])
    after, _ = transition(world, flat, config(2), 0, backend=backend)
    wealth = after.wealth[:, 0]
    military = after.military[:, 0]
    assert (np.diff(wealth) < 0).all() and (np.diff(military) > 0).all()


@pytest.mark.parametrize("depreciation", [0.0, 0.1, 0.5])
def test_military_depreciates_and_arms_spending_renews_it(depreciation, backend):
    world = build([0, 0, 1, 1], military=[10.0, 10.0], growth=0.0)  # income 2 each
    cfg = config(2, depreciation=depreciation, upkeep=0.0)
    after, _ = step(world, {}, cfg, level={0: 0, 1: 4}, backend=backend)
    np.testing.assert_allclose(after.military[0], [10.0 * (1 - depreciation), 10.0 * (1 - depreciation) + 0.4 * 2])


def test_war_devastates_the_economy(backend):
    world = build([0, 0, 1, 1, 2, 2], military=[10.0, 10.0, 10.0], at_war=[(0, 1)], growth=0.0)
    after, events = step(world, {}, config(3, war_devastation=0.1, attrition=0.0, upkeep=0.0), backend=backend)
    np.testing.assert_allclose(after.wealth[0], [0.9, 0.9, 0.9, 0.9, 1.0, 1.0])
    np.testing.assert_allclose(events.wealth_destroyed[0], [0.2, 0.2, 0.0])


# --------------------------------------------------------------------------------------------------
# Simultaneous moves: no advantage to a lower index
# --------------------------------------------------------------------------------------------------


def test_mirror_worlds_give_mirror_outcomes(backend):
    # Nation 0 (12) and 1 (8) attack each other; relabelled, the same war is fought by 1 (12) and 0 (8).
    world = build([0, 0, 1, 1], military=[12.0, 8.0], at_war=[(0, 1)], growth=0.03)
    mirror = relabel(world, [1, 0])
    assert mirror.owner[0].tolist() == [1, 1, 0, 0] and mirror.military[0].tolist() == [8.0, 12.0]
    moves = {0: (Act.ATTACK, 1), 1: (Act.ATTACK, 0)}
    cfg, n_worlds = config(2, offense_defense_balance=1.0, capture_steepness=2.0), 3000
    a, ev_a = step(repeat(world, n_worlds), moves, cfg, seed=7, backend=backend)
    b, ev_b = step(repeat(mirror, n_worlds), moves, cfg, seed=8, backend=backend)
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
def test_a_province_two_nations_take_at_once_goes_to_either_with_equal_odds(seed, backend):
    # 0 and 2 both crush 1's only province on the same turn: the tie is broken by the generator, not the index.
    world = build([0, 1, 2], military=[1000.0, 1.0, 1000.0], at_war=[(0, 1), (1, 2)], growth=0.0)
    n_worlds = 2000
    after, events = step(
        repeat(world, n_worlds), {0: (Act.ATTACK, 1), 2: (Act.ATTACK, 1)}, config(3), seed=seed, backend=backend
    )
    winner = after.owner[:, 1]
    assert set(np.unique(winner).tolist()) == {0, 2}
    assert abs((winner == 0).mean() - 0.5) < 0.05
    assert events.eliminated[:, 1].all()
    np.testing.assert_array_equal(events.province_taken[:, 0, 1] + events.province_taken[:, 2, 1], 1)


def test_a_symmetric_world_is_symmetric_in_distribution(backend):
    world = build([0, 0, 1, 1], military=[10.0, 10.0], at_war=[(0, 1)], growth=0.0)
    moves = {0: (Act.ATTACK, 1), 1: (Act.ATTACK, 0)}
    after, events = step(repeat(world, 4000), moves, config(2, offense_defense_balance=1.0), seed=12, backend=backend)
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
def test_a_masked_action_becomes_wait_and_is_flagged(case, relations, move, valid, backend):
    world = build([0, 0, 1, 1, 2, 2], military=[10.0, 10.0, 10.0], growth=0.0, **relations)
    cfg = config(3, attrition=0.0)
    flat = actions(world, {0: move}, level=3)
    assert action_mask(world, cfg, backend=backend)[0, 0, flat[0, 0]] == int(valid), case
    after, events = transition(world, flat, cfg, 0, backend=backend)
    assert bool(events.invalid_action[0, 0]) == (not valid), case
    assert not events.invalid_action[0, 1:].any()
    assert after.arms_level[0, 0] == 3, "the arms level of an invalid action still applies"
    if not valid:
        assert after.last_act[0, 0] == Act.WAIT
        waited, _ = transition(world, actions(world, {}, level=3), cfg, 0, backend=backend)
        for name in ARRAY_FIELDS:
            np.testing.assert_array_equal(getattr(after, name), getattr(waited, name), err_msg=case)


def test_the_mask_is_never_all_zero_and_wait_slot_zero_is_always_valid(backend):
    worlds = [
        build([0, 0, 1, 1]),
        build([0, 1], allied=[(0, 1)]),
        build([0, 1], at_war=[(0, 1)], demand=[(1, 0)]),
    ]
    for world in worlds:
        mask = action_mask(world, config(world.n_nations), backend=backend)
        wait0 = actions(world, {})
        assert mask.any(axis=2).all()
        assert (np.take_along_axis(mask, wait0[..., None], axis=2) == 1).all()


# --------------------------------------------------------------------------------------------------
# Batching
# --------------------------------------------------------------------------------------------------


def test_stepping_worlds_together_equals_stepping_them_one_by_one_without_combat(backend):
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
    together, ev_together = transition(stack(worlds), flat, cfg, 0, backend=backend)
    for k, world in enumerate(worlds):
        alone, ev_alone = transition(world, flat[k : k + 1], cfg, 100 + k, backend=backend)
        for name in ARRAY_FIELDS:
            np.testing.assert_allclose(getattr(together, name)[k], getattr(alone, name)[0], rtol=1e-12, err_msg=name)
        for name in ev_alone._fields:
            np.testing.assert_allclose(getattr(ev_together, name)[k], getattr(ev_alone, name)[0], err_msg=name)


def test_batched_combat_matches_one_by_one_in_its_deterministic_parts(backend):
    worlds = [
        build([0, 0, 1, 1], military=[12.0, 8.0], at_war=[(0, 1)]),
        build([0, 1, 1, 1], military=[2.0, 30.0], at_war=[(0, 1)]),
    ]
    cfg = config(2, capture_steepness=1.0)
    flat = np.concatenate([actions(w, {0: (Act.ATTACK, 1)}) for w in worlds])
    together, ev_together = transition(stack(worlds), flat, cfg, 0, backend=backend)
    for k, world in enumerate(worlds):
        alone, ev_alone = transition(world, flat[k : k + 1], cfg, 1, backend=backend)
        np.testing.assert_allclose(ev_together.forces_lost[k], ev_alone.forces_lost[0])
        np.testing.assert_allclose(together.military[k], alone.military[0])


def _relabel_draws(draws: TurnDraws, perm: list[int]) -> TurnDraws:
    inv = np.argsort(perm)
    return TurnDraws(*(d[:, inv] for d in draws))


def _relabel_events(events, perm: list[int]):
    inv = np.argsort(perm)
    return type(events)(*(e[:, inv] if e.ndim == 2 else e[:, inv][:, :, inv] for e in events))


@pytest.mark.parametrize("perm", [[1, 2, 0], [2, 1, 0], [0, 2, 1]])
def test_relabelling_the_nations_and_their_draws_relabels_the_outcome(perm, backend):
    # Every rule at once: a war, two attacks on one nation, a concession, aid, a threat and an alliance proposal.
    world = build(
        [[0, 1, 1], [0, 2, 2]],
        military=[30.0, 6.0, 20.0],
        wealth=[1.0, 2.0, 0.5, 1.5, 1.0, 0.8],
        at_war=[(0, 1)],
        demand=[(2, 1)],
        growth=[0.02, 0.03, 0.04],
    )
    moves = {0: (Act.ATTACK, 1), 1: (Act.CONCEDE, 2), 2: (Act.ATTACK, 1)}
    levels = {0: 1, 1: 4, 2: 2}
    cfg = config(3, capture_steepness=2.0)
    worlds = repeat(world, 64)
    draws = turn_draws(16, 64, 3)
    after, events = transition(worlds, actions(worlds, moves, levels), cfg, draws, backend=backend)
    assert not events.invalid_action.any()
    assert events.concession.any() and events.province_taken.any()  # the draws exercise the rules
    moved = {perm[i]: (act, perm[target]) for i, (act, target) in moves.items()}
    moved_levels = {perm[i]: level for i, level in levels.items()}
    mirror = relabel(worlds, perm)
    flat = actions(mirror, moved, moved_levels)
    after_m, events_m = transition(mirror, flat, cfg, _relabel_draws(draws, perm), backend=backend)
    expected, expected_events = relabel(after, perm), _relabel_events(events, perm)
    for name in ARRAY_FIELDS:
        got, want = getattr(after_m, name), getattr(expected, name)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15, err_msg=name)
    for name, got, want in zip(events._fields, events_m, expected_events, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15, err_msg=name)


# --------------------------------------------------------------------------------------------------
# Backends: fed the same draws, numpy and torch agree
# --------------------------------------------------------------------------------------------------

PARITY_WORLDS = [
    # A war between two, with a third at peace.
    build([[0, 0, 1], [2, 1, 1]], military=[12.0, 8.0, 3.0], at_war=[(0, 1)], wealth=[1.0, 2.0, 0.5, 1.5, 1.0, 0.8]),
    # Alliances, proposals, offers and demands standing; a sea link; different growth rates.
    build(
        [0, 0, 1, 1, 2, 2, 3, 3],
        military=[5.0, 9.0, 2.0, 7.0],
        sea=[(0, 7)],
        at_war=[(1, 2)],
        allied=[(0, 3)],
        alliance_proposal=[(2, 3)],
        peace_offer=[(1, 2)],
        demand=[(1, 0)],
        growth=[0.01, 0.02, 0.05, 0.03],
        threats_made=[0, 3, 0, 1],
        threats_enforced=[0, 1, 0, 0],
    ),
    # A nation about to be crushed (one province left) and a two-nation grid with sea links.
    build([0, 1, 2, 2], military=[500.0, 1.0, 400.0], at_war=[(0, 1), (1, 2)], arms_level=[4, 0, 2]),
    build([[0, 0, 1], [0, 1, 1], [0, 1, 1]], military=[20.0, 21.0], sea=[(0, 8), (2, 6)], demand=[(0, 1)]),
]


def same(a: np.ndarray, b: np.ndarray, where: str) -> None:
    """Equal arrays: exactly for integers and flags, within float rounding (rtol and atol 1e-12) for floats."""
    if np.issubdtype(a.dtype, np.floating):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12, err_msg=where)
    else:
        np.testing.assert_array_equal(a, b, err_msg=where)


def test_numpy_and_torch_agree_on_hand_built_worlds_fed_the_same_draws():
    missing = torch_missing()
    if missing:
        pytest.skip(missing)
    happened = dict.fromkeys(EVENT_KINDS, 0)
    for k, start in enumerate(PARITY_WORLDS):
        cfg = config(start.n_nations, misperception=0.3, doctrines="power" if k % 2 else "security")
        world = repeat(start, 8)
        rng = np.random.default_rng(k)
        for turn in range(6):
            mask = action_mask(world, cfg)
            np.testing.assert_array_equal(action_mask(world, cfg, backend="torch"), mask)
            flat = np.where(mask.astype(bool), rng.random(mask.shape), -1.0).argmax(axis=2)
            if turn % 2:  # masked-out actions too, played as WAIT on both
                flat = rng.integers(0, mask.shape[2], size=flat.shape)
            seed = 1000 * k + turn
            ours, theirs = step_batch(world, flat, cfg, seed), step_batch(world, flat, cfg, seed, backend="torch")
            where = f"world {k}, turn {turn}"
            # Exact for what is counted (ownership, wars, alliances, events, levels); floats within rounding, as the
            # backends' contract says (realism_env.batch): a sum may be taken in another order on each.
            for name in ARRAY_FIELDS:
                a, b = getattr(ours.final_world, name), getattr(theirs.final_world, name)
                assert a.dtype == b.dtype, (where, name)
                same(a, b, f"{where}: World.{name}")
            for name, a, b in zip(ours.events._fields, ours.events, theirs.events, strict=True):
                happened[name] += int(np.count_nonzero(a))
                assert a.dtype == b.dtype, (where, name)
                same(a, b, f"{where}: Events.{name}")
            for name in ("action_mask", "terminated", "truncated", "acting", "world_reset"):
                np.testing.assert_array_equal(getattr(ours, name), getattr(theirs, name), err_msg=f"{where}: {name}")
            for name in ("observations", "final_observations", "rewards"):
                a, b = getattr(ours, name), getattr(theirs, name)
                assert a.dtype == b.dtype, (where, name)
                np.testing.assert_allclose(a, b, rtol=1e-12, atol=0.0, err_msg=f"{where}: {name}")
            for doctrine, terms in ours.reward_terms.items():
                for term, value in terms.items():
                    np.testing.assert_allclose(value, theirs.reward_terms[doctrine][term], rtol=1e-12, err_msg=term)
            world = ours.final_world
    assert all(happened.values()), f"every kind of event should happen in these turns: {happened}"
