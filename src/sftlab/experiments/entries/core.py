"""The core entries: the base model, and SFT/DFT/ASFT (the demo: with the lab's SFT recipe; ``sftlab compare``: with
each method's paper recipe)."""

from __future__ import annotations

from sftlab.experiments.context import DemoEntry, EntryContext
from sftlab.experiments.scenarios import scenario_data


def evaluate_base(ctx: EntryContext, entry: DemoEntry, seed: int | None) -> dict:
    """The starting model (the lab's pretrained one, or compare's --model), evaluated once (greedy decoding: no seed)."""
    run = ctx.evaluate(entry.name, None, ctx.model)
    run.update(seed=0, train_seconds=0.0, curve={})
    return run


def train_objective(ctx: EntryContext, entry: DemoEntry, seed: int) -> dict:
    """Fine-tune with ``entry.options["objective"]`` on the training set (or on scenario data
    ``entry.options["data"]``, :mod:`sftlab.experiments.scenarios`), then evaluate."""
    objective = entry.options["objective"]
    extra = {"data": scenario_data(ctx, entry.options["data"])} if "data" in entry.options else {}
    if objective == "nll" and ctx.keep_proxy_checkpoints:  # the demo's S2L reads them as its proxy's loss trajectory
        extra |= {"save_steps": max(1, ctx.steps // 4), "save_total_limit": None}
    return ctx.train_and_evaluate(entry.name, seed, objective=objective, **extra)
