"""Episodes of the evaluation harness: a :class:`~agents.population.Plan` played in matched worlds, each episode
recorded by ``realism_env.EpisodeRecorder`` into one row of metrics (overall, by doctrine and by policy).

Up to :attr:`Episodes.together` episodes play in lockstep (:func:`agents.rollout.rollout_together`), so each scripted
policy decides for its nations of all of them in one batched call a turn; every episode plays as it would alone."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

import realism_env
from agents.policies import Policy
from agents.population import Plan
from agents.rollout import Transition, build_policies, rollout_together
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
    """Plays the episodes of one plan: envs and one set of (stateless) policies, reused for every episode.

    Args:
        plan: the population, doctrines and config.
        together: how many episodes play in lockstep (more batch the policies' calls further; each holds an env);
            default :attr:`TOGETHER`.

    ``env`` is the first env, the one :meth:`run` plays its episode in."""

    #: the default of ``together``: past a few dozen episodes the policies' share of a turn is already small
    TOGETHER: ClassVar[int] = 32

    def __init__(self, plan: Plan, together: int | None = None) -> None:
        together = self.TOGETHER if together is None else together
        if together < 1:
            raise ValueError(f"together={together} is invalid; valid: an integer >= 1")
        self.plan = plan
        self.together = together
        self.envs = [self._new_env()]
        self.env = self.envs[0]
        self.policies: dict[str, Policy] = build_policies(self.env, list(plan.policies))

    def _new_env(self) -> _RecordingEnv:
        return _RecordingEnv(realism_env.parallel_env(config=self.plan.config))

    def play(
        self, seeds: Sequence[int]
    ) -> Iterator[tuple[list[int], list[_RecordingEnv], Iterator[list[Transition | None]]]]:
        """The episodes ``seeds`` in groups of ``together`` played in lockstep: yields each group's seeds, envs
        (episode ``k`` in ``envs[k]``, its recorder on the world) and turns (each turn's transitions, ``None`` for an
        episode that has ended), to be consumed before the next group."""
        for start in range(0, len(seeds), self.together):
            group = [int(seed) for seed in seeds[start : start + self.together]]
            while len(self.envs) < len(group):
                self.envs.append(self._new_env())
            envs = self.envs[: len(group)]
            yield group, envs, rollout_together(envs, self.policies, group)

    def run(self, seed: int) -> dict[str, Any]:
        """One episode in the matched world ``seed``: its row ``{"seed", "turns", METRIC: value, ..., "by_doctrine",
        "by_policy"}``."""
        return self.run_many([seed])[0]

    def run_many(self, seeds: Sequence[int], progress: Any = None) -> list[dict[str, Any]]:
        """The rows of the episodes ``seeds`` (in order), as :meth:`run`'s; ``progress`` (a tqdm bar or None) is
        advanced as episodes end."""
        rows: list[dict[str, Any]] = []
        for group, envs, turns in self.play(seeds):
            played = [0] * len(group)
            for transitions in turns:
                for k, transition in enumerate(transitions):
                    if transition is not None:
                        played[k] += 1
                        if progress is not None and not envs[k].agents:
                            progress.update(1)
            rows += [self._row(env.recorder, seed, n) for env, seed, n in zip(envs, group, played, strict=True)]
        return rows

    def _row(self, recorder: Any, seed: int, turns: int) -> dict[str, Any]:
        per_nation = recorder.nation_metrics()
        row: dict[str, Any] = {"seed": int(seed), "turns": turns}
        row.update(recorder.metrics())
        row["by_doctrine"] = group_means(per_nation, self.plan.doctrines)
        row["by_policy"] = group_means(per_nation, self.plan.policies)
        return row


def run_episodes(plan: Plan, seeds: Sequence[int], progress: Any = None) -> list[dict[str, Any]]:
    """The rows of the episodes ``seeds`` (in order); ``progress`` (a tqdm bar or None) is advanced per episode."""
    return Episodes(plan).run_many(seeds, progress)


def matched_seeds(seed: int, episodes: int) -> list[int]:
    """The env seeds of the matched worlds: episode ``k`` uses ``seed + k``."""
    return [seed + k for k in range(episodes)]
