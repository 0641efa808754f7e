"""Map geometry in the unit square: where each province is drawn, where its land borders and sea links run.

One computation for every picture of a map: the env's ``rgb_array`` render (:func:`realism_env.render.render_rgb`)
and the map of the episode log (:mod:`realism_env.episode_log`) that the browser replay draws. Host-side numpy
(drawing, not rules).

Coordinates: ``x`` to the right and ``y`` downwards, both in [0, 1]; a province is a cell of ``cell = (width,
height)`` centred on its position (the spacing of the grid the map was drawn on, :mod:`realism_env.maps`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class MapGeometry(NamedTuple):
    """The drawing of one map (numpy arrays; see the module docstring for the coordinates)."""

    centres: np.ndarray  #: [P, 2] float, the centre of each province's cell
    cell: tuple[float, float]  #: (width, height) of a province's cell
    land_pairs: np.ndarray  #: [L, 2] int, provinces sharing a land border, first < second
    land_borders: np.ndarray  #: [L, 4] float, (x0, y0, x1, y1) of the edge between the cells of each land pair
    sea_pairs: np.ndarray  #: [S, 2] int, provinces linked across the sea only, first < second (drawn centre to centre)


def _spacing(values: np.ndarray) -> float:
    """The smallest gap between distinct coordinates (the grid's spacing); 1 when all are equal."""
    gaps = np.diff(np.unique(np.round(values, 6)))
    return float(gaps.min()) if gaps.size else 1.0


def map_geometry(province_xy: np.ndarray, land_adjacency: np.ndarray, sea_adjacency: np.ndarray) -> MapGeometry:
    """The geometry of one map from its arrays (``World.province_xy[w]`` [P, 2], ``land_adjacency[w]`` and
    ``sea_adjacency[w]`` [P, P], numpy)."""
    centres = np.asarray(province_xy, dtype=np.float64)
    width, height = _spacing(centres[:, 0]), _spacing(centres[:, 1])
    land_pairs = np.argwhere(np.triu(np.asarray(land_adjacency, dtype=bool)))
    sea_pairs = np.argwhere(np.triu(np.asarray(sea_adjacency, dtype=bool)))
    a, b = centres[land_pairs[:, 0]], centres[land_pairs[:, 1]]
    middle = (a + b) / 2
    direction = (b - a) / np.maximum(np.linalg.norm(b - a, axis=1, keepdims=True), 1e-12)
    across = np.stack([-direction[:, 1], direction[:, 0]], axis=1)  # along the shared edge
    half = (np.abs(across[:, 0]) * width + np.abs(across[:, 1]) * height) / 2
    borders = np.concatenate([middle - across * half[:, None], middle + across * half[:, None]], axis=1)
    return MapGeometry(centres, (width, height), land_pairs, borders.reshape(-1, 4), sea_pairs)


def nation_anchors(owner: np.ndarray, centres: np.ndarray, n_nations: int) -> np.ndarray:
    """[N] int: for each nation, the province it holds nearest the mean centre of its provinces (where a label or
    a line to the nation is drawn), -1 for a nation that holds none. ``owner`` is [P]; ties go to the lowest index."""
    owner = np.asarray(owner)
    anchors = np.full(n_nations, -1, dtype=np.int64)
    for nation in range(n_nations):  # drawing, not rules: a loop over nations is fine here
        held = np.flatnonzero(owner == nation)
        if held.size:
            distance = np.linalg.norm(centres[held] - centres[held].mean(axis=0), axis=1)
            anchors[nation] = held[np.argmin(distance)]
    return anchors
