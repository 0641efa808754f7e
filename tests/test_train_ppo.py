"""train.ppo: smoke runs as subprocesses with a tiny budget, kill-and-resume, atomic checkpoints, bad arguments,
the behaviour-metric tracker, and (slow) a learning test against the random policy."""

from __future__ import annotations

import io
import json
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("sb3_contrib")
pytest.importorskip("tensorboard")

import realism_env  # noqa: E402
from realism_env import METRICS, EnvConfig  # noqa: E402
from realism_env.batch import WorldBatch  # noqa: E402
from realism_env.overrides import parse_override  # noqa: E402
from train.callbacks import HEADLINE, WorldEpisodeTracker  # noqa: E402
from train.checkpoint import (  # noqa: E402
    ARRAYS_ENTRY,
    LATEST,
    STATE_ENTRY,
    checkpoint_steps,
    find_latest,
    read_checkpoint,
    restore_rng,
    rng_state,
    save_checkpoint,
)
from train.plots import learning_curve_series  # noqa: E402
from train.ppo import Args, main, parse_args
from train.run_args import make_config

ROOT = Path(__file__).resolve().parents[1]
# A rollout is n_steps * n_worlds * n_nations = 16 * 2 * 6 = 192 agent-steps.
TINY = ["--n-worlds", "2", "--n-steps", "16", "--batch-size", "64", "--max-cycles", "20", "--no-progress-bar"]
ROLLOUT = 192


