"""Plots of the experiment's report (matplotlib, Agg backend; every figure returned as PNG bytes): metric bars with
intervals per condition, learning curves with the baselines' returns, power shares over an episode, the acts of each
training seed, cross-play between seeds."""

from __future__ import annotations

import io
import math
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    _pyplot().close(fig)
    return buffer.getvalue()


def plot_metric_bars(
    summaries: Mapping[str, Mapping[str, Mapping[str, Mapping[str, Any]]]],
    metrics: Sequence[str],
    conditions: Sequence[str],
    title: str,
) -> bytes:
    """Bars of each metric per condition with their 95% intervals: ``summaries[policy][condition][metric]`` holds
    ``mean_ci`` summaries (policy: learned, scripted, random...)."""
    plt = _pyplot()
    cols = min(4, len(metrics))
    nrows = -(-len(metrics) // cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(3.6 * cols, 2.8 * nrows), squeeze=False)
    policies = list(summaries)
    width = 0.8 / max(len(policies), 1)
    hatches = ["", "//", "..", "xx", "\\\\"]
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, metric in zip(axes.flat, metrics, strict=False):
        for p, policy in enumerate(policies):
            xs, means, errs = [], [], [[], []]
            for c, condition in enumerate(conditions):
                s = summaries[policy].get(condition, {}).get(metric)
                if not s or not s.get("n"):
                    continue
                mean = s["mean"]
                low = s["ci_low"] if math.isfinite(s["ci_low"]) else mean
                high = s["ci_high"] if math.isfinite(s["ci_high"]) else mean
                xs.append(c + (p - (len(policies) - 1) / 2) * width)
                means.append(mean)
                errs[0].append(max(mean - low, 0.0))
                errs[1].append(max(high - mean, 0.0))
            if xs:
                ax.bar(
                    xs,
                    means,
                    width,
                    yerr=errs,
                    capsize=2,
                    label=policy,
                    color=colors[p % len(colors)],
                    hatch=hatches[p % len(hatches)],
                    edgecolor="black",
                    linewidth=0.4,
                )
        ax.set_title(metric, fontsize=9)
        ax.set_xticks(range(len(conditions)))
        ax.set_xticklabels(conditions, fontsize=7, rotation=20 if len(conditions) > 3 else 0)
        ax.tick_params(axis="y", labelsize=7)
        ax.axhline(0, color="black", linewidth=0.5)
    for ax in list(axes.flat)[len(metrics) :]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper right", fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0, 0.92, 0.95))
    return _png(fig)


def learning_curve_series(
    curves: Mapping[Any, Sequence[Mapping[str, float | None]]],
) -> dict[str, tuple[list[tuple[list[float], list[float]]], tuple[list[float], list[float]]]]:
    """The lines of one condition's panel: ``{doctrine: (per-seed (xs, ys) lines, (xs, mean ys over seeds))}`` from
    ``curves[seed]``, each a run's ``metrics.json`` curve: points ``{"timesteps": t, <doctrine>: mean episode return
    or None}``, as ``train.fast_ppo`` and ``train.ppo`` write them."""
    seed_lines: dict[str, list[tuple[list[float], list[float]]]] = defaultdict(list)
    at_timesteps: dict[str, dict[float, list[float]]] = defaultdict(lambda: defaultdict(list))
    for curve in curves.values():
        doctrines = sorted({k for point in curve for k in point if k != "timesteps"})
        for doctrine in doctrines:
            xs = [point["timesteps"] for point in curve if point.get(doctrine) is not None]
            ys = [point[doctrine] for point in curve if point.get(doctrine) is not None]
            seed_lines[doctrine].append((xs, ys))
            for x, y in zip(xs, ys, strict=True):
                at_timesteps[doctrine][x].append(y)
    return {
        doctrine: (
            lines,
            (sorted(at_timesteps[doctrine]), [float(np.mean(v)) for _, v in sorted(at_timesteps[doctrine].items())]),
        )
        for doctrine, lines in seed_lines.items()
    }


def _doctrine_colors() -> Callable[[str], str]:
    """A doctrine's colour in one figure: security blue and power red, as everywhere; each other doctrine the next of
    the palette's remaining colours as it first appears (so the doctrines of a mix of one's own are told apart)."""
    colors = {"security": "tab:blue", "power": "tab:red"}
    palette = ["tab:green", "tab:purple", "tab:orange", "tab:brown", "tab:pink", "tab:olive", "tab:cyan", "tab:gray"]

    def color_of(doctrine: str) -> str:
        if doctrine not in colors:
            colors[doctrine] = palette[(len(colors) - 2) % len(palette)]
        return colors[doctrine]

    return color_of


def plot_learning_curves(
    curves: Mapping[str, Mapping[Any, Sequence[Mapping[str, float]]]],
    baselines: Mapping[str, Mapping[str, Mapping[str, float]]] | None = None,
    selfplay: Mapping[str, Mapping[Any, Sequence[Mapping[str, float]]]] | None = None,
) -> bytes:
    """Mean episode return per doctrine against timesteps, one panel per condition: ``curves[condition][seed]`` is a
    run's ``metrics.json`` curve (thin lines: seeds; thick: their mean; :func:`learning_curve_series`);
    ``baselines[condition][label]`` gives ``{doctrine: return}`` of the baselines in evaluation (dashed lines);
    ``selfplay[condition][seed]``, a run's ``selfplay_curve`` (its self-play worlds alone; thick dotted: the mean over
    seeds), where the runs trained with a background."""
    plt = _pyplot()
    names = list(curves)
    cols = min(3, max(len(names), 1))
    nrows = max(-(-len(names) // cols), 1)
    # the legend of each panel below it: inside, it hides the curves of a panel with both doctrines' lines
    fig, axes = plt.subplots(nrows, cols, figsize=(4.2 * cols, 4.0 * nrows), squeeze=False, layout="constrained")
    color_of = _doctrine_colors()
    styles = ["-.", "--", ":"]
    for ax, condition in zip(axes.flat, names, strict=False):
        for doctrine, (lines, (xs, mean)) in learning_curve_series(curves[condition]).items():
            color = color_of(doctrine)
            for seed_xs, seed_ys in lines:
                ax.plot(seed_xs, seed_ys, color=color, alpha=0.3, linewidth=0.8)
            ax.plot(xs, mean, color=color, linewidth=2, label=f"learned ({doctrine})")
        for doctrine, (_, (xs, mean)) in learning_curve_series((selfplay or {}).get(condition, {})).items():
            ax.plot(xs, mean, color=color_of(doctrine), linewidth=2, linestyle=(0, (1, 1)),
                    label=f"learned, self-play worlds ({doctrine})")  # fmt: skip
        for k, (label, values) in enumerate((baselines or {}).get(condition, {}).items()):
            for doctrine, value in values.items():
                if value is not None and math.isfinite(value):
                    ax.axhline(
                        value,
                        color=color_of(doctrine),
                        linestyle=styles[k % len(styles)],
                        linewidth=1,
                        label=f"{label} ({doctrine})",
                    )
        ax.set_title(condition, fontsize=9)
        ax.set_xlabel("agent-steps", fontsize=8)
        ax.set_ylabel("episode return per nation", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, frameon=False)
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    return _png(fig)


def plot_power_shares(traces: Mapping[str, Mapping[str, Sequence[Sequence[float]] | None]], title: str) -> bytes:
    """Power shares of every nation over one episode: ``traces[condition][label]`` is ``[turn][nation]`` (one row
    of panels per condition, one column per label: learned, scripted...)."""
    plt = _pyplot()
    conditions = list(traces)
    labels = list(dict.fromkeys(label for c in conditions for label in traces[c]))
    fig, axes = plt.subplots(
        max(len(conditions), 1),
        max(len(labels), 1),
        figsize=(3.8 * max(len(labels), 1), 2.4 * len(conditions)),
        squeeze=False,
    )
    for r, condition in enumerate(conditions):
        for c, label in enumerate(labels):
            ax = axes[r][c]
            shares = traces[condition].get(label)
            if shares is None:
                ax.axis("off")
                continue
            s = np.asarray(shares, dtype=np.float64)
            for i in range(s.shape[1]):
                ax.plot(np.arange(s.shape[0]), s[:, i], linewidth=1, label=f"nation_{i}")
            ax.set_ylim(0, 1)
            ax.set_title(f"{condition}: {label}", fontsize=9)
            ax.set_xlabel("turn", fontsize=8)
            ax.set_ylabel("power share", fontsize=8)
            ax.tick_params(labelsize=7)
    handles, names = axes[0][0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, names, loc="upper right", fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0, 0.9, 0.95))
    return _png(fig)


def plot_strategies(shares: Mapping[str, Mapping[str, Mapping[str, float]]], acts: Sequence[str]) -> bytes:
    """What each training seed learned to do: ``shares[condition][label][act]`` is the share of turns on which the
    nations of one seed (or of the seeds sampling, ``learned, sampled``, or of a baseline: ``scripted``, ``random``)
    took each act; one panel per condition, one stacked bar per label, so seeds that settled on different policies
    stand apart."""
    plt = _pyplot()
    conditions = list(shares)
    cols = min(3, max(len(conditions), 1))  # a sweep's many panels wrap into rows of three
    nrows = max(-(-len(conditions) // cols), 1)
    height = 0.9 + 0.32 * max((len(labels) for labels in shares.values()), default=1)
    fig, axes = plt.subplots(nrows, cols, figsize=(4.2 * cols, height * nrows), squeeze=False)
    colors = plt.get_cmap("tab10")
    for ax, condition in zip(axes.flat, conditions, strict=False):
        labels = list(shares[condition])
        left = np.zeros(len(labels))
        for k, act in enumerate(acts):
            widths = np.asarray([shares[condition][label].get(act, 0.0) for label in labels], dtype=np.float64)
            widths = np.where(np.isfinite(widths), widths, 0.0)
            ax.barh(labels, widths, left=left, color=colors(k % 10), label=act)
            left += widths
        ax.set_xlim(0, 1)
        ax.invert_yaxis()  # the first seed on top
        ax.set_title(condition, fontsize=9)
        ax.set_xlabel("share of turns", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(conditions) :]:
        ax.axis("off")
    handles, names = axes[0][0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, names, loc="lower center", ncol=min(len(names), 8), fontsize=7, bbox_to_anchor=(0.5, -0.02))
    fig.tight_layout(rect=(0, 0.08 / nrows, 1, 1))
    return _png(fig)


#: The least gain a cross-play heat map's colours reach their end at, as a share of the self-play return.
CROSSPLAY_COLOUR_FLOOR = 0.02


def plot_crossplay(matrices: Mapping[str, tuple[Sequence[str], np.ndarray, float]]) -> bytes:
    """Cross-play between seeds (:mod:`train.crossplay`): ``matrices[condition] = (seed labels, gains [focal,
    partner], the self-play return)``, one heat map per condition, its colours centred on 0 (red: the focal seed's
    nation earns less among the partner's nations than the partner's own; blue: more) and reaching their end at the
    largest gain, or at :data:`CROSSPLAY_COLOUR_FLOOR` of the self-play return where every gain is smaller (gains of a
    few hundredths would otherwise look as strong as gains of a few points); each cell's gain written in it while it
    fits."""
    plt = _pyplot()
    conditions = list(matrices)
    cols = min(3, max(len(conditions), 1))
    nrows = max(-(-len(conditions) // cols), 1)
    size = max((len(labels) for labels, _, _ in matrices.values()), default=1)
    side = min(2.2 + 0.45 * size, 7.0)
    fig, axes = plt.subplots(nrows, cols, figsize=(side * cols, side * nrows), squeeze=False)
    for ax, condition in zip(axes.flat, conditions, strict=False):
        labels, matrix, selfplay = matrices[condition]
        finite = np.abs(matrix[np.isfinite(matrix)])
        scale = max(float(finite.max()) if finite.size else 0.0, CROSSPLAY_COLOUR_FLOOR * selfplay) or 1.0
        image = ax.imshow(matrix, cmap="RdBu", vmin=-scale, vmax=scale)
        ax.set_xticks(range(len(labels)))
        ax.set_yticks(range(len(labels)))
        ax.set_xticklabels(labels, fontsize=7, rotation=90 if len(labels) > 6 else 0)
        ax.set_yticklabels(labels, fontsize=7)
        ax.set_xlabel("partner seed (the other nations)", fontsize=8)
        ax.set_ylabel("focal seed (one nation)", fontsize=8)
        ax.set_title(condition, fontsize=9)
        if len(labels) <= 8:
            for (i, j), value in np.ndenumerate(matrix):
                if i != j and np.isfinite(value):
                    ax.text(j, i, f"{value:.2g}", ha="center", va="center", fontsize=6)
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04).ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(conditions) :]:
        ax.axis("off")
    fig.suptitle("Cross-play: the focal seed's gain over the partner's own nation", fontsize=10)
    fig.tight_layout()
    return _png(fig)
