"""Episodes of the evaluation harness: a :class:`~agents.population.Plan` played in matched worlds, each episode
recorded by ``realism_env.EpisodeRecorder`` into one row of metrics (overall, by doctrine and by policy)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import realism_env
from agents.policies import Policy
from agents.population import Plan
from agents.rollout import build_policies, rollout
from realism_env import group_means


class _RecordingEnv:
    """The env seen through a metrics recorder: ``reset`` starts it on the new world, ``step`` records each turn.
    Everything else is the env's own, so :func:`agents.rollout.rollout` plays it unchanged."""

    def __init__(self, env: realism_env.RealismEnv) -> None:
        self.env = env
        self.recorder = realism_env.EpisodeRecorder(env.config)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.env, name)

    def reset(self, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        result = self.env.reset(seed=seed, options=options)
        self.recorder.start(self.env.world)
        return result

    def step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        result = self.env.step(actions)
        self.recorder.record(self.env.world, self.env.last_events)
        return result


class Episodes:
    """Plays the episodes of one plan: one env and one set of (stateless) policies, reused for every episode."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.env = _RecordingEnv(realism_env.parallel_env(config=plan.config))
        self.policies: dict[str, Policy] = build_policies(self.env, list(plan.policies))

    def run(self, seed: int) -> dict[str, Any]:
        """One episode in the matched world ``seed``: its row ``{"seed", "turns", METRIC: value, ..., "by_doctrine",
        "by_policy"}``."""
        turns = sum(1 for _ in rollout(self.env, self.policies, seed))
        recorder = self.env.recorder
        per_nation = recorder.nation_metrics()
        row: dict[str, Any] = {"seed": int(seed), "turns": turns}
        row.update(recorder.metrics())
        row["by_doctrine"] = group_means(per_nation, self.plan.doctrines)
        row["by_policy"] = group_means(per_nation, self.plan.policies)
        return row


def run_episodes(plan: Plan, seeds: Sequence[int], progress: Any = None) -> list[dict[str, Any]]:
    """The rows of the episodes ``seeds`` (in order); ``progress`` (a tqdm bar or None) is advanced per episode."""
    episodes = Episodes(plan)
    rows = []
    for seed in seeds:
        rows.append(episodes.run(seed))
        if progress is not None:
            progress.update(1)
    return rows


def matched_seeds(seed: int, episodes: int) -> list[int]:
    """The env seeds of the matched worlds: episode ``k`` uses ``seed + k``."""
    return [seed + k for k in range(episodes)]
