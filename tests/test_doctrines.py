"""Every term of each doctrine's formula, on hand-built worlds, plus mixed populations and the registry.

``security`` (defensive realism)::

    r = 0.5 * alive + min(1, S / S*) - 2 * lost / initial - 10 * eliminated
    S = (own + allies' military) / strongest non-allied neighbour or enemy (inf if none)

``power`` (offensive realism)::

    r = N * share + [share > hegemony_share] - 10 * eliminated,  share = (military share + economic share) / 2
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

import realism_env
from realism_env import DOCTRINES, Act, Doctrine, EnvConfig, PowerTerms, SecurityTerms, encode_action
from realism_env.backend import to_numpy
from realism_env.doctrines import outcome, rewards
from tests.worlds import as_numpy, backend_params, build, config, on_backend, quiet_events

INF = float("inf")


@pytest.fixture(params=backend_params())
def backend(request: pytest.FixtureRequest) -> str:
    """The array backend the doctrines read their hand-built worlds on (numpy, and torch on the CPU)."""
    return request.param


class NumpyOutcome:
    """An :class:`~realism_env.doctrines.Outcome` of any backend whose quantities read as numpy (``raw``: itself)."""

    def __init__(self, out: realism_env.Outcome) -> None:
        self.raw = out

    def __getattr__(self, name: str) -> np.ndarray:
        return to_numpy(getattr(self.raw, name))


def outcome_on(backend, before, after, events, cfg) -> NumpyOutcome:
    """:func:`~realism_env.doctrines.outcome` of numpy worlds and events, computed on ``backend``."""
    moved = (on_backend(value, backend) for value in (before, after, events))
    return NumpyOutcome(outcome(*moved, cfg))


def reward_of(doctrine: Doctrine, out: NumpyOutcome, cfg) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """A doctrine's reward and terms, computed on the outcome's backend, as numpy."""
    return as_numpy(doctrine.reward(out.raw, cfg))


def terms_of(doctrine_terms, before, after, cfg, eliminated=None, backend="numpy"):
    """The named terms ``[W, N]`` of one doctrine for the turn ``before -> after``, computed on ``backend`` (numpy
    results)."""
    events = quiet_events(after) if eliminated is None else quiet_events(after, eliminated=np.asarray([eliminated]))
    out = outcome_on(backend, before, after, events, cfg)
    return out, as_numpy(doctrine_terms(out.raw, cfg))


# --------------------------------------------------------------------------------------------------
# security: the margin over the strongest threat
# --------------------------------------------------------------------------------------------------

# Provinces 0-1-2 in a line, province 3 an island with no link: nation i holds province i.
LINE_AND_ISLAND = {"land": [(0, 1), (1, 2)]}
MIL = [2.0, 4.0, 8.0, 1.0]


@pytest.mark.parametrize(
    ("case", "relations", "military", "ratio"),
    [
        ("the only threat is the neighbour", {}, MIL, 2 / 4),
        ("a stronger nation beyond the border is no threat", {}, [2.0, 1.0, 8.0, 1.0], 2 / 1),
        ("an ally's forces count on one's side", {"allied": [(0, 3)]}, MIL, (2 + 1) / 4),
        ("an allied neighbour is no threat", {"allied": [(0, 1)]}, MIL, INF),
        ("an enemy counts even without a border", {"at_war": [(0, 2)]}, MIL, 2 / 8),
        ("allies and enemies together", {"at_war": [(0, 2)], "allied": [(0, 1)]}, MIL, (2 + 4) / 8),
        ("a sea link makes a neighbour", {"sea": [(0, 2)]}, MIL, 2 / 8),
        ("an ally's enemy is not one's own threat", {"allied": [(0, 3)], "at_war": [(3, 2)]}, MIL, (2 + 1) / 4),
    ],
)
def test_security_ratio_counts_allies_and_only_non_allied_neighbours_or_enemies(
    case, relations, military, ratio, backend
):
    links, relations = dict(LINE_AND_ISLAND), dict(relations)  # the case's dict is shared by every backend's run
    if "sea" in relations:
        links["sea"] = relations.pop("sea")
    world = build([0, 1, 2, 3], military=military, **links, **relations)
    cfg = config(4)
    out, terms = terms_of(SecurityTerms(), world, world, cfg, backend=backend)
    assert out.security_ratio[0, 0] == pytest.approx(ratio), case
    assert terms["security_margin"][0, 0] == pytest.approx(min(1.0, ratio / cfg.security_sufficiency)), case


def test_a_nation_with_no_threat_has_full_security(backend):
    world = build([0, 1, 2, 3], military=MIL, **LINE_AND_ISLAND)
    out, terms = terms_of(SecurityTerms(), world, world, config(4), backend=backend)
    assert out.security_ratio[0, 3] == INF  # the island borders no one and fights no one
    assert terms["security_margin"][0, 3] == 1.0


def test_a_threat_too_weak_for_the_ratio_to_be_written_is_no_threat(backend):
    # 1e10 / 1e-300 passes float64's largest value: the ratio is inf, as with no threat, and nothing overflows (a
    # RuntimeWarning on numpy; float32 worlds met it with a nearly disarmed neighbour)
    world = build([0, 1, 2, 3], military=[1e10, 1e-300, 8.0, 1.0], **LINE_AND_ISLAND)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        out, terms = terms_of(SecurityTerms(), world, world, config(4), backend=backend)
    assert out.security_ratio[0, 0] == INF
    assert terms["security_margin"][0, 0] == 1.0
    assert out.security_ratio[0, 1] == pytest.approx(1e-300 / 1e10, rel=1e-6, abs=0)  # the weak one: as before


def test_a_huge_finite_ratio_gives_full_margin_under_any_sufficiency(backend):
    # S = 1e10 / 2e-298 = 5e307 is finite; S / S* with S* = 0.25 would pass float64's largest value
    world = build([0, 1, 2, 3], military=[1e10, 2e-298, 8.0, 1.0], **LINE_AND_ISLAND)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        out, terms = terms_of(SecurityTerms(), world, world, config(4, security_sufficiency=0.25), backend=backend)
    assert out.security_ratio[0, 0] == pytest.approx(5e307)
    assert terms["security_margin"][0, 0] == 1.0


@pytest.mark.parametrize(
    ("own", "threat", "sufficiency", "margin"),
    [
        (1.0, 2.0, 1.1, 0.5 / 1.1),
        (1.1, 1.0, 1.1, 1.0),  # exactly sufficient
        (5.0, 1.0, 1.1, 1.0),  # power beyond what deters earns nothing
        (3.0, 2.0, 2.0, 0.75),
        (0.0, 2.0, 1.1, 0.0),
    ],
)
def test_security_margin_is_capped_at_sufficiency(own, threat, sufficiency, margin, backend):
    world = build([0, 1], military=[own, threat])
    cfg = config(2, security_sufficiency=sufficiency)
    _, terms = terms_of(SecurityTerms(), world, world, cfg, backend=backend)
    assert terms["security_margin"][0, 0] == pytest.approx(margin)


def test_security_survival_territory_and_elimination_terms(backend):
    # Nation 1 starts with 2 provinces (0 and 2 also hold 2 each); it loses one to 0, nation 2 loses both to 0.
    before = build([0, 0, 1, 1, 2, 2], military=[4.0, 4.0, 4.0])
    after = build([0, 0, 0, 1, 0, 0], n_nations=3, military=[4.0, 4.0, 0.0], initial_provinces=[2, 2, 2])
    out, terms = terms_of(SecurityTerms(), before, after, config(3), eliminated=[False, False, True], backend=backend)
    np.testing.assert_array_equal(out.provinces_lost[0], [0, 1, 2])
    np.testing.assert_allclose(terms["survival"][0], [0.5, 0.5, 0.0])
    np.testing.assert_allclose(terms["territory_lost"][0], [0.0, -2.0 * 1 / 2, -2.0 * 2 / 2])  # gains earn nothing
    np.testing.assert_allclose(terms["elimination"][0], [0.0, 0.0, -10.0])
    np.testing.assert_allclose(terms["security_margin"][0], [min(1, 4 / 4 / 1.1), 4 / 4 / 1.1, 0.0])  # dead: 0
    reward, parts = reward_of(Doctrine("security", "", SecurityTerms()), out, config(3))
    np.testing.assert_allclose(reward, sum(parts.values()))
    np.testing.assert_allclose(reward[0, 2], -12.0)


def test_territory_lost_is_relative_to_the_initial_holding(backend):
    before = build([0, 0, 0, 0, 1, 1])
    after = build([0, 0, 0, 1, 1, 1], initial_provinces=[4, 2])
    _, terms = terms_of(SecurityTerms(), before, after, config(2), backend=backend)
    np.testing.assert_allclose(terms["territory_lost"][0], [-2.0 * 1 / 4, 0.0])


def test_security_weights_scale_each_term(backend):
    before = build([0, 0, 1, 1], military=[1.0, 2.0])
    after = build([0, 1, 1, 1], military=[1.0, 2.0], initial_provinces=[2, 2])
    weights = SecurityTerms(survival=1.0, margin=3.0, territory=4.0, elimination=7.0)
    _, base = terms_of(SecurityTerms(), before, after, config(2), backend=backend)
    _, scaled = terms_of(weights, before, after, config(2), backend=backend)
    np.testing.assert_allclose(scaled["survival"], base["survival"] * 2.0)
    np.testing.assert_allclose(scaled["security_margin"], base["security_margin"] * 3.0)
    np.testing.assert_allclose(scaled["territory_lost"], base["territory_lost"] * 2.0)
    _, dead = terms_of(weights, before, after, config(2), eliminated=[True, False], backend=backend)
    assert dead["elimination"][0, 0] == -7.0


# --------------------------------------------------------------------------------------------------
# power: relative power and hegemony
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("military", "income", "share"),
    [
        ([3.0, 1.0], [1.0, 3.0], [0.5, 0.5]),  # the mean of military and economic shares
        ([1.0, 1.0], [1.0, 1.0], [0.5, 0.5]),
        ([1.0, 1.0, 2.0], [2.0, 1.0, 1.0], [0.375, 0.25, 0.375]),
        ([6.0, 2.0, 2.0], [1.0, 1.0, 2.0], [0.425, 0.225, 0.35]),
    ],
)
def test_relative_power_is_n_times_the_capability_share(military, income, share, backend):
    n = len(military)
    world = build(list(range(n)), military=military, wealth=income)
    out, terms = terms_of(PowerTerms(), world, world, config(n), backend=backend)
    np.testing.assert_allclose(out.power_share[0], share)
    np.testing.assert_allclose(terms["relative_power"][0], n * np.asarray(share))


@pytest.mark.parametrize(
    ("hegemony_share", "bonus"),
    [(0.5, [1.0, 0.0, 0.0]), (0.79, [1.0, 0.0, 0.0]), (0.8, [0.0, 0.0, 0.0]), (0.9, [0.0, 0.0, 0.0])],
)
def test_hegemony_bonus_above_hegemony_share(hegemony_share, bonus, backend):
    world = build([0, 1, 2], military=[8.0, 1.0, 1.0], wealth=[8.0, 1.0, 1.0])  # nation 0 holds 0.8
    out, terms = terms_of(PowerTerms(), world, world, config(3, hegemony_share=hegemony_share), backend=backend)
    assert out.power_share[0, 0] == pytest.approx(0.8)
    np.testing.assert_allclose(terms["hegemony"][0], bonus)


def test_power_elimination_term_and_a_dead_nation_has_no_power(backend):
    before = build([0, 0, 1], military=[5.0, 5.0])
    after = build([0, 0, 0], n_nations=2, military=[5.0, 0.0], initial_provinces=[2, 1])
    out, terms = terms_of(PowerTerms(), before, after, config(2), eliminated=[False, True], backend=backend)
    np.testing.assert_allclose(terms["elimination"][0], [0.0, -10.0])
    np.testing.assert_allclose(terms["relative_power"][0], [2.0, 0.0])
    np.testing.assert_allclose(terms["hegemony"][0], [1.0, 0.0])
    reward, parts = reward_of(Doctrine("power", "", PowerTerms()), out, config(2))
    np.testing.assert_allclose(reward[0], [3.0, -10.0])
    np.testing.assert_allclose(reward, sum(parts.values()))


def test_power_weights_scale_each_term(backend):
    world = build([0, 1], military=[9.0, 1.0], wealth=[9.0, 1.0])
    _, base = terms_of(PowerTerms(), world, world, config(2), backend=backend)
    _, scaled = terms_of(PowerTerms(share=2.0, hegemony=5.0), world, world, config(2), backend=backend)
    np.testing.assert_allclose(scaled["relative_power"], base["relative_power"] * 2.0)
    np.testing.assert_allclose(scaled["hegemony"], base["hegemony"] * 5.0)


# --------------------------------------------------------------------------------------------------
# Mixed populations
# --------------------------------------------------------------------------------------------------


def test_a_mixed_population_gives_each_nation_its_own_doctrine(backend):
    names = ("security", "power", "security")
    cfg = config(3, doctrines=names)
    before = build([0, 0, 1, 1, 2, 2], military=[1.0, 6.0, 2.0])
    after = build([0, 1, 1, 1, 2, 2], military=[1.0, 6.0, 2.0], initial_provinces=[2, 2, 2])
    out = outcome_on(backend, before, after, quiet_events(after), cfg)
    total = to_numpy(rewards(tuple(DOCTRINES[d] for d in cfg.doctrine_per_nation), out.raw, cfg)[0])
    security, _ = reward_of(DOCTRINES["security"], out, cfg)
    power, _ = reward_of(DOCTRINES["power"], out, cfg)
    np.testing.assert_allclose(total[0], [security[0, 0], power[0, 1], security[0, 2]])
    assert security[0, 1] != pytest.approx(power[0, 1])  # the test can tell the doctrines apart


def test_a_mixed_population_in_the_env_reports_each_nation_its_own_terms():
    names = ("power", "security", "security", "power")
    env = realism_env.parallel_env(n_nations=4, doctrines=names, max_cycles=5)
    env.reset(seed=0)
    before = env.world
    wait = {a: encode_action(2, Act.WAIT, 0, 4) for a in env.agents}
    _, rewards_out, _, _, _ = env.step(wait)
    out = outcome(before, env.world, quiet_events(env.world), env.config)  # a quiet turn: no one eliminated
    for i, agent in enumerate(env.possible_agents):
        expected = DOCTRINES[names[i]].terms(out, env.config)
        got = env.last_rich_infos[agent]["reward_terms"]
        assert set(got) == set(expected), agent
        for term, value in expected.items():
            assert got[term] == pytest.approx(float(value[0, i])), (agent, term)
        assert rewards_out[agent] == pytest.approx(sum(got.values()))


# --------------------------------------------------------------------------------------------------
# The registry
# --------------------------------------------------------------------------------------------------


def _pacifist_terms(out, cfg):
    """A user's doctrine: be alive, hold land."""
    return {"alive_bonus": 3.0 * out.alive, "land": out.initial_provinces * 0.0 + 0.25}


