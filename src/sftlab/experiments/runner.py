"""``sftlab demo``: every method on the embedded lab, evaluated in-domain and out-of-domain, one report.

The demo is a registry of entries (:data:`ENTRIES`), each a short function that
trains (or not) and returns one run per seed; more methods add themselves with
:func:`register`. Runs are cached under ``<output_dir>/runs/<entry>/seed<k>/``,
so an interrupted demo resumes where it stopped and a finished one re-renders
its report at once. Every entry is shown, including the ones that lose.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from sftlab import __version__
from sftlab.config import help_meta as _h
from sftlab.errors import SftlabError


@dataclass
class DemoConfig:
    """Options of ``sftlab demo``."""

    quick: bool = field(default=False, metadata=_h("A fast pass: one seed, fewer steps, smaller test splits (about a minute on 2 cores once the lab is built)."))
    seeds: int | None = field(default=None, metadata=_h("Training seeds per method (default: 2, or 1 with --quick)."))
    output_dir: str = field(default="outputs/demo", metadata=_h("Where runs, report.html, metrics.json and summary.md go."))
    methods: str | None = field(default=None, metadata=_h("Comma-separated entries to run, or 'all' (default: the entries marked default, which fit the demo's time budget). See --list-methods."))
    list_methods: bool = field(default=False, metadata=_h("Print the registered demo entries and exit."))
    steps: int | None = field(default=None, metadata=_h("Optimizer steps per training run (default: 300, or 80 with --quick)."))
    learning_rate: float = field(default=1e-3, metadata=_h("Peak learning rate of the lab's fine-tuning runs (tiny models take large steps)."))
    batch_size: int = field(default=16, metadata=_h("Sequences per optimizer step."))
    eval_limit: int | None = field(default=None, metadata=_h("Test problems per split (default: 400, or 150 with --quick)."))
    max_new_tokens: int = field(default=160, metadata=_h("Generation budget per test problem."))
    examples: int = field(default=3, metadata=_h("Example generations per method shown in the report."))
    screenshot: bool = field(default=False, metadata=_h("Also save report.png (needs Chromium)."))
    fresh: bool = field(default=False, metadata=_h("Ignore cached runs in --output-dir and run everything again."))
    cache_dir: str | None = field(default=None, metadata=_h("Lab build cache (default: $SFTLAB_CACHE or ~/.cache/sftlab/lab)."))


@dataclass
class DemoEntry:
    """One method in the demo. ``run(ctx, seed)`` returns a run dict (see :mod:`sftlab.report`).

    An entry with ``run=None`` only adds a report section (an analysis, not a method).
    """

    name: str
    label: str
    description: str
    run: Callable[[DemoContext, int], dict] | None
    per_seed: bool = True  # False: deterministic, run once (e.g. evaluating the base model)
    default: bool = True  # part of a plain `sftlab demo`; others run with --methods all or by name
    section: Callable[[DemoContext], object] | None = None  # optional extra report section


ENTRIES: dict[str, DemoEntry] = {}


def register(entry: DemoEntry) -> DemoEntry:
    ENTRIES[entry.name] = entry
    return entry


class DemoContext:
    """What entries share: the lab, the test items, settings, and cached train/eval helpers."""

    def __init__(self, cfg: DemoConfig, lab, out: Path):
        from sftlab.data import eval_items, load_sft_data

        self.cfg, self.lab, self.out = cfg, lab, out
        self.quick = cfg.quick
        self.steps = cfg.steps or (80 if cfg.quick else 300)
        limit = cfg.eval_limit or (150 if cfg.quick else 400)
        self.splits = ["test_id", "test_ood"]
        self.items = {}
        for split in self.splits:
            data = load_sft_data(str(lab.data[split]))
            self.items[split] = eval_items(data)[:limit]
        self.selected: list[str] = []  # the entries this demo runs, in order (set by run_demo)
        self.results: dict[str, dict] = {}  # entry name -> {"runs": [...]} as they finish
        self.notes: list[str] = []

    def run_dir(self, name: str, seed: int | None) -> Path:
        return self.out / "runs" / name / ("once" if seed is None else f"seed{seed}")

    def train(self, name: str, seed: int, *, data: str | None = None, model: str | None = None, **overrides) -> dict:
        """Fine-tune on the lab (default: the expert-style train split); cached. Returns the train summary."""
        from sftlab.methods.sft import TrainConfig, run_train

        run_dir = self.run_dir(name, seed)
        done = run_dir / "model" / "train_summary.json"
        if done.is_file() and not self.cfg.fresh:
            return json.loads(done.read_text())
        cfg = TrainConfig(
            model=model or str(self.lab.model_dir), data=data or str(self.lab.data["train"]),
            output_dir=str(run_dir / "model"), max_steps=self.steps, learning_rate=self.cfg.learning_rate,
            lr_scheduler_type="cosine", warmup_ratio=0.05, per_device_train_batch_size=self.cfg.batch_size,
            max_length=512, logging_steps=max(1, self.steps // 20), save_steps=10**9, save_total_limit=None,
            seed=seed, progress=False, weight_decay=0.0,
        )
        for k, v in overrides.items():
            setattr(cfg, k, v)
        return run_train(cfg)

    def evaluate(self, name: str, seed: int | None, model_dir: str) -> dict:
        """Greedy accuracy on the in-domain and OOD test items; cached. Returns accuracy, n and examples."""
        from sftlab.evaluation import evaluate
        from sftlab.generation import SamplingConfig
        from sftlab.models import load_model_and_tokenizer

        eval_dir = self.run_dir(name, seed) / "eval"
        if not (eval_dir / "metrics.json").is_file() or self.cfg.fresh:
            model, tok = load_model_and_tokenizer(model_dir, "infer")  # generates on this process's GPU when there is one
            evaluate(model, tok, self.items, sampling=SamplingConfig(max_new_tokens=self.cfg.max_new_tokens,
                     batch_size=128), output_dir=str(eval_dir), progress=False)
        metrics = json.loads((eval_dir / "metrics.json").read_text())
        examples = _examples(eval_dir / "generations.jsonl", self.cfg.examples)
        splits = metrics["splits"]
        return {"accuracy": {s: splits[s]["accuracy"] for s in self.splits},
                "n": {s: splits[s]["n"] for s in self.splits}, "examples": examples}

    def train_and_evaluate(self, name: str, seed: int, **train_kwargs) -> dict:
        t0 = time.time()
        summary = self.train(name, seed, **train_kwargs)
        run = self.evaluate(name, seed, summary["output_dir"])
        run.update(seed=seed, train_seconds=summary["train_seconds"], curve=curve_of(summary["log_history"]),
                   wall_seconds=time.time() - t0)
        return run


def curve_of(log_history: list[dict]) -> dict:
    rows = [h for h in log_history if "loss" in h and "nll" in h]
    return {"step": [h["step"] for h in rows], "objective": [h["loss"] for h in rows], "nll": [h["nll"] for h in rows]}


def _examples(path: Path, n: int) -> list[dict]:
    rows, per_split = [], {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if r.get("kind", "greedy") != "greedy":
                continue
            limit = n - n // 3 if r["split"] == "test_id" else max(1, n // 3)
            if per_split.get(r["split"], 0) < limit:
                per_split[r["split"]] = per_split.get(r["split"], 0) + 1
                rows.append({"split": r["split"], "prompt": r["prompt"], "completion": r["completion"],
                             "answer": r["reference"], "correct": r["correct"]})
    return rows


# -- the core entries ------------------------------------------------------------------

def _base(ctx: DemoContext, seed: int | None) -> dict:
    run = ctx.evaluate("base", None, str(ctx.lab.model_dir))
    run.update(seed=0, train_seconds=0.0, curve={})
    return run


def _objective_entry(name: str, objective: str) -> Callable[[DemoContext, int], dict]:
    def run(ctx: DemoContext, seed: int) -> dict:
        extra = {}
        if objective == "nll":  # S2L reuses these evenly spaced checkpoints as its proxy's loss trajectory
            extra = {"save_steps": max(1, ctx.steps // 4), "save_total_limit": None}
        return ctx.train_and_evaluate(name, seed, objective=objective, **extra)

    return run


register(DemoEntry("base", "base model", "The lab's pretrained model, before any fine-tuning.", _base, per_seed=False))
register(DemoEntry("sft", "SFT", "Plain SFT (token NLL) on the expert-style data.", _objective_entry("sft", "nll")))
register(DemoEntry("dft", "DFT", "Dynamic Fine-Tuning (arXiv 2508.05629): NLL weighted by sg(p).", _objective_entry("dft", "dft")))
register(DemoEntry("asft", "ASFT", "Anchored SFT (arXiv 2509.23753): DFT + 0.1 KL(pi_ref || pi_theta).",
                   _objective_entry("asft", "asft")))

# What a plain `sftlab demo` runs: it must fit the demo's budget (10 minutes on 2 CPU cores with the lab
# build; measured figures in docs/lab.md). Every other entry runs with --methods all or by name.
DEFAULT_ENTRIES = ("base", "sft", "dft", "asft", "landscape")

# Later methods register themselves from their own packages.
ENTRY_MODULES = ("sftlab.experiments.entries.s2l", "sftlab.experiments.entries.landscape", "sftlab.experiments.entries.distill", "sftlab.experiments.entries.dart",
                 "sftlab.experiments.entries.irl", "sftlab.experiments.entries.nft")


def _load_entry_modules() -> None:
    import importlib

    for module in ENTRY_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name != module:
                raise
    for name, entry in ENTRIES.items():
        entry.default = entry.default and name in DEFAULT_ENTRIES


def resolve_methods(methods: str | None) -> list[str]:
    """The entries ``--methods`` names, in run order: None = the default ones, 'all' = every registered entry."""
    _load_entry_modules()
    if not methods:
        names = [n for n, e in ENTRIES.items() if e.default]
    elif methods.strip() == "all":
        names = list(ENTRIES)
    else:
        names = [m.strip() for m in methods.split(",") if m.strip()]
    unknown = [n for n in names if n not in ENTRIES]
    if unknown:
        raise SftlabError(f"--methods: unknown entries {unknown}; known: {list(ENTRIES)}")
    return names


def run_demo(cfg: DemoConfig) -> dict:
    from sftlab.lab import ensure_lab
    from sftlab.report import Section, machine_info, summarize_runs, write_report

    _load_entry_modules()
    if cfg.list_methods:
        for e in ENTRIES.values():
            print(f"{e.name:14s} {'default' if e.default else '       '}  {e.description}")
        return {}
    names = resolve_methods(cfg.methods)
    t_start = time.time()
    import torch

    from sftlab.lab.model import _free_cores

    torch.set_num_threads(_free_cores())  # on a busy machine, fewer threads than cores run tiny models much faster
    lab = ensure_lab(cache_dir=cfg.cache_dir)
    out = Path(cfg.output_dir)
    ctx = DemoContext(cfg, lab, out)
    ctx.selected = list(names)
    n_seeds = cfg.seeds or (1 if cfg.quick else 2)
    seeds = list(range(n_seeds))
    print(f"sftlab demo: lab at {lab.root}; methods {names}; seeds {seeds}; {ctx.steps} steps per run; "
          f"{torch.get_num_threads()} torch threads")

    methods, sections, timings = {}, [], {}
    for name in names:
        entry = ENTRIES[name]
        t0 = time.time()
        runs = [] if entry.run is None else (
            [entry.run(ctx, None)] if not entry.per_seed else [entry.run(ctx, s) for s in seeds])
        ctx.results[name] = {"runs": runs}
        if entry.section is not None:
            sec = entry.section(ctx)
            if sec is not None:
                sections.append(sec)
        timings[name] = time.time() - t0
        if entry.run is None:
            print(f"  {entry.label:12s} (report section)   ({timings[name]:.0f} s)")
            continue
        methods[name] = {"label": entry.label, "description": entry.description, "runs": runs,
                         "summary": summarize_runs(runs, ctx.splits), "seconds": timings[name]}
        acc = "  ".join(f"{s} {methods[name]['summary'][s]['mean']:.3f}" for s in ctx.splits)
        print(f"  {entry.label:12s} {acc}   ({timings[name]:.0f} s)")

    metrics = {
        "title": "sftlab demo" + (" (quick)" if cfg.quick else ""),
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "sftlab_version": __version__,
        "machine": machine_info(), "config": {"demo": asdict(cfg), "lab": lab.info.get("config", {})},
        "seeds": seeds, "splits": ctx.splits, "labels": {"test_id": "in-domain", "test_ood": "out-of-domain"},
        "methods": methods, "notes": ctx.notes + _standing_notes(lab, methods),
        "sections": {"lab": {k: v for k, v in lab.info.items() if k != "config"}, "seconds": timings,
                     "total_seconds": time.time() - t_start},
    }
    paths = write_report(out, metrics, sections=[s for s in sections if isinstance(s, Section)])
    if cfg.screenshot:
        from sftlab.report.screenshot import screenshot

        screenshot(out / "report.html", out / "report.png")
    print(f"sftlab demo: report at {out / 'report.html'} (metrics.json, summary.md beside it); "
          f"{time.time() - t_start:.0f} s")
    return {"metrics": metrics, "paths": paths}


def _standing_notes(lab, methods: dict) -> list[str]:
    notes = []
    base = lab.info.get("base_accuracy")
    if base:
        notes.append("Base model accuracy measured at lab build time: "
                     + ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in base.items()) + ".")
    if "dft" in methods and "sft" in methods:
        d, s = methods["dft"]["summary"], methods["sft"]["summary"]
        verdict = []
        for split, label in (("test_id", "in-domain"), ("test_ood", "out-of-domain")):
            if d[split]["mean"] is not None and s[split]["mean"] is not None:
                diff = d[split]["mean"] - s[split]["mean"]
                verdict.append(f"{label} {diff * 100:+.1f} points")
        notes.append("DFT minus SFT (mean over seeds): " + ", ".join(verdict)
                     + ". Differences of a few points are within seed noise at these test sizes.")
    notes.append("DFT needs some prior on the target style: the lab's base model saw a small share of expert-style "
                 "solutions in pretraining (expert_prior_fraction). Without it DFT's token weights p are near zero and "
                 "training stalls; see docs/lab.md for the ablation.")
    return notes


