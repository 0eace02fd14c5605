"""``sftlab compare``: the demo's runner on the user's model, training set and named eval sets, over seeds.

The methods are the demo's entries that carry a ``paper_recipe`` (see :mod:`sftlab.experiments.registry`); each
trains with its paper recipe (``configs/<method>.yaml``), changed with ``--set METHOD.FIELD=VALUE``. Everything
the inputs decide is checked before any model loads (:func:`plan_compare`): one line and exit code 2.

Runs are cached by what they depend on: ``runs/<method>/<key>/seed<k>/``, where ``key`` hashes the method's
resolved settings and the fingerprints of the model and the training set; a run's evaluation lies under it in
``eval/<key>/``, keyed by the eval sets' fingerprints and the evaluation settings. A finished run is reused, a
changed setting is a new run, and an interrupted comparison resumes (from the last checkpoint of an unfinished
training run).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from sftlab.config import help_meta as _h
from sftlab.config import read_yaml, recipe_values
from sftlab.errors import SftlabError

from .context import DemoEntry, curve_of
from .entries import irl as irl_entry
from .recipes import LabRecipe
from .registry import BY_NAME, ENTRIES

DEFAULT_METHODS = "base,sft,dft,asft"
# settings compare decides for every method (the inputs, where runs go, what is shared by the evaluation)
RESERVED = {"model": "--model", "data": "--data", "output_dir": "--output-dir", "seed": "--seeds",
            "objective": "the method", "prompt_template": "--prompt-template", "trust_remote_code": "--trust-remote-code",
            "progress": "compare", "resume": "compare", "method": "the method", "prompts": "--data",
            "pack": "compare (the math pack)", "evaluate": "compare's own evaluation (--eval)"}
# what the demo's other entries need that compare's inputs do not give yet: said in one line, before anything runs
NEEDS = {
    "s2l": "S2L needs a small proxy model's loss trajectories (sftlab select --proxy-model ...); compare takes no "
           "proxy model yet",
    "random-subset": "random-subset is S2L's baseline and runs beside S2L, which needs a proxy model; compare takes "
                     "no proxy model yet",
    "dart": "DART needs reference answers in the training set for its gate and a mapper model (sftlab dart); compare "
            "does not run it yet",
    "landscape": "the landscape needs a label field to cluster by (sftlab landscape --label-field ...); compare does "
                 "not run it yet",
}
# methods whose reward or filter is a verifier: the training set must hold reference answers
NEEDS_ANSWERS = {
    "nft": "NFT rewards sampled answers by checking them against the training set's reference answers",
    "direct-rl": "direct RL (GRPO with the correctness reward) checks sampled answers against the training set's "
                 "reference answers",
    "distill": "self-distillation keeps the samples whose answer matches the training set's reference answer",
}
NEEDS_REASONING = {"direct-rl"}  # GRPO prompts are the records' questions: question/solution/answer records only
# IRFT, SPIN and RFT start from the SFT run of the same seed (the sft method's run, shared when sft is compared too)
STARTS_FROM_SFT = {"irft", "spin", "rft"} if irl_entry.START == "sft" else set()


@dataclass
class CompareConfig:
    """Options of ``sftlab compare``."""

    model: str | None = field(default=None, metadata=_h("Hugging Face model id or local path: the starting model of every method."))
    data: str | None = field(default=None, metadata=_h("Training set: .jsonl/.json/.parquet, a save_to_disk folder, or a hub id 'name[:split]' (the formats of sftlab train)."))
    eval: list[str] = field(default_factory=list, metadata=_h("An eval set as NAME=PATH (e.g. in-domain=test.jsonl, ood=other.jsonl); give the flag once per set. Every record needs a reference answer."))
    methods: str = field(default=DEFAULT_METHODS, metadata=_h("Comma-separated methods to compare (see docs/compare.md)."))
    seeds: int = field(default=2, metadata=_h("Training seeds per method (0, 1, ...); the base model is evaluated once."))
    set: list[str] = field(default_factory=list, metadata=_h("Change one setting of a method's recipe: METHOD.FIELD=VALUE (e.g. dft.learning_rate=5e-5), or *.FIELD=VALUE for every trained method that has the field."))
    output_dir: str = field(default="outputs/compare", metadata=_h("Where runs, report.html, metrics.json and summary.md go."))
    recipes_dir: str | None = field(default=None, metadata=_h("Folder of the methods' recipes (<method>.yaml). Default: the configs/ folder of the sftlab checkout, else ./configs."))
    prompt_template: str | None = field(default=None, metadata=_h("Template with a {question} slot for reasoning records, for training and evaluation alike. Default: the tokenizer's chat template, else 'Question: ...\\nSolution:'."))
    trust_remote_code: bool = field(default=False, metadata=_h("Allow model code from the hub (off unless you ask)."))
    max_new_tokens: int = field(default=256, metadata=_h("Generation budget per eval problem."))
    eval_limit: int | None = field(default=None, metadata=_h("Evaluate at most this many problems per eval set (the first ones)."))
    eval_batch_size: int = field(default=64, metadata=_h("Prompts per generation batch."))
    mode: str = field(default="math", metadata=_h("Answer comparison: exact (normalized strings) or math (math-verify equivalence).", choices=["exact", "math"]))
    examples: int = field(default=3, metadata=_h("Example generations per method shown in the report."))
    fresh: bool = field(default=False, metadata=_h("Ignore cached runs in --output-dir and run everything again."))
    verbose: bool = field(default=False, metadata=_h("Show the methods' own output, third-party progress bars and weight-loading messages (default: one live view; the rest goes to console.log in --output-dir)."))


@dataclass
class ComparePlan:
    """What :func:`plan_compare` checked: the entries to run, their resolved settings, the eval sets, the keys."""

    entries: list[DemoEntry]
    settings: dict[str, dict]  # method -> its resolved recipe options (fields of its config class, --set applied);
    # also "sft" when a method starts from the SFT run (STARTS_FROM_SFT) and sft is not compared
    recipes: dict[str, str]  # method -> the recipe file read
    evals: dict[str, str]  # eval name -> source
    eval_data: dict  # eval name -> SFTData
    skipped: dict[str, int]  # eval name -> records without a reference answer
    fingerprints: dict[str, str]  # "model", "data", "eval:<name>" -> fingerprint
    seeds: list[int]


def compare_entries() -> list[DemoEntry]:
    """The demo's entries that compare can run on the user's inputs, in run order."""
    return [e for e in ENTRIES if e.paper_recipe is not None]


def plan_compare(cfg: CompareConfig) -> ComparePlan:
    """Check everything the inputs and flags decide, without loading a model; one ``SftlabError`` line otherwise."""
    from sftlab.data import load_sft_data

    if not cfg.model:
        raise SftlabError("--model is required (sftlab demo runs the same comparison on the embedded lab)")
    if not cfg.data:
        raise SftlabError("--data is required: the training set every method trains on")
    if not cfg.eval:
        raise SftlabError("--eval NAME=PATH is required (once per eval set), e.g. --eval in-domain=test.jsonl")
    if cfg.seeds < 1:
        raise SftlabError(f"--seeds: must be at least 1, got {cfg.seeds}")
    for name in ("max_new_tokens", "eval_batch_size"):
        if getattr(cfg, name) < 1:
            raise SftlabError(f"--{name.replace('_', '-')}: must be at least 1, got {getattr(cfg, name)}")
    if cfg.eval_limit is not None and cfg.eval_limit < 1:
        raise SftlabError(f"--eval-limit: must be at least 1, got {cfg.eval_limit}")
    entries = _methods(cfg.methods)
    evals = _eval_sources(cfg.eval)
    recipes, settings = {}, {}
    trained = [e for e in entries if e.paper_recipe]
    if any(e.name in STARTS_FROM_SFT for e in entries) and "sft" not in [e.name for e in trained]:
        trained.insert(0, BY_NAME["sft"])  # the starting point's recipe: --set sft.FIELD changes it
    overrides = _parse_sets(cfg.set, [e.name for e in trained])
    for e in trained:
        recipes[e.name], settings[e.name] = _resolve(e, cfg, overrides.get(e.name, {}))
    eval_data, skipped = {}, {}
    for name, source in evals.items():
        eval_data[name] = load_sft_data(source)  # validated: one line naming the record otherwise
        answers = [_reference_answer(r, eval_data[name].format) for r in eval_data[name].records]
        scorable = sum(a is not None for a in answers[: cfg.eval_limit])
        if not scorable:
            raise SftlabError(f"--eval {name}={source}: no record has a reference answer (an 'answer' field, or a "
                              "stated final answer in the completion), so it cannot be scored")
        skipped[name] = sum(a is None for a in answers[: cfg.eval_limit])
    if any(settings):
        train = load_sft_data(cfg.data)  # the training set validated before any model loads
        _check_needs(entries, train, cfg.data)
    fingerprints = {"model": fingerprint(cfg.model), "data": fingerprint(cfg.data),
                    **{f"eval:{n}": fingerprint(s) for n, s in evals.items()}}
    return ComparePlan(entries, settings, recipes, evals, eval_data, skipped, fingerprints, list(range(cfg.seeds)))


def _check_needs(entries: list[DemoEntry], train, source: str) -> None:
    """What a method needs of the training set that plain fine-tuning does not: reference answers, question records."""
    answered = None
    for e in entries:
        if e.name in NEEDS_REASONING and train.format != "reasoning":
            raise SftlabError(f"--methods {e.name}: {NEEDS_ANSWERS[e.name]}, and takes question/solution/answer "
                              f"records; --data {source} holds {train.format} records")
        if e.name in NEEDS_ANSWERS:
            if answered is None:
                answered = sum(_reference_answer(r, train.format) is not None for r in train.records)
            if not answered:
                raise SftlabError(f"--methods {e.name}: {NEEDS_ANSWERS[e.name]}; no record of --data {source} has one "
                                  "(an 'answer' field, or a stated final answer in the completion)")


def _methods(methods: str) -> list[DemoEntry]:
    names = [m.strip() for m in (methods or "").split(",") if m.strip()]
    if not names:
        raise SftlabError("--methods: name at least one method")
    available = [e.name for e in compare_entries()]
    for n in names:
        if n in NEEDS:
            raise SftlabError(f"--methods {n}: {NEEDS[n]}")
        if n not in available:
            where = "runs in sftlab demo only for now" if n in BY_NAME else "is not a method"
            raise SftlabError(f"--methods: '{n}' {where}; compare runs: {', '.join(available)}")
    return [e for e in compare_entries() if e.name in names]  # the entry list's order


def _eval_sources(values: list[str]) -> dict[str, str]:
    evals = {}
    for value in values:
        name, sep, source = value.partition("=")
        name, source = name.strip(), source.strip()
        if not sep or not name or not source:
            raise SftlabError(f"--eval {value}: expected NAME=PATH, e.g. --eval ood=ood_test.jsonl")
        if name in evals:
            raise SftlabError(f"--eval: the name '{name}' is given twice")
        evals[name] = source
    return evals


def _parse_sets(values: list[str], trained: list[str]) -> dict[str, dict]:
    """``["dft.learning_rate=5e-5", "*.max_steps=3"]`` -> {method: {field: raw value}}; '*' expands to every
    trained method (its fields checked per method later)."""
    out: dict[str, dict] = {m: {} for m in trained}
    wildcard: dict = {}
    for value in values:
        key, sep, raw = value.partition("=")
        method, dot, name = key.strip().partition(".")
        if not sep or not dot or not method or not name:
            raise SftlabError(f"--set {value}: expected METHOD.FIELD=VALUE, e.g. --set dft.learning_rate=5e-5")
        name = name.replace("-", "_")
        if name in RESERVED:
            raise SftlabError(f"--set {value}: '{name}' is set by {RESERVED[name]}, not per method")
        parsed = yaml.safe_load(raw) if raw.strip() else None
        if method == "*":
            wildcard[name] = parsed
        elif method not in out:
            no_recipe = method in BY_NAME and BY_NAME[method].paper_recipe == ""
            why = "has no recipe (nothing to set)" if no_recipe else "is not among --methods"
            raise SftlabError(f"--set {value}: method '{method}' {why}; trained here: {', '.join(trained) or 'none'}")
        else:
            out[method][name] = parsed
    for m in trained:
        out[m] = {**{k: v for k, v in wildcard.items() if k not in out[m]}, "*": set(wildcard), **out[m]}
    return out


# what compare sets unless a recipe or --set says otherwise, where the method has the field
COMPARE_DEFAULTS = {
    "logging_steps": 1,  # every step logged: the curves' points, and "tokens trained" read from the last log
    "keep_checkpoints": False,  # IRL: an iteration's model is deleted once the next is complete (one model per run)
}
HELP = {"TrainConfig": "sftlab train --help", "IRLConfig": "sftlab train --method irft --help",
        "NFTTrainConfig": "sftlab train --method nft --help", "DartConfig": "sftlab dart --help",
        "DistillConfig": "sftlab distill --help"}


def _resolve(entry: DemoEntry, cfg: CompareConfig, overrides: dict) -> tuple[str, dict]:
    """The entry's paper recipe with ``overrides`` applied, checked by building its config (no model loads)."""
    cls = entry.config
    path = recipe_path(entry.paper_recipe, cfg.recipes_dir)
    options = recipe_values(read_yaml(path.read_text(encoding="utf-8"), str(path)), cls, str(path))
    names = {f.name for f in dataclasses.fields(cls)}
    for name, value in COMPARE_DEFAULTS.items():
        if name in names:
            options.setdefault(name, value)
    wildcard = overrides.pop("*", set())
    for name, value in overrides.items():
        if name not in names:
            if name in wildcard:
                continue  # '*' applies where the field exists
            raise SftlabError(f"--set {entry.name}.{name}: unknown setting for {entry.name} (a field of "
                              f"{cls.__name__}; see {HELP.get(cls.__name__, 'the method --help')})")
        options.update(recipe_values({name: value}, cls, f"--set {entry.name}.{name}"))
    options.update({k: v for k, v in entry.options.items() if k in names})  # the method itself (objective, ...)
    try:
        full_options(entry, options, cfg)
    except (SftlabError, TypeError) as e:
        raise SftlabError(f"{entry.name} ({path.name} + --set): {e}") from None
    return str(path), options


