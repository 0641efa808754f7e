"""The fast torch PPO trainer (train.fast_ppo): masked sampling, advantages, runs, checkpoints, resumption, safety."""

from __future__ import annotations

import json
import math
import os
import pickle
import re
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import realism_env
from realism_env.backend import resolve_backend
from tests.host_syncs import forbid_host_syncs
from train import fast_ppo
from train import trainer as trainer_module
from train.checkpoint import find_latest
from train.masked_categorical import MASKED_LOGIT, log_prob_and_entropy, mask_logits, sample_actions
from train.networks import load_agent
from train.plots import learning_curve_series
from train.trainer import Rollout, Trainer, advantages

ROOT = Path(__file__).resolve().parents[1]
ROLLOUT = 4 * 8 * 6  # worlds x turns x the multipolar scenario's nations
SMALL = ["--n-worlds", "4", "--n-steps", "8", "--batch-size", "64", "--max-cycles", "10", "--no-progress-bar"]


def run(tmp_path: Path, *extra: str, timesteps: int = 800) -> int:
    return fast_ppo.main(["--timesteps", str(timesteps), "--out", str(tmp_path), *SMALL, *extra])


def test_sampling_never_picks_a_masked_action_and_follows_the_logits():
    generator = torch.Generator().manual_seed(0)
    mask = torch.rand(500, 40, generator=generator) < 0.3
    mask[:, 7] = True
    logits = mask_logits(torch.randn(500, 40, generator=generator), ~mask)
    actions = sample_actions(logits, generator)
    assert mask.gather(1, actions[:, None]).all()
    # Frequencies match the softmax of one row.
    row = torch.tensor([0.0, 1.0, 2.0, MASKED_LOGIT]).repeat(20000, 1)
    counts = torch.bincount(sample_actions(row, generator), minlength=4).double() / 20000
    np.testing.assert_allclose(counts.numpy(), torch.softmax(row[0], 0).numpy(), atol=0.015)


def test_masked_actions_have_probability_zero_and_gradients_stay_finite():
    raw = torch.tensor([[0.5, 3.0, 1.0, 2.0]], requires_grad=True)
    forbidden = torch.tensor([[False, True, False, True]])
    logits = mask_logits(raw, forbidden)
    log_prob, entropy = log_prob_and_entropy(logits, torch.tensor([2]))
    (log_prob.sum() + entropy.sum()).backward()
    assert torch.isfinite(raw.grad).all() and (raw.grad[forbidden] == 0).all()
    assert (torch.softmax(logits, -1)[forbidden] == 0).all()
    # The same log-probability and entropy as the categorical over the allowed actions alone.
    p = torch.softmax(torch.tensor([0.5, 1.0]), 0)
    assert log_prob.item() == pytest.approx(p[1].log().item())
    assert entropy.item() == pytest.approx(-(p * p.log()).sum().item())


@pytest.mark.parametrize("shape", [(64, 30), (3, 16, 30)])  # a minibatch; a population's [members, rows, actions]
def test_the_written_out_gradient_equals_autograds_of_the_plain_formulas(shape):
    generator = torch.Generator().manual_seed(1)
    raw = torch.randn(shape, generator=generator, dtype=torch.float64)
    forbidden = torch.rand(shape, generator=generator) < 0.6
    forbidden[..., 0] = False
    allowed_noise = torch.where(forbidden, -1.0, torch.rand(shape, generator=generator, dtype=torch.float64))
    actions = allowed_noise.argmax(-1)
    weights = torch.rand((2, *shape[:-1]), generator=generator, dtype=torch.float64) - 0.5  # upstream gradients

    def gradient(formula):
        logits = raw.clone().requires_grad_(True)
        log_prob, entropy = formula(mask_logits(logits, forbidden), actions)
        ((log_prob * weights[0]).sum() + (entropy * weights[1]).sum()).backward()
        return log_prob.detach(), entropy.detach(), logits.grad

    def plain(logits, actions):
        log_p = torch.log_softmax(logits, -1)
        return log_p.gather(-1, actions[..., None])[..., 0], -(torch.softmax(logits, -1) * log_p).sum(-1)

    for found, expected in zip(gradient(log_prob_and_entropy), gradient(plain), strict=True):
        torch.testing.assert_close(found, expected, rtol=1e-12, atol=1e-12)


def _rollout(rewards, values, next_values, continues) -> Rollout:
    t = torch.tensor
    shape = (len(rewards), 1)
    zeros = torch.zeros(shape)
    return Rollout(
        inputs=zeros[..., None],
        forbidden=torch.zeros(shape + (1,), dtype=torch.bool),
        actions=torch.zeros(shape, dtype=torch.int64),
        log_probs=zeros,
        values=t(values)[:, None],
        rewards=t(rewards)[:, None],
        next_values=t(next_values)[:, None],
        continues=t(continues)[:, None],
        active=torch.ones(shape),
        teacher_actions=torch.zeros(shape, dtype=torch.int64),
        taught=zeros,
        imitated=zeros,
    )


def test_advantages_bootstrap_a_truncation_but_not_a_termination():
    gamma, lam = 0.9, 0.8
    # Turn 0 continues into turn 1, which ends: truncated (bootstrap 5.0) or terminated (0.0).
    for final in (5.0, 0.0):
        rollout = _rollout([1.0, 2.0], [0.5, 1.5], [1.5, final], [1.0, 0.0])
        adv, returns = advantages(rollout, gamma, lam)
        delta1 = 2.0 + gamma * final - 1.5
        delta0 = 1.0 + gamma * 1.5 - 0.5
        np.testing.assert_allclose(adv[:, 0].numpy(), [delta0 + gamma * lam * delta1, delta1], rtol=1e-6)
        np.testing.assert_allclose(returns.numpy(), adv.numpy() + np.array([[0.5], [1.5]]), rtol=1e-6)


def test_a_run_writes_its_outputs_and_the_same_seed_gives_the_same_weights(tmp_path):
    assert run(tmp_path / "a") == 0
    assert run(tmp_path / "b") == 0
    for name in ("model.pt", "config.json", "metrics.json"):
        assert (tmp_path / "a" / name).is_file()
    metrics = json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert metrics["finished"] and metrics["num_timesteps"] >= 800 and metrics["algo"] == "fast_ppo"
    assert metrics["episodes"]["security"] > 0 and metrics["curve"]
    latest, _ = find_latest(tmp_path / "a" / "checkpoints")
    assert metrics["checkpoint_bytes"] == latest.stat().st_size  # the disk a checkpoint takes, episodes included
    assert 20 * 2**20 < metrics["peak_memory_bytes"] < 2**40  # the process's memory at its peak, in bytes
    # The report's learning-curve panel draws this run's curve (it once drew nothing: it read another format).
    lines, (xs, mean) = learning_curve_series({0: metrics["curve"]})["security"]
    points = [p for p in metrics["curve"] if p["security"] is not None]
    assert xs == [p["timesteps"] for p in points] and mean == [p["security"] for p in points] and len(lines) == 1
    assert list((tmp_path / "a" / "tb").iterdir())
    a, b = load_agent(tmp_path / "a" / "model.pt"), load_agent(tmp_path / "b" / "model.pt")
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.equal(x, y), name
    assert run(tmp_path / "c", "--seed", "1") == 0
    c = load_agent(tmp_path / "c" / "model.pt")
    assert not torch.equal(a.critic[0].weight, c.critic[0].weight)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_both_world_backends_train(tmp_path, backend):
    assert run(tmp_path, "--backend", backend, "--doctrine", "mixed") == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["backend"] == backend
    assert set(metrics["mean_episode_return"]) == {"security", "power"}


def test_resume_continues_from_the_checkpoint(tmp_path, capsys):
    assert run(tmp_path, timesteps=400) == 0
    first = find_latest(tmp_path / "checkpoints")
    assert first is not None and first[1]["num_timesteps"] == 3 * ROLLOUT
    # Without --resume an existing run is refused; with it the run goes on to the new target.
    with pytest.raises(SystemExit, match="--resume"):
        run(tmp_path, timesteps=1000)
    capsys.readouterr()
    assert run(tmp_path, "--resume", timesteps=1000) == 0
    # The learning rate anneals to the new target: the resume says the run is not a 1,000-step one bit for bit.
    assert (
        "note: --timesteps 1,000 where the run was trained toward 400: the learning rate anneals to 0, counted to "
        "1,000; so from here the run differs from one trained to 1,000 in one go"
    ) in capsys.readouterr().err
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["resumed"] and metrics["start_timesteps"] == 3 * ROLLOUT and metrics["num_timesteps"] == 6 * ROLLOUT
    with pytest.raises(SystemExit, match="differs in --n-steps"):
        fast_ppo.main(["--timesteps", "2000", "--out", str(tmp_path), "--resume", *SMALL[:2], "--n-steps", "4"])


def test_a_run_made_at_the_old_defaults_resumes_with_them_given(tmp_path):
    """The defaults of the learning rate and the entropy bonus moved (3e-4 and 0.01 until 2026-12-06): a run made at
    the old ones is refused under the new, its own values named beside the ones given, and goes on with them."""
    old = ("--learning-rate", "0.0003", "--ent-coef", "0.01")
    assert run(tmp_path, *old, timesteps=ROLLOUT) == 0
    differs = r"differs in --learning-rate 0.0003 \(given 0.001\), --ent-coef 0.01 \(given 0.001\)\); valid: "
    with pytest.raises(SystemExit, match=differs):
        run(tmp_path, "--resume", timesteps=2 * ROLLOUT)
    assert run(tmp_path, "--resume", *old, timesteps=2 * ROLLOUT) == 0
    assert json.loads((tmp_path / "metrics.json").read_text())["num_timesteps"] == 2 * ROLLOUT


