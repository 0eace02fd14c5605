"""DART and direct RL on the lab, for ``sftlab demo``.

* **DART** (entry ``dart``): the lab mapper (:mod:`sftlab.methods.dart.lab_mapper`) is
  trained with GRPO and DART's reward against the lab model, rewrites the
  first ``adapt_examples`` records of the expert-style train split (best of
  ``n_samples``, with fallback), and each seed fine-tunes the lab model on the
  adapted records with the demo's SFT settings. The adaptation does not depend
  on the fine-tuning seed, so it runs once (seed 0) and every seed trains on it.
* **direct RL** (entry ``direct-rl``): GRPO on the lab model itself with the
  correctness reward, for as many policy updates as the mapper gets.
* The section reports the adapted set's mean target log-likelihood against the
  original's, the share of kept rewrites whose answer verifies, the fallback
  rate, the RL curves and example rewrites.

Settings: the lab recipe ``configs/lab/dart.yaml`` (direct RL takes its RL
part). In ``sftlab compare`` (no lab) ``dart`` adapts ``--data`` to ``--model``
with ``--mapper-model`` (default: ``--model`` itself, as ``sftlab dart``) and
the paper recipe ``configs/dart.yaml``, once for every seed (the shared step
``dart-adapt``), and each seed fine-tunes ``--model`` on the adapted set with
the SFT recipe. Extras (``default=False`` because of their cost; run them with
``sftlab demo --methods all`` or by name): ``sft-subset`` (SFT on the same original records DART adapts),
``sdft`` and ``grape`` (the no-RL baselines), and ``dft-noprior`` /
``dart-dft-noprior`` (DFT on the original vs the DART-adapted data on the lab
variant whose base model never saw the expert style).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

from sftlab.experiments.context import DemoEntry, EntryContext
from sftlab.methods.dart.config import AdaptConfig, DartConfig
from sftlab.methods.dart.run import run_adapt, run_dart
from sftlab.report import Section, Table


def adapt_config(
    ctx: EntryContext, entry: DemoEntry, lab, out: Path, method: str, mapper: str | None, seed: int = 0
) -> AdaptConfig:
    """The adaptation step of the entry's recipe as ``method``: on ``lab``'s model and train split (the demo:
    configs/lab/dart.yaml, no RL checkpoints), or with ``lab`` None on the context's model and training set (compare:
    configs/dart.yaml, its ``save_steps``, so an interrupted RL stage resumes)."""
    recipe = ctx.recipe(entry.recipe, DartConfig, entry.name)
    if lab is None:
        inputs = {"model": ctx.model, "data": ctx.train_data}
    else:
        inputs = {"model": str(lab.model_dir), "data": str(lab.data["train"]), "save_steps": 10**9, "seed": seed}
    return AdaptConfig(**{
        **recipe.only(AdaptConfig), "method": method, "mapper": mapper, "output_dir": str(out), "progress": False,
        **inputs,
    })  # fmt: skip


def adapted(ctx: EntryContext, entry: DemoEntry, lab=None, name: str = "dart", method: str = "dart") -> dict:
    """The adaptation of the training set (run once per output folder, resumable); its summary.

    The demo adapts ``lab``'s (default: the context's) train split with the lab's mapper initialization; compare
    adapts --data to --model with --mapper-model, in the shared step ``<name>-adapt``, keyed by what it reads.
    Every seed reuses the one adaptation: it is kept in ``ctx.adaptations`` under ``name``.
    """
    if name in ctx.adaptations:
        return ctx.adaptations[name]
    if lab is None and ctx.lab is None:  # compare: the user's target, training set and mapper
        mapper = None if method == "sdft" else ctx.mapper_model
        cfg = adapt_config(ctx, entry, None, ctx.shared_dir(f"{name}-adapt") / "adapt", method, mapper)
    else:
        from sftlab.methods.dart.lab_mapper import ensure_lab_mapper

        lab = lab or ctx.lab
        mapper = None if method == "sdft" else str(ensure_lab_mapper(lab, progress=False))
        cfg = adapt_config(ctx, entry, lab, ctx.run_dir(name, None) / "adapt", method, mapper)
    ctx.adaptations[name] = _run_adapt(cfg, fresh=ctx.cfg.fresh)
    return ctx.adaptations[name]


def _run_adapt(cfg: AdaptConfig, *, fresh: bool) -> dict:
    """``run_adapt(cfg)`` with its summary kept in ``summary.json`` beside the adapted data: a finished adaptation
    with the same settings is read back, loading no model. ``fresh``: what an earlier one left is deleted first."""
    import shutil

    from sftlab.io import atomic_write_json

    done = Path(cfg.output_dir) / "summary.json"
    settings = json.loads(json.dumps(asdict(cfg), default=str))
    if fresh:
        shutil.rmtree(cfg.output_dir, ignore_errors=True)
    elif done.is_file() and json.loads(done.read_text(encoding="utf-8"))["config"] == settings:
        return json.loads(done.read_text(encoding="utf-8"))["summary"]
    t0 = time.time()
    summary = run_adapt(cfg)
    summary["seconds"] = time.time() - t0
    atomic_write_json(done, {"config": settings, "summary": summary})
    return json.loads(done.read_text(encoding="utf-8"))["summary"]  # as a later read gives it back


def _brief(summary: dict, lab_style: bool = True) -> dict:
    """What the report needs from an adaptation, plus (``lab_style``) the lab's style check: the share of kept
    rewrites written in the native style (``#### x``), the lab model's own."""
    from sftlab.io import read_jsonl

    keys = ("n", "n_rewritten", "n_fallback", "fallback_rate", "fallback_reasons", "mean_lp_original",
            "mean_lp_adapted", "mean_lp_rewritten", "mean_lp_rewritten_originals", "kept_verified_share",
            "synthesis_seconds", "rewrites_per_second")  # fmt: skip
    kept = [r["solution"] for r in read_jsonl(summary["data"]) if not r["dart"]["fallback"]] if lab_style else []
    native = sum("####" in s for s in kept) / len(kept) if kept else None
    return {
        "manifest": {k: summary["manifest"].get(k) for k in keys},
        "rl": summary["rl"],
        "data": summary["data"],
        "native_share_kept": native,
        "seconds": summary.get("seconds"),
    }


def prepare_adapted(ctx: EntryContext, entry: DemoEntry) -> dict:
    """The entry's adaptation (DART, or a no-RL baseline: ``entry.options["method"]``), shared by its seeds: the
    entry's ``prepare``, before its seeds run."""
    return adapted(ctx, entry, name=entry.name, method=entry.options.get("method", "dart"))


def run_adapted_entry(ctx: EntryContext, entry: DemoEntry, seed: int) -> dict:
    """DART (or a no-RL baseline): adapt once, fine-tune on the result per seed."""
    summary = prepare_adapted(ctx, entry)
    run = ctx.train_and_evaluate(entry.name, seed, data=summary["data"])
    run["adapt"] = _brief(summary, lab_style=ctx.lab is not None)
    return run


def run_direct_rl_entry(ctx: EntryContext, entry: DemoEntry, seed: int) -> dict:
    """GRPO on the context's model with the correctness reward (the recipe's RL settings), then the evaluation."""
    t0 = time.time()
    out = ctx.run_method(entry.name, seed, run_dart, direct_rl_config(ctx, entry, seed))
    run = ctx.evaluate(entry.name, seed, out["model"])
    run.update(
        seed=seed, train_seconds=out["rl"]["train_seconds"], curve={}, wall_seconds=time.time() - t0, rl=out["rl"]
    )
    return run


def direct_rl_config(ctx: EntryContext, entry: DemoEntry, seed: int) -> DartConfig:
    """The RL part of the entry's recipe (the demo: configs/lab/dart.yaml; compare: configs/dart.yaml) as direct RL
    on the context's model and training set."""
    recipe = ctx.recipe(entry.recipe, DartConfig, entry.name)
    return DartConfig(**{
        **recipe.options, "method": "direct_rl", "model": ctx.model, "data": ctx.train_data,
        "output_dir": str(ctx.run_dir(entry.name, seed) / "rl"), "save_steps": 10**9, "seed": seed, "progress": False,
    })  # fmt: skip


# -- opt-in extras ------------------------------------------------------------------------------


def prepare_subset(ctx: EntryContext, entry: DemoEntry) -> str:
    """The original records DART adapts, written once for every seed (the entry's ``prepare``)."""
    from sftlab.io import atomic_write_jsonl, read_jsonl

    max_examples = ctx.recipe(entry.recipe, DartConfig, entry.name).options["max_examples"]
    path = ctx.run_dir(entry.name, None) / "subset.jsonl"
    if not path.is_file():
        atomic_write_jsonl(path, read_jsonl(ctx.lab.data["train"])[:max_examples])
    return str(path)


def run_sft_subset_entry(ctx: EntryContext, entry: DemoEntry, seed: int) -> dict:
    """Plain SFT on exactly the original records DART adapts (same size, same steps)."""
    return ctx.train_and_evaluate(entry.name, seed, data=prepare_subset(ctx, entry))


def noprior_config(config: dict):
    """The no-prior variant of the lab config ``config`` (a ``LabConfig.to_dict()``); it ships for the default."""
    from sftlab.lab import LabConfig

    return LabConfig(**{**config, "expert_prior_fraction": 0.0})


def prepare_noprior_lab(ctx: EntryContext, entry: DemoEntry | None = None):
    """The no-prior lab variant (installed or built once and cached; the ``prepare`` of the entries that train on
    it)."""
    from sftlab.lab import ensure_lab

    return ensure_lab(noprior_config(ctx.lab.info["config"]), cache_dir=ctx.cfg.cache_dir, progress=False)


def run_dft_noprior_entry(ctx: EntryContext, entry: DemoEntry, seed: int) -> dict:
    lab = prepare_noprior_lab(ctx)
    return ctx.train_and_evaluate(entry.name, seed, model=str(lab.model_dir), objective="dft")


def prepare_dart_noprior(ctx: EntryContext, entry: DemoEntry) -> dict:
    """The no-prior lab and DART's adaptation on it, shared by the entry's seeds (its ``prepare``)."""
    return adapted(ctx, entry, lab=prepare_noprior_lab(ctx), name="dart-noprior")


def run_dart_dft_noprior_entry(ctx: EntryContext, entry: DemoEntry, seed: int) -> dict:
    lab = prepare_noprior_lab(ctx)
    summary = prepare_dart_noprior(ctx, entry)
    run = ctx.train_and_evaluate(entry.name, seed, data=summary["data"], model=str(lab.model_dir), objective="dft")
    run["adapt"] = _brief(summary)
    return run


# -- the report section -------------------------------------------------------------------------


def section(ctx: EntryContext, entries: list[DemoEntry]) -> Section | None:
    """Adapted-data statistics per adapting entry, the RL curves and a few rewrites."""
    rows, curves = [], {}
    for e in entries:
        runs = ctx.results.get(e.name, {}).get("runs") or []
        if runs and runs[0].get("adapt"):
            rows.append((e.label, runs[0]["adapt"]))
    if not rows:
        return None
    for label, a in rows:
        if a["rl"]:
            curves[f"{label} mapper"] = a["rl"]["curve"]
    for e in entries:
        runs = ctx.results.get(e.name, {}).get("runs") or []
        if runs and runs[0].get("rl"):
            curves[f"{e.label} (target)"] = runs[0]["rl"]["curve"]
    images = {"GRPO reward per step": _curves_figure(curves)} if curves else {}
    on_lab = ctx.lab is not None
    text = LAB_TEXT if on_lab else COMPARE_TEXT
    head = HEAD if on_lab else [h for h in HEAD if h != NATIVE]
    tables = [Table(head, [[label, *_cells(a, lab_style=on_lab)] for label, a in rows])]
    examples = _examples(rows[0][1]["data"])
    if examples:
        tables.append(examples)
    return Section("DART: adapted data", paragraphs=[text], tables=tables, images=images)


def _fmt(x, digits=3, pct=False):
    if x is None:
        return "n/a"
    return f"{100 * x:.1f}%" if pct else f"{x:.{digits}f}"


LAB_TEXT = (
    "Mean log-probability per solution token (EOS included) under the frozen lab model, of the original "
    "expert-style solutions and of the adapted set (a fallback keeps the original). Verification is "
    "recomputed on the kept rewrites. The adaptation runs once and every seed fine-tunes on it. These "
    "entries fine-tune on the first records of the train split only (the 'examples' column), the SFT entry "
    "on all of it; the opt-in entry sft-subset is SFT on the same original records."
)
COMPARE_TEXT = (
    "Mean log-probability per solution token (EOS included) under the frozen target (--model), of the original "
    "solutions of --data and of the adapted set (a fallback keeps the original). Verification is recomputed on the "
    "kept rewrites. The mapper (--mapper-model, by default a copy of --model) is trained with GRPO on DART's reward "
    "and rewrites --data once (configs/dart.yaml); every seed fine-tunes --model on the adapted set with the SFT "
    "recipe, as the sft row does on the original."
)


def _cells(a: dict, lab_style: bool = True) -> list[str]:
    m = a["manifest"]
    verified = m["kept_verified_share"]
    check = "" if verified is None else (" (meets >= 95%)" if verified >= 0.95 else " (BELOW the 95% target)")
    reasons = ", ".join(f"{k} {v}" for k, v in sorted((m["fallback_reasons"] or {}).items())) or "none"
    rl = a["rl"]
    rl_text = "none" if not rl else f"{rl['steps']} steps, {rl['train_seconds']:.0f} s, {rl['rewrites']} rewrites"
    return [
        str(m["n"]),
        f"{_fmt(m['mean_lp_original'])} -> {_fmt(m['mean_lp_adapted'])}",
        f"{_fmt(m['mean_lp_rewritten_originals'])} -> {_fmt(m['mean_lp_rewritten'])}",
        _fmt(verified, pct=True) + check,
        f"{_fmt(m['fallback_rate'], pct=True)} ({reasons})",
        *([_fmt(a.get("native_share_kept"), pct=True)] if lab_style else []),
        rl_text,
    ]


NATIVE = "native style among kept rewrites"  # the lab's style check (the demo only)
HEAD = [
    "adapted by",
    "examples",
    "target log-lik./token, original -> adapted (all rows)",
    "same, rows with a kept rewrite",
    "kept rewrites whose answer verifies",
    "fallback rate (reasons)",
    NATIVE,
    "RL",
]


def _examples(data_path: str, k: int = 3) -> Table | None:
    """The first ``k`` kept rewrites beside their originals."""
    from sftlab.io import read_jsonl

    rows = [r for r in read_jsonl(data_path) if not r["dart"]["fallback"]][:k]
    if not rows:
        return None
    return Table(
        ["original", "rewrite (kept)", "alignment"],
        [[r["dart"]["original"], r["solution"], f"{r['dart']['reward']['alignment']:+.2f}"] for r in rows],
        summary=False,
    )


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
