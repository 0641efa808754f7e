"""The map generator: land hops, and territories that are contiguous, cover the map and leave no nation without a
province, up to the largest map a config allows."""

from __future__ import annotations

import numpy as np
import pytest

from realism_env import EnvConfig
from realism_env.maps import _grid, _hops_from, generate_maps


def test_land_hops_on_a_grid_are_manhattan_distances_and_another_land_mass_is_out_of_reach():
    _, grid = _grid(12, 1.0, 0.0)  # 4 x 3 cells
    two_masses = np.zeros((24, 24), dtype=bool)
    two_masses[:12, :12] = two_masses[12:, 12:] = grid
    rows, cols = np.arange(12) // 4, np.arange(12) % 4
    for source in (0, 5, 11):
        manhattan = np.abs(rows - rows[source]) + np.abs(cols - cols[source])
        hops = _hops_from(two_masses, source)
        np.testing.assert_array_equal(hops[:12], manhattan)
        assert (hops[12:] == 24).all(), "cells of the other land mass are unreachable: P hops"


def _connected(land: np.ndarray, cells: np.ndarray) -> bool:
    inside = np.zeros(land.shape[0], dtype=bool)
    inside[cells] = True
    hops = _hops_from(land & inside[:, None] & inside[None, :], int(cells[0]))
    return bool((hops[cells] < land.shape[0]).all())


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"map_kind": "islands"},
        {"n_nations": 2, "provinces_per_nation": 1},
        {"n_nations": 9, "provinces_per_nation": 5, "map_kind": "islands"},
        {"n_nations": 64, "provinces_per_nation": 32},  # the largest valid map (all-pairs hops: over 9 minutes)
    ],
    ids=repr,
)
def test_territories_are_contiguous_cover_the_map_and_leave_every_nation_a_province(overrides):
    config = EnvConfig(**overrides)
    bank = generate_maps(config, np.random.default_rng(0), 3 if config.n_provinces < 100 else 1)
    for k in range(bank.size):
        territory, land = bank.territory[k], bank.land_adjacency[k]
        assert territory.shape == (config.n_provinces,)
        sizes = np.bincount(territory, minlength=config.n_nations)
        assert sizes.shape == (config.n_nations,) and (sizes >= 1).all(), sizes
        for nation in range(config.n_nations):
            assert _connected(land, np.flatnonzero(territory == nation)), f"map {k}: nation {nation} is split"


def test_the_readmes_scenario_table_says_what_each_built_in_scenario_is() -> None:
    """The README's table of scenarios is each one's own description (it had drifted from them), and the historical
    ones say that only their capabilities are historical."""
    from pathlib import Path

    from realism_env import SCENARIOS

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    table = readme.split("| name | what it models |\n|---|---|\n", 1)[1].split("\n\n", 1)[0]
    rows = dict(line.split(" | ", 1) for line in table.splitlines())
    expected = {
        f"| `{name}`" + (" (default)" if name == "multipolar" else ""): f"{scenario.description} |"
        for name, scenario in SCENARIOS.items()
    }
    assert rows == expected  # every registered scenario (a test's own are unregistered after it), and no other
    for name in ("europe_1914", "cold_war_1950"):
        assert "Capabilities only: the map, growth and starting relations are generic." in SCENARIOS[name].description