def full_options(entry: DemoEntry, options: dict, cfg: CompareConfig) -> dict:
    """Every field of the entry's config class: ``options`` on the inputs, the rest the class's defaults (the config
    is built, so it checks itself); without the inputs."""
    names = {f.name for f in dataclasses.fields(entry.config)}
    inputs = {"model": cfg.model, ("prompts" if "prompts" in names else "data"): cfg.data}
    built = asdict(entry.config(**{**options, **inputs}))
    return {k: v for k, v in built.items() if k not in inputs}


def recipe_path(recipe: str, recipes_dir: str | None) -> Path:
    """Where ``configs/<name>.yaml`` is: under ``--recipes-dir``, the sftlab checkout's configs/, or ./configs."""
    name = Path(recipe).name
    if recipes_dir:
        candidates = [Path(recipes_dir) / name]
    else:
        checkout = Path(__file__).resolve().parents[3] / "configs"  # src/sftlab/experiments/compare.py -> repo root
        candidates = [checkout / name, Path("configs") / name]
    for path in candidates:
        if path.is_file():
            return path
    raise SftlabError(f"recipe {name} not found (looked in {', '.join(str(p.parent) for p in candidates)}); "
                      "pass --recipes-dir with the folder of the sftlab recipes")


def _reference_answer(record: dict, fmt: str) -> str | None:
    """The reference answer evaluation would score against (as :func:`sftlab.data.eval_items` finds it)."""
    from sftlab.verify import extract_answer

    if record.get("answer") is not None or fmt == "reasoning":
        return record.get("answer")
    if fmt == "messages":
        text = [m for m in record["messages"] if m["role"] == "assistant"][-1]["content"]
    elif isinstance(record.get("completion"), str):
        text = record["completion"]
    else:
        text = [m for m in record["completion"] if m["role"] == "assistant"][-1]["content"]
    return extract_answer(text, strict=True) if text else None


