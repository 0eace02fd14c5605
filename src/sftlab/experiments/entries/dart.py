"""DART and direct RL on the lab, for ``sftlab demo``.

* **DART** (entry ``dart``): the lab mapper (:mod:`sftlab.methods.dart.lab_mapper`) is
  trained with GRPO and DART's reward against the lab model, rewrites the
  first ``adapt_examples`` records of the expert-style train split (best of
  ``n_samples``, with fallback), and each seed fine-tunes the lab model on the
  adapted records with the demo's SFT settings. The adaptation does not depend
  on the fine-tuning seed, so it runs once (seed 0) and every seed trains on it.
* **direct RL** (entry ``direct-rl``): GRPO on the lab model itself with the
  correctness reward, with its own budget (:class:`DirectRLDemoSettings`), not
  the mapper's: the mapper's reward is real-valued, so nearly every group
  carries an advantage, while the binary verifier reward ties most groups
  (all right or all wrong, and ``ages`` is almost never solved). With the
  mapper's 4 x 4 samples per update about a third of the samples carried any
  gradient and independent updates were orthogonal (cosine 0.00), so Adam,
  which steps every weight by about the learning rate whatever the signal,
  took a random walk that broke the model's arithmetic (docs/dart.md).
* The section reports the adapted set's mean target log-likelihood against the
  original's, the share of kept rewrites whose answer verifies, the fallback
  rate, the RL curves and example rewrites.

Extras (registered with ``default=False`` because of their cost; run them with
``sftlab demo --methods all`` or by name): ``sft-subset`` (SFT on the same original records DART adapts),
``sdft`` and ``grape`` (the no-RL baselines), and ``dft-noprior`` /
``dart-dft-noprior`` (DFT on the original vs the DART-adapted data on the lab
variant whose base model never saw the expert style).
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass
from pathlib import Path

from sftlab.experiments.runner import DemoEntry, register
from sftlab.methods.dart.config import AdaptConfig, DartConfig
from sftlab.methods.dart.run import run_adapt, run_dart


@dataclass
class DartDemoSettings:
    """How much DART the demo does (see docs/dart.md for the measured budget)."""

    adapt_examples: int = 512
    rl_steps: int = 30
    group_size: int = 4
    prompts_per_step: int = 4
    rl_learning_rate: float = 1e-4
    kl_beta: float = 0.04
    n_samples: int = 2
    max_completion_length: int = 96

    @classmethod
    def quick(cls) -> DartDemoSettings:
        return cls(adapt_examples=128, rl_steps=8, n_samples=2)


def settings_for(ctx) -> DartDemoSettings:
    return DartDemoSettings.quick() if ctx.quick else DartDemoSettings()


@dataclass
class DirectRLDemoSettings:
    """How much direct RL (GRPO with the binary verifier reward on the lab model) the demo does.

    Sized by informative samples, not by the mapper's update count: groups of 8
    (TRL's default; with a one-in-three success rate about 45% of the lab's
    groups of 8 still tie) and 16 prompts per update, 128 samples, over the
    whole train split. The learning rate is the GRPO papers' ratio to SFT
    (DeepSeekMath: 1e-6 for 7B models whose SFT rate is about 2e-5, 1/20) applied
    to the lab's SFT rate of 1e-3; it is also about the rate the lab model's own
    pretraining ended at, so the steps are no larger than the ones it converged under.
    """

    steps: int = 20
    group_size: int = 8
    prompts_per_step: int = 16
    learning_rate: float = 5e-5
    kl_beta: float = 0.04
    max_examples: int = 0  # the whole train split
    max_completion_length: int = 96

    @classmethod
    def quick(cls) -> DirectRLDemoSettings:
        return cls(steps=4, prompts_per_step=8)


def direct_rl_settings_for(ctx) -> DirectRLDemoSettings:
    return DirectRLDemoSettings.quick() if ctx.quick else DirectRLDemoSettings()


def _adapt_config(ctx, s: DartDemoSettings, lab, out: Path, method: str = "dart", mapper: str | None = None,
                  seed: int = 0) -> AdaptConfig:
    return AdaptConfig(
        method=method, model=str(lab.model_dir), mapper=mapper, data=str(lab.data["train"]), output_dir=str(out),
        max_examples=s.adapt_examples, rl_steps=s.rl_steps, group_size=s.group_size,
        prompts_per_step=s.prompts_per_step, kl_beta=s.kl_beta, rl_learning_rate=s.rl_learning_rate,
        n_samples=s.n_samples, max_completion_length=s.max_completion_length, save_steps=10**9, seed=seed,
        generation_batch_size=64, scoring_batch_size=64, progress=False,
    )  # fmt: skip


def adapted(ctx, lab=None, name: str = "dart", method: str = "dart") -> dict:
    """The adaptation of the lab's train split (run once per demo output folder, resumable); its summary."""
    from sftlab.methods.dart.lab_mapper import ensure_lab_mapper

    cache = ctx.__dict__.setdefault("_adapted", {})  # every seed reuses the one adaptation
    if name in cache:
        return cache[name]
    lab = lab or ctx.lab
    s = settings_for(ctx)
    mapper = None if method == "sdft" else str(ensure_lab_mapper(lab, progress=False))
    t0 = time.time()
    summary = run_adapt(_adapt_config(ctx, s, lab, ctx.run_dir(name, None) / "adapt", method, mapper))
    summary["seconds"] = time.time() - t0
    cache[name] = summary
    return summary


