"""The training adapters: the shared-policy VecEnv (against the WorldBatch it wraps, elimination, truncation, masks,
the doctrine indicator, PPO and MaskablePPO) and the single-learner gymnasium env (both env checkers, seeding,
the learner's elimination). Small configs, fixed seeds, every loop capped."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gymnasium_check_env
from sb3_contrib import MaskablePPO
from sb3_contrib.common.maskable.evaluation import evaluate_policy as maskable_evaluate_policy
from sb3_contrib.common.maskable.utils import get_action_masks, is_masking_supported
from stable_baselines3 import PPO
from stable_baselines3.common.env_checker import check_env as sb3_check_env
from stable_baselines3.common.monitor import Monitor

import realism_env
from agents import build_policies, rollout
from agents.single_learner import SingleLearnerEnv
from realism_env import DOCTRINES, EnvConfig
from realism_env.batch import WorldBatch
from realism_env.registration import SINGLE_LEARNER_ID
from train import RealismVecEnv

#: 4 nations of 2 provinces: random play eliminates nations within a few turns, seldom unifies a world
SMALL = {"n_nations": 4, "provinces_per_nation": 2, "max_cycles": 20}
MIXED = ("security", "power", "power", "security")
MAX_STEPS = 200


def small_config(**overrides) -> EnvConfig:
    return EnvConfig.from_scenario("multipolar", **{**SMALL, **overrides})


def random_actions(masks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One uniformly drawn valid action per row of ``masks``."""
    scores = np.where(masks, rng.random(masks.shape), -1.0)
    return scores.argmax(axis=1)


# --------------------------------------------------------------------------------------------------
# RealismVecEnv
# --------------------------------------------------------------------------------------------------


