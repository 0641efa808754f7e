"""Pinned fingerprints of realism_v2 trajectories: the rules may get faster, never different by accident.

Each env case plays a seeded PettingZoo env with seeded random masked actions and hashes what a user sees:
observations, masks, rewards, terminations, the events in ``infos`` and the true state. Each batch case does the same
for a seeded ``WorldBatch`` on one backend (numpy, and torch on the CPU in float64), whose worlds are replaced from
the map bank as they end. Floats are rounded (9 decimals for rewards and states, observations to 6) so that only a
change of the rules, not a change of summation order, moves the hash.

If this test fails:
- you changed the dynamics, observations or rewards: bump ``VERSION`` in ``realism_env/version.py`` (the env's name and
  registry ids follow it), add an entry to the Version History in ``realism_env/env.py``'s docstring, and re-pin the
  fingerprints: ``python -m tests.test_rules_regression`` prints both tables as the rules give them now, to paste over
  the ones below (the README's "Changing a rule" lists the other steps); or
- a new numpy or torch changed its random streams (neither promises stable streams across releases): check that the
  env is otherwise unchanged (``tests/test_backends.py`` feeds both backends the same draws) and re-pin them the same
  way.
"""

from __future__ import annotations

import hashlib
import importlib.util

import numpy as np
import pytest

import realism_env
from realism_env.backend import to_numpy
from realism_env.batch import WorldBatch

ENV_FINGERPRINTS = {
    ("multipolar", 0): "cbc0e8922fff2951db846d8bef34f5af1b968fd715989b9ecfe17aef9e0487a6",
    ("islands", 1): "654d9c4ab9117246beeb9f048f916c6fcfcc06a8d2ab61fbd2961b760d373779",
    ("europe_1914", 2): "f21ff45470dfc0f715281ee57e1e22eda5584d8e9220311b2d372a3dc6fa2bfe",
}
BATCH_FINGERPRINTS = {
    ("numpy", "multipolar", 0): "52999f5c03be7b9c0583bf8873458daa6436f4283cbf9bfb43e8580443872a92",
    ("numpy", "rising_power", 1): "50e5ba47a538647cb1457579c00ca3d4cf6a1c4bfea69114a8128cdca0248722",
    ("torch", "multipolar", 0): "fa57c1d6a0bf1796e5df13fc1a39bd19976fc235d963f2943a7cfc8246b41671",
    ("torch", "rising_power", 1): "080981dc020437881eef9145d1bdfe138c178d487511c8998c0abf7577dd3e84",
}
STEPS = 120


def env_fingerprint(scenario: str, seed: int, steps: int = STEPS) -> str:
    env = realism_env.parallel_env(scenario=scenario, rich_infos=True)  # the events in infos, as when pinned
    rng = np.random.default_rng(seed + 1000)
    digest = hashlib.sha256()
    observations, _ = env.reset(seed=seed)
    for _ in range(steps):
        if not env.agents:
            observations, _ = env.reset()
            digest.update(b"reset")
        actions = {}
        for agent in env.agents:
            valid = np.flatnonzero(observations[agent]["action_mask"])
            actions[agent] = int(valid[rng.integers(valid.size)])
        observations, rewards, terminations, truncations, infos = env.step(actions)
        for agent in sorted(observations):
            digest.update(agent.encode())
            digest.update(observations[agent]["observation"].tobytes())
            digest.update(observations[agent]["action_mask"].tobytes())
        rounded = {agent: round(reward, 9) for agent, reward in rewards.items()}
        events = {agent: [(e["kind"], e["actor"], e["target"]) for e in infos[agent]["events"]] for agent in infos}
        valid_flags = {agent: info["action_valid"] for agent, info in infos.items()}
        digest.update(repr((sorted(rounded.items()), terminations, truncations, events, valid_flags)).encode())
        digest.update(np.round(env.state().astype(np.float64), 9).tobytes())
    return digest.hexdigest()


