"""Math self-distillation on the lab, for ``sftlab demo``.

The lab model samples several solutions per train-split question; the ones
whose written equations are all right and whose final answer verifies (exact
duplicates removed) become its SFT data; repeat. Only the reference *answers*
of the train split are used, never its expert-style solutions, so this entry
shows what a model gains from its own checked reasoning (arXiv 2512.09329's
recipe with a verifier as the main filter).
"""

from __future__ import annotations

import importlib.util
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
    """Run the rounds (resumable), then the demo's standard evaluation of the last model; one run dict.
    ``entry.options["pack"] == "protein"``: :func:`run_protein_entry`."""
    if entry.options.get("pack") == "protein":
        return run_protein_entry(ctx, entry, seed)
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


def protein_unavailable() -> str | None:
    """Why the protein pack cannot run here (its [protein] extra is missing), or None."""
    if importlib.util.find_spec("parasail") is None:
        return "the protein pack needs the [protein] extra (parasail), which is not installed here"
    return None


def run_protein_entry(ctx: EntryContext, entry: DemoEntry, seed: int) -> dict:
    """The protein pack's rounds (its lab recipe; the lab protein LM is trained on first use inside the run folder).
    The model is a protein LM, so there is no math accuracy: the run carries each round's pass rate (samples that
    pass every filter / samples). Where the pack cannot run, a run with ``skipped`` and no accuracy."""
    t0 = time.time()
    reason = protein_unavailable()
    if reason:
        ctx.add_note(f"{entry.label}: skipped: {reason}.")
        return {"seed": seed, "accuracy": {}, "n": {}, "curve": {}, "train_seconds": 0.0, "skipped": reason}
    recipe = ctx.recipe(entry.recipe, DistillConfig)
    cfg = DistillConfig(**{**recipe.options, "evaluate": False, "seed": seed, "progress": False,
                           "output_dir": str(ctx.run_dir(entry.name, seed) / "rounds")})  # fmt: skip
    rounds = ctx.run_method(entry.name, seed, run_distill, cfg)["sections"]["distill"]["rounds"]
    return {
        "seed": seed, "accuracy": {}, "n": {}, "curve": {}, "wall_seconds": time.time() - t0,
        "train_seconds": sum((m.get("timing") or {}).get("train_seconds", 0.0) for m in rounds),
        "rounds": [{"round": m["round"], "n_samples": m["n_samples"], "n_survivors": m["n_survivors"],
                    "pass_rate": m["n_survivors"] / max(1, m["n_samples"]), "filters": m["filters"]} for m in rounds],
    }  # fmt: skip


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