def test_vec_env_spaces_and_shapes() -> None:
    config = small_config()
    venv = RealismVecEnv(config, n_worlds=3, seed=0)
    obs = venv.reset()
    n_slots = 3 * config.n_nations
    assert venv.num_envs == n_slots
    assert obs.shape == (n_slots, venv.batch.observation_size) and obs.dtype == np.float32
    assert isinstance(venv.action_space, gymnasium.spaces.Discrete)
    assert venv.action_space.n == 5 * 8 * (config.n_nations - 1)
    assert all(venv.observation_space.contains(o) for o in obs)
    obs, rewards, dones, infos = venv.step(random_actions(venv.action_masks(), np.random.default_rng(0)))
    assert obs.shape == (n_slots, venv.observation_space.shape[0]) and obs.dtype == np.float32
    assert rewards.shape == (n_slots,) and rewards.dtype == np.float32
    assert dones.shape == (n_slots,) and dones.dtype == bool
    assert len(infos) == n_slots and all(isinstance(i, dict) for i in infos)
    assert venv.get_attr("nation") == [k % config.n_nations for k in range(n_slots)]
    assert venv.get_attr("world") == [k // config.n_nations for k in range(n_slots)]
    venv.close()


def play(venv: RealismVecEnv, steps: int, seed: int) -> list[tuple]:
    rng = np.random.default_rng(seed)
    out = [venv.reset()]
    for _ in range(steps):
        obs, rewards, dones, _ = venv.step(random_actions(venv.action_masks(), rng))
        out.append((obs, rewards, dones))
    return out


def test_vec_env_is_deterministic_with_a_seed() -> None:
    config = small_config()
    first = play(RealismVecEnv(config, 2, seed=7), 25, seed=1)
    second = play(RealismVecEnv(config, 2, seed=7), 25, seed=1)
    reseeded = RealismVecEnv(config, 2, seed=123)
    reseeded.seed(7)  # SB3's convention: the seed applies at the next reset
    third = play(reseeded, 25, seed=1)
    for a, b, c in zip(first, second, third, strict=True):
        for x, y, z in zip(a, b, c, strict=True):
            np.testing.assert_array_equal(x, y)
            np.testing.assert_array_equal(x, z)
    other = play(RealismVecEnv(config, 2, seed=8), 1, seed=1)
    assert not np.array_equal(first[0], other[0])


def test_vec_env_matches_the_world_batch_and_its_masks() -> None:
    config = small_config()
    venv = RealismVecEnv(config, 3, seed=3)
    batch = WorldBatch(config, 3, seed=3)
    obs = venv.reset()
    batch_obs, batch_mask = batch.reset()
    rng = np.random.default_rng(0)
    n_slots = venv.num_envs
    for _ in range(30):
        masks = venv.action_masks()
        assert masks.shape == (n_slots, venv.action_space.n) and masks.dtype == bool
        np.testing.assert_array_equal(np.stack(venv.env_method("action_masks")), masks)
        np.testing.assert_array_equal(get_action_masks(venv), masks)
        alive = batch.world.alive.reshape(n_slots)
        np.testing.assert_array_equal(masks[alive], batch_mask.reshape(n_slots, -1)[alive].astype(bool))
        np.testing.assert_array_equal(obs[alive], batch_obs.reshape(n_slots, -1)[alive])
        assert not obs[~alive].any()
        assert (masks[~alive].sum(axis=1) == 1).all() and masks[~alive, 0].all()
        actions = random_actions(masks, rng)
        obs, rewards, _, _ = venv.step(actions)
        step = batch.step(actions.reshape(3, -1))
        batch_obs, batch_mask = step.observations, step.action_mask
        np.testing.assert_allclose(rewards, step.rewards.reshape(n_slots), rtol=1e-6)
    assert is_masking_supported(venv)


def test_vec_env_masked_out_actions_are_no_ops() -> None:
    """An action the mask forbids is played as WAIT at its arms level, as in the env: the same worlds, observations
    and rewards as a twin fed that WAIT, and the action flagged."""
    config = small_config()
    n = config.n_nations
    played, twin = RealismVecEnv(config, 2, seed=0), RealismVecEnv(config, 2, seed=0)
    played.reset()
    twin.reset()
    forbidden, waits = [], []
    for (
        mask
    ) in played.action_masks():  # per slot, a forbidden act that is not WAIT (attack out of reach, peace at peace)
        action = next(
            int(a) for a in np.flatnonzero(~mask) if realism_env.decode_action(a, n).act != realism_env.Act.WAIT
        )
        forbidden.append(action)
        waits.append(
            realism_env.encode_action(realism_env.decode_action(action, n).arms_level, realism_env.Act.WAIT, 0, n)
        )
    observations, rewards, _, _ = played.step(np.array(forbidden))
    twin_observations, twin_rewards, _, _ = twin.step(np.array(waits))
    assert played.last_step.events.invalid_action.all() and not twin.last_step.events.invalid_action.any()
    np.testing.assert_array_equal(observations, twin_observations)
    np.testing.assert_array_equal(rewards, twin_rewards)
    for name in ("owner", "military", "at_war", "allied", "demand", "arms_level"):
        np.testing.assert_array_equal(getattr(played.batch.world, name), getattr(twin.batch.world, name), err_msg=name)


def test_vec_env_elimination_then_inactive_until_world_reset() -> None:
    config = small_config()
    venv = RealismVecEnv(config, 4, seed=0)
    venv.reset()
    rng = np.random.default_rng(0)
    n = config.n_nations
    phase = np.zeros(venv.num_envs, dtype=int)  # 0 live, 1 inactive (after elimination)
    eliminations = reentries = 0
    for _ in range(3 * config.max_cycles):
        masks_before = venv.action_masks()
        obs, rewards, dones, infos = venv.step(random_actions(masks_before, rng))
        masks = venv.action_masks()
        world_reset = np.repeat(venv.last_step.world_reset, n)
        for k in range(venv.num_envs):
            info = infos[k]
            if phase[k] == 0:
                assert not info.get("inactive", False)
                assert "reward_terms" in info
                if dones[k]:
                    assert "episode" in info and info["episode"]["l"] >= 1
                    assert venv.observation_space.contains(info["terminal_observation"])
                    eliminated = not world_reset[k]
                    if eliminated:  # the nation died; its world goes on
                        assert not info["TimeLimit.truncated"]
                        assert info["reward_terms"]["elimination"] == -10.0
                        assert not obs[k].any() and masks[k].sum() == 1 and masks[k, 0]
                        phase[k] = 1
                        eliminations += 1
            else:
                assert info["inactive"] and rewards[k] == 0.0
                assert "episode" not in info and "reward_terms" not in info
                assert (masks_before[k].sum(), masks_before[k, 0]) == (1, True)
                if world_reset[k]:  # the inactive stretch closes; the slot plays the new world
                    assert dones[k] and not info["terminal_observation"].any()
                    assert not info["TimeLimit.truncated"]
                    assert obs[k].any() and masks[k].sum() > 1
                    phase[k] = 0
                    reentries += 1
                else:
                    assert not dones[k] and not obs[k].any() and masks[k].sum() == 1
    assert eliminations >= 3 and reentries >= 3


def test_vec_env_world_truncation_ends_every_live_slot() -> None:
    config = small_config(max_cycles=12)
    venv = RealismVecEnv(config, 4, seed=1)
    venv.reset()
    rng = np.random.default_rng(1)
    for turn in range(1, config.max_cycles + 1):
        obs, _, dones, infos = venv.step(random_actions(venv.action_masks(), rng))
        ended_early = venv.last_step.world_reset & ~venv.last_step.truncated.any(axis=1)
        assert not ended_early.any(), "a world unified: pick another seed for this test"
        if turn < config.max_cycles:
            assert not venv.last_step.world_reset.any()
    assert venv.last_step.world_reset.all() and dones.all()
    live = venv.last_step.acting.reshape(-1)
    assert venv.last_step.truncated.sum() > live.sum() // 2
    assert (~live).any(), "no nation was eliminated: pick another seed for this test"
    for k in range(venv.num_envs):
        info = infos[k]
        if live[k]:
            assert info["episode"]["l"] == config.max_cycles
            # truncated, unless eliminated on the very last turn (then terminated)
            assert info["TimeLimit.truncated"] == bool(venv.last_step.truncated.reshape(-1)[k])
            assert info["TimeLimit.truncated"] or info["reward_terms"]["elimination"] == -10.0
            assert set(info["episode"]) == {"r", "l", "t"}
            assert set(info["episode_reward_terms"]) == set(info["reward_terms"])
        else:
            assert info["inactive"] and "episode" not in info and not info["TimeLimit.truncated"]
        assert "terminal_observation" in info
    assert all(o.any() for o in obs)  # every slot starts a fresh world


def test_vec_env_episode_return_is_the_sum_of_rewards() -> None:
    config = small_config(max_cycles=10)
    venv = RealismVecEnv(config, 2, seed=2)
    venv.reset()
    rng = np.random.default_rng(2)
    running = np.zeros(venv.num_envs)
    checked = 0
    for _ in range(25):
        _, rewards, dones, infos = venv.step(random_actions(venv.action_masks(), rng))
        running += rewards
        for k in np.flatnonzero(dones):
            if "episode" in infos[k]:
                assert infos[k]["episode"]["r"] == pytest.approx(running[k], abs=1e-4)
                checked += 1
            running[k] = 0.0
    assert checked >= venv.num_envs


def test_vec_env_doctrine_indicator_for_a_mixed_population() -> None:
    config = small_config(doctrines=MIXED)
    names = sorted(DOCTRINES)
    plain = RealismVecEnv(config, 2, seed=4)
    venv = RealismVecEnv(config, 2, seed=4, doctrine_indicator=True)
    size = plain.observation_space.shape[0]
    assert venv.observation_space.shape == (size + len(names),)
    expected = np.array([[d == name for name in names] for d in MIXED * 2], dtype=np.float32)
    obs, plain_obs = venv.reset(), plain.reset()
    np.testing.assert_array_equal(obs[:, size:], expected)
    np.testing.assert_array_equal(obs[:, :size], plain_obs)
    assert venv.get_attr("doctrine") == list(MIXED * 2)
    rng = np.random.default_rng(4)
    for _ in range(2 * config.max_cycles):  # through a world reset
        obs, _, dones, infos = venv.step(random_actions(venv.action_masks(), rng))
        live = venv.batch.world.alive.reshape(-1)
        np.testing.assert_array_equal(obs[live, size:], expected[live])
        for k in np.flatnonzero(dones):
            if "episode" in infos[k]:
                np.testing.assert_array_equal(infos[k]["terminal_observation"][size:], expected[k])
                terms = {"power": {"relative_power", "hegemony", "elimination"}}.get(MIXED[k % 4])
                assert terms is None or set(infos[k]["episode_reward_terms"]) == terms


def test_vec_env_attributes_methods_render_and_close() -> None:
    venv = RealismVecEnv(small_config(), 2, seed=0, render_mode="ansi")
    venv.reset()
    assert venv.has_attr("action_masks") and not venv.has_attr("no_such_attribute")
    assert venv.get_attr("config", indices=[0, 3]) == [venv.config] * 2
    assert venv.env_is_wrapped(Monitor) == [True] * venv.num_envs
    assert venv.env_is_wrapped(gymnasium.Wrapper, indices=1) == [False]
    venv.set_attr("tag", 5)
    assert venv.get_attr("tag", indices=2) == [5]
    with pytest.raises(ValueError, match="valid"):
        venv.set_attr("tag", 6, indices=[0])
    assert len(venv.env_method("action_masks", indices=[1, 2])) == 2
    assert "turn" in venv.render()
    image = venv.render("rgb_array")
    assert image.ndim == 3 and image.shape[2] == 3
    with pytest.raises(ValueError, match="valid"):
        RealismVecEnv(small_config(), 1, render_mode="human")
    venv.close()
    assert venv.closed


def test_ppo_learns_on_the_vec_env() -> None:
    venv = RealismVecEnv(small_config(max_cycles=10), 4, seed=0)
    model = PPO("MlpPolicy", venv, n_steps=16, batch_size=64, n_epochs=2, seed=0, device="cpu")
    model.learn(total_timesteps=2 * 16 * venv.num_envs)
    assert model.num_timesteps == 2 * 16 * venv.num_envs
    assert len(model.ep_info_buffer) > 0  # episode infos reach SB3's logger (ep_rew_mean)


def test_maskable_ppo_learns_on_the_vec_env_and_respects_masks() -> None:
    venv = RealismVecEnv(small_config(max_cycles=10, doctrines=MIXED), 4, seed=0, doctrine_indicator=True)
    model = MaskablePPO("MlpPolicy", venv, n_steps=16, batch_size=64, n_epochs=2, seed=0, device="cpu")
    model.learn(total_timesteps=2 * 16 * venv.num_envs)
    assert len(model.ep_info_buffer) > 0
    obs = venv.reset()
    rng = np.random.default_rng(0)
    for _ in range(15):
        masks = venv.action_masks()
        actions, _ = model.predict(obs, action_masks=masks)
        assert masks[np.arange(venv.num_envs), actions].all()
        obs, _, _, _ = venv.step(np.where(rng.random(venv.num_envs) < 0.5, actions, random_actions(masks, rng)))
    rewards, lengths = maskable_evaluate_policy(model, venv, n_eval_episodes=venv.num_envs, return_episode_rewards=True)
    assert len(rewards) == venv.num_envs and all(1 <= n <= 10 for n in lengths)


# --------------------------------------------------------------------------------------------------
# SingleLearnerEnv
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"learner": None, "doctrines": MIXED, "doctrine_indicator": True, "background": "random"},
        {"learner": 2, "background": ("tit_for_tat", "status_quo", None, "defensive_realist")},
    ],
    ids=["default", "random-learner", "per-nation"],
)
def test_single_learner_passes_both_env_checkers(kwargs) -> None:
    env = SingleLearnerEnv(**{**SMALL, "max_cycles": 15, **kwargs})
    sb3_check_env(env, warn=True)
    gymnasium_check_env(env, skip_render_check=True)


