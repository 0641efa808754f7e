"""Behaviour metrics: each one on a hand-built episode log with a known answer, then the recorder on the real rules
and on a seeded env episode (finite, consistent with the env's own records)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import realism_env
from realism_env.actions import Act
from realism_env.backend import NumpyRandom
from realism_env.config import EnvConfig
from realism_env.draws import draw_turn
from realism_env.maps import generate_world
from realism_env.metrics import _ARRAY_FIELDS as ARRAY_FIELDS
from realism_env.metrics import (
    ESCALATION_WEIGHTS,
    METRICS,
    NATION_METRICS,
    EpisodeLog,
    EpisodeRecorder,
    batch_metrics,
    batch_nation_metrics,
    by_doctrine,
    by_nation,
    empty_events,
    episode_metrics,
    metric_bounds,
    metric_table,
    nation_metrics,
)
from realism_env.rules import EVENT_KINDS, Events, action_mask, power_share, transition
from realism_env.world import stack_worlds

# --------------------------------------------------------------------------------------------------
# A hand-built log: one world, quiet by default (equal shares, everyone alive, nothing happens)
# --------------------------------------------------------------------------------------------------


def make_log(
    n: int = 3,
    turns: int = 3,
    doctrines: tuple[str, ...] | None = None,
    hegemony_share: float = 0.5,
    events: dict[str, np.ndarray] | None = None,
    **arrays: np.ndarray,
) -> EpisodeLog:
    """Arrays without the world axis: snapshots [T+1, ...], per-turn arrays and events [T, ...]."""
    t1 = turns + 1
    nn = np.zeros((t1, n, n), dtype=bool)
    fields = {
        "turn": np.arange(t1),
        "military": np.ones((t1, n)),
        "income": np.ones((t1, n)),
        "share": np.full((t1, n), 1.0 / n),
        "provinces": np.ones((t1, n), dtype=int),
        "alive": np.ones((t1, n), dtype=bool),
        "arms_level": np.full((t1, n), 2),
        "owner": np.tile(np.arange(n), (t1, 1)),
        "at_war": nn,
        "allied": nn,
        "neighbour": nn,
        "demand": nn,
        "act": np.zeros((turns, n), dtype=int),
        "target": np.tile((np.arange(n) + 1) % n, (turns, 1)),
    }
    unknown = arrays.keys() - fields.keys()
    assert not unknown, unknown
    fields.update({k: np.asarray(v) for k, v in arrays.items()})
    quiet = empty_events(1, turns, n)
    ev = {k: getattr(quiet, k) for k in EVENT_KINDS}
    for kind, value in (events or {}).items():
        ev[kind] = np.asarray(value, dtype=ev[kind].dtype)[None]
    return EpisodeLog(
        doctrines=doctrines or ("security",) * n,
        hegemony_share=hegemony_share,
        n_arms_levels=5,
        events=Events(**ev),
        **{k: v[None] for k, v in fields.items()},
    )


def pairs(
    steps: int, n: int, entries: dict[tuple[int, int, int], object], symmetric: bool = False, dtype: type = bool
) -> np.ndarray:
    """[steps, n, n] array with ``entries[(t, i, j)] = value`` (mirrored to (t, j, i) if symmetric)."""
    out = np.zeros((steps, n, n), dtype=dtype)
    for (t, i, j), value in entries.items():
        out[t, i, j] = value
        if symmetric:
            out[t, j, i] = value
    return out


def span(steps: int, n: int, i: int, j: int, times: range | list[int]) -> np.ndarray:
    """Symmetric bool [steps, n, n], True for (i, j) at the given time indices."""
    return pairs(steps, n, {(t, i, j): True for t in times}, symmetric=True)


def metric(log: EpisodeLog, name: str) -> float:
    return episode_metrics(log)[name]


# --------------------------------------------------------------------------------------------------
# War
# --------------------------------------------------------------------------------------------------


def test_war_onsets_wars_war_years_and_duration():
    n, turns = 3, 5
    # 0-1 fight in turns 1-2, make peace, fight again in turn 4; 1-2 fight in turns 3-5.
    battle = span(turns, n, 0, 1, [0, 1, 3]) | span(turns, n, 1, 2, [2, 3, 4])
    declared = pairs(turns, n, {(0, 0, 1): True, (3, 1, 0): True, (2, 2, 1): True, (2, 1, 2): True})
    log = make_log(n, turns, events={"battle": battle, "war_declared": declared})
    m = episode_metrics(log)
    assert m["war_onsets"] == 4  # the mutual declaration counts twice
    assert m["wars"] == 3  # 0-1 twice, 1-2 once
    assert m["war_years"] == 2 + 1 + 3
    assert m["mean_war_duration"] == pytest.approx(6 / 3)
    per = nation_metrics(log)
    np.testing.assert_array_equal(per["war_onsets"], [1, 2, 1])
    np.testing.assert_array_equal(per["war_years"], [3, 6, 3])


def test_a_war_running_at_the_end_counts_up_to_the_end_and_a_one_sided_battle_flag_is_mirrored():
    n, turns = 2, 4
    battle = pairs(turns, n, {(t, 0, 1): True for t in (1, 2, 3)})  # only one direction given
    m = episode_metrics(make_log(n, turns, events={"battle": battle}))
    assert (m["wars"], m["war_years"], m["mean_war_duration"]) == (1, 3, 3)


def test_no_war_means_zero_war_years_and_nan_duration():
    m = episode_metrics(make_log())
    assert m["war_onsets"] == m["wars"] == m["war_years"] == 0
    assert math.isnan(m["mean_war_duration"])


def test_casualties_are_forces_lost_plus_wealth_destroyed():
    n, turns = 3, 2
    lost = pairs(turns, n, {(0, 0, 1): 1.5, (0, 1, 0): 2.0, (1, 2, 1): 0.25}, dtype=float)
    destroyed = np.array([[0.0, 1.0, 0.0], [0.5, 0.0, 0.0]])
    log = make_log(n, turns, events={"forces_lost": lost, "wealth_destroyed": destroyed})
    m = episode_metrics(log)
    assert m["forces_lost"] == pytest.approx(3.75)
    assert m["wealth_destroyed"] == pytest.approx(1.5)
    assert m["casualties"] == pytest.approx(5.25)
    np.testing.assert_allclose(nation_metrics(log)["casualties"], [1.5 + 0.5, 2.0 + 1.0, 0.25])


def test_escalation_weights_follow_rivera_et_al_2024():
    assert ESCALATION_WEIGHTS == {
        Act.WAIT: 0,
        Act.ATTACK: 28,
        Act.ALLY: 4,
        Act.LEAVE_ALLIANCE: 12,
        Act.THREATEN: 12,
        Act.CONCEDE: 0,
        Act.SUPPORT: 4,
        Act.PEACE: -2,
    }


@pytest.mark.parametrize("act", list(Act))
@pytest.mark.parametrize(("arms_after", "arms_points"), [(2, 0.0), (4, 4.0), (0, -2.0)])
def test_escalation_of_one_act_and_one_arms_change(act: Act, arms_after: int, arms_points: float):
    log = make_log(2, 1, act=[[int(act), 0]], arms_level=[[2, 2], [arms_after, 2]])
    assert metric(log, "escalation_score") == ESCALATION_WEIGHTS[act] + arms_points
    assert metric(log, "escalation_per_nation_turn") == (ESCALATION_WEIGHTS[act] + arms_points) / 2
    # de-escalation scores below 0: the registered ranges hold every value (the report clips intervals to them)
    per_nation = nation_metrics(log)
    for name, value in [(n, metric(log, n)) for n in ("escalation_score", "escalation_per_nation_turn")] + [
        (n, float(per_nation[n][0])) for n in ("escalation_score", "escalation_per_turn")
    ]:
        low, high = metric_bounds(name)
        assert low <= value <= high, (name, value, (low, high))


def test_escalation_sums_nations_and_turns_and_skips_the_dead():
    act = [[Act.ATTACK, Act.PEACE, Act.THREATEN], [Act.SUPPORT, Act.LEAVE_ALLIANCE, Act.WAIT]]
    arms = [[2, 2, 2], [3, 1, 2], [3, 1, 0]]  # nation 2 dies in turn 1; its later arms change is ignored
    alive = [[1, 1, 1], [1, 1, 0], [1, 1, 0]]
    log = make_log(3, 2, act=act, arms_level=arms, alive=np.array(alive, dtype=bool))
    m = episode_metrics(log)
    # turn 1: 28 + 4, -2 - 2, 12; turn 2: 4, 12, (dead)
    assert m["escalation_score"] == 32 - 4 + 12 + 4 + 12
    assert m["escalation_per_nation_turn"] == pytest.approx(56 / 5)
    per = nation_metrics(log)
    np.testing.assert_array_equal(per["escalation_score"], [36, 8, 12])
    np.testing.assert_allclose(per["escalation_per_turn"], [18, 4, 12])


# --------------------------------------------------------------------------------------------------
# Structure
# --------------------------------------------------------------------------------------------------


def test_survivors_and_eliminations():
    alive = np.array([[1, 1, 1, 1], [1, 1, 0, 1], [1, 0, 0, 1]], dtype=bool)
    eliminated = np.array([[0, 0, 1, 0], [0, 1, 0, 0]], dtype=bool)
    log = make_log(4, 2, alive=alive, events={"eliminated": eliminated})
    m = episode_metrics(log)
    assert (m["surviving_nations"], m["eliminations"]) == (2, 2)
    np.testing.assert_array_equal(nation_metrics(log)["survived"], [1, 0, 0, 1])


@pytest.mark.parametrize(
    ("shares", "alive", "great_powers", "polarity"),
    [
        ((0.45, 0.11, 0.11, 0.11, 0.11, 0.11), (1,) * 6, 1, 1),  # unipolar preset
        ((0.3, 0.3, 0.1, 0.1, 0.1, 0.1), (1,) * 6, 2, 2),  # bipolar preset
        ((1 / 6,) * 6, (1,) * 6, 6, 3),  # multipolar
        ((0.274, 0.239, 0.193, 0.130, 0.118, 0.045), (1,) * 6, 3, 3),  # Europe 1914: threshold 0.137
        ((0.4, 0.3, 0.3, 0.0, 0.0, 0.0), (1, 1, 1, 0, 0, 0), 3, 3),
        ((0.1, 0.5, 0.3, 0.0, 0.0, 0.0), (1, 0, 1, 0, 0, 0), 1, 1),  # the dead nation's stale share is ignored
    ],
)
def test_polarity_counts_great_powers(shares, alive, great_powers, polarity):
    log = make_log(6, 1, share=np.array([shares] * 2), alive=np.array([alive] * 2, dtype=bool))
    m = episode_metrics(log)
    assert (m["great_powers"], m["polarity"]) == (great_powers, polarity)


def test_hhi_effective_number_largest_share_and_hegemony():
    share = np.array([[1 / 3, 1 / 3, 1 / 3], [0.5, 0.3, 0.2], [0.8, 0.2, 0.0], [0.6, 0.4, 0.0]])
    alive = np.array([[1, 1, 1], [1, 1, 1], [1, 1, 0], [1, 1, 0]], dtype=bool)
    log = make_log(3, 3, share=share, alive=alive, turn=np.arange(10, 14))
    m = episode_metrics(log)
    assert m["final_hhi"] == pytest.approx(0.36 + 0.16)
    assert m["peak_hhi"] == pytest.approx(0.64 + 0.04)
    assert m["effective_number_of_powers"] == pytest.approx(1 / 0.52)
    assert m["largest_share"] == pytest.approx(0.6)
    assert m["hegemony_reached"] == 1
    assert m["hegemony_turn"] == 12  # the world's turn counter; 0.5 at turn 11 is not above 0.5
    per = nation_metrics(log)
    np.testing.assert_allclose(per["final_share"], [0.6, 0.4, 0.0])
    np.testing.assert_allclose(per["peak_share"], [0.8, 0.4, 1 / 3])


def test_shares_are_renormalised_over_the_living():
    share = np.array([[0.25, 0.25, 0.5], [0.25, 0.25, 0.5]])
    alive = np.array([[1, 1, 1], [1, 1, 0]], dtype=bool)
    m = episode_metrics(make_log(3, 1, share=share, alive=alive))
    assert m["final_hhi"] == pytest.approx(0.5)
    assert m["largest_share"] == pytest.approx(0.5)


def test_no_hegemony_gives_nan_turn():
    m = episode_metrics(make_log(hegemony_share=0.5))
    assert m["hegemony_reached"] == 0
    assert math.isnan(m["hegemony_turn"])


def test_conquest_gain_is_the_initiators_change_in_share_minus_their_targets_from_the_declaration_on():
    n, turns = 3, 2
    share = np.array([[1 / 3, 1 / 3, 1 / 3], [0.4, 0.3, 0.3], [0.6, 0.1, 0.3]])
    # 0 declared on 1 in turn 1: 0 gained 0.6 - 1/3, 1 lost 1/3 - 0.1, a gain of 0.5 over its target; 2 declared on 0
    # in turn 2: 2 gained 0, 0 gained 0.2 since, so -0.2. The mean: 0.15.
    declared = pairs(turns, n, {(0, 0, 1): True, (1, 2, 0): True})
    log = make_log(n, turns, share=share, events={"war_declared": declared})
    assert metric(log, "conquest_gain") == pytest.approx(0.15)
    assert math.isnan(metric(make_log(n, turns, share=share), "conquest_gain"))  # no war: nothing to say
    # A strong state attacks a weak one and loses by it: it ends ahead (0.5 against 0.12) but conquest did not pay.
    share = np.array([[0.6, 0.1, 0.3], [0.55, 0.11, 0.34], [0.5, 0.12, 0.38]])
    log = make_log(n, turns, share=share, events={"war_declared": pairs(turns, n, {(0, 0, 1): True})})
    assert metric(log, "conquest_gain") == pytest.approx(-0.12)
    # A weak initiator ends with everything, its strong target with nothing: 0.7 - (-0.5), within the metric's range.
    share = np.array([[0.3, 0.5, 0.2], [0.4, 0.4, 0.2], [1.0, 0.0, 0.0]])
    alive = np.array([[1, 1, 1], [1, 1, 1], [1, 0, 0]], dtype=bool)
    log = make_log(n, turns, share=share, alive=alive, events={"war_declared": pairs(turns, n, {(0, 0, 1): True})})
    low, high = metric_bounds("conquest_gain")
    assert metric(log, "conquest_gain") == pytest.approx(1.2) and low <= 1.2 <= high


def test_territorial_change_and_status_quo():
    owner = np.array([[0, 0, 1, 1, 2, 2], [0, 0, 0, 1, 2, 2], [0, 0, 0, 1, 2, 1]])
    provinces = np.array([[2, 2, 2], [3, 1, 2], [3, 2, 1]])
    taken = pairs(2, 3, {(0, 0, 1): 1}, dtype=int)
    concession = pairs(2, 3, {(1, 2, 1): True})  # 2 gave in to 1's demand
    log = make_log(3, 2, owner=owner, provinces=provinces, events={"province_taken": taken, "concession": concession})
    m = episode_metrics(log)
    assert m["territorial_change"] == pytest.approx(2 / 6)
    assert m["provinces_transferred"] == 2
    assert m["status_quo_kept"] == 0
    np.testing.assert_array_equal(nation_metrics(log)["province_change"], [1, 0, -1])


def test_a_province_taken_and_retaken_breaks_the_status_quo_without_territorial_change():
    owner = np.array([[0, 1], [1, 1], [0, 1]])
    taken = pairs(2, 2, {(0, 1, 0): 1, (1, 0, 1): 1}, dtype=int)
    m = episode_metrics(make_log(2, 2, owner=owner, events={"province_taken": taken}))
    assert (m["territorial_change"], m["provinces_transferred"], m["status_quo_kept"]) == (0, 2, 0)


def test_quiet_episode_keeps_the_status_quo():
    m = episode_metrics(make_log())
    assert (m["territorial_change"], m["provinces_transferred"], m["status_quo_kept"]) == (0, 0, 1)


# --------------------------------------------------------------------------------------------------
# Strategies
# --------------------------------------------------------------------------------------------------


def test_alliances_formed_broken_and_lifetime():
    n, turns = 3, 4
    # 0-1 formed in turn 1, allied after turns 1 and 2, left by both in turn 3; 1-2 formed in turn 3, still standing;
    # 0-2 allied at the start, left by 2 in turn 1: it lasted 0 years within the episode.
    allied = span(turns + 1, n, 0, 1, [1, 2]) | span(turns + 1, n, 1, 2, [3, 4]) | span(turns + 1, n, 0, 2, [0])
    formed = pairs(turns, n, {(0, 0, 1): True, (2, 1, 2): True}, symmetric=True)
    left = pairs(turns, n, {(2, 0, 1): True, (2, 1, 0): True, (0, 2, 0): True})
    log = make_log(n, turns, allied=allied, events={"alliance_formed": formed, "alliance_left": left})
    m = episode_metrics(log)
    assert m["alliances_formed"] == 2
    assert m["alliances_broken"] == 2  # both leaving the same alliance in one turn break it once
    assert m["mean_alliance_lifetime"] == pytest.approx((2 + 2 + 0) / 3)
    per = nation_metrics(log)
    np.testing.assert_array_equal(per["alliances_formed"], [1, 2, 1])
    np.testing.assert_array_equal(per["alliances_broken"], [1, 1, 1])


def test_no_alliance_gives_nan_lifetime():
    m = episode_metrics(make_log())
    assert m["alliances_formed"] == m["alliances_broken"] == 0
    assert math.isnan(m["mean_alliance_lifetime"])


def _strongest_first(turns: int, n: int = 4) -> np.ndarray:
    return np.tile([0.4] + [0.6 / (n - 1)] * (n - 1), (turns + 1, 1))


def test_balancing_and_bandwagoning():
    n, turns = 4, 2
    neighbour = span(turns + 1, n, 0, 1, range(turns + 1))  # the strongest (0) borders 1 only
    formed = pairs(turns, n, {(0, 1, 2): True, (0, 2, 3): True, (1, 3, 0): True}, symmetric=True)
    log = make_log(n, turns, share=_strongest_first(turns), neighbour=neighbour, events={"alliance_formed": formed})
    m = episode_metrics(log)
    assert m["balancing"] == 1  # 1-2: 1 is threatened by 0; 2-3 is neither: no partner borders, fights or faces 0
    assert m["bandwagoning"] == 1  # 3 joins 0
    assert m["balancing_share"] == pytest.approx(0.5)
    assert m["alliances_formed"] == 3
    per = nation_metrics(log)
    np.testing.assert_array_equal(per["balancing"], [0, 1, 1, 0])
    np.testing.assert_array_equal(per["bandwagoning"], [0, 0, 0, 1])  # the strongest itself does not bandwagon


@pytest.mark.parametrize(
    ("relation", "balancing"),
    [
        ("none", 0),
        ("border", 1),
        ("war", 1),
        ("demand_by_strongest", 1),  # 0 demands a province of 2: 2 is threatened
        ("demand_on_strongest", 0),  # 2 demands a province of 0: 0 threatens no one
    ],
)
def test_what_counts_as_threatened_by_the_strongest(relation: str, balancing: int):
    n, turns = 4, 1
    rel = {
        "neighbour": np.zeros((2, n, n), bool),
        "at_war": np.zeros((2, n, n), bool),
        "demand": np.zeros((2, n, n), bool),
    }
    if relation == "border":
        rel["neighbour"] = span(2, n, 0, 2, [0])
    elif relation == "war":
        rel["at_war"] = span(2, n, 0, 2, [0])
    elif relation == "demand_by_strongest":
        rel["demand"] = pairs(2, n, {(0, 0, 2): True})
    elif relation == "demand_on_strongest":
        rel["demand"] = pairs(2, n, {(0, 2, 0): True})
    formed = pairs(turns, n, {(0, 2, 3): True}, symmetric=True)
    log = make_log(n, turns, share=_strongest_first(turns), events={"alliance_formed": formed}, **rel)
    assert metric(log, "balancing") == balancing


def test_no_unique_strongest_means_neither_balancing_nor_bandwagoning():
    n, turns = 4, 1
    neighbour = np.ones((2, n, n), bool) & ~np.eye(n, dtype=bool)
    formed = pairs(turns, n, {(0, 0, 1): True, (0, 2, 3): True}, symmetric=True)
    m = episode_metrics(make_log(n, turns, neighbour=neighbour, events={"alliance_formed": formed}))  # equal shares
    assert (m["balancing"], m["bandwagoning"], m["alliances_formed"]) == (0, 0, 2)
    assert math.isnan(m["balancing_share"])


def test_buck_passing():
    n, turns = 4, 4
    neighbour = np.zeros((turns + 1, n, n), bool)
    neighbour[:, 0, 1:] = neighbour[:, 1:, 0] = True  # the strongest (0) borders 1, 2 and 3
    arms = np.array([[2, 2, 2, 2], [2, 3, 2, 2], [2, 3, 2, 2], [2, 4, 2, 2], [2, 4, 2, 1]])
    act = np.zeros((turns, n), dtype=int)
    target = np.tile((np.arange(n) + 1) % n, (turns, 1))
    act[0, 3], target[0, 3] = Act.ALLY, 1  # turn 1: 1 arms, 3 allies (against 0), 2 passes the buck
    # turn 2: nobody balances, so nobody passes the buck
    act[2, 2], target[2, 2] = Act.ALLY, 0  # turn 3: 1 stays at the top level; 2 courts 0 (not balancing): 2, 3 pass
    # turn 4: 3 declares war on 0 and fights it that turn (not at war at its start), and disarms; 1 kept at top;
    # 2 passes
    battle = pairs(turns, n, {(3, 3, 0): True}, symmetric=True)
    log = make_log(
        n,
        turns,
        share=_strongest_first(turns),
        neighbour=neighbour,
        arms_level=arms,
        act=act,
        target=target,
        events={"battle": battle},
    )
    m = episode_metrics(log)
    assert m["buck_passing"] == 1 + 0 + 2 + 1
    assert m["buck_passing_rate"] == pytest.approx(4 / 12)
    # the chances: threatened while another threatened nation balanced (turn 2: no one balanced, so none)
    assert m["buck_passing_chances"] == 3 + 0 + 2 + 3
    np.testing.assert_array_equal(nation_metrics(log)["buck_passing"], [0, 0, 3, 1])


def test_a_nation_holding_an_alliance_against_the_strongest_balances_and_passes_no_buck():
    """External balancing is holding the alliance, not only proposing it: 1 and 2, both threatened by the strongest
    (0), stay allied from turn 1 on at a steady arms level while 3 arms; neither passes the buck."""
    n, turns = 4, 3
    neighbour = np.zeros((turns + 1, n, n), bool)
    neighbour[:, 0, 1:] = neighbour[:, 1:, 0] = True  # the strongest borders 1, 2 and 3
    allied = span(turns + 1, n, 1, 2, range(turns + 1))
    arms = np.array([[2, 2, 2, 2], [2, 2, 2, 3], [2, 2, 2, 4], [2, 2, 2, 4]])  # 3 arms to the top and stays there
    log = make_log(n, turns, share=_strongest_first(turns), neighbour=neighbour, allied=allied, arms_level=arms)
    assert metric(log, "buck_passing") == 0
    np.testing.assert_array_equal(nation_metrics(log)["buck_passing"], [0, 0, 0, 0])
    lone = make_log(n, turns, share=_strongest_first(turns), neighbour=neighbour, arms_level=arms)
    assert metric(lone, "buck_passing") == 2 * turns  # unallied, 1 and 2 let 3 balance alone every turn


def test_an_ally_of_the_strongest_is_not_threatened_by_it_and_passes_no_buck():
    """1 borders the strongest (0) but is its ally: the strongest cannot attack it (rules.attackable)."""
    n, turns = 4, 1
    neighbour = span(2, n, 0, 1, [0, 1]) | span(2, n, 0, 2, [0, 1])  # 0 borders 1 and 2
    allied = span(2, n, 0, 1, [0, 1])
    arms = np.array([[2, 2, 2, 2], [2, 2, 3, 2]])  # 2 arms; 1 does not
    log = make_log(n, turns, share=_strongest_first(turns), neighbour=neighbour, allied=allied, arms_level=arms)
    m = episode_metrics(log)
    assert m["buck_passing"] == 0 and m["buck_passing_rate"] == 0  # 2 is the only nation threatened


def test_a_nation_the_strongest_does_not_threaten_never_passes_the_buck():
    n, turns = 4, 1
    neighbour = span(2, n, 0, 1, [0, 1])  # only 1 borders the strongest
    arms = np.array([[2, 2, 2, 2], [2, 3, 2, 2]])
    m = episode_metrics(make_log(n, turns, share=_strongest_first(turns), neighbour=neighbour, arms_level=arms))
    assert m["buck_passing"] == 0
    assert m["buck_passing_rate"] == 0
    assert m["buck_passing_chances"] == 0  # 1 balanced, but no other nation was threatened


def test_blackmail_counts():
    n, turns = 3, 4
    made = pairs(turns, n, {(0, 0, 1): True, (0, 1, 2): True, (1, 2, 0): True, (2, 0, 2): True})
    concession = pairs(turns, n, {(1, 1, 0): True})  # 1 gave in to 0's demand
    enforced = pairs(turns, n, {(2, 1, 2): True})  # 1 went to war over 2's refusal
    bluff = pairs(turns, n, {(3, 2, 0): True})  # 2's demand on 0 lapsed; 0's demand on 2 still stands
    log = make_log(
        n,
        turns,
        events={"demand_made": made, "concession": concession, "threat_enforced": enforced, "bluff_called": bluff},
    )
    m = episode_metrics(log)
    assert (m["demands_made"], m["demands_conceded"], m["threats_enforced"], m["bluffs_called"]) == (4, 1, 1, 1)
    assert m["demands_refused"] == 2
    assert m["concession_rate"] == pytest.approx(0.25)
    per = nation_metrics(log)
    np.testing.assert_array_equal(per["demands_made"], [2, 1, 1])
    np.testing.assert_array_equal(per["demands_conceded"], [1, 0, 0])
    np.testing.assert_array_equal(per["concessions_given"], [0, 1, 0])
    np.testing.assert_array_equal(per["threats_enforced"], [0, 1, 0])
    np.testing.assert_array_equal(per["bluffs_called"], [0, 0, 1])


def test_no_demand_gives_nan_concession_rate():
    assert math.isnan(metric(make_log(), "concession_rate"))


def test_bait_and_bleed_and_bloodletting():
    n, turns = 5, 2
    at_war = span(turns + 1, n, 0, 1, range(turns + 1))  # 0 (military 5) fights 1 (military 2) throughout
    military = np.tile([5.0, 2.0, 1.0, 1.0, 1.0], (turns + 1, 1))
    allied = span(turns + 1, n, 2, 0, [1])  # in turn 2, 2 is allied with 0
    aid = pairs(
        turns,
        n,
        {
            (0, 2, 1): 1.0,  # turn 1: outsider 2 aids the weaker side: bait-and-bleed and bloodletting
            (0, 3, 0): 2.0,  # outsider 3 aids the stronger side: bait-and-bleed only
            (0, 4, 3): 0.5,  # 3 is at war with no one: neither
            (1, 2, 1): 1.0,  # turn 2: 2 is allied with 1's enemy: neither
        },
        dtype=float,
    )
    log = make_log(n, turns, at_war=at_war, military=military, allied=allied, events={"aid": aid})
    m = episode_metrics(log)
    assert (m["bait_and_bleed"], m["bloodletting"]) == (2, 1)
    assert m["aid_given"] == pytest.approx(4.5)
    # the chances: 2, 3 and 4 stand outside the war 0-1 in turn 1; in turn 2, 2 is allied with 0, so only 3 and 4
    assert m["bait_and_bleed_chances"] == 3 + 2
    assert metric(make_log(n, turns, military=military, events={"aid": aid}), "bait_and_bleed_chances") == 0  # no war
    per = nation_metrics(log)
    np.testing.assert_array_equal(per["bait_and_bleed"], [0, 0, 1, 1, 0])
    np.testing.assert_array_equal(per["bloodletting"], [0, 0, 1, 0, 0])
    np.testing.assert_allclose(per["aid_given"], [0, 0, 2.0, 2.0, 0.5])


def test_aid_from_a_belligerent_or_to_an_ally_is_not_bait_and_bleed_but_one_outsider_enemy_suffices():
    n, turns = 4, 1
    # 1 fights both 0 and 3; 2 is at war with 0 but not with 3, and allied with neither 1 nor 3.
    at_war = span(2, n, 0, 1, [0]) | span(2, n, 1, 3, [0]) | span(2, n, 0, 2, [0])
    aid = pairs(turns, n, {(0, 2, 1): 1.0}, dtype=float)
    m = episode_metrics(make_log(n, turns, at_war=at_war, events={"aid": aid}))
    assert m["bait_and_bleed"] == 1  # the war 1-3 is between two nations the giver neither fights nor is allied with
    allied = span(2, n, 2, 1, [0])  # now the recipient is the giver's ally
    m = episode_metrics(make_log(n, turns, at_war=at_war, allied=allied, events={"aid": aid}))
    assert m["bait_and_bleed"] == 0


def test_arms_racing_correlates_rivals_arms_levels():
    n, turns = 5, 6
    levels = np.array(
        [
            [2, 2, 2, 2, 2],  # the start is not a choice: excluded
            [0, 1, 4, 0, 2],
            [1, 2, 3, 1, 2],
            [2, 2, 2, 3, 2],
            [3, 4, 0, 2, 2],
            [4, 4, 1, 4, 2],
            [4, 3, 1, 4, 2],
        ]
    )
    # Rivals: 0-1 border once, 1-2 always, 1-3 are at war once without a border; 0-4 border but 4 never changes
    # its level, so that pair is undefined and skipped. 0-2 correlate strongly but are not rivals.
    neighbour = span(turns + 1, n, 0, 1, [3]) | span(turns + 1, n, 1, 2, range(turns + 1))
    neighbour |= span(turns + 1, n, 0, 4, [0])
    log = make_log(n, turns, arms_level=levels, neighbour=neighbour, at_war=span(turns + 1, n, 1, 3, [2]))
    r = np.corrcoef(levels[1:, :4].T)
    m = episode_metrics(log)
    assert m["arms_racing"] == pytest.approx((r[0, 1] + r[1, 2] + r[1, 3]) / 3)
    assert m["arms_race_pairs"] == 3
    per = nation_metrics(log)
    expect = [r[0, 1], (r[0, 1] + r[1, 2] + r[1, 3]) / 3, r[1, 2], r[1, 3], np.nan]
    np.testing.assert_allclose(per["arms_racing"], expect, atol=1e-12)


def test_arms_racing_uses_only_the_turns_both_began_alive():
    n, turns = 2, 6
    levels = np.array([[2, 2], [0, 0], [1, 1], [2, 2], [3, 1], [4, 0], [4, 0]])
    alive = np.ones((turns + 1, n), dtype=bool)
    alive[4:, 1] = False  # 1 dies in turn 4: turns 1-4 count (it began turn 4 alive), later levels do not
    log = make_log(n, turns, arms_level=levels, alive=alive, neighbour=span(turns + 1, n, 0, 1, [0]))
    assert metric(log, "arms_racing") == pytest.approx(np.corrcoef(levels[1:5, 0], levels[1:5, 1])[0, 1])


def test_perfect_arms_race_and_no_race():
    levels = np.array([[2, 2], [0, 0], [1, 1], [3, 3]])
    race = make_log(2, 3, arms_level=levels, neighbour=span(4, 2, 0, 1, [0]))
    assert metric(race, "arms_racing") == pytest.approx(1.0)
    assert math.isnan(metric(make_log(2, 3, neighbour=span(4, 2, 0, 1, [0])), "arms_racing"))  # constant levels
    # Allied neighbours arming together are no security dilemma: the pair is no rival pair, so no race is measured.
    allies = make_log(2, 3, arms_level=levels, neighbour=span(4, 2, 0, 1, [0]), allied=span(4, 2, 0, 1, [1, 2, 3]))
    assert math.isnan(metric(allies, "arms_racing")) and metric(allies, "arms_race_pairs") == 0


# --------------------------------------------------------------------------------------------------
# Registries, NaN policy, breakdowns, the log itself
# --------------------------------------------------------------------------------------------------


def test_every_metric_has_unit_definition_and_docstring():
    for registry in (METRICS, NATION_METRICS):
        for name, m in registry.items():
            assert m.unit and m.definition.endswith("."), name
            assert m.definition.split()[0] in m.compute.__doc__ and f"Unit: {m.unit}." in m.compute.__doc__, name
    table = metric_table()
    assert all(f"`{name}`" in table for name in METRICS)
    assert "| `arms_racing` | correlation in [-1, 1] | [-1, 1] |" in table and "| `wars` | wars | [0, inf) |" in table
    assert metric_bounds("province_change") == (-math.inf, math.inf) and metric_bounds("final_share") == (0.0, 1.0)
    assert metric_bounds("security:return") == (-math.inf, math.inf)  # not a metric: unbounded
    assert "`buck_passing`" in metric_table(NATION_METRICS)


def test_nan_only_where_documented():
    n, turns = 3, 3
    log = make_log(n, turns)  # a quiet episode: no war, alliance, demand, strongest or arms change
    m = episode_metrics(log)
    nan = {name for name, v in m.items() if math.isnan(v)}
    assert nan == {
        "mean_war_duration",
        "hegemony_turn",
        "mean_alliance_lifetime",
        "balancing_share",
        "buck_passing_rate",
        "concession_rate",
        "arms_racing",
        "conquest_gain",
    }
    assert all(METRICS[name].nan_when for name in nan)
    per = nation_metrics(log)
    assert {name for name, v in per.items() if np.isnan(v).any()} == {"arms_racing"}


def test_an_episode_without_turns():
    log = make_log(3, 0)
    m = episode_metrics(log)
    assert m["surviving_nations"] == 3 and m["war_onsets"] == 0 and m["status_quo_kept"] == 1
    assert all(METRICS[name].nan_when for name, v in m.items() if math.isnan(v))
    per = nation_metrics(log)
    assert all(NATION_METRICS[name].nan_when for name, v in per.items() if np.isnan(v).any())


def test_by_doctrine_averages_nations_of_each_doctrine():
    n, turns = 4, 3
    declared = pairs(turns, n, {(0, 0, 1): True, (1, 0, 2): True, (0, 2, 3): True})
    # Only 0 and 1 vary their levels, in step.
    levels = np.array([[2, 2, 2, 2], [0, 0, 2, 2], [1, 1, 2, 2], [3, 3, 2, 2]])
    log = make_log(
        n,
        turns,
        doctrines=("power", "security", "power", "security"),
        arms_level=levels,
        neighbour=span(turns + 1, n, 0, 1, [0]),
        events={"war_declared": declared},
    )
    table = by_doctrine(log)
    assert list(table) == ["power", "security"]
    assert table["power"]["war_onsets"] == 1.5 and table["security"]["war_onsets"] == 0
    assert table["power"]["arms_racing"] == pytest.approx(1.0)  # nation 2's NaN is left out of the mean
    assert set(table["power"]) == set(NATION_METRICS)
    nations = by_nation(log)
    assert nations["nation_0"]["war_onsets"] == 2 and nations["nation_3"]["war_onsets"] == 0
    alone = make_log(2, 2, doctrines=("power", "security"))
    assert math.isnan(by_doctrine(alone)["power"]["arms_racing"])


def test_batch_shapes_and_select():
    one = make_log(3, 2, events={"war_declared": pairs(2, 3, {(0, 0, 1): True})})
    two = EpisodeLog(
        one.doctrines,
        one.hegemony_share,
        one.n_arms_levels,
        events=Events(*(np.concatenate([e, np.zeros_like(e)]) for e in one.events)),
        **{name: np.concatenate([getattr(one, name)] * 2) for name in ARRAY_FIELDS},
    )
    assert all(v.shape == (2,) for v in batch_metrics(two).values())
    assert all(v.shape == (2, 3) for v in batch_nation_metrics(two).values())
    assert batch_metrics(two)["war_onsets"].tolist() == [1, 0]
    assert episode_metrics(two, 1)["war_onsets"] == 0


def test_a_log_with_mismatched_shapes_is_refused():
    log = make_log(3, 2)
    with pytest.raises(ValueError, match="military"):
        EpisodeLog(
            log.doctrines,
            0.5,
            5,
            turn=log.turn,
            military=log.military[:, :2],
            income=log.income,
            share=log.share,
            provinces=log.provinces,
            alive=log.alive,
            arms_level=log.arms_level,
            owner=log.owner,
            at_war=log.at_war,
            allied=log.allied,
            neighbour=log.neighbour,
            demand=log.demand,
            act=log.act,
            target=log.target,
            events=log.events,
        )


# --------------------------------------------------------------------------------------------------
# The recorder, on the real rules
# --------------------------------------------------------------------------------------------------


def _random_masked_actions(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """[W, N] uniformly random valid flat actions."""
    scores = np.where(mask.astype(bool), rng.random(mask.shape), -1.0)
    return scores.argmax(axis=-1)


def test_recorder_stores_what_the_world_says():
    config = EnvConfig(n_nations=4, max_cycles=10)
    world = generate_world(config, np.random.default_rng(3))
    recorder = EpisodeRecorder(config)
    with pytest.raises(RuntimeError):
        recorder.record(world, empty_events(1, 1, 4))
    recorder.start(world)
    rng = np.random.default_rng(4)
    worlds = [world]
    for _ in range(3):
        flat = _random_masked_actions(action_mask(world, config), rng)
        draws = draw_turn(NumpyRandom(rng), world.n_worlds, world.n_nations)
        world, events = transition(world, flat, draws, config)
        recorder.record(world, events)
        worlds.append(world)
    log = recorder.log()
    assert (log.n_worlds, log.n_turns, log.n_nations) == (1, 3, 4)
    for t, w in enumerate(worlds):
        np.testing.assert_allclose(log.share[0, t], power_share(w)[0])
        np.testing.assert_array_equal(log.owner[0, t], w.owner[0])
        np.testing.assert_array_equal(log.arms_level[0, t], w.arms_level[0])
    np.testing.assert_array_equal(log.act[0, -1], worlds[-1].last_act[0])
    recorder.start(worlds[0])  # a new episode forgets the old one
    assert recorder.log().n_turns == 0


def test_batched_recording_matches_world_by_world():
    config = EnvConfig(n_nations=4, max_cycles=40, offense_defense_balance=1.5, doctrines=("power", "security") * 2)
    world = stack_worlds([generate_world(config, np.random.default_rng(s)) for s in (1, 2)])
    batched, single = EpisodeRecorder(config), [EpisodeRecorder(config), EpisodeRecorder(config)]
    batched.start(world)
    for k, rec in enumerate(single):
        rec.start(world.select(k))
    rng = np.random.default_rng(5)
    for _ in range(30):
        flat = _random_masked_actions(action_mask(world, config), rng)
        draws = draw_turn(NumpyRandom(rng), world.n_worlds, world.n_nations)
        world, events = transition(world, flat, draws, config)
        batched.record(world, events)
        for k, rec in enumerate(single):
            rec.record(world.select(k), Events(*(e[k : k + 1] for e in events)))
    log = batched.log()
    for k, rec in enumerate(single):
        expect = rec.metrics()
        got = episode_metrics(log, k)
        assert got.keys() == expect.keys()
        for name in expect:
            assert got[name] == pytest.approx(expect[name], nan_ok=True), name
        for name, values in rec.nation_metrics().items():
            np.testing.assert_allclose(nation_metrics(log, k)[name], values, err_msg=name)
    assert batch_metrics(log)["war_onsets"].sum() > 0  # the episodes were not idle


def test_a_recorder_goes_on_from_its_state_as_if_it_had_never_stopped():
    """A checkpoint holds the episodes under way (train.ppo's resume): the metrics at the end are the straight run's."""
    config = EnvConfig(n_nations=4, max_cycles=40, offense_defense_balance=1.5)
    world = stack_worlds([generate_world(config, np.random.default_rng(s)) for s in (3, 4)])
    straight, resumed = EpisodeRecorder(config), EpisodeRecorder(config)
    straight.start(world)
    resumed.start(world)
    rng = np.random.default_rng(6)
    for turn in range(30):
        flat = _random_masked_actions(action_mask(world, config), rng)
        world, events = transition(world, flat, draw_turn(NumpyRandom(rng), world.n_worlds, world.n_nations), config)
        straight.record(world, events)
        resumed.record(world, events)
        if turn == 14:  # saved, and read back into a recorder of its own
            resumed, saved = EpisodeRecorder(config), resumed.state_dict()
            resumed.load_state_dict(saved)
    expect, got = batch_metrics(straight.log()), batch_metrics(resumed.log())
    for name in expect:
        np.testing.assert_array_equal(got[name], expect[name], err_msg=name)
    assert straight.episode(1) == resumed.episode(1)  # the map and every turn of the replay too
    with pytest.raises(ValueError, match="world 3's state lacks 'map'"):
        EpisodeRecorder(config).load_state_dict({"snapshots": saved["snapshots"]}, "world 3")
    with pytest.raises(RuntimeError, match="call start"):
        EpisodeRecorder(config).state_dict()


# --------------------------------------------------------------------------------------------------
# A real seeded episode
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1])
def test_env_episode_metrics_are_finite_and_consistent(seed: int):
    doctrines = ("security", "power") * 3
    env = realism_env.parallel_env(max_cycles=120, offense_defense_balance=1.5, doctrines=doctrines)
    observations, _ = env.reset(seed=seed)
    recorder = EpisodeRecorder(env.config)
    recorder.start(env.world)
    rng = np.random.default_rng(seed)
    records: set[tuple[int, str, str, str | None]] = set()
    steps = 0
    for turn in range(1, env.config.max_cycles + 1):
        if not env.agents:
            break
        steps += 1
        actions = {a: int(rng.choice(np.flatnonzero(observations[a]["action_mask"]))) for a in env.agents}
        observations, *_ = env.step(actions)
        recorder.record(env.world, env.last_events)
        records.update((turn, r["kind"], r["actor"], r["target"]) for r in env.last_event_records)
    world = env.world
    m = recorder.metrics()
    assert m.keys() == METRICS.keys()
    for name, value in m.items():
        assert math.isfinite(value) or METRICS[name].nan_when, name
        low, high = METRICS[name].bounds
        assert math.isnan(value) or low <= value <= high, (name, value, METRICS[name].bounds)
    for name, values in recorder.nation_metrics().items():
        low, high = NATION_METRICS[name].bounds
        finite = values[np.isfinite(values)]
        assert ((finite >= low) & (finite <= high)).all(), (name, values, NATION_METRICS[name].bounds)

    def count(kind: str) -> int:
        return sum(1 for r in records if r[1] == kind)

    n = env.config.n_nations
    assert not env.agents and recorder.log().n_turns == steps == int(world.turn[0])
    assert m["surviving_nations"] + m["eliminations"] == n
    assert m["surviving_nations"] == world.alive.sum()
    assert m["war_onsets"] == count("war_declared") > 0
    assert m["alliances_formed"] == count("alliance_formed")
    assert m["demands_made"] == count("demand_made") == world.threats_made.sum()
    assert m["threats_enforced"] == world.threats_enforced.sum()
    assert m["bluffs_called"] == count("bluff_called")
    assert m["casualties"] == pytest.approx(world.forces_lost.sum() + world.wealth_destroyed.sum())
    assert m["wars"] <= m["war_years"] and (m["wars"] == 0 or m["mean_war_duration"] >= 1)
    assert m["polarity"] in (1, 2, 3) and 1 <= m["great_powers"] <= m["surviving_nations"]
    assert 1 - 1e-9 <= m["effective_number_of_powers"] <= m["surviving_nations"] + 1e-9
    assert 0 < m["final_hhi"] <= m["peak_hhi"] <= 1 + 1e-12
    assert 0 <= m["territorial_change"] <= 1
    assert m["status_quo_kept"] == (m["provinces_transferred"] == 0)
    assert m["territorial_change"] == 0 or m["status_quo_kept"] == 0
    assert m["bloodletting"] <= m["bait_and_bleed"]
    assert m["buck_passing"] >= 0 and m["balancing"] + m["bandwagoning"] <= m["alliances_formed"]
    assert np.isnan(m["arms_racing"]) or -1 <= m["arms_racing"] <= 1
    per = recorder.nation_metrics()
    for name in ("war_onsets", "casualties", "escalation_score", "demands_made", "aid_given", "bait_and_bleed"):
        assert per[name].sum() == pytest.approx(m[name]), name
    assert per["bandwagoning"].sum() == m["bandwagoning"] and per["balancing"].sum() == 2 * m["balancing"]
    assert per["survived"].sum() == m["surviving_nations"]
    table = recorder.by_doctrine()
    assert set(table) == {"security", "power"}
    for doctrine, values in table.items():
        for name, value in values.items():
            assert math.isfinite(value) or NATION_METRICS[name].nan_when, (doctrine, name)


def test_group_means_leave_nan_out_and_give_nan_for_a_group_with_none():
    from realism_env import group_mean, group_means

    per_nation = {"x": np.array([1.0, np.nan, 3.0, np.nan]), "y": np.array([2.0, 4.0, 6.0, 8.0])}
    means = group_means(per_nation, ["a", "b", "a", "b"])
    assert list(means) == ["a", "b"]
    assert means["a"] == {"x": 2.0, "y": 4.0}
    assert math.isnan(means["b"]["x"]) and means["b"]["y"] == 6.0
    assert group_mean(per_nation["x"], [True, True, False, False]) == 1.0
