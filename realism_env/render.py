"""Rendering: an ANSI table and an RGB map. Imported lazily by the env (only rendering needs it)."""

from __future__ import annotations

import numpy as np

from realism_env.actions import Act
from realism_env.config import EnvConfig
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


def render_rgb(world: World, config: EnvConfig, cell: int = 48) -> np.ndarray:
    """[H, W, 3] uint8 map of world 0: provinces coloured by owner, wealth as brightness, provinces of
    nations at war outlined in red, sea links as lines, and last turn's attacks as red dots."""
    xy = world.province_xy[0]
    owner = world.owner[0]
    xs, ys = np.unique(np.round(xy[:, 0], 6)), np.unique(np.round(xy[:, 1], 6))
    spacing = min(np.diff(xs).min() if len(xs) > 1 else 1.0, np.diff(ys).min() if len(ys) > 1 else 1.0)
    width = int(np.ceil(1.0 / spacing)) * cell + cell
    height = int(np.ceil(1.0 / spacing)) * cell + cell
    image = np.empty((height, width, 3), dtype=np.uint8)
    image[:] = SEA
    centres = np.round(xy / spacing * cell + cell / 2).astype(int)
    wealth = world.wealth[0] / max(world.wealth[0].max(), 1e-9)
    at_war = world.at_war[0].any(axis=1)
    half = cell // 2 - 2
    for p, (cx, cy) in enumerate(centres):  # drawing, not rules: a loop over provinces is fine here
        colour = PALETTE[owner[p] % len(PALETTE)].astype(float) * (0.55 + 0.45 * wealth[p])
        y0, y1, x0, x1 = cy - half, cy + half, cx - half, cx + half
        if at_war[owner[p]]:
            image[y0 - 2 : y1 + 2, x0 - 2 : x1 + 2] = WAR
        image[y0:y1, x0:x1] = colour.astype(np.uint8)
    for a, b in np.argwhere(np.triu(world.sea_adjacency[0])):
        (xa, ya), (xb, yb) = centres[a], centres[b]
        steps = max(abs(xb - xa), abs(yb - ya), 1)
        t = np.linspace(0.0, 1.0, steps)
        px, py = np.round(xa + t * (xb - xa)).astype(int), np.round(ya + t * (yb - ya)).astype(int)
        image[py, px] = (200, 200, 255)
    attackers = np.flatnonzero((world.last_act[0] == Act.ATTACK) & world.alive[0])
    for nation in attackers:
        for p in np.flatnonzero(owner == nation)[:1]:
            cx, cy = centres[p]
            image[cy - 4 : cy + 4, cx - 4 : cx + 4] = WAR
    return image
