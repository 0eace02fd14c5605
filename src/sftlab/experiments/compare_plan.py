"""``sftlab compare``'s plan: its options, the methods and their settings, every check the inputs decide.

Everything here runs before any model loads (:func:`plan_compare`): a bad option or a method whose needs the inputs
lack is one line and exit code 2. Fingerprints of the inputs key the cached runs (:mod:`.compare`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from sftlab.config import help_meta as _h
from sftlab.config import read_yaml, recipe_values
from sftlab.errors import SftlabError
from sftlab.io import file_sha256

from .context import DemoEntry
from .entries import irl as irl_entry
from .registry import BY_NAME, ENTRIES

DEFAULT_METHODS = "base,sft,dft,asft"


# settings compare decides for every method (the inputs, where runs go, what is shared by the evaluation)
RESERVED = {
    "model": "--model",
    "data": "--data",
    "output_dir": "--output-dir",
    "seed": "--seeds",
    "objective": "the method",
    "prompt_template": "--prompt-template",
    "trust_remote_code": "--trust-remote-code",
    "progress": "compare",
    "resume": "compare",
    "method": "the method",
    "prompts": "--data",
    "pack": "compare (the math pack)",
    "evaluate": "compare's own evaluation (--eval)",
    "label_field": "--label-field",
    "compare": "compare (the landscape reads the sft and dft runs)",
    "shot_pool": "--data",
}


# what the demo's other entries need that compare's inputs do not give yet: said in one line, before anything runs
NEEDS = {
    "s2l": "S2L needs a small proxy model's loss trajectories (sftlab select --proxy-model ...); compare takes no "
    "proxy model yet",
    "random-subset": "random-subset is S2L's baseline and runs beside S2L, which needs a proxy model; compare takes "
    "no proxy model yet",
    "dart": "DART needs reference answers in the training set for its gate and a mapper model (sftlab dart); compare "
    "does not run it yet",
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

    model: str | None = field(
        default=None, metadata=_h("Hugging Face model id or local path: the starting model of every method.")
    )
    data: str | None = field(
        default=None,
        metadata=_h(
            "Training set: .jsonl/.json/.parquet, a save_to_disk folder, or a hub id 'name[:split]' (the formats of sftlab train)."
        ),
    )
    eval: list[str] = field(
        default_factory=list,
        metadata=_h(
            "An eval set as NAME=PATH (e.g. in-domain=test.jsonl, ood=other.jsonl); give the flag once per set. Every record needs a reference answer."
        ),
    )
    methods: str = field(
        default=DEFAULT_METHODS, metadata=_h("Comma-separated methods to compare (see docs/compare.md).")
    )
    seeds: int = field(
        default=2, metadata=_h("Training seeds per method (0, 1, ...); the base model is evaluated once.")
    )
    set: list[str] = field(
        default_factory=list,
        metadata=_h(
            "Change one setting of a method's recipe: METHOD.FIELD=VALUE (e.g. dft.learning_rate=5e-5), or *.FIELD=VALUE for every trained method that has the field."
        ),
    )
    output_dir: str = field(
        default="outputs/compare", metadata=_h("Where runs, report.html, metrics.json and summary.md go.")
    )
    recipes_dir: str | None = field(
        default=None,
        metadata=_h(
            "Folder of the methods' recipes (<method>.yaml). Default: the configs/ folder of the sftlab checkout, else ./configs."
        ),
    )
    prompt_template: str | None = field(
        default=None,
        metadata=_h(
            "Template with a {question} slot for reasoning records, for training and evaluation alike. Default: the tokenizer's chat template, else 'Question: ...\\nSolution:'."
        ),
    )
    trust_remote_code: bool = field(default=False, metadata=_h("Allow model code from the hub (off unless you ask)."))
    max_new_tokens: int = field(default=256, metadata=_h("Generation budget per eval problem."))
    eval_limit: int | None = field(
        default=None, metadata=_h("Evaluate at most this many problems per eval set (the first ones).")
    )
    eval_batch_size: int = field(default=64, metadata=_h("Prompts per generation batch."))
    mode: str = field(
        default="math",
        metadata=_h(
            "Answer comparison: exact (normalized strings) or math (math-verify equivalence).",
            choices=["exact", "math"],
        ),
    )
    label_field: str | None = field(
        default=None,
        metadata=_h(
            "The landscape method's labels: comma-separated fields of the first --eval set's records that its density peaks are compared with (ARI), e.g. topic,answer."
        ),
    )
    examples: int = field(default=3, metadata=_h("Example generations per method shown in the report."))
    fresh: bool = field(default=False, metadata=_h("Ignore cached runs in --output-dir and run everything again."))
    workers: int | None = field(
        default=None,
        metadata=_h(
            "Processes that run runs at once (the seeds of a method, and methods that do not start from another's runs), each run on 1 torch thread whatever this number, so the results do not depend on it; every worker loads its own copy of the model (on one GPU: --workers 1 if two copies do not fit). Default: the cores not busy with other work (1 on a GPU machine)."
        ),
    )
    verbose: bool = field(
        default=False,
        metadata=_h(
            "Show the methods' own output, third-party progress bars and weight-loading messages (default: one live view; the rest goes to console.log in --output-dir)."
        ),
    )


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
    if cfg.workers is not None and cfg.workers < 1:
        raise SftlabError(f"--workers: must be at least 1, got {cfg.workers}")
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
            raise SftlabError(
                f"--eval {name}={source}: no record has a reference answer (an 'answer' field, or a "
                "stated final answer in the completion), so it cannot be scored"
            )
        skipped[name] = sum(a is None for a in answers[: cfg.eval_limit])
    if "landscape" in settings:
        settings["landscape"]["label_field"] = _label_fields(cfg, evals, eval_data)
    if any(settings):
        train = load_sft_data(cfg.data)  # the training set validated before any model loads
        _check_needs(entries, train, cfg.data)
    fingerprints = {
        "model": fingerprint(cfg.model),
        "data": fingerprint(cfg.data),
        **{f"eval:{n}": fingerprint(s) for n, s in evals.items()},
    }
    return ComparePlan(entries, settings, recipes, evals, eval_data, skipped, fingerprints, list(range(cfg.seeds)))


def _label_fields(cfg: CompareConfig, evals: dict[str, str], eval_data: dict) -> str:
    """--label-field, checked against the first eval set (the records the landscape reads)."""
    name = next(iter(evals))
    if not cfg.label_field:
        raise SftlabError(
            "--methods landscape: the landscape compares its density peaks with labels of the records it reads (the "
            f"first eval set, {name}); give --label-field FIELD[,FIELD], e.g. --label-field topic,answer"
        )
    fields = [f.strip() for f in cfg.label_field.split(",") if f.strip()]
    for i, record in enumerate(eval_data[name].records[: cfg.eval_limit]):
        missing = [f for f in fields if record.get(f) is None]
        if missing:
            raise SftlabError(
                f"--label-field: record {i} of --eval {name}={evals[name]} has no '{missing[0]}' field (the landscape "
                "reads the first eval set)"
            )
    return ",".join(fields)


def _check_needs(entries: list[DemoEntry], train, source: str) -> None:
    """What a method needs of the training set that plain fine-tuning does not: reference answers, question records."""
    answered = None
    for e in entries:
        if e.name in NEEDS_REASONING and train.format != "reasoning":
            raise SftlabError(
                f"--methods {e.name}: {NEEDS_ANSWERS[e.name]}, and takes question/solution/answer "
                f"records; --data {source} holds {train.format} records"
            )
        if e.name in NEEDS_ANSWERS:
            if answered is None:
                answered = sum(_reference_answer(r, train.format) is not None for r in train.records)
            if not answered:
                raise SftlabError(
                    f"--methods {e.name}: {NEEDS_ANSWERS[e.name]}; no record of --data {source} has one "
                    "(an 'answer' field, or a stated final answer in the completion)"
                )


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


HELP = {
    "TrainConfig": "sftlab train --help",
    "IRLConfig": "sftlab train --method irft --help",
    "NFTTrainConfig": "sftlab train --method nft --help",
    "DartConfig": "sftlab dart --help",
    "DistillConfig": "sftlab distill --help",
}


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
            raise SftlabError(
                f"--set {entry.name}.{name}: unknown setting for {entry.name} (a field of "
                f"{cls.__name__}; see {HELP.get(cls.__name__, 'the method --help')})"
            )
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
        checkout = (
            Path(__file__).resolve().parents[3] / "configs"
        )  # src/sftlab/experiments/compare_plan.py -> repo root
        candidates = [checkout / name, Path("configs") / name]
    for path in candidates:
        if path.is_file():
            return path
    raise SftlabError(
        f"recipe {name} not found (looked in {', '.join(str(p.parent) for p in candidates)}); "
        "pass --recipes-dir with the folder of the sftlab recipes"
    )


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
        return "sha256:" + file_sha256(path)
    if path.is_dir():
        h = hashlib.sha256()
        for f in sorted(p for p in path.rglob("*") if p.is_file()):
            stat = f.stat()
            part = file_sha256(f) if stat.st_size <= 64 << 20 else f"{stat.st_size}:{stat.st_mtime_ns}"
            h.update(f"{f.relative_to(path)}\0{stat.st_size}\0{part}\n".encode())
        return "dir:" + h.hexdigest()
    return "hub:" + source


def settings_key(obj) -> str:
    """A short, stable hash of a JSON-able object: the folder name of a run or an evaluation."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:12]