@pytest.fixture
def pacifist():
    name = "test_pacifist"
    doctrine = realism_env.register_doctrine(Doctrine(name, "a user-defined doctrine for tests", _pacifist_terms))
    try:
        yield doctrine
    finally:
        DOCTRINES.pop(name, None)


def test_the_registry_lists_the_built_in_doctrines():
    assert {"security", "power"} <= set(DOCTRINES)
    assert all(isinstance(d, Doctrine) for d in DOCTRINES.values())


def test_a_user_registered_doctrine_works_in_the_env(pacifist):
    env = realism_env.parallel_env(
        n_nations=3, doctrines=(pacifist.name, "power", pacifist.name), max_cycles=4, rich_infos=True
    )
    env.reset(seed=1)
    wait = {a: encode_action(0, Act.WAIT, 0, 3) for a in env.agents}
    _, rewards_out, _, _, infos = env.step(wait)
    for agent in ("nation_0", "nation_2"):
        assert infos[agent]["reward_terms"] == {"alive_bonus": 3.0, "land": 0.25}
        assert rewards_out[agent] == pytest.approx(3.25)
    assert set(infos["nation_1"]["reward_terms"]) == {"relative_power", "hegemony", "elimination"}


def test_registering_a_duplicate_name_raises(pacifist):
    with pytest.raises(ValueError, match="test_pacifist"):
        realism_env.register_doctrine(Doctrine(pacifist.name, "again", _pacifist_terms))
    with pytest.raises(ValueError, match="security"):
        realism_env.register_doctrine(Doctrine("security", "a usurper", _pacifist_terms))
    assert DOCTRINES["security"].terms is not _pacifist_terms
    replaced = realism_env.register_doctrine(Doctrine(pacifist.name, "replaced", _pacifist_terms), overwrite=True)
    assert DOCTRINES[pacifist.name] is replaced


