"""RL in its regime, on the lab: the careless lab variant, for ``sftlab demo`` (docs/lab.md, "RL in its regime").

On the default lab the base model's greedy answer beats its own majority vote, so GRPO has nothing to sharpen
(docs/dart.md, "Where the headroom is"). The RL papers start from base models whose samples already hold answers
their greedy decoding misses. The careless variant builds that regime from the data alone: the same seed, problems
and model as the default lab, but :data:`CARELESS_FRACTION` of the native pretraining solutions skip the last step
and state the value before it (``LabConfig.careless_fraction``). The base model then learns both habits; the
careless one is its mode, so greedy decoding skips the last step while its samples finish the chain 40% of the time.

* ``base-careless``: that base model, greedy and avg@k (k samples at temperature 1), once.
* ``grpo-careless``: GRPO with the verifier's 0/1 reward on it, on the train questions (the recipe
  ``configs/lab/rl_careless.yaml``: the settings the dev search on the default lab chose, docs/dart.md run B).
* ``nft-careless`` / ``rs-sft-careless``: NFT, and NFT without its negative term (rejection-sampling SFT), from the
  same base model at GRPO's budget (``configs/lab/nft_careless.yaml``): NFT's claim in RL's regime.

Both are evaluated on the default lab's test sets (the variant draws the same test problems). Fixed, with the
fraction and the recipe, before any RL result on the variant was seen.
"""

from __future__ import annotations

import time

from sftlab.experiments.context import DemoEntry, EntryContext
from sftlab.methods.dart.config import DartConfig
from sftlab.methods.dart.run import run_dart
from sftlab.report import Section, Table, format_accuracy, summarize_runs

CARELESS_FRACTION = 0.6  # above 0.5: the careless habit is the base model's mode, the full chain a minority
EVAL_K = 4  # samples per test problem for avg@k (temperature 1)


def careless_config(config: dict):
    """The careless variant of the lab config ``config`` (a ``LabConfig.to_dict()``); it ships for the default."""
    from sftlab.lab import LabConfig

    return LabConfig(**{**config, "careless_fraction": CARELESS_FRACTION})


def careless_lab(ctx: EntryContext, entry: DemoEntry | None = None):
    """The careless lab variant (installed or built once and cached; the ``prepare`` of the entries that use it)."""
    from sftlab.lab import ensure_lab

    return ensure_lab(careless_config(ctx.lab.info["config"]), cache_dir=ctx.cfg.cache_dir, progress=False)


def run_base_careless(ctx: EntryContext, entry: DemoEntry, seed: int | None) -> dict:
    """The variant's base model: greedy accuracy and avg@k / pass@k, once (sampling seed 0)."""
    run = ctx.evaluate(entry.name, None, str(careless_lab(ctx).model_dir), k=EVAL_K)
    run.update(seed=0, train_seconds=0.0, curve={})
    return run


def run_grpo_careless(ctx: EntryContext, entry: DemoEntry, seed: int) -> dict:
    """GRPO with the correctness reward on the variant's base model (the entry's recipe), then greedy and avg@k."""
    lab = careless_lab(ctx)
    t0 = time.time()
    recipe = ctx.recipe(entry.recipe, DartConfig, entry.name)
    cfg = DartConfig(**{
        **recipe.options, "method": "direct_rl", "model": str(lab.model_dir), "data": str(lab.data["train"]),
        "output_dir": str(ctx.run_dir(entry.name, seed) / "rl"), "save_steps": 10**9, "seed": seed, "progress": False,
    })  # fmt: skip
    out = ctx.run_method(entry.name, seed, run_dart, cfg)
    run = ctx.evaluate(entry.name, seed, out["model"], k=EVAL_K)
    run.update(
        seed=seed, train_seconds=out["rl"]["train_seconds"], curve={}, wall_seconds=time.time() - t0, rl=out["rl"]
    )
    return run


def run_nft_careless(ctx: EntryContext, entry: DemoEntry, seed: int) -> dict:
    """NFT (or, with the entry's options, rejection-sampling SFT) from the variant's base model, greedy and avg@k."""
    from sftlab.experiments.entries.nft import run_nft_entry

    lab = careless_lab(ctx)
    return run_nft_entry(ctx, entry, seed, model=str(lab.model_dir), data=str(lab.data["train"]), k=EVAL_K)


def section(ctx: EntryContext, entries: list[DemoEntry]) -> Section | None:
    """Greedy and avg@k of the variant's base model and of GRPO from it, with the regime check."""
    rows = []
    for e in entries:
        runs = [r for r in ctx.results.get(e.name, {}).get("runs") or [] if r.get("accuracy")]
        if not runs:
            continue
        greedy = summarize_runs(runs, ctx.splits)
        sampled = [r["sampled"] for r in runs if r.get("sampled")]
        cells = []
        for s in ctx.splits:
            avg = [x["avg"][s] for x in sampled]
            passk = [x["pass"][s] for x in sampled]
            cells += [
                format_accuracy(greedy[s]),
                f"{100 * sum(avg) / len(avg):.1f}" if avg else "-",
                f"{100 * sum(passk) / len(passk):.1f}" if passk else "-",
            ]
        rows.append([e.label, str(len(runs)), *cells])
    if not rows:
        return None
    labels = {"test_id": "in-domain", "test_ood": "out-of-domain"}
    columns = ["entry", "seeds"]
    for s in ctx.splits:
        name = labels.get(s, s)
        columns += [f"{name} greedy", f"{name} avg@{EVAL_K}", f"{name} pass@{EVAL_K}"]
    text = (
        f"The careless lab variant: {100 * CARELESS_FRACTION:.0f}% of the base model's native pretraining solutions "
        "skip the last step, so its greedy answer skips it while its samples still finish the chain: the regime in "
        "which the RL papers report gains (the right answer is among the model's samples, not its mode). Same seed, "
        f"problems and test sets as the default lab. avg@{EVAL_K} and pass@{EVAL_K}: {EVAL_K} samples per problem at "
        "temperature 1 (mean over seeds). The verdict is the scoreboard's (RL works on the lab)."
    )
    return Section("RL in its regime: the careless lab variant", [text], [Table(columns, rows)])
