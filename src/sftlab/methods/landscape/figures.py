"""The landscape's plots and report section, from its metrics (per layer, per condition)."""

from __future__ import annotations

import re

import numpy as np

LINE_STYLES = {None: "-", "same_label": "--", "random": ":"}  # 0-shot, same-label shots, random shots

# The per-layer quantities plotted, with their axis labels.
PLOTTED = {"id_gride": "intrinsic dimension (Gride)", "n_clusters": "number of density peaks",
           "core_fraction": "fraction of core points"}  # fmt: skip


def _series(cond: dict, key: str, label: str | None = None) -> tuple[list[int], list[float]]:
    xs, ys = [], []
    for layer in cond["layers"]:
        value = layer.get("ari", {}).get(label) if label else layer.get(key)
        if value is not None:
            xs.append(layer["layer"])
            ys.append(value)
    return xs, ys


def landscape_figures(metrics: dict) -> dict:
    """One matplotlib Figure per metric (ID, peaks, core fraction, ARI per label), one line per condition."""
    from matplotlib.ticker import MaxNLocator

    from sftlab.report.plots import METHOD_COLORS, new_figure, style_axes

    panels = [(key, title, None) for key, title in PLOTTED.items()]
    panels += [(f"ari_{slug(f)}", f"ARI of the peaks vs '{f}'", f) for f in metrics["labels"]]
    figures = {}
    for key, title, label in panels:
        fig = new_figure(5.6, 3.4)
        ax = fig.add_subplot()
        for i, (name, cond) in enumerate(metrics["conditions"].items()):
            xs, ys = _series(cond, key, label)
            style = LINE_STYLES[cond.get("shot_source", "random") if cond["shots"] else None]
            ax.plot(xs, ys, style, marker="o", ms=3.5, color=METHOD_COLORS[i % len(METHOD_COLORS)], label=name)
        n_layers = max((len(c["layers"]) for c in metrics["conditions"].values()), default=1)
        ax.set_xlim(-0.3, n_layers - 0.7)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("layer (0 = embeddings)")
        ax.set_ylabel(title)
        if label:
            ax.set_ylim(-0.05, 1.05)
        style_axes(ax)
        ax.legend(fontsize=8, frameon=False)
        figures[key] = fig
    return figures


def landscape_section(metrics: dict, figures: dict | None = None):
    """A report ``Section``: what was measured and which shots each line used, a table of each condition's peaks,
    the ARI per layer for the first label (the one same-label shots are drawn by), and the per-layer plots."""
    from sftlab.report import Section, Table

    figures = landscape_figures(metrics) if figures is None else figures
    label_fields = list(metrics["labels"])
    conditions = metrics["conditions"]
    rows = []
    for name, cond in conditions.items():
        cells = [name, str(cond["shots"]), _source_text(cond, label_fields[0])]
        xs, ids = _series(cond, "id_gride")
        cells.append(f"{max(ids):.1f} (layer {xs[int(np.argmax(ids))]})" if ids else "-")
        for f in label_fields:
            xs, aris = _series(cond, "", f)
            cells.append(f"{max(aris):.2f} (layer {xs[int(np.argmax(aris))]})" if aris else "-")
        rows.append(cells)
    head = ["condition", "shots", "shot source", "max ID (layer)"] + [f"max ARI {f} (layer)" for f in label_fields]
    n_layers = max((len(c["layers"]) for c in conditions.values()), default=0)
    per_layer = [
        [str(layer)] + [_ari_text(cond, layer, label_fields[0]) for cond in conditions.values()]
        for layer in range(n_layers)
    ]
    cfg = metrics["config"]
    intro = (f"Last-prompt-token representations of {metrics['n_examples']} prompts at every layer "
             f"(Doimo et al. 2024, arXiv 2409.03662). ID: Gride at neighbour ranks ({cfg['k']}, {2 * cfg['k']}); "
             f"density peaks: Advanced Density Peaks, Z = {cfg['z']}; ARI between the peaks and each label. "
             f"Computed with {metrics['implementation']}. Layers with fewer than 2k+2 distinct vectors are not "
             f"shown.")  # fmt: skip
    captions = {**PLOTTED, **{f"ari_{slug(f)}": f"ARI of the peaks vs '{f}'" for f in label_fields}}
    images = {captions[k]: fig for k, fig in figures.items()}
    tables = [
        Table(head, rows),
        Table(
            ["layer"] + list(conditions),
            per_layer,
            caption=f"ARI of the density peaks vs '{label_fields[0]}', per layer (layer 0 = embeddings; '-': skipped)",
        ),
    ]
    return Section(
        title="Representation landscape",
        paragraphs=[intro, _shots_text(metrics, label_fields[0])],
        tables=tables,
        images=images,
    )


def _source_text(cond: dict, label: str) -> str:
    source = cond.get("shot_source", "random") if cond["shots"] else None
    return {None: "-", "same_label": f"same {label}", "random": "random"}[source]


def _ari_text(cond: dict, layer: int, label: str) -> str:
    value = next((x.get("ari", {}).get(label) for x in cond["layers"] if x["layer"] == layer), None)
    return "-" if value is None else f"{value:.2f}"


def _shots_text(metrics: dict, label: str) -> str:
    """Which shots each line used: solid 0-shot, dashed same-label shots, dotted random shots."""
    sources = {c.get("shot_source", "random") for c in metrics["conditions"].values() if c["shots"]}
    seed = metrics["config"]["seed"]
    parts = ["Solid lines: 0-shot (the plain prompt: the base model without examples, and each compared model)."]
    if "same_label" in sources:
        parts.append(
            f"Dashed: the base model with k solved examples in the prompt (ICL) drawn from the shot pool's "
            f"records with the question's own '{label}' (same-label shots, as the paper's prompts take "
            f"MMLU examples from the question's subject), seed {seed}."
        )
    if "random" in sources:
        parts.append(
            f"Dotted: the base model with k solved examples drawn from the whole shot pool, whatever their "
            f"'{label}' (random shots), seed {seed}."
        )
    return " ".join(parts)


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "x"