def _brief(summary: dict) -> dict:
    """What the report needs from an adaptation, plus the lab's style check: the share of kept rewrites
    written in the native style (``#### x``), the lab model's own."""
    from sftlab.io import read_jsonl

    keys = ("n", "n_rewritten", "n_fallback", "fallback_rate", "fallback_reasons", "mean_lp_original",
            "mean_lp_adapted", "mean_lp_rewritten", "mean_lp_rewritten_originals", "kept_verified_share",
            "synthesis_seconds", "rewrites_per_second")  # fmt: skip
    kept = [r["solution"] for r in read_jsonl(summary["data"]) if not r["dart"]["fallback"]]
    native = sum("####" in s for s in kept) / len(kept) if kept else None
    return {"manifest": {k: summary["manifest"].get(k) for k in keys}, "rl": summary["rl"], "data": summary["data"],
            "native_share_kept": native, "seconds": summary.get("seconds")}


def _train_on(ctx, name: str, seed: int, summary: dict, **train) -> dict:
    run = ctx.train_and_evaluate(name, seed, data=summary["data"], **train)
    run["adapt"] = _brief(summary)
    return run


def run_dart_entry(ctx, seed: int) -> dict:
    return _train_on(ctx, "dart", seed, adapted(ctx))


def run_direct_rl_entry(ctx, seed: int) -> dict:
    """GRPO on the lab model with the correctness reward (:class:`DirectRLDemoSettings`), then the demo's evaluation."""
    s = direct_rl_settings_for(ctx)
    t0 = time.time()
    out = run_dart(DartConfig(
        method="direct_rl", model=str(ctx.lab.model_dir), data=str(ctx.lab.data["train"]),
        output_dir=str(ctx.run_dir("direct-rl", seed) / "rl"), max_examples=s.max_examples, rl_steps=s.steps,
        group_size=s.group_size, prompts_per_step=s.prompts_per_step, kl_beta=s.kl_beta,
        rl_learning_rate=s.learning_rate, max_completion_length=s.max_completion_length, save_steps=10**9,
        seed=seed, progress=False,
    ))  # fmt: skip
    run = ctx.evaluate("direct-rl", seed, out["model"])
    run.update(seed=seed, train_seconds=out["rl"]["train_seconds"], curve={}, wall_seconds=time.time() - t0,
               rl=out["rl"])
    return run


# -- opt-in extras ------------------------------------------------------------------------------

def run_sft_subset_entry(ctx, seed: int) -> dict:
    """Plain SFT on exactly the original records DART adapts (same size, same steps)."""
    from sftlab.io import atomic_write_jsonl, read_jsonl

    s = settings_for(ctx)
    path = ctx.run_dir("sft-subset", None) / "subset.jsonl"
    if not path.is_file():
        atomic_write_jsonl(path, read_jsonl(ctx.lab.data["train"])[: s.adapt_examples])
    return ctx.train_and_evaluate("sft-subset", seed, data=str(path))


