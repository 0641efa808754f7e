"""Scripted agents: the policy contract (mask, determinism, purity, public API only), the registry, behaviour
on hand-built observations, and a population check of defensive realism."""

from __future__ import annotations

import ast
import copy
import dataclasses
from pathlib import Path

import numpy as np
import pytest

import agents
import realism_env
from agents import (
    POLICIES,
    ArrayPolicy,
    Memory,
    Nations,
    Policy,
    build_policies,
    make_policy,
    policy_class,
    rollout,
)
from agents.episodes import Episodes, matched_seeds
from agents.evaluation_report import jsonable
from agents.population import make_plan
from realism_env import Act, decode_action, encode_action

NAMES = ("defensive_realist", "offensive_realist", "status_quo", "random", "bandwagoner", "tit_for_tat")
AGENTS_DIR = Path(__file__).resolve().parents[1] / "agents"


# --------------------------------------------------------------------------------------------------
# Hand-built observations
# --------------------------------------------------------------------------------------------------


def make_env(**config):
    return realism_env.parallel_env(scenario="multipolar", max_cycles=50, **config)


def mask_for(layout, vector: np.ndarray, n_levels: int = 5) -> np.ndarray:
    """The action mask that the env's rules table (RealismEnv docstring) gives for this observation."""
    n = layout.n_nations

    def f(name):
        return layout.other(vector, name) > 0.5

    alive, allied, at_war = f("alive"), f("allied"), f("at_war")
    neighbour = f("land_border") | f("sea_border")
    valid = {
        Act.ATTACK: alive & ~allied & (neighbour | at_war),
        Act.ALLY: alive & ~allied & ~at_war,
        Act.LEAVE_ALLIANCE: allied,
        Act.THREATEN: alive & ~allied & ~at_war & neighbour & ~f("demand_made"),
        Act.CONCEDE: alive & f("demand_received") & neighbour,
        Act.SUPPORT: alive & ~at_war,
        Act.PEACE: at_war,
    }
    mask = np.zeros(realism_env.n_actions(n, n_levels), dtype=np.int8)
    for level in range(n_levels):
        mask[encode_action(level, Act.WAIT, 0, n, n_levels)] = 1
        for act, ok in valid.items():
            for slot in np.flatnonzero(ok):
                mask[encode_action(level, act, int(slot), n, n_levels)] = 1
    return mask


def craft(env, own: dict | None = None, others: dict | None = None) -> dict[str, np.ndarray]:
    """An observation of a calm world of equal nations (nobody borders the observer) with the given fields
    changed: ``own={field: value}``, ``others={slot: {field: value}}``."""
    layout, n = env.layout, env.config.n_nations
    vector = np.zeros(layout.size, dtype=np.float32)
    share = 1.0 / n
    base_own = {"military": share, "wealth": share, "provinces": share, "arms_level": 0.5, "credibility": 0.5}
    for name, value in {**base_own, **(own or {})}.items():
        vector[layout.own_index(name)] = value
    base_other = {"alive": 1, "military": share, "wealth": share, "provinces": share, "credibility": 0.5}
    for slot in range(n - 1):
        fields = {**base_other, **(others or {}).get(slot, {})}
        if not any(k.startswith("last_act_") for k in fields):
            fields["last_act_wait"] = 1
        for name, value in fields.items():
            vector[layout.other_indices(name)[slot]] = value
    return {"observation": vector, "action_mask": mask_for(layout, vector)}


def act_of(name: str, observation, env=None, steps: int = 1, **params):
    """Decoded action of policy ``name`` after seeing ``observation`` ``steps`` times in a row."""
    env = env or make_env()
    policy = make_policy(name, env, **params)
    state = policy.initial_state()
    rng = np.random.default_rng(0)
    for _ in range(steps):
        action, state = policy.step(observation, state, rng)
        assert observation["action_mask"][action] == 1
    return decode_action(action, env.config.n_nations)


# --------------------------------------------------------------------------------------------------
# Registry and API
# --------------------------------------------------------------------------------------------------


def test_registry_lists_all_six_policies():
    assert set(POLICIES) == set(NAMES)
    for name in NAMES:
        assert policy_class(name).name == name
        assert POLICIES[name].__doc__, f"{name} has no docstring"


def test_unknown_policy_raises_listing_valid_names():
    with pytest.raises(ValueError) as info:
        make_policy("neorealist", make_env())
    for name in NAMES:
        assert name in str(info.value)


def test_register_policy_adds_a_policy_of_ones_own():
    from agents import StatusQuo, register_policy

    class Hawk(StatusQuo):
        """Waits at full mobilisation."""

        name = "hawk"

    try:
        register_policy(Hawk)
        assert make_policy("hawk", make_env(), arms_level=4).fixed_level == 4
    finally:
        POLICIES.pop("hawk", None)
    with pytest.raises(ValueError, match="not a Policy"):
        register_policy(int)


def test_a_policy_of_ones_own_that_takes_options_of_its_own_gets_them_from_make_policy():
    """A policy may take ``**options`` and read them itself: make_policy passes them on (a keyword check made from the
    signatures refused them), and a keyword that no __init__ takes is still named with the parameters it has."""
    from agents import StatusQuo, register_policy

    class Dove(StatusQuo):
        name = "dove_with_options"

        def __init__(self, layout, n, levels=5, **options):
            super().__init__(layout, n, levels, arms_level=options.pop("level", 0))
            self.options = options

    class Plain(StatusQuo):
        name = "plain_status_quo"

    try:
        register_policy(Dove)
        register_policy(Plain)
        dove = make_policy("dove_with_options", make_env(), level=2, mood="calm")
        assert dove.fixed_level == 2 and dove.options == {"mood": "calm"}
        with pytest.raises(
            ValueError, match=r"^policy 'plain_status_quo' takes no parameter 'mood'; valid: arms_level$"
        ):
            make_policy("plain_status_quo", make_env(), mood="calm")
    finally:
        POLICIES.pop("dove_with_options", None)
        POLICIES.pop("plain_status_quo", None)


def _hawk_class() -> type:
    """A policy class defined afresh at each call, as a module imported twice defines its classes again."""
    from agents import StatusQuo

    class Hawk(StatusQuo):
        name = "hawk"

    return Hawk


