"""Random draws, made outside the rules and passed in as arrays.

Every random outcome of a turn reads one of these arrays, drawn in full every turn whatever happens, so the random
stream never depends on events and a backend can run the same fixed-shape code on any device. A turn draws
``O(W x (N^2 + P))`` numbers: ``N^2`` perception noises and a few per nation and province (the old rules drew
``W x N^2 x (2P + 2)``).

Each nation takes at most one act a turn, so what a capture or a concession needs is drawn per acting nation: the
attacker's roll against the capture odds, which of the eligible provinces changes hands (one uniform picks one of
them uniformly), and the priority that settles two claims on one province.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from realism_env.backend import RandomSource


class TurnDraws(NamedTuple):
    """The transition's draws of one turn, ``[W, N]`` uniforms in [0, 1) each."""

    capture_roll: Any  #: nation i's attack takes a province when its roll is below the capture odds
    province_pick: Any  #: which eligible province i takes (by force) or gives up (by concession), uniformly
    claim_priority: Any  #: where two nations take one province at once, the higher priority gets it


class ResetDraws(NamedTuple):
    """The draws that make fresh worlds (see :func:`realism_env.maps.initial_worlds`)."""

    map_index: Any  #: [W] int, which map of the bank each world gets
    nation_order: Any  #: [W, N] uniforms; their argsort relabels the map's territories (which nation gets which)
    wealth: Any  #: [W, P] uniforms; province wealth is uniform in [0.75, 1.25] before scaling to capability shares
    capability: Any = None  #: [W, N] standard normals that spread the capability shares; None when the spread is 0


class StepDraws(NamedTuple):
    """Everything random in one batched step."""

    turn: TurnDraws
    perception: Any  #: [W, N, N] standard normals: the misperception noise of observations (one draw a step)
    reset: ResetDraws | None  #: draws for the fresh worlds that replace ended ones (None: no auto-reset)


def draw_turn(random: RandomSource, n_worlds: int, n_nations: int) -> TurnDraws:
    """One turn's transition draws."""
    shape = (n_worlds, n_nations)
    return TurnDraws(random.uniform(shape), random.uniform(shape), random.uniform(shape))


def draw_perception(random: RandomSource, n_worlds: int, n_nations: int) -> Any:
    """[W, N, N] standard normals for :func:`realism_env.observation.observe`."""
    return random.normal((n_worlds, n_nations, n_nations))


def draw_reset(
    random: RandomSource,
    n_worlds: int,
    n_nations: int,
    n_provinces: int,
    n_maps: int,
    capability_spread: float = 0.0,
) -> ResetDraws:
    """Draws for ``n_worlds`` fresh worlds from a bank of ``n_maps`` maps (with ``capability_spread`` > 0, the normals
    that spread the capability shares too: a config without a spread keeps the random stream it always had)."""
    return ResetDraws(
        random.integers(n_maps, (n_worlds,)),
        random.uniform((n_worlds, n_nations)),
        random.uniform((n_worlds, n_provinces)),
        random.normal((n_worlds, n_nations)) if capability_spread > 0 else None,
    )


def draw_step(
    random: RandomSource,
    n_worlds: int,
    n_nations: int,
    n_provinces: int,
    n_maps: int | None = None,
    capability_spread: float = 0.0,
) -> StepDraws:
    """All draws of one step, in a fixed order; ``n_maps`` (the map bank's size) when ended worlds are replaced."""
    turn = draw_turn(random, n_worlds, n_nations)
    perception = draw_perception(random, n_worlds, n_nations)
    reset = None
    if n_maps is not None:
        reset = draw_reset(random, n_worlds, n_nations, n_provinces, n_maps, capability_spread)
    return StepDraws(turn, perception, reset)
