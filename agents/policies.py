"""Scripted nations: pure policies with explicit state that act out the realist theories.

Every policy follows the Melting Pot contract (``meltingpot/utils/policies/policy.py``): it holds no
mutable state of its own; ``initial_state()`` gives its memory and ``step(observation, state, rng)``
returns ``(action, next_state)`` without touching the state it was given. The random generator is passed
in. A policy reads the observation only through the env's :class:`realism_env.ObservationLayout` (named
fields, never raw indices), encodes its action as :func:`realism_env.encode_action` does, and always returns
an action the mask allows (it falls back to WAIT, target slot 0, which is always valid).

The scripted policies are written once, as array code over a batch of nations (:class:`ArrayPolicy`):
``act(observations, masks, states, draws)`` decides for ``[B, ...]`` observations at once (nations of many worlds
or episodes, played by the same policy), each rule of a policy a masked array expression over the batch, the first
rule that applies winning (:class:`Decision`), with one uniform draw per nation passed in. ``step`` is ``act`` on
a batch of one, so the two give the same actions. Callers that play many nations with one policy
(``agents.rollout``, the strategy tracker, the trainers' background populations) batch them with ``act``; any other
:class:`Policy` (a learned one, or one of a user's) needs only ``step``.

``act`` is array-API code, like the env's rules (:mod:`realism_env.rules`): it takes its array namespace from the
observations (:func:`realism_env.array_namespace`) and runs unchanged on numpy
arrays and on torch tensors, on the CPU or a GPU, returning actions and memories on the observations' device without
a host sync, so a trainer can play its scripted nations on the device. It computes in float64 on every backend, and
numpy and torch give the same actions for the same inputs (``initial_states(n, like=observations)`` makes the
memories on that device).

Build one with ``Policy(layout, n_nations, n_arms_levels)`` or from an env with
``make_policy(name, env)`` (which also gives the realists the rules they reason with: the offence-defence
balance, the payoff of conquest, the stopping power of water and the sufficiency ratio; all public config).

Quantities the realists reason with, all read from one observation:

- *relative strength* of nation ``j``: its estimated military over one's own (both observation fields share
  the observer's perceived total as denominator), smoothed over turns in the policy's memory to damp the
  misperception noise (fast and slow exponential averages; a power whose fast average runs ahead of its
  slow one is *rising*);
- *security ratio* ``S``: (own + allies' military) / the strongest non-allied neighbour or enemy, the
  ratio of the ``security`` doctrine (M3 security rule, sufficiency ``S* = 1.1``), read prudently: allies at
  war elsewhere count half and any aggressive power counts as a threat;
- *front ratio* against ``j``: the force one can commit on that front (own military split evenly over one's
  wars, times the sea penalty when only the sea links the two) over the force ``j`` can commit (its military
  split over its own fronts, guessed from its public acts), as the rules split forces across fronts.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import numbers
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

import realism_env
from realism_env import DOCTRINES, Act, ObservationLayout, array_namespace, device_of, n_actions

_EPS = 1e-9
#: public acts that show a nation is fighting a war (it attacked, or it offered peace to an enemy)
_WAR_ACTS = ("last_act_attack", "last_act_peace")

Observation = Mapping[str, np.ndarray]
#: a numpy array or a torch tensor (the batched code of :class:`ArrayPolicy` runs on both)
Array = Any


# --------------------------------------------------------------------------------------------------
# Checked parameters
# --------------------------------------------------------------------------------------------------


def number_in(name: str, value: Any, low: float = -math.inf, high: float = math.inf, *, above: bool = False) -> float:
    """``value`` as a float: a finite real number (any real type, numpy's included; not a bool or a string) from
    ``low`` to ``high`` (strictly above ``low`` when ``above``); ``ValueError`` naming ``name``, the value and the valid
    range otherwise. A NaN compares False with every bound, and would silently switch a policy's rules off."""
    real = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if real and math.isfinite(value) and (low < value if above else low <= value) and value <= high:
        return float(value)
    if math.isfinite(high):
        valid = f"a number {'>' if above else 'from'} {low:g}{' and <=' if above else ' to'} {high:g}"
    else:
        valid = f"a finite number {'>' if above else '>='} {low:g}"
    raise ValueError(f"{name}={value!r} is invalid; valid: {valid}")


def integer_in(name: str, value: Any, low: int, high: float = math.inf, *, also: str = "") -> int:
    """``value`` as an int (any integer type, numpy's included; not a bool, a float or a string) from ``low`` to
    ``high``; ``ValueError`` naming ``name``, the value and the valid range (after ``also``, other valid values the
    caller takes care of) otherwise."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and low <= value <= high:
        return int(value)
    valid = f"an integer from {low} to {high:g}" if math.isfinite(high) else f"an integer >= {low}"
    raise ValueError(f"{name}={value!r} is invalid; valid: {also + ' or ' if also else ''}{valid}")


def _check_env(env: Any) -> None:
    """Refuse an ``env`` a policy cannot be built for, before an ``AttributeError`` deep in ``from_env``."""
    if not (hasattr(env, "layout") and hasattr(env, "config")):
        raise ValueError(
            f"env={env!r} is invalid; valid: a realism_env env or batch of worlds (realism_env.parallel_env, "
            "RealismEnv, WorldBatch: an object with layout and config)"
        )


# --------------------------------------------------------------------------------------------------
# The contract
# --------------------------------------------------------------------------------------------------


class Policy:
    """A nation's policy. Subclasses implement :meth:`initial_state` and :meth:`step` (the scripted policies of this
    module derive from :class:`ArrayPolicy`, which implements ``step`` with its batched ``act``).

    Args:
        layout: the env's observation layout (``env.layout``).
        n_nations: nations in the world (``env.config.n_nations``).
        n_arms_levels: domestic arms levels (``len(env.config.arms_shares)``).
    """

    name: ClassVar[str] = "policy"
    #: The doctrine this policy acts out, if any: a nation playing it is rewarded by that doctrine unless told
    #: otherwise, and the first policy registered for a doctrine is its scripted counterpart (:func:`counterpart`),
    #: which stands in for learned nations of the doctrine in the ``scripted`` baselines.
    doctrine: ClassVar[str | None] = None

    def __init__(self, layout: ObservationLayout, n_nations: int, n_arms_levels: int = 5) -> None:
        if not isinstance(layout, ObservationLayout):
            raise ValueError(
                f"layout={layout!r} is invalid; valid: the env's realism_env.ObservationLayout (env.layout)"
            )
        n_nations = integer_in("n_nations", n_nations, 2)
        n_arms_levels = integer_in("n_arms_levels", n_arms_levels, 2)
        if layout.n_nations != n_nations:
            raise ValueError(f"layout is for {layout.n_nations} nations but n_nations={n_nations}")
        self.layout = layout
        self.n_nations = n_nations
        self.n_arms_levels = n_arms_levels
        self.n_targets = n_nations - 1
        #: size of the action masks this policy reads (realism_env.n_actions)
        self.n_actions = n_actions(n_nations, n_arms_levels)

    @classmethod
    def from_env(cls, env: Any, **params: Any) -> Policy:
        """A policy for ``env`` (any object with ``layout`` and ``config`` like :class:`realism_env.RealismEnv`)."""
        _check_env(env)
        return cls(env.layout, env.config.n_nations, len(env.config.arms_shares), **params)

    @classmethod
    def parameters(cls) -> tuple[str, ...]:
        """The keyword parameters the policy takes beyond ``layout``, ``n_nations`` and ``n_arms_levels``: those of its
        ``__init__`` and, where that passes ``**params`` on, of its parents'."""
        names: dict[str, None] = {}
        for klass in cls.__mro__:
            init = klass.__dict__.get("__init__")
            if init is None:
                continue
            passes_on = False
            # past self and the three every policy takes first (layout, nation count, arms levels), whatever their names
            for parameter in list(inspect.signature(init).parameters.values())[4:]:
                if parameter.kind is parameter.VAR_KEYWORD:
                    passes_on = True
                elif parameter.kind is not parameter.VAR_POSITIONAL:
                    names[parameter.name] = None
            if not passes_on:
                break
        return tuple(names)

    def observation_arrays(self, observation: Any) -> tuple[np.ndarray, np.ndarray]:
        """``(vector [D], mask [A])`` of one nation's observation ``{"observation": ..., "action_mask": ...}``;
        ``ValueError`` saying what was given and what this policy takes otherwise (an array alone, an observation of
        another env), where the policy's array code would fail with an index or reshape error."""
        if isinstance(observation, Mapping) and "observation" in observation and "action_mask" in observation:
            vector, mask = np.asarray(observation["observation"]), np.asarray(observation["action_mask"])
            if vector.shape == (self.layout.size,) and mask.shape == (self.n_actions,):
                return vector, mask
            given = f"a dict with 'observation' of shape {vector.shape} and 'action_mask' of shape {mask.shape}"
        elif isinstance(observation, Mapping):
            given = f"a dict with keys {', '.join(map(repr, observation)) or 'none'}"
        else:
            shape = getattr(observation, "shape", None)
            given = f"an object of type {type(observation).__name__}" + (
                "" if shape is None else f" (shape {tuple(shape)})"
            )
        raise ValueError(
            f"policy {self.name!r} was given {given} as an observation; valid: one nation's observation of an env of "
            f"{self.n_nations} nations and {self.n_arms_levels} arms levels, a dict with 'observation' of shape "
            f"({self.layout.size},) and 'action_mask' of shape ({self.n_actions},) (env.reset's and env.step's "
            "observations[agent])"
        )

    def initial_state(self) -> Any:
        """The memory at the start of an episode."""
        return ()

    def step(self, observation: Observation, state: Any, rng: np.random.Generator) -> tuple[int, Any]:
        """``(action, next_state)`` for ``observation = {"observation": ..., "action_mask": ...}``."""
        raise NotImplementedError