def test_register_policy_refuses_a_name_that_would_replace_a_policy_or_break_a_spec():
    from agents import DefensiveRealist, StatusQuo, register_policy

    class Impostor(StatusQuo):  # would play the defensive realist's nations in backgrounds and baselines
        name = "defensive_realist"

    with pytest.raises(ValueError, match=r"Impostor has name 'defensive_realist', already registered for "
                       r"agents\.policies\.DefensiveRealist; valid: a name not registered yet"):  # fmt: skip
        register_policy(Impostor)
    assert POLICIES["defensive_realist"] is DefensiveRealist

    class NoName(StatusQuo):  # would register as its parent's name
        pass

    with pytest.raises(ValueError, match=r"NoName inherits name 'status_quo'; valid: a class attribute name"):
        register_policy(NoName)
    for bad in ("hawk:v2", "dove, v1", "cautious/v3", "", "-hawk", "..", "hawk v2", "größe"):
        odd = type("Odd", (StatusQuo,), {"name": bad})
        with pytest.raises(ValueError, match=r"valid: ASCII letters, digits, '_', '\.' and '-', starting .*, and '\+'"):
            register_policy(odd)
    for reserved in ("scripted", "learned"):
        with pytest.raises(ValueError, match=f"name '{reserved}', which is reserved"):
            register_policy(type("Reserved", (StatusQuo,), {"name": reserved}))
    assert set(POLICIES) == set(NAMES)
    register_policy(type("Mixed", (StatusQuo,), {"name": "learned_security+power_s0.v-2"}))  # a learned run's, say


def test_a_policy_class_defined_again_by_the_same_code_registers_again():
    from agents import register_policy

    first, again = _hawk_class(), _hawk_class()
    assert first is not again
    register_policy(first)
    register_policy(first)  # the same class: nothing changes
    register_policy(again)  # its module imported twice: the latest definition plays
    assert POLICIES["hawk"] is again


def test_build_policies_checks_population_size():
    env = make_env()
    with pytest.raises(ValueError, match="one per nation"):
        build_policies(env, ["random"] * 3)
    with pytest.raises(ValueError, match="nation_5"):
        build_policies(env, {f"nation_{i}": "random" for i in range(5)})


NAN = float("nan")


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("defensive_realist", {"comfort": "x"}, r"comfort='x' is invalid; valid: a finite number > 0"),
        ("offensive_realist", {"caution": "high"}, r"caution='high' is invalid; valid: a finite number >= 0"),
        ("defensive_realist", {"fight_ratio": NAN}, r"fight_ratio=nan is invalid; valid: a finite number >= 0"),
        ("offensive_realist", {"misperception": NAN}, r"misperception=nan is invalid; valid: a finite number >= 0"),
        ("defensive_realist", {"min_level": -3}, r"min_level=-3 is invalid; valid: an integer from 0 to 4"),
        ("offensive_realist", {"aid_interval": -1}, r"aid_interval=-1 is invalid; valid: an integer >= 1"),
        ("offensive_realist", {"aid_interval": 1.5}, r"aid_interval=1\.5 is invalid; valid: an integer >= 1"),
        ("defensive_realist", {"sufficiency": 0}, r"sufficiency=0 is invalid; valid: a finite number > 0"),
        (
            "offensive_realist",
            {"conquest_payoff": 1.5},
            r"conquest_payoff=1\.5 is invalid; valid: a number from 0 to 1",
        ),
        (
            "status_quo",
            {"arms_level": 2.5},
            r"arms_level=2\.5 is invalid; valid: None \(the middle level\) or an integer",
        ),
        ("status_quo", {"arms_level": True}, r"arms_level=True is invalid; valid: None \(the middle level\) or an "),
        (
            "status_quo",
            {"arms_level": "2"},
            r"arms_level='2' is invalid; valid: None \(the middle level\) or an integer",
        ),
    ],
)
def test_a_bad_policy_parameter_is_refused_naming_it_and_its_valid_range(name, params, message):
    with pytest.raises(ValueError, match=f"^{message}"):
        make_policy(name, make_env(), **params)


def test_valid_policy_parameters_of_any_numeric_type_are_kept():
    env = make_env()
    defensive = make_policy("defensive_realist", env, comfort=np.float64(2), min_level=np.int64(4), fight_ratio=0)
    assert (defensive.comfort, defensive.min_level, defensive.fight_ratio) == (2.0, 4, 0.0)
    assert type(defensive.min_level) is int
    assert make_policy("offensive_realist", env, aid_interval=np.int32(1)).aid_interval == 1
    assert make_policy("status_quo", env, arms_level=np.int64(0)).fixed_level == 0


def test_an_unknown_policy_parameter_is_refused_naming_the_policy_and_its_parameters():
    env = make_env()
    valid = r"comfort, fight_ratio, concede_ratio, min_level, offense_defense_balance, .*misperception$"
    with pytest.raises(ValueError, match=rf"^policy 'defensive_realist' takes no parameter 'bogus'; valid: {valid}"):
        make_policy("defensive_realist", env, bogus=1)
    with pytest.raises(ValueError, match=r"^policy 'random' takes no parameter 'comfort'; valid: none$"):
        build_policies(env, "random", comfort=2.0)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda env: agents.RandomPolicy(env.layout, "6"), r"n_nations='6' is invalid; valid: an integer >= 2"),
        (lambda env: agents.RandomPolicy(None, 6), r"layout=None is invalid; valid: the env's realism_env\.Observa"),
        (lambda env: make_policy("random", None), r"env=None is invalid; valid: a realism_env env or batch of worlds"),
        (lambda env: make_policy("defensive_realist", None), r"env=None is invalid; valid: a realism_env env"),
        (lambda env: agents.StatusQuo(env.layout, 6, 4.0), r"n_arms_levels=4\.0 is invalid; valid: an integer >= 2"),
    ],
)
def test_a_policy_for_no_env_is_refused_naming_what_was_given(build, message):
    with pytest.raises(ValueError, match=f"^{message}"):
        build(make_env())


def _first_observation(**config):
    env = make_env(**config)
    return env.reset(seed=0)[0]["nation_0"]


