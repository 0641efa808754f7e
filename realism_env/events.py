"""What happened in a turn: the :class:`Events` arrays the rules return, and plain records of them for ``infos``.

Events are fixed-shape arrays on the rules' backend (``[W, N]`` and ``[W, N, N]``); :func:`event_records` turns one
world's events into readable records on the host, outside the step.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from realism_env.backend import to_numpy


class Events(NamedTuple):
    """What happened in one turn, as arrays. Directed ``[W, N, N]`` arrays read "i did it to j"."""

    war_declared: Any  #: bool, i declared war on j
    battle: Any  #: bool, i and j fought this turn (symmetric)
    forces_lost: Any  #: float, forces i lost on its front against j
    province_taken: Any  #: int, provinces i took from j by force
    wealth_destroyed: Any  #: [W, N] float, wealth of nation i destroyed (conquest, devastation)
    alliance_proposed: Any  #: bool, i proposed an alliance to j (not yet formed)
    alliance_formed: Any  #: bool, symmetric
    alliance_left: Any  #: bool, i left its alliance with j
    demand_made: Any  #: bool, i threatened j
    concession: Any  #: bool, i gave in to j's demand (a province passed to j)
    threat_enforced: Any  #: bool, i went to war over the demand j refused
    bluff_called: Any  #: bool, i's demand on j lapsed without war
    aid: Any  #: float, military aid sent from i to j
    peace: Any  #: bool, i and j made peace (symmetric)
    eliminated: Any  #: [W, N] bool, nation eliminated this turn
    invalid_action: Any  #: [W, N] bool, the nation's act was masked out and became WAIT

    def to_numpy(self) -> Events:
        """The same events as numpy arrays (a copy where they live on a device)."""
        return Events(*(to_numpy(array) for array in self))


EVENT_KINDS: tuple[str, ...] = Events._fields

_SYMMETRIC_EVENTS = frozenset({"battle", "alliance_formed", "peace"})
# (position in Events, kind, listed once per pair) of every kind that becomes a record.
_RECORDED = tuple(
    (index, kind, kind in _SYMMETRIC_EVENTS) for index, kind in enumerate(EVENT_KINDS) if kind != "forces_lost"
)
_BATTLE = EVENT_KINDS.index("battle")


def event_records(events: Events, world_index: int, names: tuple[str, ...]) -> list[dict[str, object]]:
    """The events of one world as plain records ``{"kind", "actor", "target", "value"}`` (for ``infos``, logs and
    replays). Symmetric events are listed once per pair; a battle's value is (actor's losses, target's losses); a
    flag's value is 1.0."""
    records: list[dict[str, object]] = []
    n = len(names)
    if not isinstance(events.eliminated, np.ndarray):
        events = events.to_numpy()
    for index, kind, symmetric in _RECORDED:
        array = events[index][world_index]
        cells = array.reshape(-1).nonzero()[0].tolist()
        if not cells:
            continue
        flags = array.dtype == bool
        values = None if flags else array.reshape(-1).tolist()
        if array.ndim == 1:
            records += [
                {"kind": kind, "actor": names[i], "target": None, "value": 1.0 if flags else float(values[i])}
                for i in cells
            ]
            continue
        pairs = [(cell, *divmod(cell, n)) for cell in cells]
        if symmetric:
            pairs = [(cell, i, j) for cell, i, j in pairs if i < j]
        if index == _BATTLE:
            lost = events.forces_lost[world_index].tolist()
            records += [
                {"kind": kind, "actor": names[i], "target": names[j], "value": (lost[i][j], lost[j][i])}
                for _, i, j in pairs
            ]
        else:
            records += [
                {"kind": kind, "actor": names[i], "target": names[j], "value": 1.0 if flags else float(values[cell])}
                for cell, i, j in pairs
            ]
    return records
