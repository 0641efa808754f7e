"""The contract a scripted policy keeps, checked where :mod:`agents.players` plays it: actions of the right form,
inside the action space and allowed by the mask; memories that the players can hold. Every check names the policy
(a user's own, through ``--import``, is held to it as the built-in ones are): numpy would take floats or one action
for all in silence, and torch would fail deep in an index.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from agents.policies import Policy, memory_arrays
from realism_env import array_namespace, device_of


def noted(policy: Policy, method: str, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``function(*args, **kwargs)``, a method of ``policy``: an error it raises (a policy of a user's, written for
    numpy and given tensors, say) propagates as it is, with a note naming the policy."""
    try:
        return function(*args, **kwargs)
    except Exception as error:
        error.add_note(f"raised by policy {policy.name!r} ({type(policy).__qualname__}.{method})")
        raise


def is_tensor(array: Any) -> bool:
    torch = sys.modules.get("torch")  # imported already if the array is a tensor
    return torch is not None and isinstance(array, torch.Tensor)


def like_initial(memory: Any, initial: Any) -> bool:
    """Whether ``memory`` is of the initial memories' dataclass with arrays of the same types, devices and shapes: a
    fast check of every turn (a few microseconds) that passes what :func:`check_memory` would."""
    if memory is None or initial is None:
        return memory is None and initial is None
    if type(memory) is not type(initial):
        return False
    for name in memory.__dataclass_fields__:  # ClassVar and InitVar pseudo-fields too: compared as what they hold
        a, b = getattr(memory, name, None), getattr(initial, name, None)
        if type(a) is not type(b) or getattr(a, "shape", None) != getattr(b, "shape", None):
            return False
        if getattr(a, "device", None) != getattr(b, "device", None):
            return False
    return True


def on_host(array: Any) -> np.ndarray:
    """A numpy copy (or view) of a numpy array or a tensor on any device, for a message."""
    return array.detach().cpu().numpy() if hasattr(array, "detach") else np.asarray(array)


def _kind(array: Any) -> str:
    """What ``array`` is, for a message: its type, and its device where it has one."""
    device = getattr(array, "device", None)
    return f"{type(array).__module__}.{type(array).__name__}" + (f" on {device}" if device is not None else "")


def _same_place(array: Any, like: Any) -> bool:
    """Whether ``array`` is an array of ``like``'s type (numpy, torch) and on its device."""
    return isinstance(array, type(like)) and device_of(array) == device_of(like)


def check_form(policy: Policy, chosen: Any, like: Any, n: int) -> None:
    """Refuse actions that are not ``[n]`` integers of ``like``'s namespace and device (where the observations are),
    naming the policy: numpy would take floats (truncated) or one action for all (broadcast) in silence, torch would
    fail deep in an index."""
    name = policy.name
    if not _same_place(chosen, like):
        raise ValueError(
            f"policy {name!r} returned actions as {_kind(chosen)}; valid: an array like its observations, a "
            f"{_kind(like)} (array code takes its namespace and device from them: realism_env.array_namespace, "
            "device_of)"
        )
    if tuple(chosen.shape) != (n,):
        raise ValueError(
            f"policy {name!r} returned actions of shape {tuple(chosen.shape)} for {n} nations; valid: shape ({n},), "
            "one flat action a nation"
        )
    xp = array_namespace(chosen)
    if chosen.dtype == xp.bool or not xp.isdtype(chosen.dtype, "integral"):
        raise ValueError(
            f"policy {name!r} returned actions of dtype {chosen.dtype}; valid: an integer dtype (flat action indices)"
        )


def allowed(xp: Any, chosen: Any, masks: Any) -> Any:
    """[K] whether each action of ``chosen`` ([K] integers) is inside the space and allowed by its row of ``masks``
    ([K, A])."""
    inside = (chosen >= 0) & (chosen < masks.shape[1])
    picked = xp.take_along_axis(masks, xp.where(inside, chosen, 0)[:, None], axis=1)[:, 0]
    return inside & (picked > 0)


def refuse_actions(
    policy: Policy, chosen: np.ndarray, masks: np.ndarray, fine: np.ndarray, worlds: np.ndarray, nations: np.ndarray
) -> None:
    """Raise the ``ValueError`` that names the first action of ``chosen`` (numpy, with its ``masks`` and whether it
    is ``fine``) that is not: its policy, nation and world."""
    k = int(np.flatnonzero(~fine)[0])
    _refuse_action(policy, int(chosen[k]), masks[k], int(worlds[k]), int(nations[k]))