def test_a_resume_may_step_the_worlds_another_way(tmp_path, capsys):
    """--backend says how the worlds are stepped, not what they are: like --device, it may change on a resume. The
    default "auto" is numpy on a CPU, so a run trained with --backend numpy goes on with its episodes under way;
    torch worlds cannot take numpy worlds' state, so there the episodes restart, and the resume says so."""
    assert run(tmp_path, "--backend", "numpy", timesteps=ROLLOUT) == 0
    capsys.readouterr()
    assert run(tmp_path, "--resume", timesteps=2 * ROLLOUT) == 0
    assert "restart from fresh worlds" not in capsys.readouterr().err
    assert run(tmp_path, "--resume", "--backend", "torch", timesteps=3 * ROLLOUT) == 0
    assert "the episodes under way restart from fresh worlds" in capsys.readouterr().err
    assert json.loads((tmp_path / "metrics.json").read_text())["num_timesteps"] == 3 * ROLLOUT


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_a_resumed_run_goes_on_bit_for_bit_as_if_it_had_never_stopped(tmp_path, backend):
    assert_resumes_bit_for_bit(tmp_path, "--backend", backend)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_on_cuda_a_resumed_run_goes_on_bit_for_bit(tmp_path):
    """(benchmarks.device_check runs it where a GPU is lent: whether its kernels keep a resume exact.)"""
    assert_resumes_bit_for_bit(tmp_path, "--device", "cuda")


def assert_resumes_bit_for_bit(tmp_path: Path, *device_flags: str) -> None:
    """6 rollouts straight against 3, a resume and 3 more: the same weights, curve and returns."""
    # Scripted background nations and teachers remember the episodes under way; the checkpoint keeps those episodes.
    # The target moves at the resume, so nothing here may depend on it: a fixed learning rate and teacher weight.
    flags = [*device_flags, "--no-anneal-lr", "--background", "tit_for_tat,offensive_realist"]
    flags += ["--background-share", "0.5", "--teachers", "security=defensive_realist"]
    flags += ["--kickstart-coef", "0.5", "--kickstart-final", "0.5"]
    assert run(tmp_path / "straight", *flags, timesteps=6 * ROLLOUT) == 0
    assert run(tmp_path / "resumed", *flags, timesteps=3 * ROLLOUT) == 0  # stops mid-episode (10 turns, 8 a rollout)
    assert run(tmp_path / "resumed", *flags, "--resume", timesteps=6 * ROLLOUT) == 0
    straight, resumed = load_agent(tmp_path / "straight" / "model.pt"), load_agent(tmp_path / "resumed" / "model.pt")
    for (name, x), (_, y) in zip(straight.state_dict().items(), resumed.state_dict().items(), strict=True):
        assert torch.equal(x, y), name
    metrics = [json.loads((tmp_path / run_dir / "metrics.json").read_text()) for run_dir in ("straight", "resumed")]
    for key in ("curve", "selfplay_curve", "episodes", "mean_episode_return"):
        assert metrics[0][key] == metrics[1][key], key
    assert metrics[1]["resumed"] and metrics[1]["start_timesteps"] == 3 * ROLLOUT


def test_a_resumed_population_goes_on_bit_for_bit(tmp_path):
    flags = ["--population", "2", "--no-anneal-lr", "--background", "offensive_realist", "--background-share", "0.5"]
    assert run(tmp_path / "straight", *flags, timesteps=6 * ROLLOUT) == 0
    assert run(tmp_path / "resumed", *flags, timesteps=3 * ROLLOUT) == 0
    assert run(tmp_path / "resumed", *flags, "--resume", timesteps=6 * ROLLOUT) == 0
    for member in ("seed0", "seed1"):
        straight = load_agent(tmp_path / "straight" / member / "model.pt")
        resumed = load_agent(tmp_path / "resumed" / member / "model.pt")
        for (name, x), (_, y) in zip(straight.state_dict().items(), resumed.state_dict().items(), strict=True):
            assert torch.equal(x, y), (member, name)
        metrics = [json.loads((tmp_path / d / member / "metrics.json").read_text()) for d in ("straight", "resumed")]
        for key in ("curve", "selfplay_curve"):  # the member's own curves, the second over its self-play worlds
            assert metrics[0][key] == metrics[1][key] and any(p["security"] is not None for p in metrics[0][key])


def test_a_population_never_writes_its_members_over_another_run(tmp_path, capsys):
    assert run(tmp_path / "runs" / "seed1", "--seed", "1", "--doctrine", "power", timesteps=ROLLOUT) == 0
    model = (tmp_path / "runs" / "seed1" / "model.pt").read_bytes()
    with pytest.raises(SystemExit, match="seed1 holds a different run .*--doctrine"):
        run(tmp_path / "pop", "--population", "2", "--members-dir", str(tmp_path / "runs"), timesteps=ROLLOUT)
    with pytest.raises(SystemExit, match="seed1 holds a finished run"):  # the same settings: it would train it again
        run(tmp_path / "pop", "--population", "2", "--doctrine", "power", "--members-dir", str(tmp_path / "runs"),
            timesteps=ROLLOUT)  # fmt: skip
    with pytest.raises(SystemExit, match="is member seed0's folder"):
        run(tmp_path / "x" / "seed0", "--population", "2", "--members-dir", str(tmp_path / "x"), timesteps=ROLLOUT)
    assert (tmp_path / "runs" / "seed1" / "model.pt").read_bytes() == model
    assert not (tmp_path / "runs" / "seed0").exists() and not (tmp_path / "x").exists()


def test_a_finished_population_reports_its_members_mean_return(tmp_path, capsys):
    assert run(tmp_path, "--population", "2", timesteps=2 * ROLLOUT) == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    members = [m["mean_episode_return"]["security"] for m in metrics["members"]]
    assert metrics["mean_episode_return"]["security"] == pytest.approx(sum(members) / 2)
    capsys.readouterr()
    assert run(tmp_path, "--population", "2", timesteps=2 * ROLLOUT) == 0
    assert f"security {sum(members) / 2:.3f}" in capsys.readouterr().out  # "nothing to do, the run is finished: ..."


def test_a_checkpoint_without_the_episodes_under_way_resumes_with_fresh_worlds(tmp_path, monkeypatch):
    # As a checkpoint of a run whose scripted policy keeps Python objects in memory, or one written before
    # checkpoints held the episodes, does.
    monkeypatch.setattr(Trainer, "episodes_saved", property(lambda self: False))
    assert run(tmp_path, timesteps=3 * ROLLOUT) == 0
    found = find_latest(tmp_path / "checkpoints")
    assert found is not None and "episodes" not in found[1] and "env_rng" in found[1]
    monkeypatch.undo()
    assert run(tmp_path, "--resume", timesteps=6 * ROLLOUT) == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["resumed"] and metrics["num_timesteps"] == 6 * ROLLOUT and metrics["episodes"]["security"] > 0
    found = find_latest(tmp_path / "checkpoints")
    assert found is not None and "episodes" in found[1]


def test_a_resume_whose_scripted_policies_keep_python_objects_says_that_the_episodes_restart(tmp_path, capsys):
    """Their memories are no arrays a checkpoint holds: the episodes restart (as documented), and now it says so, as a
    resume on another device does, naming the policies."""
    from agents import Policy, register_policy

    class Stepper(Policy):  # step-only, its memory a Python object
        name = "stepper"

        def initial_state(self):
            return {"turns": 0}

        def step(self, observation, state, rng):
            return 0, {"turns": state["turns"] + 1}

    register_policy(Stepper)
    flags = ["--background", "stepper", "--background-share", "0.5", "--teachers", "security=stepper"]
    assert run(tmp_path, *flags, timesteps=3 * ROLLOUT) == 0
    assert "episodes" not in find_latest(tmp_path / "checkpoints")[1]
    capsys.readouterr()
    assert run(tmp_path, *flags, "--resume", timesteps=6 * ROLLOUT) == 0
    assert (
        "the episodes under way restart from fresh worlds: the background policy 'stepper', the teacher policy "
        "'stepper' keep their memories as Python objects (not array code), which a checkpoint does not hold"
    ) in capsys.readouterr().err


def test_a_run_resumed_on_another_device_goes_on_with_fresh_worlds_and_streams(tmp_path, capsys):
    # --device may change at a resume. A checkpoint written on a GPU holds a CUDA generator's state (16 bytes, not a
    # CPU one's 5,056) and float32 torch worlds; here one is made from a CPU run's by changing those entries.
    assert run(tmp_path, "--background", "offensive_realist", "--background-share", "0.5", timesteps=3 * ROLLOUT) == 0
    path, state = find_latest(tmp_path / "checkpoints")
    state["generator"] = torch.zeros(16, dtype=torch.uint8)
    worlds = state["episodes"]["worlds"]
    worlds["world"] = {
        name: array.to(torch.float32) if array.is_floating_point() else array for name, array in worlds["world"].items()
    }
    worlds["backend"] = "torch"
    torch.save(state, path)
    capsys.readouterr()
    assert (
        run(
            tmp_path,
            "--background",
            "offensive_realist",
            "--background-share",
            "0.5",
            "--resume",
            timesteps=6 * ROLLOUT,
        )
        == 0
    )
    err = capsys.readouterr().err
    assert "the trainer's sampling generator goes on from its seed: its saved state is another device's" in err
    assert "the episodes under way restart from fresh worlds: the state was saved from a 'torch' batch" in err
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["finished"] and metrics["num_timesteps"] == 6 * ROLLOUT


