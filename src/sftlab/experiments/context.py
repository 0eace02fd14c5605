"""What a demo entry is and what it may use: :class:`DemoEntry`, the :class:`EntryContext` protocol, and
:class:`DemoContext`, its implementation on the lab (``sftlab compare`` has its own on the user's model and data,
:class:`sftlab.experiments.compare.CompareContext`).

An entry is data (name, label, group, recipe, default, section); its ``run``
and ``section`` functions reach the demo only through :class:`EntryContext`.
What entries share goes through the context's declared fields (``results``,
``notes``, ``adaptations``) or through runs on disk (``run_dir``), never
through attributes added on the fly.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol

from sftlab.config import help_meta as _h

from .recipes import LabRecipe, read_recipe

if TYPE_CHECKING:
    from sftlab.report import Section

SFT_RECIPE = "configs/lab/sft.yaml"  # the fine-tuning recipe of DemoContext.train (every entry that fine-tunes)
# test problems per split and seeds per method at each demo size: in-domain accuracy near 0.4 has a binomial standard
# error of 3.5 points on 200 problems, 2.4 for the mean of 2 seeds; 4.9 on 100 (--quick); 1.4 for 3 seeds x 400
EVAL_LIMIT = {"standard": 200, "quick": 100, "full": 400}
SEEDS = {"standard": 2, "quick": 1, "full": 3}


@dataclass
class DemoConfig:
    """Options of ``sftlab demo``."""

    quick: bool = field(
        default=False,
        metadata=_h(
            "A fast look (about 2 minutes on 2 cores): one seed, the core entries (base, SFT, DFT, ASFT, landscape), "
            "30-step runs, 100 test problems per split, same-label shots only in the landscape."
        ),
    )
    full: bool = field(
        default=False,
        metadata=_h(
            "The lab recipes as written (300-step runs, larger method budgets), 400 test problems per split, "
            "3 seeds: the sizes of the figures in docs/lab.md (an hour or more on 2 cores with --methods all)."
        ),
    )
    seeds: int | None = field(
        default=None, metadata=_h("Training seeds per method (default: 2; 1 with --quick, 3 with --full).")
    )
    output_dir: str = field(
        default="outputs/demo", metadata=_h("Where runs, report.html, metrics.json and summary.md go.")
    )
    methods: str | None = field(
        default=None,
        metadata=_h(
            "Comma-separated entries to run, or 'all' (default: the entries marked default, which fit the demo's time budget). See --list-methods."
        ),
    )
    list_methods: bool = field(default=False, metadata=_h("Print the demo's entries and exit."))
    steps: int | None = field(
        default=None,
        metadata=_h(
            "Optimizer steps per fine-tuning run (default: configs/lab/sft.yaml's at the demo's size: 80; 30 with "
            "--quick, 300 with --full)."
        ),
    )
    learning_rate: float | None = field(
        default=None,
        metadata=_h(
            "Peak learning rate of the lab's fine-tuning runs (default: configs/lab/sft.yaml's, 1e-3: tiny models take large steps)."
        ),
    )
    batch_size: int | None = field(
        default=None, metadata=_h("Sequences per optimizer step (default: configs/lab/sft.yaml's, 16).")
    )
    eval_limit: int | None = field(
        default=None,
        metadata=_h("Test problems per split (default: 200; 100 with --quick, 400 with --full)."),
    )
    max_new_tokens: int = field(default=160, metadata=_h("Generation budget per test problem."))
    examples: int = field(default=3, metadata=_h("Example generations per method shown in the report."))
    screenshot: bool = field(default=False, metadata=_h("Also save report.png (needs Chromium)."))
    fresh: bool = field(default=False, metadata=_h("Ignore cached runs in --output-dir and run everything again."))
    workers: int | None = field(
        default=None,
        metadata=_h(
            "Processes that run the demo's runs at once (the seeds of an entry, and entries that do not read each other's runs), each run on 1 torch thread whatever this number, so the results do not depend on it (default: the cores not busy with other work)."
        ),
    )
    verbose: bool = field(
        default=False,
        metadata=_h(
            "Show the methods' own output, third-party progress bars and weight-loading messages (default: one live view; the rest goes to console.log in --output-dir)."
        ),
    )
    cache_dir: str | None = field(
        default=None, metadata=_h("Lab build cache (default: $SFTLAB_CACHE or ~/.cache/sftlab/lab).")
    )


class EntryContext(Protocol):
    """What an entry's ``run`` and ``section`` may use of the runner (implemented by :class:`DemoContext` on the lab
    and by ``CompareContext`` on the user's model and data)."""

    cfg: Any  # DemoConfig or CompareConfig: both have ``fresh``
    lab: Any  # sftlab.lab.LabArtifacts: model_dir, data[split], info (the demo only; compare has no lab)
    model: str  # the starting model: the lab's, or compare's --model
    train_data: str  # the training set: the lab's expert-style train split, or compare's --data
    probe_data: str  # the records the landscape reads: the lab's in-domain test split, or compare's first eval set
    proxy_model: str | None  # the model S2L's proxy starts from: the lab's, or compare's --proxy-model
    mapper_model: str | None  # DART's initial mapper: compare's --mapper-model (default --model); None on the lab,
    # whose mapper is its own initialization (sftlab.methods.dart.lab_mapper)
    keep_proxy_checkpoints: bool  # SFT keeps evenly spaced checkpoints (the demo's S2L reads them as its proxy's)
    quick: bool
    size: str  # the demo's size: "standard", "quick" or "full" (compare: "full", its recipes as written)
    steps: int  # optimizer steps of a fine-tuning run (configs/lab/sft.yaml, or --steps)
    batch_size: int
    splits: list[str]
    selected: list[str]  # the entries this demo runs, in order
    results: dict[str, dict]  # entry name -> {"runs": [...]}, filled as entries finish
    notes: list[str]
    adaptations: dict[str, dict]  # adaptation summaries by name, shared by the seeds of DART-style entries

    def run_dir(self, name: str, seed: int | None) -> Path: ...

    def shared_dir(self, step: str) -> Path:
        """Where a step the seeds of an entry share keeps its files (compare: ``runs/<step>/<key>/``, keyed by what
        the step reads, e.g. ``s2l-proxy``, ``dart-adapt``)."""
        ...

    def recipe(self, path: str, cls, name: str | None = None) -> LabRecipe:
        """The settings of entry ``name`` (lab recipe ``path``) for config class ``cls``: the demo reads the lab
        recipe at its size; compare the entry's paper recipe with ``--set`` (``name`` tells apart the entries that
        share a lab recipe, e.g. dart and direct-rl)."""
        ...

    def add_note(self, text: str) -> None: ...

    def train(
        self, name: str, seed: int, *, data: str | None = None, model: str | None = None, **overrides
    ) -> dict: ...

    def evaluate(self, name: str, seed: int | None, model_dir: str, *, tag: str = "", k: int = 1) -> dict:
        """Greedy accuracy of ``model_dir`` on the test sets, cached in the run's folder (``tag``: another model
        of the same run, e.g. an earlier iteration, cached beside the run's own evaluation). ``k > 1`` adds
        ``sampled``: avg@k and pass@k from k samples per problem at temperature 1 (:func:`sampled_metrics`)."""
        ...

    def train_and_evaluate(self, name: str, seed: int, **train_kwargs) -> dict: ...

    def run_method(self, name: str, seed: int, fn: Callable[[Any], dict], cfg) -> dict:
        """``fn(cfg)``: a method's own command (run_irl, run_nft, run_dart, run_distill) for entry ``name``'s run of
        ``seed``; compare also caches its summary and measures its cost."""
        ...