class Decision:
    """The actions of a batch of nations decided rule by rule, in priority order: a nation takes the first rule
    offered to it that applies (``found``); later rules do not change its action. ``xp`` and ``device``: the array
    namespace and device of the batch (default numpy)."""

    def __init__(self, n: int, xp: Any = np, device: Any = "cpu") -> None:
        self.xp = xp
        self.decided = xp.zeros(n, dtype=xp.bool, device=device)
        self.action = xp.zeros(n, dtype=xp.int64, device=device)

    def offer(self, found: Array, action: Array) -> Array:
        """Give ``action`` to the nations for which the rule applies and no earlier one did; returns them ([B])."""
        taken = found & ~self.decided
        self.action = self.xp.where(taken, action, self.action)
        self.decided = self.decided | found
        return taken

    def otherwise(self, action: Array) -> Array:
        """The decided actions, ``action`` for the nations no rule applied to."""
        return self.xp.where(self.decided, self.action, action)


class ArrayPolicy(Policy):
    """A policy written as array code over a batch of nations (see the module docstring).

    Subclasses implement :meth:`act` and, when they remember anything, :meth:`initial_states` with a state that
    :func:`take_rows` and :func:`put_rows` can index (``None``, or a dataclass of ``[B, ...]`` arrays) plus
    :meth:`state_rows` and :meth:`stack_states` to convert between it and the per-nation state of :meth:`step`.
    """

    def initial_states(self, n: int, like: Array | None = None) -> Any:
        """The memories of ``n`` nations at the start of an episode (``None``: this policy remembers nothing), as
        arrays of ``like``'s namespace and device (default: numpy arrays)."""
        return None

    def act(self, observations: Array, masks: Array, states: Any, draws: Array) -> tuple[Array, Any]:
        """``(actions [B], next_states)`` for ``observations`` ``[B, size]``, action ``masks`` ``[B, n_actions]``,
        the nations' memories and ``draws`` ``[B]``, one uniform in [0, 1) per nation (the randomised policies'
        choices; the others ignore it). All of the same namespace and device (numpy arrays or torch tensors); the
        actions are int64 and the memories arrays of that namespace and device."""
        raise NotImplementedError

    def stack_states(self, states: Sequence[Any]) -> Any:
        """The batched memory of nations whose :meth:`step` memories are ``states``."""
        return None

    def state_rows(self, states: Any) -> list[Any]:
        """The per-nation memories (as :meth:`step` takes them) of a batched memory; a policy that remembers nothing
        has ``None`` for any batch and gives ``[()]``, the memory of :meth:`step`'s one nation."""
        return [()]

    def step(self, observation: Observation, state: Any, rng: np.random.Generator) -> tuple[int, Any]:
        """``(action, next_state)``: :meth:`act` on a batch of one nation."""
        vector, mask = self.observation_arrays(observation)
        actions, states = self.act(vector[None], mask[None], self.stack_states([state]), rng.random(1))
        return int(actions[0]), self.state_rows(states)[0]

    # -- helpers shared by the policies: [B] or [B, N-1] arrays of the observations' namespace -----
    def own(self, observations: Array, field: str) -> Array:
        xp = array_namespace(observations)
        return xp.astype(self.layout.own(observations, field), xp.float64)

    def others(self, observations: Array, field: str) -> Array:
        xp = array_namespace(observations)
        return xp.astype(self.layout.other(observations, field), xp.float64)

    def flags(self, observations: Array, field: str) -> Array:
        return self.layout.other(observations, field) > 0.5

    def constant_level(self, observations: Array, level: int) -> Array:
        """[B] the arms level ``level`` for every nation (int64)."""
        xp = array_namespace(observations)
        return xp.full(observations.shape[0], level, dtype=xp.int64, device=device_of(observations))

    def arms_level(self, observations: Array) -> Array:
        """The domestic arms level each nation chose last turn."""
        xp = array_namespace(observations)
        return xp.astype(xp.round(self.own(observations, "arms_level") * (self.n_arms_levels - 1)), xp.int64)

    def clamp_level(self, levels: Array) -> Array:
        xp = array_namespace(levels)
        return xp.clip(levels, min=0, max=self.n_arms_levels - 1)

    def allowed(self, masks: Array) -> Array:
        """[B, level, act, slot] the action masks as flags, indexed as :func:`realism_env.encode_action` orders the
        flat action."""
        xp = array_namespace(masks)
        return xp.reshape(masks, (masks.shape[0], self.n_arms_levels, len(Act), self.n_targets)) > 0

    def encode(self, levels: Array, act: Act, slots: Array | int) -> Array:
        """[B] the flat actions of ``act`` toward ``slots`` at ``levels``: the arithmetic of
        :func:`realism_env.encode_action`."""
        return (levels * len(Act) + int(act)) * self.n_targets + slots

    def valid(self, allowed: Array, levels: Array, act: Act) -> Array:
        """[B, N-1] whether ``act`` toward each target slot is allowed at each nation's arms level."""
        xp = array_namespace(allowed)
        n, first = allowed.shape[0], int(act) * self.n_targets
        by_level = xp.reshape(allowed, (n * self.n_arms_levels, len(Act) * self.n_targets))  # [B * level, act, slot]
        rows = xp.arange(n, device=device_of(allowed)) * self.n_arms_levels + levels  # each nation at its level
        return xp.take(by_level, rows, axis=0)[:, first : first + self.n_targets]

    def wait(self, allowed: Array, levels: Array) -> Array:
        """WAIT at each level; where the mask forbade that (it never does in realism_env), the first valid action."""
        xp = array_namespace(allowed)
        waits = self.valid(allowed, levels, Act.WAIT)[:, 0]
        first_valid = first_true(xp.reshape(allowed, (allowed.shape[0], -1)))
        return xp.where(waits, self.encode(levels, Act.WAIT, 0), first_valid)

    def choose(self, allowed: Array, levels: Array, act: Act, candidates: Array, score: Array) -> tuple[Array, Array]:
        """``(found [B], action [B])``: doing ``act`` to the valid candidate slot with the highest score (ties: the
        lowest slot); ``found`` is False where no candidate is valid (``allowed``: :meth:`allowed`)."""
        xp = array_namespace(allowed)
        ok = candidates & self.valid(allowed, levels, act)
        slot = xp.argmax(xp.where(ok, score, -math.inf), axis=1)
        return xp.any(ok, axis=1), self.encode(levels, act, slot)


