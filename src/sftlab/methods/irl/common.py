"""What IRFT, SPIN and RFT share: demonstrations, pairs, iteration chunks, steps, and run bookkeeping."""

from __future__ import annotations

import math
import random
from dataclasses import asdict
from pathlib import Path

from sftlab.errors import SftlabError
from sftlab.io import atomic_write_json, atomic_write_jsonl, read_jsonl
from sftlab.methods.trainer_args import trainer_args
from sftlab.models import load_model_and_tokenizer, use_bf16
from sftlab.models import lora_config as _lora_config
from sftlab.trainers.irft import IRFTConfig

from .config import IRLConfig


def load_demonstrations(source: str, tokenizer, prompt_template: str | None = None) -> list[dict]:
    """Demonstrations as ``{"prompt", "completion", "answer", "_row"}``, rendered as training renders them."""
    from sftlab.data import completion_text, eval_items, load_sft_data

    data = load_sft_data(source)
    items = eval_items(data, tokenizer, prompt_template=prompt_template)
    demos = []
    for record, item in zip(data.records, items):
        reference = _reference(record, data.format)
        if not reference or not reference.strip():
            raise data.error(record, "has no demonstration text to learn from", _demo_field(data.format))
        # as tokenize_sft: a reasoning solution joins its rendered prompt by completion_text, other text as given
        completion = completion_text(item["prompt"], reference) if data.format == "reasoning" else reference
        demos.append(
            {"prompt": item["prompt"], "completion": completion, "answer": item["answer"], "_row": record["_row"]}
        )
    return demos


def _reference(record: dict, fmt: str) -> str | None:
    if fmt == "reasoning":
        return record["solution"]
    if fmt == "prompt_completion" and isinstance(record["completion"], str):
        return record["completion"]
    turns = record["messages"] if fmt == "messages" else record["completion"]
    return next((m["content"] for m in reversed(turns) if m["role"] == "assistant"), None)


def _demo_field(fmt: str) -> str:
    return {"reasoning": "solution", "prompt_completion": "completion"}.get(fmt, "messages")


def tokenize_pairs(pairs: list[dict], tokenizer):
    """``{"prompt", "chosen", "rejected"}`` texts -> a DPO data set of token ids.

    As :func:`sftlab.data.tokenize_sft`: the prompt as :func:`sftlab.data.encode_prompts`
    encodes it, each completion without special tokens and with EOS appended.
    """
    import datasets

    from sftlab.data import encode_prompts

    if tokenizer.eos_token_id is None:
        raise SftlabError("the tokenizer has no EOS token, so a completion's end cannot be marked")
    eos = tokenizer.eos_token_id
    prompt_ids = encode_prompts([p["prompt"] for p in pairs], tokenizer)
    chosen = tokenizer([p["chosen"] for p in pairs], add_special_tokens=False)["input_ids"]
    rejected = tokenizer([p["rejected"] for p in pairs], add_special_tokens=False)["input_ids"]
    return datasets.Dataset.from_dict({
        "prompt_ids": prompt_ids, "chosen_ids": [c + [eos] for c in chosen], "rejected_ids": [r + [eos] for r in rejected],
    })  # fmt: skip


def demo_subset(n: int, cfg: IRLConfig) -> list[int]:
    """Indices of the demonstrations used: all, or a seeded subset of ``max_prompts`` in file order."""
    order = list(range(n))
    if cfg.max_prompts and n > cfg.max_prompts:
        order = sorted(random.Random(cfg.seed).sample(order, cfg.max_prompts))
    return order


def iteration_chunks(indices: list[int], cfg: IRLConfig) -> list[list[int]]:
    """Demonstration indices each iteration trains on: T chunks (IRFT, RFT) or all of them T times (SPIN)."""
    order = list(indices)
    if cfg.method == "spin":
        return [order] * cfg.iterations
    if cfg.chunking == "shuffled":
        random.Random(cfg.seed + 1).shuffle(order)
    if len(order) < cfg.iterations:
        raise SftlabError(f"{cfg.method}: {len(order)} demonstrations cannot fill --iterations {cfg.iterations} chunks")
    bounds = [round(i * len(order) / cfg.iterations) for i in range(cfg.iterations + 1)]
    return [order[bounds[i] : bounds[i + 1]] for i in range(cfg.iterations)]


# ----------------------------------------------------------------------------- the loop


def steps_for(cfg: IRLConfig, n_pairs: int, batch: int | None = None) -> int:
    """K: the configured steps, or ``epochs_per_iteration`` passes over ``n_pairs``."""
    if cfg.steps_per_iteration:
        return cfg.steps_per_iteration
    batch = batch or cfg.per_device_train_batch_size * cfg.gradient_accumulation_steps
    return max(1, math.ceil(cfg.epochs_per_iteration * n_pairs / batch))


