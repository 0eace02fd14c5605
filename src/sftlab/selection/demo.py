"""S2L vs random selection on the lab, for ``sftlab demo``.

One proxy (the lab model) is fine-tuned on the lab's expert train split and
its loss trajectories are recorded once; then, for every seed and budget,
S2L and random each pick a subset, the demo fine-tunes the lab model on it and
evaluates in-domain and out-of-domain. The full-set SFT run of the demo, when
there is one, is the reference line.
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass
from pathlib import Path

from .select import LAB_PROXY_LEARNING_RATE, SelectConfig, run_select


@dataclass
class S2LDemoSettings:
    """How much S2L work the demo does. The proxy is shortened from the paper's 3 epochs / 12 checkpoints to fit."""

    budgets: tuple[float, ...] = (0.1, 0.3, 0.5)
    n_checkpoints: int = 4
    proxy_epochs: float = 1.0
    n_clusters: int = 100
    max_length: int = 256

    @classmethod
    def quick(cls) -> "S2LDemoSettings":
        return cls(budgets=(0.3,), n_checkpoints=3, proxy_epochs=0.5, n_clusters=30)


def demo_entry(ctx, settings: S2LDemoSettings | None = None) -> dict:
    """Run S2L vs random at each budget and seed; return methods, a report section and timings.

    ``ctx`` provides:

    - ``output_dir`` (path): this entry writes under ``output_dir/s2l/``;
    - ``quick`` (bool) and ``seeds`` (list of ints);
    - ``lab``: the lab artifacts (``model_dir``, ``data["train"]``);
    - ``train_eval(data_path, *, seed, name) -> run``: fine-tune the lab model on
      a data file and evaluate it, returning a run dict of the report's metrics
      (``seed``, ``accuracy`` per split, ``n``, ``train_seconds``, ...);
    - optionally ``splits`` (split keys), ``split_labels`` and ``full_runs`` (the
      demo's runs of SFT on the whole train split, the reference).

    Returns ``{"methods": {key: {"label", "description", "runs"}}, "sections":
    [Section], "seconds": {...}}``; method keys are ``s2l@10%``, ``random@10%``, ...
    """
    settings = settings or (S2LDemoSettings.quick() if ctx.quick else S2LDemoSettings())
    root = Path(ctx.output_dir) / "s2l"
    seeds = list(ctx.seeds)
    methods: dict = {}
    seconds = {"selection": 0.0, "train_eval": 0.0}
    manifests = {}
    for budget in settings.budgets:
        for method in ("s2l", "random"):
            key = f"{method}@{round(100 * budget)}%"
            label = f"{'S2L' if method == 's2l' else 'random'} {round(100 * budget)}%"
            methods[key] = {"label": label, "description": _describe(method, budget), "runs": []}
            for seed in seeds:
                t0 = time.time()
                result = run_select(SelectConfig(
                    method=method, budget=str(float(budget)), data=str(ctx.lab.data["train"]),
                    proxy_model=str(ctx.lab.model_dir), output_dir=str(root / f"{method}-{round(100 * budget)}-seed{seed}"),
                    work_dir=str(root / "work"), n_checkpoints=settings.n_checkpoints, n_clusters=settings.n_clusters,
                    proxy_epochs=settings.proxy_epochs, proxy_learning_rate=LAB_PROXY_LEARNING_RATE,
                    max_length=settings.max_length, seed=seed, proxy_seed=seeds[0], progress=False,
                ))
                seconds["selection"] += time.time() - t0
                manifests[(key, seed)] = result
                t0 = time.time()
                run = ctx.train_eval(result["selected_path"], seed=seed, name=key)
                seconds["train_eval"] += time.time() - t0
                methods[key]["runs"].append({**run, "selected": result["n_selected"]})
    section = _section(ctx, settings, methods, manifests, seconds)
    return {"methods": methods, "sections": [section], "seconds": {k: round(v, 1) for k, v in seconds.items()}}


def _describe(method: str, budget: float) -> str:
    if method == "s2l":
        return f"SFT on {round(100 * budget)}% of the train split chosen by S2L (k-means on proxy loss trajectories)."
    return f"SFT on {round(100 * budget)}% of the train split chosen uniformly at random."


