"""A pinned fingerprint of realism_v0 trajectories: the rules may get faster, never different by accident.

Each case plays a seeded env with seeded random masked actions and hashes what a user sees: observations,
masks, rewards, terminations, the events in ``infos`` and the true state. Floats are rounded (9 decimals for
rewards and state, float32 observations as they are) so that only a change of the rules, not a change of
summation order, moves the hash.

If this test fails:
- you changed the dynamics, observations or rewards: bump the env version (``realism_v0`` -> ``v1``), add a
  line to the Version History in the env docstring, and update ``FINGERPRINTS``; or
- a new numpy changed its random streams (NumPy does not promise stable ``Generator`` streams across
  releases): check that the env is otherwise unchanged and update ``FINGERPRINTS``.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

import realism_env

FINGERPRINTS = {
    ("multipolar", 0): "06647adec1c001e7582d24f8f728e9ccf9a8d4d09b17a76bd294e56bf44ef525",
    ("islands", 1): "d25775c7afbc3881114d3fee08efea98f8c96bd05d1171d5c0053a0083dbbcfd",
    ("europe_1914", 2): "02cc96e7195489fbe528e01c18051a4dcbf53d7f1de5e9b4e5fd219a2cc7b996",
}
STEPS = 120


def fingerprint(scenario: str, seed: int, steps: int = STEPS) -> str:
    env = realism_env.parallel_env(scenario=scenario)
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


@pytest.mark.parametrize(("scenario", "seed"), sorted(FINGERPRINTS))
def test_trajectory_fingerprint_is_unchanged(scenario: str, seed: int) -> None:
    found = fingerprint(scenario, seed)
    assert found == FINGERPRINTS[(scenario, seed)], (
        f"realism_v0 trajectory of {scenario!r} seed {seed} changed (fingerprint {found}). If the rules, "
        "observations or rewards changed, bump the env version and update FINGERPRINTS; if only numpy "
        f"(now {np.__version__}) changed its random streams, update FINGERPRINTS. See this module's docstring."
    )