def irft_args(cfg: IRLConfig, out: Path, steps: int, *, seed: int) -> IRFTConfig:
    """The iteration's :class:`IRFTConfig`: the shared run options (:func:`trainer_args`) plus IRFT's own."""
    return trainer_args(
        IRFTConfig, cfg, output_dir=out, link="logistic" if cfg.method == "spin" else cfg.link, beta=cfg.beta,
        max_steps=steps, warmup_ratio=cfg.warmup_ratio, gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        max_length=cfg.max_length, precompute_ref_batch_size=max(cfg.per_device_train_batch_size, 16),
        logging_steps=max(1, min(cfg.logging_steps, steps)), save_strategy="no", seed=seed,
    )  # fmt: skip


def lora_config(cfg: IRLConfig, task_type: str = "CAUSAL_LM"):
    return _lora_config(cfg.lora, cfg.lora_r, cfg.lora_alpha, cfg.lora_dropout, cfg.lora_target_modules, task_type)


def load_policy(path: str, cfg: IRLConfig):
    """The causal LM at ``path`` (loaded for training), its tokenizer and whether to train in bf16."""
    bf16 = use_bf16(cfg.bf16)
    model, tok = load_model_and_tokenizer(path, "train", bf16=bf16, trust_remote_code=cfg.trust_remote_code)
    return model, tok, bf16


def sample_accuracy(pairs: list[dict]) -> float | None:
    """Share of the generations whose final answer verifies (None without reference answers)."""
    from sftlab.verify import verify

    scored = [p for p in pairs if p.get("answer") is not None]
    return sum(bool(verify(p["rejected"], p["answer"])) for p in scored) / len(scored) if scored else None


def mean_generation_tokens(pairs: list[dict], tok) -> float:
    lengths = [len(ids) for ids in tok([p["rejected"] for p in pairs], add_special_tokens=False)["input_ids"]]
    return sum(lengths) / max(1, len(lengths))


# ----------------------------------------------------------------------------- run bookkeeping


def is_done(idir: Path) -> bool:
    return (idir / "metrics.json").is_file()


def start_run(out: Path, cfg: IRLConfig) -> None:
    """Record the options; refuse to resume a folder made with other ones (T included: it decides the chunks)."""
    path = out / "config.json"
    if path.exists():
        old = read_json(path)
        for key, value in asdict(cfg).items():
            if (
                key not in ("progress", "output_dir", "keep_checkpoints", "report_to")
                and key in old
                and old[key] != value
            ):
                raise SftlabError(
                    f"{path}: field '{key}': this output folder holds a run with {key}={old[key]!r}, not {value!r}; "
                    "use another --output-dir (or the same options to resume)"
                )
    atomic_write_json(path, asdict(cfg))


def finish_run(cfg: IRLConfig, out: Path, model_path: str, source: str, iterations: list[dict], seconds: float) -> dict:
    final = out / f"iter-{cfg.iterations}" / "model"
    keys = ("reward_accuracy", "logp_gap", "ref_logp_gap", "sample_accuracy", "heldout_reward_accuracy")
    summary = {
        "method": cfg.method, "output_dir": str(out), "model": str(final), "start_model": model_path, "data": source,
        "iterations": [{k: v for k, v in m.items() if not k.endswith("log_history")} for m in iterations],
        "curve": {"iteration": [m["iteration"] for m in iterations],
                  **{k: [m.get(k) for m in iterations] for k in keys if any(k in m for m in iterations)}},
        "log_history": concat_log_history(iterations), "train_seconds": sum(m["timing"]["train_seconds"] + m["timing"].get("reward_seconds", 0.0) for m in iterations),
        "seconds_this_call": seconds, "config": asdict(cfg),
    }  # fmt: skip
    atomic_write_json(out / "irl_summary.json", summary)
    print(f"sftlab {cfg.method}: final model at {final}")
    return summary


def concat_log_history(iterations: list[dict]) -> list[dict]:
    """Every iteration's training logs on one step axis (``step`` counts from the first iteration)."""
    rows, offset = [], 0
    for m in iterations:
        for h in m.get("log_history", []):
            rows.append({**h, "step": offset + h.get("step", 0), "iteration": m["iteration"]})
        offset += m.get("steps") or 0
    return rows


def read_json(path: Path) -> dict:
    import json

    return json.loads(Path(path).read_text(encoding="utf-8"))


def generate_pairs(cfg: IRLConfig, model, tok, demos: list[dict], path: Path, seed: int) -> list[dict]:
    """``n`` generations per demonstration's prompt, as pairs; reused from ``path`` after an interruption."""
    if path.exists():
        return read_jsonl(path)
    from sftlab.generation import SamplingConfig, generate

    sampling = SamplingConfig(max_new_tokens=cfg.max_new_tokens, temperature=cfg.temperature, top_p=cfg.top_p,
                              n=cfg.n, batch_size=cfg.generation_batch_size, seed=seed)  # fmt: skip
    outputs = generate(model, tok, [d["prompt"] for d in demos], sampling, progress=cfg.progress)
    pairs = [{"prompt": d["prompt"], "chosen": d["completion"], "rejected": text, "answer": d["answer"], "_row": d["_row"]}
             for d, texts in zip(demos, outputs) for text in texts]  # fmt: skip
    atomic_write_jsonl(path, pairs)
    return pairs