def test_registering_something_that_is_not_a_doctrine_raises():
    with pytest.raises(ValueError, match="Doctrine"):
        realism_env.register_doctrine(_pacifist_terms)


def test_registering_a_name_that_means_a_population_raises():
    for name in ("mixed", "security+trade"):
        with pytest.raises(ValueError, match=f"doctrine name '{re.escape(name)}' is reserved for populations"):
            realism_env.register_doctrine(Doctrine(name, "a population's name", _pacifist_terms))
        assert name not in DOCTRINES


def test_a_population_names_the_doctrines_its_nations_take_in_turn(pacifist):
    assert realism_env.population_doctrines("mixed", 3) == ("security", "power", "security")
    assert realism_env.population_doctrines("power", 2) == ("power", "power")
    mix = f"{pacifist.name}+power+security"
    assert realism_env.population_doctrines(mix, 4) == (pacifist.name, "power", "security", pacifist.name)
    env = realism_env.parallel_env(n_nations=4, doctrines=realism_env.population_doctrines(mix, 4), max_cycles=2)
    env.reset(seed=0)
    assert env.unwrapped.config.doctrine_per_nation[:2] == (pacifist.name, "power")
    with pytest.raises(ValueError, match="alternates 3 doctrines over 2 nations, so 'security' would have none"):
        realism_env.population_doctrines(mix, 2)
    for bad, message in (("power+power", "names a doctrine twice"), ("security+power", "name it 'mixed'")):
        with pytest.raises(ValueError, match=message):
            realism_env.doctrine_cycle(bad)


def test_an_unknown_doctrine_is_refused_with_the_valid_choices():
    with pytest.raises(ValueError, match="'power'.*'security'"):
        EnvConfig(doctrines="idealism")
