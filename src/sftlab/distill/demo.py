"""Math self-distillation on the lab, for ``sftlab demo``.

The lab model samples several solutions per train-split question; the ones
whose final answer verifies (and are not exact duplicates) become its SFT
data; repeat. Only the reference *answers* of the train split are used, never
its expert-style solutions, so this entry shows what a model gains from its
own verified reasoning (arXiv 2512.09329's recipe with a verifier as the filter).
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass

from ..lab.demo import DemoEntry, register
from .loop import DistillConfig, _model_path, run_distill


@dataclass
class DistillDemoSettings:
    """How much self-distillation the demo does (sized for ~90 s default, ~20 s quick on 2 CPU cores)."""

    rounds: int = 2
    n: int = 4
    max_prompts: int = 64
    train_steps: int = 60

    @classmethod
    def quick(cls) -> "DistillDemoSettings":
        return cls(rounds=1, n=4, max_prompts=24, train_steps=20)


def settings_for(ctx) -> DistillDemoSettings:
    return DistillDemoSettings.quick() if ctx.quick else DistillDemoSettings()


def distill_config(ctx, seed: int) -> DistillConfig:
    s = settings_for(ctx)
    return DistillConfig(
        model=str(ctx.lab.model_dir), prompts=str(ctx.lab.data["train"]), pack="math", rounds=s.rounds, n=s.n,
        max_prompts=s.max_prompts, temperature=1.0, max_new_tokens=ctx.cfg.max_new_tokens, filters="verifier,dedup",
        train_steps=s.train_steps, learning_rate=ctx.cfg.learning_rate, batch_size=ctx.cfg.batch_size,
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
    from ..report import Section

    runs = ctx.results.get("distill", {}).get("runs") or []
    if not runs or not runs[0].get("rounds"):
        return None
    rows = ""
    for m in runs[0]["rounds"]:
        filters = ", ".join(f"{html.escape(s['filter'])} {s['kept']}/{s['seen']}" for s in m["filters"])
        acc = "" if m["sample_accuracy"] is None else f"{m['sample_accuracy']:.3f}"
        rows += f"<tr><td>{m['round']}</td><td>{m['n_samples']}</td><td>{acc}</td><td>{filters}</td><td>{m['n_survivors']}</td></tr>"
    s = settings_for(ctx)
    text = (
        f"<p>{s.rounds} round(s) of: sample {s.n} solutions at temperature 1 for {s.max_prompts} train questions, "
        f"keep those whose answer verifies (exact duplicates removed), fine-tune {s.train_steps} steps. "
        "sample accuracy: share of a round's samples that verify, before filtering.</p>"
    )
    table = ("<table><tr><th>round</th><th>samples</th><th>sample accuracy</th><th>filters (kept/seen, cheapest first)"
             f"</th><th>survivors</th></tr>{rows}</table>")  # fmt: skip
    return Section("Self-distillation rounds", html=text + table)


register(
    DemoEntry(
        "distill", "self-distill",
        "Self-distillation (arXiv 2512.09329): fine-tune on the model's own samples whose answer verifies; "
        "uses the train split's answers only, not its solutions.",
        run_entry, section=section,
    )  # fmt: skip
)
