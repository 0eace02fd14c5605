"""``sftlab distill``: self-distillation fine-tuning (Tavakoli et al., arXiv 2512.09329).

Each round samples ``n`` completions per prompt from the current model, runs
the filter chain (cheapest filter first, counts logged), fine-tunes on the
survivors (optionally mixed with original data) with any sftlab objective,
evaluates, and hands the new model to the next round.

On disk (everything written atomically)::

    output_dir/
      config.json
      base/metrics.json              evaluation of the starting model
      round-<r>/
        generations.jsonl            every sample; after filtering, with 'removed_by'
        survivors.jsonl              what passed every filter
        train.jsonl                  survivors + mixed-in original records (the SFT data)
        checkpoint/                  the fine-tuned model (train_summary.json when done)
        metrics.json                 filter counts, training and evaluation; marks the round complete
      metrics.json, report.html      the whole run

An interrupted run resumes at the first round without ``metrics.json``: it
reuses that round's samples and finished training when present.
"""

from __future__ import annotations

import math
import shutil
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from tqdm.auto import tqdm

from sftlab.args import Validated, flag_error
from sftlab.config import help_meta as _h
from sftlab.data.answers import ANSWER_SUFFIX_HELP, ANSWER_SUFFIXES
from sftlab.errors import SftlabError
from sftlab.io import atomic_write_json, atomic_write_jsonl, read_jsonl

from .filters import Candidate, FilterChain, FilterContext, build_filters, filter_configs, parse_filter_spec, verified
from .tasks import Task, math_task

PACKS = ("math", "protein")


# options left as None take the pack's value
PACK_DEFAULTS = {
    "math": {"n": 4, "max_new_tokens": 256, "learning_rate": 1e-4, "eval_size": 100},
    "protein": {"n": 128, "max_new_tokens": 160, "learning_rate": 1e-3, "eval_size": 128},
}


