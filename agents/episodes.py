"""Episodes of the evaluation harness: a :class:`~agents.population.Plan` played in matched worlds, each episode
recorded by ``realism_env.EpisodeRecorder`` into one row of metrics (overall, by doctrine and by policy).

Up to :attr:`Episodes.TOGETHER` episodes play as one batch of worlds (:class:`realism_env.SeededWorlds`: one
call of the rules a turn for all of them), each policy deciding for its nations of all of them in one call
(:class:`agents.players.Players`). Episode ``k`` plays exactly as ``agents.rollout.rollout(env, policies, seed)``
plays it in the PettingZoo env: the env's world and draws for its seed, and nation ``i``'s generator the ``i``-th
child of ``SeedSequence(seed)``."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

import realism_env
from agents.players import Players
from agents.policies import Policy, make_policy
from agents.population import Plan
from realism_env import BatchStep, EpisodeLog, SeededWorlds, batch_metrics, batch_nation_metrics, group_means


@dataclass(frozen=True)
class Turn:
    """One turn of a group of episodes played together: ``[E, N, ...]`` arrays, episode ``k`` in row ``k``."""

    live: np.ndarray  #: [E, N] bool, the nations that acted (alive, in an episode still running)
    observations: np.ndarray  #: [E, N, D] what they saw
    masks: np.ndarray  #: [E, N, A] the action masks they saw
    actions: np.ndarray  #: [E, N] what they chose (meaningless where not live)
    step: BatchStep  #: what the step returned (rewards count where ``live``)
    ended: np.ndarray  #: [E] bool, the episodes that ended with this turn

    @property
    def earned(self) -> np.ndarray:
        """[E, N] the rewards of the nations that acted (0 for the others): what a nation's return sums."""
        return np.where(self.live, self.step.rewards, 0.0)


class Group:
    """Episodes played together as one batch of worlds (:meth:`Episodes.play`): iterate :meth:`turns`, then read
    :attr:`n_turns` and :meth:`log`."""

    def __init__(self, seeds: list[int], worlds: SeededWorlds, players: Players, generators: list[list[Any]]) -> None:
        self.seeds = seeds
        self.worlds = worlds
        self.players = players
        self.generators = generators  #: [episode][nation] the nations' generators
        self.recorder = realism_env.EpisodeRecorder(worlds.config)
        self.n_turns = np.zeros(len(seeds), dtype=np.int64)  #: [E] turns each episode lasted
        self._record: EpisodeLog | None = None  # every world's record, stacked once the turns are played

    def turns(self) -> Iterator[Turn]:
        """Play every episode to its end, yielding each turn."""
        observations, masks = self.worlds.reset()
        self.recorder.start(self.worlds.world)
        live = np.asarray(self.worlds.world.alive, dtype=bool).copy()
        for _ in range(self.worlds.config.max_cycles):
            running = self.worlds.running
            if not running.any():
                return
            live = live & running[:, None]
            none = np.zeros(live.shape, dtype=np.int64)
            actions = self.players.act(none, observations, masks, live, lambda k, i: self.generators[k][i])
            step = self.worlds.step(actions)
            self.recorder.record(step.final_world, step.events)
            self.n_turns += running
            yield Turn(live, observations, masks, actions, step, running & ~self.worlds.running)
            observations, masks = step.observations, step.action_mask
            live = step.acting & ~step.terminated & ~step.truncated  # the env's agents after the step

    def log(self, k: int) -> EpisodeLog:
        """Episode ``k``'s log (its own turns only), once the turns are played."""
        if self._record is None:
            self._record = self.recorder.log()
        return self._record.select(k, int(self.n_turns[k]))


