"""One learning nation among scripted ones: a ``gymnasium.Env`` over the PettingZoo env.

:class:`SingleLearnerEnv` gives one nation (the *learner*) to the agent and plays every other nation with a scripted
policy from :mod:`agents` (a background population, as in Melting Pot's scenarios). It is a wrapper: the PettingZoo
env underneath (``self.env``, a :class:`realism_env.RealismEnv`) never calls agents. It needs numpy and gymnasium
only, so any gymnasium learner can use it.

Usage::

    from sb3_contrib import MaskablePPO
    from agents.single_learner import SingleLearnerEnv

    env = SingleLearnerEnv(scenario="multipolar", doctrines="security", background="offensive_realist", max_cycles=100)
    model = MaskablePPO("MlpPolicy", env, seed=0).learn(20_000)

    import gymnasium, realism_env  # importing realism_env registers the id (realism_env.registration)
    env = gymnasium.make("realism_env/SingleLearner-v2", learner=None, max_cycles=50)
    env = gymnasium.make("realism_env:realism_env/SingleLearner-v2")  # after `import gymnasium` alone

- Observation: the learner's ``Box(0, 1, (D,), float32)`` observation (plus a one-hot of its own doctrine with
  ``doctrine_indicator=True``, as in :class:`train.vec_env.RealismVecEnv`); action: the env's ``Discrete(A)``;
  :meth:`~SingleLearnerEnv.action_masks` gives the learner's valid actions (for ``sb3_contrib.MaskablePPO``). A
  masked-out action is played as WAIT at its arms level.
- Reward: the learner's, under its own doctrine (``config.doctrines``); ``info`` is the env's info for the learner
  (``action_valid``; with ``rich_infos=True`` also ``reward_terms`` and ``events``) plus ``learner`` (its nation
  index). ``env.env.last_rich_infos`` has the rich records of every nation either way.
- The episode ends when the learner is eliminated or the world ends by unification (``terminated``), or at
  ``max_cycles`` (``truncated``).
- ``learner``: a nation index, or ``None`` for a random nation each episode (drawn from the env's seeded
  generator); ``reset(options={"learner": i})`` picks one for a single episode. ``background``: one policy name for
  every other nation, or a sequence with one name per nation (the learner's entry is ignored and may be ``None``
  when the learner is fixed).
- Seeding: ``reset(seed=s)`` plays the world of ``realism_env`` seed ``s`` with nation ``k``'s scripted policy on the
  ``k``-th child of ``SeedSequence(s)``, as :func:`agents.rollout` does; ``reset()`` draws the next seed from the
  env's generator.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import gymnasium
import numpy as np

import realism_env
from agents import POLICIES, Nations, Policy, make_policy
from realism_env import EnvConfig

RENDER_MODES = ("ansi", "rgb_array")


class SingleLearnerEnv(gymnasium.Env):
    """A nation of ``realism_env`` for a single-agent learner; the others are scripted.

    Args:
        config: the world's config; ``None`` builds it from ``scenario`` and ``overrides``.
        scenario: a :data:`realism_env.SCENARIOS` name (when ``config`` is ``None``; default ``"multipolar"``).
        learner: the learning nation's index, or ``None`` for a random one each episode.
        background: a policy name of :data:`agents.POLICIES` for every other nation, or one name per nation.
        doctrine_indicator: append a one-hot of the learner's doctrine (:func:`realism_env.doctrine_onehot`).
        render_mode: ``None``, ``"ansi"`` or ``"rgb_array"`` (passed to the env).
        rich_infos: ``info`` holds the learner's ``reward_terms`` and ``events`` too (passed to the env).
        overrides: any :class:`realism_env.EnvConfig` field (``max_cycles``, ``doctrines``, ...).
    """

    metadata = {"render_modes": list(RENDER_MODES), "render_fps": 2}

    def __init__(
        self,
        config: EnvConfig | None = None,
        *,
        scenario: str | None = None,
        learner: int | None = 0,
        background: str | Sequence[str | None] = "offensive_realist",
        doctrine_indicator: bool = False,
        render_mode: str | None = None,
        rich_infos: bool = False,
        **overrides: Any,
    ) -> None:
        # A string "no" would count as True: refused before the env is built, as the env refuses rich_infos="no".
        if not isinstance(doctrine_indicator, (bool, np.bool_)):
            raise ValueError(f"doctrine_indicator={doctrine_indicator!r} is invalid; valid: True or False")
        self.env = realism_env.parallel_env(
            config, scenario=scenario, render_mode=render_mode, rich_infos=rich_infos, **overrides
        )
        self.config = self.env.config
        self.render_mode = render_mode
        n = self.config.n_nations
        valid_learner = isinstance(learner, (int, np.integer)) and not isinstance(learner, bool) and 0 <= learner < n
        if learner is not None and not valid_learner:
            raise ValueError(f"learner={learner!r} is invalid; valid: None (random each episode) or 0..{n - 1}")
        learner = None if learner is None else int(learner)
        self._fixed_learner = learner
        self._policies = self._build_background(background, learner)
        self.doctrine_indicator = bool(doctrine_indicator)
        onehot = realism_env.doctrine_onehot(self.config.doctrine_per_nation)
        self._indicator = onehot if self.doctrine_indicator else onehot[:, :0]
        size = self.env.layout.size + self._indicator.shape[1]
        self.observation_space = gymnasium.spaces.Box(0.0, 1.0, (size,), np.float32)
        self.action_space = gymnasium.spaces.Discrete(realism_env.n_actions(n, len(self.config.arms_shares)))
        self.learner = 0 if learner is None else learner  #: the learning nation of the current episode
        self._observations: dict[str, dict[str, np.ndarray]] = {}
        self._background: Nations | None = None  # the other nations of the episode, with their memories
        self._rngs: dict[str, np.random.Generator] = {}

    def _build_background(self, background: str | Sequence[str | None], learner: int | None) -> dict[int, Policy]:
        n = self.config.n_nations
        if isinstance(background, str):
            names: list[str | None] = [background] * n
        elif isinstance(background, Iterable):
            names = list(background)
            if len(names) != n:
                raise ValueError(f"background has {len(names)} names; valid: one policy name, or one per nation ({n})")
        else:
            raise ValueError(
                f"background={background!r} is invalid; valid: a policy name for every other nation, or a sequence "
                f"of one name per nation ({n}; the fixed learner's may be None); names: {', '.join(sorted(POLICIES))}"
            )
        for i, name in enumerate(names):
            if name is None and (learner is None or i != learner):
                raise ValueError(f"background[{i}] is None; valid: a policy name for every nation but a fixed learner")
            if name is not None and name not in POLICIES:
                raise ValueError(f"unknown policy {name!r}; valid: {', '.join(sorted(POLICIES))}")
        # one policy object per name, so that the nations it plays decide in one batched call (agents.Nations)
        policies = {name: make_policy(name, self.env) for name in dict.fromkeys(names) if name is not None}
        return {i: policies[name] for i, name in enumerate(names) if name is not None}

    @property
    def learner_agent(self) -> str:
        """The learner's agent name in the PettingZoo env (``nation_i``)."""
        return self.env.possible_agents[self.learner]

    def _observation(self, observations: dict[str, dict[str, np.ndarray]]) -> np.ndarray:
        own = observations[self.learner_agent]["observation"]
        return np.concatenate([own, self._indicator[self.learner]]).astype(np.float32, copy=False)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        n = self.config.n_nations
        learner = (options or {}).get("learner", self._fixed_learner)
        if learner is None:
            learner = int(self.np_random.integers(n))
        elif not self._may_learn(learner):
            valid = [i for i in range(n) if self._may_learn(i)]
            raise ValueError(f"options['learner']={learner!r} is invalid; valid: one of {valid}")
        self.learner = int(learner)
        episode_seed = seed if seed is not None else int(self.np_random.integers(2**62))
        self._observations, infos = self.env.reset(seed=episode_seed)
        children = np.random.SeedSequence(episode_seed).spawn(n)
        agents = self.env.possible_agents
        self._rngs = {agent: np.random.default_rng(child) for agent, child in zip(agents, children, strict=True)}
        self._background = Nations({agents[i]: self._policies[i] for i in range(n) if i != self.learner}, agents)
        info = dict(infos[self.learner_agent], learner=self.learner)
        return self._observation(self._observations), info

    def _may_learn(self, nation: Any) -> bool:
        """Whether ``nation`` may be the learner: an index whose every other nation has a background policy."""
        n = self.config.n_nations
        if isinstance(nation, bool) or not isinstance(nation, (int, np.integer)) or not 0 <= nation < n:
            return False
        return all(i in self._policies for i in range(n) if i != nation)

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        learner_agent = self.learner_agent
        if learner_agent not in self.env.agents:
            raise RuntimeError("the learner's episode is over; call reset()")
        # Checked before the scripted nations draw and remember anything: a refused step leaves the episode as it was.
        realism_env.checked_action(learner_agent, action, self.action_space.n)
        others = {agent: self._observations[agent] for agent in self.env.agents if agent != learner_agent}
        played = self._background.act(others, self._rngs)
        actions: dict[str, Any] = {
            agent: action if agent == learner_agent else played[agent] for agent in self.env.agents
        }
        observations, rewards, terminations, truncations, infos = self.env.step(actions)
        self._observations = observations
        info = dict(infos[learner_agent], learner=self.learner)
        return (
            self._observation(observations),
            float(rewards[learner_agent]),
            bool(terminations[learner_agent]),
            bool(truncations[learner_agent]),
            info,
        )

    def action_masks(self) -> np.ndarray:
        """[A] bool: the learner's valid actions now."""
        if not self._observations:
            raise RuntimeError("call reset() before action_masks()")
        return self._observations[self.learner_agent]["action_mask"].astype(bool)

    def render(self) -> str | np.ndarray | None:
        return self.env.render()

    def close(self) -> None:
        self.env.close()