@dataclass
class DistillConfig(Validated):
    """Options of ``sftlab distill``. Options left as None take the pack's defaults (:func:`resolve`)."""

    model: str | None = field(
        default=None,
        metadata=_h(
            "Starting model (hub id or local path). Omitted: the lab model (math) or the lab protein LM, trained on first use (protein)."
        ),
    )
    prompts: str | None = field(
        default=None,
        metadata=_h(
            "Math pack: data source whose prompts are sampled (.jsonl/.json/.parquet, folder or hub id); omitted: the lab train split. Protein pack: the prompt text; omitted: the lab family tag."
        ),
    )
    pack: str = field(default="math", metadata=_h("Domain pack: default filters and evaluation.", choices=list(PACKS)))
    rounds: int = field(default=2, metadata=_h("Rounds of generate, filter, fine-tune."))
    n: int | None = field(
        default=None, metadata=_h("Samples per prompt per round. Omitted: 4 (math), 128 (protein: one prompt).")
    )
    max_prompts: int = field(default=64, metadata=_h("Prompts sampled per round (a seeded subset; 0 = all)."))
    temperature: float = field(default=1.0, metadata=_h("Sampling temperature."))
    top_p: float = field(default=1.0, metadata=_h("Nucleus sampling threshold."))
    max_new_tokens: int | None = field(
        default=None, metadata=_h("Generation limit per sample and for evaluation. Omitted: 256 (math), 160 (protein).")
    )
    filters: str | None = field(
        default=None,
        metadata=_h(
            "Filter chain, e.g. 'verifier,dedup,length:k=2,near_dedup:threshold=0.8'; run cheapest first. Omitted: the pack's (math: verifier,dedup; protein: alphabet,met_start,length,conserved,novelty). Names: verifier, length, regex, dedup, near_dedup, novelty, perplexity, met_start, alphabet, conserved."
        ),
    )
    mix_original: float = field(
        default=0.0, metadata=_h("Share of each round's SFT data drawn from the original data (0 <= f < 1).")
    )
    objective: str = field(
        default="nll",
        metadata=_h("SFT objective for the rounds (any sftlab objective).", choices=["nll", "dft", "power", "asft"]),
    )
    train_steps: int = field(
        default=30,
        metadata=_h(
            "Optimizer steps of fine-tuning per round; 0: train --epochs epochs over the round's data instead."
        ),
    )
    epochs: float = field(default=1.0, metadata=_h("Epochs over each round's SFT data when --train-steps is 0."))
    learning_rate: float | None = field(
        default=None, metadata=_h("Peak learning rate per round. Omitted: 1e-4 (math), 1e-3 (protein).")
    )
    batch_size: int = field(default=8, metadata=_h("Sequences per optimizer step."))
    max_length: int = field(
        default=512,
        metadata=_h("Longest training sequence in tokens; at most the model's context (max_position_embeddings)."),
    )
    answer_suffix: str = field(
        default="auto", metadata=_h("Math: " + ANSWER_SUFFIX_HELP, choices=list(ANSWER_SUFFIXES))
    )
    prompt_template: str | None = field(
        default=None, metadata=_h("Template with a {question} slot for reasoning records.")
    )
    eval_data: str | None = field(
        default=None,
        metadata=_h(
            "Math: evaluation data, 'source' or 'name=source,...'. Omitted: the lab's test_id/test_ood when prompts are the lab's, else no held-out evaluation."
        ),
    )
    eval_size: int | None = field(
        default=None,
        metadata=_h(
            "Items per evaluation split (math; omitted: 100) or sequences sampled per evaluation (protein; omitted: 128)."
        ),
    )
    natural: str | None = field(
        default=None,
        metadata=_h("Protein: natural sequences (FASTA or one per line). Omitted: the lab's synthetic family."),
    )
    reference: str | None = field(
        default=None,
        metadata=_h(
            "Protein: reference sequence (or a file holding it) for the conserved-residue check. Omitted: the lab family's reference."
        ),
    )
    conserved: str = field(
        default="K82", metadata=_h("Protein: the conserved residue and its 1-based reference position, e.g. K82.")
    )
    max_identity: float = field(
        default=0.9, metadata=_h("Protein: novelty requires maximum identity to the natural set below this.")
    )
    evaluate: bool = field(
        default=True,
        metadata=_h("Evaluate the starting model and every round (held-out accuracy, or fresh protein samples)."),
    )
    output_dir: str = field(default="outputs/distill", metadata=_h("Where rounds, checkpoints and the report go."))
    seed: int = field(default=0, metadata=_h("Seed for prompt subsets, sampling and training."))
    progress: bool = field(default=True, metadata=_h("Show progress bars."))

    def validate(self) -> None:
        if self.pack not in PACKS:
            raise flag_error("pack", f"must be one of {', '.join(PACKS)}, got {self.pack!r}")
        for name in ("rounds", "n", "batch_size", "max_new_tokens", "eval_size"):
            if getattr(self, name) is not None and getattr(self, name) < 1:  # None: the pack's default
                raise flag_error(name, f"must be at least 1, got {getattr(self, name)}")
        if self.train_steps < 0 or (self.train_steps == 0 and self.epochs <= 0):
            raise flag_error("train_steps", f"must be >= 0 (0 with epochs > 0), got {self.train_steps}")
        if not 0.0 <= self.mix_original < 1.0:
            raise flag_error("mix_original", f"must be in [0, 1), got {self.mix_original}")
        if self.max_prompts < 0:
            raise flag_error("max_prompts", f"must be >= 0 (0 = all), got {self.max_prompts}")
        from sftlab.objectives import OBJECTIVES

        if self.objective not in OBJECTIVES:
            raise flag_error("objective", f"must be one of {', '.join(OBJECTIVES)}, got {self.objective!r}")
        try:
            filter_configs(self.filters)  # spec errors before any work
        except SftlabError as e:
            raise flag_error("filters", str(e).removeprefix("filters: ")) from None


def resolve(cfg: DistillConfig) -> DistillConfig:
    """``cfg`` checked, with the options left as None set to the pack's defaults."""
    filled = {k: v for k, v in PACK_DEFAULTS[cfg.pack].items() if getattr(cfg, k) is None}
    return replace(cfg, **filled)  # checked again, now with the pack's values


def run_distill(cfg: DistillConfig) -> dict:
    """Run (or resume) every round; return the run's metrics (also written to ``output_dir/metrics.json``)."""
    cfg = resolve(cfg)
    out = Path(cfg.output_dir)
    _check_same_run(out / "config.json", cfg)
    if cfg.pack == "protein":
        from .protein_lab import protein_task

        task = protein_task(cfg)
    else:
        task = math_task(cfg)
    if not cfg.evaluate:
        task = replace(task, evaluate=lambda *args: {"accuracy": {}, "n": {}}, splits=[])
    atomic_write_json(out / "config.json", asdict(cfg))

    from sftlab.models import load_model_and_tokenizer

    base_file = out / "base" / "metrics.json"
    if not cfg.evaluate:
        base = {"eval": {"accuracy": {}, "n": {}}}
    elif base_file.exists():
        base = read_json(base_file)
    else:
        model, tok = load_model_and_tokenizer(task.base_model, "infer")
        t0 = time.time()
        base = {"eval": task.evaluate(model, tok, out / "base", cfg.seed), "eval_seconds": time.time() - t0}
        atomic_write_json(base_file, base)
        del model

    rounds, current = [], task.base_model
    for r in tqdm(range(1, cfg.rounds + 1), desc="distill rounds", disable=not cfg.progress):
        rdir = out / f"round-{r}"
        if (rdir / "metrics.json").exists():
            metrics = read_json(rdir / "metrics.json")
        else:
            metrics = run_round(cfg, task, r, current, rdir)
            atomic_write_json(rdir / "metrics.json", metrics)  # last: marks the round complete
            _prune_checkpoints(rdir / "checkpoint")
        rounds.append(metrics)
        current = _model_path(metrics["model"], out)

    from .report import build_report

    return build_report(cfg, task, base, rounds, out)