def batch_fingerprint(backend: str, scenario: str, seed: int, steps: int = STEPS, n_worlds: int = 8) -> str:
    config = realism_env.EnvConfig.from_scenario(scenario, max_cycles=40)
    batch = WorldBatch(config, n_worlds, seed=seed, backend=backend, dtype="float64", map_bank=16)
    _, mask = batch.reset()
    rng = np.random.default_rng(seed + 1000)
    digest = hashlib.sha256()
    for _ in range(steps):
        mask = to_numpy(mask)
        actions = np.where(mask.astype(bool), rng.random(mask.shape), -1.0).argmax(axis=2)
        if backend == "torch":
            import torch

            actions = torch.as_tensor(actions)
        out = batch.step(actions)
        mask = out.action_mask
        digest.update(np.round(to_numpy(out.observations).astype(np.float64), 6).tobytes())
        digest.update(to_numpy(out.action_mask).tobytes())
        digest.update(np.round(to_numpy(out.rewards), 9).tobytes())
        for flags in (out.terminated, out.truncated, out.world_reset, out.events.invalid_action):
            digest.update(to_numpy(flags).tobytes())
        digest.update(to_numpy(batch.world.owner).astype(np.int64).tobytes())
        digest.update(np.round(to_numpy(batch.world.military), 9).tobytes())
    return digest.hexdigest()


@pytest.mark.parametrize(("scenario", "seed"), sorted(ENV_FINGERPRINTS))
def test_env_trajectory_fingerprint_is_unchanged(scenario: str, seed: int) -> None:
    found = env_fingerprint(scenario, seed)
    assert found == ENV_FINGERPRINTS[(scenario, seed)], (
        f"{realism_env.NAME} trajectory of {scenario!r} seed {seed} changed (fingerprint {found}). If the rules, "
        "observations or rewards changed, bump VERSION in realism_env/version.py and re-pin the fingerprints "
        "(python -m tests.test_rules_regression prints them); if only numpy "
        f"(now {np.__version__}) changed its random streams, re-pin them. See this module's docstring."
    )


@pytest.mark.parametrize(("backend", "scenario", "seed"), sorted(BATCH_FINGERPRINTS))
def test_batch_trajectory_fingerprint_is_unchanged(backend: str, scenario: str, seed: int) -> None:
    if backend == "torch":
        pytest.importorskip("torch")
    found = batch_fingerprint(backend, scenario, seed)
    assert found == BATCH_FINGERPRINTS[(backend, scenario, seed)], (
        f"{realism_env.NAME} WorldBatch trajectory on {backend} of {scenario!r} seed {seed} changed (fingerprint "
        f"{found}). If the rules, observations or rewards changed, bump VERSION in realism_env/version.py and re-pin "
        "the fingerprints (python -m tests.test_rules_regression prints them). See this module's docstring."
    )


def fresh_fingerprints() -> str:
    """Both tables of fingerprints as the rules give them now, as Python to paste over the ones above. Without torch
    its rows are the pinned ones, marked as not re-pinned (dropped, their tests would vanish from the parametrisation
    without a failure)."""
    env = {key: env_fingerprint(*key) for key in sorted(ENV_FINGERPRINTS)}
    has_torch = importlib.util.find_spec("torch") is not None
    lines = [
        "ENV_FINGERPRINTS = {",
        *(f"    {key!r}: {value!r}," for key, value in env.items()),
        "}",
        "BATCH_FINGERPRINTS = {",
    ]
    for key in sorted(BATCH_FINGERPRINTS):
        if key[0] == "torch" and not has_torch:
            lines.append(f"    {key!r}: {BATCH_FINGERPRINTS[key]!r},  # not re-pinned: torch is not installed here")
        else:
            lines.append(f"    {key!r}: {batch_fingerprint(*key)!r},")
    return "\n".join([*lines, "}"])


if __name__ == "__main__":
    print(fresh_fingerprints())


def test_the_printed_tables_are_the_pinned_ones() -> None:
    """``python -m tests.test_rules_regression`` prints what to paste after a deliberate change: on unchanged rules,
    exactly the tables pinned here (so a re-pin from its output pins what the tests check)."""
    pytest.importorskip("torch")
    printed: dict = {}
    exec(fresh_fingerprints(), printed)
    assert printed["ENV_FINGERPRINTS"] == ENV_FINGERPRINTS
    assert printed["BATCH_FINGERPRINTS"] == BATCH_FINGERPRINTS


def test_without_torch_the_printed_tables_keep_the_torch_pins(monkeypatch: pytest.MonkeyPatch) -> None:
    """Re-pinned where torch is missing (an optional extra), the torch rows stay as pinned, marked: dropped, their
    tests would have left the parametrisation without a failure."""
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *args: None if name == "torch" else find_spec(name))
    text = fresh_fingerprints()
    printed: dict = {}
    exec(text, printed)
    assert printed["BATCH_FINGERPRINTS"] == BATCH_FINGERPRINTS
    assert text.count("# not re-pinned: torch is not installed here") == 2