def fingerprint(source: str) -> str:
    """What a cached run depends on in ``source``: a file's content hash; for a folder, each file's name, size and
    content hash (files over 64 MiB, e.g. weights: name, size and modification time); a hub id as written."""
    path = Path(source)
    if path.is_file():
        return "sha256:" + _file_hash(path)
    if path.is_dir():
        h = hashlib.sha256()
        for f in sorted(p for p in path.rglob("*") if p.is_file()):
            stat = f.stat()
            part = _file_hash(f) if stat.st_size <= 64 << 20 else f"{stat.st_size}:{stat.st_mtime_ns}"
            h.update(f"{f.relative_to(path)}\0{stat.st_size}\0{part}\n".encode())
        return "dir:" + h.hexdigest()
    return "hub:" + source


def _file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _key(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:12]


class CompareContext:
    """The :class:`~sftlab.experiments.context.EntryContext` of ``sftlab compare``: the user's model, training set
    and eval sets, each method's resolved recipe, and cached train/eval helpers that also measure cost."""

    lab = None  # no lab: the entries compare runs read ctx.model and ctx.train_data
    quick = False
    keep_proxy_checkpoints = False  # no S2L here: a run keeps its recipe's checkpoints, for resuming only

    def __init__(self, cfg: CompareConfig, plan: ComparePlan, out: str | Path):
        self.cfg, self.plan, self.out = cfg, plan, Path(out)
        self.model, self.train_data = cfg.model, cfg.data
        sft = plan.settings.get("sft") or next(iter(plan.settings.values()), {})
        self.steps: int = sft.get("max_steps", -1)
        self.batch_size: int = sft.get("per_device_train_batch_size", 8)
        self.splits = list(plan.evals)
        self.selected = [e.name for e in plan.entries]
        self.results: dict[str, dict] = {}
        self.notes: list[str] = []
        self.adaptations: dict[str, dict] = {}
        self._items: dict[str, list[dict]] | None = None
        self.eval_key = _key({"evals": {n: plan.fingerprints[f"eval:{n}"] for n in plan.evals},
                              "max_new_tokens": cfg.max_new_tokens, "limit": cfg.eval_limit, "mode": cfg.mode,
                              "prompt_template": cfg.prompt_template})

    def run_key(self, name: str) -> str:
        """The hash a method's runs are filed under: its resolved settings, the model's and the data's fingerprints."""
        fp = self.plan.fingerprints
        if name not in self.plan.settings:  # the base model: nothing trained
            return _key({"method": name, "model": fp["model"]})
        key = {"method": name, "settings": self.plan.settings[name], "model": fp["model"], "data": fp["data"],
               "prompt_template": self.cfg.prompt_template}
        if name in STARTS_FROM_SFT:
            key["start"] = self.run_key("sft")  # a changed SFT run is a new starting point
        return _key(key)

    def run_dir(self, name: str, seed: int | None) -> Path:
        return self.out / "runs" / name / self.run_key(name) / ("once" if seed is None else f"seed{seed}")

    def recipe(self, path: str, cls) -> LabRecipe:
        """What an entry asks for by its lab recipe ``path``: here the paper recipe of the compared entry with that
        lab recipe, ``--set`` applied, every field of ``cls`` filled (the class's defaults where the recipe is
        silent)."""
        [entry] = [e for e in self.plan.entries if e.recipe == path and e.name in self.plan.settings] or [None]
        if entry is None or entry.config is not cls:
            raise SftlabError(f"{path}: compare runs methods with their paper recipes, not the lab's")
        return LabRecipe(self.plan.recipes[entry.name], full_options(entry, self.plan.settings[entry.name], self.cfg))

    def add_note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def train(self, name: str, seed: int, *, data: str | None = None, model: str | None = None, **overrides) -> dict:
        """Fine-tune ``model`` (default --model) on ``data`` (default --data) with the method's resolved recipe;
        cached. An unfinished run resumes from its last checkpoint. Returns the train summary."""
        from sftlab.methods.sft import TrainConfig, run_train

        run_dir = self.run_dir(name, seed)
        done = run_dir / "model" / "train_summary.json"
        if done.is_file() and not self.cfg.fresh:
            return json.loads(done.read_text())
        resume = not self.cfg.fresh and any((run_dir / "model").glob("checkpoint-*"))
        cfg = TrainConfig(**{
            **self.plan.settings[name], "model": model or self.model, "data": data or self.train_data,
            "output_dir": str(run_dir / "model"), "seed": seed, "progress": False, "resume": resume,
            "prompt_template": self.cfg.prompt_template, "trust_remote_code": self.cfg.trust_remote_code, **overrides,
        })  # fmt: skip
        self._write_settings(name, run_dir)
        _reset_peak_memory()
        t0 = time.time()
        summary = run_train(cfg)
        for checkpoint in (run_dir / "model").glob("checkpoint-*"):  # finished: the final model is what is compared
            shutil.rmtree(checkpoint, ignore_errors=True)
        tokens = [h["num_tokens"] for h in summary["log_history"] if "num_tokens" in h]
        _write_json(run_dir / "train_cost.json", {"wall_seconds": time.time() - t0,
                                                  "tokens_trained": max(tokens) if tokens else None, **_peak_memory()})
        return summary

    def run_method(self, name: str, seed: int, fn, cfg) -> dict:
        """``fn(cfg)`` (a method's own command) for the run of ``name`` and ``seed``, cached: its summary is kept in
        the run's folder; an unfinished run resumes as the method does (IRL iterations, distill rounds, RL
        checkpoints). Measures the run's cost as :meth:`train` does."""
        run_dir = self.run_dir(name, seed)
        done = run_dir / "summary.json"
        if done.is_file() and not self.cfg.fresh:
            return json.loads(done.read_text())
        self._write_settings(name, run_dir)
        _reset_peak_memory()
        t0 = time.time()
        summary = fn(cfg)
        logs = summary.get("log_history") or []
        tokens = [h["num_tokens"] for h in logs if "num_tokens" in h]
        _write_json(run_dir / "train_cost.json", {"wall_seconds": time.time() - t0,
                                                  "tokens_trained": max(tokens) if tokens else None, **_peak_memory()})
        _write_json(done, json.loads(json.dumps(summary, default=str)))
        return summary

    def _write_settings(self, name: str, run_dir: Path) -> None:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir.parent / "settings.json").write_text(json.dumps(
            {"method": name, "recipe": self.plan.recipes[name], "settings": self.plan.settings[name],
             "fingerprints": {k: v for k, v in self.plan.fingerprints.items() if not k.startswith("eval:")},
             **({"start": f"runs/sft/{self.run_key('sft')}"} if name in STARTS_FROM_SFT else {})},
            indent=2, default=str))

    def evaluate(self, name: str, seed: int | None, model_dir: str) -> dict:
        """Greedy accuracy on every eval set; cached under the run's ``eval/<key>/``. Returns accuracy, n, examples."""
        from sftlab.evaluation import evaluate
        from sftlab.generation import SamplingConfig
        from sftlab.models import load_model_and_tokenizer

        eval_dir = self.run_dir(name, seed) / "eval" / self.eval_key
        if not (eval_dir / "metrics.json").is_file() or self.cfg.fresh:
            items = self.items()
            _reset_peak_memory()
            t0 = time.time()
            model, tok = load_model_and_tokenizer(model_dir, "infer", trust_remote_code=self.cfg.trust_remote_code)
            evaluate(model, tok, items, sampling=SamplingConfig(max_new_tokens=self.cfg.max_new_tokens,
                     batch_size=self.cfg.eval_batch_size), mode=self.cfg.mode, output_dir=str(eval_dir),
                     progress=False, extra={"model": model_dir, "data": self.plan.evals})
            del model
            _write_json(eval_dir / "eval_cost.json", {"wall_seconds": time.time() - t0, **_peak_memory()})
        metrics = json.loads((eval_dir / "metrics.json").read_text())
        splits = metrics["splits"]
        return {"accuracy": {s: splits[s]["accuracy"] for s in self.splits}, "n": {s: splits[s]["n"] for s in self.splits},
                "examples": _examples(eval_dir / "generations.jsonl", self.cfg.examples, self.splits),
                "cost": self.cost(name, seed, eval_dir)}

    def train_and_evaluate(self, name: str, seed: int, **train_kwargs) -> dict:
        t0 = time.time()
        summary = self.train(name, seed, **train_kwargs)
        run = self.evaluate(name, seed, summary["output_dir"])
        run.update(seed=seed, train_seconds=summary["train_seconds"], curve=curve_of(summary["log_history"]),
                   wall_seconds=time.time() - t0)
        return run

    def cost(self, name: str, seed: int | None, eval_dir: Path) -> dict:
        """Wall time (training + evaluation, as measured when each ran, so a cached run keeps its figures), tokens
        trained and peak memory of one run."""
        parts = [_read_json(self.run_dir(name, seed) / "train_cost.json"), _read_json(eval_dir / "eval_cost.json")]
        parts = [p for p in parts if p]
        peaks = [p["peak_memory_bytes"] for p in parts if p.get("peak_memory_bytes")]
        return {"wall_seconds": sum(p["wall_seconds"] for p in parts) if parts else None,
                "tokens_trained": next((p["tokens_trained"] for p in parts if "tokens_trained" in p), None),
                "peak_memory_bytes": max(peaks) if peaks else None,
                "peak_memory_kind": next((p["peak_memory_kind"] for p in parts if "peak_memory_kind" in p), None)}

    def items(self) -> dict[str, list[dict]]:
        """The eval sets' items, prompts rendered with the model's tokenizer (as training renders them)."""
        if self._items is None:
            from sftlab.data import eval_items
            from sftlab.models import load_tokenizer

            tok = load_tokenizer(self.model, trust_remote_code=self.cfg.trust_remote_code)
            self._items = {n: eval_items(d, tok, prompt_template=self.cfg.prompt_template)[: self.cfg.eval_limit]
                           for n, d in self.plan.eval_data.items()}
        return self._items