@pytest.mark.parametrize(
    ("make", "observation", "given"),
    [
        (lambda env: make_policy("defensive_realist", env), lambda: _first_observation()["observation"],
         r"an object of type ndarray \(shape \(140,\)\)"),
        (lambda env: make_policy("offensive_realist", env), lambda: _first_observation(n_nations=3),
         r"a dict with 'observation' of shape \(62,\) and 'action_mask' of shape \(80,\)"),
        (lambda env: make_policy("tit_for_tat", env), lambda: {"obs": 1},
         r"a dict with keys 'obs'"),
        # a policy built for 7 arms levels reads the masks of a 5-level env as garbage (the random one did not fail)
        (lambda env: agents.RandomPolicy(env.layout, 6, 7), _first_observation,
         r"a dict with 'observation' of shape \(140,\) and 'action_mask' of shape \(200,\)"),
    ],
)  # fmt: skip
def test_step_refuses_what_is_not_an_observation_of_its_env(make, observation, given):
    policy = make(make_env())
    levels, actions = policy.n_arms_levels, realism_env.n_actions(6, policy.n_arms_levels)
    expected = (
        rf"^policy '{policy.name}' was given {given} as an observation; valid: one nation's observation of an env of "
        rf"6 nations and {levels} arms levels, a dict with 'observation' of shape \(140,\) and 'action_mask' of shape "
        rf"\({actions},\)"
    )
    with pytest.raises(ValueError, match=expected):
        policy.step(observation(), policy.initial_state(), np.random.default_rng(0))


def test_build_policies_refuses_an_unknown_agent_or_no_population():
    env = make_env()
    every = dict.fromkeys(env.possible_agents, "defensive_realist")
    with pytest.raises(ValueError, match=r"^population has a policy for unknown agents 'nation_9'; valid: nation_0, "):
        build_policies(env, {**every, "nation_9": "random"})
    forms = (
        r"a policy name for every nation, a sequence of one name per nation \(6\), or a mapping \{agent: name\} over"
    )
    with pytest.raises(ValueError, match=rf"^population=None is invalid; valid: {forms} nation_0"):
        build_policies(env, None)
    assert build_policies(env, iter(["random"] * 6))["nation_5"].name == "random"  # any iterable of names


def test_rollout_refuses_policies_that_miss_an_agent():
    env = make_env()
    policies = {"nation_0": make_policy("random", env)}
    with pytest.raises(ValueError, match=r"^policies has no policy for nation_1, nation_2, .*nation_5; valid: one "):
        rollout(env, policies, seed=0)  # at the call, before the episode


def test_single_learner_env_refuses_a_non_bool_indicator_and_no_background():
    from agents.single_learner import SingleLearnerEnv

    with pytest.raises(ValueError, match=r"^doctrine_indicator='no' is invalid; valid: True or False$"):
        SingleLearnerEnv(doctrine_indicator="no", max_cycles=5)
    forms = r"a policy name for every other nation, or a sequence of one name per nation \(6; .*\)"
    with pytest.raises(ValueError, match=rf"^background=None is invalid; valid: {forms}; names: bandwagoner, "):
        SingleLearnerEnv(background=None, max_cycles=5)
    assert SingleLearnerEnv(doctrine_indicator=np.bool_(True), max_cycles=5).doctrine_indicator is True


def test_docstrings_cite_the_theories():
    assert "Waltz" in POLICIES["defensive_realist"].__doc__
    assert "Mearsheimer" in POLICIES["offensive_realist"].__doc__
    for term in ("blackmail", "buck", "bait and bleed", "Bloodletting", "hegemony"):
        assert term.lower() in POLICIES["offensive_realist"].__doc__.lower()


def test_agents_use_only_the_public_api_of_realism_env():
    for path in AGENTS_DIR.glob("*.py"):
        if path.name == "episodes.py":  # the harness's recorder reads env.world
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("realism_env"):
                assert node.module == "realism_env", f"{path.name} imports {node.module}"
                for alias in node.names:
                    assert alias.name in realism_env.__all__, f"{path.name} imports private {alias.name}"
            if isinstance(node, ast.Attribute) and node.attr in {"world", "_rng", "_mask"}:
                pytest.fail(f"{path.name} reads env internals ({node.attr})")


# --------------------------------------------------------------------------------------------------
# Full episodes: the mask is always respected
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", ["multipolar", "bipolar", "islands"])
@pytest.mark.parametrize("name", NAMES)
def test_every_policy_plays_valid_actions(name, scenario):
    env = realism_env.parallel_env(scenario=scenario, max_cycles=25)
    policies = build_policies(env, name)
    steps = 0
    for step in rollout(env, policies, seed=1):
        for agent, action in step.actions.items():
            assert step.observations[agent]["action_mask"][action] == 1
            assert step.infos[agent]["action_valid"], f"{name} chose a masked action in {scenario}"
        steps += 1
    assert steps > 0


@pytest.mark.parametrize("scenario", ["multipolar", "bipolar", "islands", "unipolar"])
def test_mixed_population_plays_valid_actions(scenario):
    env = realism_env.parallel_env(scenario=scenario, max_cycles=60)
    for seed in (0, 1):
        for step in rollout(env, build_policies(env, list(NAMES)), seed=seed):
            assert all(info["action_valid"] for info in step.infos.values())


@pytest.mark.parametrize("n_nations", [2, 4, 9])
def test_policies_read_by_field_name_whatever_the_layout(n_nations):
    """Other nation counts and revealed doctrines shift every raw index; named fields keep working."""
    env = realism_env.parallel_env(n_nations=n_nations, max_cycles=20, reveal_doctrines=True)
    population = [NAMES[i % len(NAMES)] for i in range(n_nations)]
    for step in rollout(env, build_policies(env, population), seed=2):
        assert all(info["action_valid"] for info in step.infos.values())


@pytest.mark.parametrize("name", NAMES)
def test_policies_fall_back_to_the_only_valid_action(name):
    env = make_env()
    observation = craft(env, others={0: {"land_border": 1, "at_war": 1, "acted_on_observer": 1}})
    only = encode_action(0, Act.WAIT, 0, 6)
    observation["action_mask"] = np.zeros_like(observation["action_mask"])
    observation["action_mask"][only] = 1
    policy = make_policy(name, env)
    action, _ = policy.step(observation, policy.initial_state(), np.random.default_rng(0))
    assert action == only


