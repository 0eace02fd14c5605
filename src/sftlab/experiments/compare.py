"""``sftlab compare``: the demo's runner on the user's model, training set and named eval sets, over seeds.

The methods are the demo's entries that carry a ``paper_recipe`` (see :mod:`sftlab.experiments.registry`); each
trains with its paper recipe (``configs/<method>.yaml``), changed with ``--set METHOD.FIELD=VALUE``. Everything
the inputs decide is checked before any model loads (:func:`plan_compare`): one line and exit code 2.

Runs are cached by what they depend on: ``runs/<method>/<key>/seed<k>/``, where ``key`` hashes the method's
resolved settings and the fingerprints of the model and the training set; a run's evaluation lies under it in
``eval/<key>/``, keyed by the eval sets' fingerprints and the evaluation settings. A finished run is reused, a
changed setting is a new run, and an interrupted comparison resumes (from the last checkpoint of an unfinished
training run).
"""

from __future__ import annotations

import functools
import time
from dataclasses import asdict
from pathlib import Path

from .compare_context import CompareContext
from .compare_methods import STARTS_FROM_SFT, TRAINS_WITH_SFT
from .compare_options import CompareConfig
from .compare_plan import (
    ComparePlan,
    compare_entries,
    fingerprint,
    plan_compare,
)  # noqa: F401  (CompareConfig, compare_entries, plan_compare: the public names of sftlab compare)
from .context import DemoEntry
from .entries.s2l import budget_label

__all__ = [
    "CompareConfig",
    "CompareContext",
    "ComparePlan",
    "compare_entries",
    "fingerprint",
    "plan_compare",
    "run_compare",
]


def run_compare(cfg: CompareConfig) -> dict:
    """Plan (every check, nothing loaded), run the entries through the shared runner, write the report."""
    import torch

    from sftlab.console import RunView

    from .pool import RUN_THREADS, RunPool, default_workers
    from .runner import count_runs, results_table, run_entries, write_comparison

    plan = plan_compare(cfg)
    t_start = time.time()
    out = Path(cfg.output_dir)
    workers = default_workers(cfg.workers)
    torch.set_num_threads(RUN_THREADS)  # every run, here or in a worker: results independent of --workers
    make_context = functools.partial(CompareContext, cfg, plan, out)  # picklable: each worker builds its own
    ctx = make_context()
    names = [e.name for e in plan.entries]
    print(
        f"sftlab compare: {cfg.model} on {cfg.data}; eval sets {list(plan.evals)}; methods {names}; seeds {plan.seeds}; "
        f"{workers} worker(s), {RUN_THREADS} torch thread per run"
    )
    labels = {n: n for n in plan.evals}
    total = count_runs(plan.entries, plan.seeds)
    log = out / "console.log"
    with (
        RunView(total, title="sftlab compare", verbose=cfg.verbose, log=log) as view,
        RunPool(make_context, workers, log=log, verbose=cfg.verbose) as pool,
    ):
        methods, sections, timings = run_entries(
            ctx, plan.entries, plan.seeds, describe=lambda e: _describe(e, plan, cfg), view=view, pool=pool
        )
        config = {
            "compare": asdict(cfg),
            "recipes": plan.recipes,
            "settings": plan.settings,
            "fingerprints": plan.fingerprints,
        }
        notes = [*ctx.notes, *_notes(plan, cfg)]
        metrics, paths = write_comparison(
            out,
            title=f"sftlab compare: {cfg.model}",
            config=config,
            seeds=plan.seeds,
            splits=ctx.splits,
            labels=labels,
            methods=methods,
            notes=notes,
            sections=sections,
            data={"seconds": timings, "total_seconds": time.time() - t_start},
        )
    results_table(view, methods, ctx.splits, labels)
    if not cfg.verbose:
        print(f"sftlab compare: what the runs printed is in {out / 'console.log'}")
    print(
        f"sftlab compare: report at {out / 'report.html'} (metrics.json, summary.md beside it); "
        f"{time.time() - t_start:.0f} s"
    )
    return {"metrics": metrics, "paths": paths}


