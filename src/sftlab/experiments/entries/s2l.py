"""S2L vs random data selection on the lab, as ``sftlab demo`` entries.

One proxy (the lab model fine-tuned on the whole expert train split, as the
demo's SFT run is, keeping a few evenly spaced checkpoints) is trained once
and its loss trajectories recorded once. Then, per seed and budget, S2L and
random each pick a subset and the lab model is fine-tuned on it for the same
number of epochs as the full-set SFT run (steps = the demo's steps x budget,
the protocol of the S2L paper's subset runs) and evaluated in-domain and
out-of-domain. The demo's SFT run on the whole split is the reference.

Two entries, ``s2l`` and ``random-subset``, with one lab recipe
(``configs/lab/s2l.yaml``): each headline run is the 30% budget, and every run
carries ``by_budget`` (the recipe's ``demo.budgets``: 10/30/50%, or 30% alone
with ``--quick``) for the section's accuracy-vs-budget plot.

In ``sftlab compare`` (no lab) the same two entries run on the user's inputs (:func:`run_subset`): the proxy is
``--proxy-model``, fine-tuned on ``--data`` with the paper recipe's proxy settings (``configs/select_s2l.yaml``,
:func:`sftlab.methods.s2l.run_select`'s own proxy run) once for every seed and both entries; each seed selects the
recipe's one budget and fine-tunes ``--model`` on it with the SFT recipe.
"""

from __future__ import annotations

import json
import shutil
import time

from sftlab.experiments.context import DemoEntry, EntryContext
from sftlab.experiments.scenarios import scenario_data
from sftlab.methods.s2l.select import SelectConfig, run_select
from sftlab.report import Section, Table, format_accuracy, summarize_runs

HEADLINE = 0.3
LABELS = {"s2l": "S2L", "random": "random"}


