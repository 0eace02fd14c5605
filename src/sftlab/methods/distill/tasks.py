"""What a pack gives the distill loop (:class:`Task`), and the math pack's task (on the lab or the user's data)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sftlab.io import read_jsonl
from sftlab.models import load_tokenizer

if TYPE_CHECKING:
    from .loop import DistillConfig


@dataclass
class Task:
    """What a pack supplies to the loop."""

    base_model: str
    prompts: list[dict]  # {"prompt": str, "answer": str | None}
    original: list[dict]  # original data as prompt/completion records (for mixing)
    reference_texts: list[str]  # reference completions for length/novelty filters
    default_filters: list
    filter_defaults: dict  # filter name -> default options the pack fills in
    evaluate: Callable  # (model, tokenizer, out_dir: Path, seed: int) -> {"accuracy": {split: x}, "n": {split: k}, ...}
    splits: list[str]
    labels: dict = field(default_factory=dict)
    title: str = "self-distillation"


def math_task(cfg: DistillConfig) -> Task:
    """Prompts with reference answers; default filters verifier + exact dedup; accuracy on held-out splits."""
    from sftlab.data import apply_answer_check, completion_text, eval_items, load_sft_data
    from sftlab.methods.lab_defaults import resolve_lab_defaults
    from sftlab.models import check_max_length

    base, source = resolve_lab_defaults(cfg.model, cfg.prompts)
    check_max_length(base, cfg.max_length)  # the model's config only, before any data
    tok = load_tokenizer(base)
    data = load_sft_data(source)
    apply_answer_check(data, source, cfg.answer_suffix)
    items = eval_items(data, tok, prompt_template=cfg.prompt_template)
    prompts = [{"prompt": it["prompt"], "answer": it["answer"]} for it in items]
    original = [
        {"prompt": it["prompt"], "completion": completion_text(it["prompt"], ref)}
        for rec, it in zip(data.records, items)
        if (ref := _reference_completion(rec, data.format))
    ]
    eval_sets = _eval_sets(cfg, tok) if cfg.evaluate else {}
    splits = list(eval_sets)

    def evaluate(model, tokenizer, out_dir: Path, seed: int) -> dict:
        if not eval_sets:
            return {"accuracy": {}, "n": {}}
        from sftlab.evaluation import evaluate as run_eval
        from sftlab.generation import SamplingConfig

        res = run_eval(model, tokenizer, eval_sets, sampling=SamplingConfig(max_new_tokens=cfg.max_new_tokens),
                       k=1, output_dir=str(out_dir / "eval"), progress=cfg.progress)  # fmt: skip
        rows = read_jsonl(out_dir / "eval" / "generations.jsonl")
        examples = [next(r for r in rows if r["split"] == s) for s in splits if any(r["split"] == s for r in rows)]
        return {
            "accuracy": {s: res["splits"][s]["accuracy"] for s in splits},
            "n": {s: res["splits"][s]["n"] for s in splits},
            "examples": [
                {
                    "split": r["split"],
                    "prompt": r["prompt"],
                    "completion": r["completion"],
                    "answer": r["reference"],
                    "correct": r["correct"],
                }
                for r in examples
            ],  # fmt: skip
        }

    return Task(
        base_model=base, prompts=prompts, original=original,
        reference_texts=[rec["completion"] for rec in original], default_filters=["verifier", "dedup"],
        filter_defaults={}, evaluate=evaluate, splits=splits,
        labels={"test_id": "in-domain", "test_ood": "out-of-domain"}, title="self-distillation (math)",
    )  # fmt: skip


def _reference_completion(record: dict, fmt: str) -> str | None:
    if fmt == "reasoning":
        return record["solution"]
    if fmt == "prompt_completion":
        c = record["completion"]
        return c if isinstance(c, str) else next((m["content"] for m in reversed(c) if m["role"] == "assistant"), None)
    return next((m["content"] for m in reversed(record["messages"]) if m["role"] == "assistant"), None)


def _eval_sets(cfg: DistillConfig, tok) -> dict[str, list[dict]]:
    from sftlab.data import eval_items, load_sft_data

    if cfg.eval_data:
        sources = {}
        for part in cfg.eval_data.split(","):
            name, sep, src = part.partition("=")
            name, src = (name.strip(), src.strip()) if sep else (f"eval{len(sources) or ''}", name.strip())
            sources[name] = src
    elif cfg.prompts is None:
        from sftlab.methods.lab_defaults import ensure_lab

        lab = ensure_lab()
        sources = {s: str(lab.data[s]) for s in ("test_id", "test_ood")}
    else:
        return {}
    sets = {}
    for name, src in sources.items():
        items = [it for it in eval_items(load_sft_data(src), tok, prompt_template=cfg.prompt_template)]
        sets[name] = items[: cfg.eval_size]
    return sets
