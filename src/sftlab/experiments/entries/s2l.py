"""S2L vs random data selection on the lab, as ``sftlab demo`` entries.

One proxy (the lab model fine-tuned on the whole expert train split, as the
demo's SFT run is, keeping a few evenly spaced checkpoints) is trained once
and its loss trajectories recorded once. Then, per seed and budget, S2L and
random each pick a subset and the lab model is fine-tuned on it for the same
number of epochs as the full-set SFT run (steps = the demo's steps x budget,
the protocol of the S2L paper's subset runs) and evaluated in-domain and
out-of-domain. The demo's SFT run on the whole split is the reference.

Two registry entries, ``s2l`` and ``random-subset``: each headline run is the
30% budget, and every run carries ``by_budget`` (10/30/50%, or 30% alone in
``--quick``) for the section's accuracy-vs-budget plot.
"""

from __future__ import annotations

import html
import json
import time
from dataclasses import dataclass

from sftlab.methods.s2l.select import SelectConfig, run_select

HEADLINE = 0.3
LABELS = {"s2l": "S2L", "random": "random"}


@dataclass
class S2LDemoSettings:
    """How much S2L work the demo does (the proxy keeps fewer checkpoints than the paper's 12, to fit)."""

    budgets: tuple[float, ...] = (0.1, 0.3, 0.5)
    n_checkpoints: int = 4
    n_clusters: int = 100
    max_length: int = 512

    @classmethod
    def for_ctx(cls, ctx) -> S2LDemoSettings:
        return cls(budgets=(HEADLINE,), n_checkpoints=3, n_clusters=50) if ctx.quick else cls()