def proxy_checkpoints(
    ctx: EntryContext, n_checkpoints: int, *, full: str = "sft", name: str = "s2l-proxy", data: str | None = None
) -> str:
    """The proxy: the demo's SFT recipe on the whole train split (or ``data``) with ``n_checkpoints`` evenly spaced
    checkpoints.

    The demo's own SFT run on that data (entry ``full``, seed 0) serves when it kept that many checkpoints;
    otherwise a proxy run ``name`` is trained once (cached by the demo).
    """
    sft_run = ctx.run_dir(full, 0) / "model"
    if len(list(sft_run.glob("checkpoint-*"))) >= n_checkpoints:
        return str(sft_run)
    save_steps = max(1, ctx.steps // n_checkpoints)
    summary = ctx.train(name, 0, data=data, max_steps=save_steps * n_checkpoints, save_steps=save_steps)
    return summary["output_dir"]


def _pool(ctx: EntryContext, entry: DemoEntry) -> tuple[str, str, str]:
    """``(data, run name prefix, proxy run name)`` of the entry: the lab's train split, or with
    ``entry.options["data"]`` a scenario's pool (:mod:`sftlab.experiments.scenarios`), its runs named
    ``<method>-<pool>-<pct>``."""
    method, pool = entry.options["method"], entry.options.get("data")
    if not pool:
        return str(ctx.lab.data["train"]), method, "s2l-proxy"
    return scenario_data(ctx, pool), f"{method}-{pool}", f"s2l-proxy-{pool}"


def select(ctx: EntryContext, entry: DemoEntry, seed: int, budget: float) -> tuple[dict, str]:
    """The subset ``entry.options["method"]`` picks at ``budget`` for ``seed`` (cached): its manifest and path.
    S2L's first selection trains the proxy (unless the SFT run serves) and records its loss trajectories, which
    every later selection reuses."""
    method = entry.options["method"]
    options = {**ctx.recipe(entry.recipe, SelectConfig, entry.name).options, "method": method}
    data, prefix, proxy_name = _pool(ctx, entry)
    sel_dir = ctx.run_dir(f"{prefix}-{round(100 * budget)}", seed) / "selection"
    if (sel_dir / "manifest.json").is_file() and not ctx.cfg.fresh:
        return json.loads((sel_dir / "manifest.json").read_text(encoding="utf-8")), str(sel_dir / "selected.jsonl")
    proxy = None
    if method == "s2l":
        proxy = proxy_checkpoints(ctx, options["n_checkpoints"], full=entry.options.get("full", "sft"),
                                  name=proxy_name, data=data if entry.options.get("data") else None)  # fmt: skip
    selection = run_select(SelectConfig(**{
        **options, "budget": str(float(budget)), "data": data,
        "proxy_model": ctx.proxy_model, "proxy_checkpoints": proxy, "output_dir": str(sel_dir),
        "work_dir": str(ctx.run_dir(proxy_name, 0) / "selection"), "seed": seed, "progress": False,
    }))  # fmt: skip
    return selection, selection["selected_path"]


def prepare_proxy(ctx: EntryContext, entry: DemoEntry) -> None:
    """What S2L's seeds share, once before they run (the entry's ``prepare``): the proxy and its loss trajectories,
    made by seed 0's selection at the first budget (which seed 0 then reuses)."""
    if ctx.lab is None:  # compare: --fresh trains the proxy again (here, once; the seeds' selections reuse it)
        if ctx.cfg.fresh:
            shutil.rmtree(ctx.shared_dir("s2l-proxy"), ignore_errors=True)
        select_subset(ctx, entry, 0)
        return
    select(ctx, entry, 0, ctx.recipe(entry.recipe, SelectConfig, entry.name).demo["budgets"][0])


def run_entry(ctx: EntryContext, entry: DemoEntry, seed: int) -> dict:
    """The entry's run: every budget of the lab recipe on the lab (:func:`run_budgets`), the paper recipe's budget on
    compare's inputs (:func:`run_subset`)."""
    return run_budgets(ctx, entry, seed) if ctx.lab is not None else run_subset(ctx, entry, seed)


def run_budgets(ctx: EntryContext, entry: DemoEntry, seed: int) -> dict:
    """Select with ``entry.options["method"]`` at each budget of the recipe, fine-tune, evaluate; the headline run
    with ``by_budget`` inside."""
    _, prefix, _ = _pool(ctx, entry)
    by_budget, headline = {}, None
    for budget in ctx.recipe(entry.recipe, SelectConfig, entry.name).demo["budgets"]:
        pct = round(100 * budget)
        name = f"{prefix}-{pct}"
        t0 = time.time()
        selection, selected = select(ctx, entry, seed, budget)
        select_seconds = time.time() - t0
        run = ctx.train_and_evaluate(name, seed, data=selected, max_steps=max(1, round(ctx.steps * budget)))
        by_budget[str(pct)] = budget_row(run, selection, select_seconds)
        if budget == HEADLINE or headline is None:
            headline = run
    return {**headline, "by_budget": by_budget}


# -- sftlab compare: the user's data, proxy and target ----------------------------------------------


def budget_label(budget) -> str:
    """How a budget reads in the report: ``0.11`` -> ``11%``, ``500`` -> ``500 records``."""
    text = str(budget).strip()
    return f"{100 * float(text):g}%" if any(c in text for c in ".eE") else f"{int(text)} records"


def select_subset(ctx: EntryContext, entry: DemoEntry, seed: int) -> tuple[dict, str]:
    """compare: the subset ``entry.options["method"]`` picks from --data at the recipe's budget for ``seed`` (cached
    in the run's ``selection/``): its manifest and path.

    S2L's first selection fine-tunes --proxy-model on --data (the recipe's proxy settings, seeded by its ``seed``
    whatever the run's) and records the loss trajectories in the shared step ``s2l-proxy``, which every later
    selection reuses; the proxy's checkpoints are deleted once their losses are on disk. Random reads no proxy.
    """
    method = entry.options["method"]
    sel_dir = ctx.run_dir(entry.name, seed) / "selection"
    if (sel_dir / "manifest.json").is_file() and not ctx.cfg.fresh:
        return json.loads((sel_dir / "manifest.json").read_text(encoding="utf-8")), str(sel_dir / "selected.jsonl")
    options = ctx.recipe(entry.recipe, SelectConfig, entry.name).options
    work = ctx.shared_dir("s2l-proxy") if method == "s2l" else sel_dir
    proxy_seed = options["seed"] if options["proxy_seed"] is None else options["proxy_seed"]  # the same for every run
    selection = run_select(SelectConfig(**{
        **options, "method": method, "budget": str(options["budget"]), "data": ctx.train_data,
        "proxy_model": ctx.proxy_model, "proxy_seed": proxy_seed, "output_dir": str(sel_dir), "work_dir": str(work),
        "seed": seed, "progress": False,
    }))  # fmt: skip
    if method == "s2l":  # the trajectories are recorded: the proxy's checkpoints are not read again
        shutil.rmtree(work / "proxy", ignore_errors=True)
    return selection, selection["selected_path"]


def run_subset(ctx: EntryContext, entry: DemoEntry, seed: int) -> dict:
    """compare: select (:func:`select_subset`), fine-tune --model on the subset with the SFT recipe for the same
    number of epochs as on the whole set (a recipe's ``max_steps`` scaled by the subset's share), evaluate; the run
    carries ``by_budget`` for the section."""
    t0 = time.time()
    selection, selected = select_subset(ctx, entry, seed)
    select_seconds = time.time() - t0
    share = selection["n_selected"] / selection["n_total"]
    steps = {"max_steps": max(1, round(ctx.steps * share))} if ctx.steps > 0 else {}
    run = ctx.train_and_evaluate(entry.name, seed, data=selected, **steps)
    return {**run, "by_budget": {str(round(100 * share)): budget_row(run, selection, select_seconds)}}


def budget_row(run: dict, selection: dict, select_seconds: float) -> dict:
    """One budget's figures in a run's ``by_budget`` (what the S2L section tabulates)."""
    return {
        "accuracy": run["accuracy"],
        "n": run["n"],
        "n_selected": selection["n_selected"],
        "train_seconds": run["train_seconds"],
        "select_seconds": round(select_seconds, 2),
        "cluster_sizes": selection.get("cluster_sizes"),
    }


def budget_table(ctx: EntryContext, entries: list[DemoEntry], full: str = "sft") -> tuple[dict, list[int], dict | None]:
    """``table[method][budget][split]``: accuracy summaries over seeds; the budgets; the full-set SFT (entry
    ``full``) summary."""
    runs = {e.options["method"]: ctx.results.get(e.name, {}).get("runs") or [] for e in entries}
    budgets = sorted({int(p) for rs in runs.values() for r in rs for p in r.get("by_budget", {})})
    table = {
        m: {
            p: summarize_runs([r["by_budget"][str(p)] for r in rs if str(p) in r.get("by_budget", {})], ctx.splits)
            for p in budgets
        }
        for m, rs in runs.items()
    }
    full_runs = ctx.results.get(full, {}).get("runs") or []
    return table, budgets, (summarize_runs(full_runs, ctx.splits) if full_runs else None)


def section(ctx: EntryContext, entries: list[DemoEntry]) -> Section | None:
    """Accuracy vs budget for S2L and random (mean ± std over seeds), with the full-set SFT run as reference."""
    if not any(ctx.results.get(e.name, {}).get("runs") for e in entries):
        return None
    splits = list(ctx.splits)
    labels = {"test_id": "in-domain", "test_ood": "out-of-domain"}
    table, budgets, full = budget_table(ctx, entries)
    fig = accuracy_vs_budget_figure(table, budgets, splits, labels, full)
    rows = [[f"{LABELS[m]} {p}%", *[format_accuracy(table[m][p][s]) for s in splits]] for p in budgets for m in table]
    if full:
        rows.append(["full set (SFT)", *[format_accuracy(full[s]) for s in splits]])
    s2l_runs = [
        r for e in entries if e.options["method"] == "s2l" for r in ctx.results.get(e.name, {}).get("runs") or []
    ]
    sizes = next((r["by_budget"][p].get("cluster_sizes") for r in s2l_runs for p in r.get("by_budget", {})), None)
    paragraphs = [_lab_text(ctx, entries) if ctx.lab is not None else _compare_text(ctx, entries)]
    if sizes:
        paragraphs.append(f"k-means found {len(sizes)} clusters (sizes {min(sizes)} to {max(sizes)}).")
    return Section(
        title="S2L data selection vs random",
        paragraphs=paragraphs,
        tables=[Table(["subset", *[labels.get(s, s) for s in splits]], rows)],
        images={"Accuracy vs data budget (mean ± std over seeds)": fig},
    )


def _lab_text(ctx: EntryContext, entries: list[DemoEntry]) -> str:
    n_checkpoints = ctx.recipe(entries[0].recipe, SelectConfig, entries[0].name).options["n_checkpoints"]
    return (
        f"S2L (arXiv 2403.07384) fine-tunes the lab model on the whole train split as a proxy (the demo's SFT "
        f"recipe, {n_checkpoints} evenly spaced checkpoints), records each example's mean completion loss "
        f"at each checkpoint, clusters these trajectories with k-means and spends the budget smallest cluster "
        f"first, uniformly at random within a cluster. Random picks uniformly from the whole split. Each subset is "
        f"fine-tuned for the same number of epochs as the full-set SFT run ({ctx.steps} steps x budget), from the "
        f"base model, and evaluated like the other methods. Seeds vary the selection and the fine-tuning; the proxy "
        f"is trained once."
    )


def _compare_text(ctx: EntryContext, entries: list[DemoEntry]) -> str:
    methods = [e.options["method"] for e in entries]
    random = "Random draws the same number uniformly from --data. " if "random" in methods else ""
    if "s2l" not in methods:
        return (f"{random}The subset fine-tunes --model with the SFT recipe for the same number of epochs as the "
                "full-set SFT run; seeds vary the draw and the fine-tuning.")  # fmt: skip
    o = ctx.recipe(entries[0].recipe, SelectConfig, "s2l").options
    return (
        f"S2L (arXiv 2403.07384) fine-tunes the proxy (--proxy-model) on --data with the recipe's proxy settings "
        f"({o['n_checkpoints']} evenly spaced checkpoints), records each record's mean completion loss at each "
        f"checkpoint, clusters these trajectories with k-means (K = {o['n_clusters']}) and spends the budget, "
        f"{budget_label(o['budget'])}, smallest cluster first, uniformly at random within a cluster. {random}Each "
        "subset fine-tunes --model with the SFT recipe for the same number of epochs as the full-set SFT run and is "
        "evaluated like the other methods. Seeds vary the selection and the fine-tuning; the proxy is trained once."
    )


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
            ax.errorbar(
                xs,
                [100 * s["mean"] for _, s in points],
                yerr=[100 * (s["std"] or 0) for _, s in points],
                marker="o",
                capsize=3,
                color=METHOD_COLORS[j],
                label=LABELS.get(method, method),
            )
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
