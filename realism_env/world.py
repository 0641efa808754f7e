"""The world value: every array of the simulation, with a leading world axis.

A :class:`World` holds ``W`` independent worlds at once: ``[worlds, nations]``, ``[worlds, provinces]``
and ``[worlds, nations, nations]`` arrays. The PettingZoo env keeps one (``W = 1``); batched backends keep
thousands. The word *state* is kept for PettingZoo's ``state()`` and policy memory; this is the world.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from realism_env.backend import array_namespace, put_rows


@dataclass(frozen=True)
class World:
    """A snapshot of ``W`` worlds. Rules return new worlds; they never mutate one."""

    # The map (fixed for an episode).
    province_xy: Any  #: [W, P, 2] float, drawing position of each province in the unit square
    land_adjacency: Any  #: [W, P, P] bool, provinces sharing a land border
    sea_adjacency: Any  #: [W, P, P] bool, provinces linked across sea only
    growth_rates: Any  #: [W, N] float, growth per year at zero arms spending
    initial_provinces: Any  #: [W, N] int, provinces held at the start
    # Territory and economy.
    owner: Any  #: [W, P] int, the nation that holds each province (always a live one)
    wealth: Any  #: [W, P] float, economic output of each province per year
    # Nations.
    military: Any  #: [W, N] float, forces in being
    arms_level: Any  #: [W, N] int, the domestic arms level chosen last turn
    alive: Any  #: [W, N] bool
    # Relations ([W, N, N]; symmetric ones say so).
    at_war: Any  #: bool, symmetric
    war_years: Any  #: int, years the war between i and j has lasted, symmetric
    allied: Any  #: bool, symmetric
    alliance_years: Any  #: int, symmetric
    alliance_proposal: Any  #: bool, i's standing proposal to j (one turn)
    peace_offer: Any  #: bool, i's standing peace offer to j (one turn)
    demand: Any  #: bool, i's standing demand on j (blackmail)
    demand_age: Any  #: int, turns since i's demand on j was made
    # Public record.
    threats_made: Any  #: [W, N] int
    threats_enforced: Any  #: [W, N] int, refused demands the threatener went to war over
    last_act: Any  #: [W, N] int, each nation's act of the last turn (public)
    last_target: Any  #: [W, N] int, its absolute target
    # The human cost of power politics.
    forces_lost: Any  #: [W, N] float, cumulative
    wealth_destroyed: Any  #: [W, N] float, cumulative
    turn: Any  #: [W] int

    @property
    def n_worlds(self) -> int:
        return self.owner.shape[0]

    @property
    def n_nations(self) -> int:
        return self.military.shape[1]

    @property
    def n_provinces(self) -> int:
        return self.owner.shape[1]

    def replace(self, **changes: Any) -> World:
        """A new world with some arrays changed."""
        # a list and the plain constructor, not a set difference of the keys or a copy of __dict__: torch 2.11's
        # compiler traces neither (and breaks the step's graph there)
        unknown = [name for name in changes if name not in _ARRAY_FIELD_SET]
        if unknown:
            raise ValueError(f"unknown World fields {sorted(unknown)}; valid: {', '.join(_ARRAY_FIELDS)}")
        return World(**{name: changes[name] if name in changes else getattr(self, name) for name in _ARRAY_FIELDS})

    def select(self, index: int) -> World:
        """World ``index`` alone, keeping the leading axis (``W = 1``)."""
        return self.map_arrays(lambda array: array[index : index + 1])

    def map_arrays(self, function: Callable[[Any], Any]) -> World:
        """A world whose every array is ``function(array)``: a change of backend or device (``to_numpy``), a
        selection of worlds, ..."""
        return World(**{name: function(getattr(self, name)) for name in _ARRAY_FIELDS})


def stack_worlds(worlds: list[World]) -> World:
    """Concatenate worlds along the world axis (all must share nation and province counts and a backend)."""
    xp = array_namespace(worlds[0].owner)
    return World(**{name: xp.concat([getattr(w, name) for w in worlds], axis=0) for name in _ARRAY_FIELDS})


def where_worlds(which: Any, replacement: World, world: World, fields: tuple[str, ...] | None = None) -> World:
    """``world`` with the worlds flagged in ``which`` ([W] bool) taken from ``replacement``: a masked write of every
    array (or of ``fields`` alone), with fixed shapes and no host sync (how a batched backend swaps ended worlds for
    fresh ones)."""
    xp = array_namespace(which)
    arrays = {}
    for name in _ARRAY_FIELDS if fields is None else fields:
        current = getattr(world, name)
        flags = xp.reshape(which, (which.shape[0],) + (1,) * (current.ndim - 1))
        arrays[name] = xp.where(flags, getattr(replacement, name), current)
    return world.replace(**arrays)


def put_worlds(world: World, index: Any, replacement: World) -> World:
    """numpy only: a copy of ``world`` with the worlds at ``index`` ([K] increasing int) replaced by ``replacement``'s
    ``K`` worlds (what :func:`where_worlds` does with fixed shapes, at the cost of the ended worlds alone), each array
    by :func:`realism_env.backend.put_rows` (``replacement``'s own where ``index`` names every world)."""
    return World(**{name: put_rows(getattr(world, name), index, getattr(replacement, name)) for name in _ARRAY_FIELDS})


def array_fields() -> tuple[str, ...]:
    """Names of the World's array fields, in order."""
    return _ARRAY_FIELDS


_ARRAY_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(World))
_ARRAY_FIELD_SET = frozenset(_ARRAY_FIELDS)
#: the fields of the map, fixed for an episode (taken from a map bank by each world's map index)
MAP_FIELDS: tuple[str, ...] = ("province_xy", "land_adjacency", "sea_adjacency")
#: every other field
EPISODE_FIELDS: tuple[str, ...] = tuple(name for name in _ARRAY_FIELDS if name not in MAP_FIELDS)