# --------------------------------------------------------------------------------------------------
# Determinism and purity
# --------------------------------------------------------------------------------------------------


def _actions(seed: int, scenario: str = "multipolar") -> list[dict[str, int]]:
    env = realism_env.parallel_env(scenario=scenario, max_cycles=40)
    return [step.actions for step in rollout(env, build_policies(env, list(NAMES)), seed=seed)]


def test_same_seed_same_actions():
    assert _actions(5) == _actions(5)
    assert _actions(5, "bipolar") == _actions(5, "bipolar")


def test_step_is_pure():
    env = realism_env.parallel_env(scenario="bipolar", max_cycles=40)
    population = ["offensive_realist", "defensive_realist", "tit_for_tat", "random", "bandwagoner", "offensive_realist"]
    policies = build_policies(env, population)
    observations, _ = env.reset(seed=3)
    states = {a: policies[a].initial_state() for a in env.agents}
    checked = 0
    for turn in range(40):
        if not env.agents:
            break
        actions = {}
        for agent in env.agents:
            policy, state = policies[agent], states[agent]
            before = copy.deepcopy(state)
            first = policy.step(observations[agent], state, np.random.default_rng(turn))
            second = policy.step(observations[agent], state, np.random.default_rng(turn))
            assert first[0] == second[0] and first[1] == second[1], f"{policy.name} is not pure"
            assert state == before, f"{policy.name} mutated the state it was given"
            actions[agent], states[agent] = first
            checked += 1
        observations, *_ = env.step(actions)
    assert checked > 100


def test_memory_is_immutable():
    memory = make_policy("offensive_realist", make_env()).initial_state()
    assert isinstance(memory, Memory)
    with pytest.raises(dataclasses.FrozenInstanceError):
        memory.turn = 5
    assert isinstance(memory.aggression, tuple) and isinstance(memory.demand_turns, tuple)


# --------------------------------------------------------------------------------------------------
# One copy of each policy: batched act, step, episodes played together
# --------------------------------------------------------------------------------------------------


def _stepped_one_by_one(env, population, seed: int) -> tuple[list[dict[str, int]], dict[str, float]]:
    """The actions of an episode played in the PettingZoo env nation by nation with ``Policy.step`` (each nation's
    generator as in ``agents.rollout``), and the episode's metrics recorded from the env."""
    policies = {a: make_policy(name, env) for a, name in zip(env.possible_agents, population, strict=True)}
    children = np.random.SeedSequence(seed).spawn(len(env.possible_agents))
    rngs = {a: np.random.default_rng(c) for a, c in zip(env.possible_agents, children, strict=True)}
    states = {a: policies[a].initial_state() for a in env.possible_agents}
    observations, _ = env.reset(seed=seed)
    recorder = realism_env.EpisodeRecorder(env.config)
    recorder.start(env.world)
    played = []
    while env.agents:
        actions = {}
        for agent in env.agents:
            actions[agent], states[agent] = policies[agent].step(observations[agent], states[agent], rngs[agent])
        played.append(actions)
        observations, *_ = env.step(actions)
        recorder.record(env.world, env.last_events)
    return played, recorder.metrics()


@pytest.mark.parametrize("scenario", ["multipolar", "bipolar", "europe_1914"])
def test_episodes_played_as_one_batch_of_worlds_play_as_the_env_nation_by_nation(scenario):
    """The harness plays 4 episodes as one batch of worlds, each policy deciding for its nations of all of them in one
    call (the two offensive realists of 4 episodes at once, with wars and eliminations): every episode makes the
    choices, and so the metrics, of the PettingZoo env played nation by nation with ``step``."""
    population = ["offensive_realist", "offensive_realist", "defensive_realist", "tit_for_tat", "random", "bandwagoner"]
    plan = make_plan(population, scenario, max_cycles=60)
    seeds = [3, 4, 5, 6]
    [group] = list(Episodes(plan).play(seeds))
    together: list[list[dict[str, int]]] = [[] for _ in seeds]
    for turn in group.turns():
        for k, i in zip(*np.nonzero(turn.live), strict=True):
            if not together[k] or turn.step.final_world.turn[k] != len(together[k]):
                together[k].append({})
            together[k][-1][f"nation_{i}"] = int(turn.actions[k, i])
    reference = realism_env.parallel_env(config=plan.config)
    for k, seed in enumerate(seeds):
        actions, metrics = _stepped_one_by_one(reference, population, seed)
        assert together[k] == actions, f"episode {seed}"
        assert group.n_turns[k] == len(actions)
        assert jsonable(realism_env.metrics.episode_metrics(group.log(k))) == jsonable(metrics)
    assert sum(map(len, together)) > 100  # in multipolar an episode ends early (unification), the others play on


@pytest.mark.parametrize("name", NAMES)
def test_act_leaves_the_memories_it_was_given_untouched(name):
    env = make_env()
    policy = make_policy(name, env)
    observations, _ = env.reset(seed=1)
    agents = list(env.agents)
    batch = np.stack([observations[a]["observation"] for a in agents])
    masks = np.stack([observations[a]["action_mask"] for a in agents])
    states = policy.initial_states(len(agents))
    _, states = policy.act(batch, masks, states, np.full(len(agents), 0.5))  # one turn remembered
    before = copy.deepcopy(states)
    first = policy.act(batch, masks, states, np.full(len(agents), 0.5))
    second = policy.act(batch, masks, states, np.full(len(agents), 0.5))
    np.testing.assert_array_equal(first[0], second[0])
    if states is not None:
        for field in dataclasses.fields(states):
            np.testing.assert_array_equal(getattr(states, field.name), getattr(before, field.name), err_msg=field.name)
    assert first[0].shape == (len(agents),) and all(masks[i, a] for i, a in enumerate(first[0]))