def proxy_checkpoints(ctx, settings: S2LDemoSettings) -> str:
    """The proxy: the demo's SFT recipe on the whole train split with ``n_checkpoints`` evenly spaced checkpoints.

    The demo's own SFT run (seed 0) serves when it kept that many checkpoints;
    otherwise a proxy run is trained once (cached by the demo).
    """
    sft_run = ctx.run_dir("sft", 0) / "model"
    if len(list(sft_run.glob("checkpoint-*"))) >= settings.n_checkpoints:
        return str(sft_run)
    save_steps = max(1, ctx.steps // settings.n_checkpoints)
    summary = ctx.train("s2l-proxy", 0, max_steps=save_steps * settings.n_checkpoints, save_steps=save_steps)
    return summary["output_dir"]


def run_budgets(ctx, method: str, seed: int, settings: S2LDemoSettings | None = None) -> dict:
    """Select with ``method`` at each budget, fine-tune, evaluate; the headline run with ``by_budget`` inside."""
    settings = settings or S2LDemoSettings.for_ctx(ctx)
    proxy = proxy_checkpoints(ctx, settings) if method == "s2l" else None
    by_budget, headline = {}, None
    for budget in settings.budgets:
        pct = round(100 * budget)
        name = f"{method}-{pct}"
        sel_dir = ctx.run_dir(name, seed) / "selection"
        manifest_file = sel_dir / "manifest.json"
        t0 = time.time()
        if manifest_file.is_file() and not ctx.cfg.fresh:
            selection = json.loads(manifest_file.read_text(encoding="utf-8"))
            selected = str(sel_dir / "selected.jsonl")
        else:
            selection = run_select(SelectConfig(
                method=method, budget=str(float(budget)), data=str(ctx.lab.data["train"]),
                proxy_model=str(ctx.lab.model_dir), proxy_checkpoints=proxy, output_dir=str(sel_dir),
                work_dir=str(ctx.run_dir("s2l-proxy", 0) / "selection"), n_checkpoints=settings.n_checkpoints,
                n_clusters=settings.n_clusters, max_length=settings.max_length, seed=seed, progress=False,
            ))
            selected = selection["selected_path"]
        select_seconds = time.time() - t0
        run = ctx.train_and_evaluate(name, seed, data=selected, max_steps=max(1, round(ctx.steps * budget)))
        by_budget[str(pct)] = {"accuracy": run["accuracy"], "n": run["n"], "n_selected": selection["n_selected"],
                               "train_seconds": run["train_seconds"], "select_seconds": round(select_seconds, 2),
                               "cluster_sizes": selection.get("cluster_sizes")}
        if budget == HEADLINE or headline is None:
            headline = run
    return {**headline, "by_budget": by_budget}


def section(ctx):
    """Accuracy vs budget for S2L and random (mean ± std over seeds), with the full-set SFT run as reference."""
    from sftlab.report import Section, format_accuracy, summarize_runs

    results = getattr(ctx, "results", {})
    runs = {m: results.get(entry, {}).get("runs", []) for m, entry in (("s2l", "s2l"), ("random", "random-subset"))}
    if not any(runs.values()):
        return None
    splits = list(ctx.splits)
    labels = {"test_id": "in-domain", "test_ood": "out-of-domain"}
    budgets = sorted({int(p) for rs in runs.values() for r in rs for p in r.get("by_budget", {})})
    table = {m: {p: summarize_runs([r["by_budget"][str(p)] for r in rs if str(p) in r.get("by_budget", {})], splits)
                 for p in budgets} for m, rs in runs.items()}
    full_runs = results.get("sft", {}).get("runs") or []
    full = summarize_runs(full_runs, splits) if full_runs else None
    fig = accuracy_vs_budget_figure(table, budgets, splits, labels, full)

    head = "".join(f"<th>{html.escape(labels.get(s, s))}</th>" for s in splits)
    rows = [f"<tr><td>{LABELS[m]} {p}%</td>" + "".join(f"<td>{format_accuracy(table[m][p][s])}</td>" for s in splits)
            + "</tr>" for p in budgets for m in table]
    md = ["| subset | " + " | ".join(labels.get(s, s) for s in splits) + " |", "|---|" + "---|" * len(splits)]
    md += [f"| {LABELS[m]} {p}% | " + " | ".join(format_accuracy(table[m][p][s]) for s in splits) + " |"
           for p in budgets for m in table]
    if full:
        rows.append("<tr><td>full set (SFT)</td>" + "".join(f"<td>{format_accuracy(full[s])}</td>" for s in splits) + "</tr>")
        md.append("| full set (SFT) | " + " | ".join(format_accuracy(full[s]) for s in splits) + " |")
    sizes = next((r["by_budget"][p].get("cluster_sizes") for r in runs["s2l"] for p in r.get("by_budget", {})), None)
    settings = S2LDemoSettings.for_ctx(ctx)
    text = (
        f"<p>S2L (arXiv 2403.07384) fine-tunes the lab model on the whole train split as a proxy (the demo's SFT "
        f"recipe, {settings.n_checkpoints} evenly spaced checkpoints), records each example's mean completion loss "
        f"at each checkpoint, clusters these trajectories with k-means and spends the budget smallest cluster "
        f"first, uniformly at random within a cluster. Random picks uniformly from the whole split. Each subset is "
        f"fine-tuned for the same number of epochs as the full-set SFT run ({ctx.steps} steps x budget), from the "
        f"base model, and evaluated like the other methods. Seeds vary the selection and the fine-tuning; the proxy "
        f"is trained once.</p>"
        + (f"<p>k-means found {len(sizes)} clusters (sizes {min(sizes)} to {max(sizes)}).</p>" if sizes else "")
        + f"<table><tr><th>subset</th>{head}</tr>{''.join(rows)}</table>"
    )
    return Section(title="S2L data selection vs random", html=text,
                   images={"Accuracy vs data budget (mean ± std over seeds)": fig}, markdown="\n".join(md) + "\n")


def accuracy_vs_budget_figure(table: dict, budgets: list[int], splits, labels, full=None):
    """One panel per split: accuracy (%) vs budget (%) per method, error bars = std over seeds.

    ``table[method][budget][split]`` is a summary (``mean``, ``std``); ``full[split]`` the full-set reference.
    """
    from sftlab.report.plots import METHOD_COLORS, new_figure, style_axes

    fig = new_figure(4.0 * len(splits) + 0.5, 3.2)
    axes = fig.subplots(1, len(splits), squeeze=False)[0]
    for ax, split in zip(axes, splits):
        top = 100 * full[split]["mean"] if full and full[split]["mean"] is not None else 0.0
        for j, method in enumerate(table):
            points = [(p, table[method][p][split]) for p in budgets if table[method][p][split]["mean"] is not None]
            top = max([top] + [100 * (s["mean"] + (s["std"] or 0)) for _, s in points])
            xs = [p + (j - (len(table) - 1) / 2) * 0.8 for p, _ in points]  # keep the error bars apart
            ax.errorbar(xs, [100 * s["mean"] for _, s in points], yerr=[100 * (s["std"] or 0) for _, s in points],
                        marker="o", capsize=3, color=METHOD_COLORS[j], label=LABELS.get(method, method))
        if full and full[split]["mean"] is not None:
            ax.axhline(100 * full[split]["mean"], color="#555555", linestyle="--", linewidth=1, label="full set")
        ax.set_title(labels.get(split, split))
        ax.set_xlabel("budget (% of the train split)")
        ax.set_xticks(budgets)
        ax.set_xlim(min(budgets) - 10, max(budgets) + 10)
        ax.set_ylim(0, max(1.0, 1.15 * top))
        style_axes(ax)
    axes[0].set_ylabel("accuracy (%)")
    axes[0].legend(frameon=False)
    return fig


def _register() -> None:
    from sftlab.experiments.runner import DemoEntry, register

    register(DemoEntry(
        "s2l", f"S2L {round(100 * HEADLINE)}%",
        "SFT on a subset chosen by S2L (arXiv 2403.07384): k-means on a proxy's loss trajectories, smallest "
        "cluster first. Headline: 30% of the train split; the S2L section has 10/30/50%.",
        lambda ctx, seed: run_budgets(ctx, "s2l", seed), section=_section_after("s2l"),
    ))
    register(DemoEntry(
        "random-subset", f"random {round(100 * HEADLINE)}%",
        "SFT on a uniformly random subset of the train split (the selection baseline), same budgets as S2L.",
        lambda ctx, seed: run_budgets(ctx, "random", seed), section=_section_after("random-subset"),
    ))


def _section_after(name: str):
    """The section, drawn once: after whichever of the two entries the demo runs last."""

    def draw(ctx):
        mine = [m for m in getattr(ctx, "selected", []) if m in ("s2l", "random-subset")]
        return section(ctx) if mine and mine[-1] == name else None

    return draw


_register()