def best_of(candidates: Array, score: Array) -> Array:
    """[B, K] flags: in each row of ``candidates`` ``[B, K]``, the one with the highest ``score`` (ties: the lowest
    column); none where a row has no candidate."""
    xp = array_namespace(candidates)
    best = xp.argmax(xp.where(candidates, score, -math.inf), axis=1)[:, None]
    columns = xp.arange(candidates.shape[1], device=device_of(candidates))
    return (columns == best) & xp.any(candidates, axis=1, keepdims=True)


def pick_at_random(ok: Array, draws: Array) -> Array:
    """[B] for each row of ``ok`` ``[B, K]``, the column of one of its True entries, uniformly by ``draws`` ([B]
    uniforms in [0, 1), read in float64); column 0 where a row has none."""
    xp = array_namespace(ok)
    count = xp.sum(ok, axis=1)  # a sum of booleans is int64, as is their cumulative sum
    k = xp.minimum(xp.astype(xp.floor(xp.astype(draws, xp.float64) * count), xp.int64), xp.clip(count - 1, min=0))
    return first_true(ok & (xp.cumulative_sum(ok, axis=1) == (k + 1)[:, None]))


def first_true(flags: Array) -> Array:
    """[B] the column of the first True in each row of ``flags`` ``[B, K]``; column 0 where a row has none."""
    xp = array_namespace(flags)
    # numpy finds it fastest among the booleans themselves; torch's argmax takes no booleans
    return xp.argmax(flags if xp is np else xp.astype(flags, xp.int8), axis=1)


def memory_arrays(memory: Any) -> dict[str, Any] | None:
    """An array policy's batched memories (``None``, or a dataclass of ``[K, ...]`` arrays) as ``{field: array}``."""
    if memory is None:
        return None
    return {field.name: getattr(memory, field.name) for field in dataclasses.fields(memory)}


def take_rows(states: Any, rows: Array) -> Any:
    """The batched memories of the nations ``rows`` (``None`` stays ``None``); ``rows`` an index array of the
    memories' namespace (numpy rows for numpy memories, a tensor for tensors)."""
    if states is None:
        return None
    return dataclasses.replace(states, **{f.name: getattr(states, f.name)[rows] for f in dataclasses.fields(states)})


def put_rows(states: Any, rows: np.ndarray, new: Any) -> Any:
    """``states`` with the memories of the nations ``rows`` replaced by ``new`` (a new object; ``None`` stays);
    numpy memories."""
    if states is None:
        return None
    updated = {}
    for field in dataclasses.fields(states):
        array = getattr(states, field.name).copy()
        array[rows] = getattr(new, field.name)
        updated[field.name] = array
    return dataclasses.replace(states, **updated)


# --------------------------------------------------------------------------------------------------
# Simple baselines
# --------------------------------------------------------------------------------------------------


class StatusQuo(ArrayPolicy):
    """Keeps its forces at one arms level and never acts abroad: always WAIT.

    The pure status-quo state of defensive realism with none of its balancing (Waltz 1979 ch. 6 calls
    states that only wish to be left alone the status-quo case; Cederman 1997's "prey" units): a baseline
    that shows what balancing and fighting back add.
    """

    name = "status_quo"

    def __init__(
        self, layout: ObservationLayout, n_nations: int, n_arms_levels: int = 5, arms_level: int | None = None
    ) -> None:
        super().__init__(layout, n_nations, n_arms_levels)
        top, middle = self.n_arms_levels - 1, self.n_arms_levels // 2
        also = "None (the middle level)"
        self.fixed_level = middle if arms_level is None else integer_in("arms_level", arms_level, 0, top, also=also)

    def act(self, observations: Array, masks: Array, states: Any, draws: Array) -> tuple[Array, Any]:
        allowed = self.allowed(masks)
        return self.wait(allowed, self.constant_level(observations, self.fixed_level)), states


class RandomPolicy(ArrayPolicy):
    """Uniform over the actions the mask allows: the null model with no theory at all."""

    name = "random"

    def act(self, observations: Array, masks: Array, states: Any, draws: Array) -> tuple[Array, Any]:
        return pick_at_random(masks > 0, draws), states


