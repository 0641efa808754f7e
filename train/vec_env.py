"""A shared-policy stable-baselines3 ``VecEnv`` over many worlds: one slot per (world, nation).

:class:`RealismVecEnv` is a native SB3 vector env (no SuperSuit, no PettingZoo env per world) backed by one
:class:`realism_env.batch.WorldBatch`, so a step of all ``n_worlds * n_nations`` slots is one batched transition of
the shared rules. Slot ``k`` is nation ``k % N`` of world ``k // N``. One network acts for every nation (parameter
sharing): observations and target slots are already relative to the observing nation. With
``doctrine_indicator=True`` a one-hot of the slot's own doctrine (:func:`realism_env.doctrine_onehot`, over
:func:`realism_env.doctrine_names`) is appended to its observation, so one network can serve a mixed population.

Usage::

    from sb3_contrib import MaskablePPO
    from realism_env import EnvConfig
    from train import RealismVecEnv

    config = EnvConfig.from_scenario("multipolar", doctrines="power", max_cycles=100)
    venv = RealismVecEnv(config, n_worlds=16, seed=0)
    model = MaskablePPO("MlpPolicy", venv, n_steps=128, seed=0).learn(50_000)

Episodes, elimination and the inactive stretch (what each slot reports):

- A live slot steps like a gymnasium env under SB3's auto-reset convention. Its episode ends (``done=True``) when its
  nation is eliminated or its world ends (unification: every live slot is terminated; ``max_cycles``: every live slot
  is truncated, ``infos[k]["TimeLimit.truncated"] = True`` so PPO bootstraps). The ending step's info holds
  ``terminal_observation``, the Monitor-style ``episode = {"r", "l", "t"}`` (so SB3 logs ``ep_rew_mean``) and
  ``episode_reward_terms`` (each term of the doctrine's reward summed over the episode). Every step's info of a live
  slot holds that step's ``reward_terms``.
- An eliminated nation's slot is *inactive* until its world resets: zero observation, reward 0, ``done=False``, a
  mask that allows only action 0 (arms level 0, WAIT, target slot 0); its action is ignored (the batch is never
  reshaped), and every step that ignored it has ``infos[k]["inactive"] = True`` (the elimination step itself, whose
  action counted, does not).
- When the world of an inactive slot resets, that step reports ``done=True`` for the slot too (with
  ``inactive=True``, a zero ``terminal_observation`` and no ``episode`` entry) and returns the new world's
  observation. This second ``done`` closes the inactive stretch as a pseudo-episode: without it, GAE would bootstrap
  the zero observation's value from the new world's first state, and a recurrent policy would see no episode start.
  With it, the inactive stretch has zero return and no bootstrap, so the value of the zero observation converges to
  0 and the advantages of inactive steps vanish; under MaskablePPO the single allowed action has log-probability 0,
  so inactive steps give no policy gradient at all (under plain PPO they add a little noise at the zero observation
  only). They still occupy rollout slots (wasted samples, the price of a fixed batch). Count episodes with
  ``infos[k]["episode"]``, never with ``dones``; for the same reason do not wrap this env in ``VecMonitor``
  (``env_is_wrapped(Monitor)`` answers True, so ``evaluate_policy`` counts episodes from ``episode`` infos).

Seeding follows SB3: ``seed(s)`` (which ``model.set_random_seed`` calls) makes the next ``reset`` reseed the
batch with ``s`` (a new map bank and a new generator, ``batch.random``); the constructor's ``seed`` seeds it at
construction. The batch runs on the numpy backend. An action that the mask
forbids is played as WAIT at its arms level, as in the env.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import gymnasium
import numpy as np
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import VecEnv
from stable_baselines3.common.vec_env.base_vec_env import VecEnvIndices, VecEnvObs, VecEnvStepReturn

from realism_env import EnvConfig, doctrine_names, doctrine_onehot, n_actions
from realism_env.batch import BatchStep, WorldBatch
from realism_env.events import event_records

#: per-slot attributes answered by :meth:`RealismVecEnv.get_attr` (one value per slot)
SLOT_ATTRIBUTES = ("doctrine", "nation", "world")
RENDER_MODES = ("ansi", "rgb_array")

#: the doctrine indicator's order and builder are realism_env's own (re-exported here and as ``train.doctrine_onehot``)
__all__ = ["RENDER_MODES", "SLOT_ATTRIBUTES", "RealismVecEnv", "doctrine_names", "doctrine_onehot"]


class RealismVecEnv(VecEnv):
    """Every nation of ``n_worlds`` worlds as one SB3 ``VecEnv`` of ``n_worlds * n_nations`` slots.

    Args:
        config: the world's config (all worlds share it).
        n_worlds: worlds stepped together (``W``).
        seed: seeds the batch's generator at construction (``None``: fresh entropy).
        doctrine_indicator: append a one-hot of the slot's own doctrine to its observation.
        render_mode: ``None``, ``"ansi"`` or ``"rgb_array"``; :meth:`render` draws world 0.

    Spaces: ``Box(0, 1, (D [+ len(realism_env.doctrine_names())],), float32)`` and ``Discrete(A)`` (the env's flat
    action).
    See the module docstring for what a slot reports at elimination, while inactive and at a world's end.
    """

    metadata = {"render_modes": list(RENDER_MODES)}

    def __init__(
        self,
        config: EnvConfig,
        n_worlds: int,
        seed: int | None = None,
        doctrine_indicator: bool = False,
        render_mode: str | None = None,
    ) -> None:
        if render_mode is not None and render_mode not in RENDER_MODES:
            raise ValueError(f"render_mode={render_mode!r} is invalid; valid: None, 'ansi', 'rgb_array'")
        self.config = config
        self.batch = WorldBatch(config, n_worlds, seed)
        self.n_worlds = n_worlds
        self.n_nations = n = config.n_nations
        self.doctrine_indicator = bool(doctrine_indicator)
        self.render_mode = render_mode
        self.layout = self.batch.layout
        indicator = doctrine_onehot(config.doctrine_per_nation)
        self._indicator = indicator if self.doctrine_indicator else np.zeros((n, 0), dtype=np.float32)
        self.observation_size = self.batch.observation_size + self._indicator.shape[1]
        self.n_actions = n_actions(n, len(config.arms_shares))
        num_envs = n_worlds * n
        self._doctrine_per_slot = tuple(config.doctrine_per_nation) * n_worlds
        self._slot_values = {
            "doctrine": list(self._doctrine_per_slot),
            "nation": [k % n for k in range(num_envs)],
            "world": [k // n for k in range(num_envs)],
        }
        #: for each doctrine present, the [W*N] bool slots that hold it (reward terms are read per doctrine)
        self._doctrine_slots = {
            name: np.array([d == name for d in self._doctrine_per_slot]) for name in set(config.doctrine_per_nation)
        }
        self._inactive_mask = np.zeros(self.n_actions, dtype=bool)
        self._inactive_mask[0] = True
        super().__init__(
            num_envs,
            gymnasium.spaces.Box(0.0, 1.0, (self.observation_size,), np.float32),
            gymnasium.spaces.Discrete(self.n_actions),
        )
        # render modes as the env states them (the base class would offer "human" through OpenCV)
        self.metadata = {"render_modes": list(RENDER_MODES)}
        self._actions: np.ndarray | None = None
        self._masks = np.zeros((num_envs, self.n_actions), dtype=bool)
        self._episode_return = np.zeros(num_envs)
        self._episode_length = np.zeros(num_envs, dtype=np.int64)
        self._term_sums: dict[str, dict[str, np.ndarray]] = {}
        self._t_start = time.time()
        #: the last :class:`~realism_env.batch.BatchStep` (events and terms of every world), for callbacks
        self.last_step: BatchStep | None = None
        self.closed = False

    # -- core -----------------------------------------------------------------------------------------
    def reset(self) -> VecEnvObs:
        """Fresh worlds for every slot (reseeded if :meth:`seed` was called); options are ignored."""
        seed = self._seeds[0]
        observations, masks = self.batch.reset(seed=None if seed is None else int(seed))
        self._reset_seeds()
        self._reset_options()
        self.reset_infos = [{} for _ in range(self.num_envs)]
        self._episode_return[:] = 0.0
        self._episode_length[:] = 0
        self._term_sums = {}
        self.last_step = None
        self._actions = None
        self._set_masks(masks, np.ones((self.n_worlds, self.n_nations), dtype=bool))
        return self._decorate(observations).reshape(self.num_envs, -1)

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions).reshape(self.n_worlds, self.n_nations)

    def step_wait(self) -> VecEnvStepReturn:
        if self._actions is None:
            raise RuntimeError("call reset() and step_async() before step_wait()")
        if self.batch.world is None:
            raise RuntimeError("call reset() before step()")
        out = self.batch.step(self._actions.astype(np.int64, copy=False))
        self._actions = None
        self.last_step = out
        n_slots = self.num_envs
        acting = out.acting.reshape(n_slots)
        alive = self.batch.world.alive  # [W, N] after any reset: the slots live for the next step
        ended = (out.terminated | out.truncated).reshape(n_slots)  # live slots whose episode ends now
        reentry = np.repeat(out.world_reset, self.n_nations) & ~acting  # inactive slots whose world reset
        dones = ended | reentry
        self._episode_return += out.rewards.reshape(n_slots)
        rewards = out.rewards.reshape(n_slots).astype(np.float32)
        self._episode_length += acting

        observations = self._decorate(out.observations) * alive[..., None]
        self._set_masks(out.action_mask, alive)
        infos: list[dict[str, Any]] = [{} for _ in range(n_slots)]
        for k in np.flatnonzero(~acting).tolist():
            infos[k]["inactive"] = True
        self._add_terms(out, acting, ended, infos)
        if ended.any():
            final = self._decorate(out.final_observations).reshape(n_slots, -1)
            truncated = out.truncated.reshape(n_slots)
            elapsed = round(time.time() - self._t_start, 6)
            for k in np.flatnonzero(ended).tolist():
                info = infos[k]
                info["terminal_observation"] = final[k]
                info["TimeLimit.truncated"] = bool(truncated[k])
                info["episode"] = {
                    "r": round(float(self._episode_return[k]), 6),
                    "l": int(self._episode_length[k]),
                    "t": elapsed,
                }
            self._episode_return[ended] = 0.0
            self._episode_length[ended] = 0
        for k in np.flatnonzero(reentry).tolist():
            infos[k]["terminal_observation"] = np.zeros(self.observation_size, dtype=np.float32)
            infos[k]["TimeLimit.truncated"] = False
        return observations.reshape(n_slots, -1), rewards, dones, infos

    def _decorate(self, observations: np.ndarray) -> np.ndarray:
        """[W, N, D'] observations with the doctrine indicator appended (when on)."""
        if not self.doctrine_indicator:
            return observations
        indicator = np.broadcast_to(self._indicator, (*observations.shape[:2], self._indicator.shape[1]))
        return np.concatenate([observations, indicator], axis=2)

    def _set_masks(self, masks: np.ndarray, alive: np.ndarray) -> None:
        self._masks = masks.reshape(self.num_envs, -1).astype(bool)
        dead = ~alive.reshape(self.num_envs)
        if dead.any():
            self._masks[dead] = self._inactive_mask

    def _add_terms(self, out: BatchStep, acting: np.ndarray, ended: np.ndarray, infos: list[dict]) -> None:
        """Each live slot's reward terms of this step, and their episode sums at its episode's end."""
        for doctrine, terms in out.reward_terms.items():
            members = self._doctrine_slots[doctrine]
            names = list(terms)
            values = [np.asarray(terms[name], dtype=np.float64).reshape(self.num_envs) * acting for name in names]
            sums = self._term_sums.setdefault(doctrine, {name: np.zeros(self.num_envs) for name in names})
            for name, value in zip(names, values, strict=True):
                sums[name] += value
            columns = [value.tolist() for value in values]
            for k in np.flatnonzero(members & acting).tolist():
                infos[k]["reward_terms"] = {name: column[k] for name, column in zip(names, columns, strict=True)}
            finished = members & ended
            if finished.any():
                for k in np.flatnonzero(finished).tolist():
                    infos[k]["episode_reward_terms"] = {name: float(sums[name][k]) for name in names}
                for name in names:
                    sums[name][ended] = 0.0

    # -- checkpoints ----------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The worlds and each slot's episode bookkeeping, for a checkpoint that goes on with the episodes under way:
        :meth:`realism_env.batch.WorldBatch.state_dict` and numpy arrays (copies)."""
        return {
            "worlds": self.batch.state_dict(),
            "masks": self._masks.copy(),
            "episode_return": self._episode_return.copy(),
            "episode_length": self._episode_length.copy(),
            "term_sums": {d: {t: v.copy() for t, v in terms.items()} for d, terms in self._term_sums.items()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Go on from :meth:`state_dict` (of a VecEnv of the same config, size and seed); ``ValueError`` names what
        does not fit, and nothing changes then."""
        slots = {"masks": self._masks, "episode_return": self._episode_return, "episode_length": self._episode_length}
        arrays = {name: np.asarray(state[name], dtype=now.dtype) for name, now in slots.items()}
        sums = {
            d: {t: np.asarray(v, dtype=np.float64) for t, v in terms.items()} for d, terms in state["term_sums"].items()
        }
        shapes = [array.shape for array in arrays.values()] + [
            v.shape for terms in sums.values() for v in terms.values()
        ]
        if any(shape[0] != self.num_envs for shape in shapes) or arrays["masks"].shape != self._masks.shape:
            raise ValueError(
                f"the state's slots do not fit this VecEnv's {self.num_envs}; valid: a state of one like it"
            )
        self.batch.load_state_dict(state["worlds"])
        self._masks, self._episode_return, self._episode_length = (
            arrays["masks"],
            arrays["episode_return"],
            arrays["episode_length"],
        )
        self._term_sums = sums
        self.last_step, self._actions = None, None

    # -- masks, attributes, methods -------------------------------------------------------------------
    def action_masks(self) -> np.ndarray:
        """[num_envs, A] bool: the valid actions of each slot (only action 0 for an inactive slot)."""
        return self._masks.copy()

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        """One value per slot: ``doctrine``, ``nation`` and ``world`` differ by slot; any other attribute of this
        VecEnv (``config``, ``render_mode``, ``action_masks``, ...) is shared by every slot."""
        index = list(self._get_indices(indices))
        if attr_name in SLOT_ATTRIBUTES:
            values = self._slot_values[attr_name]
            return [values[k] for k in index]
        value = getattr(self, attr_name)  # AttributeError for a missing attribute, as has_attr expects
        return [value for _ in index]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        """Set an attribute of the VecEnv; every slot shares it, so ``indices`` must cover them all."""
        index = list(self._get_indices(indices))
        if attr_name in SLOT_ATTRIBUTES or sorted(index) != list(range(self.num_envs)):
            raise ValueError(
                f"set_attr({attr_name!r}) on some slots is unsupported: slots share one VecEnv; "
                f"valid: an attribute other than {', '.join(SLOT_ATTRIBUTES)}, for all slots (indices=None)"
            )
        setattr(self, attr_name, value)

    def env_method(self, method_name: str, *method_args, indices: VecEnvIndices = None, **method_kwargs) -> list[Any]:
        """``action_masks`` gives each slot's own row (what ``sb3_contrib`` stacks); any other method of this VecEnv
        is called once and its result repeated for each slot asked."""
        index = list(self._get_indices(indices))
        if method_name == "action_masks":
            masks = self.action_masks(*method_args, **method_kwargs)
            return [masks[k] for k in index]
        result = getattr(self, method_name)(*method_args, **method_kwargs)
        return [result for _ in index]

    def env_is_wrapped(self, wrapper_class: type[gymnasium.Wrapper], indices: VecEnvIndices = None) -> list[bool]:
        """True only for SB3's ``Monitor``: the slots already report Monitor's ``episode`` infos."""
        return [wrapper_class is Monitor for _ in self._get_indices(indices)]

    # -- rendering, closing ---------------------------------------------------------------------------
    def render(self, mode: str | None = None) -> str | np.ndarray | None:
        """World 0 as text (``"ansi"``) or an RGB map (``"rgb_array"``), like ``RealismEnv.render``."""
        mode = mode or self.render_mode
        if mode is None:
            gymnasium.logger.warn("render() was called without a render_mode; pass render_mode='ansi' or 'rgb_array'")
            return None
        if mode not in RENDER_MODES:
            raise ValueError(f"render mode {mode!r} is unsupported; valid: 'ansi', 'rgb_array'")
        if self.batch.world is None:
            raise RuntimeError("call reset() before render()")
        from realism_env import render  # imported lazily: only rendering needs it

        world = self.batch.world.select(0)
        if mode == "rgb_array":
            return render.render_rgb(world, self.config)
        events = []
        if self.last_step is not None and not self.last_step.world_reset[0]:
            events = event_records(self.last_step.events, 0, tuple(f"nation_{i}" for i in range(self.n_nations)))
        return render.render_ansi(world, self.config, events)

    def get_images(self) -> Sequence[np.ndarray | None]:
        """The RGB map of world 0 only (drawing every slot would repeat each world N times)."""
        return [self.render("rgb_array")]

    def close(self) -> None:
        self.closed = True