class Episodes:
    """Plays the episodes of one plan: its (stateless) policies, reused for every episode.

    Args:
        plan: the population, doctrines and config.
        together: how many episodes play as one batch of worlds (more share each call of the rules and of the
            policies; each holds its world and record in memory); default :attr:`TOGETHER`.
    """

    #: the default of ``together``: past a few dozen worlds a turn's cost grows with the worlds, not the calls
    TOGETHER: ClassVar[int] = 32

    def __init__(self, plan: Plan, together: int | None = None) -> None:
        together = self.TOGETHER if together is None else together
        if together < 1:
            raise ValueError(f"together={together} is invalid; valid: an integer >= 1")
        self.plan = plan
        self.together = together
        seeded = SeededWorlds(plan.config, [0])  # for the policies: the env's layout and config
        shared = {name: make_policy(name, seeded) for name in dict.fromkeys(plan.policies)}
        self.policies: list[Policy] = [shared[name] for name in plan.policies]  #: nation i's policy
        self.group: Group | None = None  #: the last group played

    def play(self, seeds: Sequence[int]) -> Iterator[Group]:
        """The episodes ``seeds`` in groups of ``together``, each played as one batch of worlds: iterate each group's
        turns before taking the next group."""
        n = self.plan.config.n_nations
        for start in range(0, len(seeds), self.together):
            group = [int(seed) for seed in seeds[start : start + self.together]]
            generators = [
                [np.random.default_rng(child) for child in np.random.SeedSequence(seed).spawn(n)] for seed in group
            ]
            players = Players.population(self.policies, len(group))
            self.group = Group(group, SeededWorlds(self.plan.config, group), players, generators)
            yield self.group

    def run(self, seed: int) -> dict[str, Any]:
        """One episode in the matched world ``seed``: its row ``{"seed", "turns", METRIC: value, ..., "by_doctrine",
        "by_policy"}``; its record stays in ``self.group.recorder``."""
        return self.run_many([seed])[0]

    def run_many(self, seeds: Sequence[int], progress: Any = None) -> list[dict[str, Any]]:
        """The rows of the episodes ``seeds`` (in order), as :meth:`run`'s; ``progress`` (a tqdm bar or None) is
        advanced as episodes end."""
        rows: list[dict[str, Any]] = []
        for group, returns in self._played(seeds, progress):
            rows += [
                self.row(group.log(k), seed, int(group.n_turns[k]), returns[k]) for k, seed in enumerate(group.seeds)
            ]
        return rows

    def returns(self, seeds: Sequence[int], progress: Any = None) -> np.ndarray:
        """[E, N] each nation's return in each episode ``seeds`` (in order): its rewards summed over the turns it
        acted; ``progress`` (a tqdm bar or None) is advanced as episodes end."""
        return np.concatenate([returns for _, returns in self._played(seeds, progress)])

    def _played(self, seeds: Sequence[int], progress: Any) -> Iterator[tuple[Group, np.ndarray]]:
        """Each group of the episodes ``seeds`` played to its end, with [E, N] each nation's return in it."""
        for group in self.play(seeds):
            returns = np.zeros((len(group.seeds), self.plan.config.n_nations))
            for turn in group.turns():
                returns += turn.earned
                if progress is not None:
                    progress.update(int(turn.ended.sum()))
            yield group, returns

    def row(self, log: EpisodeLog, seed: int, turns: int, returns: np.ndarray | None = None) -> dict[str, Any]:
        """The row of an episode (its log, seed and length): its metrics, and their means by doctrine and by policy,
        with ``returns`` ([N], each nation's rewards summed under its doctrine) as the per-nation ``return``."""
        per_nation = {name: values[0] for name, values in batch_nation_metrics(log).items()}
        if returns is not None:
            per_nation = {"return": np.asarray(returns, dtype=float), **per_nation}
        row: dict[str, Any] = {"seed": int(seed), "turns": turns}
        row.update({name: float(values[0]) for name, values in batch_metrics(log).items()})
        row["by_doctrine"] = group_means(per_nation, self.plan.doctrines)
        row["by_policy"] = group_means(per_nation, self.plan.policies)
        return row


def run_episodes(plan: Plan, seeds: Sequence[int], progress: Any = None) -> list[dict[str, Any]]:
    """The rows of the episodes ``seeds`` (in order); ``progress`` (a tqdm bar or None) is advanced per episode."""
    return Episodes(plan).run_many(seeds, progress)


def matched_seeds(seed: int, episodes: int) -> list[int]:
    """The env seeds of the matched worlds: episode ``k`` uses ``seed + k``."""
    return [seed + k for k in range(episodes)]
