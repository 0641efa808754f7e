"""Integrations: each library's real code runs against the env for a few steps (docs/integrations.md).

The Python examples of the docs are the files in docs/examples/, run here; the commands of the docs are run as
subprocesses with the flags written in the docs. Fixed seeds; every loop capped.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType, SimpleNamespace

import numpy as np
import pettingzoo
import pytest
from pettingzoo.test import parallel_api_test

import realism_env
from realism_env import Act, decode_action
from realism_env.registration import ENV_ID, FIXED_AGENTS_ENV_ID, register_pettingzoo
from realism_env.wrappers import NOOP_ACTION, FixedAgentsWrapper, fixed_agents_parallel_env

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "integrations.md"
EXAMPLES = sorted((ROOT / "docs" / "examples").glob("*.py"))
MAX_TURNS = 300  # cap on every episode loop in this file

CLEANRL_SMOKE = (
    "python -m train.cleanrl_ppo --total-timesteps 768 --num-envs 2 --num-steps 32 --n-nations 3 "
    "--provinces-per-nation 2 --max-cycles 50 --doctrines mixed --out OUT"
)
RLLIB_SMOKE = (
    "python -m train.rllib_ppo --iterations 2 --num-env-runners 2 --train-batch-size 400 --minibatch-size 128 "
    '--num-epochs 1 --env-config \'{"n_nations": 3, "provinces_per_nation": 2, "max_cycles": 60, '
    '"doctrines": ["security", "power", "security"]}\' --out OUT'
)


def load_example(name: str) -> ModuleType:
    path = ROOT / "docs" / "examples" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"docs_example_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_command(command: str, out: Path, timeout: int) -> subprocess.CompletedProcess:
    """Run a documented ``python -m ...`` command with this interpreter, OUT replaced by ``out``."""
    argv = [sys.executable if a == "python" else a.replace("OUT", str(out)) for a in shlex.split(command)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def aggressive(observations: dict, agents: list[str], n: int, rng: np.random.Generator) -> dict[str, int]:
    """Full mobilisation and an attack where the mask allows one, else a random valid action."""
    out = {}
    for agent in agents:
        valid = np.flatnonzero(observations[agent]["action_mask"])
        attacks = [a for a in valid if decode_action(a, n).act == Act.ATTACK and decode_action(a, n).arms_level == 4]
        out[agent] = int(rng.choice(attacks)) if attacks else int(rng.choice(valid))
    return out


# ------------------------------------------------------------------------------------------------
# The docs show the examples that these tests run
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_the_docs_show_each_example_verbatim(path: Path) -> None:
    assert path.read_text().rstrip("\n") in DOCS.read_text(), f"docs/integrations.md does not show {path.name}"


@pytest.mark.parametrize("command", [CLEANRL_SMOKE, RLLIB_SMOKE], ids=["cleanrl", "rllib"])
def test_the_docs_show_the_commands_the_tests_run(command: str) -> None:
    assert command in DOCS.read_text()


def test_every_example_has_a_test() -> None:
    tested = {"fixed_agents", "supersuit_sb3", "torchrl_rollout", "registries", "rllib_pettingzoo"}
    assert {p.stem for p in EXAMPLES} == tested


# ------------------------------------------------------------------------------------------------
# FixedAgentsWrapper
# ------------------------------------------------------------------------------------------------


def test_fixed_agents_wrapper_passes_pettingzoo_parallel_api_test() -> None:
    parallel_api_test(FixedAgentsWrapper(realism_env.parallel_env()), num_cycles=100)
    # A small map with full episodes (eliminations and an end): the checker also sees agents leave at the end.
    parallel_api_test(
        FixedAgentsWrapper(realism_env.parallel_env(n_nations=3, provinces_per_nation=2, max_cycles=MAX_TURNS)),
        num_cycles=MAX_TURNS,
    )


def test_fixed_agents_example_runs_and_sees_inactive_nations() -> None:
    inactive_turns = load_example("fixed_agents").main()
    assert sum(inactive_turns.values()) > 0


@pytest.mark.parametrize("seed", [0, 2, 7])
def test_fixed_agents_wrapper_in_lockstep_with_the_env(seed: int) -> None:
    """Same seed, same actions: active nations see what the env gives; eliminated ones are inactive until the end."""
    n = 4
    kwargs = {"n_nations": n, "provinces_per_nation": 2, "max_cycles": 100}
    env = realism_env.parallel_env(**kwargs)
    wrapped = FixedAgentsWrapper(realism_env.parallel_env(**kwargs))
    obs, _ = env.reset(seed=seed)
    wobs, winfos = wrapped.reset(seed=seed)
    assert wrapped.agents == wrapped.possible_agents and all(i["active"] for i in winfos.values())
    rng = np.random.default_rng(seed)
    eliminated: set[str] = set()
    for _ in range(MAX_TURNS):
        actions = aggressive(obs, env.agents, n, rng)
        inactive_actions = {a: None for a in wrapped.agents if a not in env.agents}  # ignored
        obs, rew, term, trunc, _ = env.step(actions)
        wobs, wrew, wterm, wtrunc, winfos = wrapped.step({**actions, **inactive_actions})
        over = not env.agents
        for agent in wrapped.possible_agents:
            if agent in actions:  # played this step
                assert wrew[agent] == rew[agent]
                if agent in env.agents or over:
                    np.testing.assert_array_equal(wobs[agent]["observation"], obs[agent]["observation"])
                    np.testing.assert_array_equal(wobs[agent]["action_mask"], obs[agent]["action_mask"])
                    assert (wterm[agent], wtrunc[agent]) == (term[agent], trunc[agent])
                else:  # eliminated this step: the penalty now, inactive from now on
                    assert term[agent] and not wterm[agent] and not wtrunc[agent]
                    eliminated.add(agent)
            else:
                assert wrew[agent] == 0.0 and not wtrunc[agent] and wterm[agent] == over
                assert winfos[agent] == {"action_valid": True, "active": False}  # its info at reset
            if not over and agent not in env.agents:
                assert not wobs[agent]["observation"].any()
                assert wobs[agent]["observation"].dtype == np.float32
                assert np.flatnonzero(wobs[agent]["action_mask"]).tolist() == [NOOP_ACTION]
                assert wobs[agent]["action_mask"].dtype == np.int8
            assert winfos[agent]["active"] == (agent in env.agents)
        assert wrapped.active_agents == env.agents
        if over:
            assert wrapped.agents == [] and all(wterm[a] or wtrunc[a] for a in wrapped.possible_agents)
            break
        assert wrapped.agents == wrapped.possible_agents
        np.testing.assert_array_equal(wrapped.state(), env.state())
    else:
        pytest.fail(f"the episode did not end within {MAX_TURNS} turns")
    assert eliminated, "no nation was eliminated mid-episode: pick another seed"


def test_fixed_agents_wrapper_keeps_only_the_named_info_keys() -> None:
    env = FixedAgentsWrapper(realism_env.parallel_env(n_nations=3, rich_infos=True), info_keys=("action_valid",))
    _, infos = env.reset(seed=0)
    assert all(info == {"action_valid": True, "active": True} for info in infos.values())
    _, _, _, _, infos = env.step({a: NOOP_ACTION for a in env.agents})
    assert all(set(info) == {"action_valid", "active"} for info in infos.values())


def test_fixed_agents_wrapper_gives_inactive_nations_the_rich_reset_info_with_rich_infos() -> None:
    env = FixedAgentsWrapper(realism_env.parallel_env(n_nations=3, provinces_per_nation=1, rich_infos=True))
    observations, _ = env.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(MAX_TURNS):
        inner = env.unwrapped
        observations, _, _, _, infos = env.step(aggressive(observations, inner.agents, 3, rng))
        gone = [a for a in env.agents if a not in inner.agents]
        if gone:
            break
    else:
        pytest.fail("no nation was eliminated while the others played on")
    observations, _, _, _, infos = env.step(aggressive(observations, env.unwrapped.agents, 3, rng))
    for agent in gone:
        assert infos[agent] == {"reward_terms": {}, "events": [], "action_valid": True, "active": False}


def test_fixed_agents_wrapper_rejects_what_it_cannot_wrap() -> None:
    with pytest.raises(ValueError, match="noop_action=999 is outside the action space; valid: 0..79"):
        FixedAgentsWrapper(realism_env.parallel_env(n_nations=3), noop_action=999)
    from mpe2 import simple_spread_v3  # a PettingZoo env with Box observations

    with pytest.raises(ValueError, match="needs Dict"):
        FixedAgentsWrapper(simple_spread_v3.parallel_env())


def test_the_noop_action_is_arms_level_0_wait_slot_0() -> None:
    assert decode_action(NOOP_ACTION, 4) == (0, Act.WAIT, 0)


# ------------------------------------------------------------------------------------------------
# Registries
# ------------------------------------------------------------------------------------------------


def test_registries_example_builds_every_registered_env() -> None:
    from agents.single_learner import SingleLearnerEnv

    envs = load_example("registries").main()
    assert isinstance(envs["parallel"], realism_env.RealismEnv)
    assert envs["parallel"].config.max_cycles == 20 and envs["parallel"].config.n_nations == 4
    assert isinstance(envs["aec"], pettingzoo.AECEnv) and isinstance(envs["aec"].unwrapped, realism_env.RealismEnv)
    assert isinstance(envs["fixed_agents"], FixedAgentsWrapper)
    assert isinstance(envs["single_learner"].unwrapped, SingleLearnerEnv)


def test_pettingzoo_ids_resolve_with_pettingzoo_spellings() -> None:
    underscored = ENV_ID.replace("-v", "_v")  # PettingZoo's _v<N> suffix (realism_env/realism_v<N>)
    assert underscored != ENV_ID and pettingzoo.spec("parallel", underscored).id == ENV_ID
    assert pettingzoo.spec("parallel", "realism_env/realism").id == ENV_ID  # unversioned: the latest
    assert pettingzoo.spec("parallel", FIXED_AGENTS_ENV_ID).entry_point.endswith(fixed_agents_parallel_env.__name__)


def test_register_pettingzoo_is_idempotent_and_skips_a_pettingzoo_without_registry(
    monkeypatch: pytest.MonkeyPatch, recwarn: pytest.WarningsRecorder
) -> None:
    assert register_pettingzoo() is True
    assert not [w for w in recwarn if "Overriding environment" in str(w.message)]
    monkeypatch.delattr(pettingzoo, "register")
    assert register_pettingzoo() is False


def test_gymnasium_makes_the_single_learner_env_after_import_gymnasium_alone() -> None:
    """In a fresh interpreter: gymnasium's "module:id" form imports realism_env, which registers the id; neither
    torch nor stable-baselines3 is imported, and the plain id works from then on."""
    code = (
        "import sys, gymnasium\n"
        "env = gymnasium.make('realism_env:realism_env/SingleLearner-v2', max_cycles=5, n_nations=3)\n"
        "obs, info = env.reset(seed=0)\n"
        "assert env.observation_space.contains(obs) and info == {'action_valid': True, 'learner': 0}, info\n"
        "assert not {'torch', 'stable_baselines3', 'train'} & set(sys.modules), 'a heavy import'\n"
        "env = gymnasium.make('realism_env/SingleLearner-v2', learner=1, n_nations=3)\n"
        "print(type(env.unwrapped).__module__, env.unwrapped.learner)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-c", code]
    result = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ["agents.single_learner", "1"]


def test_fixed_agents_env_from_the_registry_passes_parallel_api_test() -> None:
    parallel_api_test(pettingzoo.make("parallel", FIXED_AGENTS_ENV_ID, n_nations=3, max_cycles=40), num_cycles=60)


# ------------------------------------------------------------------------------------------------
# SuperSuit + Stable-Baselines3
# ------------------------------------------------------------------------------------------------


def test_supersuit_sb3_example_trains_ppo_and_is_seeded() -> None:
    import torch

    example = load_example("supersuit_sb3")
    first = example.main(total_timesteps=256, seed=3)
    second = example.main(total_timesteps=256, seed=3)
    assert first.num_timesteps >= 256
    assert first.n_envs == 8  # 2 worlds x 4 nations
    for (name, a), (_, b) in zip(first.policy.state_dict().items(), second.policy.state_dict().items(), strict=True):
        assert torch.equal(a, b), f"{name} differs between two runs with the same seed"


# ------------------------------------------------------------------------------------------------
# TorchRL
# ------------------------------------------------------------------------------------------------


def test_torchrl_example_collects_a_masked_random_rollout_over_the_plain_env() -> None:
    import torch

    rollout = load_example("torchrl_rollout").main(max_steps=120, seed=0)
    assert rollout.batch_size == torch.Size([120])
    nation = rollout["nation"]
    assert nation["observation", "observation"].shape == (120, 4, realism_env.parallel_env(n_nations=4).layout.size)
    # Every action a nation in play sampled is one its mask allows, and the env agrees.
    played = nation["mask"]
    allowed = nation["action_mask"].gather(-1, nation["action"].unsqueeze(-1)).squeeze(-1)
    assert bool(allowed[played].all())
    assert bool(rollout["next", "nation", "info", "action_valid"][played].all())
    # Nations were eliminated while the episode went on (done_on_any=False), and episodes ended (max_cycles=50).
    done = rollout["next", "done"].squeeze(-1)
    assert bool((~played.all(-1) & ~done).any())
    assert int(done.sum()) >= 2
    assert torch.isfinite(rollout["next", "nation", "reward"]).all()


def test_torchrl_takes_the_plain_env_with_use_mask_as_the_issue_asked() -> None:
    """``PettingZooWrapper(env=realism_env.parallel_env(), use_mask=True)``: TorchRL's parallel default,
    ``done_on_any=True``, ends an episode at the first elimination."""
    import torch
    from torchrl.envs import PettingZooWrapper
    from torchrl.envs.utils import check_env_specs

    env = PettingZooWrapper(env=realism_env.parallel_env(), use_mask=True, seed=1)
    check_env_specs(env)
    torch.manual_seed(1)
    rollout = env.rollout(300, break_when_any_done=False)
    assert set(rollout["next", "nation", "info"].keys()) == {"action_valid"}
    done = rollout["next", "done"].squeeze(-1)
    assert int(done.sum()) >= 1
    # An episode ends when a nation leaves: it was in play before the step, and is done after it.
    lost = rollout["nation", "mask"] & rollout["next", "nation", "done"].squeeze(-1)
    assert torch.equal(lost.any(-1), done)


# ------------------------------------------------------------------------------------------------
# CleanRL-style single-file PPO
# ------------------------------------------------------------------------------------------------


def test_cleanrl_ppo_smoke_runs_and_is_deterministic(tmp_path: Path) -> None:
    runs = []
    for name in ("a", "b"):
        result = run_command(CLEANRL_SMOKE, tmp_path / name, timeout=300)
        assert result.returncode == 0, result.stderr[-3000:]
        runs.append(json.loads((tmp_path / name / "metrics.json").read_text()))
        assert (tmp_path / name / "agent.pt").is_file() and (tmp_path / name / "tb").is_dir()
    first, second = runs
    assert first["doctrines"] == list(realism_env.mixed_doctrines(3)) == ["security", "power", "security"]
    assert len(first["history"]) == 768 // (32 * 2 * 3)
    assert 0 < first["global_step"] < 768, "some slots should have been inactive (eliminated nations)"
    assert set(first["mean_episode_return"]) == {"power", "security"}
    without_speed = [[{k: v for k, v in h.items() if k != "sps"} for h in run["history"]] for run in runs]
    assert without_speed[0] == without_speed[1], "two runs with the same arguments differ"


def test_cleanrl_ppo_rejects_a_bad_doctrine() -> None:
    result = run_command("python -m train.cleanrl_ppo --doctrines realist", Path("unused"), timeout=120)
    assert result.returncode == 2
    assert "--doctrines 'realist' is invalid; valid: power, security, mixed" in result.stderr


@pytest.mark.parametrize("scenario", sorted(realism_env.SCENARIOS))
def test_cleanrl_and_rllib_ppo_take_every_scenario_with_its_own_nations(scenario: str) -> None:
    """Without --n-nations each trainer builds the scenario's own nations (the scenarios that fix each nation's
    capability share take no other count)."""
    from train import cleanrl_ppo, rllib_ppo

    own = realism_env.EnvConfig.from_scenario(scenario).n_nations
    _, config = cleanrl_ppo.parse_args(["--scenario", scenario, "--doctrines", "mixed"])
    assert config.n_nations == own and config.doctrine_per_nation == realism_env.mixed_doctrines(own)
    mapping = rllib_ppo.policy_mapping(rllib_ppo.env_config(rllib_ppo.parse_args(["--scenario", scenario])))
    assert list(mapping.values()) == list(realism_env.mixed_doctrines(own))


def test_cleanrl_and_rllib_ppo_keep_a_scenarios_own_episode_length_and_provinces(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Their own defaults (50 turns, 4 provinces a nation) replaced a scenario's: a scenario of 8 provinces a nation
    and 100-turn episodes was trained with 4 and 50. Each is the scenario's unless its flag is given."""
    from train import cleanrl_ppo, rllib_ppo

    own = {"provinces_per_nation": 8, "max_cycles": 100}
    monkeypatch.setitem(realism_env.SCENARIOS, "big", realism_env.Scenario("big", "8 provinces, 100 turns", own))
    flags = ["--max-cycles", "30", "--provinces-per-nation", "2"]
    for argv, expected in ((["--scenario", "big"], (8, 100)), (["--scenario", "big", *flags], (2, 30))):
        _, config = cleanrl_ppo.parse_args(argv)
        assert (config.provinces_per_nation, config.max_cycles) == expected
    for argv, expected in ((["--scenario", "big"], 100), (["--scenario", "big", *flags[:2]], 30)):
        assert rllib_ppo.resolved(rllib_ppo.env_config(rllib_ppo.parse_args(argv))).max_cycles == expected


