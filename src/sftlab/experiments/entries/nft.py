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

import shutil
import time
from dataclasses import dataclass

from sftlab.experiments.runner import DemoEntry, register
from sftlab.methods.nft import NFTTrainConfig, run_nft


@dataclass
class NFTDemoSettings:
    """How much NFT the demo does per seed (the direct-rl entry's budget; see :mod:`sftlab.experiments.entries.dart`)."""

    steps: int = 30
    max_prompts: int = 128
    prompts_per_step: int = 4
    num_generations: int = 4
    updates_per_generation: int = 2
    learning_rate: float = 1e-4  # the lab's direct-RL rate; the paper's 1e-6 is for 7B models
    max_completion_length: int = 96

    @classmethod
    def quick(cls) -> NFTDemoSettings:
        return cls(steps=8, max_prompts=32)


def settings_for(ctx) -> NFTDemoSettings:
    return NFTDemoSettings.quick() if ctx.quick else NFTDemoSettings()


def nft_config(ctx, seed: int) -> NFTTrainConfig:
    """The entry's :class:`NFTTrainConfig`: the paper's loss, the lab's scale."""
    s = settings_for(ctx)
    return NFTTrainConfig(
        model=str(ctx.lab.model_dir), data=str(ctx.lab.data["train"]), output_dir=str(ctx.run_dir("nft", seed) / "nft"),
        max_steps=s.steps, max_prompts=s.max_prompts, num_generations=s.num_generations,
        prompts_per_step=s.prompts_per_step, updates_per_generation=s.updates_per_generation,
        per_device_train_batch_size=s.prompts_per_step * s.num_generations, learning_rate=s.learning_rate,
        warmup_steps=0, weight_decay=0.0, max_completion_length=s.max_completion_length, save_steps=10**9,
        seed=seed, progress=False,
    )  # fmt: skip


def run_nft_entry(ctx, seed: int) -> dict:
    t0 = time.time()
    cfg = nft_config(ctx, seed)
    if ctx.cfg.fresh:
        shutil.rmtree(cfg.output_dir, ignore_errors=True)
    summary = run_nft(cfg)
    run = ctx.evaluate("nft", seed, summary["output_dir"])
    rows = [h for h in summary["log_history"] if "reward" in h]
    # curve stays empty: NFT's loss is not on the SFT objectives' scale (as for direct-rl)
    run.update(seed=seed, train_seconds=summary["train_seconds"], curve={}, wall_seconds=time.time() - t0,
               nft={"step": [h["step"] for h in rows], "reward": [h["reward"] for h in rows],
                    "kept_groups": [h.get("nft/kept_groups") for h in rows]})  # fmt: skip
    return run


def section(ctx):
    from sftlab.report import Section

    runs = ctx.results.get("nft", {}).get("runs") or []
    if not runs or not runs[0].get("nft", {}).get("step"):
        return None
    s = settings_for(ctx)
    text = (f"<p>NFT from the lab model: {s.steps} steps of {s.prompts_per_step} questions x {s.num_generations} "
            f"sampled answers, {s.updates_per_generation} steps per generation batch, lr {s.learning_rate:g}, "
            "epsilon 1, w(q) = 1 - r_q. <b>Reward</b>: share of the sampled answers that verify. <b>Questions with "
            "signal</b>: share whose answers were neither all right nor all wrong (the others weigh nothing).</p>")
    return Section("NFT: negative-aware fine-tuning", html=text, images={"per step, first seed": _figure(runs[0])})


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


register(DemoEntry("nft", "NFT", "Negative-aware Fine-Tuning (arXiv 2505.18116) on the lab model: verified samples "
                   "only, wrong answers trained through the implicit negative policy; direct-rl's budget.",
                   run_nft_entry, default=False, section=section))  # fmt: skip