def _relative(model: str, out: Path) -> str:
    """A model inside the output folder is recorded relative to it, so the folder can move."""
    try:
        return str(Path(model).resolve().relative_to(out.resolve()))
    except ValueError:
        return model


def _model_path(model: str, out: Path) -> str:
    return str(out / model) if (out / model).exists() else model


def _check_same_run(path: Path, cfg: DistillConfig) -> None:
    """Resuming into a folder made with other options would mix two runs: refuse (only more rounds may be asked)."""
    if not path.exists():
        return
    old = read_json(path)
    for key, value in asdict(cfg).items():
        if key not in ("rounds", "progress", "output_dir") and key in old and old[key] != value:
            raise SftlabError(
                f"{path}: field '{key}': this output folder holds a run with {key}={old[key]!r}, not {value!r}; "
                "use another --output-dir (or the same options to resume)"
            )


def run_round(cfg: DistillConfig, task: Task, r: int, model_path: str, rdir: Path) -> dict:
    """One round: sample, filter, fine-tune, evaluate. Returns the round's metrics."""
    from sftlab.models import load_model_and_tokenizer

    model, tok = load_model_and_tokenizer(model_path, "infer")  # samples, then evaluates
    timing = {}

    t0 = time.time()
    gen_file = rdir / "generations.jsonl"
    if gen_file.exists():  # sampled before an interruption
        candidates = [Candidate(g["prompt"], g["completion"], g.get("answer")) for g in read_jsonl(gen_file)]
    else:
        candidates = sample_candidates(cfg, task, model, tok, seed=cfg.seed + r)
        atomic_write_jsonl(gen_file, [_row(c) for c in candidates])
    timing["sample_seconds"] = time.time() - t0

    t0 = time.time()
    sample_accuracy = _sample_accuracy(candidates) if cfg.pack == "math" else None
    chain = FilterChain(_build_filters(cfg, task))
    result = chain.run(candidates)
    timing["filter_seconds"] = time.time() - t0
    atomic_write_jsonl(gen_file, [{**_row(c), "removed_by": by} for c, by in zip(candidates, result.removed_by)])
    survivors = [_sft_record(c, r) for c in result.survivors]
    atomic_write_jsonl(rdir / "survivors.jsonl", survivors)
    mixed = _mix_original(task.original, len(survivors), cfg.mix_original, cfg.seed + r)
    metrics = {
        "round": r,
        "start_model": _relative(model_path, rdir.parent),
        "n_prompts": len({c.prompt for c in candidates}),
        "n_samples": len(candidates),
        "n_survivors": len(survivors),
        "n_original": len(mixed),
        "filters": result.stats,
        "sample_accuracy": sample_accuracy,
    }

    ckpt = rdir / "checkpoint"
    if not survivors:
        print(f"sftlab: round {r}: no sample survived the filters; the model is carried over unchanged")
        metrics.update(model=_relative(model_path, rdir.parent), trained=False, train={})
    else:
        atomic_write_jsonl(rdir / "train.jsonl", survivors + mixed)
        del model
        t0 = time.time()
        metrics["train"] = _train(
            cfg, model_path, rdir / "train.jsonl", len(survivors + mixed), ckpt, seed=cfg.seed + r
        )
        timing["train_seconds"] = time.time() - t0
        metrics.update(model=_relative(str(ckpt), rdir.parent), trained=True)
        model, tok = load_model_and_tokenizer(str(ckpt), "infer")

    t0 = time.time()
    metrics["eval"] = task.evaluate(model, tok, rdir, cfg.seed + r)
    timing["eval_seconds"] = time.time() - t0
    metrics["timing"] = timing
    return metrics