def run_compare(cfg: CompareConfig) -> dict:
    """Plan (every check, nothing loaded), run the entries through the shared runner, write the report."""
    from sftlab.console import RunView

    from .runner import count_runs, results_table, run_entries, write_comparison

    plan = plan_compare(cfg)
    t_start = time.time()
    out = Path(cfg.output_dir)
    ctx = CompareContext(cfg, plan, out)
    names = [e.name for e in plan.entries]
    print(f"sftlab compare: {cfg.model} on {cfg.data}; eval sets {list(plan.evals)}; methods {names}; "
          f"seeds {plan.seeds}")
    labels = {n: n for n in plan.evals}
    total = count_runs(plan.entries, plan.seeds)
    with RunView(total, title="sftlab compare", verbose=cfg.verbose, log=out / "console.log") as view:
        methods, sections, timings = run_entries(ctx, plan.entries, plan.seeds, describe=lambda e: _describe(e, plan),
                                                 view=view)
        config = {"compare": asdict(cfg), "recipes": plan.recipes, "settings": plan.settings,
                  "fingerprints": plan.fingerprints}
        notes = [*ctx.notes, *_notes(plan, cfg)]
        metrics, paths = write_comparison(
            out, title=f"sftlab compare: {cfg.model}", config=config, seeds=plan.seeds, splits=ctx.splits,
            labels=labels, methods=methods, notes=notes, sections=sections,
            data={"seconds": timings, "total_seconds": time.time() - t_start})
    results_table(view, methods, ctx.splits, labels)
    if not cfg.verbose:
        print(f"sftlab compare: what the runs printed is in {out / 'console.log'}")
    print(f"sftlab compare: report at {out / 'report.html'} (metrics.json, summary.md beside it); "
          f"{time.time() - t_start:.0f} s")
    return {"metrics": metrics, "paths": paths}


