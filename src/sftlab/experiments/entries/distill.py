"""Math self-distillation on the lab, for ``sftlab demo``.

The lab model samples several solutions per train-split question; the ones
whose written equations are all right and whose final answer verifies (exact
duplicates removed) become its SFT data; repeat. Only the reference *answers*
of the train split are used, never its expert-style solutions, so this entry
shows what a model gains from its own checked reasoning (arXiv 2512.09329's
recipe with a verifier as the main filter).
"""

from __future__ import annotations

import time

from sftlab.experiments.context import DemoEntry, EntryContext
from sftlab.methods.distill.loop import DistillConfig, _model_path, run_distill
from sftlab.report import Section, Table


def distill_config(ctx: EntryContext, entry: DemoEntry, seed: int) -> DistillConfig:
    """Its recipe (the demo: configs/lab/distill.yaml, with the demo's batch size; compare: the paper recipe's) on the
    context's model and training questions; the runner evaluates the last model itself."""
    recipe = ctx.recipe(entry.recipe, DistillConfig)
    return DistillConfig(**{
        **recipe.options, "model": ctx.model, "prompts": ctx.train_data,
        "batch_size": recipe.options.get("batch_size", ctx.batch_size), "evaluate": False,
        "output_dir": str(ctx.run_dir(entry.name, seed) / "rounds"),
        "seed": seed, "progress": False,
    })  # fmt: skip


def run_entry(ctx: EntryContext, entry: DemoEntry, seed: int) -> dict:
    """Run the rounds (resumable), then the demo's standard evaluation of the last model; one run dict."""
    t0 = time.time()
    result = ctx.run_method(entry.name, seed, run_distill, distill_config(ctx, entry, seed))
    rounds = result["sections"]["distill"]["rounds"]
    model_dir = _model_path(rounds[-1]["model"], ctx.run_dir(entry.name, seed) / "rounds")
    run = ctx.evaluate(entry.name, seed, model_dir)
    curve, offset = {"step": [], "objective": []}, 0
    for m in rounds:
        c = (m.get("train") or {}).get("curve") or {"step": [], "objective": []}
        curve["step"] += [offset + st for st in c["step"]]
        curve["objective"] += c["objective"]
        offset += (m.get("train") or {}).get("steps") or 0
    run.update(
        seed=seed, curve=curve, wall_seconds=time.time() - t0,
        train_seconds=sum((m.get("timing") or {}).get("train_seconds", 0.0) for m in rounds),
        rounds=[{k: m[k] for k in ("round", "n_samples", "n_survivors", "sample_accuracy", "filters")} for m in rounds],
    )  # fmt: skip
    return run


TABLE_COLUMNS = ["round", "samples", "sample accuracy", "filters (kept/seen, cheapest first)", "survivors"]


def section(ctx: EntryContext, entries: list[DemoEntry]) -> Section | None:
    """Per round (first seed): samples, survivors, and each filter's kept/seen."""
    (entry,) = entries
    runs = ctx.results.get(entry.name, {}).get("runs") or []
    if not runs or not runs[0].get("rounds"):
        return None
    rows = []
    for m in runs[0]["rounds"]:
        filters = ", ".join(f"{s['filter']} {s['kept']}/{s['seen']}" for s in m["filters"])
        acc = "" if m["sample_accuracy"] is None else f"{m['sample_accuracy']:.3f}"
        rows.append([m["round"], m["n_samples"], acc, filters, m["n_survivors"]])
    c = ctx.recipe(entry.recipe, DistillConfig).options
    text = (
        f"{c['rounds']} round(s) of: sample {c['n']} solutions at temperature {c['temperature']:g} for "
        f"{c['max_prompts']} train questions; keep those whose equations are all right and whose answer verifies "
        f"(exact duplicates removed); fine-tune {c['epochs']:g} epochs at lr {c['learning_rate']:g}. "
        "sample accuracy: share of a round's samples that verify, before filtering."
    )
    return Section("Self-distillation rounds", paragraphs=[text], tables=[Table(TABLE_COLUMNS, rows)])
