"""The report's standard figures, drawn with matplotlib's Agg renderer.

Figures are built as ``matplotlib.figure.Figure`` objects, not through
``pyplot``, so drawing a report never touches a global backend or leaks figures.
"""

from __future__ import annotations

import io
import textwrap

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

SPLIT_COLORS = ["#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860"]
METHOD_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                 "#bcbd22", "#17becf"]  # fmt: skip


def new_figure(width: float, height: float) -> Figure:
    """A figure on an Agg canvas, independent of pyplot's state."""
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


DPI = 150  # pixels per inch of the PNGs; the HTML shows them at 96 CSS pixels per inch


def figure_png(fig: Figure, dpi: int = DPI) -> bytes:
    """PNG bytes of ``fig`` (no software tag, so the file carries no web address)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None}, facecolor="white")
    return buf.getvalue()


def style_axes(ax) -> None:
    """The report's look for one axes: no top/right spines, a light horizontal grid."""
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", color="#e5e5e5", linewidth=0.8)
    ax.set_axisbelow(True)


def accuracy_figure(methods: dict, splits: list[str], split_labels: dict, summaries: dict) -> Figure:
    """Grouped bars: accuracy (%) per method, one bar per split, error bars = std over seeds, dots = seeds."""
    names = list(methods)
    n, k = len(names), len(splits)
    fig = new_figure(min(11.0, max(7.0, 0.95 * n + 2.0)), 3.6)
    ax = fig.add_subplot()
    width = 0.8 / k
    rng = np.random.default_rng(0)  # jitter of the seed dots only
    for j, split in enumerate(splits):
        x = np.arange(n) + (j - (k - 1) / 2) * width
        means = [100 * (summaries[m][split]["mean"] or 0.0) for m in names]
        stds = [100 * (summaries[m][split]["std"] or 0.0) for m in names]
        color = SPLIT_COLORS[j % len(SPLIT_COLORS)]
        ax.bar(x, means, width * 0.92, color=color, label=split_labels.get(split, split), zorder=2)
        ax.errorbar(x, means, yerr=stds, fmt="none", ecolor="#333333", elinewidth=1.1, capsize=3, zorder=3)
        for xi, m, mean, std in zip(x, names, means, stds):
            seeds = [100 * r["accuracy"][split] for r in methods[m]["runs"] if r["accuracy"].get(split) is not None]
            if len(seeds) > 1:
                jitter = rng.uniform(-width * 0.18, width * 0.18, len(seeds))
                ax.scatter(xi + jitter, seeds, s=9, color="#222222", alpha=0.55, zorder=4, linewidths=0)
            if summaries[m][split]["mean"] is not None:
                ax.annotate(f"{mean:.0f}", (xi, max([mean + std, *seeds])), xytext=(0, 2), textcoords="offset points",
                            ha="center", va="bottom", fontsize=7.5, color="#444444")  # fmt: skip
    ax.set_xticks(np.arange(n), [textwrap.fill(methods[m].get("label", m), 14) for m in names], fontsize=9)
    ax.set_ylabel("accuracy (%)")
    top = max([100 * (s["mean"] or 0) + 100 * (s["std"] or 0) for m in names for s in summaries[m].values()] + [1])
    ax.set_ylim(0, min(105, top * 1.18 + 2))
    ax.legend(frameon=False, ncols=k, loc="lower center", bbox_to_anchor=(0.5, 1.0), fontsize=9)
    style_axes(ax)
    return fig


def mean_curve(runs: list[dict], key: str):
    """``(steps, mean, std)`` of ``curve[key]`` over the runs that logged it, or None.

    Runs logged at different steps are interpolated onto the steps of the
    shortest run, so the mean covers only steps every run reached.
    """
    curves = [r["curve"] for r in runs if (r.get("curve") or {}).get("step") and (r["curve"].get(key) or [])]
    if not curves:
        return None
    steps = np.asarray(min(curves, key=lambda c: c["step"][-1])["step"], dtype=float)
    ys = np.stack([np.interp(steps, np.asarray(c["step"], float), np.asarray(c[key], float)) for c in curves])
    # ys: (runs, len(steps))
    return steps, ys.mean(axis=0), ys.std(axis=0, ddof=1) if len(curves) > 1 else np.zeros_like(steps)


def curves_figure(methods: dict) -> Figure | None:
    """Two panels, training objective and plain NLL vs step, mean over seeds (band = ±1 std); None without curves."""
    panels = [("objective", "training objective"), ("nll", "NLL (nats / token)")]
    if not any(mean_curve(m["runs"], key) for m in methods.values() for key, _ in panels):
        return None
    fig = new_figure(11.0, 3.6)
    axes = fig.subplots(1, 2)
    for ax, (key, label) in zip(axes, panels):
        for i, (name, method) in enumerate(methods.items()):
            curve = mean_curve(method["runs"], key)
            if curve is None:
                continue
            steps, mean, std = curve
            color = METHOD_COLORS[i % len(METHOD_COLORS)]
            style = ("-", "--", ":")[i // len(METHOD_COLORS) % 3]  # past ten methods, colors repeat
            ax.plot(steps, mean, color=color, linestyle=style, linewidth=1.6, label=method.get("label", name))
            if std.any():
                ax.fill_between(steps, mean - std, mean + std, color=color, alpha=0.15, linewidth=0)
        ax.set_title(label, fontsize=10, loc="left")
        ax.set_xlabel("step")
        style_axes(ax)
    handles, labels = axes[1].get_legend_handles_labels()
    if not handles:
        handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, frameon=False, loc="outside upper center", ncols=min(len(labels), 6), fontsize=9)
    return fig
