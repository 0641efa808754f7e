"""Populations (train.population, train.fast_ppo --population): several runs trained as one, each member on its own
worlds with its own network, as if alone."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch

from train import fast_ppo
from train.checkpoint import find_latest
from train.networks import Agent, agent_of_shape, load_agent
from train.population import MemberNetworks
from train.run_args import make_config
from train.trainer import Trainer

SMALL = {"n_worlds": 4, "n_steps": 8, "batch_size": 64, "max_cycles": 10, "progress_bar": False}


def _trainer(**changes):
    args = fast_ppo.Args(**{**SMALL, **changes})
    return Trainer(args, make_config(args))


def _weights(agent: Agent) -> dict[str, torch.Tensor]:
    return {name: value.detach().clone() for name, value in agent.state_dict().items()}


def _agents(seeds, actor="per_nation"):
    trainer = _trainer(actor=actor)
    agents = []
    for seed in seeds:
        torch.manual_seed(seed)
        agents.append(agent_of_shape(trainer.networks.shape))
    return agents


def test_each_member_starts_from_the_network_of_a_run_of_its_own_seed():
    population = _trainer(seed=5, population=3)
    assert population.seeds == [5, 6, 7] and population.batch.n_worlds == 3 * SMALL["n_worlds"]
    for member, seed in enumerate(population.seeds):
        alone = _weights(_trainer(seed=seed).agent)
        got = _weights(population.member_agent(member))
        assert all(torch.equal(got[name], alone[name]) for name in alone)
    with pytest.raises(ValueError, match="one network per member; valid: member_agent"):
        _ = population.agent


@pytest.mark.parametrize("actor", ["per_nation", "mlp"])
def test_the_batched_networks_score_each_members_inputs_with_that_members_network(actor):
    agents = _agents([0, 1, 2], actor)
    networks = MemberNetworks(agents)
    inputs = torch.randn(3, 7, agents[0].shape["n_inputs"])
    forbidden = torch.rand(3, 7, agents[0].shape["n_actions"]) < 0.5
    logits, values = networks.masked_logits(inputs, forbidden), networks.value(inputs)
    for member, agent in enumerate(agents):
        torch.testing.assert_close(logits[member], agent.masked_logits(inputs[member], forbidden[member]))
        torch.testing.assert_close(values[member], agent.value(inputs[member]))


def test_gradients_are_clipped_member_by_member_as_clip_grad_norm_does():
    agents, alone = _agents([0, 1]), _agents([0, 1])
    networks = MemberNetworks(agents)
    inputs = torch.randn(2, 9, agents[0].shape["n_inputs"])
    scale = torch.tensor([100.0, 1e-3])  # member 0's gradient is clipped, member 1's is not
    (networks.value(inputs) * scale[:, None]).sum().backward()
    networks.clip_grad_norm_(0.5)
    for member, agent in enumerate(alone):
        (agent.value(inputs[member]) * scale[member]).sum().backward()
        torch.nn.utils.clip_grad_norm_(agent.parameters(), 0.5)
        for name, parameter in agent.named_parameters():  # the critic's (the actor has no gradient here)
            if parameter.grad is None:
                assert networks.stacked[name].grad is None
                continue
            torch.testing.assert_close(networks.stacked[name].grad[member], parameter.grad)


def test_a_member_learns_only_from_its_own_worlds():
    """Changing member 1's rewards changes member 1's update and leaves member 0's exactly as it was."""
    trainer = _trainer(population=2)
    rollout = trainer.collect()
    start = copy.deepcopy(trainer.state_dict())  # a state dict holds the live tensors
    trainer.update(rollout)
    after = copy.deepcopy(trainer.networks.state_dict())
    trainer.load_state_dict(start)
    rewards = rollout.rewards.clone()
    rewards[:, trainer.member_slots :] += torch.randn_like(rewards[:, trainer.member_slots :])
    trainer.update(rollout._replace(rewards=rewards))
    changed = trainer.networks.state_dict()
    assert all(torch.equal(changed[name][0], after[name][0]) for name in after)
    assert any(not torch.equal(changed[name][1], after[name][1]) for name in after)


def test_each_member_gets_the_background_of_a_run_of_its_own():
    changes = {"background": "offensive_realist,defensive_realist", "background_share": 0.5}
    alone, population = _trainer(**changes), _trainer(population=3, **changes)
    assert population.background.n_worlds == alone.background.n_worlds == 2
    assert (population.background.learner == list(alone.background.learner) * 3).all()


