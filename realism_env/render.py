"""Rendering: an ANSI table and an RGB map. Imported lazily by the env (only rendering needs it)."""

from __future__ import annotations

import numpy as np

from realism_env.actions import Act
from realism_env.config import EnvConfig
from realism_env.geometry import map_geometry
from realism_env.rules import income, power_share, provinces_held
from realism_env.world import World

# A colour-blind-friendly palette (Okabe & Ito), cycled for more nations.
PALETTE = np.array(
    [
        [230, 159, 0],
        [86, 180, 233],
        [0, 158, 115],
        [240, 228, 66],
        [0, 114, 178],
        [213, 94, 0],
        [204, 121, 167],
        [150, 150, 150],
        [120, 80, 40],
        [170, 220, 120],
    ],
    dtype=np.uint8,
)
SEA = np.array([24, 48, 96], dtype=np.uint8)


def nation_colours(n_nations: int) -> list[str]:
    """The colour of each nation as ``#rrggbb`` (the :data:`PALETTE` of the rgb render, cycled)."""
    return ["#{:02x}{:02x}{:02x}".format(*PALETTE[i % len(PALETTE)].tolist()) for i in range(n_nations)]


WAR = np.array([220, 20, 20], dtype=np.uint8)


def render_ansi(world: World, config: EnvConfig, events: list[dict[str, object]] = ()) -> str:
    """A compact table of nations, then wars, alliances, demands and the turn's events (world 0)."""
    names = config.display_names()
    inc, held, share = income(world)[0], provinces_held(world)[0], power_share(world)[0]
    doctrines = config.doctrine_per_nation
    lines = [
        f"turn {int(world.turn[0])}/{config.max_cycles}",
        f"{'nation':<16}{'doctrine':<10}{'alive':>6}{'prov':>5}{'income':>9}{'military':>10}{'arms':>5}{'share':>7}",
    ]
    for i, name in enumerate(names):
        lines.append(
            f"{name[:15]:<16}{doctrines[i][:9]:<10}{'yes' if world.alive[0, i] else 'no':>6}{int(held[i]):>5}"
            f"{inc[i]:>9.2f}{world.military[0, i]:>10.2f}{int(world.arms_level[0, i]):>5}{share[i]:>7.3f}"
        )

    def pairs(matrix: np.ndarray, symmetric: bool) -> list[tuple[int, int]]:
        m = np.triu(matrix) if symmetric else matrix
        return [(int(i), int(j)) for i, j in np.argwhere(m)]

    wars = pairs(world.at_war[0], True)
    lines.append(
        "wars: "
        + (", ".join(f"{names[i]} vs {names[j]} ({int(world.war_years[0, i, j])}y)" for i, j in wars) or "none")
    )
    alliances = pairs(world.allied[0], True)
    lines.append("alliances: " + (", ".join(f"{names[i]} + {names[j]}" for i, j in alliances) or "none"))
    demands = pairs(world.demand[0], False)
    lines.append("demands: " + (", ".join(f"{names[i]} -> {names[j]}" for i, j in demands) or "none"))
    index = {f"nation_{i}": names[i] for i in range(len(names))}
    shown = [e for e in events if e["kind"] not in ("battle", "alliance_proposed", "wealth_destroyed")]
    if shown:
        lines.append(
            "events: "
            + "; ".join(
                f"{e['kind']} {index.get(str(e['actor']), e['actor'])}"
                + (f" -> {index.get(str(e['target']), e['target'])}" if e["target"] else "")
                for e in shown
            )
        )
    return "\n".join(lines)


def render_rgb(world: World, config: EnvConfig, size: int = 512) -> np.ndarray:
    """[H, W, 3] uint8 picture of world 0. Top: a bar of power shares, one colour per nation. Below, the map
    (:func:`realism_env.geometry.map_geometry`, shared with the browser replay): provinces coloured by owner
    (brighter = wealthier), provinces of nations at war outlined in red, sea links as pale lines, and a red dot on
    each nation that attacked last turn."""
    geometry = map_geometry(world.province_xy[0], world.land_adjacency[0], world.sea_adjacency[0])
    xy = geometry.centres
    owner = world.owner[0]
    bar = size // 16
    margin = size // 32
    map_size = size - bar - 2 * margin
    dx, dy = geometry.cell
    half_w = max(2, int(dx * map_size / 2) - 2)
    half_h = max(2, int(dy * map_size / 2) - 2)
    image = np.empty((size, size, 3), dtype=np.uint8)
    image[:] = SEA
    # The power-share bar (the distribution of capabilities, the realists' independent variable).
    shares = power_share(world)[0]
    edges = np.round(np.concatenate([[0.0], np.cumsum(shares)]) * (size - 2 * margin)).astype(int) + margin
    for nation in range(world.n_nations):  # drawing, not rules: loops are fine here
        image[margin // 2 : margin // 2 + bar - 4, edges[nation] : edges[nation + 1]] = PALETTE[nation % len(PALETTE)]
    top = bar + margin
    centres = np.stack([margin + xy[:, 0] * map_size, top + xy[:, 1] * map_size], axis=1).round().astype(int)
    wealth = world.wealth[0] / max(world.wealth[0].max(), 1e-9)
    at_war = world.at_war[0].any(axis=1)
    for p, (cx, cy) in enumerate(centres):
        colour = PALETTE[owner[p] % len(PALETTE)].astype(float) * (0.55 + 0.45 * wealth[p])
        # A slice that starts below 0 is empty in numpy: clip each cell to the image.
        if at_war[owner[p]]:
            image[max(cy - half_h - 2, 0) : cy + half_h + 2, max(cx - half_w - 2, 0) : cx + half_w + 2] = WAR
        image[max(cy - half_h, 0) : cy + half_h, max(cx - half_w, 0) : cx + half_w] = colour.astype(np.uint8)
    # Sea lanes are drawn over the land: they join coasts that do not touch.
    for a, b in geometry.sea_pairs:
        (xa, ya), (xb, yb) = centres[a], centres[b]
        steps = max(abs(xb - xa), abs(yb - ya), 1)
        t = np.linspace(0.0, 1.0, steps)
        image[np.round(ya + t * (yb - ya)).astype(int), np.round(xa + t * (xb - xa)).astype(int)] = (200, 200, 255)
    dot = max(2, size // 96)
    for nation in np.flatnonzero((world.last_act[0] == Act.ATTACK) & world.alive[0]):
        cx, cy = centres[np.flatnonzero(owner == nation)].mean(axis=0).round().astype(int)
        image[cy - dot : cy + dot, cx - dot : cx + dot] = WAR
    return image
