"""The core entries: the base model, and SFT/DFT/ASFT (the demo: with the lab's SFT recipe; ``sftlab compare``: with
each method's paper recipe)."""

from __future__ import annotations

from sftlab.experiments.context import DemoEntry, EntryContext


def evaluate_base(ctx: EntryContext, entry: DemoEntry, seed: int | None) -> dict:
    """The starting model (the lab's pretrained one, or compare's --model), evaluated once (greedy decoding: no seed)."""
    run = ctx.evaluate(entry.name, None, ctx.model)
    run.update(seed=0, train_seconds=0.0, curve={})
    return run


def train_objective(ctx: EntryContext, entry: DemoEntry, seed: int) -> dict:
    """Fine-tune with ``entry.options["objective"]`` on the training set, then evaluate."""
    objective = entry.options["objective"]
    extra = {}
    if objective == "nll" and ctx.keep_proxy_checkpoints:  # the demo's S2L reads them as its proxy's loss trajectory
        extra = {"save_steps": max(1, ctx.steps // 4), "save_total_limit": None}
    return ctx.train_and_evaluate(entry.name, seed, objective=objective, **extra)
