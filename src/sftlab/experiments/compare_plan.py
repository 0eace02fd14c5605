"""``sftlab compare``'s plan: the methods and their settings, every check the inputs decide.

Everything here runs before any model loads (:func:`plan_compare`): a bad option or a method whose needs the inputs
lack is one line and exit code 2. Fingerprints of the inputs key the cached runs (:mod:`.compare`). The options
are :class:`~.compare_options.CompareConfig`; what compare knows of each method, :mod:`.compare_methods`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from sftlab.config import read_yaml, recipe_values
from sftlab.errors import SftlabError
from sftlab.io import file_sha256
from sftlab.models import check_local

from .compare_methods import (
    COMPARE_DEFAULTS,
    FLAG_USERS,
    HELP,
    NEEDS_ANSWERS,
    NEEDS_PROXY,
    NEEDS_REASONING,
    RANDOM_FIELDS,
    READ_AS,
    RESERVED,
    STARTS_FROM_SFT,
    TRAINS_WITH_SFT,
)
from .compare_options import DEFAULT_METHODS, CompareConfig
from .context import DemoEntry
from .entries import s2l as s2l_entry
from .registry import BY_NAME, ENTRIES

__all__ = ["DEFAULT_METHODS", "CompareConfig", "ComparePlan", "compare_entries", "plan_compare"]


@dataclass
class ComparePlan:
    """What :func:`plan_compare` checked: the entries to run, their resolved settings, the eval sets, the keys."""

    entries: list[DemoEntry]
    settings: dict[str, dict]  # method -> its resolved recipe options (fields of its config class, --set applied);
    # also "sft" when a method starts from or trains with the SFT recipe (STARTS_FROM_SFT, TRAINS_WITH_SFT) and sft is
    # not compared, and "s2l" when random-subset is compared without it
    recipes: dict[str, str]  # method -> the recipe file read
    evals: dict[str, str]  # eval name -> source
    eval_data: dict  # eval name -> SFTData
    skipped: dict[str, int]  # eval name -> records without a reference answer
    fingerprints: dict[str, str]  # "model", "data", "proxy", "mapper" (those used), "eval:<name>" -> fingerprint
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
    entries = _methods(cfg)
    evals = _eval_sources(cfg.eval)
    recipes, settings = {}, {}
    trained = [e for e in entries if e.paper_recipe and e.name != "random-subset"]
    names = [e.name for e in entries]
    if "random-subset" in names and "s2l" not in names:
        trained.append(BY_NAME["s2l"])  # its budget: --set s2l.FIELD changes it
    if any(n in STARTS_FROM_SFT | TRAINS_WITH_SFT for n in names) and "sft" not in names:
        trained.insert(0, BY_NAME["sft"])  # the starting point's (or the fine-tuning's) recipe: --set sft.FIELD
    overrides = _parse_sets(cfg.set, [e.name for e in trained])
    for e in trained:
        recipes[e.name], settings[e.name] = _resolve(e, cfg, overrides.get(e.name, {}))
    if "random-subset" in names:
        recipes["random-subset"] = recipes["s2l"]
        settings["random-subset"] = {
            **{k: v for k, v in settings["s2l"].items() if k in RANDOM_FIELDS},
            "method": "random",
        }
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
        if "s2l" in settings:
            _check_budget(settings["s2l"], recipes["s2l"], len(train.records), cfg.data)
            budget = s2l_entry.budget_label(settings["s2l"]["budget"])  # the rows read "S2L 11%", "random 11%"
            entries = [dataclasses.replace(e, label=f"{s2l_entry.LABELS[e.options['method']]} {budget}")
                       if e.name in NEEDS_PROXY else e for e in entries]  # fmt: skip
    fingerprints = {"model": fingerprint(cfg.model), "data": fingerprint(cfg.data)}
    if cfg.proxy_model:
        fingerprints["proxy"] = fingerprint(cfg.proxy_model)
    if "dart" in settings:
        fingerprints["mapper"] = fingerprint(cfg.mapper_model) if cfg.mapper_model else fingerprints["model"]
    fingerprints.update({f"eval:{n}": fingerprint(s) for n, s in evals.items()})
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


def _methods(cfg: CompareConfig) -> list[DemoEntry]:
    names = [m.strip() for m in (cfg.methods or "").split(",") if m.strip()]
    if not names:
        raise SftlabError("--methods: name at least one method")
    available = [e.name for e in compare_entries()]
    for n in names:
        if n not in available:
            where = "runs in sftlab demo only for now" if n in BY_NAME else "is not a method"
            raise SftlabError(f"--methods: '{n}' {where}; compare runs: {', '.join(available)}")
        if n in NEEDS_PROXY and not cfg.proxy_model:
            raise SftlabError(f"--methods {n}: {NEEDS_PROXY[n]}; pass --proxy-model PATH (a small causal LM, hub id "
                              "or local path)")  # fmt: skip
    for option, (users, why) in FLAG_USERS.items():
        flag, path = "--" + option.replace("_", "-"), getattr(cfg, option)
        if path and not users & set(names):
            raise SftlabError(f"{flag}: {why} (add it to --methods, or drop {flag})")
        if path:
            try:
                check_local(path)  # a local folder that is not there; a hub id is checked when it loads
            except SftlabError as e:
                raise SftlabError(f"{flag} {e}") from None
    return [e for e in compare_entries() if e.name in names]  # the entry list's order


def _check_budget(s2l: dict, recipe: str, n: int, source: str) -> None:
    """S2L's budget (shared by random-subset) against the training set's size."""
    from sftlab.methods.s2l.sampling import parse_budget

    if s2l.get("budget") is None:
        raise SftlabError(f"s2l: {Path(recipe).name} gives no budget; --set s2l.budget=0.1 (a fraction of --data) or "
                          "=500 (a count)")  # fmt: skip
    try:
        parse_budget(s2l["budget"], n)
    except SftlabError as e:
        raise SftlabError(f"s2l ({Path(recipe).name} + --set): {e} (--data {source} holds {n} records)") from None


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
        elif method == "random-subset" and "s2l" in out:
            raise SftlabError(f"--set {value}: random-subset draws S2L's budget at random and takes s2l's settings; "
                              f"--set s2l.{name}=... sets both")  # fmt: skip
        elif method not in out:
            no_recipe = method in BY_NAME and BY_NAME[method].paper_recipe == ""
            why = "has no recipe (nothing to set)" if no_recipe else "is not among --methods"
            raise SftlabError(f"--set {value}: method '{method}' {why}; trained here: {', '.join(trained) or 'none'}")
        else:
            out[method][name] = parsed
    for m in trained:
        out[m] = {**{k: v for k, v in wildcard.items() if k not in out[m]}, "*": set(wildcard), **out[m]}
    return out


def _resolve(entry: DemoEntry, cfg: CompareConfig, overrides: dict) -> tuple[str, dict]:
    """The entry's paper recipe with ``overrides`` applied, checked by building its config (no model loads)."""
    cls = entry.config
    path = recipe_path(entry.paper_recipe, cfg.recipes_dir)
    names = {f.name for f in dataclasses.fields(cls)}
    options = recipe_values(
        read_yaml(path.read_text(encoding="utf-8"), str(path)), READ_AS.get(entry.name, cls), str(path)
    )
    options = {k: v for k, v in options.items() if k in names}
    for name, value in COMPARE_DEFAULTS.items():
        if name in names:
            options.setdefault(name, value)
    wildcard = overrides.pop("*", set())
    for name, value in overrides.items():
        if name not in names:
            if name in wildcard:
                continue  # '*' applies where the field exists
            sft = "; its fine-tuning is the SFT recipe's: --set sft.FIELD" if entry.name in TRAINS_WITH_SFT else ""
            raise SftlabError(
                f"--set {entry.name}.{name}: unknown setting for {entry.name} (a field of "
                f"{cls.__name__}; see {HELP.get(cls.__name__, 'the method --help')}){sft}"
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
    inputs = {k: v for k, v in {"model": cfg.model, "data": cfg.data, "prompts": cfg.data}.items() if k in names}
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