def _describe(entry: DemoEntry, plan: ComparePlan) -> str:
    if entry.name not in plan.settings:
        return "The model as given (--model), before any fine-tuning."
    s = plan.settings[entry.name]
    paper = entry.description.split(":")[0] if ":" in entry.description else entry.label
    recipe = Path(plan.recipes[entry.name]).name
    if entry.config.__name__ != "TrainConfig":  # the method's own loop: its recipe's main knobs
        start = "; from the SFT run of the same seed" if entry.name in STARTS_FROM_SFT else ""
        knobs = ", ".join(f"{k.replace('_', ' ')} {s[k]:g}" for k in ("iterations", "rounds", "rl_steps", "max_steps",
                                                                      "learning_rate", "rl_learning_rate", "beta")
                          if isinstance(s.get(k), int | float) and not isinstance(s[k], bool))
        return f"{paper.replace(' on the lab model', '')}: {recipe}, {knobs}{start}."
    length = f"{s['max_steps']} steps" if s.get("max_steps", -1) > 0 else f"{s.get('num_train_epochs', 1):g} epoch(s)"
    return (f"{paper}: {recipe}, lr {s.get('learning_rate', 5e-5):g}, {length}, batch "
            f"{s.get('per_device_train_batch_size', 8)} x {s.get('gradient_accumulation_steps', 1)}.")