def run(args: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "train.ppo", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


def start(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "train.ppo", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_checkpoint(directory: Path, process: subprocess.Popen, min_steps: int, limit_s: float = 90) -> int:
    """Poll (bounded) until a readable checkpoint with at least ``min_steps`` exists; its step count."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        found = find_latest(directory)
        if found is not None and found[1]["num_timesteps"] >= min_steps:
            return found[1]["num_timesteps"]
        if process.poll() is not None:
            pytest.fail(f"training exited early ({process.returncode}): {process.stderr.read()[-2000:]}")
        time.sleep(0.2)
    process.kill()
    pytest.fail(f"no checkpoint with >= {min_steps} timesteps in {directory} within {limit_s} s")


def optimizer_steps(model_zip: Path) -> int:
    """Adam's step count stored in an SB3 archive (grows with every gradient step since the optimiser was made)."""
    import torch

    with zipfile.ZipFile(model_zip) as archive, archive.open("policy.optimizer.pth") as f:
        state = torch.load(f, map_location="cpu", weights_only=False)
    return int(next(iter(state["state"].values()))["step"])


# --------------------------------------------------------------------------------------------------
# Arguments
# --------------------------------------------------------------------------------------------------


def test_help_lists_every_option_with_its_default(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for f in Args.__dataclass_fields__:
        assert ("--import MODULE" if f == "imports" else "--" + f.replace("_", "-")) in text, f
    assert "default: maskable_ppo" in text and "default: security" in text


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--doctrine", "liberal"],
            "invalid choice: 'liberal'; valid: security, power, mixed (a doctrine of your own: "
            "--import the module that registers it",
        ),
        (
            ["--scenario", "mars"],
            "invalid choice: 'mars'; valid: bipolar, cold_war_1950, europe_1914, islands, "
            "multipolar, rising_power, unipolar (a scenario of your own: --import",
        ),
        (["--algo", "dqn"], "invalid choice: 'dqn'"),
        (["--set", "no_such_field=1"], "unknown config field 'no_such_field'; valid:"),
        (["--set", "conquest_payoff=2"], "EnvConfig.conquest_payoff=2.0 is invalid; valid: a number from 0 to 1"),
        (["--set", "conquest_payoff"], "valid: FIELD=VALUE"),
        (["--set", "doctrines=power"], "valid: choose them with --doctrine"),
        (["--timesteps", "0"], "--timesteps=0 is invalid; valid: an integer >= 1"),
        (["--gamma", "1.5"], "--gamma=1.5 is invalid"),
        (["--net-arch", "64,x"], "--net-arch='64,x' is invalid"),
        (["--max-cycles", "0"], "EnvConfig.max_cycles=0 is invalid"),
        (["--device", "mps"], "--device='mps' is invalid; valid: cpu, cuda, cuda:N, auto"),
    ],
)
def test_bad_arguments_say_what_is_wrong_and_what_is_valid(
    argv: list[str], message: str, capsys: pytest.CaptureFixture
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err.replace("'security', 'power', 'mixed'", "security, power, mixed")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_a_cuda_device_on_a_machine_without_one_is_refused_not_silently_replaced_by_the_cpu(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    # stable-baselines3 alone would train on the CPU without a word.
    for device in ("cuda", "cuda:1"):  # cuda:N is a device the trainer takes (argparse's choices refused it)
        with pytest.raises(SystemExit) as exit_info:
            main(["--out", str(tmp_path / "run"), "--device", device])
        assert exit_info.value.code == 2
        message = f"--device={device!r} is invalid: torch sees no CUDA device here; valid: cpu (or auto)"
        assert message in capsys.readouterr().err
        assert not (tmp_path / "run").exists()


def test_bad_argument_in_a_subprocess_exits_non_zero() -> None:
    result = run(["--doctrine", "liberal", "--out", "/nonexistent/never"], timeout=60)
    assert result.returncode == 2
    assert "invalid choice: 'liberal'" in result.stderr and "security" in result.stderr


def test_set_values_are_parsed_to_the_type_of_their_field() -> None:
    assert parse_override("conquest_payoff=0.8") == ("conquest_payoff", 0.8)
    assert parse_override("reveal_doctrines=true") == ("reveal_doctrines", True)
    assert parse_override("capability_shares=[0.5, 0.5]") == ("capability_shares", (0.5, 0.5))
    assert parse_override("growth_rates=(0.1, 0.2)") == ("growth_rates", (0.1, 0.2))
    assert parse_override("map_kind=islands") == ("map_kind", "islands")


def test_mixed_alternates_security_and_power_and_overrides_apply() -> None:
    args, config = parse_args(["--doctrine", "mixed", "--set", "n_nations=4", "--max-cycles", "7"])
    assert args.set == ("n_nations=4",) and make_config(args) == config
    assert config.doctrines == ("security", "power", "security", "power")
    assert config.max_cycles == 7 and config.n_nations == 4


@pytest.mark.parametrize("n_nations", [2, 3, 5])
def test_mixed_and_the_doctrine_indicator_mean_the_same_in_every_trainer(n_nations: int) -> None:
    """``mixed`` is realism_env.mixed_doctrines (nation_0 security) in train.ppo, train.cleanrl_ppo and
    train.rllib_ppo; the doctrine indicator is realism_env.doctrine_onehot everywhere."""
    import train
    from train import cleanrl_ppo, rllib_ppo, vec_env

    expected = realism_env.mixed_doctrines(n_nations)
    assert expected[:2] == ("security", "power")[:n_nations]
    assert parse_args(["--doctrine", "mixed", "--set", f"n_nations={n_nations}"])[1].doctrine_per_nation == expected
    flags = ["--doctrines", "mixed", "--n-nations", str(n_nations)]
    assert cleanrl_ppo.parse_args(flags)[1].doctrine_per_nation == expected
    assert tuple(rllib_ppo.env_config(rllib_ppo.parse_args(flags))["doctrines"]) == expected
    assert train.doctrine_onehot is vec_env.doctrine_onehot is realism_env.doctrine_onehot
    assert vec_env.doctrine_names is realism_env.doctrine_names


@pytest.mark.parametrize("n_nations", [2, 3, 5])
def test_a_mix_of_ones_own_means_the_same_in_every_trainer(n_nations: int) -> None:
    """``power+security`` (nation_0 power) is realism_env.population_doctrines in the three trainers, and train.ppo
    gives it the doctrine indicator as it does mixed."""
    from train import cleanrl_ppo, rllib_ppo

    expected = tuple(("power", "security")[i % 2] for i in range(n_nations))
    assert realism_env.population_doctrines("power+security", n_nations) == expected
    assert parse_args(["--doctrine", "power+security", "--set", f"n_nations={n_nations}"])[1].doctrine_per_nation == (
        expected
    )
    flags = ["--doctrines", "power+security", "--n-nations", str(n_nations)]
    assert cleanrl_ppo.parse_args(flags)[1].doctrine_per_nation == expected
    assert tuple(rllib_ppo.env_config(rllib_ppo.parse_args(flags))["doctrines"]) == expected
    assert realism_env.is_population("power+security") and realism_env.is_population("mixed")
    assert not realism_env.is_population("power")


@pytest.mark.parametrize(
    ("doctrine", "message"),
    [
        ("security+power", "'security+power' is the built-in mix; valid: name it 'mixed'"),
        ("power+power", "'power+power' names a doctrine twice; valid: distinct registered doctrines joined by '+'"),
        ("security+glory", "unknown doctrine 'glory'; valid: 'power', 'security'"),
        ("security+", "'security+' has an empty doctrine name or spaces around '+'"),
        ("security + power", "'security + power' has an empty doctrine name or spaces around '+'"),
    ],
)
def test_a_mix_that_cannot_be_trained_is_refused_naming_what_is_wrong(
    doctrine: str, message: str, capsys: pytest.CaptureFixture
) -> None:
    from train import cleanrl_ppo

    with pytest.raises(SystemExit) as stopped:
        parse_args(["--doctrine", doctrine])
    assert stopped.value.code == 2 and message in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cleanrl_ppo.parse_args(["--doctrines", doctrine])
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_checkpoints_save_and_restore_the_batch_generator(backend: str) -> None:
    """The env's generator of a checkpoint is the batch's ``random`` (numpy Generator or torch.Generator)."""
    if backend == "torch":
        pytest.importorskip("array_api_compat")
    batch = WorldBatch(EnvConfig.from_scenario("multipolar", max_cycles=5), 2, seed=0, backend=backend)
    state = json.loads(json.dumps(rng_state(batch.random)))  # as a checkpoint stores it
    first = realism_env.backend.to_numpy(batch.random.uniform((3,)))
    restore_rng(state, batch.random)
    np.testing.assert_array_equal(realism_env.backend.to_numpy(batch.random.uniform((3,))), first)
    with pytest.raises(ValueError, match="env_rng"):
        rng_state(object())


# --------------------------------------------------------------------------------------------------
# Runs
# --------------------------------------------------------------------------------------------------


def test_smoke_run_writes_model_config_metrics_tensorboard_and_checkpoints(tmp_path: Path) -> None:
    from sb3_contrib import MaskablePPO
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "run"
    argv = ["--doctrine", "security", "--timesteps", "512", "--seed", "3", "--out", str(out), *TINY]
    result = run([*argv, "--checkpoint-every", str(ROLLOUT)])
    assert result.returncode == 0, result.stderr[-3000:]

    model = MaskablePPO.load(out / "model.zip", device="cpu")
    target = 3 * ROLLOUT  # 512 rounded up to whole rollouts
    assert model.num_timesteps == target

    config = json.loads((out / "config.json").read_text())
    assert config["args"]["doctrine"] == "security" and config["args"]["timesteps"] == 512
    expected = EnvConfig.from_scenario("multipolar", max_cycles=20, doctrines="security").to_dict()
    assert config["env_config"] == json.loads(json.dumps(expected))

    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["finished"] is True and metrics["num_timesteps"] == target and metrics["target_timesteps"] == 512
    assert metrics["agent_steps_per_s"] > 0 and metrics["wall_time_s"] > 0
    assert metrics["episodes"]["security"] > 0 and np.isfinite(metrics["mean_episode_return"]["security"])
    assert set(metrics["mean_reward_terms"]["security"]) == {
        "survival",
        "security_margin",
        "territory_lost",
        "elimination",
    }
    assert set(HEADLINE) <= set(metrics["behaviour"])
    assert metrics["curve"] and metrics["curve"][-1]["timesteps"] == target
    _, (xs, mean) = learning_curve_series({0: metrics["curve"]})["security"]  # the report can draw it
    assert xs[-1] == target and mean[-1] == metrics["curve"][-1]["security"]

    events = EventAccumulator(str(out / "tb"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    for tag in (
        "episode/return/security",
        "reward_terms/security/security_margin",
        "behaviour/war_onsets",
        "behaviour/eliminations",
        "behaviour/alliances_formed",
        "events_per_nation_turn/war_declared",
        "train/value_loss",
    ):
        assert tag in tags, tag

    checkpoints = sorted(p.name for p in (out / "checkpoints").glob("ckpt_*.zip"))
    assert checkpoints == [f"ckpt_{2 * ROLLOUT:012d}.zip", f"ckpt_{target:012d}.zip"]  # the last 2 are kept
    assert json.loads((out / "checkpoints" / LATEST).read_text())["checkpoint"] == checkpoints[-1]
    assert not list((out / "checkpoints").glob(".*.tmp"))

    # Re-running a finished run only reports it; another run into the same directory is refused.
    before = (out / "model.zip").stat().st_mtime_ns
    again = run(argv)
    assert again.returncode == 0 and "nothing to do" in again.stdout
    assert (out / "model.zip").stat().st_mtime_ns == before
    other = run([*argv, "--doctrine", "power"])
    assert other.returncode != 0 and "differs in --doctrine" in other.stderr


def test_a_resume_takes_the_same_config_in_another_order_or_spelling_and_refuses_another(tmp_path: Path) -> None:
    out = str(tmp_path / "run")
    common = ["--n-worlds", "1", "--n-steps", "8", "--batch-size", "48", "--n-epochs", "1", "--no-progress-bar"]
    common += ["--out", out, "--resume"]
    first = run([*common, "--timesteps", "48", "--set", "conquest_payoff=0.8", "--set", "max_cycles=20"])
    assert first.returncode == 0, first.stderr[-3000:]
    same = [
        ["--set", "max_cycles=20", "--set", "conquest_payoff=0.8"],
        ["--set", "conquest_payoff=.80", "--max-cycles", "20"],
        ["--set", "conquest_payoff=0.8", "--set", "max_cycles=20", "--capability-spread", "0"],
    ]
    for timesteps, spelling in enumerate(same, 2):
        again = run([*common, "--timesteps", str(48 * timesteps), *spelling])
        assert again.returncode == 0, (spelling, again.stderr[-3000:])
    other = run([*common, "--timesteps", "480", "--set", "conquest_payoff=0.7", "--max-cycles", "20"])
    assert other.returncode == 1 and "differs in EnvConfig.conquest_payoff)" in other.stderr


def test_an_out_that_is_a_file_is_refused_with_what_is_valid(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "a_file"
    path.write_text("not a run")
    for out, says in ((path, "is a file"), (path / "run", f"lies under the file {path}")):
        with pytest.raises(SystemExit, match=f"--out {out} {says}; valid: a folder"):
            main(["--timesteps", "1", "--out", str(out), "--no-progress-bar"])
    assert path.read_text() == "not a run"


def test_killed_run_resumes_from_its_last_checkpoint(tmp_path: Path) -> None:
    out = tmp_path / "run"
    checkpoints = out / "checkpoints"
    common = ["--doctrine", "power", "--seed", "1", "--out", str(out), "--checkpoint-every", str(ROLLOUT), *TINY]
    process = start([*common, "--timesteps", str(500 * ROLLOUT)])
    try:
        wait_for_checkpoint(checkpoints, process, min_steps=2 * ROLLOUT)
    finally:
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL
    readable = [p for p in checkpoints.glob("ckpt_*.zip") if read_checkpoint(p) is not None]
    path = max(readable, key=checkpoint_steps)
    saved = read_checkpoint(path)["num_timesteps"]
    assert saved >= 2 * ROLLOUT and saved % ROLLOUT == 0

    # What a writer killed mid-way could leave: a truncated newer checkpoint named by latest.json, a temp file.
    truncated = checkpoints / f"ckpt_{saved + ROLLOUT:012d}.zip"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    (checkpoints / LATEST).write_text(json.dumps({"checkpoint": truncated.name, "num_timesteps": saved + ROLLOUT}))
    (checkpoints / f".ckpt_{saved + ROLLOUT:012d}.zip.{process.pid}.x1y2.tmp").write_bytes(b"partial")

    target = saved + 2 * ROLLOUT
    result = run([*common, "--timesteps", str(target), "--resume"])
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"from {path.name} at {saved} timesteps" in result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["finished"] and metrics["resumed"]
    assert metrics["start_timesteps"] == saved and metrics["num_timesteps"] == target
    # The update counter and Adam's step count went on from the checkpoint's (a fresh start would have fewer).
    n_epochs, minibatches = 4, ROLLOUT // 64
    assert metrics["updates"] == target // ROLLOUT * n_epochs
    assert optimizer_steps(out / "model.zip") == target // ROLLOUT * n_epochs * minibatches
    assert not list(checkpoints.glob(".*.tmp"))


def test_a_resumed_run_goes_on_bit_for_bit_as_if_it_had_never_stopped(tmp_path: Path) -> None:
    from sb3_contrib import MaskablePPO

    # 16-turn rollouts of 20-turn episodes: the first part stops mid-episode, and the checkpoint keeps the episodes.
    common = ["--doctrine", "mixed", "--seed", "2", *TINY]
    assert run([*common, "--timesteps", str(4 * ROLLOUT), "--out", str(tmp_path / "straight")]).returncode == 0
    assert run([*common, "--timesteps", str(2 * ROLLOUT), "--out", str(tmp_path / "resumed")]).returncode == 0
    second = run([*common, "--timesteps", str(4 * ROLLOUT), "--out", str(tmp_path / "resumed"), "--resume"])
    assert second.returncode == 0, second.stderr[-3000:]
    straight, resumed = (MaskablePPO.load(tmp_path / d / "model.zip", device="cpu") for d in ("straight", "resumed"))
    for (name, x), (_, y) in zip(
        straight.policy.state_dict().items(), resumed.policy.state_dict().items(), strict=True
    ):
        assert torch.equal(x, y), name
    metrics = [json.loads((tmp_path / d / "metrics.json").read_text()) for d in ("straight", "resumed")]
    assert metrics[0]["curve"] == metrics[1]["curve"]
    # the world-episodes under way at the checkpoint (turn 32 of 40) count when they end, as in the straight run
    summaries = ("world_episodes", "behaviour", "events_per_nation_turn", "episodes", "mean_episode_return")
    for key in (*summaries, "mean_reward_terms"):
        assert metrics[0][key] == metrics[1][key], key
    assert metrics[0]["world_episodes"] == 2 * 3
    # A checkpoint written before checkpoints held the recorded turns: the episodes go on, left out of the behaviour.
    older = tmp_path / "older"
    assert run([*common, "--timesteps", str(2 * ROLLOUT), "--out", str(older)]).returncode == 0
    without_episodes(find_latest(older / "checkpoints")[0], "episodes/recorders")
    third = run([*common, "--timesteps", str(4 * ROLLOUT), "--out", str(older), "--resume"])
    assert third.returncode == 0 and "restart from fresh worlds" not in third.stderr, third.stderr[-3000:]
    left_out = json.loads((older / "metrics.json").read_text())
    assert left_out["curve"] == metrics[0]["curve"] and left_out["world_episodes"] == 2 * 3 - 2


def test_sigterm_saves_a_checkpoint_and_exits_mixed_ppo(tmp_path: Path) -> None:
    out = tmp_path / "run"
    argv = ["--doctrine", "mixed", "--algo", "ppo", "--timesteps", str(500 * ROLLOUT), "--out", str(out), *TINY]
    process = start([*argv, "--checkpoint-every", str(ROLLOUT)])
    try:
        wait_for_checkpoint(out / "checkpoints", process, min_steps=ROLLOUT)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 128 + signal.SIGTERM, stderr[-3000:]
    assert "continue with --resume" in stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["finished"] is False
    _, state = find_latest(out / "checkpoints")
    assert state["num_timesteps"] == metrics["num_timesteps"]
    # SB3 stopped mid-rollout, before keeping the last step's observations: the checkpoint leaves the episodes out,
    # and a resume restarts them from fresh worlds (the run goes on).
    assert "episodes" not in state
    resumed = run([*argv, "--timesteps", str(metrics["num_timesteps"] + ROLLOUT), "--resume"])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert set(metrics["mean_episode_return"]) <= {"security", "power"}
    assert json.loads((out / "config.json").read_text())["env_config"]["doctrines"] == ["security", "power"] * 3


def without_episodes(path: Path, part: str = "episodes") -> None:
    """Rewrite the checkpoint at ``path`` without ``part`` of its train state (``/``-joined keys): by default as
    SIGTERM writes one (mid-rollout), without the episodes under way."""
    with zipfile.ZipFile(path) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    state = json.loads(entries[STATE_ENTRY])
    *parents, name = part.split("/")
    place = state
    for parent in parents:
        place = place[parent]
    del place[name]
    entries[STATE_ENTRY] = json.dumps(state).encode()
    with np.load(io.BytesIO(entries[ARRAYS_ENTRY])) as packed:
        arrays = {key: packed[key] for key in packed.files if not key.startswith(f"{part}/")}
    packed_again = io.BytesIO()
    np.savez(packed_again, **arrays)
    entries[ARRAYS_ENTRY] = packed_again.getvalue()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)


def test_a_run_resumed_from_a_signal_checkpoint_resumes_again_bit_for_bit_from_its_later_checkpoints(
    tmp_path: Path,
) -> None:
    """A resume from a checkpoint without the episodes (SIGTERM's) restarts them from fresh worlds of the run's own
    map bank, so the checkpoints it writes later carry on with their episodes: stopped again (SIGKILL) and resumed,
    it goes on as if it had not stopped."""
    from sb3_contrib import MaskablePPO

    common = ["--doctrine", "security", "--seed", "3", "--checkpoint-every", str(ROLLOUT), *TINY]
    stopped = tmp_path / "stopped"
    assert run([*common, "--timesteps", str(2 * ROLLOUT), "--out", str(stopped)]).returncode == 0
    without_episodes(find_latest(stopped / "checkpoints")[0])
    resumed = tmp_path / "resumed"  # killed after its third rollout's checkpoint, then resumed from it
    shutil.copytree(stopped, resumed)
    straight = run([*common, "--timesteps", str(4 * ROLLOUT), "--out", str(stopped), "--resume"])
    assert straight.returncode == 0, straight.stderr[-3000:]
    assert "restart from fresh worlds" not in straight.stderr
    first = run([*common, "--timesteps", str(3 * ROLLOUT), "--out", str(resumed), "--resume"])
    assert first.returncode == 0, first.stderr[-3000:]
    second = run([*common, "--timesteps", str(4 * ROLLOUT), "--out", str(resumed), "--resume"])
    assert second.returncode == 0, second.stderr[-3000:]
    assert f"from ckpt_{3 * ROLLOUT:012d}.zip" in second.stderr
    assert "restart from fresh worlds" not in second.stderr, second.stderr[-3000:]
    models = [MaskablePPO.load(d / "model.zip", device="cpu") for d in (stopped, resumed)]
    for (name, x), (_, y) in zip(*(m.policy.state_dict().items() for m in models), strict=True):
        assert torch.equal(x, y), name
    metrics = [json.loads((d / "metrics.json").read_text()) for d in (stopped, resumed)]
    for key in ("curve", "world_episodes", "behaviour"):
        assert metrics[0][key] == metrics[1][key], key


# --------------------------------------------------------------------------------------------------
# Checkpoints and the tracker, in process
# --------------------------------------------------------------------------------------------------


def test_the_stop_request_leaves_an_ignored_signal_ignored_and_a_worker_survives_a_repeat(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An experiment's worker ignores Ctrl-C (its experiment stops it with a checkpoint); a repeated SIGTERM (the
    group's, then the experiment's) must not kill it before the checkpoint the first one asked for."""
    from train.run_folder import StopRequest

    before = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with StopRequest() as stop:
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            assert signal.getsignal(signal.SIGTERM) == stop._handle
            monkeypatch.setattr(StopRequest, "repeat_kills", False)
            signal.raise_signal(signal.SIGTERM)
            signal.raise_signal(signal.SIGTERM)  # a repeat: ignored, where a standalone run's second one kills
            assert stop.signum == signal.SIGTERM
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        assert signal.getsignal(signal.SIGTERM) == before[signal.SIGTERM]
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)


def test_a_second_ctrl_c_still_ends_a_standalone_run_at_once(tmp_path: Path) -> None:
    code = (
        "import signal, time\n"
        "from train.run_folder import StopRequest\n"
        "with StopRequest() as stop:\n"
        "    signal.raise_signal(signal.SIGINT)\n"
        "    assert stop.signum == signal.SIGINT\n"
        "    signal.raise_signal(signal.SIGINT)\n"
        "    time.sleep(5)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == -signal.SIGINT, result.stderr


def test_find_latest_skips_corrupt_and_partial_checkpoints(tmp_path: Path) -> None:
    from sb3_contrib import MaskablePPO

    from train.vec_env import RealismVecEnv

    config = EnvConfig.from_scenario("multipolar", n_nations=2, max_cycles=5)
    env = RealismVecEnv(config, n_worlds=1, seed=0)
    model = MaskablePPO("MlpPolicy", env, n_steps=8, batch_size=8, n_epochs=1, seed=0, device="cpu")
    model.learn(16)
    good = save_checkpoint(model, tmp_path, {"note": "good"}, env_rng=env.batch.random)
    assert checkpoint_steps(good) == 16 and read_checkpoint(good)["note"] == "good"

    newer = tmp_path / "ckpt_000000000999.zip"
    newer.write_bytes(good.read_bytes()[:-100])  # truncated
    junk = tmp_path / "ckpt_000000000998.zip"
    junk.write_bytes(b"not a zip")
    (tmp_path / ".ckpt_000000001000.zip.abc.tmp").write_bytes(b"partial")
    assert read_checkpoint(newer) is None and read_checkpoint(junk) is None
    (tmp_path / LATEST).write_text(json.dumps({"checkpoint": newer.name}))
    assert find_latest(tmp_path)[0] == good
    (tmp_path / LATEST).write_text("{not json")
    assert find_latest(tmp_path)[0] == good
    (tmp_path / LATEST).unlink()
    assert find_latest(tmp_path)[0] == good
    assert find_latest(tmp_path / "missing") is None
    assert MaskablePPO.load(good, device="cpu").num_timesteps == 16


def test_find_latest_takes_the_newest_readable_checkpoint_over_a_stale_pointer(tmp_path: Path) -> None:
    """A writer killed between a checkpoint and latest.json leaves the pointer on the one before: a resume must not
    go back to it (losing a checkpoint interval) while the newer one reads."""
    from train.checkpoint import save_torch_checkpoint, unreadable_checkpoints

    older = save_torch_checkpoint({"num_timesteps": 10, "w": torch.zeros(3)}, tmp_path, keep=3)
    newer = save_torch_checkpoint({"num_timesteps": 20, "w": torch.ones(3)}, tmp_path, keep=3)
    (tmp_path / LATEST).write_text(json.dumps({"checkpoint": older.name, "num_timesteps": 10}))  # stale
    path, state = find_latest(tmp_path)
    assert path == newer and state["num_timesteps"] == 20
    newer.write_bytes(newer.read_bytes()[:-50])  # truncated: passed over (check_checkpoints notes it)
    assert find_latest(tmp_path)[0] == older
    assert unreadable_checkpoints(tmp_path, newer_than=10) == [newer]
    # the pointer breaks a tie: a .zip and a .pt of one step count
    twin = tmp_path / older.name.replace(".pt", ".zip")
    with zipfile.ZipFile(twin, "w") as archive:
        archive.writestr("data", "{}")
        archive.writestr(STATE_ENTRY, json.dumps({"num_timesteps": 10}))
    assert find_latest(tmp_path)[0] == older
    (tmp_path / LATEST).write_text(json.dumps({"checkpoint": twin.name, "num_timesteps": 10}))
    assert find_latest(tmp_path)[0] == twin


def _random_actions(masks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """[W, N] uniformly random valid actions."""
    w, n, a = masks.shape
    scores = np.where(masks.astype(bool), rng.random((w, n, a)), -1.0)
    return scores.argmax(axis=2)


def test_tracker_reports_the_metrics_of_each_world_episode_that_ends() -> None:
    """The tracker's metrics of an ended world-episode agree with counts taken independently from the events and
    with the power shares of the world the episode ended in."""
    from realism_env.rules import power_share

    config = EnvConfig.from_scenario("multipolar", max_cycles=25)
    n_worlds = 3
    batch = WorldBatch(config, n_worlds, seed=5)
    _, masks = batch.reset()
    tracker = WorldEpisodeTracker(config, n_worlds)
    tracker.start(batch.world)
    rng = np.random.default_rng(0)
    declared = np.zeros(n_worlds)
    finished = []
    for _ in range(config.max_cycles):  # every world is truncated at max_cycles, all in the same step
        step = batch.step(_random_actions(masks, rng))
        masks = step.action_mask
        declared += step.events.war_declared.sum(axis=(1, 2))
        finished = tracker.update(step, batch.world)
    assert len(finished) == n_worlds and declared.sum() > 0
    shares = power_share(step.final_world)
    shares = shares / shares.sum(axis=1, keepdims=True)
    for w, values in enumerate(finished):
        assert set(METRICS) <= set(values)
        assert values["war_onsets"] == declared[w]
        assert values["final_hhi"] == pytest.approx(float((shares[w] ** 2).sum()))
    rates = tracker.take_rates()
    assert 0 < rates["war_declared"] < 1 and rates["invalid_action"] == 0


def _two_worlds_at_turn(turns: int) -> tuple[EnvConfig, WorldBatch, np.ndarray, np.random.Generator]:
    """Two worlds of 10-turn episodes stepped ``turns`` turns with random valid actions: the config, the batch, its
    action masks and the generator that drew the actions."""
    config = EnvConfig.from_scenario("multipolar", max_cycles=10)
    batch = WorldBatch(config, 2, seed=5)
    _, masks = batch.reset()
    rng = np.random.default_rng(0)
    for _ in range(turns):
        masks = batch.step(_random_actions(masks, rng)).action_mask
    return config, batch, masks, rng


def test_the_tracker_leaves_out_the_episodes_a_resumed_run_joined_midway() -> None:
    """Worlds recorded from mid-episode (a resumed run's) end with too few turns to count: their metrics are left out,
    and the episodes after them count."""
    config, batch, masks, rng = _two_worlds_at_turn(4)
    tracker = WorldEpisodeTracker(config, 2)
    tracker.start(batch.world)  # at turn 4 of 10
    counted = []
    for _ in range(16):  # the joined episodes end at turn 10, the next ones at turn 20
        step = batch.step(_random_actions(masks, rng))
        masks = step.action_mask
        counted.append(len(tracker.update(step, batch.world)))
    assert counted[5] == 0 and counted[15] == 2 and sum(counted) == 2


def test_the_tracker_goes_on_with_its_recorded_episodes_from_a_checkpoint(tmp_path: Path) -> None:
    """A tracker restored from a checkpoint (arrays read without unpickling) counts the episodes under way when they
    end, with the metrics of the tracker that never stopped; joined-late worlds stay left out; a state that does not
    end where the worlds stand is refused by name."""
    from sb3_contrib import MaskablePPO

    from train.checkpoint import read_arrays, read_checkpoint

    config, batch, masks, rng = _two_worlds_at_turn(2)
    straight = WorldEpisodeTracker(config, 2)
    straight.start(batch.world)  # joins both worlds at turn 2: their first episodes are left out
    for _ in range(6):
        step = batch.step(_random_actions(masks, rng))
        masks = step.action_mask
        assert straight.update(step, batch.world) == []
    model = MaskablePPO("MlpPolicy", "CartPole-v1", n_steps=64, batch_size=64)
    path = save_checkpoint(model, tmp_path, {"recorders": straight.state_dict()})
    saved = read_arrays(path, read_checkpoint(path))["recorders"]
    resumed = WorldEpisodeTracker(config, 2)
    resumed.load_state_dict(saved, batch.world)
    assert resumed.recording
    finished: list[list] = [[], []]
    for _ in range(14):  # the joined episodes end at turn 10, the next ones at turn 20, recorded across the save
        step = batch.step(_random_actions(masks, rng))
        masks = step.action_mask
        for found, tracker in zip(finished, (straight, resumed), strict=True):
            found.extend(tracker.update(step, batch.world))
    assert len(finished[0]) == 2 and json.dumps(finished[0]) == json.dumps(finished[1])  # NaN == NaN, bit for bit
    with pytest.raises(ValueError, match="world 0's recorded episode does not end where the world stands"):
        WorldEpisodeTracker(config, 2).load_state_dict(saved, batch.world)
    with pytest.raises(ValueError, match="of 3 worlds"):
        WorldEpisodeTracker(config, 3).load_state_dict(saved, batch.world)


def test_a_vec_env_state_goes_into_a_checkpoint_and_back_without_unpickling(tmp_path: Path) -> None:
    from train.checkpoint import read_arrays, read_checkpoint, save_checkpoint
    from train.vec_env import RealismVecEnv

    config = EnvConfig.from_scenario("multipolar", max_cycles=10)
    env = RealismVecEnv(config, n_worlds=2, seed=3)
    env.reset()
    rng = np.random.default_rng(0)
    for _ in range(3):
        env.step_async(np.array([rng.choice(np.flatnonzero(m)) for m in env.action_masks()]))
        env.step_wait()

    class Model:  # what save_checkpoint reads of an SB3 model
        num_timesteps = 36

        def save(self, buffer):
            import zipfile

            with zipfile.ZipFile(buffer, "w") as archive:
                archive.writestr("data", "{}")

    path = save_checkpoint(Model(), tmp_path, {"episodes": {"env": env.state_dict()}}, env_rng=env.batch.random)
    state = read_arrays(path, read_checkpoint(path))
    other = RealismVecEnv(config, n_worlds=2, seed=3)
    other.load_state_dict(state["episodes"]["env"])
    np.testing.assert_array_equal(other.action_masks(), env.action_masks())
    np.testing.assert_array_equal(other._episode_return, env._episode_return)
    for name in ("owner", "military", "turn"):
        np.testing.assert_array_equal(getattr(other.batch.world, name), getattr(env.batch.world, name))
    smaller = RealismVecEnv(config, n_worlds=1, seed=3)
    with pytest.raises(ValueError, match="the state's slots do not fit this VecEnv's 6"):
        smaller.load_state_dict(state["episodes"]["env"])
    with pytest.raises(ValueError, match="has a '/'"):
        save_checkpoint(Model(), tmp_path, {"a/b": np.zeros(2)})


# --------------------------------------------------------------------------------------------------
# Learning (slow)
# --------------------------------------------------------------------------------------------------


def evaluate(config: EnvConfig, model: object | None, n_worlds: int = 16, seed: int = 1234) -> float:
    """Mean episode return over one episode of each of ``n_worlds`` worlds (every nation played by ``model``'s
    deterministic policy, or uniformly random valid actions when ``model`` is None), same seed for both."""
    from train.vec_env import RealismVecEnv

    env = RealismVecEnv(config, n_worlds=n_worlds, seed=seed)
    observations = env.reset()
    rng = np.random.default_rng(seed)
    returns: list[float] = []
    ended = np.zeros(n_worlds, dtype=bool)
    for _ in range(config.max_cycles):
        masks = env.action_masks()
        if model is None:
            actions = _random_actions(masks[None], rng)[0]
        else:
            actions, _ = model.predict(observations, action_masks=masks, deterministic=True)
        observations, _, _, infos = env.step(actions)
        for k, info in enumerate(infos):
            if "episode" in info and not ended[k // config.n_nations]:
                returns.append(info["episode"]["r"])
        ended |= env.last_step.world_reset
        if ended.all():
            break
    assert ended.all()
    return float(np.mean(returns))


@pytest.mark.slow
def test_ppo_beats_the_random_policy(tmp_path: Path) -> None:
    """Security maximisers (4 nations, 20 turns) learn within 40k agent-steps to beat random valid play."""
    from sb3_contrib import MaskablePPO

    out = tmp_path / "run"
    argv = ["--doctrine", "security", "--set", "n_nations=4", "--max-cycles", "20", "--n-worlds", "8"]
    result = run([*argv, "--timesteps", "40000", "--seed", "0", "--out", str(out), "--no-progress-bar"], timeout=170)
    assert result.returncode == 0, result.stderr[-3000:]
    config = EnvConfig.from_scenario("multipolar", n_nations=4, max_cycles=20, doctrines="security")
    trained = evaluate(config, MaskablePPO.load(out / "model.zip", device="cpu"))
    random_play = evaluate(config, None)
    print(f"security, 4 nations, 20 turns: PPO {trained:.2f} vs random {random_play:.2f} (max 30)")
    assert trained > random_play + 2.0


def test_atomic_writes_leave_files_readable_as_a_plain_open_would(tmp_path: Path) -> None:
    """The temporary file of an atomic write is readable by its owner alone (mkstemp); the written file gets the mode
    a plain open() gives (0666 less the umask): run folders and replay pages shared with colleagues stay readable."""
    import os
    import stat

    from realism_env.files import atomic_write_bytes

    previous = os.umask(0o022)
    try:
        atomic_write_bytes(tmp_path / "report.md", b"text")
        os.umask(0o027)
        atomic_write_bytes(tmp_path / "model.pt", b"weights")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "report.md").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "model.pt").stat().st_mode) == 0o640
    assert (tmp_path / "report.md").read_bytes() == b"text" and sorted(p.name for p in tmp_path.iterdir()) == [
        "model.pt",
        "report.md",
    ]


@pytest.mark.slow
def test_a_checkpoint_of_another_run_is_refused(tmp_path):
    """A checkpoint copied in from another run (here a narrower network) once resumed in silence: SB3's load builds
    the network the archive describes, so the run went on as the other one under this run's config.json. A
    checkpoint now holds its run's record, and a resume compares it with the settings given."""
    mine, other = tmp_path / "mine", tmp_path / "other"
    for out, extra in ((mine, []), (other, ["--net-arch", "32"])):
        result = run(["--timesteps", str(2 * ROLLOUT), "--out", str(out), *TINY, *extra])
        assert result.returncode == 0, result.stderr[-2000:]
    target, _ = find_latest(mine / "checkpoints")
    target.write_bytes(find_latest(other / "checkpoints")[0].read_bytes())
    config = (mine / "config.json").read_bytes()
    result = run(["--timesteps", str(4 * ROLLOUT), "--out", str(mine), "--resume", *TINY])
    assert result.returncode != 0
    different = f"error: {target} is the checkpoint of a different run than {mine / 'config.json'} (it differs in "
    assert different + "--net-arch 32 (config.json has 64,64))" in result.stderr
    assert "Traceback" not in result.stderr and (mine / "config.json").read_bytes() == config


def test_a_choice_option_that_reads_other_values_still_refuses_the_rest(capsys: pytest.CaptureFixture) -> None:
    """``other=`` (how --doctrine takes a mix beyond its choices) takes what it reads and refuses any other value with
    the choices, with or without ``unknown=`` advice."""
    from dataclasses import dataclass, field

    from train.cli import dataclass_parser

    def read(value: str) -> str | None:
        return value if value.startswith("c") else None

    @dataclass
    class Options:
        x: str = field(default="a", metadata={"help": "x", "choices": ("a", "b"), "other": read})

    parser = dataclass_parser(Options, "prog", "")
    assert parser.parse_args(["--x", "b"]).x == "b" and parser.parse_args(["--x", "cc"]).x == "cc"
    with pytest.raises(SystemExit):
        parser.parse_args(["--x", "zzz"])
    assert "invalid choice: 'zzz'; valid: a, b" in capsys.readouterr().err


def test_a_finished_run_whose_model_zip_is_truncated_is_written_again_on_resume(tmp_path: Path, capsys) -> None:
    """It said "nothing to do, the run is finished" over a model train.evaluate cannot read; a resume from the last
    checkpoint (at the run's end: SB3 learns no step) writes the same model again."""
    out = tmp_path / "run"
    argv = ["--timesteps", str(ROLLOUT), "--out", str(out), *TINY]
    assert main(argv) == 0
    model, summary = out / "model.zip", (out / "metrics.json").read_text()
    with zipfile.ZipFile(model) as archive:
        policy = archive.read("policy.pth")
    model.write_bytes(model.read_bytes()[:1000])
    with pytest.raises(SystemExit, match=f"is finished, but {model} is missing or unreadable; valid: --resume"):
        main(argv)
    capsys.readouterr()
    assert main([*argv, "--resume"]) == 0
    assert f"written again from ckpt_{ROLLOUT:012d}.zip" in capsys.readouterr().err
    with zipfile.ZipFile(model) as archive:
        assert archive.read("policy.pth") == policy
    assert (out / "metrics.json").read_text() == summary  # a repair trains nothing: the run's own summary stays
