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


def _gaps(values: np.ndarray) -> np.ndarray:
    """The gaps between the distinct coordinates of ``values``."""
    return np.diff(np.unique(np.round(values, 6)))


def land_masses(land_adjacency: np.ndarray) -> list[np.ndarray]:
    """The provinces of each land mass (connected by land borders), as index arrays."""
    adjacency = np.asarray(land_adjacency, dtype=bool)
    unvisited = np.ones(adjacency.shape[0], dtype=bool)
    masses = []
    while unvisited.any():  # drawing, not rules: a loop over land masses is fine here
        reached = np.zeros_like(unvisited)
        reached[np.argmax(unvisited)] = True
        while True:
            grown = reached | adjacency[reached].any(axis=0)
            if (grown == reached).all():
                break
            reached = grown
        masses.append(np.flatnonzero(reached))
        unvisited &= ~reached
    return masses


def _cell(centres: np.ndarray, land_adjacency: np.ndarray) -> tuple[float, float]:
    """(width, height) of a province's cell: on each axis the smallest spacing of a land mass's grid (each land mass is
    drawn on a grid of its own, :mod:`realism_env.maps`, so gaps across the sea are no spacing); where no land mass
    has two coordinates on an axis (lone provinces), half the smallest gap between any, so that the sea shows between
    them; 1 where every province lies on one line."""
    masses = land_masses(land_adjacency)
    cell = []
    for axis in (0, 1):
        within = np.concatenate([_gaps(centres[mass, axis]) for mass in masses])
        across = _gaps(centres[:, axis])
        cell.append(float(within.min()) if within.size else float(across.min()) / 2 if across.size else 1.0)
    return cell[0], cell[1]


def map_geometry(province_xy: np.ndarray, land_adjacency: np.ndarray, sea_adjacency: np.ndarray) -> MapGeometry:
    """The geometry of one map from its arrays (``World.province_xy[w]`` [P, 2], ``land_adjacency[w]`` and
    ``sea_adjacency[w]`` [P, P], numpy)."""
    centres = np.asarray(province_xy, dtype=np.float64)
    width, height = _cell(centres, land_adjacency)
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