def _baseline_entry(method: str):
    def run(ctx, seed: int) -> dict:
        return _train_on(ctx, method, seed, adapted(ctx, name=method, method=method))

    return run


def _noprior_lab(ctx):
    from sftlab.lab import LabConfig, ensure_lab

    cfg = LabConfig(**{**ctx.lab.info["config"], "expert_prior_fraction": 0.0})
    return ensure_lab(cfg, cache_dir=ctx.cfg.cache_dir, progress=False)


def run_dft_noprior_entry(ctx, seed: int) -> dict:
    lab = _noprior_lab(ctx)
    return ctx.train_and_evaluate("dft-noprior", seed, model=str(lab.model_dir), objective="dft")


def run_dart_dft_noprior_entry(ctx, seed: int) -> dict:
    lab = _noprior_lab(ctx)
    summary = adapted(ctx, lab=lab, name="dart-noprior")
    run = ctx.train_and_evaluate("dart-dft-noprior", seed, data=summary["data"], model=str(lab.model_dir),
                                 objective="dft")
    run["adapt"] = _brief(summary)
    return run


# -- the report section -------------------------------------------------------------------------

ADAPTED = {"dart": "DART", "sdft": "SDFT-style", "grape": "GRAPE-style", "dart-dft-noprior": "DART (no-prior lab)"}
MINE = ("dart", "direct-rl", "sft-subset", "sdft", "grape", "dft-noprior", "dart-dft-noprior")


def _section_after(name: str):
    """The section, drawn once: after whichever of this module's selected entries runs last."""

    def draw(ctx):
        mine = [m for m in ctx.selected if m in MINE]
        return section(ctx) if mine and mine[-1] == name else None

    return draw


def section(ctx):
    """Adapted-data statistics per adapting entry, the RL curves and a few rewrites."""
    from sftlab.report import Section

    rows, curves = [], {}
    for name, label in ADAPTED.items():
        runs = ctx.results.get(name, {}).get("runs") or []
        if runs and runs[0].get("adapt"):
            rows.append((label, runs[0]["adapt"]))
    if not rows:
        return None
    for label, a in rows:
        if a["rl"]:
            curves[f"{label} mapper"] = a["rl"]["curve"]
    direct = ctx.results.get("direct-rl", {}).get("runs") or []
    if direct and direct[0].get("rl"):
        curves["direct RL (target)"] = direct[0]["rl"]["curve"]
    images = {"GRPO reward per step": _curves_figure(curves)} if curves else {}
    return Section("DART: adapted data", html=_table_html(rows) + _examples_html(rows[0][1]["data"]),
                   images=images, markdown=_table_markdown(rows))


def _fmt(x, digits=3, pct=False):
    if x is None:
        return "n/a"
    return f"{100 * x:.1f}%" if pct else f"{x:.{digits}f}"


def _cells(a: dict) -> list[str]:
    m = a["manifest"]
    verified = m["kept_verified_share"]
    check = "" if verified is None else (" (meets >= 95%)" if verified >= 0.95 else " (BELOW the 95% target)")
    reasons = ", ".join(f"{k} {v}" for k, v in sorted((m["fallback_reasons"] or {}).items())) or "none"
    rl = a["rl"]
    rl_text = "none" if not rl else f"{rl['steps']} steps, {rl['train_seconds']:.0f} s, {rl['rewrites']} rewrites"
    return [str(m["n"]), f"{_fmt(m['mean_lp_original'])} -> {_fmt(m['mean_lp_adapted'])}",
            f"{_fmt(m['mean_lp_rewritten_originals'])} -> {_fmt(m['mean_lp_rewritten'])}",
            _fmt(verified, pct=True) + check, f"{_fmt(m['fallback_rate'], pct=True)} ({reasons})",
            _fmt(a.get("native_share_kept"), pct=True), rl_text]


HEAD = ["adapted by", "examples", "target log-lik./token, original -> adapted (all rows)",
        "same, rows with a kept rewrite", "kept rewrites whose answer verifies", "fallback rate (reasons)",
        "native style among kept rewrites", "RL"]