def test_a_population_run_writes_each_members_run_and_resumes(tmp_path):
    out, members = tmp_path / "population", tmp_path / "members"
    argv = ["--out", str(out), "--members-dir", str(members), "--population", "2", "--seed", "3"]
    argv += ["--n-worlds", "4", "--n-steps", "8", "--batch-size", "64", "--max-cycles", "10", "--no-progress-bar"]
    assert fast_ppo.main([*argv, "--timesteps", "384", "--checkpoint-every", "192"]) == 0
    population = json.loads((out / "metrics.json").read_text())
    assert population["seeds"] == [3, 4] and population["finished"] and population["num_timesteps"] == 384
    # how sure each member's own policy is: its own figure, in its run and in the population's list, not a shared one
    entropies = [member["policy_entropy"] for member in population["members"]]
    assert "policy_entropy" not in population and entropies[0] != entropies[1]
    for seed, entropy in zip((3, 4), entropies, strict=True):
        run = members / f"seed{seed}"
        metrics = json.loads((run / "metrics.json").read_text())
        config = json.loads((run / "config.json").read_text())
        assert metrics["seed"] == seed and metrics["finished"] and len(metrics["curve"]) == 2
        assert metrics["policy_entropy"] == entropy
        assert config["args"]["seed"] == seed and config["population_out"] == str(out)
        assert (run / "tb").is_dir()
        load_agent(run / "model.pt")  # an ordinary run's model, as the evaluation reads it
    first = load_agent(members / "seed3" / "model.pt").state_dict()
    second = load_agent(members / "seed4" / "model.pt").state_dict()
    assert any(not torch.equal(first[name], second[name]) for name in first)
    # The population's own checkpoint stacks its members' weights: load_agent says where one member's model is.
    checkpoint, _ = find_latest(out / "checkpoints")
    with pytest.raises(ValueError, match=r"a population of 2 members; valid: one member's model.pt"):
        load_agent(checkpoint)
    # Continued to twice the steps from its checkpoint: each member's curve goes on where it stopped.
    assert fast_ppo.main([*argv, "--timesteps", "768", "--resume"]) == 0
    for seed in (3, 4):
        metrics = json.loads((members / f"seed{seed}" / "metrics.json").read_text())
        assert metrics["num_timesteps"] == 768 and [p["timesteps"] for p in metrics["curve"]] == [192, 384, 576, 768]
    with pytest.raises(SystemExit, match="differs in --population"):
        fast_ppo.main([*argv[:5], "3", *argv[6:], "--timesteps", "768", "--resume"])


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--population", "0"], "--population=0 is invalid; valid: 1 (one run) or more members"),
        (["--members-dir", "x"], "--members-dir is for a population's members; valid: with --population 2 or more"),
    ],
)
def test_bad_population_arguments_name_the_culprit(tmp_path, capsys, flags, message):
    with pytest.raises(SystemExit) as exit_info:
        fast_ppo.main(["--out", str(tmp_path / "run"), *flags])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_an_experiment_groups_consecutive_seeds_into_populations():
    from train.experiment_presets import load_preset, merge, resolve

    def design(seeds, population):
        raw = merge(load_preset("quick"), {"experiment": {"seeds": seeds}, "train": {"population": population}})
        return resolve(raw)

    assert design([0, 1, 2, 3, 4], 2).populations == [(0, 1), (2, 3), (4,)]
    assert design([0, 2, 3, 4], 5).populations == [(0,), (2, 3, 4)]
    assert design([0, 1, 2], 1).populations == [(0,), (1,), (2,)]


def test_a_seed_added_to_an_experiment_trains_without_its_groups_finished_members(tmp_path):
    """[train] population = 4 over seeds 0, 1, then 0, 1, 2: seeds 0 and 1 are finished and stay as they are, seed 2
    trains alone (it was refused as a run of other settings, and its group would have retrained 0 and 1)."""
    from train.experiment_jobs import check_runs
    from train.experiment_presets import load_preset, merge, resolve
    from train.run_args import make_config
    from train.run_folder import run_record

    def design(seeds):
        raw = merge(load_preset("quick"), {"experiment": {"seeds": seeds}, "train": {"population": 4}})
        return resolve(raw)

    out = tmp_path / "out"
    first, extended = design([0, 1]), design([0, 1, 2])
    runs = {seed: run for _, seed, run in extended.runs(out)[:3]}  # the security condition's
    condition = extended.conditions[0]
    for seed in (0, 1):  # finished by the first preset, as a population of 2
        args = first.args(condition, seed, runs[seed])
        runs[seed].mkdir(parents=True)
        (runs[seed] / "config.json").write_text(json.dumps(run_record(args, make_config(args))))
    check_runs(extended, extended.runs(out))  # seeds 0 and 1 recorded a population of 2, now grouped in 3: kept
    (job,) = extended.training_jobs(out, [(condition, 2, runs[2])])
    assert job.members == ((2, runs[2]),) and job.args.population == 1 and job.args.out == str(runs[2])
    (job,) = extended.training_jobs(out, [(condition, s, runs[s]) for s in (1, 2)])
    assert [seed for seed, _ in job.members] == [1, 2] and job.args.population == 2
    # Seeds 0 and 2 unfinished around a finished seed 1: the trainer takes --seed .. --seed + M - 1, so they train
    # apart (one job of seeds 0 and 1 would train seed 1 again and never seed 2).
    jobs = extended.training_jobs(out, [(condition, s, runs[s]) for s in (0, 2)])
    assert [[seed for seed, _ in job.members] for job in jobs] == [[0], [2]]
    assert [(job.args.seed, job.args.population) for job in jobs] == [(0, 1), (2, 1)]


