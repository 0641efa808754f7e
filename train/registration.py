"""Gymnasium registration of the single-learner env: ``gymnasium.make("realism_env/SingleLearner-v1", **kwargs)``.

Importing :mod:`train` registers it; the keywords are :class:`train.single_learner.SingleLearnerEnv`'s (``learner``,
``background``, ``scenario``, any :class:`realism_env.EnvConfig` field, ...).
"""

from __future__ import annotations

import gymnasium

SINGLE_LEARNER_ID = "realism_env/SingleLearner-v1"


def register() -> None:
    """Register the ids of :mod:`train` with gymnasium (once; a second call does nothing)."""
    if SINGLE_LEARNER_ID not in gymnasium.registry:
        gymnasium.register(id=SINGLE_LEARNER_ID, entry_point="train.single_learner:SingleLearnerEnv")
