"""Training on realism_env: adapters for stable-baselines3 and gymnasium learners.

- :class:`RealismVecEnv`: every nation of many worlds as one SB3 ``VecEnv`` (parameter sharing, action masks).
- :class:`SingleLearnerEnv`: one learning nation among scripted ones, a ``gymnasium.Env``; it lives in
  :mod:`agents.single_learner` (re-exported here) and is registered as ``"realism_env/SingleLearner-v2"`` when
  :mod:`realism_env` is imported.

The adapters are imported on first access, so ``import train`` (and ``python -m train.<script> --help``) stays
fast: stable-baselines3 and torch load only when a name that needs them is used.
"""

from __future__ import annotations

import importlib
from typing import Any

from realism_env.registration import SINGLE_LEARNER_ID  # importing realism_env registers the gymnasium id

_LAZY = {
    "RealismVecEnv": "train.vec_env",
    "doctrine_onehot": "realism_env",  # the doctrine indicator is realism_env's own, re-exported
    "SingleLearnerEnv": "agents.single_learner",
}

__all__ = ["SINGLE_LEARNER_ID", "RealismVecEnv", "SingleLearnerEnv", "doctrine_onehot"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'train' has no attribute {name!r}")