def test_cleanrl_ppo_trains_a_scenario_of_fixed_capability_shares(tmp_path: Path) -> None:
    from train import cleanrl_ppo

    flags = ["--scenario", "europe_1914", "--total-timesteps", "48", "--num-envs", "1", "--num-steps", "8"]
    args, config = cleanrl_ppo.parse_args([*flags, "--max-cycles", "5", "--out", str(tmp_path)])
    metrics = cleanrl_ppo.train(args, config)
    assert metrics["doctrines"] == ["security"] * 6 and len(metrics["history"]) == 1


def test_cleanrl_ppo_masks_invalid_actions() -> None:
    import torch

    from train.cleanrl_ppo import Agent

    torch.manual_seed(0)
    agent = Agent(obs_dim=8, n_actions=6, hidden=16)
    mask = torch.tensor([[True, False, False, True, False, False]] * 200)
    action, logprob, entropy, _ = agent.get_action_and_value(torch.rand(200, 8), mask)
    assert set(action.tolist()) <= {0, 3} and torch.isfinite(logprob).all() and torch.isfinite(entropy).all()


# ------------------------------------------------------------------------------------------------
# Ray RLlib
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["parallel", "aec"])
def test_rllib_pettingzoo_wrappers_take_the_plain_env_and_end_every_episode(kind: str) -> None:
    """RLlib's ``ParallelPettingZooEnv(parallel_env())`` and ``PettingZooEnv(env())``, driven as their docstrings
    show, pass RLlib's checker and end every episode (``__all__``) on its last step, also where a nation falls on the
    turn that reaches max_cycles (the env truncates it too, so every nation's flags agree)."""
    from ray.rllib.env.wrappers.pettingzoo_env import ParallelPettingZooEnv, PettingZooEnv
    from ray.rllib.utils.pre_checks.env import check_multiagent_environments

    kwargs = {"n_nations": 3, "provinces_per_nation": 1, "max_cycles": 8}
    if kind == "parallel":
        env = ParallelPettingZooEnv(realism_env.parallel_env(**kwargs))
    else:
        env = PettingZooEnv(realism_env.env(**kwargs))
    check_multiagent_environments(env)
    inner = env.par_env if kind == "parallel" else env.env.unwrapped
    mixed_last_steps = 0
    for seed in range(60):  # seed 44 loses a nation on its last turn
        obs, infos = env.reset(seed=seed)
        rng = np.random.default_rng(seed)
        for _ in range(MAX_TURNS):
            obs, rewards, term, trunc, infos = env.step(aggressive(obs, list(obs), 3, rng))
            assert all(set(info) == {"action_valid"} for info in infos.values())  # the env's plain infos
            if term["__all__"] or trunc["__all__"]:
                break
            assert inner.agents, "the env's episode ended but RLlib's wrapper did not say so"
        else:
            pytest.fail(f"seed {seed}: no episode end within {MAX_TURNS} steps")
        assert not inner.agents
        flags = [term[a] for a in term if a != "__all__"]
        mixed_last_steps += any(flags) and not all(flags)
    assert mixed_last_steps >= 1