def _table_html(rows) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in HEAD)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in [label, *_cells(a)]) + "</tr>"
                   for label, a in rows)
    text = ("<p>Mean log-probability per solution token (EOS included) under the frozen lab model, of the original "
            "expert-style solutions and of the adapted set (a fallback keeps the original). Verification is "
            "recomputed on the kept rewrites. The adaptation runs once and every seed fine-tunes on it. These "
            "entries fine-tune on the first records of the train split only (the 'examples' column), the SFT entry "
            "on all of it; the opt-in entry sft-subset is SFT on the same original records.</p>")
    return text + f"<table><tr>{head}</tr>{body}</table>"


def _table_markdown(rows) -> str:
    lines = ["| " + " | ".join(HEAD) + " |", "|" + "---|" * len(HEAD)]
    lines += ["| " + " | ".join([label, *_cells(a)]) + " |" for label, a in rows]
    return "\n".join(lines)


def _examples_html(data_path: str, k: int = 3) -> str:
    from sftlab.io import read_jsonl

    rows = [r for r in read_jsonl(data_path) if not r["dart"]["fallback"]][:k]
    if not rows:
        return ""
    items = "".join(
        f"<tr><td>{html.escape(r['dart']['original'])}</td><td>{html.escape(r['solution'])}</td>"
        f"<td>{r['dart']['reward']['alignment']:+.2f}</td></tr>" for r in rows
    )
    return f"<table><tr><th>original</th><th>rewrite (kept)</th><th>alignment</th></tr>{items}</table>"


def _curves_figure(curves: dict):
    from sftlab.report.plots import METHOD_COLORS, new_figure, style_axes

    fig = new_figure(9.0, 3.2)
    ax_r, ax_t = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    for i, (label, c) in enumerate(curves.items()):
        color = METHOD_COLORS[i % len(METHOD_COLORS)]
        ax_r.plot(c["step"], c["reward"], color=color, label=label)
        for key, style in (("dart/alignment", "-"), ("dart/correct", "--")):
            if key in c:
                ax_t.plot(c["step"], c[key], style, color=color, label=f"{label}: {key[5:]}")
    ax_r.set(xlabel="GRPO step", ylabel="mean reward", title="reward")
    ax_t.set(xlabel="GRPO step", title="DART terms (mapper)")
    for ax in (ax_r, ax_t):
        style_axes(ax)
        if ax.lines:
            ax.legend(fontsize=7, frameon=False)
    return fig


register(DemoEntry(
    "dart", "DART", "DART (arXiv 2605.26924, sftlab's design): a GRPO-trained mapper rewrites the expert data into the "
    "lab model's own style (best of n, fallback to the original), then SFT on the adapted records.",
    run_dart_entry, section=_section_after("dart"),
))  # fmt: skip
register(DemoEntry(
    "direct-rl", "direct RL", "GRPO on the lab model itself with the correctness reward (DART's ablation), "
    "128 samples per update (16 prompts x 8).", run_direct_rl_entry, section=_section_after("direct-rl"),
))  # fmt: skip

register(DemoEntry("sft-subset", "SFT (DART's subset)", "Plain SFT on the original records DART adapts.",
                   run_sft_subset_entry, default=False, section=_section_after("sft-subset")))
register(DemoEntry("sdft", "SDFT-style", "No RL (after arXiv 2402.13669): the lab model rewrites each solution "
                   "given the question and the original; kept if correct; then SFT.", _baseline_entry("sdft"),
                   default=False, section=_section_after("sdft")))
register(DemoEntry("grape", "GRAPE-style", "No RL (after arXiv 2502.04194): the most target-likely correct one "
                   "among the initial mapper's rewrites and the lab model's own samples; then SFT.",
                   _baseline_entry("grape"), default=False, section=_section_after("grape")))
register(DemoEntry("dft-noprior", "DFT (no-prior lab)", "DFT on the original expert data, on the lab variant "
                   "whose base model never saw the expert style.", run_dft_noprior_entry,
                   default=False, section=_section_after("dft-noprior")))
register(DemoEntry("dart-dft-noprior", "DART + DFT (no-prior lab)", "DFT on DART-adapted data, same no-prior "
                   "lab variant (mapper, RL and target all from that variant).", run_dart_dft_noprior_entry,
                   default=False, section=_section_after("dart-dft-noprior")))