def test_single_learner_is_registered_and_renders() -> None:
    env = gymnasium.make(SINGLE_LEARNER_ID, render_mode="ansi", **SMALL)
    gymnasium_check_env(env.unwrapped)  # with a spec and a render mode: the render checks run too
    _, info = env.reset(seed=0)
    assert info == {"action_valid": True, "learner": 0}  # numbers only, as gymnasium's vector envs stack them
    assert env.get_wrapper_attr("action_masks")().dtype == bool
    assert "turn" in env.render()
    env.close()


def test_single_learner_runs_in_gymnasium_s_vector_env_with_stacked_infos() -> None:
    envs = gymnasium.make_vec(SINGLE_LEARNER_ID, num_envs=2, vectorization_mode="sync", **SMALL)
    obs, infos = envs.reset(seed=0)
    assert obs.shape == (2, envs.single_observation_space.shape[0])
    _, rewards, _, _, infos = envs.step(np.zeros(2, dtype=np.int64))  # arms level 0, WAIT: always valid
    assert rewards.shape == (2,) and infos["action_valid"].tolist() == [True, True]
    assert infos["learner"].tolist() == [0, 0]
    envs.close()


def test_single_learner_takes_a_config_and_a_numpy_learner_index() -> None:
    """A custom EnvConfig (directly and through gymnasium.make) was refused: the default scenario went with it."""
    config = EnvConfig.from_scenario("bipolar", max_cycles=7)
    for env in (SingleLearnerEnv(config), gymnasium.make(SINGLE_LEARNER_ID, config=config).unwrapped):
        assert env.config == config
    env = SingleLearnerEnv(learner=np.int64(2), **SMALL)
    _, info = env.reset(seed=0)
    assert info["learner"] == 2 and type(env.learner) is int
    with pytest.raises(ValueError, match="ambiguous"):  # a config and a scenario: which world?
        SingleLearnerEnv(config, scenario="multipolar")