def sample_candidates(cfg: DistillConfig, task: Task, model, tok, seed: int) -> list[Candidate]:
    """``n`` samples for each prompt of this round's (seeded) prompt subset."""
    import random

    from sftlab.generation import SamplingConfig, generate

    prompts = list(task.prompts)
    if cfg.max_prompts and len(prompts) > cfg.max_prompts:
        prompts = random.Random(seed).sample(prompts, cfg.max_prompts)
    sampling = SamplingConfig(
        max_new_tokens=cfg.max_new_tokens, temperature=cfg.temperature, top_p=cfg.top_p, n=cfg.n, seed=seed
    )
    outputs = generate(model, tok, [p["prompt"] for p in prompts], sampling, progress=cfg.progress)
    return [Candidate(p["prompt"], text, p.get("answer")) for p, texts in zip(prompts, outputs) for text in texts]


def _build_filters(cfg: DistillConfig, task: Task):
    spec = parse_filter_spec(cfg.filters) if cfg.filters else parse_filter_spec(task.default_filters)
    spec = [{"name": name, **task.filter_defaults.get(name, {}), **opts} for name, opts in spec]
    ctx = FilterContext(reference_texts=task.reference_texts)
    if any(s["name"] == "perplexity" for s in spec):
        from sftlab.models import load_model_and_tokenizer

        ctx.model, ctx.tokenizer = load_model_and_tokenizer(task.base_model, "score")  # the reference: the start
    return build_filters(spec, ctx)


def _train(cfg: DistillConfig, model_path: str, data: Path, n_records: int, ckpt: Path, seed: int) -> dict:
    """Fine-tune ``model_path`` on ``data`` into ``ckpt`` (or reuse a finished run, or resume a broken one)."""
    from sftlab.methods.sft import TrainConfig, run_train

    done = ckpt / "train_summary.json"
    if done.exists():
        summary = read_json(done)
    else:
        steps = cfg.train_steps or max(1, math.ceil(cfg.epochs * n_records / cfg.batch_size))  # for logging/saving
        summary = run_train(
            TrainConfig(
                model=model_path,
                data=str(data),
                output_dir=str(ckpt),
                objective=cfg.objective,
                max_steps=cfg.train_steps or -1,
                num_train_epochs=cfg.epochs,
                learning_rate=cfg.learning_rate,
                per_device_train_batch_size=cfg.batch_size,
                max_length=cfg.max_length,
                on_overlength="truncate",
                logging_steps=max(1, steps // 10),
                save_steps=max(1, steps // 2),
                save_total_limit=1,
                seed=seed,
                resume=ckpt.exists(),
                progress=cfg.progress,
            )  # fmt: skip
        )
    losses = [h["loss"] for h in summary.get("log_history", []) if "loss" in h]
    return {
        "steps": summary.get("global_step"),
        "seconds": summary.get("train_seconds"),
        "first_loss": losses[0] if losses else None,
        "last_loss": losses[-1] if losses else None,
        "curve": {
            "step": [h["step"] for h in summary.get("log_history", []) if "loss" in h],
            "objective": losses,
        },
    }


def _prune_checkpoints(ckpt: Path) -> None:
    """Drop intermediate ``checkpoint-<step>`` folders (optimizer state) once a round is complete."""
    for sub in ckpt.glob("checkpoint-*"):
        shutil.rmtree(sub, ignore_errors=True)


def _mix_original(original: list[dict], n_survivors: int, share: float, seed: int) -> list[dict]:
    """``share`` of the SFT data from original records: ``round(share / (1 - share) * n_survivors)`` of them."""
    import random

    if share <= 0 or not original or not n_survivors:
        return []
    k = min(len(original), round(share / (1.0 - share) * n_survivors))
    return [{**rec, "source": "original"} for rec in random.Random(seed).sample(original, k)]


def _sample_accuracy(candidates: list[Candidate]) -> float | None:
    """Share of all samples (before filtering) whose answer verifies; None without reference answers.

    The verdicts stay in each candidate's ``meta``, so a verifier filter does not recompute them.
    """
    scored = [c for c in candidates if c.answer is not None]
    return sum(verified(c) for c in scored) / len(scored) if scored else None


def _row(c: Candidate) -> dict:
    return {"prompt": c.prompt, "completion": c.completion, "answer": c.answer}


def _sft_record(c: Candidate, r: int) -> dict:
    from sftlab.data import completion_text

    return {"prompt": c.prompt, "completion": completion_text(c.prompt, c.completion), "answer": c.answer,
            "source": f"round-{r}"}  # fmt: skip


def read_json(path: Path) -> dict:
    import json

    return json.loads(Path(path).read_text(encoding="utf-8"))


# ---------------------------------------------------------------- math pack
