"""The core entries of ``sftlab demo``: the base model, and SFT/DFT/ASFT with the lab's SFT recipe."""

from __future__ import annotations

from sftlab.experiments.context import DemoEntry, EntryContext


def evaluate_base(ctx: EntryContext, entry: DemoEntry, seed: int | None) -> dict:
    """The lab's pretrained model, evaluated once (greedy decoding: no seed)."""
    run = ctx.evaluate(entry.name, None, str(ctx.lab.model_dir))
    run.update(seed=0, train_seconds=0.0, curve={})
    return run


def train_objective(ctx: EntryContext, entry: DemoEntry, seed: int) -> dict:
    """Fine-tune with ``entry.options["objective"]`` on the expert-style train split, then evaluate."""
    objective = entry.options["objective"]
    extra = {}
    if objective == "nll":  # S2L reuses these evenly spaced checkpoints as its proxy's loss trajectory
        extra = {"save_steps": max(1, ctx.steps // 4), "save_total_limit": None}
    return ctx.train_and_evaluate(entry.name, seed, objective=objective, **extra)