def test_single_learner_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="valid"):
        SingleLearnerEnv(learner=9, **SMALL)
    with pytest.raises(ValueError, match="valid"):
        SingleLearnerEnv(background="no_such_policy", **SMALL)
    with pytest.raises(ValueError, match="valid"):
        SingleLearnerEnv(background=("random",) * 3, **SMALL)
    with pytest.raises(ValueError, match="valid"):
        SingleLearnerEnv(learner=None, background=(None, "random", "random", "random"), **SMALL)
    env = SingleLearnerEnv(learner=1, background=("random", None, "random", "random"), **SMALL)
    with pytest.raises(ValueError, match="valid"):
        env.reset(seed=0, options={"learner": 0})  # nation 1 would have no policy


def test_a_refused_learner_action_leaves_the_episode_as_it_was() -> None:
    """The action is checked before the scripted nations draw and remember: the next valid step is the one a fresh
    episode of the same seed takes."""
    refused, fresh = (SingleLearnerEnv(learner=1, background="random", **SMALL) for _ in range(2))
    refused.reset(seed=3)
    fresh.reset(seed=3)
    with pytest.raises(ValueError, match=r"nation_1: action -1 is outside the action space; valid: an integer in"):
        refused.step(-1)
    wait = int(np.flatnonzero(refused.action_masks())[0])
    for a, b in zip(refused.step(wait), fresh.step(wait), strict=True):
        np.testing.assert_equal(a, b)