def test_sigterm_saves_a_checkpoint_and_resume_finishes(tmp_path):
    every = ["--checkpoint-every", str(ROLLOUT)]
    command = [
        sys.executable,
        "-m",
        "train.fast_ppo",
        "--timesteps",
        "10000000",
        "--out",
        str(tmp_path),
        *SMALL,
        *every,
    ]
    process = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while find_latest(tmp_path / "checkpoints") is None and time.monotonic() < deadline:  # some rollouts done
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGTERM, stderr
    found = find_latest(tmp_path / "checkpoints")
    assert found is not None and found[1]["num_timesteps"] > 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert not metrics["finished"]
    target = found[1]["num_timesteps"] + ROLLOUT
    assert run(tmp_path, "--resume", timesteps=target) == 0


def test_a_non_finite_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch, capsys):
    original = Trainer.update
    calls = {"n": 0}

    def update(self, rollout):
        losses = original(self, rollout)
        calls["n"] += 1
        return losses if calls["n"] < 3 else {**losses, "value": torch.tensor(float("nan"))}

    monkeypatch.setattr(Trainer, "update", update)
    assert run(tmp_path, "--checkpoint-every", str(ROLLOUT), timesteps=20 * ROLLOUT) == 1
    assert "the training diverged at 576 timesteps: the value loss is nan" in capsys.readouterr().err
    found = find_latest(tmp_path / "checkpoints")
    assert found is not None and found[1]["num_timesteps"] == 2 * ROLLOUT  # written after the second, good update
    assert not (tmp_path / "model.pt").exists()


def test_a_resume_toward_other_timesteps_names_every_schedule_that_moves(tmp_path, capsys):
    """The teachers' kickstart and imitation are shares of --timesteps too: without annealing they still move."""
    flags = ["--doctrine", "power", "--no-anneal-lr", "--teachers", "power=offensive_realist"]
    flags += ["--kickstart-until", "0.75", "--imitate-until", "0.25"]
    assert run(tmp_path, *flags, timesteps=2 * ROLLOUT) == 0
    capsys.readouterr()
    assert run(tmp_path, *flags, "--resume", timesteps=3 * ROLLOUT) == 0
    assert (
        f"note: --timesteps {3 * ROLLOUT:,} where the run was trained toward {2 * ROLLOUT:,}: the teachers' kickstart "
        f"lasts --kickstart-until 0.75 of it; the imitation lasts --imitate-until 0.25 of it, counted to "
        f"{3 * ROLLOUT:,}"
    ) in capsys.readouterr().err


@pytest.mark.parametrize("symptom", ["weights", "forbidden actions"])
def test_a_diverged_network_stops_the_run_though_its_losses_are_finite(tmp_path, monkeypatch, capsys, symptom):
    """After the second update the network's weights turn NaN, or its policy plays actions the mask forbids (what
    logits beyond the mask's 1e9 do): the run stops there, and the checkpoint it keeps is the one before."""
    original_update, original_sample = Trainer.update, trainer_module.sample_actions
    calls = {"n": 0}

    def update(self, rollout):
        losses = original_update(self, rollout)
        calls["n"] += 1
        if calls["n"] >= 3 and symptom == "weights":
            with torch.no_grad():
                next(iter(self.networks.parameters()))[0] = float("nan")
        return losses

    def sample(logits, generator):
        chosen = original_sample(logits, generator)
        return logits.argmin(dim=-1) if calls["n"] >= 2 and symptom != "weights" else chosen

    monkeypatch.setattr(Trainer, "update", update)
    monkeypatch.setattr(trainer_module, "sample_actions", sample)
    assert run(tmp_path, "--checkpoint-every", str(ROLLOUT), timesteps=20 * ROLLOUT) == 1
    error = capsys.readouterr().err
    assert "the training diverged at" in error and "in a new --out" in error
    expected = "a weight is not finite" if symptom == "weights" else "actions its mask forbids"
    assert expected in error
    found = find_latest(tmp_path / "checkpoints")
    assert found is not None and found[1]["num_timesteps"] == 2 * ROLLOUT
    assert all(torch.isfinite(weights).all() for weights in found[1]["agent"].values())


def test_an_infinite_approx_kl_alone_is_logged_and_does_not_stop_the_run(tmp_path, monkeypatch):
    """approx_kl is a diagnostic: infinite whenever an action's probability falls past float32's range."""
    original = Trainer.update

    def update(self, rollout):
        return {**original(self, rollout), "approx_kl": torch.tensor([float("inf")])}

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    monkeypatch.setattr(Trainer, "update", update)
    assert run(tmp_path, timesteps=2 * ROLLOUT) == 0
    assert (tmp_path / "model.pt").exists()
    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    assert [event.value for event in events.Scalars("loss/approx_kl")] == [math.inf, math.inf]


def test_a_resume_after_a_crash_drops_the_tensorboard_steps_logged_past_its_checkpoint(tmp_path):
    """A run killed after its checkpoint at 2 rollouts had logged up to 4: resumed, each step has one value."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    assert run(tmp_path, "--checkpoint-every", str(2 * ROLLOUT), "--keep-checkpoints", "5", timesteps=4 * ROLLOUT) == 0
    latest, _ = find_latest(tmp_path / "checkpoints")
    latest.unlink()  # as if it died before the checkpoint at 4 rollouts
    assert find_latest(tmp_path / "checkpoints")[1]["num_timesteps"] == 2 * ROLLOUT
    assert run(tmp_path, "--resume", timesteps=5 * ROLLOUT) == 0
    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    steps = [event.step for event in events.Scalars("loss/policy")]
    assert steps == [k * ROLLOUT for k in range(1, 6)]


def _stopped_run(tmp_path: Path, timesteps: int = 4 * ROLLOUT) -> Path:
    """A run's folder as a run stopped at 2 rollouts leaves it (checkpoints, config.json, metrics.json, tb/)."""
    assert run(tmp_path, "--checkpoint-every", str(ROLLOUT), timesteps=2 * ROLLOUT) == 0
    (tmp_path / "model.pt").unlink()
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    (tmp_path / "metrics.json").write_text(json.dumps({**metrics, "finished": False, "target_timesteps": timesteps}))
    return tmp_path


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_run_whose_checkpoints_are_all_unreadable_is_refused_not_trained_again_over(tmp_path, capsys):
    """Truncated checkpoints (a disk that filled, a copy cut short) are passed over for an older readable one; where
    none is readable, --resume (or a start without it) once said "no checkpoint: starting afresh" and trained the run
    again from step 0 over its metrics.json, checkpoints and TensorBoard logs."""
    out = _stopped_run(tmp_path)
    for path in sorted((out / "checkpoints").glob("ckpt_*.pt")):
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    before = _snapshot(out)
    for extra in (["--resume"], []):
        with pytest.raises(SystemExit) as stop:
            run(out, *extra, timesteps=4 * ROLLOUT)
        message = str(stop.value.code)
        assert f"ckpt_{ROLLOUT:012d}.pt, ckpt_{2 * ROLLOUT:012d}.pt: truncated or corrupt" in message, message
        assert f"valid: put back a readable checkpoint, or move {out / 'checkpoints'} away" in message
        assert _snapshot(out) == before  # nothing of the run written over
    # A readable older one is resumed from, and the resume names the newer one it passed over.
    good = tmp_path / "good"
    _stopped_run(good)
    newest = good / "checkpoints" / f"ckpt_{2 * ROLLOUT:012d}.pt"
    newest.write_bytes(newest.read_bytes()[:1000])
    capsys.readouterr()
    assert run(good, "--resume", timesteps=4 * ROLLOUT) == 0
    err = capsys.readouterr().err
    assert f"note: {newest.name} in" in err and "cannot be read (truncated or corrupt): passed over" in err
    assert f"from ckpt_{ROLLOUT:012d}.pt at {ROLLOUT} timesteps" in err


def test_a_checkpoint_of_another_run_is_refused_and_leaves_the_run_as_it_was(tmp_path):
    """A checkpoint copied in from another run (another network, doctrine or seed) once loaded half-way and failed with
    torch's traceback, or, where the shapes matched, went on training the other run's weights under these settings.
    A checkpoint now holds its run's record, and a resume compares it; one written before (no record) that does not
    fit says so in a line."""
    mine, other = _stopped_run(tmp_path / "mine"), tmp_path / "other"
    assert run(other, "--net-arch", "32", "--seed", "3", timesteps=2 * ROLLOUT) == 0
    foreign = sorted((other / "checkpoints").glob("ckpt_*.pt"))[-1]
    target, _ = find_latest(mine / "checkpoints")  # the one a resume takes, replaced by the other run's
    target.write_bytes(foreign.read_bytes())
    before = _snapshot(mine)
    refused = rf"{target.name} is the checkpoint of a different run than {mine / 'config.json'} \(it differs in "
    # each setting with the checkpoint's value and, in brackets, config.json's
    differs = r"--seed 3 \(config.json has 0\), --net-arch 32 \(config.json has 64,64\)\); valid: the run's own"
    with pytest.raises(SystemExit, match=refused + differs):
        run(mine, "--resume", timesteps=4 * ROLLOUT)
    assert _snapshot(mine) == before
    # A checkpoint written before checkpoints held their run's record: the load fails in one line naming the file.
    state = torch.load(target, weights_only=True)
    del state["run_record"]
    torch.save(state, target)
    before = _snapshot(mine)
    unfit = rf"{target.name} does not fit the run of these settings \(Error\(s\) in loading state_dict for Agent: "
    with pytest.raises(SystemExit, match=unfit + r".*\); valid: the settings it was trained with, or move it"):
        run(mine, "--resume", timesteps=4 * ROLLOUT)
    assert _snapshot(mine) == before  # config.json among them: written only once a checkpoint has loaded


