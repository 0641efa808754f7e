"""stable-baselines3 callbacks for realism_env training: logging, checkpoints, a progress bar, a clean stop.

- :class:`RealismLogger` logs to TensorBoard, per doctrine, the return of finished episodes and each reward term
  summed over them; the behaviour metrics of finished world-episodes (:class:`WorldEpisodeTracker`); and per-turn
  event rates. It keeps a summary and a learning curve for ``metrics.json``.
- :class:`PeriodicCheckpoint` saves an atomic checkpoint (:mod:`train.checkpoint`) after the first update that
  follows every ``every`` timesteps, and stops training when a stop was requested (SIGTERM, Ctrl-C).
- :class:`TqdmProgress` is a tqdm progress bar on stderr (SB3's own needs ``rich``).

The env is the shared-policy :class:`train.vec_env.RealismVecEnv`: episode returns and summed reward terms come
from its ``episode`` and ``episode_reward_terms`` infos, each slot's doctrine from ``get_attr("doctrine")``, and
behaviour metrics from its ``last_step`` (the last :class:`realism_env.batch.BatchStep`, whose ``final_world`` is
the world an episode ended in) and ``batch.world``.
"""

from __future__ import annotations

import sys
from collections import defaultdict, deque
from collections.abc import Callable
from typing import Any

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import VecEnv
from tqdm import tqdm

from realism_env import EnvConfig, EpisodeRecorder, Events, World
from realism_env.metrics import snapshot

#: Headline metrics shown in the progress bar and the run summary first.
HEADLINE = ("war_onsets", "eliminations", "final_hhi", "alliances_formed", "provinces_transferred")
#: Events whose per-turn rate (per live nation and turn) is logged.
RATE_EVENTS = (
    "war_declared",
    "province_taken",
    "alliance_formed",
    "demand_made",
    "concession",
    "peace",
    "eliminated",
    "invalid_action",
)


def unwrap(env: VecEnv) -> VecEnv:
    """The innermost VecEnv under any VecEnvWrapper."""
    while hasattr(env, "venv"):
        env = env.venv
    return env


def _upper_pairs(x: np.ndarray) -> np.ndarray:
    """[W] count of unordered pairs i < j where the symmetric closure of ``x`` ([W, N, N]) holds."""
    x = x.astype(bool)
    return np.triu(x | x.swapaxes(-1, -2), 1).sum(axis=(1, 2))


