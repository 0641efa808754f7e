"""The env's version, the one place it is set: bumped when dynamics, observations or rewards change meaning (the
Version History in :mod:`realism_env.env`'s docstring says what each version changed). Every versioned name derives
from it: the env's name (:data:`NAME`, ``realism_v2``, in ``metadata``, episode logs and run records) and its registry
ids (:mod:`realism_env.registration`)."""

from __future__ import annotations

VERSION = 2
NAME = f"realism_v{VERSION}"