def test_a_run_whose_config_json_is_unreadable_resumes_only_under_its_own_settings(tmp_path):
    """An emptied config.json once let --resume take any settings: a security run's checkpoint went on training as
    power, and power's settings were written over its config.json. The checkpoint's own record now decides; a
    checkpoint without one (written before) and an unreadable config.json are refused."""
    out = _stopped_run(tmp_path)
    (out / "config.json").write_text("")
    with pytest.raises(SystemExit, match="is the checkpoint of a different run than these settings .it differs in "
                       "--doctrine"):  # fmt: skip
        run(out, "--resume", "--doctrine", "power", timesteps=4 * ROLLOUT)
    assert (out / "config.json").read_text() == ""
    for path in (out / "checkpoints").glob("ckpt_*.pt"):  # as checkpoints written before they held the record
        state = torch.load(path, weights_only=True)
        del state["run_record"]
        torch.save(state, path)
    unreadable = r"config.json is unreadable \(empty, truncated or not a JSON object\), so the run in .* cannot be "
    with pytest.raises(SystemExit, match=unreadable + "checked against these settings; valid: put back"):
        run(out, "--resume", timesteps=4 * ROLLOUT)
    assert (out / "config.json").read_text() == ""


def test_loading_never_unpickles_arbitrary_objects(tmp_path):
    class Payload:
        def __reduce__(self):
            return (os.system, ("echo owned > " + str(tmp_path / "owned"),))

    path = tmp_path / "model.pt"
    torch.save({"agent": Payload(), "agent_shape": {}}, path)
    with pytest.raises(pickle.UnpicklingError):
        load_agent(path)
    assert not (tmp_path / "owned").exists()


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--n-worlds", "0", "--n-worlds=0 is invalid; valid: an integer >= 1"),
        ("--gamma", "1.5", "--gamma=1.5 is invalid"),
        ("--net-arch", "64,x", "--net-arch='64,x' is invalid"),
        ("--device", "quantum", "--device='quantum' is invalid; valid: cpu, cuda, cuda:N"),
        ("--device", "auto", "--device='auto' is invalid; valid: cpu, cuda, cuda:N"),
        ("--device", "meta", "--device='meta' is invalid; valid: cpu, cuda, cuda:N"),  # a torch device, not a trainer's
        ("--seed", "-1", "--seed=-1 is invalid; valid: an integer from 0 to 4294967295"),
        ("--learning-rate", "inf", "--learning-rate=inf is invalid; valid: a finite number > 0"),
        ("--ent-coef", "nan", "--ent-coef=nan is invalid; valid: a finite number >= 0"),
        ("--set", "max_cycles=80", "the episode length is given twice; valid: --max-cycles N or --set max_cycles=N"),
        # options that act only with another would be ignored, then hold a resume that leaves them out
        ("--n-focal", "2", "--n-focal=2 acts only with --background; valid: add --background, or leave --n-focal out"),
        ("--kickstart-coef", "5", "--kickstart-coef=5.0 acts only with --teachers"),
        ("--kickstart-final", "0.3", "--kickstart-final=0.3 acts only with --teachers"),
        ("--kickstart-until", "0.5", "--kickstart-until=0.5 acts only with --teachers"),
    ],
)
def test_bad_arguments_name_the_culprit(tmp_path, capsys, flag, value, message):
    with pytest.raises(SystemExit) as exit_info:
        fast_ppo.main(["--out", str(tmp_path / "run"), "--max-cycles", "50", flag, value])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()  # refused before anything is written


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--cuda-graphs"], "--cuda-graphs needs the torch backend; valid: add --backend torch (or --device cuda)"),
        (["--compile-worlds", "--backend", "numpy"], "--compile-worlds needs the torch backend"),
        (
            ["--compile-worlds", "--cuda-graphs", "--backend", "torch"],
            "--compile-worlds and --cuda-graphs are two ways to compile the step; valid: one of them",
        ),
    ],
)
def test_compiling_the_worlds_needs_the_torch_backend_and_one_way(tmp_path, capsys, flags, message):
    with pytest.raises(SystemExit) as exit_info:
        fast_ppo.main(["--out", str(tmp_path / "run"), *flags])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_an_episode_longer_than_float32_worlds_hold_is_refused_before_anything_is_written(
    tmp_path, capsys, monkeypatch
):
    # A GPU's worlds are float32; on this CPU, float32 torch worlds stand in for them.
    def float32_backend(name, device=None, dtype=None):
        return resolve_backend(name, device, "float32")

    monkeypatch.setattr(fast_ppo, "resolve_backend", float32_backend)
    argv = ["--out", str(tmp_path / "run"), "--backend", "torch", "--max-cycles", "2427"]
    with pytest.raises(SystemExit) as exit_info:
        fast_ppo.main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "--max-cycles=2427 is too long for float32 worlds" in err
    assert "valid: --max-cycles <= 2,426, or --device cpu (float64 worlds: up to 23,437)" in err
    assert not (tmp_path / "run").exists()
    args, config = fast_ppo.parse_args([*argv[:-1], "2426"])  # the longest it holds
    assert config.max_cycles == 2426


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_a_cuda_device_on_a_machine_without_one_is_refused_before_anything_is_written(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        fast_ppo.main(["--out", str(tmp_path / "run"), "--device", "cuda"])
    assert exit_info.value.code == 2
    assert "--device='cuda' is invalid: torch sees no CUDA device here; valid: cpu\n" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_security_nations_learn_in_self_play(tmp_path):
    # 300k agent-steps (about 20 s on 2 CPU cores): the mean episode return of security nations rises well above
    # where the untrained policy starts.
    assert fast_ppo.main(["--timesteps", "300000", "--out", str(tmp_path), "--no-progress-bar"]) == 0
    curve = [point["security"] for point in json.loads((tmp_path / "metrics.json").read_text())["curve"]]
    known = [value for value in curve if value is not None]  # a point from the first episode length of turns on
    assert known[-1] > known[0] + 5.0, curve


def _trainer(**changes):
    from train.run_args import make_config

    settings = {"n_worlds": 4, "n_steps": 8, "batch_size": 64, "max_cycles": 10, "progress_bar": False}
    args = fast_ppo.Args(**{**settings, **changes})
    return Trainer(args, make_config(args))


def test_a_batch_size_that_does_not_divide_the_rollout_is_warned_about():
    """4 worlds x 6 nations x 8 turns = 192 rows: 64 divides them (no warning); 100 leaves a minibatch of 92; 500 is
    more than a rollout."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _trainer(batch_size=64)
    with pytest.warns(UserWarning, match=r"--batch-size 100 does not divide a rollout's 192 rows .* minibatch of 92"):
        _trainer(batch_size=100)
    with pytest.warns(UserWarning, match=r"--batch-size 500 is more than a rollout's 192 rows .* one minibatch of 192"):
        _trainer(batch_size=500)


def test_background_nations_play_their_scripted_policy_and_are_left_out_of_learning():
    trainer = _trainer(background="status_quo", background_share=0.5, n_focal=2)
    assert trainer.background.n_worlds == 2
    rollout = trainer.collect()
    # Worlds 0 and 1: nations 2.. wait at the middle arms level every turn (status_quo); the learners act.
    world = trainer.batch.world
    assert (world.last_act[:2, 2:] == 0).all() and (world.arms_level[:2, 2:] == 2).all()
    weight = rollout.active.reshape(8, 4, 6)
    assert (weight[:, :2, 2:] == 0).all() and (weight[:, :2, :2] == 1).all() and (weight[:, 2:] == 1).all()
    losses = trainer.update(rollout)
    assert all(torch.isfinite(v) for v in losses.values())


def test_the_learning_curve_counts_the_learners_episodes_alone():
    # 4-turn episodes, 8 turns: every nation's episode ends once in each of its world's two episodes (eliminated or at
    # the end). The learners are 2 nations in each of the 2 background worlds and all 6 in the other 2: 16 slots.
    trainer = _trainer(background="status_quo", background_share=0.5, n_focal=2, max_cycles=4)
    trainer.collect()
    total, count = trainer.stats.take()  # per turn: the doctrines of the self-play worlds, then the others'
    security, n_doctrines = trainer.doctrine_names.index("security"), len(trainer.doctrine_names)
    # each world's ends, at turns 4 and 8: 6 learners in each self-play world, 2 in each world with a background (its
    # 4 scripted nations' episodes, which earn nothing, would make 8 more)
    assert [turn[security] for turn in count] == [0, 0, 0, 12, 0, 0, 0, 12]
    assert [turn[n_doctrines + security] for turn in count] == [0, 0, 0, 4, 0, 0, 0, 4]


def test_a_populations_members_count_their_own_worlds_of_each_kind():
    """The groups the run loop slices per member (train.fast_ppo): member m's self-play worlds' doctrines, then its
    worlds with a background, at (m * 2 + kind) * doctrines + doctrine."""
    trainer = _trainer(background="status_quo", background_share=0.5, n_focal=2, max_cycles=4, population=2)
    trainer.collect()
    _, count = trainer.stats.take()
    n_doctrines = len(trainer.doctrine_names)
    security = trainer.doctrine_names.index("security")
    for member in range(2):
        selfplay, background = [(member * 2 + kind) * n_doctrines + security for kind in (0, 1)]
        assert [turn[selfplay] for turn in count] == [0, 0, 0, 12, 0, 0, 0, 12], member  # 2 worlds x 6 learners
        assert [turn[background] for turn in count] == [0, 0, 0, 4, 0, 0, 0, 4], member  # 2 worlds x 2 learners


def test_an_eliminated_nations_episode_is_counted_when_its_world_ends():
    # The curve counts whole worlds, so a window holding few world ends is not weighed down by early eliminations.
    trainer = _trainer(n_worlds=8, max_cycles=30, n_steps=24)
    trainer.collect()  # 24 turns of 30: nations were eliminated, no world has ended
    assert (~trainer.batch.world.alive).sum() > 0
    assert sum(map(sum, trainer.stats.take()[1])) == 0
    trainer.collect()  # every world ended at turn 30 (the 6th of this rollout): all 8 x 6 nations' episodes
    assert [sum(turn) for turn in trainer.stats.take()[1]][:7] == [0] * 5 + [8 * 6, 0]


def test_each_point_of_the_learning_curve_is_the_mean_over_the_last_episode_length_of_turns(tmp_path):
    # Episodes of 10 turns, rollouts of 4: a point needs 10 turns seen, then averages the worlds that ended in the
    # last 10 turns (one common end of every world in each full window).
    log = fast_ppo.MemberLog(tmp_path, 0, ["security"], window=10, state={})
    # per turn, the sums of the self-play worlds and of the worlds with a background (no background here)
    one_end = [[0.0, 0.0]] * 3 + [[60.0, 0.0]]  # a rollout of 4 turns whose last turn ends 2 episodes worth 30 each
    none = [[0.0, 0.0]] * 4
    counts_end, counts_none = [[0.0, 0.0]] * 3 + [[2.0, 0.0]], [[0.0, 0.0]] * 4
    assert log.add(4, none, counts_none, [(0, "security")])["security"] is None
    assert log.add(8, none, counts_none, [(0, "security")])["security"] is None  # 8 turns seen: not a full window
    assert log.add(12, one_end, counts_end, [(0, "security")])["security"] == 30.0
    assert log.add(16, none, counts_none, [(0, "security")])["security"] == 30.0  # turns 7-16 hold that end
    assert log.add(20, none, counts_none, [(0, "security")])["security"] == 30.0  # turns 11-20: that end still
    assert log.add(24, none, counts_none, [(0, "security")])["security"] is None  # turns 15-24: no world ended
    assert log.totals == {"security": 60.0} and log.counts == {"security": 2.0}
    assert log.selfplay_curve is None and "selfplay_curve" not in log.state()  # a run without a background
    log.writer.close()


def test_with_a_background_a_second_curve_counts_the_self_play_worlds_alone(tmp_path):
    """The curve counts every world's learners; the self-play curve only those of the worlds without a background,
    which the experiment's self-play evaluation resembles; both go on from a checkpoint's state."""
    log = fast_ppo.MemberLog(tmp_path, 0, ["security"], window=2, state={}, background=True)
    # 2 turns: the self-play worlds end 3 episodes worth 70 each, the others 1 learner's worth 40
    point = log.add(2, [[0.0, 0.0], [210.0, 40.0]], [[0.0, 0.0], [3.0, 1.0]], [(0, "security")])
    assert point["security"] == 62.5 and log.selfplay_curve.points[-1]["security"] == 70.0
    assert log.totals == {"security": 250.0} and log.counts == {"security": 4.0}
    state = log.state()
    log.writer.close()
    resumed = fast_ppo.MemberLog(tmp_path, 0, ["security"], window=2, state=state, resumed_at=2, background=True)
    point = resumed.add(4, [[0.0, 0.0], [60.0, 50.0]], [[0.0, 0.0], [1.0, 1.0]], [(0, "security")])
    assert point["security"] == 55.0 and resumed.selfplay_curve.points[-1]["security"] == 60.0
    assert [p["security"] for p in resumed.selfplay_curve.points] == [70.0, 60.0]
    resumed.writer.close()


def test_background_worlds_reset_the_policies_memory_with_their_world():
    trainer = _trainer(background="defensive_realist", background_share=1.0)
    players = trainer.background.players
    [(policy, world, nation)] = players.placements  # one policy: its 4 worlds x 3 background nations
    assert policy.name == "defensive_realist" and len(world) == len(nation) == 4 * 3
    trainer.collect()  # 8 turns of 10: no world has ended, every memory has seen 8 observations
    assert players.memories[0].turn.tolist() == [8] * 12
    trainer.collect()  # the worlds end at turn 10 and restart: every background nation's memory starts afresh
    assert trainer.batch.world.turn[0] == 6 and players.memories[0].turn.tolist() == [6] * 12


def test_on_torch_worlds_the_background_plays_on_the_device_as_on_the_host():
    """With torch worlds the scripted background plays where the worlds are (agents.players.DevicePlayers: every slot
    decides, masked writes keep the live ones); the realists, who draw nothing, choose exactly what they choose on
    the host (agents.players.Players), turn after turn, memories and resets included."""
    from realism_env.backend import to_numpy
    from realism_env.batch import WorldBatch
    from train.background import Background

    config = realism_env.EnvConfig.from_scenario("multipolar", max_cycles=12).replace(capability_spread=0.5)
    names = ("offensive_realist", "defensive_realist")
    worlds = WorldBatch(config, 8, seed=3)  # numpy worlds; the device background reads them as tensors
    host = Background(WorldBatch(config, 8, seed=3), names, 6, 2, seed=0)
    device = Background(WorldBatch(config, 8, seed=3, backend="torch"), names, 6, 2, seed=0)
    assert not host.scripted.on_device and device.scripted.on_device
    observations, masks = worlds.reset()
    rng = np.random.default_rng(0)
    ended = 0
    for _ in range(30):
        learners = rng.integers(0, 1, size=(8, config.n_nations))  # WAIT for the learners: any valid action would do
        alive = worlds.world.alive
        on_host = host.act(learners, observations, masks, alive)
        on_device = device.act(
            torch.as_tensor(learners), torch.as_tensor(observations), torch.as_tensor(masks), torch.as_tensor(alive)
        )
        np.testing.assert_array_equal(to_numpy(on_device), on_host)
        out = worlds.step(on_host)
        host.reset(out.world_reset)
        device.reset(torch.as_tensor(out.world_reset))
        observations, masks, ended = out.observations, out.action_mask, ended + int(out.world_reset.sum())
    assert ended >= 8  # every world ended at least once: the memories were reset on both
    # A checkpoint keeps the device background's own stream as well as the host one: a resume draws what it would have
    state = device.scripted.state_dict("background")
    assert set(state) == {"background_rng", "background_generator", "background_memories"}
    ahead = torch.rand(4, generator=device.scripted.generator, dtype=torch.float64)
    device.scripted.load_state_dict(state, "background")
    assert torch.equal(torch.rand(4, generator=device.scripted.generator, dtype=torch.float64), ahead)
    assert set(host.scripted.state_dict("background")) == {"background_rng", "background_memories"}
    assert (on_host[:6, 2:] != 0).any()  # the realists did more than wait


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--background", "hawk"], "unknown background policy 'hawk'; valid:"),
        # a background that names no policy: its nations would play the learner's own samples, out of the loss
        (["--background", " , ", "--background-share", "0.5"], "background ' , ' names no policy; valid:"),
        (["--background-share", "0.5"], "--background-share needs --background"),
        (["--background", "random", "--background-share", "1.5"], "--background-share=1.5 is invalid"),
        (["--background", "random", "--background-share", "0.5", "--n-focal", "6"], "--n-focal=6 is invalid"),
        # a background in no world would leave the run self-play without a word
        (["--background", "random"], "--background random in --background-share=0.0 of --n-worlds=64 is no world"),
        (
            ["--background", "random", "--background-share", "0.1", "--n-worlds", "4"],
            "valid: a share above 0.125 (half a world; 0.25 is one)",
        ),
    ],
)
def test_bad_background_arguments_name_the_culprit(tmp_path, capsys, argv, message):
    with pytest.raises(SystemExit):
        fast_ppo.main(["--out", str(tmp_path), *argv])
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("flags", [["--background", "stepper", "--background-share", "0.5"],
                                   ["--teachers", "security=stepper"]])  # fmt: skip
def test_on_the_torch_backend_a_scripted_policy_that_is_not_array_code_is_refused_before_anything_is_written(
    tmp_path, capsys, flags
):
    from agents import Policy, register_policy

    class Stepper(Policy):  # step-only, as a policy of one's own may be: the host plays it nation by nation
        name = "stepper"

        def step(self, observation, state, rng):
            return 0, state

    register_policy(Stepper)
    out = tmp_path / "run"
    with pytest.raises(SystemExit):
        fast_ppo.main(["--out", str(out), "--backend", "torch", *SMALL, *flags])
    err = capsys.readouterr().err
    assert f"{flags[0]} {flags[1]}: policy 'stepper' is not array code (an agents.ArrayPolicy)" in err
    assert "valid: --backend numpy" in err and not out.exists()


def test_on_the_torch_backend_an_array_policy_written_for_numpy_is_named(tmp_path):
    """Numpy code given tensors returned numpy actions, which failed deep in torch at the first rollout; the error
    names the policy and what it should return, and the run goes on with --backend numpy."""
    from agents import ArrayPolicy, register_policy

    class NumpyArmer(ArrayPolicy):
        name = "numpy_armer"

        def act(self, observations, masks, states, draws):
            return np.zeros(observations.shape[0], dtype=np.int64), states

    register_policy(NumpyArmer)
    out = tmp_path / "run"
    with pytest.raises(ValueError, match=r"^policy 'numpy_armer' returned actions as numpy\.ndarray on cpu; valid: "
                       r"an array like its observations, a torch\.Tensor on cpu"):  # fmt: skip
        run(out, "--backend", "torch", "--background", "numpy_armer", "--background-share", "0.5")
    assert run(tmp_path / "host", "--background", "numpy_armer", "--background-share", "0.5", timesteps=1) == 0


def test_teachers_label_every_live_learner_of_their_doctrine_with_an_allowed_action():
    """Kickstarting (train.kickstart): in a mixed world only the power nations have a teacher here; its labels are
    actions the mask allows, given where the nation is alive and learning, and the offensive realist's label is not
    always WAIT (it makes threats and wars)."""
    trainer = _trainer(doctrine="mixed", teachers="power=offensive_realist", max_cycles=30, n_steps=24, n_worlds=8)
    rollout = trainer.collect()
    power = torch.tensor([d == "power" for d in realism_env.mixed_doctrines(6)]).repeat(8)
    taught = rollout.taught > 0
    assert (taught == (power & (rollout.active > 0))).all()
    labels = rollout.teacher_actions[taught]
    assert not rollout.forbidden[taught].gather(-1, labels[:, None]).any()
    acts = labels // 5 % realism_env.N_ACTS  # the flat action's act (5 target slots)
    assert (acts != int(realism_env.Act.WAIT)).any()
    assert (rollout.teacher_actions[~taught] == 0).all()


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_a_teacher_whose_label_the_mask_forbids_is_refused_naming_it(backend):
    """A forbidden label trained the learners toward an action of log-probability about -1e9 (a kickstart loss of
    some 1e9) in silence; the teachers' shadows now refuse it as the background's players do."""
    from agents import ArrayPolicy, register_policy

    class MaskedOut(ArrayPolicy):  # a teacher of a user's that labels with the first action the mask forbids
        name = "masked_out"

        def act(self, observations, masks, states, draws):
            xp = realism_env.array_namespace(masks)
            return xp.argmax(xp.astype(masks == 0, xp.int64), axis=1), states

    register_policy(MaskedOut)
    with pytest.raises(ValueError, match=r"^policy 'masked_out' chose action \d+ for nation_0 in world 0, which its "
                       "action mask forbids"):  # fmt: skip
        _trainer(backend=backend, teachers="security=masked_out").collect()


def test_the_teachers_weight_falls_linearly_to_its_final_value_and_at_zero_they_are_not_asked():
    from train.kickstart import kickstart_weight

    assert [kickstart_weight(2.0, 0.5, done) for done in (0.0, 0.25, 0.5, 0.9)] == [2.0, 1.0, 0.0, 0.0]
    assert kickstart_weight(1.0, 0.0, 0.0) == 0.0
    anchored_weights = [kickstart_weight(1.0, 0.5, done, final=0.2) for done in (0.0, 0.25, 0.5, 0.9)]
    assert anchored_weights == pytest.approx([1.0, 0.6, 0.2, 0.2])
    trainer = _trainer(teachers="security=defensive_realist", kickstart_until=0.5, timesteps=2 * 8 * 4 * 6)
    first = trainer.collect()
    assert first.taught.sum() > 0 and trainer.update(first)["kickstart"].item() > 0.0
    second = trainer.collect()  # it starts at half the run: no labels, no cross-entropy
    assert second.taught.sum() == 0 and trainer.update(second)["kickstart"].item() == 0.0
    anchored = _trainer(teachers="security=defensive_realist", kickstart_until=0.5, kickstart_final=0.1, timesteps=384)
    anchored.collect()
    assert anchored.collect().taught.sum() > 0  # a final weight above 0 keeps the teachers asked


def test_the_teachers_follow_the_episodes_before_a_rising_weight_and_start_afresh_after_missing_turns():
    """Their labels come from the shadows' memories of the episodes: a schedule rising from 0 has them see every turn
    from the start, and shadows that missed turns (a resume that gave them weight again) forget them."""
    rising = _trainer(teachers="security=defensive_realist", kickstart_coef=0.0, kickstart_final=0.5, timesteps=384)
    first = rising.collect()  # weight 0 at the start: no labels yet, but the shadows saw the turns
    assert first.taught.sum() == 0
    memory = rising.teachers.shadows.players.memory_state()[0]
    assert np.asarray(memory["turn"]).max() == 8  # the 8 turns of the first rollout
    resumed = _trainer(teachers="security=defensive_realist", kickstart_until=0.5, timesteps=4 * 192, max_cycles=50)
    resumed.collect()
    resumed.teachers.idle = True  # as a resume finds them after rollouts played without them
    resumed.collect()
    assert np.asarray(resumed.teachers.shadows.players.memory_state()[0]["turn"]).max() == 8  # not 16
    assert resumed.teachers.state_dict()["teacher_idle"] is False


def test_kickstarting_pulls_the_policy_toward_its_teacher():
    """The cross-entropy toward the teacher's labels makes the learner choose as its teacher does far more often
    than the same run without a teacher."""

    def agreement(teachers: str) -> float:
        trainer = _trainer(
            doctrine="power", teachers=teachers or "power=offensive_realist", kickstart_coef=1.0 if teachers else 0.0,
            kickstart_until=1.0, n_worlds=16, n_steps=16, batch_size=256, n_epochs=4, max_cycles=20, timesteps=10**6,
        )  # fmt: skip
        for _ in range(12):
            trainer.update(trainer.collect())
        trainer.args.kickstart_coef = 1.0  # label one more rollout without learning from it
        rollout = trainer.collect()
        taught = rollout.taught > 0
        with torch.no_grad():
            logits = trainer.agent.masked_logits(rollout.inputs[taught], rollout.forbidden[taught])
        return (logits.argmax(-1) == rollout.teacher_actions[taught]).double().mean().item()

    taught, untaught = agreement("power=offensive_realist"), agreement("")
    assert taught > 0.4 and taught > untaught + 0.3, (taught, untaught)


def test_while_imitating_the_taught_learners_play_their_teachers_choices_and_ppo_skips_those_rows():
    """--imitate-until: behaviour cloning on the teacher's own play. In a mixed world with a power teacher, the
    power learners play the offensive realist's choices (the worlds follow them), the security learners their own
    samples; PPO's policy loss and entropy count the security rows alone, the cross-entropy the power rows."""
    settings = {"doctrine": "mixed", "teachers": "power=offensive_realist", "n_worlds": 8, "n_steps": 12}
    trainer = _trainer(**settings, imitate_until=0.5, timesteps=4 * 12 * 8 * 6)
    rollout = trainer.collect()
    power = torch.tensor([d == "power" for d in realism_env.mixed_doctrines(6)]).repeat(8)
    imitated = rollout.imitated > 0
    assert (imitated == (power & (rollout.active > 0))).all() and (rollout.taught == rollout.imitated).all()
    assert torch.equal(rollout.actions[imitated], rollout.teacher_actions[imitated])
    losses = trainer.update(rollout)
    assert all(torch.isfinite(v).all() for v in losses.values()) and losses["kickstart"].item() > 0
    # with a cross-entropy weight of 0 the teachers are still played (their rows are not the policy's own)
    unweighted = _trainer(**settings, imitate_until=0.5, kickstart_coef=0.0).collect()
    assert unweighted.imitated.sum() > 0
    assert torch.equal(unweighted.actions[unweighted.imitated > 0], unweighted.teacher_actions[unweighted.imitated > 0])
    # PPO's terms are those of the security rows alone: the same as a rollout whose power rows are inactive
    trainer.collect()  # the second half of the run: the teachers are no longer played
    assert trainer.collect().imitated.sum() == 0
    only_security = rollout._replace(active=rollout.active * ~imitated, taught=torch.zeros_like(rollout.taught))
    only_security = only_security._replace(imitated=torch.zeros_like(rollout.imitated))
    # one minibatch of the whole rollout: the losses reported are those of the same fresh network
    one_step = {**settings, "imitate_until": 0.5, "n_epochs": 1, "batch_size": 12 * 8 * 6}
    kept = _trainer(**one_step).update(rollout._replace(taught=torch.zeros_like(rollout.taught)))
    alone = _trainer(**one_step).update(only_security)
    for name in ("policy", "entropy", "approx_kl"):
        assert kept[name].item() == pytest.approx(alone[name].item(), rel=1e-5), name


def test_a_checkpoint_keeps_the_teachers_draws_and_resuming_restores_them():
    trainer = _trainer(doctrine="power", teachers="power=random")  # the random teacher draws for every label
    trainer.collect()
    fresh = _trainer(doctrine="power", teachers="power=random")
    assert fresh.teachers.shadows.rng.bit_generator.state != trainer.teachers.shadows.rng.bit_generator.state
    fresh.load_state_dict(trainer.state_dict())
    assert fresh.teachers.shadows.rng.bit_generator.state == trainer.teachers.shadows.rng.bit_generator.state


@pytest.mark.parametrize(
    ("teachers", "message"),
    [
        ("power", "teacher 'power' is malformed; valid: DOCTRINE=POLICY"),
        ("greed=offensive_realist", "unknown doctrine 'greed'; valid: power, security"),
        ("power=hawk", "unknown policy 'hawk'; valid:"),
        ("power=random,power=bandwagoner", "doctrine 'power' has two teachers"),
        ("power=random --imitate-until 1.5", "--imitate-until=1.5 is invalid; valid: a share 0 <= until <= 1"),
        ("power=random --kickstart-final -1", "--kickstart-final=-1.0 is invalid; valid: a finite weight >= 0"),
        (" --imitate-until 0.1", "--imitate-until needs --teachers; valid:"),
        (
            "power=random --doctrine security",
            "--teachers power=random: no nation of --doctrine security maximises power; valid: teachers for security",
        ),
    ],
)
def test_bad_teachers_name_the_culprit(tmp_path, capsys, teachers, message):
    teachers, *rest = teachers.split(" ")
    with pytest.raises(SystemExit):
        fast_ppo.main(["--out", str(tmp_path), "--doctrine", "power", "--teachers", teachers, *rest])
    assert message in capsys.readouterr().err
    assert not (tmp_path / "config.json").exists()


def test_a_run_made_before_an_option_existed_resumes_with_what_it_was_trained_with(tmp_path):
    assert run(tmp_path, "--actor", "mlp", timesteps=ROLLOUT) == 0
    record = json.loads((tmp_path / "config.json").read_text())
    for name in ("background", "background_share", "n_focal", "actor"):  # options added after such a run was made
        del record["args"][name]
    (tmp_path / "config.json").write_text(json.dumps(record))
    # Such a run had an MLP actor, which is no longer the default: resuming it with today's default is refused.
    with pytest.raises(SystemExit, match="differs in --actor"):
        run(tmp_path, "--resume", timesteps=2 * ROLLOUT)
    assert run(tmp_path, "--resume", "--actor", "mlp", timesteps=2 * ROLLOUT) == 0
    with pytest.raises(SystemExit, match="differs in --background"):
        run(tmp_path, "--resume", "--actor", "mlp", "--background", "random", "--background-share", "0.5",
            timesteps=3 * ROLLOUT)  # fmt: skip


def test_a_run_made_before_an_env_field_existed_still_resumes(tmp_path):
    # config.json of an older run lacks EnvConfig fields added since; each counts as its default, which the run had.
    assert run(tmp_path, timesteps=ROLLOUT) == 0
    record = json.loads((tmp_path / "config.json").read_text())
    del record["env_config"]["capability_spread"]
    (tmp_path / "config.json").write_text(json.dumps(record))
    assert run(tmp_path, "--resume", timesteps=2 * ROLLOUT) == 0
    with pytest.raises(SystemExit, match="differs in EnvConfig.capability_spread"):
        run(tmp_path, "--resume", "--capability-spread", "0.5", timesteps=3 * ROLLOUT)


def test_a_resume_takes_the_same_config_given_in_another_order_or_spelling(tmp_path):
    flags = ["--out", str(tmp_path), "--resume", *SMALL[:6], "--no-progress-bar"]
    assert (
        fast_ppo.main([*flags, "--timesteps", str(ROLLOUT), "--set", "conquest_payoff=0.8", "--max-cycles", "10"]) == 0
    )
    again = ["--set", "max_cycles=10", "--set", "conquest_payoff=.80", "--set", "capability_spread=0"]
    assert fast_ppo.main([*flags, "--timesteps", str(2 * ROLLOUT), *again]) == 0
    with pytest.raises(SystemExit, match="differs in EnvConfig.max_cycles\\)"):
        fast_ppo.main([*flags, "--timesteps", str(3 * ROLLOUT), "--set", "conquest_payoff=0.8"])


def test_an_out_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "a_file").write_text("")
    with pytest.raises(SystemExit, match="--out .*a_file is a file; valid: a folder"):
        fast_ppo.main(["--out", str(tmp_path / "a_file"), *SMALL])