class WorldEpisodeTracker:
    """Behaviour metrics (``realism_env.METRICS``) of the world-episodes that end in a batch, fed one
    ``BatchStep`` at a time, plus per-turn event rates. One :class:`realism_env.EpisodeRecorder` per world."""

    def __init__(self, config: EnvConfig, n_worlds: int) -> None:
        self.config = config
        self.n_worlds = n_worlds
        self._recorders: list[EpisodeRecorder] | None = None
        self._joined_late = np.zeros(n_worlds, dtype=bool)  # worlds recorded from mid-episode (a resumed run)
        self.rate_counts = dict.fromkeys(RATE_EVENTS, 0.0)
        self.nation_turns = 0.0

    @property
    def recording(self) -> bool:
        """Whether the tracker records its worlds' episodes: after :meth:`start` or :meth:`load_state_dict`."""
        return self._recorders is not None

    def start(self, world: World) -> None:
        """Begin recording at ``world``: fresh worlds, or, in a resumed run whose checkpoint lacks the recorders
        (:meth:`state_dict`), worlds in mid-episode, whose metrics are left out when they end (their start went
        unrecorded, so counts over the episode would fall short)."""
        self._recorders = [EpisodeRecorder(self.config) for _ in range(self.n_worlds)]
        self._joined_late = np.asarray(world.turn) > 0
        for w, recorder in enumerate(self._recorders):
            recorder.start(world.select(w))

    def state_dict(self) -> dict[str, Any]:
        """The episodes recorded so far, for a checkpoint that goes on with the episodes under way (numpy arrays):
        ``"worlds"``, each world's :meth:`EpisodeRecorder.state_dict` keyed by its index, and ``"joined_late"``
        ([W] bool: the worlds whose episode is left out when it ends)."""
        if self._recorders is None:
            raise RuntimeError("call start(world) before state_dict(): nothing is recorded yet")
        return {
            "worlds": {str(w): recorder.state_dict() for w, recorder in enumerate(self._recorders)},
            "joined_late": self._joined_late.copy(),
        }

    def load_state_dict(self, state: dict[str, Any], world: World) -> None:
        """Go on recording the episodes of :meth:`state_dict`, whose worlds stand as ``world`` (the batch's world,
        restored from the same checkpoint); ``ValueError`` names what does not fit, and nothing changes then."""
        valid = f"valid: the WorldEpisodeTracker.state_dict() of {self.n_worlds} worlds saved with these worlds"
        worlds = state.get("worlds") if isinstance(state, dict) else None
        joined_late = np.asarray(state.get("joined_late") if isinstance(state, dict) else None)
        if not isinstance(worlds, dict) or joined_late.dtype != bool or joined_late.shape != (self.n_worlds,):
            raise ValueError(f"the tracker's state lacks worlds or joined_late; {valid}")
        if sorted(worlds) != sorted(str(w) for w in range(self.n_worlds)):
            raise ValueError(f"the tracker's state records the worlds {sorted(worlds)}; {valid}")
        recorders = [EpisodeRecorder(self.config) for _ in range(self.n_worlds)]
        for w, recorder in enumerate(recorders):
            recorder.load_state_dict(worlds[str(w)], f"world {w}")
            now = snapshot(world.select(w))  # where the world stands: where its recorded episode must end
            last = {name: values[-1] for name, values in worlds[str(w)]["snapshots"].items()}
            differ = sorted(name for name, value in now.items() if not np.array_equal(last.get(name), value))
            if differ:
                raise ValueError(
                    f"world {w}'s recorded episode does not end where the world stands (it differs in "
                    f"{', '.join(differ)}); {valid}"
                )
        self._recorders, self._joined_late = recorders, joined_late

    def update(self, step: Any, world: World) -> list[dict[str, float]]:
        """Account for one batched step; ``world`` is the batch's world after it (fresh worlds where one reset).
        Returns the metrics of each world whose episode ended in this step."""
        events: Events = step.events
        for kind in RATE_EVENTS:
            value = getattr(events, kind)
            self.rate_counts[kind] += float(
                _upper_pairs(value).sum() if kind in ("alliance_formed", "peace") else value.sum()
            )
        self.nation_turns += float(np.asarray(step.acting).sum())
        if self._recorders is None:
            return []
        for w, recorder in enumerate(self._recorders):  # bookkeeping per world, outside the rules
            recorder.record(step.final_world.select(w), Events(*(e[w : w + 1] for e in events)))
        finished: list[dict[str, float]] = []
        for w in np.flatnonzero(np.asarray(step.world_reset)).tolist():
            if not self._joined_late[w]:
                finished.append(self._recorders[w].metrics())
            self._joined_late[w] = False
            self._recorders[w].start(world.select(w))
        return finished

    def take_rates(self) -> dict[str, float]:
        """Per-turn event rates (events per live nation and turn) since the last call; resets the counts."""
        turns = max(self.nation_turns, 1.0)
        rates = {kind: count / turns for kind, count in self.rate_counts.items()}
        self.rate_counts = dict.fromkeys(RATE_EVENTS, 0.0)
        self.nation_turns = 0.0
        return rates