RunFn = Callable[[EntryContext, "DemoEntry", "int | None"], dict]
PrepareFn = Callable[[EntryContext, "DemoEntry"], None]
SectionFn = Callable[[EntryContext, "list[DemoEntry]"], "Section | None"]


@dataclass(frozen=True)
class DemoEntry:
    """One entry of the demo, as data.

    ``run(ctx, entry, seed)`` returns a run dict (see :mod:`sftlab.report`);
    an entry with ``run=None`` only adds its group's section (an analysis, not
    a method). ``recipe`` names the lab recipe that holds its settings.
    ``section(ctx, entries)`` draws the report section of ``group``: the runner
    calls it once, after the last selected entry of the group, with the group's
    selected entries. ``options`` are the entry's own arguments to ``run``
    (e.g. the SFT objective). ``paper_recipe`` makes the entry one of
    ``sftlab compare``'s methods, with that recipe's settings read into
    ``config`` (the method's config class; compare forces ``options`` on it).
    ``prepare(ctx, entry)`` computes what the entry's seeds share (DART's
    adaptation, S2L's proxy), once, in the main process, before the seeds run
    (in worker processes with ``--workers``: they find it on disk or in
    ``ctx.adaptations``, never compute it twice or at once).
    """

    name: str
    label: str
    description: str
    group: str
    run: RunFn | None
    recipe: str | None = None
    default: bool = False  # part of a plain `sftlab demo`; others run with --methods all or by name
    quick: bool = False  # part of `sftlab demo --quick` (which must stay within about 2 minutes on 2 cores)
    section: SectionFn | None = None
    per_seed: bool = True  # False: deterministic, run once (e.g. evaluating the base model)
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    # `sftlab compare` runs the entry on the user's model and data with this paper recipe (configs/<method>.yaml);
    # "" = runs there without a recipe (the base model); None = the demo only
    paper_recipe: str | None = None
    config: type | None = None  # the config class of its recipes (TrainConfig, IRLConfig, ...): what --set checks
    prepare: PrepareFn | None = None  # what its seeds share, computed once before they run
    # the entries whose runs (or files) it reads: with workers it starts once those have finished, beside other
    # entries' runs; None = every entry before it in the list (the safe default)
    after: tuple[str, ...] | None = None
    accuracy: bool = True  # its runs report test accuracy (False: its section only, e.g. the protein pack's pass rates)

    def __reduce__(self):
        """Pickled (for a worker process) with ``options`` as a dict, since a mapping proxy does not pickle; ``run``
        travels by its module-level name. ``section`` and ``prepare`` stay behind: only the main process calls them
        (and a section may be a closure, which does not pickle)."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return (_entry_of, ({**fields, "options": dict(self.options), "section": None, "prepare": None},))


def _entry_of(fields: dict) -> DemoEntry:
    return DemoEntry(**{**fields, "options": MappingProxyType(fields["options"])})


def train_and_evaluate(ctx: EntryContext, name: str, seed: int, **train_kwargs) -> dict:
    """``ctx.train`` then ``ctx.evaluate`` of the trained model: the run dict with its seed, train time, curves and
    wall time (the :class:`EntryContext` method of both contexts)."""
    t0 = time.time()
    summary = ctx.train(name, seed, **train_kwargs)
    run = ctx.evaluate(name, seed, summary["output_dir"])
    run.update(
        seed=seed,
        train_seconds=summary["train_seconds"],
        curve=curve_of(summary["log_history"]),
        wall_seconds=time.time() - t0,
    )
    return run


class DemoContext:
    """The :class:`EntryContext` of a demo: the lab, the test items, the settings, and cached train/eval helpers."""

    def __init__(self, cfg: DemoConfig, lab, out: str | Path):
        from sftlab.data import eval_items, load_sft_data
        from sftlab.methods.sft import TrainConfig

        self.cfg, self.lab, self.out = cfg, lab, Path(out)
        self.model, self.train_data = str(lab.model_dir), str(lab.data["train"])
        self.probe_data = str(lab.data["test_id"])
        self.proxy_model, self.mapper_model = str(lab.model_dir), None
        self.keep_proxy_checkpoints = True
        self.quick = cfg.quick
        self.size = demo_size(cfg)
        self.sft = read_recipe(SFT_RECIPE, TrainConfig, size=self.size)
        self.steps: int = cfg.steps or self.sft.options["max_steps"]
        self.learning_rate: float = cfg.learning_rate or self.sft.options["learning_rate"]
        self.batch_size: int = cfg.batch_size or self.sft.options["per_device_train_batch_size"]
        limit = cfg.eval_limit or EVAL_LIMIT[self.size]
        self.splits = ["test_id", "test_ood"]
        self.items = {split: eval_items(load_sft_data(str(lab.data[split])))[:limit] for split in self.splits}
        self.selected: list[str] = []
        self.results: dict[str, dict] = {}
        self.notes: list[str] = []
        self.adaptations: dict[str, dict] = {}

    def run_dir(self, name: str, seed: int | None) -> Path:
        return self.out / "runs" / name / ("once" if seed is None else f"seed{seed}")

    def shared_dir(self, step: str) -> Path:
        return self.run_dir(step, None)

    def recipe(self, path: str, cls, name: str | None = None) -> LabRecipe:
        """Lab recipe ``path`` for config class ``cls``, at this demo's size (every entry naming it reads the same)."""
        return read_recipe(path, cls, size=self.size)

    def add_note(self, text: str) -> None:
        """A note for the report, once however many entries add it."""
        if text not in self.notes:
            self.notes.append(text)

    def train(self, name: str, seed: int, *, data: str | None = None, model: str | None = None, **overrides) -> dict:
        """Fine-tune on the lab with configs/lab/sft.yaml (default: the expert-style train split); cached.
        Returns the train summary."""
        from sftlab.methods.sft import TrainConfig, run_train

        run_dir = self.run_dir(name, seed)
        done = run_dir / "model" / "train_summary.json"
        if done.is_file() and not self.cfg.fresh:
            return json.loads(done.read_text())
        cfg = TrainConfig(**{
            **self.sft.options, "model": model or str(self.lab.model_dir), "data": data or str(self.lab.data["train"]),
            "output_dir": str(run_dir / "model"), "max_steps": self.steps, "learning_rate": self.learning_rate,
            "per_device_train_batch_size": self.batch_size, "logging_steps": max(1, self.steps // 20),
            "save_steps": 10**9, "save_total_limit": None, "seed": seed, "progress": False, **overrides,
        })  # fmt: skip
        return run_train(cfg)

    def evaluate(self, name: str, seed: int | None, model_dir: str, *, tag: str = "", k: int = 1) -> dict:
        """Greedy accuracy on the in-domain and OOD test items; cached (``tag``: under ``eval/<tag>/``; ``k > 1``:
        under ``eval/<tag>/k<k>/``). Returns accuracy, n and examples, and with ``k > 1`` ``sampled``."""
        from sftlab.evaluation import evaluate
        from sftlab.generation import SamplingConfig
        from sftlab.models import load_model_and_tokenizer

        eval_dir = self.run_dir(name, seed) / "eval" / tag / (f"k{k}" if k > 1 else "")
        if not (eval_dir / "metrics.json").is_file() or self.cfg.fresh:
            model, tok = load_model_and_tokenizer(model_dir, "infer")
            evaluate(
                model,
                tok,
                self.items,
                # greedy: 64 prompts a batch (faster than 128 on CPU, the same completions: benchmarks/eval_batch.py);
                # k samples (T=1) stay in batches of 128, which the seeded draws depend on
                sampling=SamplingConfig(max_new_tokens=self.cfg.max_new_tokens, batch_size=64 if k == 1 else 128),
                k=k,
                output_dir=str(eval_dir),
                progress=False,
            )
        metrics = json.loads((eval_dir / "metrics.json").read_text())
        examples = _examples(eval_dir / "generations.jsonl", self.cfg.examples)
        splits = metrics["splits"]
        return {
            "accuracy": {s: splits[s]["accuracy"] for s in self.splits},
            "n": {s: splits[s]["n"] for s in self.splits},
            "examples": examples,
            **sampled_metrics(metrics, self.splits),
        }

    def train_and_evaluate(self, name: str, seed: int, **train_kwargs) -> dict:
        return train_and_evaluate(self, name, seed, **train_kwargs)

    def run_method(self, name: str, seed: int, fn: Callable[[Any], dict], cfg) -> dict:
        """``fn(cfg)``: the method resumes from its own output folder."""
        return fn(cfg)


def demo_size(cfg: DemoConfig) -> str:
    """The size ``cfg`` asks for: "quick", "full" or "standard" (a plain demo)."""
    from sftlab.errors import SftlabError

    if cfg.quick and cfg.full:
        raise SftlabError("--quick and --full: choose one size")
    return "quick" if cfg.quick else "full" if cfg.full else "standard"


def curve_of(log_history: list[dict]) -> dict:
    rows = [h for h in log_history if "loss" in h and "nll" in h]
    return {"step": [h["step"] for h in rows], "objective": [h["loss"] for h in rows], "nll": [h["nll"] for h in rows]}


def sampled_metrics(metrics: dict, splits) -> dict:
    """``{"sampled": {"k", "temperature", "avg": {split: avg@k}, "pass": {split: pass@k}}}`` from an evaluation's
    metrics.json when it drew k > 1 samples per problem, else ``{}``."""
    k = int(metrics.get("k") or 1)
    if k <= 1:
        return {}
    by_split = metrics["splits"]
    return {
        "sampled": {
            "k": k,
            "temperature": (metrics.get("sampling") or {}).get("temperature"),
            "avg": {s: by_split[s][f"avg@{k}"] for s in splits},
            "pass": {s: by_split[s][f"pass@{k}"] for s in splits},
        }
    }


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
                rows.append(
                    {
                        "split": r["split"],
                        "prompt": r["prompt"],
                        "completion": r["completion"],
                        "answer": r["reference"],
                        "correct": r["correct"],
                    }
                )
    return rows
