"""The flat action space: a domestic arms level, one foreign-policy act and its target.

A nation's action is one integer in ``Discrete(L * K * T)`` with ``L`` arms levels, ``K`` acts and
``T = n_nations - 1`` target slots::

    action = (arms_level * K + act) * T + target_slot

Target slots are relative to the acting nation, in the same order as the observation's blocks of
other nations: slot ``k`` is nation ``(self + k + 1) % n_nations``. Relative slots let one shared
network act for every nation (parameter sharing) without learning its own index.
"""

from __future__ import annotations

import operator
from enum import IntEnum
from typing import NamedTuple

import numpy as np


class Act(IntEnum):
    """Foreign-policy acts, one per turn (Mearsheimer 2001 ch. 5 lists war, blackmail, bait-and-bleed,
    bloodletting and buck-passing; Waltz 1979 balancing by alliance; peace and concession close them)."""

    WAIT = 0  #: keep the status quo (target ignored; only slot 0 is valid)
    ATTACK = 1  #: declare war on the target, or fight on in a running war
    ALLY = 2  #: propose an alliance, or accept the target's standing proposal
    LEAVE_ALLIANCE = 3  #: leave an alliance: nothing enforces commitments under anarchy
    THREATEN = 4  #: demand a border province under threat of war (blackmail)
    CONCEDE = 5  #: give in to the target's standing demand
    SUPPORT = 6  #: send military aid (bait-and-bleed, bloodletting)
    PEACE = 7  #: offer peace; a war ends when both sides offer it


N_ACTS = len(Act)

#: Share of a nation's income spent on arms at each domestic level, from disarming to full
#: mobilisation (internal balancing, Waltz 1979: guns cost butter).
DEFAULT_ARMS_SHARES: tuple[float, ...] = (0.0, 0.05, 0.1, 0.2, 0.4)


class DecodedAction(NamedTuple):
    arms_level: int
    act: Act
    target_slot: int


def n_actions(n_nations: int, n_arms_levels: int = len(DEFAULT_ARMS_SHARES)) -> int:
    """Size of the flat Discrete action space."""
    n_nations = _index_in("n_nations", n_nations, 2)
    return _index_in("n_arms_levels", n_arms_levels, 1) * N_ACTS * (n_nations - 1)


def _as_index(value: object, low: int, high: int | None) -> int | None:
    """``value`` as an int in ``low..high`` (``high`` None: no upper bound), or None: any integer type is taken
    (Python, numpy, a 0-d integer array or tensor); a float, a string or a bool is not (each would pass through the
    arithmetic of an index and give a wrong one silently, and ``3.0`` or ``True`` is more likely a bug than a choice,
    as ``gymnasium.spaces.Discrete.contains`` has it)."""
    try:
        whole = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        return None
    return whole if not _is_bool(value) and low <= whole and (high is None or whole <= high) else None


def _index_in(name: str, value: object, low: int, high: int | None = None, valid: str | None = None) -> int:
    """:func:`_as_index`, or a ``ValueError`` naming ``name``, the value and what is valid (``valid`` where given)."""
    whole = _as_index(value, low, high)
    if whole is None:
        if valid is None:
            valid = f"an integer >= {low}" if high is None else f"an integer in {low}..{high}"
        raise ValueError(f"{name}={value!r} is invalid; valid: {valid}")
    return whole


def checked_action(agent: str, action: object, n: int) -> int:
    """``action`` as an int of ``Discrete(n)`` (:func:`_as_index`); ``ValueError`` naming ``agent``, the action and the
    valid range otherwise."""
    value = _as_index(action, 0, n - 1)
    if value is None:
        raise ValueError(f"{agent}: action {action!r} is outside the action space; valid: an integer in 0..{n - 1}")
    return value


def _is_bool(value: object) -> bool:
    """Whether ``value`` is a bool: Python's, or an array or tensor of a boolean dtype (each passes as an index)."""
    return isinstance(value, bool) or "bool" in str(getattr(value, "dtype", ""))


def encode_action(
    arms_level: int,
    act: Act | int,
    target_slot: int,
    n_nations: int,
    n_arms_levels: int = len(DEFAULT_ARMS_SHARES),
) -> int:
    """Flat action index of (arms level, act, target slot); raises ValueError on a part out of range."""
    n_targets = _index_in("n_nations", n_nations, 2) - 1
    n_arms_levels = _index_in("n_arms_levels", n_arms_levels, 1)
    arms_level = _index_in("arms_level", arms_level, 0, n_arms_levels - 1)
    acts = f"an Act ({', '.join(a.name for a in Act)}) or 0..{N_ACTS - 1}"
    act = _index_in("act", act, 0, N_ACTS - 1, valid=acts)
    target_slot = _index_in("target_slot", target_slot, 0, n_targets - 1)
    return (arms_level * N_ACTS + act) * n_targets + target_slot


def decode_action(action: int, n_nations: int, n_arms_levels: int = len(DEFAULT_ARMS_SHARES)) -> DecodedAction:
    """Inverse of :func:`encode_action`; raises ValueError for an action outside the space."""
    size = n_actions(n_nations, n_arms_levels)
    n_targets = n_nations - 1
    action = _index_in("action", action, 0, size - 1, valid=f"an integer in 0..{size - 1} (the action space)")
    return DecodedAction(action // (N_ACTS * n_targets), Act(action // n_targets % N_ACTS), action % n_targets)


def target_nation(observer: int, target_slot: int, n_nations: int) -> int:
    """Absolute index of the nation in ``target_slot`` as seen from ``observer``."""
    n_nations = _index_in("n_nations", n_nations, 2)
    observer = _index_in("observer", observer, 0, n_nations - 1)
    return (observer + _index_in("target_slot", target_slot, 0, n_nations - 2) + 1) % n_nations


def target_slot(observer: int, target: int, n_nations: int) -> int:
    """Relative slot of nation ``target`` as seen from ``observer`` (inverse of :func:`target_nation`)."""
    n_nations = _index_in("n_nations", n_nations, 2)
    observer = _index_in("observer", observer, 0, n_nations - 1)
    target = _index_in("target", target, 0, n_nations - 1)
    if target == observer:
        raise ValueError(f"nation {observer} cannot target itself; valid: another nation's index in 0..{n_nations - 1}")
    return (target - observer - 1) % n_nations


def decode_actions(actions: np.ndarray, n_nations: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vectorised decode of ``[..., nations]`` flat actions into (arms level, act, absolute target)."""
    n_targets = n_nations - 1
    level = actions // (N_ACTS * n_targets)
    act = actions // n_targets % N_ACTS
    slot = actions % n_targets
    target = (np.arange(n_nations) + slot + 1) % n_nations
    return level, act, target