def test_capability_spread_goes_into_the_training_config_and_bad_values_are_refused(tmp_path, capsys):
    _, config = fast_ppo.parse_args(["--capability-spread", "0.5", "--out", str(tmp_path)])
    assert config.capability_spread == 0.5
    with pytest.raises(SystemExit):  # given twice: refused with a message naming both ways
        fast_ppo.parse_args(["--capability-spread", "0.5", "--set", "capability_spread=0.3", "--out", str(tmp_path)])
    assert "given twice" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        fast_ppo.parse_args(["--capability-spread", "-1", "--out", str(tmp_path)])
    assert "capability_spread=-1.0 is invalid; valid: a number from 0 (off) to 3" in capsys.readouterr().err


def test_the_per_nation_actor_scores_a_nation_the_same_in_any_slot():
    # Two other nations that look the same to the observer get the same logits for every act toward them, whichever
    # slots they sit in: the target head's weights are shared by the slots.
    trainer = _trainer()
    t = trainer.agent.actor.targets
    torch.manual_seed(0)
    for parameter in trainer.agent.actor.parameters():  # away from the near-zero initial head
        torch.nn.init.normal_(parameter, std=0.3)
    inputs = torch.randn(5, trainer.agent.shape["n_inputs"])
    block = [slice(t.own_size + k * t.block_size, t.own_size + (k + 1) * t.block_size) for k in range(t.n_targets)]
    inputs[:, block[3]] = inputs[:, block[0]]
    with torch.no_grad():
        logits = trainer.agent.actor(inputs).unflatten(-1, (t.n_levels, t.n_acts, t.n_targets))
    torch.testing.assert_close(logits[..., 3], logits[..., 0])
    assert not torch.allclose(logits[..., 1], logits[..., 0])