@pytest.mark.slow
def test_rllib_example_trains_ppo_on_rllib_s_own_wrapper() -> None:
    """The example, in its own process (as a user runs it): one PPO iteration, one policy per doctrine."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAY_ADDRESS": "local", "RAY_USAGE_STATS_ENABLED": "0"}
    env["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # one machine: Ray's traffic stays on loopback
    code = "import json, runpy; print(json.dumps(runpy.run_path('docs/examples/rllib_pettingzoo.py')['main']()))"
    argv = [sys.executable, "-c", code]
    result = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=400, check=False)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    metrics = json.loads(result.stdout.strip().splitlines()[-1])
    assert metrics["env_steps"] >= 400 and metrics["episodes"] >= 1
    assert set(metrics["returns"]) == {"security", "power"}
    assert all(np.isfinite(v) for v in metrics["returns"].values())


def test_rllib_env_passes_rllib_checker_and_ends_with_the_episode() -> None:
    from ray.rllib.utils.pre_checks.env import check_multiagent_environments

    from train.rllib_env import RealismMultiAgentEnv

    env = RealismMultiAgentEnv({"n_nations": 3, "provinces_per_nation": 2, "max_cycles": 80})
    check_multiagent_environments(env)
    drawn = RealismMultiAgentEnv({"n_nations": 3, "render_mode": "ansi"})  # RLlib's own render passed an argument
    drawn.reset(seed=0)
    assert drawn.render_mode == "ansi" and "turn" in drawn.render()
    obs, _ = env.reset(seed=1)
    assert all(env.observation_spaces[a].contains(o) for a, o in obs.items())
    rng = np.random.default_rng(1)
    for turn in range(1, MAX_TURNS + 1):
        actions = {a: int(rng.choice(np.flatnonzero(o["action_mask"]))) for a, o in obs.items() if a in env.agents}
        obs, _, term, trunc, _ = env.step(actions)
        assert set(obs) == set(actions)
        if term["__all__"] or trunc["__all__"]:
            assert not env.agents and turn <= 80
            break
        assert env.agents
    else:
        pytest.fail(f"no episode end within {MAX_TURNS} turns")


def test_rllib_policy_mapping_gives_each_nation_its_doctrines_policy() -> None:
    from train.rllib_ppo import env_config, parse_args, policy_mapping

    args = parse_args(["--n-nations", "4", "--doctrines", "mixed"])
    assert policy_mapping(env_config(args)) == {  # realism_env.mixed_doctrines: nation_0 maximises security
        "nation_0": "security",
        "nation_1": "power",
        "nation_2": "security",
        "nation_3": "power",
    }
    assert set(policy_mapping(env_config(parse_args(["--doctrines", "security"]))).values()) == {"security"}
    with pytest.raises(SystemExit):
        parse_args(["--env-config", '{"n_nations": 3, "doctrines": "realist"}'])


@pytest.mark.parametrize(
    "keywords", [{"rich_infos": True}, {"render_mode": "ansi"}, {"n_nations": 3, "render_mode": "rgb_array"}]
)
def test_rllib_ppo_env_config_takes_parallel_env_s_own_keywords(keywords: dict) -> None:
    from train.rllib_ppo import env_config, parse_args, policy_mapping, resolved

    config = env_config(parse_args(["--env-config", json.dumps(keywords)]))
    assert config == keywords
    assert resolved(config).n_nations == len(policy_mapping(config)) == keywords.get("n_nations", 6)


@pytest.mark.parametrize(
    ("trainer", "argv", "message"),
    [
        ("cleanrl_ppo", ["--scenario", "nope"], "unknown scenario 'nope'; valid: bipolar, "),
        ("cleanrl_ppo", ["--n-nations", "1"], "EnvConfig.n_nations=1 is invalid; valid: an integer from 2 to 64"),
        ("cleanrl_ppo", ["--update-epochs", "0"], "--update-epochs 0 is invalid; valid: an integer >= 1"),
        ("cleanrl_ppo", ["--hidden", "0"], "--hidden 0 is invalid; valid: an integer >= 1"),
        ("rllib_ppo", ["--env-config", '{"render_mode": "human"}'], "render_mode='human' is invalid; valid: None,"),
        ("rllib_ppo", ["--env-config", '{"rich_infos": 1}'], "rich_infos=1 is invalid; valid: True or False"),
        ("rllib_ppo", ["--env-config", '{"no_such": 1}'], "unknown config field 'no_such'; valid: "),
        ("rllib_ppo", ["--env-config", '{"scenario": "nope"}'], "(a scenario of your own: --import the module that"),
        ("rllib_ppo", ["--env-config", "{1"], "--env-config '{1' is invalid; valid: a JSON object of parallel_env"),
        ("rllib_ppo", ["--num-env-runners", "-1"], "--num-env-runners -1 is invalid; valid: an integer >= 0"),
        *[
            (trainer, argv, message)
            for trainer in ("cleanrl_ppo", "rllib_ppo")
            for argv, message in [
                (["--scenario", "europe_1914", "--n-nations", "4"], "does not fit it; valid: its own n_nations=6"),
                (["--out", "pyproject.toml"], "--out pyproject.toml is a file; valid: a folder"),
                # a scenario of one's own: how to make it known, as train.fast_ppo and train.evaluate say
                (["--scenario", "nope"], "unipolar (a scenario of your own: --import the module that registers it)"),
            ]
        ],
    ],
)
def test_cleanrl_and_rllib_ppo_bad_arguments_say_what_is_wrong_and_what_is_valid(
    trainer: str, argv: list[str], message: str, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    parse_args = importlib.import_module(f"train.{trainer}").parse_args
    monkeypatch.chdir(ROOT)
    with pytest.raises(SystemExit) as exit_info:
        parse_args(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("runners, threads", [(0, 1), (2, 2)])
def test_rllib_ppo_samples_in_the_driver_with_one_torch_thread(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, runners: int, threads: int
) -> None:
    """With --num-env-runners 0 the driver samples (RLlib's local env runner). With torch's thread per core there,
    its thousands of one-row forward passes waited on the thread pool: the first iteration took 91 s instead of 11 s
    on 2 cores and the command seemed to hang. It samples with one thread, as Ray gives each env runner, and puts the
    count back after; with env runners the driver only learns and keeps its threads. (Ray and RLlib stand-ins: what
    is checked is the driver's torch while the algorithm trains.)"""
    import torch

    from train import rllib_ppo

    seen = []

    class Algorithm:
        def train(self) -> dict:
            seen.append(torch.get_num_threads())
            return {}

        def save_to_path(self, path: str) -> str:
            return path

        def stop(self) -> None:
            pass

    class Config:
        def build_algo(self) -> Algorithm:
            return Algorithm()

    monkeypatch.setitem(sys.modules, "ray", SimpleNamespace(init=lambda **kwargs: None, shutdown=lambda: None))
    monkeypatch.setattr(rllib_ppo, "build_config", lambda args: Config())
    monkeypatch.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # train() sets it for a local instance
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        argv = ["--num-env-runners", str(runners), "--iterations", "2", "--out", str(tmp_path)]
        rllib_ppo.train(rllib_ppo.parse_args(argv))
        assert seen == [threads, threads]
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_rllib_ppo_trains_two_iterations_on_local_ray_with_two_env_runners(tmp_path: Path) -> None:
    """The documented smoke command: local Ray (2 CPUs, 200 MB object store), two env runners, two policies."""
    result = run_command(RLLIB_SMOKE, tmp_path, timeout=400)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["policies"] == ["power", "security"]
    assert metrics["policy_mapping"] == {"nation_0": "security", "nation_1": "power", "nation_2": "security"}
    assert metrics["args"]["num_env_runners"] == 2 and metrics["args"]["address"] == ""
    history = metrics["history"]
    assert [h["iteration"] for h in history] == [1, 2]
    assert history[-1]["env_steps"] >= 800 and history[-1]["episodes"] > 0
    assert set(history[-1]["episode_return"]) == {"power", "security"}
    assert all(np.isfinite(v) for v in history[-1]["episode_return"].values())
    assert (tmp_path / "checkpoint" / "rllib_checkpoint.json").is_file()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_rllib_ppo_joins_an_existing_ray_cluster_with_address(tmp_path: Path) -> None:
    """``--address``: a head node started here (loopback only, token auth as Ray 2.59+ does by default) is joined."""
    port, client_port = _free_port(), _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": secrets.token_hex(32),
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",  # one machine: Ray's traffic stays on loopback
    }
    log = tmp_path / "head.log"
    ray_cli = Path(sys.executable).parent / "ray"
    head_argv = [str(ray_cli), "start", "--head", "--block", f"--port={port}", "--node-ip-address=127.0.0.1"]
    head_argv += ["--num-cpus=2", "--object-store-memory=200000000", "--include-dashboard=false"]
    head_argv += [f"--ray-client-server-port={client_port}", "--disable-usage-stats"]
    with log.open("w") as out:
        head = subprocess.Popen(
            head_argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        for _ in range(120):  # up to 60 s for the head to come up
            if "Ray runtime started" in log.read_text() or head.poll() is not None:
                break
            time.sleep(0.5)
        assert "Ray runtime started" in log.read_text(), log.read_text()[-3000:]
        argv = [sys.executable, "-m", "train.rllib_ppo", "--address", f"127.0.0.1:{port}", "--iterations", "1"]
        argv += ["--num-env-runners", "2", "--train-batch-size", "200", "--minibatch-size", "100", "--num-epochs", "1"]
        argv += ["--out", str(tmp_path / "out")]
        result = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
        assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    finally:
        head.terminate()  # ray start --block stops the head's processes on SIGTERM
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)  # the session this test started, by its id
            head.wait(timeout=30)
        # `ray start` records the head's address for later ray.init() calls; a stopped head's record is stale.
        record = Path(tempfile.gettempdir()) / "ray" / "ray_current_cluster"
        if record.is_file() and record.read_text().strip().endswith(f":{port}"):
            record.unlink()
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["args"]["address"] == f"127.0.0.1:{port}"
    assert metrics["history"][0]["env_steps"] >= 200
    assert set(metrics["history"][0]["episode_return"]) <= {"power", "security"}