def test_nations_batch_the_nations_that_share_a_policy_and_step_the_others():
    env = make_env()

    class Waits(Policy):  # a policy that is not array code: stepped nation by nation
        name = "waits"

        def step(self, observation, state, rng):
            return encode_action(0, Act.WAIT, 0, 6), state + 1

    shared = make_policy("offensive_realist", env)
    own = Waits(env.layout, 6)
    nations = Nations({"nation_0": shared, "nation_1": own, "nation_2": shared, "nation_3": own}, env.possible_agents)
    placements = nations.players.placements
    assert [(policy.name, nation.tolist()) for policy, _, nation in placements] == [
        ("offensive_realist", [0, 2]),
        ("waits", [1, 3]),
    ]
    nations.players.memories[1] = [0, 0]
    observations, _ = env.reset(seed=0)
    rngs = {a: np.random.default_rng(0) for a in env.possible_agents}
    live = {a: observations[a] for a in ("nation_0", "nation_1", "nation_2", "nation_4")}  # nation_3 is out
    actions = nations.act(live, rngs)
    assert set(actions) == {"nation_0", "nation_1", "nation_2"}  # nation_4 is played by no one here
    assert actions["nation_1"] == encode_action(0, Act.WAIT, 0, 6)
    assert nations.players.memories[0].turn.tolist() == [1, 1] and nations.players.memories[1] == [1, 0]


class Broken(ArrayPolicy):
    """A policy of a user's that breaks the contract: its actions are ``choose(masks)`` ([B, A] masks)."""

    name = "broken"

    def __init__(self, layout, n_nations, n_arms_levels=5, choose=None, memory=None):
        super().__init__(layout, n_nations, n_arms_levels)
        self.choose, self.memory = choose, memory

    def act(self, observations, masks, states, draws):
        return self.choose(masks), states if self.memory is None else self.memory(states)


class Stepped(Policy):
    """A step-only policy of a user's whose action is ``choose(mask)`` ([A] mask)."""

    name = "stepped"

    def __init__(self, layout, n_nations, n_arms_levels=5, choose=None):
        super().__init__(layout, n_nations, n_arms_levels)
        self.choose = choose

    def step(self, observation, state, rng):
        return self.choose(observation["action_mask"]), state


#: actions that break the contract, for a batch of masks ([B, A]) or, stepped, one mask ([A]); what is refused
BROKEN_ACTIONS = [
    (lambda m: np.argmax(m == 0, axis=-1), r"chose action \d+ for nation_0 in world 0, which its action mask forbids; "
     r"valid: one of the \d+ actions the mask allows \(0, "),
    (lambda m: np.full(m.shape[:-1], m.shape[-1] + 7), "chose action 207 for nation_0 in world 0, outside the action "
     r"space; valid: integers in 0\.\.199"),
    (lambda m: np.full(m.shape[:-1], -1), "chose action -1 for nation_0 in world 0, outside the action space"),
]  # fmt: skip
#: actions of the wrong form from an array policy (masks of 2 live nations of 3)
BROKEN_FORMS = [
    (lambda m: np.zeros(len(m)) + 0.7, r"returned actions of dtype float64; valid: an integer dtype"),
    (lambda m: np.zeros(len(m), dtype=bool), r"returned actions of dtype bool; valid: an integer dtype"),
    (lambda m: np.zeros(1, dtype=np.int64), r"returned actions of shape \(1,\) for 2 nations; valid: shape \(2,\)"),
    (lambda m: np.zeros((len(m), 2), dtype=np.int64), r"returned actions of shape \(2, 2\) for 2 nations"),
    (lambda m: [0] * len(m), r"returned actions as builtins\.list; valid: an array like its observations, a "
     r"numpy\.ndarray"),
]  # fmt: skip
#: a step-only policy's actions that are no integer scalar
BROKEN_STEPS = [
    (lambda m: np.array([3]), r"returned action array\(\[3\]\) \(ndarray\) for nation_0 in world 0; valid: an "
     "integer scalar"),
    (lambda m: 0.7, r"returned action 0\.7 \(float\)"),
    (lambda m: True, r"returned action True \(bool\)"),
]  # fmt: skip


def _broken_players(policy_class, choose, **params):
    """Players of nations 0..2 of one world, nation_1 out, with the policy ``policy_class`` making ``choose``'s
    actions; and the arguments of a turn."""
    from agents.players import Players

    worlds = realism_env.SeededWorlds(realism_env.EnvConfig.from_scenario("multipolar"), [0])
    observations, masks = worlds.reset()
    policy = policy_class(worlds.layout, 6, choose=choose, **params)
    players = Players([(policy, np.zeros(3, dtype=np.int64), np.arange(3))])
    live = np.ones((1, 6), dtype=bool)
    live[0, 1] = False
    return players, (np.zeros((1, 6), dtype=np.int64), observations, masks, live, lambda w, i: np.random.default_rng(0))


@pytest.mark.parametrize(("choose", "message"), BROKEN_ACTIONS + BROKEN_FORMS)
def test_an_array_policys_actions_outside_its_mask_or_of_another_form_are_refused_naming_it(choose, message):
    """The contract, checked where the policies play (the harness, the trainers' backgrounds and teachers): an action
    the mask forbids was played as WAIT in silence, a float truncated, one action broadcast to every nation."""
    players, turn = _broken_players(Broken, choose)
    with pytest.raises(ValueError, match=f"^policy 'broken' {message}"):
        players.act(*turn)


@pytest.mark.parametrize(("choose", "message"), BROKEN_ACTIONS + BROKEN_STEPS)
def test_a_step_policys_action_outside_its_mask_or_no_integer_is_refused_naming_it(choose, message):
    players, turn = _broken_players(Stepped, choose)
    with pytest.raises(ValueError, match=f"^policy 'stepped' {message}"):
        players.act(*turn)


@dataclasses.dataclass(frozen=True)
class Turns:
    turn: np.ndarray  #: [B] turns seen


def _waits(masks):
    """Flat action 0 (WAIT at arms level 0, target slot 0) for every row of ``masks``, in their namespace."""
    xp = realism_env.array_namespace(masks)
    return xp.zeros(masks.shape[0], dtype=xp.int64, device=realism_env.device_of(masks))