def _describe(entry: DemoEntry, plan: ComparePlan, cfg: CompareConfig) -> str:
    if entry.name not in plan.settings:
        return "The model as given (--model), before any fine-tuning."
    s = plan.settings[entry.name]
    paper = entry.description.split(":")[0] if ":" in entry.description else entry.label
    recipe = Path(plan.recipes[entry.name]).name
    if entry.name in TRAINS_WITH_SFT:  # its own data, then the SFT recipe
        subset = " x the subset's share of --data" if entry.name != "dart" else ""
        return f"{_data_of(entry.name, s, recipe, cfg)}; then SFT: {_sft_knobs(plan, subset)}"
    if entry.config.__name__ != "TrainConfig":  # the method's own loop: its recipe's main knobs
        start = "; from the SFT run of the same seed" if entry.name in STARTS_FROM_SFT else ""
        knobs = ", ".join(
            f"{k.replace('_', ' ')} {s[k]:g}"
            for k in ("iterations", "rounds", "rl_steps", "max_steps", "learning_rate", "rl_learning_rate", "beta")
            if isinstance(s.get(k), int | float) and not isinstance(s[k], bool)
        )
        return f"{paper.replace(' on the lab model', '')}: {recipe}, {knobs}{start}."
    return f"{paper}: {_sft_knobs(plan, '', entry.name)}"


def _sft_knobs(plan: ComparePlan, subset: str, name: str = "sft") -> str:
    """The fine-tuning recipe ``name``'s main knobs: 'sft.yaml, lr 5e-05, 1 epoch(s), batch 8 x 32.'"""
    s = plan.settings[name]
    length = f"{s['max_steps']} steps" if s.get("max_steps", -1) > 0 else f"{s.get('num_train_epochs', 1):g} epoch(s)"
    return (
        f"{Path(plan.recipes[name]).name}, lr {s.get('learning_rate', 5e-5):g}, {length}{subset}, batch "
        f"{s.get('per_device_train_batch_size', 8)} x {s.get('gradient_accumulation_steps', 1)}."
    )


def _data_of(name: str, s: dict, recipe: str, cfg: CompareConfig) -> str:
    """What S2L, random-subset and DART fine-tune on, in words."""
    if name == "random-subset":
        return f"{budget_label(s['budget'])} of --data drawn uniformly at random (S2L's baseline, its budget)"
    if name == "s2l":
        return (
            f"S2L (arXiv 2403.07384): {budget_label(s['budget'])} of --data, by k-means (K = {s['n_clusters']}) on "
            f"the loss trajectories of the proxy {cfg.proxy_model} over {s['n_checkpoints']} checkpoints ({recipe}), "
            "smallest cluster first"
        )
    mapper = cfg.mapper_model or f"a copy of --model ({cfg.model})"
    records = f"the first {s['max_examples']} records of --data" if s.get("max_examples") else "--data"
    return (
        f"DART (arXiv 2605.26924, sftlab's design): the mapper, {mapper}, trained with GRPO on DART's reward (rl "
        f"steps {s['rl_steps']}, lr {s['rl_learning_rate']:g}), rewrites {records} into --model's own style once for "
        f"every seed (best of {s['n_samples']}, the original where no rewrite passes; {recipe})"
    )


def _notes(plan: ComparePlan, cfg: CompareConfig) -> list[str]:
    notes = [
        "Eval sets: " + ", ".join(f"{n} = {s}" for n, s in plan.evals.items()) + ". Greedy decoding, "
        f"{cfg.max_new_tokens} new tokens, answers compared in '{cfg.mode}' mode."
    ]
    for name, n in plan.skipped.items():
        if n:
            notes.append(f"{name}: {n} records without a reference answer were skipped (not scored, not in n).")
    if len(plan.seeds) >= 2:
        notes.append(
            f"Intervals: 95% Student-t over {len(plan.seeds)} seeds (t with {len(plan.seeds) - 1} degrees of "
            "freedom); they cover seed noise only, not the sampling of the eval problems."
        )
    return notes
