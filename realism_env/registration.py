"""Registry entries: ``pettingzoo.make("parallel", "realism_env/realism-v2")`` and
``gymnasium.make("realism_env/SingleLearner-v2")``.

Importing :mod:`realism_env` registers them (PettingZoo 1.27 added its registry; with an older PettingZoo that has
none, :func:`register_pettingzoo` does nothing and returns ``False``). The PettingZoo keywords are those of
:func:`realism_env.parallel_env` (``scenario``, ``render_mode``, ``rich_infos``, any :class:`realism_env.EnvConfig`
field); the gymnasium keywords are :class:`agents.single_learner.SingleLearnerEnv`'s.

| id | PettingZoo kind, or gymnasium | builds |
|---|---|---|
| ``realism_env/realism-v2`` | ``"parallel"`` | :func:`realism_env.parallel_env` |
| ``realism_env/realism-v2`` | ``"aec"`` | :func:`realism_env.env` |
| ``realism_env/realism_fixed_agents-v2`` | ``"parallel"`` | :func:`realism_env.wrappers.fixed_agents_parallel_env` |
| ``realism_env/SingleLearner-v2`` | gymnasium | :class:`agents.single_learner.SingleLearnerEnv` |

Gymnasium 1.0 removed its plugin system (the ``gymnasium.envs`` entry points that gymnasium 0.26-0.29 loaded at
``import gymnasium``), so no package can register an id by being installed: the id exists once :mod:`realism_env` is
imported. ``gymnasium.make("realism_env:realism_env/SingleLearner-v2")`` imports it for you (gymnasium's
``"module:id"`` form), after ``import gymnasium`` alone. Entry points are strings, resolved at ``make``: importing
:mod:`realism_env` imports neither :mod:`agents` nor torch.
"""

from __future__ import annotations

import gymnasium
import pettingzoo

from realism_env.version import VERSION

# The ids move with the env's version (realism_env.version), so that an id never names other dynamics than it did.
ENV_ID = f"realism_env/realism-v{VERSION}"
FIXED_AGENTS_ENV_ID = f"realism_env/realism_fixed_agents-v{VERSION}"
SINGLE_LEARNER_ID = f"realism_env/SingleLearner-v{VERSION}"

_ENTRIES = (
    ("parallel", ENV_ID, "realism_env.env:parallel_env"),
    ("aec", ENV_ID, "realism_env.env:env"),
    ("parallel", FIXED_AGENTS_ENV_ID, "realism_env.wrappers:fixed_agents_parallel_env"),
)
_GYMNASIUM_ENTRIES = ((SINGLE_LEARNER_ID, "agents.single_learner:SingleLearnerEnv"),)


def register_pettingzoo() -> bool:
    """Register the PettingZoo ids above, once; ``False`` where PettingZoo has no registry."""
    register = getattr(pettingzoo, "register", None)
    registries = {kind: getattr(pettingzoo, f"{kind}_registry", None) for kind in ("parallel", "aec")}
    if register is None or None in registries.values():
        return False
    for env_type, env_id, entry_point in _ENTRIES:
        if env_id not in registries[env_type]:
            register(env_type, env_id, entry_point=entry_point)
    return True


def register_gymnasium() -> None:
    """Register the gymnasium ids above, once (a second call does nothing)."""
    for env_id, entry_point in _GYMNASIUM_ENTRIES:
        if env_id not in gymnasium.registry:
            gymnasium.register(id=env_id, entry_point=entry_point)