class Counter(Broken):
    """WAITs and counts the turns; ``initial``: its initial memories of ``n`` nations."""

    name = "counter"

    def __init__(self, layout, n_nations, n_arms_levels=5, choose=None, memory=None, initial=None):
        super().__init__(layout, n_nations, n_arms_levels, choose=_waits, memory=memory)
        self.initial = initial

    def initial_states(self, n, like=None):
        return self.initial(n)


def test_an_array_policys_memories_that_players_cannot_hold_are_refused_naming_it():
    """take_rows and put_rows take the rows of a dataclass's fields: a plain array failed deep in them, one row for
    every nation was broadcast in silence."""
    plain = {"initial": lambda n: np.zeros(n, dtype=np.int64)}
    with pytest.raises(ValueError, match=r"^the initial_states of policy 'counter' returned memories of type ndarray; "
                       r"valid: None, or a dataclass of \[3, \.\.\.\] arrays"):  # fmt: skip
        _broken_players(Counter, None, **plain)
    one_row = {"initial": lambda n: Turns(np.zeros(n, dtype=np.int64)), "memory": lambda s: Turns(np.zeros(1))}
    players, turn = _broken_players(Counter, None, **one_row)
    with pytest.raises(ValueError, match=r"^the act of policy 'counter' returned memory 'turn' of shape \(1,\); "
                       r"valid: \(2, \.\.\.\), a row a nation"):  # fmt: skip
        players.act(*turn)
    fine = {"initial": lambda n: Turns(np.zeros(n, dtype=np.int64)), "memory": lambda s: Turns(s.turn + 1)}
    players, turn = _broken_players(Counter, None, **fine)
    players.act(*turn)
    assert players.memories[0].turn.tolist() == [1, 0, 1]  # nation_1 was out


def test_the_harness_refuses_a_policy_that_plays_an_action_its_mask_forbids():
    """Played as WAIT by the env, it would count in the policy's metrics as a choice of WAIT."""
    from agents import register_policy
    from agents.evaluate import evaluate

    register_policy(type("MaskedOut", (Broken,), {"name": "masked_out", "__init__": _masked_out_init}))
    with pytest.raises(ValueError, match="policy 'masked_out' chose action .* which its action mask forbids"):
        evaluate("masked_out:1,defensive_realist:5", episodes=1, max_cycles=3)


def _masked_out_init(self, layout, n_nations, n_arms_levels=5):
    Broken.__init__(self, layout, n_nations, n_arms_levels, choose=lambda m: np.argmax(m == 0, axis=-1))


def test_the_harness_gives_the_same_rows_whatever_the_episodes_played_together():
    plan = make_plan("offensive_realist:2,tit_for_tat:1,random:1,defensive_realist:2", max_cycles=40)
    seeds = matched_seeds(7, 5)
    assert jsonable(Episodes(plan, together=2).run_many(seeds)) == jsonable(Episodes(plan, together=1).run_many(seeds))
    with pytest.raises(ValueError, match="together=0 is invalid; valid: an integer >= 1"):
        Episodes(plan, together=0)


# --------------------------------------------------------------------------------------------------
# Behaviour: defensive realism
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", ["multipolar", "bipolar", "islands"])
def test_defensive_realist_never_attacks_unprovoked_nor_threatens(scenario):
    env = realism_env.parallel_env(scenario=scenario, max_cycles=60)
    population = ["defensive_realist", "offensive_realist", "random"] * 2
    layout = env.layout
    fights = 0
    for seed in (0, 1, 2, 3):  # enough worlds that every scenario has wars (v1 trajectories: none in islands 0, 1)
        policies = build_policies(env, population)
        for step in rollout(env, policies, seed=seed):
            for agent, action in step.actions.items():
                if policies[agent].name != "defensive_realist":
                    continue
                decoded = decode_action(action, 6)
                assert decoded.act != Act.THREATEN
                if decoded.act == Act.ATTACK:
                    at_war = layout.other(step.observations[agent]["observation"], "at_war")
                    assert at_war[decoded.target_slot] == 1, "defensive realist attacked unprovoked"
                    fights += 1
    assert fights > 0  # the runs did put it at war, so the check is not vacuous


def test_defensive_realist_concedes_only_to_overwhelming_force():
    env = make_env()
    demander = {"land_border": 1, "demand_received": 1, "acted_on_observer": 1, "last_act_threaten": 1}
    strong = craft(env, own={"military": 0.05}, others={2: {**demander, "military": 0.5}})
    assert act_of("defensive_realist", strong, env)[1:] == (Act.CONCEDE, 2)
    equal = craft(env, others={2: demander})
    assert act_of("defensive_realist", equal, env).act != Act.CONCEDE
    # Once it holds less than its starting territory it concedes no more (no appeasement spiral).
    policy = make_policy("defensive_realist", env)
    rng = np.random.default_rng(0)
    _, state = policy.step(craft(env, own={"provinces": 0.2}), policy.initial_state(), rng)
    smaller = craft(env, own={"military": 0.05, "provinces": 0.15}, others={2: {**demander, "military": 0.5}})
    action, _ = policy.step(smaller, state, rng)
    assert decode_action(action, 6).act != Act.CONCEDE


def test_defensive_realist_balances_against_the_threat():
    env = make_env()
    threat = {"land_border": 1, "military": 0.4, "proposal_received": 1}
    observation = craft(env, others={0: threat, 3: {"proposal_received": 1}})
    decoded = act_of("defensive_realist", observation, env)
    assert decoded.act == Act.ALLY and decoded.target_slot == 3  # accepts the partner, never the threat
    assert decoded.arms_level == 3  # and arms up: insecure
    # Insecure with no proposal standing: it proposes to the strongest non-threatening nation.
    observation = craft(env, others={0: {"land_border": 1, "military": 0.4}, 4: {"military": 0.3}})
    assert act_of("defensive_realist", observation, env)[1:] == (Act.ALLY, 4)


def test_defensive_realist_arms_to_sufficiency_and_no_further():
    env = make_env()
    secure = craft(env, own={"arms_level": 0.75}, others={0: {"land_border": 1, "military": 0.05}})
    decoded = act_of("defensive_realist", secure, env)
    assert decoded.act == Act.WAIT and decoded.arms_level == 2  # comfortably sufficient: lowers arms
    insecure = craft(env, own={"arms_level": 0.5}, others={0: {"land_border": 1, "military": 0.3}})
    assert act_of("defensive_realist", insecure, env).arms_level == 3