def test_single_learner_replays_the_rollout_of_its_seed() -> None:
    """With the learner playing the background's policy, an episode is agents.rollout's episode of that seed."""
    env = SingleLearnerEnv(learner=1, background="defensive_realist", **SMALL)
    policies = build_policies(env.env, "defensive_realist")
    reference = realism_env.parallel_env(scenario="multipolar", **SMALL)
    seed = 5
    expected = list(rollout(reference, build_policies(reference, "defensive_realist"), seed))
    obs, info = env.reset(seed=seed)
    assert info["learner"] == 1
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(SMALL["n_nations"])[1])
    memory = policies["nation_1"].initial_state()
    for step in expected[: SMALL["max_cycles"]]:
        np.testing.assert_array_equal(obs, step.observations["nation_1"]["observation"])
        wrapped = {"observation": obs, "action_mask": env.action_masks().astype(np.int8)}
        action, memory = policies["nation_1"].step(wrapped, memory, rng)
        assert action == step.actions["nation_1"]
        obs, reward, terminated, truncated, _ = env.step(action)
        assert reward == step.rewards["nation_1"]
        if terminated or truncated:
            break


def test_single_learner_episode_ends_when_the_learner_is_eliminated() -> None:
    env = SingleLearnerEnv(learner=None, background="offensive_realist", rich_infos=True, **{**SMALL, "max_cycles": 60})
    rng = np.random.default_rng(0)
    outcomes = set()
    for episode in range(8):
        env.reset(seed=episode)
        for _ in range(MAX_STEPS):
            _, reward, terminated, truncated, info = env.step(random_actions(env.action_masks()[None], rng)[0])
            if terminated or truncated:
                break
        assert terminated or truncated
        if terminated and env.learner_agent not in env.env.agents and env.env.agents:
            assert info["reward_terms"]["elimination"] == -10.0  # rich_infos=True: the learner's terms in info
            assert any(e["kind"] == "eliminated" and e["actor"] == env.learner_agent for e in info["events"])
            outcomes.add("eliminated")
        elif truncated:
            outcomes.add("truncated")
        with pytest.raises(RuntimeError, match="reset"):
            env.step(0)
    assert "eliminated" in outcomes


def test_maskable_ppo_smoke_on_the_single_learner_env() -> None:
    env = SingleLearnerEnv(learner=None, background="defensive_realist", **{**SMALL, "max_cycles": 10})
    model = MaskablePPO("MlpPolicy", env, n_steps=32, batch_size=32, n_epochs=1, seed=0, device="cpu")
    model.learn(total_timesteps=64)
    obs, _ = env.reset(seed=0)
    action, _ = model.predict(obs, action_masks=env.action_masks())
    assert env.action_masks()[action]