class RealismLogger(BaseCallback):
    """TensorBoard logging of returns, reward terms and behaviour per doctrine; a summary and a learning curve.

    Logged at each rollout's end (written by SB3 with its other scalars): ``episode/return/<doctrine>``,
    ``reward_terms/<doctrine>/<term>`` (summed over an episode, from ``infos[k]["episode_reward_terms"]``, averaged
    over the episodes that finished in the rollout), ``behaviour/<metric>`` (averaged over the world-episodes that
    finished) and ``events_per_nation_turn/<event>``.
    """

    def __init__(self, config: EnvConfig, n_worlds: int, window: int = 100) -> None:
        super().__init__()
        self.config = config
        self.n_worlds = n_worlds
        self.doctrine_of_slot: list[str] = []
        self.tracker = WorldEpisodeTracker(config, n_worlds)
        self.window = window
        self.returns: dict[str, deque] = defaultdict(lambda: deque(maxlen=window))
        self.terms: dict[str, dict[str, deque]] = defaultdict(lambda: defaultdict(lambda: deque(maxlen=window)))
        self.behaviour: dict[str, deque] = defaultdict(lambda: deque(maxlen=window))
        self.rates: dict[str, float] = {}
        self.episodes: dict[str, int] = defaultdict(int)
        self.world_episodes = 0
        self.curve: list[dict[str, float]] = []
        self._rollout_returns: dict[str, list[float]] = defaultdict(list)
        self._rollout_terms: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        self._rollout_behaviour: dict[str, list[float]] = defaultdict(list)
        self._env: VecEnv | None = None

    def _on_training_start(self) -> None:
        self._env = unwrap(self.training_env)
        self.doctrine_of_slot = [str(d) for d in self.training_env.get_attr("doctrine")]
        world = getattr(getattr(self._env, "batch", None), "world", None)
        # fresh worlds (SB3 reset the env before this call), or a resumed run's under way, whose recorded episodes
        # went on where the checkpoint held them (the tracker's load_state_dict)
        if world is not None and not self.tracker.recording:
            self.tracker.start(world)

    def _on_step(self) -> bool:
        for k, info in enumerate(self.locals["infos"]):
            episode = info.get("episode")
            if episode is not None:
                doctrine = self.doctrine_of_slot[k]
                self._rollout_returns[doctrine].append(float(episode["r"]))
                for name, total in info.get("episode_reward_terms", {}).items():
                    self._rollout_terms[doctrine][name].append(float(total))
        step = getattr(self._env, "last_step", None)
        if step is not None:
            world = getattr(getattr(self._env, "batch", None), "world", None)
            for values in self.tracker.update(step, world):
                self.world_episodes += 1
                for name, value in values.items():
                    self._rollout_behaviour[name].append(value)
        return True

    def _on_rollout_end(self) -> None:
        record = self.logger.record
        point: dict[str, float] = {"timesteps": float(self.num_timesteps)}
        for doctrine, values in self._rollout_returns.items():
            self.returns[doctrine].extend(values)
            self.episodes[doctrine] += len(values)
            record(f"episode/return/{doctrine}", float(np.mean(values)))
            # The curve follows the mean of the last `window` episodes (SB3's ep_rew_mean): all worlds of a run start
            # together, so one rollout's finished episodes alone swing with where the episodes stood in it.
            windowed = float(np.mean(self.returns[doctrine]))
            record(f"episode/return_mean_last_{self.window}/{doctrine}", windowed)
            point[doctrine] = windowed
        for doctrine, terms in self._rollout_terms.items():
            for name, values in terms.items():
                self.terms[doctrine][name].extend(values)
                record(f"reward_terms/{doctrine}/{name}", float(np.mean(values)))
        for name, values in self._rollout_behaviour.items():
            self.behaviour[name].extend(values)
            finite = [v for v in values if np.isfinite(v)]
            if finite:
                record(f"behaviour/{name}", float(np.mean(finite)))
        if self.tracker.nation_turns:
            self.rates = self.tracker.take_rates()
            for kind, rate in self.rates.items():
                record(f"events_per_nation_turn/{kind}", rate)
        if len(point) > 1:
            self.curve.append(point)
        self._rollout_returns = defaultdict(list)
        self._rollout_terms = defaultdict(lambda: defaultdict(list))
        self._rollout_behaviour = defaultdict(list)

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint keeps so a resumed run's summary and curve go on (JSON types)."""
        return {
            "returns": {d: list(v) for d, v in self.returns.items()},
            "terms": {d: {t: list(v) for t, v in terms.items()} for d, terms in self.terms.items()},
            "behaviour": {m: list(v) for m, v in self.behaviour.items()},
            "episodes": dict(self.episodes),
            "world_episodes": self.world_episodes,
            "curve": self.curve,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` (missing keys are left empty; None stands for NaN)."""

        def floats(values: list) -> list[float]:
            return [float("nan") if v is None else float(v) for v in values]

        for d, values in state.get("returns", {}).items():
            self.returns[d].extend(floats(values))
        for d, terms in state.get("terms", {}).items():
            for t, values in terms.items():
                self.terms[d][t].extend(floats(values))
        for m, values in state.get("behaviour", {}).items():
            self.behaviour[m].extend(floats(values))
        self.episodes.update(state.get("episodes", {}))
        self.world_episodes = int(state.get("world_episodes", 0))
        self.curve = list(state.get("curve", []))

    def summary(self) -> dict[str, Any]:
        """Means over the last ``window`` finished episodes (per doctrine) and world-episodes (behaviour)."""

        def mean(values: deque) -> float | None:
            finite = [v for v in values if np.isfinite(v)]
            return float(np.mean(finite)) if finite else None

        order = [m for m in HEADLINE if m in self.behaviour] + sorted(m for m in self.behaviour if m not in HEADLINE)
        return {
            "episodes": dict(self.episodes),
            "world_episodes": self.world_episodes,
            "mean_episode_return": {d: mean(v) for d, v in self.returns.items()},
            "mean_reward_terms": {d: {t: mean(v) for t, v in terms.items()} for d, terms in self.terms.items()},
            "behaviour": {name: mean(self.behaviour[name]) for name in order},
            "events_per_nation_turn": dict(self.rates),
            "window": self.window,
        }


class PeriodicCheckpoint(BaseCallback):
    """Calls ``save()`` after the first update once ``every`` timesteps have passed since the last save, and
    stops training (returning False from ``on_step``) once ``should_stop()`` is true."""

    def __init__(self, every: int, save: Callable[[], Any], should_stop: Callable[[], bool]) -> None:
        super().__init__()
        self.every = every
        self.save = save
        self.should_stop = should_stop
        self._last_saved = 0

    def _on_training_start(self) -> None:
        self._last_saved = self.num_timesteps

    def _on_rollout_start(self) -> None:
        # Called right after each update: the weights and the optimiser match num_timesteps.
        if self.every > 0 and self.num_timesteps - self._last_saved >= self.every:
            self.save()
            self._last_saved = self.num_timesteps

    def _on_step(self) -> bool:
        return not self.should_stop()


class TqdmProgress(BaseCallback):
    """A tqdm bar of timesteps on stderr, with its rate and the latest mean return per doctrine."""

    def __init__(self, total: int, logger_callback: RealismLogger | None = None) -> None:
        super().__init__()
        self.total = total
        self.logger_callback = logger_callback
        self.bar: tqdm | None = None

    def _on_training_start(self) -> None:
        self.bar = tqdm(
            total=self.total,
            initial=self.num_timesteps,
            unit="step",
            file=sys.stderr,
            dynamic_ncols=True,
            mininterval=0.5,
            smoothing=0.1,
        )

    def _on_step(self) -> bool:
        assert self.bar is not None
        self.bar.update(self.num_timesteps - self.bar.n)
        return True

    def _on_rollout_end(self) -> None:
        if self.bar is None or self.logger_callback is None:
            return
        returns = {d: f"{np.mean(v):.2f}" for d, v in self.logger_callback.returns.items() if v}
        self.bar.set_postfix(returns, refresh=False)

    def _on_training_end(self) -> None:
        if self.bar is not None:
            self.bar.close()