class Bandwagoner(ArrayPolicy):
    """Allies with the strongest power and gives in to stronger ones: bandwagoning.

    Waltz (1979, p. 126) holds that states balance rather than bandwagon; Walt (1987) and Schweller (1994)
    describe weak states that join the strongest side instead. This policy is that alternative: it proposes
    to (or accepts) the strongest nation it is not at war with, concedes to any demand from a nation stronger
    than itself, offers peace in every war, and keeps its forces at the middle arms level.
    """

    name = "bandwagoner"

    def act(self, observations: Array, masks: Array, states: Any, draws: Array) -> tuple[Array, Any]:
        xp, device = array_namespace(observations), device_of(observations)
        allowed = self.allowed(masks)
        level = self.constant_level(observations, self.n_arms_levels // 2)
        own = xp.clip(self.own(observations, "military"), min=_EPS)[:, None]
        military = self.others(observations, "military") * xp.astype(self.flags(observations, "alive"), xp.float64)
        at_war = self.flags(observations, "at_war")
        decision = Decision(observations.shape[0], xp, device)
        # At war it sues for peace, with the strongest enemy first.
        decision.offer(*self.choose(allowed, level, Act.PEACE, at_war, military))
        demand = self.flags(observations, "demand_received")
        decision.offer(*self.choose(allowed, level, Act.CONCEDE, demand & (military > own), military))
        strongest = xp.argmax(xp.where(at_war, -math.inf, military), axis=1)
        strongest_slot = xp.arange(self.n_targets, device=device) == strongest[:, None]  # [B, N-1], one True a row
        free = ~xp.any(strongest_slot & (at_war | self.flags(observations, "allied")), axis=1)
        pick = strongest_slot & free[:, None]
        decision.offer(*self.choose(allowed, level, Act.ALLY, pick, military))
        return decision.otherwise(self.wait(allowed, level)), states


class TitForTat(ArrayPolicy):
    """Mirrors what each nation did to it last turn (Axelrod 1984), starting and staying cooperative.

    Reads every other nation's public act of the last turn and whether it was aimed at the observer
    (``acted_on_observer``, ``last_act_*``) and the standing offers between them. In order: it attacks a
    nation that attacked it; makes peace with one that offered peace, or with an enemy that stopped attacking;
    threatens back one that threatened it; allies with one that proposed; aids back one that aided it; else it
    waits. Ties within a rule are broken by the nation's draw. Forces stay at the middle arms level.
    """

    name = "tit_for_tat"

    def act(self, observations: Array, masks: Array, states: Any, draws: Array) -> tuple[Array, Any]:
        xp = array_namespace(observations)
        allowed = self.allowed(masks)
        level = self.constant_level(observations, self.n_arms_levels // 2)
        aimed = self.flags(observations, "acted_on_observer")
        at_war = self.flags(observations, "at_war")

        def did(act: str) -> Array:
            return aimed & self.flags(observations, f"last_act_{act}")

        attacked = did("attack")
        rules = (
            (Act.ATTACK, attacked),
            (Act.PEACE, self.flags(observations, "peace_offer_received") | did("peace") | (at_war & ~attacked)),
            (Act.THREATEN, did("threaten") | self.flags(observations, "demand_received")),
            (Act.ALLY, self.flags(observations, "proposal_received") | did("ally")),
            (Act.SUPPORT, did("support")),
        )
        decision = Decision(observations.shape[0], xp, device_of(observations))
        for act, candidates in rules:
            ok = candidates & self.valid(allowed, level, act)
            decision.offer(xp.any(ok, axis=1), self.encode(level, act, pick_at_random(ok, draws)))
        return decision.otherwise(self.wait(allowed, level)), states


# --------------------------------------------------------------------------------------------------
# The realists: perception and memory
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Memory:
    """What a realist remembers between turns (immutable; each step returns a new one).

    ``fast``/``slow`` are exponential averages of each other nation's military relative to one's own;
    ``aggression`` a decaying count of each nation's public attacks and threats; ``demand_turns`` how many
    observations in a row one's own demand on each nation has stood unanswered; ``last_aid`` the turn of the
    last aid sent.
    """

    turn: int = 0
    initial_provinces: float = -1.0
    fast: tuple[float, ...] = ()
    slow: tuple[float, ...] = ()
    aggression: tuple[float, ...] = ()
    demand_turns: tuple[int, ...] = ()
    last_aid: int = -1_000_000


@dataclass(frozen=True)
class Memories:
    """The :class:`Memory` of a batch of realists, field by field: ``[B]`` or ``[B, N-1]`` arrays (before the
    first observation ``turn`` is 0 and ``fast``/``slow`` are unset zeros): int64 and float64 arrays of one namespace
    and device (numpy arrays or torch tensors)."""

    turn: Array
    initial_provinces: Array
    fast: Array
    slow: Array
    aggression: Array
    demand_turns: Array
    last_aid: Array


@dataclass(frozen=True)
class View:
    """One turn's reading of the observations, in relative target slots: ``[B, N-1]`` arrays, ``[B]`` for the
    nation's own quantities."""

    relative: Array  #: smoothed estimate of each nation's military / own military (0 when dead)
    rising: Array  #: its fast average runs more than 10% ahead of its slow one
    aggression: Array  #: decaying count of its attacks and threats
    alive: Array
    land: Array
    sea: Array
    neighbour: Array
    at_war: Array
    allied: Array
    engaged: Array  #: it fights a war with someone other than the observer (public acts)
    lost_territory: Array  #: fewer provinces than at the start of the episode
    own_level: Array
    n_wars: Array


class Realist(ArrayPolicy):
    """Shared perception of the two realist policies: smoothed relative strength, aggression, fronts.

    Args beyond :class:`Policy` (defaults are the env's defaults; :meth:`from_env` reads them from the config):
        offense_defense_balance: the force ratio an attacker needs for even odds of taking a province.
        conquest_payoff: the share of a conquered province's wealth the conqueror keeps.
        sea_penalty: the multiplier on force projected across sea only.
        sufficiency: the security ratio S* beyond which more power adds no security.
        misperception: the log-normal noise on estimates of others' forces (sets how cautious initiatives are).
    """

    fast_rate: ClassVar[float] = 0.3
    slow_rate: ClassVar[float] = 0.05
    aggression_decay: ClassVar[float] = 0.8

    def __init__(
        self,
        layout: ObservationLayout,
        n_nations: int,
        n_arms_levels: int = 5,
        *,
        offense_defense_balance: float = 2.5,
        conquest_payoff: float = 0.5,
        sea_penalty: float = 0.5,
        sufficiency: float = 1.1,
        misperception: float = 0.2,
    ) -> None:
        super().__init__(layout, n_nations, n_arms_levels)
        # The ranges of the EnvConfig fields they mirror (a policy may believe other values than the env's rules).
        self.misperception = number_in("misperception", misperception, 0.0)
        self.offense_defense_balance = number_in("offense_defense_balance", offense_defense_balance, 0.0, above=True)
        self.conquest_payoff = number_in("conquest_payoff", conquest_payoff, 0.0, 1.0)
        self.sea_penalty = number_in("sea_penalty", sea_penalty, 0.0, 1.0)
        self.sufficiency = number_in("sufficiency", sufficiency, 0.0, above=True)

    @classmethod
    def from_env(cls, env: Any, **params: Any) -> Policy:
        _check_env(env)
        config = env.config
        beliefs = {
            "offense_defense_balance": config.offense_defense_balance,
            "conquest_payoff": config.conquest_payoff,
            "sea_penalty": config.sea_penalty,
            "sufficiency": config.security_sufficiency,
            "misperception": config.misperception,
        }
        return super().from_env(env, **{**beliefs, **params})

    def initial_state(self) -> Memory:
        n = self.n_targets
        return Memory(fast=(), slow=(), aggression=(0.0,) * n, demand_turns=(0,) * n)

    def initial_states(self, n: int, like: Array | None = None) -> Memories:
        xp = np if like is None else array_namespace(like)
        device = "cpu" if like is None else device_of(like)
        slots = xp.zeros((n, self.n_targets), dtype=xp.float64, device=device)
        return Memories(
            turn=xp.zeros(n, dtype=xp.int64, device=device),
            initial_provinces=xp.full(n, -1.0, dtype=xp.float64, device=device),
            fast=slots,
            slow=slots,
            aggression=slots,
            demand_turns=xp.zeros((n, self.n_targets), dtype=xp.int64, device=device),
            last_aid=xp.full(n, -1_000_000, dtype=xp.int64, device=device),
        )

    def stack_states(self, states: Sequence[Memory]) -> Memories:
        unset = (0.0,) * self.n_targets
        return Memories(
            turn=np.array([m.turn for m in states], dtype=np.int64),
            initial_provinces=np.array([m.initial_provinces for m in states], dtype=np.float64),
            fast=np.array([m.fast or unset for m in states], dtype=np.float64),
            slow=np.array([m.slow or unset for m in states], dtype=np.float64),
            aggression=np.array([m.aggression for m in states], dtype=np.float64),
            demand_turns=np.array([m.demand_turns for m in states], dtype=np.int64),
            last_aid=np.array([m.last_aid for m in states], dtype=np.int64),
        )

    def state_rows(self, states: Memories) -> list[Memory]:
        return [
            Memory(
                turn=int(states.turn[i]),
                initial_provinces=float(states.initial_provinces[i]),
                fast=tuple(states.fast[i].tolist()) if states.turn[i] else (),
                slow=tuple(states.slow[i].tolist()) if states.turn[i] else (),
                aggression=tuple(states.aggression[i].tolist()),
                demand_turns=tuple(states.demand_turns[i].tolist()),
                last_aid=int(states.last_aid[i]),
            )
            for i in range(len(states.turn))
        ]

    def perceive(self, observations: Array, memory: Memories) -> tuple[View, Memories]:
        """Read the observations, update the memories (returning new ones)."""
        xp = array_namespace(observations)
        alive = self.flags(observations, "alive")
        own = xp.clip(self.own(observations, "military"), min=_EPS)[:, None]
        raw = xp.where(alive, self.others(observations, "military") / own, 0.0)
        first = (memory.turn == 0)[:, None]  # nothing remembered yet: the averages start at the first reading
        fast = xp.where(first, raw, xp.where(alive, (1 - self.fast_rate) * memory.fast + self.fast_rate * raw, 0.0))
        slow = xp.where(first, raw, xp.where(alive, (1 - self.slow_rate) * memory.slow + self.slow_rate * raw, 0.0))
        aimed = self.flags(observations, "acted_on_observer")
        hostile = xp.astype(
            self.flags(observations, "last_act_attack") | self.flags(observations, "last_act_threaten"), xp.float64
        )
        # A hostile act aimed at oneself counts fully; one aimed elsewhere counts half.
        aggression = self.aggression_decay * memory.aggression + xp.where(aimed, hostile, 0.5 * hostile)
        aggression = xp.where(alive, aggression, 0.0)
        demand_turns = xp.where(self.flags(observations, "demand_made"), memory.demand_turns + 1, 0)
        provinces = self.own(observations, "provinces")
        initial = xp.where(memory.initial_provinces >= 0, memory.initial_provinces, provinces)
        land, sea = self.flags(observations, "land_border"), self.flags(observations, "sea_border")
        at_war = self.flags(observations, "at_war")
        fighting = self.flags(observations, _WAR_ACTS[0]) | self.flags(observations, _WAR_ACTS[1])
        # A war act not aimed at oneself means a war with a third nation.
        engaged = alive & ~at_war & fighting & ~aimed
        view = View(
            relative=fast,
            rising=alive & (fast > 1.1 * slow),
            aggression=aggression,
            alive=alive,
            land=land & alive,
            sea=sea & alive,
            neighbour=(land | sea) & alive,
            at_war=at_war & alive,
            allied=self.flags(observations, "allied") & alive,
            engaged=engaged,
            lost_territory=provinces < initial - 1e-6,
            own_level=self.arms_level(observations),
            n_wars=xp.sum(at_war & alive, axis=1),
        )
        memory = dataclasses.replace(
            memory,
            turn=memory.turn + 1,
            initial_provinces=initial,
            fast=fast,
            slow=slow,
            aggression=aggression,
            demand_turns=demand_turns,
        )
        return view, memory

    def estimate_noise(self, n_observations: Array) -> Array:
        """[B] log-standard deviation of the smoothed strength estimate after ``n_observations`` (the fast
        average starts at the first reading and then weighs each new one by ``fast_rate``)."""
        xp = array_namespace(n_observations)
        a, n = self.fast_rate, xp.astype(xp.clip(n_observations, min=1), xp.float64)
        keep = (1.0 - a) ** (2 * (n - 1))
        return self.misperception * xp.sqrt(keep + a * a * (1.0 - keep) / (1.0 - (1.0 - a) ** 2))

    def projection(self, view: View) -> Array:
        """[B, N-1] multiplier on force sent against each nation: 1 over land, the sea penalty across sea only."""
        xp = array_namespace(view.land)
        penalty = xp.full(view.land.shape, self.sea_penalty, dtype=xp.float64, device=device_of(view.land))
        return xp.where(view.land, 1.0, penalty)

    def own_side(self, view: View) -> Array:
        """[B] own military plus allies', relative to own; an ally fighting a war of its own counts half (its
        forces are split), a prudent reading of the alliance's strength."""
        xp = array_namespace(view.relative)
        allies = xp.where(view.allied, view.relative / (1.0 + xp.astype(view.engaged, xp.float64)), 0.0)
        return 1.0 + xp.sum(allies, axis=1)

    def threats(self, view: View) -> Array:
        """[B, N-1] the nations that could threaten it: non-allied neighbours and enemies, as in the ``security``
        doctrine, plus any power whose recent attacks and threats make it aggressive (it may border one soon)."""
        return (view.neighbour | view.at_war | (view.aggression > 0.5)) & ~view.allied & view.alive

    def security_ratio(self, view: View) -> Array:
        """[B] (own + allies' military) / the strongest of :meth:`threats` (inf when none), the ``security``
        doctrine's ratio read prudently (allies at war elsewhere counting half)."""
        xp = array_namespace(view.relative)
        strongest = xp.max(xp.where(self.threats(view), view.relative, 0.0), axis=1)
        return xp.where(strongest > _EPS, self.own_side(view) / xp.clip(strongest, min=_EPS), math.inf)

    def front_ratio(self, view: View, extra_fronts: int = 0) -> Array:
        """[B, N-1] force one commits against each nation over the force it commits back, with one's military
        split over ``n_wars + extra_fronts`` fronts and its own split over the wars it visibly fights."""
        xp = array_namespace(view.relative)
        fronts = xp.astype(xp.clip(view.n_wars + extra_fronts, min=1), xp.float64)
        mine = self.projection(view) / fronts[:, None]
        theirs = view.relative / (1.0 + xp.astype(view.engaged, xp.float64))
        return xp.where(view.alive, mine / xp.clip(theirs, min=_EPS), 0.0)


# --------------------------------------------------------------------------------------------------
# Defensive realism
# --------------------------------------------------------------------------------------------------


class DefensiveRealist(Realist):
    """Defensive realism: a security maximiser that wants enough power and no more (Waltz 1979, *Theory of
    International Politics*, ch. 6 and 8; the "security-seeking" rule of the M3 simulation in anchors.md).

    - **Internal balancing to sufficiency.** Its security ratio ``S`` is (own + allies' military) over the
      strongest non-allied neighbour, enemy or aggressive power. It raises its arms level by one while
      ``S < S*`` (1.1), or while a threat is rising or aggressive and ``S <= comfort * S*``; it lowers it by one
      (never below level 1) once ``S > comfort * S*`` with no threat rising or aggressive; at war it mobilises
      fully at once. At peace the rise goes on, up to the top level, for as long as it stays insufficient: among
      nations that all arm (the security dilemma) it reaches the top level at peace (in seeded episodes of every
      scenario against offensive realists, on most of its peacetime turns). Power beyond sufficiency buys nothing.
    - **External balancing.** While ``S < comfort * S*`` it accepts, and while ``S < S*`` it also proposes,
      alliances with nations that are not the threat: the threat is the non-allied neighbour or enemy with the
      highest strength weighted by its recent aggression and by whether it is rising; partners are live
      nations that are neither the threat, nor aggressive, nor at war with it, nor demanding from it (states
      balance rather than bandwagon, Waltz 1979 p. 126). It never allies with the threat.
    - **Fights back, then makes peace.** At war it accepts any peace offer; it attacks an enemy that attacked it
      last turn, or that holds part of its territory, when its front ratio is at least ``fight_ratio`` (odds
      allow a counter-attack); otherwise it offers peace to the strongest enemy. It never attacks a nation it
      is not at war with and never threatens.
    - **Stands by its allies without attacking.** When secure and at peace it sends military aid (SUPPORT) to
      an ally that fights a war (the weakest such ally): balancing by transfer, not by war.
    - **Concedes to overwhelming force, once.** It gives in to a demand when the demander is ``concede_ratio``
      times stronger than it and its allies, but never once it holds less than its starting territory (no
      appeasement spiral).

    The rules are tried in that order of priority each turn (war, demands, balancing, aid); the first that applies
    decides the act.
    """

    name = "defensive_realist"
    doctrine = "security"

    def __init__(
        self,
        layout: ObservationLayout,
        n_nations: int,
        n_arms_levels: int = 5,
        *,
        comfort: float = 1.5,
        fight_ratio: float = 1.0,
        concede_ratio: float = 2.0,
        min_level: int = 1,
        **beliefs: float,
    ) -> None:
        super().__init__(layout, n_nations, n_arms_levels, **beliefs)
        self.comfort = number_in("comfort", comfort, 0.0, above=True)
        self.fight_ratio = number_in("fight_ratio", fight_ratio, 0.0)
        self.concede_ratio = number_in("concede_ratio", concede_ratio, 0.0, above=True)
        self.min_level = integer_in("min_level", min_level, 0, self.n_arms_levels - 1)

    def arms(self, view: View, security: Array) -> Array:
        """[B] internal balancing: up while insecure (or while a threat is rising and the margin is thin), down
        once comfortably sufficient and nothing around is rising or aggressive; full mobilisation at war."""
        xp = array_namespace(security)
        threats = self.threats(view)
        rising = xp.any(threats & view.rising, axis=1)
        menacing = xp.any(threats & (view.aggression > 0.5), axis=1)
        comfortable = security > self.comfort * self.sufficiency
        up = (security < self.sufficiency) | ((rising | menacing) & ~comfortable)
        down = comfortable & ~rising & ~menacing
        level = xp.where(
            up,
            self.clamp_level(view.own_level + 1),
            xp.where(down, xp.clip(view.own_level - 1, min=self.min_level), view.own_level),
        )
        return xp.where(view.n_wars > 0, self.n_arms_levels - 1, level)

    def act(self, observations: Array, masks: Array, states: Memories, draws: Array) -> tuple[Array, Memories]:
        allowed = self.allowed(masks)
        view, memory = self.perceive(observations, states)
        security = self.security_ratio(view)
        level = self.arms(view, security)
        decision = Decision(observations.shape[0], array_namespace(observations), device_of(observations))
        self._war(decision, observations, view, allowed, level)
        self._demands(decision, observations, view, allowed, level)
        self._balance(decision, observations, view, allowed, level, security)
        self._aid_ally(decision, view, allowed, level, security)
        return decision.otherwise(self.wait(allowed, level)), memory

    def _war(self, decision: Decision, observations: Array, view: View, allowed: Array, level: Array) -> None:
        offered = view.at_war & self.flags(observations, "peace_offer_received")
        decision.offer(*self.choose(allowed, level, Act.PEACE, offered, view.relative))
        attacked = self.flags(observations, "acted_on_observer") & self.flags(observations, "last_act_attack")
        provoked = view.at_war & (attacked | view.lost_territory[:, None])
        odds = self.front_ratio(view)
        decision.offer(*self.choose(allowed, level, Act.ATTACK, provoked & (odds >= self.fight_ratio), odds))
        decision.offer(*self.choose(allowed, level, Act.PEACE, view.at_war, view.relative))

    def _demands(self, decision: Decision, observations: Array, view: View, allowed: Array, level: Array) -> None:
        # Once it has given up territory it concedes no more: no appeasement spiral, province after province.
        overwhelming = view.relative >= self.concede_ratio * self.own_side(view)[:, None]
        candidates = self.flags(observations, "demand_received") & overwhelming & ~view.lost_territory[:, None]
        decision.offer(*self.choose(allowed, level, Act.CONCEDE, candidates, view.relative))

    def _aid_ally(self, decision: Decision, view: View, allowed: Array, level: Array, security: Array) -> None:
        secure = (security >= self.sufficiency)[:, None]
        decision.offer(*self.choose(allowed, level, Act.SUPPORT, view.allied & view.engaged & secure, -view.relative))

    def threat(self, view: View) -> Array:
        """[B, N-1] the power each nation balances against (at most one slot): the non-allied neighbour or enemy
        with the highest strength weighted by its aggression and its rise."""
        xp = array_namespace(view.relative)
        rising = xp.astype(view.rising, xp.float64)
        return best_of(self.threats(view), view.relative * (1.0 + view.aggression) * (1.0 + 0.5 * rising))

    def _balance(
        self,
        decision: Decision,
        observations: Array,
        view: View,
        allowed: Array,
        level: Array,
        security: Array,
    ) -> None:
        insecure = (security < self.comfort * self.sufficiency)[:, None]
        free = view.alive & ~view.at_war & (view.aggression <= 0.5) & ~self.flags(observations, "demand_received")
        partners = free & ~self.threat(view) & insecure
        proposing = partners & self.flags(observations, "proposal_received")
        decision.offer(*self.choose(allowed, level, Act.ALLY, proposing, view.relative))
        below = (security < self.sufficiency)[:, None]  # proposes only while short of sufficiency
        decision.offer(*self.choose(allowed, level, Act.ALLY, partners & below, view.relative))


# --------------------------------------------------------------------------------------------------
# Offensive realism
# --------------------------------------------------------------------------------------------------


class OffensiveRealist(Realist):
    """Offensive realism: a power maximiser pressing toward hegemony (Mearsheimer 2001, *The Tragedy of Great
    Power Politics*, ch. 2 on power maximising, ch. 5 on the strategies: war, blackmail, bait and bleed,
    bloodletting, balancing and buck-passing; the "power-maximising" rule of the M3 simulation in anchors.md).

    In order of priority each turn (the first rule that applies decides the act):

    1. **Offers peace when losing**: at war, if its front ratio against an enemy is below ``peace_ratio``, or an
       enemy offers peace while conquest looks out of reach (front ratio below the war threshold), it offers
       peace to that enemy.
    2. **Carries out threats** to keep its credibility (Schelling 1966): a demand that stood unanswered for a
       full turn is enforced by war.
    3. **War**: attacks the bordering nation with the best front ratio if that ratio (its forces split over one
       more front, the target's over the wars it visibly fights, the sea penalty applied) reaches the war
       threshold ``offense_defense_balance * (1.5 - conquest_payoff)``: the odds it needs fall as conquest pays
       more and as offence dominates. It opens no new front while any war would go below even odds. Like every
       initiative (blackmail, leaving an ally) it rests on a cautious reading of the ratio: divided by
       ``exp(caution * sd)``, ``sd`` the spread of its smoothed estimate under the misperception noise, so
       misperception still starts wars (Bremer & Mihalka 1977) but noise alone rarely does.
    4. **Fights on** against the enemy with the best front ratio.
    5. **Concedes** to a demand only from a nation strong enough to win a war against it (war threshold).
    6. **Balance or pass the buck**: facing a stronger, aggressive neighbour, it lets the buck pass to another
       nation that visibly balances (its last act was ALLY, or it fights while the threat fights), neither allying
       nor arming beyond the middle level; when nobody else balances it allies with the strongest other nation
       and mobilises fully.
    7. **Blackmail**: when no standing demand of its own is pending and it is at peace, it threatens the
       bordering nation with the best front ratio if that ratio reaches ``blackmail_share`` of the war threshold
       (at least 1.1): a threat may win a province without war, and it is backed by step 2.
    8. **Bloodletting and bait-and-bleed**: when at least two rivals fight wars it is out of, it aids (SUPPORT)
       a rival weaker than itself, at most once every ``aid_interval`` turns: the weakest one that offered
       peace (bloodletting: the losing side kept fighting), else the weakest attacker (bait and bleed: one
       rival helped to fight the other while it stays out).
    9. **Alliances are marriages of convenience**: it leaves an alliance with an ally it could conquer when no
       stronger power threatens it.

    Arms: full mobilisation by default (power is pursued for its own sake), the middle level while passing
    the buck.
    """

    name = "offensive_realist"
    doctrine = "power"

    def __init__(
        self,
        layout: ObservationLayout,
        n_nations: int,
        n_arms_levels: int = 5,
        *,
        peace_ratio: float = 1.0,
        blackmail_share: float = 0.5,
        threat_ratio: float = 1.2,
        aid_interval: int = 3,
        caution: float = 1.0,
        **beliefs: float,
    ) -> None:
        super().__init__(layout, n_nations, n_arms_levels, **beliefs)
        self.caution = number_in("caution", caution, 0.0)
        self.peace_ratio = number_in("peace_ratio", peace_ratio, 0.0)
        self.blackmail_share = number_in("blackmail_share", blackmail_share, 0.0)
        self.threat_ratio = number_in("threat_ratio", threat_ratio, 0.0)
        self.aid_interval = integer_in("aid_interval", aid_interval, 1)

    @property
    def war_ratio(self) -> float:
        """Front ratio at which it starts a war."""
        return self.offense_defense_balance * (1.5 - self.conquest_payoff)

    @property
    def blackmail_ratio(self) -> float:
        """Front ratio at which it makes a demand: ``blackmail_share`` of the war threshold, at least 1.1 (a
        threat costs nothing to make and may win without war, but only from a position of strength)."""
        return max(1.1, self.blackmail_share * self.war_ratio)

    def act(self, observations: Array, masks: Array, states: Memories, draws: Array) -> tuple[Array, Memories]:
        xp, device = array_namespace(observations), device_of(observations)
        allowed = self.allowed(masks)
        view, memory = self.perceive(observations, states)
        menace = self.menace(view)
        menaced = xp.any(menace, axis=1)
        buck_catcher = menaced & self.buck_catcher(observations, view, menace)
        passing_buck = buck_catcher & (view.n_wars == 0)
        level = xp.where(
            passing_buck, self.n_arms_levels // 2, self.constant_level(observations, self.n_arms_levels - 1)
        )
        at_peace = (view.n_wars == 0)[:, None]

        odds = self.front_ratio(view)
        new_front = self.front_ratio(view, extra_fronts=1)
        # Initiatives rest on a conservative reading of the odds, discounted for misperception.
        sure = new_front / xp.exp(self.caution * self.estimate_noise(memory.turn))[:, None]
        decision = Decision(observations.shape[0], xp, device)

        def offer(act: Act, candidates: Array, score: Array) -> Array:
            return decision.offer(*self.choose(allowed, level, act, candidates, score))

        # 1. Offer peace when losing.
        offered = self.flags(observations, "peace_offer_received")
        offer(Act.PEACE, view.at_war & ((odds < self.peace_ratio) | (offered & (odds < self.war_ratio))), -odds)
        # 2. Carry out threats that were refused.
        demand_made = self.flags(observations, "demand_made")
        offer(Act.ATTACK, demand_made & (memory.demand_turns >= 2), new_front)
        # 3. War against a weaker neighbour when the odds favour it, fronts split in mind: a new front must pay
        # with its share of the forces, and every running war must still hold at even odds.
        holds = xp.all(~view.at_war | (new_front >= self.peace_ratio), axis=1, keepdims=True)
        offer(Act.ATTACK, view.neighbour & ~view.allied & ~view.at_war & (sure >= self.war_ratio) & holds, new_front)
        # 4. Fight on.
        offer(Act.ATTACK, view.at_war, odds)
        # 5. Concede only to a nation that would win the war.
        stronger = 1.0 / xp.clip(new_front, min=_EPS)
        demand = self.flags(observations, "demand_received")
        offer(Act.CONCEDE, demand & (stronger >= self.war_ratio), view.relative)
        # 6. Balance only if nobody else will (otherwise the buck passes).
        partners = view.alive & ~view.at_war & ~menace & (menaced & ~buck_catcher)[:, None]
        offer(Act.ALLY, partners & self.flags(observations, "proposal_received"), view.relative)
        offer(Act.ALLY, partners, view.relative)
        # 7. Blackmail.
        calm = at_peace & ~xp.any(demand_made, axis=1, keepdims=True)
        offer(Act.THREATEN, view.neighbour & ~view.allied & (sure >= self.blackmail_ratio) & calm, new_front)
        # 8. Bloodletting and bait-and-bleed.
        due = at_peace & (memory.turn - memory.last_aid >= self.aid_interval)[:, None]
        aided = self.bleed(decision, observations, view, allowed, level, due)
        memory = dataclasses.replace(memory, last_aid=xp.where(aided, memory.turn, memory.last_aid))
        # 9. Leave an alliance with a nation worth conquering.
        prey = view.allied & view.neighbour & (sure >= self.war_ratio) & ~menaced[:, None]
        offer(Act.LEAVE_ALLIANCE, prey, new_front)
        return decision.otherwise(self.wait(allowed, level)), memory

    def menace(self, view: View) -> Array:
        """[B, N-1] the stronger, aggressive, non-allied neighbour or enemy to balance against (at most one slot:
        the strongest)."""
        candidates = (
            (view.neighbour | view.at_war)
            & ~view.allied
            & (view.relative > self.threat_ratio)
            & ((view.aggression > 0.1) | view.at_war)
        )
        return best_of(candidates, view.relative)

    def buck_catcher(self, observations: Array, view: View, menace: Array) -> Array:
        """[B] whether another nation visibly balances against the menace: it proposed or accepted an alliance last
        turn, or it fights while the menace fights (a nation one is not allied with, so the buck is passed)."""
        xp = array_namespace(menace)
        others = view.alive & ~menace & ~view.allied
        allying = self.flags(observations, "last_act_ally")
        menace_fights = xp.any(view.engaged & menace, axis=1, keepdims=True)
        return xp.any(others & (allying | (view.engaged & menace_fights)), axis=1)

    def bleed(
        self,
        decision: Decision,
        observations: Array,
        view: View,
        allowed: Array,
        level: Array,
        due: Array,
    ) -> Array:
        """SUPPORT for one side of a war between two rivals that it stays out of; returns [B] who sent it."""
        xp = array_namespace(view.relative)
        belligerents = view.engaged & ~view.allied
        two_rivals = xp.sum(belligerents, axis=1) >= 2
        weaker = belligerents & (view.relative < 1.0) & two_rivals[:, None] & due
        losing_side = weaker & self.flags(observations, "last_act_peace")
        bloodletting = decision.offer(*self.choose(allowed, level, Act.SUPPORT, losing_side, -view.relative))
        attackers = weaker & self.flags(observations, "last_act_attack")
        bait_and_bleed = decision.offer(*self.choose(allowed, level, Act.SUPPORT, attackers, -view.relative))
        return bloodletting | bait_and_bleed


# --------------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------------

POLICIES: dict[str, type[Policy]] = {
    cls.name: cls for cls in (DefensiveRealist, OffensiveRealist, StatusQuo, RandomPolicy, Bandwagoner, TitForTat)
}
"""Every scripted policy by name: ``POLICIES[name](layout, n_nations, n_arms_levels, **params)``."""


def policy_class(name: str) -> type[Policy]:
    """The policy class registered as ``name``; ``ValueError`` lists the valid names."""
    try:
        return POLICIES[name]
    except KeyError:
        raise ValueError(f"unknown policy {name!r}; valid: {', '.join(sorted(POLICIES))}") from None


def make_policy(name: str, env: Any, **params: Any) -> Policy:
    """The policy ``name`` built for ``env`` (its layout, nation count, arms levels and rules); ``ValueError`` names a
    parameter the policy does not take (with those it takes) or a bad value."""
    cls = policy_class(name)
    try:  # from_env checks the env
        return cls.from_env(env, **params)
    except TypeError as error:  # Python's own words for a keyword no __init__ takes (a policy may take **options)
        unknown = re.search(r"unexpected keyword argument '(\w+)'", str(error))
        if unknown is None:
            raise
        valid = ", ".join(cls.parameters()) or "none"
        raise ValueError(f"policy {name!r} takes no parameter {unknown.group(1)!r}; valid: {valid}") from None


#: Names a policy may not take: the baseline keyword that stands for each doctrine's scripted counterpart
#: (``--baseline scripted``, ``[evaluate] baselines``) and the label of the learned nations' rows beside the baselines'.
RESERVED_POLICY_NAMES = ("scripted", "learned")


def _defined_at(cls: type) -> tuple[str, str]:
    """Where ``cls`` was defined: its qualified name and its module's file (its module's name where it has none). A
    module imported twice (a plugin by its path and by its name, a notebook cell run again) defines the same class
    again as a new object: it is the same policy."""
    file = getattr(sys.modules.get(cls.__module__), "__file__", None)
    return cls.__qualname__, str(Path(file).resolve()) if file else cls.__module__


def register_policy(cls: type[Policy]) -> type[Policy]:
    """Add a policy class to :data:`POLICIES` under ``cls.name`` (usable as a decorator). Its ``doctrine``, if set,
    must be registered first (``realism_env.register_doctrine``).

    The class must set ``name`` itself (an inherited one would register it over its parent), a name of letters,
    digits, '_', '.', '-' and '+' that is not one of :data:`RESERVED_POLICY_NAMES`. A name already registered is refused
    unless it is the same class defined again (same qualified name and module file: its module imported twice), which
    then replaces it: a policy of one's own never silently stands in for a built-in or another's."""
    if not (isinstance(cls, type) and issubclass(cls, Policy)):
        raise ValueError(f"{cls!r} is not a Policy subclass; valid: a subclass of agents.Policy or agents.ArrayPolicy")
    label = f"{cls.__module__}.{cls.__qualname__}"
    name = cls.__dict__.get("name")
    if not isinstance(name, str):
        inherited = f"inherits name {cls.name!r}" if name is None else f"sets name to {name!r}"
        raise ValueError(
            f"policy class {label} {inherited}; valid: a class attribute name = '...' of its own (a string)"
        )
    # The rule of every registered name (realism_env.names), and '+': a learned policy's name holds its run's doctrine
    # mix (security+power).
    if not realism_env.valid_name(name, also="+"):
        raise ValueError(
            f"policy class {label} has name {name!r}; valid: {realism_env.NAME_RULE}, and '+' (the name stands in "
            "population specs 'name:count,...' and in file names)"
        )
    if name in RESERVED_POLICY_NAMES:
        raise ValueError(
            f"policy class {label} has name {name!r}, which is reserved ({', '.join(RESERVED_POLICY_NAMES)}: the "
            "scripted baseline and the learned nations); valid: another name"
        )
    registered = POLICIES.get(name)
    if registered is not None and registered is not cls and _defined_at(registered) != _defined_at(cls):
        raise ValueError(
            f"policy class {label} has name {name!r}, already registered for "
            f"{registered.__module__}.{registered.__qualname__}; valid: a name not registered yet (registered: "
            f"{', '.join(sorted(POLICIES))})"
        )
    if cls.doctrine is not None and cls.doctrine not in DOCTRINES:
        raise ValueError(
            f"policy {cls.name!r} acts out doctrine {cls.doctrine!r}, which is not registered; valid: "
            f"{', '.join(sorted(DOCTRINES))}, or None (register the doctrine first)"
        )
    POLICIES[name] = cls
    return cls


def counterparts() -> dict[str, str]:
    """``{doctrine: its scripted counterpart}`` for every doctrine that has one: the first registered policy that acts
    it out (``Policy.doctrine``: defensive_realist for security, offensive_realist for power, then those of a user's
    own)."""
    found: dict[str, str] = {}
    for name, cls in POLICIES.items():
        if cls.doctrine is not None:
            found.setdefault(cls.doctrine, name)
    return found


def counterpart(doctrine: str) -> str | None:
    """The scripted counterpart of ``doctrine`` (:func:`counterparts`), or None."""
    return counterparts().get(doctrine)


def without_counterpart(doctrines: Iterable[str]) -> list[str]:
    """The doctrines among ``doctrines`` (once each, in order) that no registered policy acts out: the ``scripted``
    baselines have no policy to play in their nations' places."""
    found = counterparts()
    return [doctrine for doctrine in dict.fromkeys(doctrines) if doctrine not in found]