def test_defensive_realist_fights_back_then_makes_peace():
    env = make_env()
    attacker = {"land_border": 1, "at_war": 1, "acted_on_observer": 1, "last_act_attack": 1}
    weak_attacker = craft(env, own={"military": 0.3}, others={1: {**attacker, "military": 0.1}})
    decoded = act_of("defensive_realist", weak_attacker, env)
    assert decoded[1:] == (Act.ATTACK, 1) and decoded.arms_level == 4
    strong_attacker = craft(env, own={"military": 0.1}, others={1: {**attacker, "military": 0.4}})
    assert act_of("defensive_realist", strong_attacker, env)[1:] == (Act.PEACE, 1)
    offering = craft(env, own={"military": 0.3}, others={1: {**attacker, "military": 0.1, "peace_offer_received": 1}})
    assert act_of("defensive_realist", offering, env)[1:] == (Act.PEACE, 1)


# --------------------------------------------------------------------------------------------------
# Behaviour: offensive realism
# --------------------------------------------------------------------------------------------------


def test_offensive_realist_attacks_a_much_weaker_neighbour():
    env = make_env()
    observation = craft(env, own={"military": 0.4}, others={2: {"land_border": 1, "military": 0.04}})
    decoded = act_of("offensive_realist", observation, env)
    assert decoded[1:] == (Act.ATTACK, 2) and decoded.arms_level == 4
    # Not a nation it does not border, and not an equal neighbour.
    far = craft(env, own={"military": 0.4}, others={2: {"military": 0.04}})
    assert act_of("offensive_realist", far, env).act != Act.ATTACK
    equal = craft(env, others={2: {"land_border": 1}})
    assert act_of("offensive_realist", equal, env).act not in (Act.ATTACK, Act.THREATEN)


def test_offensive_realist_waits_for_better_odds_when_defence_dominates():
    env = make_env()
    observation = craft(env, own={"military": 0.3}, others={2: {"land_border": 1, "military": 0.08}})
    assert act_of("offensive_realist", observation, env, offense_defense_balance=2.0).act == Act.ATTACK
    assert act_of("offensive_realist", observation, env, offense_defense_balance=4.0).act != Act.ATTACK


def test_offensive_realist_counts_split_forces():
    env = make_env()
    # Strong enough against one target at peace, not while also fighting an equal enemy.
    target = {"land_border": 1, "military": 0.1}
    peace = craft(env, own={"military": 0.4}, others={2: target})
    assert act_of("offensive_realist", peace, env)[1:] == (Act.ATTACK, 2)
    enemy = {"land_border": 1, "at_war": 1, "military": 0.25, "last_act_attack": 1, "acted_on_observer": 1}
    fighting = craft(env, own={"military": 0.4}, others={2: target, 0: enemy})
    assert act_of("offensive_realist", fighting, env)[1:] == (Act.ATTACK, 0)  # fights on, no second front
    # A prey weak enough to pay with half the forces, while the running war still holds: a second front.
    easy = craft(env, own={"military": 0.4}, others={2: {**target, "military": 0.02}, 0: {**enemy, "military": 0.1}})
    assert act_of("offensive_realist", easy, env)[1:] == (Act.ATTACK, 2)
    # The same prey, but the running war would be lost with forces split: it fights on instead.
    hard = craft(env, own={"military": 0.4}, others={2: {**target, "military": 0.02}, 0: enemy})
    assert act_of("offensive_realist", hard, env)[1:] == (Act.ATTACK, 0)


def test_offensive_realist_blackmails_and_carries_out_the_threat():
    env = make_env()
    observation = craft(env, own={"military": 0.3}, others={1: {"land_border": 1, "military": 0.15}})
    assert act_of("offensive_realist", observation, env)[1:] == (Act.THREATEN, 1)
    # An equal neighbour ignored its standing demand for a full turn: the threat is carried out.
    refused = craft(env, others={1: {"land_border": 1, "demand_made": 1}})
    assert act_of("offensive_realist", refused, env, steps=1).act != Act.ATTACK
    assert act_of("offensive_realist", refused, env, steps=2)[1:] == (Act.ATTACK, 1)


def test_offensive_realist_offers_peace_when_losing():
    env = make_env()
    enemy = {"land_border": 1, "at_war": 1, "military": 0.5, "last_act_attack": 1, "acted_on_observer": 1}
    observation = craft(env, own={"military": 0.1}, others={0: enemy})
    assert act_of("offensive_realist", observation, env)[1:] == (Act.PEACE, 0)


def test_offensive_realist_passes_the_buck():
    env = make_env()
    menace = {"land_border": 1, "military": 0.4, "last_act_threaten": 1}
    alone = craft(env, others={0: menace})
    decoded = act_of("offensive_realist", alone, env)
    assert decoded.act == Act.ALLY and decoded.target_slot != 0 and decoded.arms_level == 4
    balancer = {"last_act_ally": 1}
    with_catcher = craft(env, others={0: menace, 3: balancer})
    decoded = act_of("offensive_realist", with_catcher, env)
    assert decoded.act != Act.ALLY and decoded.arms_level == 2


def test_offensive_realist_bleeds_rivals_at_war():
    env = make_env()
    attacker = {"military": 0.12, "last_act_attack": 1}
    losing = {"military": 0.10, "last_act_peace": 1}
    bloodletting = craft(env, own={"military": 0.2}, others={2: attacker, 3: losing})
    assert act_of("offensive_realist", bloodletting, env)[1:] == (Act.SUPPORT, 3)
    bait = craft(env, own={"military": 0.2}, others={2: attacker, 3: {**attacker, "military": 0.1}})
    assert act_of("offensive_realist", bait, env)[1:] == (Act.SUPPORT, 3)
    one_war = craft(env, own={"military": 0.2}, others={2: attacker})
    assert act_of("offensive_realist", one_war, env).act != Act.SUPPORT


