"""Math self-distillation on the lab, for ``sftlab demo``.

The lab model samples several solutions per train-split question; the ones
whose written equations are all right and whose final answer verifies (exact
duplicates removed) become its SFT data; repeat. Only the reference *answers*
of the train split are used, never its expert-style solutions, so this entry
shows what a model gains from its own checked reasoning (arXiv 2512.09329's
recipe with a verifier as the main filter).
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass

from sftlab.experiments.runner import DemoEntry, register
from sftlab.methods.distill.loop import DistillConfig, _model_path, run_distill


@dataclass
class DistillDemoSettings:
    """How much self-distillation the demo does (sized for about 90 s default, 20 s quick on 2 idle CPU cores).

    The learning rate is the demo's own, not ``sftlab demo --learning-rate``:
    on its own samples the model's loss is already low, so Adam's normalized
    steps are mostly noise, and the 1e-3 that suits SFT on foreign data wrecks
    the lab model's arithmetic (test_id 0.55 -> 0.34 in one round); 1e-4 keeps
    it near the base (see docs/distill.md).
    """

    rounds: int = 2
    n: int = 4
    max_prompts: int = 96
    epochs: float = 2.0
    learning_rate: float = 1e-4
    max_new_tokens: int = 64  # train-split solutions take at most ~45 tokens

    @classmethod
    def quick(cls) -> DistillDemoSettings:
        return cls(rounds=1, max_prompts=48)


def settings_for(ctx) -> DistillDemoSettings:
    return DistillDemoSettings.quick() if ctx.quick else DistillDemoSettings()


FILTERS = "dedup,arithmetic:require=true,verifier"


def distill_config(ctx, seed: int) -> DistillConfig:
    s = settings_for(ctx)
    return DistillConfig(
        model=str(ctx.lab.model_dir), prompts=str(ctx.lab.data["train"]), pack="math", rounds=s.rounds, n=s.n,
        max_prompts=s.max_prompts, temperature=1.0, max_new_tokens=s.max_new_tokens, filters=FILTERS,
        train_steps=0, epochs=s.epochs, learning_rate=s.learning_rate, batch_size=ctx.cfg.batch_size,
        evaluate=False, output_dir=str(ctx.run_dir("distill", seed) / "rounds"), seed=seed, progress=False,
    )  # fmt: skip


def run_entry(ctx, seed: int) -> dict:
    """Run the rounds (resumable), then the demo's standard evaluation of the last model; one run dict."""
    t0 = time.time()
    result = run_distill(distill_config(ctx, seed))
    rounds = result["sections"]["distill"]["rounds"]
    model_dir = _model_path(rounds[-1]["model"], ctx.run_dir("distill", seed) / "rounds")
    run = ctx.evaluate("distill", seed, model_dir)
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


def section(ctx):
    """Per round (first seed): samples, survivors, and each filter's kept/seen."""
    from sftlab.report import Section

    runs = ctx.results.get("distill", {}).get("runs") or []
    if not runs or not runs[0].get("rounds"):
        return None
    rows, md = "", "| round | samples | sample accuracy | filters (kept/seen) | survivors |\n|---|---|---|---|---|\n"
    for m in runs[0]["rounds"]:
        filters = ", ".join(f"{html.escape(s['filter'])} {s['kept']}/{s['seen']}" for s in m["filters"])
        acc = "" if m["sample_accuracy"] is None else f"{m['sample_accuracy']:.3f}"
        rows += f"<tr><td>{m['round']}</td><td>{m['n_samples']}</td><td>{acc}</td><td>{filters}</td><td>{m['n_survivors']}</td></tr>"
        md += f"| {m['round']} | {m['n_samples']} | {acc} | {filters} | {m['n_survivors']} |\n"
    s = settings_for(ctx)
    text = (
        f"<p>{s.rounds} round(s) of: sample {s.n} solutions at temperature 1 for {s.max_prompts} train questions; "
        "keep those whose equations are all right and whose answer verifies (exact duplicates removed); "
        f"fine-tune {s.epochs:g} epochs at lr {s.learning_rate:g}. "
        "sample accuracy: share of a round's samples that verify, before filtering.</p>"
    )
    table = ("<table><tr><th>round</th><th>samples</th><th>sample accuracy</th><th>filters (kept/seen, cheapest first)"
             f"</th><th>survivors</th></tr>{rows}</table>")  # fmt: skip
    return Section("Self-distillation rounds", html=text + table, markdown=md)


register(
    DemoEntry(
        "distill", "self-distill",
        "Self-distillation (arXiv 2512.09329): fine-tune on the model's own samples whose steps and answer check out; "
        "uses the train split's answers only, not its solutions.",
        run_entry, section=section,
    )  # fmt: skip
)