def _refuse_action(policy: Policy, action: int, mask: np.ndarray, world: int, nation: int) -> None:
    n_actions = mask.shape[0]
    where = f"policy {policy.name!r} chose action {action} for nation_{nation} in world {world}"
    if not 0 <= action < n_actions:
        raise ValueError(f"{where}, outside the action space; valid: integers in 0..{n_actions - 1}")
    allowed = np.flatnonzero(mask > 0)
    raise ValueError(
        f"{where}, which its action mask forbids; valid: one of the {allowed.size} actions the mask allows "
        f"({', '.join(map(str, allowed[:8].tolist()))}{', ...' if allowed.size > 8 else ''})"
    )


def checked_step_action(policy: Policy, action: Any, mask: np.ndarray, world: int, nation: int) -> int:
    """The action a step-only policy returned for one nation, as an int, after checking that it is an integer scalar
    inside the space that ``mask`` ([A]) allows; ``ValueError`` names the policy, nation and world."""
    value = np.asarray(action) if not isinstance(action, int) else None
    if isinstance(action, bool) or (value is not None and (value.shape != () or value.dtype.kind not in "iu")):
        raise ValueError(
            f"policy {policy.name!r} returned action {action!r} ({type(action).__name__}) for nation_{nation} in "
            f"world {world}; valid: an integer scalar (a flat action index)"
        )
    chosen = int(action)
    if not (0 <= chosen < mask.shape[0] and mask[chosen] > 0):
        _refuse_action(policy, chosen, mask, world, nation)
    return chosen


def check_on_host(
    policy: Policy, chosen: Any, memory: Any, masks: np.ndarray, worlds: np.ndarray, nations: np.ndarray
) -> None:
    """The checks of :func:`check_form`, the mask and :func:`check_memory` on what an array policy returned for the
    nations ``(worlds[k], nations[k])`` seeing ``masks`` ([K, A]), on the host: a fast path that passes what is
    fine in a few microseconds (it runs for every policy every turn of every evaluation), then the full checks, which
    name what is not."""
    n, n_actions = masks.shape
    if type(chosen) is not np.ndarray or chosen.shape != (n,) or chosen.dtype.kind not in "iu":
        check_form(policy, chosen, HOST, n)
    if n and (chosen.min() < 0 or chosen.max() >= n_actions or not (masks[np.arange(n), chosen] > 0).all()):
        refuse_actions(policy, chosen, masks, allowed(np, chosen, masks), worlds, nations)
    fields = getattr(memory, "__dataclass_fields__", None)
    fine = memory is None or (
        fields is not None
        and not isinstance(memory, type)
        and all(type(a := getattr(memory, name)) is np.ndarray and a.shape[:1] == (n,) for name in fields)
    )
    if not fine:
        check_memory(policy, memory, HOST, n, "act")


#: ``template`` of :func:`check_memory` where the memories are not compared with initial ones
_UNCOMPARED = object()
#: what actions and memories on the host are like (a numpy array on the CPU)
HOST = np.zeros(0)


def check_memory(policy: Policy, memory: Any, like: Any, n: int, method: str, template: Any = _UNCOMPARED) -> None:
    """Refuse an array policy's memories (what ``method`` returned) that :func:`~agents.policies.take_rows`,
    :func:`~agents.policies.put_rows`, the masked writes of :class:`DevicePlayers` and a checkpoint cannot hold:
    ``None``, or a dataclass of ``[n, ...]`` arrays of ``like``'s namespace and device; given the initial memories
    (``template``), ``None`` where they are and the same fields and shapes otherwise. ``ValueError`` names the
    policy."""
    name = f"the {method} of policy {policy.name!r}"
    compared = template is not _UNCOMPARED
    if compared and (memory is None) != (template is None):  # the masked writes take rows of both
        given, made = ("no", "some") if memory is None else ("some", "none")
        raise ValueError(
            f"{name} returned {given} memories where initial_states made {made}; valid: memories as initial_states "
            "makes them"
        )
    if memory is None:
        return
    if not dataclasses.is_dataclass(memory) or isinstance(memory, type):
        raise ValueError(
            f"{name} returned memories of type {type(memory).__name__}; valid: None, or a dataclass of [{n}, ...] "
            "arrays (a row a nation)"
        )
    expected = memory_arrays(template) if compared else None
    for field in dataclasses.fields(memory):
        array = getattr(memory, field.name)
        if not _same_place(array, like):
            raise ValueError(
                f"{name} returned memory {field.name!r} as {_kind(array)}; valid: a {_kind(like)}, where its "
                "observations are (initial_states(n, like=observations) makes them there)"
            )
        shape = tuple(array.shape)
        if expected is not None and field.name in expected:
            valid = tuple(expected[field.name].shape)
            if shape != valid:
                raise ValueError(f"{name} returned memory {field.name!r} of shape {shape}; valid: {valid}, as "
                                 "initial_states made it")  # fmt: skip
        elif shape[:1] != (n,):
            raise ValueError(
                f"{name} returned memory {field.name!r} of shape {shape}; valid: ({n}, ...), a row a nation"
            )