@pytest.mark.parametrize("actor", ["per_nation", "mlp"])
def test_the_numpy_policy_of_a_run_matches_its_torch_actor(tmp_path, actor):
    from train.learned import FastPolicyNetwork

    assert run(tmp_path, "--actor", actor, timesteps=ROLLOUT) == 0
    agent, network = load_agent(tmp_path / "model.pt"), FastPolicyNetwork(tmp_path / "model.pt")
    assert agent.shape.get("actor", "mlp") == actor
    inputs = np.random.default_rng(0).normal(size=(3, network.observation_size))
    with torch.no_grad():
        expected = agent.actor(torch.as_tensor(inputs, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(network.logits(inputs), expected, atol=1e-5)
    np.testing.assert_allclose(network.logits(inputs[0]), expected[0], atol=1e-5)


def test_the_learning_rate_anneals_linearly_to_zero_at_the_target():
    trainer = _trainer(timesteps=4 * ROLLOUT, learning_rate=1e-3)
    rates = []
    for _ in range(4):
        trainer.update(trainer.collect())
        rates.append(trainer.optimizer.param_groups[0]["lr"])
    assert rates == pytest.approx([1e-3, 0.75e-3, 0.5e-3, 0.25e-3])
    fixed = _trainer(timesteps=4 * ROLLOUT, learning_rate=1e-3, anneal_lr=False)
    fixed.update(fixed.collect())
    fixed.update(fixed.collect())
    assert fixed.optimizer.param_groups[0]["lr"] == 1e-3


@pytest.mark.parametrize("population", [1, 2])
@pytest.mark.parametrize("background", ["", "offensive_realist,defensive_realist"])
def test_on_the_torch_backend_a_rollout_and_its_update_never_sync_with_the_host(monkeypatch, background, population):
    """What keeps a GPU busy: with the worlds on the torch backend, collecting a rollout (the policy, the worlds'
    steps, resets of ended worlds) and the PPO update call none of Tensor.__bool__, .item(), .tolist(), .numpy(),
    int(), float() or .cpu(); the trainer reads its statistics once per rollout, after both. (torch's Adam reads its
    step counter, a CPU tensor even when the parameters are on a GPU: allowed.) A population's vmapped networks and
    per-member update do not sync either, nor do the kickstarting teachers' shadows (with the background here)."""
    share = 0.5 if background else 0.0  # with a scripted background, it plays on the device too
    teachers = "security=defensive_realist" if background else ""
    # 8 turns a rollout: every world ends and is replaced
    trainer = _trainer(
        backend="torch", max_cycles=4, background=background, background_share=share, population=population,
        teachers=teachers,
    )  # fmt: skip
    with monkeypatch.context() as patch:
        calls = forbid_host_syncs(patch, "in a rollout or an update", allowed_from="torch/optim/")
        rollout = trainer.collect()
        losses = trainer.update(rollout)
    assert not calls
    assert trainer.batch.backend.name == "torch"
    assert (rollout.taught.sum() > 0) == bool(teachers)
    assert all(math.isfinite(v) for value in losses.values() for v in value.tolist())
    count = [sum(group) for group in zip(*trainer.stats.take()[1], strict=True)]
    # 4 worlds x 6 nations a member (less 2 background worlds x 3 scripted nations), two 4-turn episodes each: resets
    # happened on the device
    learners = 4 * 6 - (2 * 3 if background else 0)
    assert sum(count) == population * learners * 2


def _overwritten(value):
    """Fill a tensor with garbage in place, as the next replay of a CUDA graph overwrites its outputs."""
    if value.dtype == torch.bool:
        value.logical_not_()
    elif value.dtype.is_floating_point:
        value.fill_(float("nan"))
    else:
        value.fill_(-7)


@pytest.mark.parametrize("background", ["", "offensive_realist,defensive_realist"])
def test_a_rollout_keeps_only_copies_of_what_a_cuda_graph_replay_overwrites(monkeypatch, background):
    """With --cuda-graphs (WorldBatch(compile="reduce-overhead")) a step's outputs are valid until the next step: the
    rollout must copy what it keeps. Here every step first overwrites the outputs of the step before it (on float32
    torch worlds, a GPU's dtype, where nothing is copied by a dtype change); the rollout is the same as without."""
    from realism_env.batch import WorldBatch

    monkeypatch.setattr(
        trainer_module, "WorldBatch", lambda *args, **kwargs: WorldBatch(*args, dtype="float32", **kwargs)
    )
    share = 0.5 if background else 0.0
    changes = dict(backend="torch", max_cycles=4, background=background, background_share=share)
    plain, overwriting = _trainer(**changes), _trainer(**changes)
    assert plain.batch.backend.float_dtype == torch.float32
    step, previous = overwriting.batch.step, []

    def step_overwriting_the_last_outputs(actions):
        for output in previous:
            for name in ("observations", "action_mask", "rewards", "terminated", "truncated", "acting", "world_reset"):
                _overwritten(getattr(output, name))
            _overwritten(output.final_observations)
        previous[:] = [step(actions)]
        return previous[0]

    overwriting.batch.step = step_overwriting_the_last_outputs
    for _ in range(2):  # 8 turns a rollout and 4-turn episodes: worlds end and reset inside both rollouts
        expected, got = plain.collect(), overwriting.collect()
        for name in Rollout._fields:
            torch.testing.assert_close(getattr(got, name), getattr(expected, name), msg=name)


def test_the_compile_flags_choose_the_worlds_compile_mode():
    """--compile-worlds compiles the step (torch.compile's default mode), --cuda-graphs makes it a CUDA graph on a GPU
    (mode "reduce-overhead"); neither steps eagerly. (Compiling itself is tested on WorldBatch, slow.)"""
    assert _trainer(backend="torch").batch.compile_mode is None
    assert _trainer(backend="torch", compile_worlds=True).batch.compile_mode == "default"
    assert _trainer(backend="torch", cuda_graphs=True).batch.compile_mode == "reduce-overhead"


def test_a_second_trainer_on_a_run_folder_in_use_is_refused_at_once_and_writes_nothing(tmp_path, capsys):
    """Two trainers on one --out both "finished" a run of mixed files (one's config.json, the other's model), or one
    deleted the other's checkpoint mid-write; the second now finds the folder's lock held (as train.experiment's
    workers hold it while they train a run) and stops before writing anything."""
    from train import ppo
    from train.checkpoint import folder_lock

    out = tmp_path / "run"
    for main in (fast_ppo.main, ppo.main):
        with folder_lock(out, wait=False) as held:  # as the running trainer holds it
            assert held
            with pytest.raises(SystemExit, match=f"another run is writing {out} .*valid: wait for it to finish, or "):
                main(["--timesteps", str(ROLLOUT), "--out", str(out), *SMALL])
        assert sorted(p.name for p in out.iterdir()) == [".lock"]
    assert run(out, timesteps=ROLLOUT) == 0  # released when its holder ends


def test_a_checkpoint_save_leaves_another_writers_temporary_file_alone(tmp_path):
    """Deleting every .*.tmp deleted a file another writer was writing (its os.replace then failed): only those of a
    writer that is gone (killed mid-write) or of this process go, and any older than STALE_TEMP_S."""
    from train.checkpoint import STALE_TEMP_S, save_torch_checkpoint

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = int(gone.stdout)
    temps = {
        f".ckpt_000000000020.pt.{os.getppid()}.abc123.tmp": True,  # a live writer's: kept
        ".ckpt_000000000020.pt.abc123.tmp": True,  # no writer named, young: kept
        f".latest.json.{dead}.def456.tmp": False,  # a killed writer's
        f".latest.json.{os.getpid()}.ghi789.tmp": False,  # this process's own
        ".latest.json.jkl012.tmp": False,  # no writer named, old
    }
    for name in temps:
        (tmp_path / name).write_bytes(b"half")
    old = time.time() - STALE_TEMP_S - 60
    os.utime(tmp_path / ".latest.json.jkl012.tmp", (old, old))
    save_torch_checkpoint({"num_timesteps": 10, "w": torch.zeros(2)}, tmp_path)
    assert {name: (tmp_path / name).exists() for name in temps} == temps


def test_a_finished_run_whose_model_or_config_is_gone_or_truncated_is_written_again_from_its_checkpoint(
    tmp_path, capsys
):
    """Rerunning such a run said "nothing to do, the run is finished" (with or without --resume) and the experiment
    evaluated a model that was not there: now it is not finished, and --resume writes its files again from its last
    checkpoint, at the run's end, without training a step."""
    from train.experiment_jobs import run_finished

    assert run(tmp_path, timesteps=2 * ROLLOUT) == 0
    model, config = (tmp_path / "model.pt").read_bytes(), json.loads((tmp_path / "config.json").read_text())
    summary = (tmp_path / "metrics.json").read_text()
    assert run_finished(tmp_path, 2 * ROLLOUT)
    damages = {
        "model.pt": lambda: (tmp_path / "model.pt").unlink(),
        "model.pt ": lambda: (tmp_path / "model.pt").write_bytes(model[: len(model) // 2]),
        "config.json": lambda: (tmp_path / "config.json").write_text('{"args": {'),
    }
    for name, damage in damages.items():
        damage()
        assert not run_finished(tmp_path, 2 * ROLLOUT)
        message = f"is finished, but {tmp_path / name.strip()} is missing or unreadable; valid: --resume to write it"
        with pytest.raises(SystemExit, match=re.escape(message)):
            run(tmp_path, timesteps=2 * ROLLOUT)
        capsys.readouterr()
        assert run(tmp_path, "--resume", timesteps=2 * ROLLOUT) == 0
        assert "written again from ckpt_" in capsys.readouterr().err
        assert (tmp_path / "model.pt").read_bytes() == model
        written = json.loads((tmp_path / "config.json").read_text())
        assert written["env_config"] == config["env_config"] and written["args"]["seed"] == config["args"]["seed"]
        # the run's own summary stays: the repair trained nothing, and its speed and times would read 0
        assert (tmp_path / "metrics.json").read_text() == summary
        assert run_finished(tmp_path, 2 * ROLLOUT)


def test_the_marginal_entropies_read_how_sure_a_policy_is_of_its_arms_level_and_its_act():
    from train.networks import TargetLayout

    layout = TargetLayout(own_size=1, block_size=1, n_targets=3, n_acts=realism_env.N_ACTS, n_levels=5)
    n_actions = 5 * realism_env.N_ACTS * 3
    uniform = layout.marginal_entropies(torch.zeros(2, n_actions))
    assert torch.allclose(uniform["arms_level"], torch.full((2,), math.log(5)))
    assert torch.allclose(uniform["act"], torch.full((2,), math.log(realism_env.N_ACTS)))
    # every allowed action at arms level 3: sure of the level, not of the act (nor of the target, which is not read)
    levels = torch.arange(n_actions) // (realism_env.N_ACTS * 3)
    at_level_3 = layout.marginal_entropies(mask_logits(torch.zeros(1, n_actions), (levels != 3)[None]))
    assert at_level_3["arms_level"].item() == pytest.approx(0.0, abs=1e-6)
    assert at_level_3["act"].item() == pytest.approx(math.log(realism_env.N_ACTS))
    # any distribution: the entropies of its marginals, summed by hand from the flat action's decoding
    generator = torch.Generator().manual_seed(3)
    logits = mask_logits(
        torch.randn(4, n_actions, generator=generator), torch.rand(4, n_actions, generator=generator) < 0.5
    )
    probs = torch.softmax(logits, -1)
    acts = (torch.arange(n_actions) // 3) % realism_env.N_ACTS
    for name, part, size in (("arms_level", levels, 5), ("act", acts, realism_env.N_ACTS)):
        marginal = torch.zeros(4, size).index_add_(1, part, probs)
        expected = -(marginal * marginal.clamp(min=1e-30).log()).sum(-1)
        assert torch.allclose(layout.marginal_entropies(logits)[name], expected, atol=1e-6), name


def test_a_run_logs_how_sure_its_policy_is_of_its_arms_level_and_its_act(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    assert run(tmp_path, timesteps=2 * ROLLOUT) == 0
    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    for name in ("arms_level_entropy", "act_entropy"):
        assert [event.step for event in events.Scalars(f"policy/{name}")] == [ROLLOUT, 2 * ROLLOUT]
    entropy = json.loads((tmp_path / "metrics.json").read_text())["policy_entropy"]
    # a fresh network is nearly uniform over what the masks allow: below the maxima, not far below
    assert 0.5 * entropy["arms_level_entropy_max"] < entropy["arms_level_entropy"] <= entropy["arms_level_entropy_max"]
    assert 0.2 * entropy["act_entropy_max"] < entropy["act_entropy"] <= entropy["act_entropy_max"]
    assert entropy["arms_level_entropy_max"] == pytest.approx(math.log(5))
    # the checkpoint keeps it: a run resumed from its last checkpoint only to finish still reports it
    (tmp_path / "metrics.json").unlink()
    assert run(tmp_path, "--resume", timesteps=2 * ROLLOUT) == 0
    assert json.loads((tmp_path / "metrics.json").read_text())["policy_entropy"] == entropy


def test_the_policy_diagnostics_read_every_learning_row_also_where_a_teacher_chose_the_action():
    # every learning nation plays its teacher's choice (imitation): PPO's own terms have no row, the policy still has
    trainer = _trainer(doctrine="power", teachers="power=offensive_realist", imitate_until=1.0)
    rollout = trainer.collect()
    assert (rollout.imitated == rollout.active).all()
    losses = trainer.update(rollout)
    assert losses["arms_level_entropy"].item() > 0.5 * math.log(5) and losses["act_entropy"].item() > 0