def test_offensive_realist_presses_toward_hegemony_in_a_bipolar_world():
    env = realism_env.parallel_env(scenario="bipolar", max_cycles=60)
    population = ["offensive_realist", "status_quo", "status_quo", "status_quo", "status_quo", "status_quo"]
    steps = list(rollout(env, build_policies(env, population), seed=0))
    acts = [decode_action(s.actions["nation_0"], 6) for s in steps if "nation_0" in s.actions]
    assert any(a.act == Act.ATTACK for a in acts)
    assert all(a.arms_level >= 2 for a in acts)
    assert "nation_0" in steps[-1].actions  # it survived to the end


# --------------------------------------------------------------------------------------------------
# Behaviour: the simple baselines
# --------------------------------------------------------------------------------------------------


def test_tit_for_tat_mirrors_each_nation():
    env = make_env()
    attacker = {"land_border": 1, "at_war": 1, "acted_on_observer": 1, "last_act_attack": 1}
    assert act_of("tit_for_tat", craft(env, others={2: attacker}), env)[1:] == (Act.ATTACK, 2)
    peacemaker = {**attacker, "last_act_attack": 0, "last_act_peace": 1, "peace_offer_received": 1}
    assert act_of("tit_for_tat", craft(env, others={2: peacemaker}), env)[1:] == (Act.PEACE, 2)
    proposer = {"acted_on_observer": 1, "last_act_ally": 1, "proposal_received": 1}
    assert act_of("tit_for_tat", craft(env, others={4: proposer}), env)[1:] == (Act.ALLY, 4)
    supporter = {"acted_on_observer": 1, "last_act_support": 1}
    assert act_of("tit_for_tat", craft(env, others={1: supporter}), env)[1:] == (Act.SUPPORT, 1)
    elsewhere = {"land_border": 1, "last_act_attack": 1}  # attacked someone else: none of its business
    assert act_of("tit_for_tat", craft(env, others={2: elsewhere}), env).act == Act.WAIT


def test_bandwagoner_allies_with_the_strongest():
    env = make_env()
    observation = craft(env, others={1: {"military": 0.3}, 3: {"military": 0.5}})
    assert act_of("bandwagoner", observation, env)[1:] == (Act.ALLY, 3)
    demand = craft(env, others={3: {"military": 0.5, "land_border": 1, "demand_received": 1}})
    assert act_of("bandwagoner", demand, env)[1:] == (Act.CONCEDE, 3)


def test_status_quo_always_waits_at_its_level():
    env = make_env()
    observation = craft(env, others={0: {"land_border": 1, "at_war": 1, "last_act_attack": 1}})
    assert act_of("status_quo", observation, env) == (2, Act.WAIT, 0)
    assert act_of("status_quo", observation, env, arms_level=4) == (4, Act.WAIT, 0)
    with pytest.raises(ValueError, match="arms_level"):
        make_policy("status_quo", env, arms_level=7)


def test_random_is_uniform_over_valid_actions():
    env = make_env()
    observation = craft(env, others={0: {"land_border": 1}, 1: {"allied": 1}})
    policy = make_policy("random", env)
    rng = np.random.default_rng(0)
    draws = [policy.step(observation, policy.initial_state(), rng)[0] for _ in range(4000)]
    valid = set(np.flatnonzero(observation["action_mask"]).tolist())
    counts = np.bincount(draws, minlength=len(observation["action_mask"]))
    assert set(draws) == valid
    expected = len(draws) / len(valid)
    assert counts[list(valid)].min() > 0.5 * expected and counts[list(valid)].max() < 1.5 * expected


# --------------------------------------------------------------------------------------------------
# Theory check: a world of defensive realists stays at peace
# --------------------------------------------------------------------------------------------------


def test_defensive_realists_alone_keep_the_peace():
    env = realism_env.parallel_env(scenario="multipolar", max_cycles=100)
    onsets = eliminations = alliances = 0
    for _ in rollout(env, build_policies(env, "defensive_realist"), seed=0):
        events = env.last_events
        onsets += int(events.war_declared.sum())
        eliminations += int(events.eliminated.sum())
        alliances += int(events.alliance_formed.sum())
    assert eliminations == 0
    assert onsets <= 1
    assert alliances > 0  # they balance by alliance


def _played(players, batch, turns: int = 3):
    """``players`` after ``turns`` turns of every nation of ``batch`` (numpy worlds) under them."""
    observations, masks = batch.reset()
    rng = np.random.default_rng(0)
    for _ in range(turns):
        actions = players.act(
            np.zeros(masks.shape[:2], dtype=np.int64), observations, masks, batch.world.alive, lambda w, i: rng
        )
        out = batch.step(actions)
        observations, masks = out.observations, out.action_mask
    return players


def test_players_memories_go_into_a_checkpoint_and_back_and_only_into_players_placed_alike():
    from agents.players import Players
    from realism_env.batch import WorldBatch

    batch = WorldBatch(realism_env.EnvConfig(), 3, seed=0)
    names = ["tit_for_tat", "defensive_realist", "offensive_realist", "status_quo", "bandwagoner", "random"]
    policies = [make_policy(name, batch) for name in names]
    played = _played(Players.population(policies, 3), batch)
    state = played.memory_state()
    assert state is not None and state[3] is None  # status_quo remembers nothing
    fresh = Players.population(policies, 3)
    fresh.load_memory_state(state)
    for saved, loaded in zip(played.memories, fresh.memories, strict=True):
        for name, array in ({} if saved is None else dataclasses.asdict(saved)).items():
            np.testing.assert_array_equal(getattr(loaded, name), array)
    assert fresh.memories[1].turn.tolist() == [3, 3, 3]
    with pytest.raises(
        ValueError, match=r"policy 1's saved memory 'turn' is int64 of shape \(3,\); valid: int64 of shape \(2,\)"
    ):
        Players.population(policies, 2).load_memory_state(state)
    with pytest.raises(ValueError, match="the state holds 6 policies' memories; valid: 1"):
        Players.population([policies[0]] * 6, 3).load_memory_state(state)

    class StepByStep(Policy):  # memories as Python objects: a checkpoint cannot hold them
        def step(self, observation, state, rng):
            return 0, state

    assert Players.population([StepByStep(batch.layout, 6), *policies[1:]], 3).memory_state() is None