def _section(ctx, settings, methods, manifests, seconds):
    from ..report import Section, format_accuracy, summarize_runs

    splits = list(getattr(ctx, "splits", None) or ["test_id", "test_ood"])
    labels = dict(getattr(ctx, "split_labels", None) or {"test_id": "in-domain", "test_ood": "out-of-domain"})
    full = getattr(ctx, "full_runs", None)
    fig = accuracy_vs_budget_figure(methods, settings.budgets, splits, labels, full)
    sizes = next((m["cluster_sizes"] for (k, _s), m in manifests.items() if k.startswith("s2l")), None)
    rows = []
    for key, m in methods.items():
        summary = summarize_runs(m["runs"], splits)
        cells = "".join(f"<td>{format_accuracy(summary[s])}</td>" for s in splits)
        rows.append(f"<tr><td>{html.escape(m['label'])}</td>{cells}</tr>")
    head = "".join(f"<th>{html.escape(labels.get(s, s))}</th>" for s in splits)
    cluster_note = ""
    if sizes:
        cluster_note = (f"<p>k-means found {len(sizes)} clusters of the {sum(sizes)} trajectories "
                        f"(sizes {min(sizes)} to {max(sizes)}).</p>")
    text = (
        f"<p>S2L (arXiv 2403.07384) fine-tunes the lab model as a proxy on the whole train split for "
        f"{settings.proxy_epochs:g} epoch(s), records each example's loss at {settings.n_checkpoints} evenly spaced "
        f"checkpoints, clusters the trajectories (K = {settings.n_clusters}) and spends the budget smallest cluster "
        f"first. Each subset is then used for SFT from the base model, like the full-set run. Seeds: {len(ctx.seeds)}; "
        f"selection took {seconds['selection']:.0f} s in all, SFT + evaluation {seconds['train_eval']:.0f} s.</p>"
        f"{cluster_note}<table><tr><th>subset</th>{head}</tr>{''.join(rows)}</table>"
    )
    md = "| subset | " + " | ".join(labels.get(s, s) for s in splits) + " |\n|---|" + "---|" * len(splits) + "\n"
    for m in methods.values():
        summary = summarize_runs(m["runs"], splits)
        md += f"| {m['label']} | " + " | ".join(format_accuracy(summary[s]) for s in splits) + " |\n"
    return Section(title="S2L data selection vs random", html=text,
                   images={"Accuracy vs data budget (mean ± std over seeds)": fig}, markdown=md)


def accuracy_vs_budget_figure(methods: dict, budgets, splits, labels, full_runs=None):
    """One panel per split: accuracy (%) vs budget for S2L and random, error bars = std over seeds."""
    from ..report import summarize_runs
    from ..report.plots import METHOD_COLORS, new_figure, style_axes

    fig = new_figure(4.0 * len(splits) + 0.5, 3.2)
    axes = fig.subplots(1, len(splits), squeeze=False)[0]
    xs = [100 * b for b in budgets]
    for ax, split in zip(axes, splits):
        for j, method in enumerate(("s2l", "random")):
            summaries = [summarize_runs(methods[f"{method}@{round(100 * b)}%"]["runs"], [split])[split] for b in budgets]
            means = [100 * (s["mean"] or 0.0) for s in summaries]
            stds = [100 * (s["std"] or 0.0) for s in summaries]
            dodge = [x + (j - 0.5) * 0.8 for x in xs]  # keep the two methods' error bars apart
            ax.errorbar(dodge, means, yerr=stds, marker="o", capsize=3, color=METHOD_COLORS[j],
                        label="S2L" if method == "s2l" else "random")
        if full_runs:
            s = summarize_runs(full_runs, [split])[split]
            if s["mean"] is not None:
                ax.axhline(100 * s["mean"], color="#555555", linestyle="--", linewidth=1, label="full set")
        ax.set_title(labels.get(split, split))
        ax.set_xlabel("budget (% of the train split)")
        ax.set_xticks(xs)
        style_axes(ax)
    axes[0].set_ylabel("accuracy (%)")
    axes[0].legend(frameon=False)
    return fig