def test_an_experiment_trains_its_seeds_as_populations_and_reads_each_members_run(tmp_path):
    """[train] population = 2 over seeds 0, 1, 2: seeds 0 and 1 train as one population, seed 2 alone; the
    evaluation reads the three runs as ever, and a rerun finds them finished."""
    import subprocess
    import sys

    from train.experiment_results import read_csv

    preset = tmp_path / "preset.toml"
    preset.write_text(
        'base = "quick"\n[experiment]\nname = "pop"\nconditions = ["security"]\nseeds = [0, 1, 2]\nworkers = 1\n'
        "[train]\ntimesteps = 384\nmax_cycles = 8\nn_worlds = 2\nn_steps = 16\nbatch_size = 64\npopulation = 2\n"
        "background_share = 0.5\n"
        '[evaluate]\nepisodes = 2\nheldout = []\nbackgrounds = ["offensive_realist"]\nfocal_heldout = []\n'
    )
    out = tmp_path / "out"
    command = [sys.executable, "-m", "train.experiment", "--no-progress", "--preset-file", str(preset)]
    command += ["--out", str(out)]
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "3 runs trained (0 already finished)" in result.stdout
    runs = out / "runs" / "security"
    assert (runs / "population_seed0-1" / "checkpoints").is_dir() and not (runs / "population_seed2-2").exists()
    for seed, population in ((0, 2), (1, 2), (2, 1)):
        config = json.loads((runs / f"seed{seed}" / "config.json").read_text())
        metrics = json.loads((runs / f"seed{seed}" / "metrics.json").read_text())
        assert config["args"]["seed"] == seed and config["args"]["population"] == population
        assert metrics["finished"] and metrics["num_timesteps"] == 384 and (runs / f"seed{seed}" / "model.pt").is_file()
    learned = [row for row in read_csv(out / "results.csv") if row["policy"] == "learned"]
    assert {int(float(row["seed"])) for row in learned} == {0, 1, 2}
    again = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "0 runs trained (3 already finished)" in again.stdout, again.stderr[-2000:]


def test_a_stopped_population_saves_its_checkpoint_and_each_members_state_then_resumes(tmp_path, monkeypatch):
    """SIGTERM (here sent by the first update itself) stops the population after that rollout: its checkpoint holds
    every member, each member's metrics.json says it is not finished, and --resume finishes them all."""
    import os
    import signal

    original = Trainer.update

    def update_then_stop(self, rollout):
        losses = original(self, rollout)
        os.kill(os.getpid(), signal.SIGTERM)
        return losses

    argv = ["--out", str(tmp_path / "population"), "--population", "2", "--n-worlds", "4", "--n-steps", "8"]
    argv += ["--batch-size", "64", "--max-cycles", "10", "--no-progress-bar", "--timesteps", "576"]
    with monkeypatch.context() as patch:
        patch.setattr(Trainer, "update", update_then_stop)
        assert fast_ppo.main(argv) == 128 + signal.SIGTERM
    for seed in (0, 1):
        metrics = json.loads((tmp_path / "population" / f"seed{seed}" / "metrics.json").read_text())
        assert not metrics["finished"] and metrics["num_timesteps"] == 192 and len(metrics["curve"]) == 1
        assert not (tmp_path / "population" / f"seed{seed}" / "model.pt").exists()
    assert not json.loads((tmp_path / "population" / "metrics.json").read_text())["finished"]
    assert fast_ppo.main([*argv, "--resume"]) == 0
    for seed in (0, 1):
        metrics = json.loads((tmp_path / "population" / f"seed{seed}" / "metrics.json").read_text())
        assert metrics["finished"] and [p["timesteps"] for p in metrics["curve"]] == [192, 384, 576]
