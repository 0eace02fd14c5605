"""NFT in ``sftlab demo`` (entry ``nft``, opt-in: ``sftlab demo --methods nft``).

Negative-aware Fine-Tuning (arXiv 2505.18116) on the lab model itself, with the
verifier as the only signal: the questions of the lab's train split, K sampled
answers each, no demonstrations. It is the supervised counterpart of the
``direct-rl`` entry (GRPO with the correctness reward) and runs on the same
budget: as many optimizer steps, questions per step, answers per question,
learning rate and answer length. Each generation batch serves two optimizer
steps, so the second one is off-policy (``R_t != 1``) as in the paper (which
takes 16 per batch). The report section plots the mean verifier reward of the
sampled answers and the share of questions that carried signal (some answers
right, some wrong) per step.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from sftlab.experiments.context import DemoEntry, EntryContext
from sftlab.methods.nft import NFTTrainConfig, run_nft
from sftlab.report import Section


def nft_config(
    ctx: EntryContext, entry: DemoEntry, seed: int, *, model: str | None = None, data: str | None = None
) -> NFTTrainConfig:
    """The entry's :class:`NFTTrainConfig` on the context's model and training set (or ``model`` / ``data``): the
    paper's loss at the scale of its recipe (the demo: the lab's; compare: the paper's), with the entry's options on
    top (``rs-sft``: the negative term off)."""
    recipe = ctx.recipe(entry.recipe, NFTTrainConfig)
    return NFTTrainConfig(**{
        **recipe.options, **entry.options, "model": model or ctx.model, "data": data or ctx.train_data,
        "output_dir": str(ctx.run_dir(entry.name, seed) / "nft"), "save_steps": 10**9, "seed": seed, "progress": False,
    })  # fmt: skip


def run_nft_entry(
    ctx: EntryContext, entry: DemoEntry, seed: int, *, model: str | None = None, data: str | None = None, k: int = 1
) -> dict:
    """NFT (or ``rs-sft``) from the context's model (or ``model``, on ``data``), then the evaluation (``k > 1``: with
    avg@k / pass@k)."""
    t0 = time.time()
    cfg = nft_config(ctx, entry, seed, model=model, data=data)
    if ctx.cfg.fresh:
        shutil.rmtree(cfg.output_dir, ignore_errors=True)
    done = Path(cfg.output_dir) / "train_summary.json"  # written last, atomically: the run finished (cached as SFT's)
    if done.is_file():
        summary = json.loads(done.read_text(encoding="utf-8"))
    else:
        summary = ctx.run_method(entry.name, seed, run_nft, cfg)
    run = ctx.evaluate(entry.name, seed, summary["output_dir"], k=k)
    rows = [h for h in summary["log_history"] if "reward" in h]
    # curve stays empty: NFT's loss is not on the SFT objectives' scale (as for direct-rl)
    run.update(seed=seed, train_seconds=summary["train_seconds"], curve={}, wall_seconds=time.time() - t0,
               nft={"step": [h["step"] for h in rows], "reward": [h["reward"] for h in rows],
                    "kept_groups": [h.get("nft/kept_groups") for h in rows]})  # fmt: skip
    return run


def section(ctx: EntryContext, entries: list[DemoEntry]) -> Section | None:
    (entry,) = entries
    runs = ctx.results.get(entry.name, {}).get("runs") or []
    if not runs or not runs[0].get("nft", {}).get("step"):
        return None
    c = ctx.recipe(entry.recipe, NFTTrainConfig).options
    length = f"{c['max_steps']} steps" if c.get("max_steps") else f"{c.get('num_train_epochs', 1):g} epoch(s)"
    start = "lab" if ctx.lab is not None else "given"
    text = (
        f"NFT from the {start} model: {length} of {c['prompts_per_step']} questions x "
        f"{c['num_generations']} sampled answers, {c['updates_per_generation']} steps per generation batch, "
        f"lr {c['learning_rate']:g}, epsilon 1, w(q) = 1 - r_q. **Reward**: share of the sampled answers that "
        "verify. **Questions with signal**: share whose answers were neither all right nor all wrong (the others "
        "weigh nothing)."
    )
    return Section(
        "NFT: negative-aware fine-tuning", paragraphs=[text], images={"per step, first seed": _figure(runs[0])}
    )


def _figure(run: dict):
    from sftlab.report.plots import METHOD_COLORS, new_figure, style_axes

    c = run["nft"]
    fig = new_figure(9.0, 3.0)
    reward, kept = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    reward.plot(c["step"], c["reward"], marker="o", color=METHOD_COLORS[0])
    steps = [x for x, k in zip(c["step"], c["kept_groups"]) if k is not None]
    kept.plot(steps, [100 * k for k in c["kept_groups"] if k is not None], marker="o", color=METHOD_COLORS[1])
    reward.set(xlabel="step", ylabel="mean reward")
    kept.set(xlabel="step", ylabel="questions with signal (%)", ylim=(0, 105))
    for ax in (reward, kept):
        style_axes(ax)
    return fig
