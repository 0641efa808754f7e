"""PettingZoo registry entries: ``pettingzoo.make("parallel", "realism_env/realism-v1", **kwargs)``.

Importing :mod:`realism_env` registers them (PettingZoo 1.27 added the registry; with an older PettingZoo that has
none, :func:`register_pettingzoo` does nothing and returns ``False``). The keywords are those of
:func:`realism_env.parallel_env` (``scenario``, ``render_mode``, any :class:`realism_env.EnvConfig` field).

| id | kind | builds |
|---|---|---|
| ``realism_env/realism-v1`` | ``"parallel"`` | :func:`realism_env.parallel_env` |
| ``realism_env/realism-v1`` | ``"aec"`` | :func:`realism_env.env` |
| ``realism_env/realism_fixed_agents-v1`` | ``"parallel"`` | :func:`realism_env.wrappers.fixed_agents_parallel_env` |
"""

from __future__ import annotations

import pettingzoo

ENV_ID = "realism_env/realism-v1"
FIXED_AGENTS_ENV_ID = "realism_env/realism_fixed_agents-v1"

_ENTRIES = (
    ("parallel", ENV_ID, "realism_env.env:parallel_env"),
    ("aec", ENV_ID, "realism_env.env:env"),
    ("parallel", FIXED_AGENTS_ENV_ID, "realism_env.wrappers:fixed_agents_parallel_env"),
)


def register_pettingzoo() -> bool:
    """Register the ids above with PettingZoo's registry, once; ``False`` where PettingZoo has no registry."""
    register = getattr(pettingzoo, "register", None)
    registries = {kind: getattr(pettingzoo, f"{kind}_registry", None) for kind in ("parallel", "aec")}
    if register is None or None in registries.values():
        return False
    for env_type, env_id, entry_point in _ENTRIES:
        if env_id not in registries[env_type]:
            register(env_type, env_id, entry_point=entry_point)
    return True