def _notes(plan: ComparePlan, cfg: CompareConfig) -> list[str]:
    notes = ["Eval sets: " + ", ".join(f"{n} = {s}" for n, s in plan.evals.items()) + ". Greedy decoding, "
             f"{cfg.max_new_tokens} new tokens, answers compared in '{cfg.mode}' mode."]
    for name, n in plan.skipped.items():
        if n:
            notes.append(f"{name}: {n} records without a reference answer were skipped (not scored, not in n).")
    if len(plan.seeds) >= 2:
        notes.append(f"Intervals: 95% Student-t over {len(plan.seeds)} seeds (t with {len(plan.seeds) - 1} degrees of "
                     "freedom); they cover seed noise only, not the sampling of the eval problems.")
    return notes


def _examples(path: Path, n: int, splits: list[str]) -> list[dict]:
    """Up to ``n`` greedy generations, taken in turn from each eval set."""
    by_split: dict[str, list[dict]] = {s: [] for s in splits}
    with open(path, encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if r.get("kind", "greedy") == "greedy" and len(by_split.get(r["split"], [None] * n)) < n:
                by_split[r["split"]].append({"split": r["split"], "prompt": r["prompt"], "completion": r["completion"],
                                             "answer": r["reference"], "correct": r["correct"]})
    rows = []
    for i in range(n):
        rows += [by_split[s][i] for s in splits if i < len(by_split[s])]
    return rows[:n]


def _reset_peak_memory() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()


def _peak_memory() -> dict:
    """GPU: the bytes torch allocated at most since the last reset; CPU: the process's max RSS so far."""
    import torch

    if torch.cuda.is_available():
        return {"peak_memory_bytes": int(torch.cuda.max_memory_allocated()), "peak_memory_kind": "cuda"}
    import resource
    import sys

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return {"peak_memory_bytes": int(rss if sys.platform == "darwin" else rss * 1024), "peak_memory_kind": "max_rss"}


def _write_json(path: Path, obj: dict) -> None:
    from sftlab.io import atomic_write_json

    atomic_write_json(path, obj)


def _read_json(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


__all__ = ["CompareConfig", "CompareContext", "ComparePlan", "compare_entries", "fingerprint", "plan_compare",
           "run_compare"]
