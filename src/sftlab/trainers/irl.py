"""IRL from demonstrations: IRFT and SPIN (implicit reward), RFT (explicit reward, in :mod:`.rft`).

IRFT is Algorithm 2 of Li et al., "Getting More Juice Out of the SFT Data"
(NeurIPS 2024, https://arxiv.org/abs/2405.17888): the SFT prompts are cut into
T chunks; iteration t samples y~ from the current policy pi_t for its chunk,
then takes K optimizer steps on the pairwise loss of :mod:`.irl_losses`
(demonstration y vs generation y~, reference pi_t frozen). SPIN
(https://arxiv.org/abs/2401.01335) is the same loop with the logistic link and
every iteration regenerating the whole data set (one IRFT stage per pass),
optionally training on the previous iteration's pairs too.

:class:`IRFTTrainer` is TRL's DPOTrainer with two hooks changed:
``_compute_loss`` (the link: DPO has sigmoid and hinge but no linear link, and
its loss is computed inline) and ``_prepare_dataset`` (pairs arrive tokenized
the way sftlab tokenizes SFT data, BOS once and EOS after each completion).
The reference is the iteration's starting model; its log-probabilities are
precomputed once per iteration (``precompute_ref_log_probs``), so no second
copy of the model is held. Batching, PEFT, accelerate and logging are TRL's.

On disk (written atomically; an interrupted run resumes at its iteration)::

    output_dir/
      config.json
      iter-<t>/generations.jsonl   prompt, chosen (demonstration), rejected (generation)
      iter-<t>/model/              the policy after iteration t (a standard checkpoint)
      iter-<t>/metrics.json        written last: marks the iteration complete
      irl_summary.json             every iteration's metrics and the final model's path
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from trl import DPOConfig, DPOTrainer

from ..config import help_meta as _h
from ..errors import SftlabError
from ..io import atomic_write_json, atomic_write_jsonl, read_jsonl
from ..models import load_tokenizer
from .irl_losses import LINKS, irl_pair_loss, pair_metrics

METHODS = ("irft", "spin", "rft")
CHUNKING = ("contiguous", "shuffled")
_NON_MODEL_KEYS = {"completion_mask", "ref_chosen_logps", "ref_rejected_logps"}


@dataclass
class IRLConfig:
    """Options of ``sftlab train --method irft|spin|rft``. Defaults follow arXiv 2405.17888 (7B: lr 5e-7, beta 0.1, T=5)."""

    method: str = field(default="irft", metadata=_h("irft: implicit reward, one chunk of the prompts per iteration; spin: implicit reward, the whole data set every iteration; rft: explicit reward model + RL.", choices=list(METHODS)))
    model: str | None = field(default=None, metadata=_h("Starting policy: hub id or local path. Omitted: the embedded lab model."))
    data: str | None = field(default=None, metadata=_h("Demonstrations (SFT data): .jsonl/.json/.parquet, a folder or a hub id. Omitted: the lab's expert-style train split."))
    output_dir: str = field(default="outputs/irl", metadata=_h("Where iterations, checkpoints and metrics go."))
    iterations: int = field(default=5, metadata=_h("Outer iterations T (IRFT/RFT: the prompts are cut into T chunks; SPIN: T passes over all of them)."))
    steps_per_iteration: int = field(default=0, metadata=_h("Optimizer steps K per iteration (RFT: of the policy step). 0: --epochs-per-iteration passes over the iteration's pairs."))
    epochs_per_iteration: float = field(default=1.0, metadata=_h("Passes over the iteration's pairs when --steps-per-iteration is 0."))
    chunking: str = field(default="contiguous", metadata=_h("How IRFT/RFT cut the prompts into T chunks: contiguous slices in file order, or a seeded shuffle first.", choices=list(CHUNKING)))
    max_prompts: int = field(default=0, metadata=_h("Use a seeded subset of this many demonstrations (0: all)."))
    beta: float = field(default=0.1, metadata=_h("IRFT/SPIN: scale of the implicit reward beta*log(pi/pi_t). RFT: KL coefficient of the policy step."))
    link: str = field(default="logistic", metadata=_h("IRFT link l(z): logistic (SPIN's loss), hinge max(0, 1-z), or linear -z (the raw IRL gradient). SPIN always uses logistic.", choices=list(LINKS)))
    learning_rate: float = field(default=5e-7, metadata=_h("Peak learning rate of the policy (the papers' 7B value)."))
    lr_scheduler_type: str = field(default="linear", metadata=_h("Learning-rate schedule within an iteration (transformers names)."))
    warmup_ratio: float = field(default=0.1, metadata=_h("Fraction of each iteration's steps for linear warmup."))
    weight_decay: float = field(default=0.0, metadata=_h("AdamW weight decay."))
    max_grad_norm: float = field(default=1.0, metadata=_h("Gradient clipping norm (0 disables)."))
    per_device_train_batch_size: int = field(default=8, metadata=_h("Pairs (IRFT/SPIN/RFT reward step) or completions (RFT policy step) per device per micro-batch."))
    gradient_accumulation_steps: int = field(default=1, metadata=_h("Micro-batches per optimizer step."))
    max_length: int = field(default=1024, metadata=_h("Longest sequence in tokens (prompt + completion); longer ones are cut."))
    n: int = field(default=1, metadata=_h("Generations per prompt per iteration (each makes one pair with the demonstration)."))
    temperature: float = field(default=1.0, metadata=_h("Sampling temperature of the generations (0: greedy)."))
    top_p: float = field(default=1.0, metadata=_h("Nucleus sampling threshold of the generations."))
    max_new_tokens: int = field(default=256, metadata=_h("Longest generation in tokens."))
    generation_batch_size: int = field(default=64, metadata=_h("Prompts per generation batch."))
    mix_previous: bool = field(default=False, metadata=_h("SPIN/IRFT: also train on the previous iteration's pairs (SPIN's iteration-1 recipe)."))
    reward_model: str | None = field(default=None, metadata=_h("RFT: model the reward model (a value head on a causal LM) starts from. Omitted: the starting policy."))
    reward_steps: int = field(default=0, metadata=_h("RFT: optimizer steps of the reward step per iteration (0: one pass over the iteration's pairs)."))
    reward_learning_rate: float = field(default=1e-5, metadata=_h("RFT: learning rate of the reward model."))
    num_generations: int = field(default=4, metadata=_h("RFT: completions per prompt in the policy step (the GRPO group)."))
    heldout_fraction: float = field(default=0.1, metadata=_h("RFT: share of the prompts held out to score the reward model each iteration."))
    lora: bool = field(default=False, metadata=_h("Train LoRA adapters instead of all weights; merged at the end of every iteration."))
    lora_r: int = field(default=64, metadata=_h("LoRA rank (the IRFT scripts use 64)."))
    lora_alpha: int = field(default=16, metadata=_h("LoRA alpha (the IRFT scripts use 16)."))
    lora_dropout: float = field(default=0.05, metadata=_h("LoRA dropout."))
    lora_target_modules: str = field(default="all-linear", metadata=_h("Comma-separated module names for LoRA, or 'all-linear'."))
    bf16: bool | None = field(default=None, metadata=_h("bf16 mixed precision. Default: on where a GPU supports it, off on CPU."))
    gradient_checkpointing: bool = field(default=False, metadata=_h("Recompute activations in backward to save memory (slower)."))
    prompt_template: str | None = field(default=None, metadata=_h("Template with a {question} slot for reasoning records. Default: the tokenizer's chat template, else 'Question: ...\\nSolution:'."))
    keep_checkpoints: bool = field(default=True, metadata=_h("Keep every iteration's model; off: delete an iteration's model once the next one is complete."))
    logging_steps: int = field(default=10, metadata=_h("Log every N optimizer steps."))
    seed: int = field(default=42, metadata=_h("Seed for subsets, chunks, sampling and training."))
    trust_remote_code: bool = field(default=False, metadata=_h("Allow model code from the hub (off unless you ask)."))
    report_to: str = field(default="none", metadata=_h("Experiment trackers (transformers names: none, wandb, tensorboard, ...)."))
    progress: bool = field(default=True, metadata=_h("Show progress bars."))


# ----------------------------------------------------------------------------- the trainer


@dataclass
class IRFTConfig(DPOConfig):
    """TRL's DPOConfig plus the IRFT link (``beta`` is DPO's: the implicit-reward scale)."""

    link: str = field(default="logistic", metadata={"help": "Link l(z) of the pairwise loss.", "choices": list(LINKS)})
    precompute_ref_log_probs: bool = field(
        default=True, metadata={"help": "Score every pair with the reference once, before training (pi_t is frozen)."}
    )

    def __post_init__(self):
        super().__post_init__()
        if self.link not in LINKS:
            raise ValueError(f"link must be one of {LINKS}, got {self.link!r}")


class IRFTTrainer(DPOTrainer):
    """DPOTrainer whose loss is ``l(z)`` of :func:`~sftlab.trainers.irl_losses.irl_pair_loss`.

    Pass the pairs tokenized (``prompt_ids``, ``chosen_ids``, ``rejected_ids``;
    see :func:`tokenize_pairs`), or as DPO's ``prompt``/``chosen``/``rejected``
    text. With ``precompute_ref_log_probs`` (the default) and no ``ref_model``,
    the reference is the model as passed in, i.e. the iteration's start.
    """

    def _prepare_dataset(self, dataset, processing_class, args, dataset_name):
        if {"prompt_ids", "chosen_ids", "rejected_ids"} <= set(dataset.column_names):
            if args.max_length is not None:  # as DPO: a prompt that fills max_length leaves nothing to learn from
                dataset = dataset.filter(lambda ex: len(ex["prompt_ids"]) < args.max_length)
            return dataset
        return super()._prepare_dataset(dataset, processing_class, args, dataset_name)

    def _sequence_logps(self, model, inputs) -> torch.Tensor:
        """Summed completion log-probabilities, ``(2B,)``: chosen rows first, then rejected."""
        model_kwargs = {k: v for k, v in inputs.items() if k not in _NON_MODEL_KEYS}
        model_kwargs["use_cache"] = False
        completion_mask = inputs["completion_mask"]
        labels = inputs["input_ids"].masked_fill(completion_mask == 0, -100)
        outputs = model(**model_kwargs, labels=labels, fused_lm_head=True)  # log_probs (2B, T-1), 0 off completions
        return outputs.log_probs[:, -(completion_mask.size(1) - 1) :].sum(dim=1)

    def _reference_logps(self, inputs) -> tuple[torch.Tensor, torch.Tensor]:
        if self.precompute_ref_logps:
            return inputs["ref_chosen_logps"], inputs["ref_rejected_logps"]
        # TRL's reference pass: the ref model, or for PEFT the policy with its adapters disabled.
        return self.compute_ref_log_probs(self.ref_model if self.ref_model is not None else self.model, inputs)

    def _compute_loss(self, model, inputs, return_outputs):
        mode = "train" if self.model.training else "eval"
        chosen, rejected = self._sequence_logps(model, inputs).chunk(2)  # batch is [chosen; rejected]
        ref_chosen, ref_rejected = self._reference_logps(inputs)
        losses = irl_pair_loss(chosen, rejected, ref_chosen, ref_rejected, beta=self.beta, link=self.args.link)
        loss = losses.mean()

        gather = self.accelerator.gather_for_metrics
        with torch.no_grad():
            stats = pair_metrics(gather(chosen.detach()), gather(rejected.detach()), gather(ref_chosen),
                                 gather(ref_rejected), beta=self.beta)  # fmt: skip
            chosen_mask, _ = inputs["completion_mask"][:, 1:].chunk(2)
            n_tokens = gather(chosen_mask.sum()).sum().clamp(min=1)
        m = self._metrics[mode]
        m["rewards/accuracies"].append(stats["reward_accuracy"])
        m["rewards/margins"].append(stats["reward_margin"])
        m["logp_gap"].append(stats["logp_gap"])
        m["nll"].append((-gather(chosen.detach()).sum() / n_tokens).item())  # per-token NLL of the demonstrations
        if mode == "train":
            self._total_train_tokens += gather(inputs["attention_mask"].sum()).sum().item() // self._tp_size
        m["num_tokens"] = [self._total_train_tokens]
        if not return_outputs:
            return loss
        with torch.no_grad():  # as DPOTrainer: the fused head built no logits, so compute them for whoever asked
            outputs = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"], use_cache=False)
        return loss, outputs

    @torch.no_grad()
    def score_pairs(self) -> dict[str, torch.Tensor]:
        """Policy and reference log-probabilities of every training pair, in data set order."""
        from torch.utils.data import DataLoader

        model = self.model
        was_training = model.training
        model.eval()
        loader = DataLoader(self.train_dataset, batch_size=self.args.per_device_train_batch_size,
                            collate_fn=self.data_collator, shuffle=False)  # fmt: skip
        out = {"chosen": [], "rejected": [], "ref_chosen": [], "ref_rejected": []}
        try:
            for batch in loader:
                batch = self._prepare_inputs(batch)
                c, r = self._sequence_logps(model, batch).chunk(2)
                rc, rr = self._reference_logps(batch)
                for k, v in zip(out, (c, r, rc, rr)):
                    out[k].append(v.float().cpu())
        finally:
            model.train(was_training)
        return {k: torch.cat(v) for k, v in out.items()}


# ----------------------------------------------------------------------------- data


def load_demonstrations(source: str, tokenizer, prompt_template: str | None = None) -> list[dict]:
    """Demonstrations as ``{"prompt", "completion", "answer", "_row"}``, rendered as training renders them."""
    from ..data import completion_text, eval_items, load_sft_data

    data = load_sft_data(source)
    items = eval_items(data, tokenizer, prompt_template=prompt_template)
    demos = []
    for record, item in zip(data.records, items):
        reference = _reference(record, data.format)
        if not reference or not reference.strip():
            raise data.error(record, "has no demonstration text to learn from", _demo_field(data.format))
        # as tokenize_sft: a reasoning solution joins its rendered prompt by completion_text, other text as given
        completion = completion_text(item["prompt"], reference) if data.format == "reasoning" else reference
        demos.append({"prompt": item["prompt"], "completion": completion, "answer": item["answer"], "_row": record["_row"]})
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

    from ..data import encode_prompts

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


def check_config(cfg: IRLConfig) -> None:
    if cfg.method not in METHODS:
        raise SftlabError(f"irl: field 'method': must be one of {', '.join(METHODS)}, got {cfg.method!r}")
    if cfg.link not in LINKS:
        raise SftlabError(f"irl: field 'link': must be one of {', '.join(LINKS)}, got {cfg.link!r}")
    if cfg.chunking not in CHUNKING:
        raise SftlabError(f"irl: field 'chunking': must be one of {', '.join(CHUNKING)}, got {cfg.chunking!r}")
    for name in ("iterations", "n", "max_new_tokens", "per_device_train_batch_size", "generation_batch_size",
                 "num_generations", "gradient_accumulation_steps"):  # fmt: skip
        if getattr(cfg, name) < 1:
            raise SftlabError(f"irl: field '{name}': must be at least 1, got {getattr(cfg, name)}")
    for name in ("steps_per_iteration", "reward_steps", "max_prompts"):
        if getattr(cfg, name) < 0:
            raise SftlabError(f"irl: field '{name}': must be >= 0, got {getattr(cfg, name)}")
    if cfg.steps_per_iteration == 0 and cfg.epochs_per_iteration <= 0:
        raise SftlabError("irl: field 'epochs_per_iteration': must be > 0 when --steps-per-iteration is 0")
    if cfg.beta <= 0 or cfg.learning_rate <= 0:
        raise SftlabError("irl: fields 'beta' and 'learning_rate' must be > 0")
    if cfg.method == "rft" and not 0.0 < cfg.heldout_fraction < 1.0:
        raise SftlabError(f"irl: field 'heldout_fraction': must be in (0, 1), got {cfg.heldout_fraction}")
    if cfg.method == "rft" and cfg.temperature <= 0:
        raise SftlabError("irl: field 'temperature': RFT's policy step samples, so it must be > 0")
    if cfg.method == "spin" and cfg.link != "logistic":
        raise SftlabError("irl: field 'link': SPIN's loss is the logistic link; use --method irft for hinge or linear")


def run_irl(cfg: IRLConfig) -> dict:
    """Run (or resume) IRFT, SPIN or RFT; returns the summary also written to ``output_dir/irl_summary.json``."""
    check_config(cfg)
    with quiet(not cfg.progress):
        if cfg.method == "rft":
            from .rft import run_rft

            return run_rft(cfg)
        return run_implicit(cfg)


def run_implicit(cfg: IRLConfig) -> dict:
    """IRFT or SPIN: the iterations of Algorithm 2."""
    from .run import resolve_lab_defaults

    model_path, source = resolve_lab_defaults(cfg.model, cfg.data)
    tok = load_tokenizer(model_path, cfg.trust_remote_code)
    demos = load_demonstrations(source, tok, cfg.prompt_template)  # every row checked before any model is loaded
    chunks = iteration_chunks(demo_subset(len(demos), cfg), cfg)
    out = Path(cfg.output_dir)
    start_run(out, cfg)

    iterations, current, t0 = [], model_path, time.time()
    for t in range(1, cfg.iterations + 1):
        idir = out / f"iter-{t}"
        if is_done(idir):
            metrics = read_json(idir / "metrics.json")
        else:
            print(f"sftlab {cfg.method}: iteration {t}/{cfg.iterations} from {current}")
            previous = out / f"iter-{t - 1}" / "generations.jsonl" if (cfg.mix_previous and t > 1) else None
            metrics = run_iteration(cfg, t, current, [demos[i] for i in chunks[t - 1]], idir, previous)
            atomic_write_json(idir / "metrics.json", metrics)  # last: marks the iteration complete
            if not cfg.keep_checkpoints and t > 1:
                shutil.rmtree(out / f"iter-{t - 1}" / "model", ignore_errors=True)
        iterations.append(metrics)
        current = str(idir / "model")
    return finish_run(cfg, out, model_path, source, iterations, time.time() - t0)


def run_iteration(cfg: IRLConfig, t: int, start: str, demos: list[dict], idir: Path, previous: Path | None) -> dict:
    """Generate for this iteration's prompts, train K steps against the frozen start, save; returns metrics."""
    from .run import save_final

    model, tok, bf16 = load_policy(start, cfg)
    timing = {}
    t0 = time.time()
    pairs = generate_pairs(cfg, model, tok, demos, idir / "generations.jsonl", seed=cfg.seed + t)
    timing["generation_seconds"] = time.time() - t0
    train_pairs = pairs + (read_jsonl(previous) if previous is not None and previous.exists() else [])
    dataset = tokenize_pairs(train_pairs, tok)

    steps = steps_for(cfg, len(dataset))
    trainer = IRFTTrainer(
        model=model, args=irft_args(cfg, idir / "trainer", steps, seed=cfg.seed + t, bf16=bf16),
        train_dataset=dataset, processing_class=tok, peft_config=lora_config(cfg),
    )  # fmt: skip
    t0 = time.time()
    trainer.train()
    timing["train_seconds"] = time.time() - t0
    scores = trainer.score_pairs()
    save_final(trainer, tok, idir / "model", merge_lora=cfg.lora)
    shutil.rmtree(idir / "trainer", ignore_errors=True)

    stats = pair_metrics(scores["chosen"], scores["rejected"], scores["ref_chosen"], scores["ref_rejected"], beta=cfg.beta)
    return {
        "iteration": t, "start_model": start, "n_prompts": len(demos), "n_pairs": len(trainer.train_dataset),
        "n_mixed_previous": len(train_pairs) - len(pairs), "steps": trainer.state.global_step,
        **stats, "sample_accuracy": sample_accuracy(pairs), "generation_tokens": mean_generation_tokens(pairs, tok),
        "timing": timing, "log_history": trainer.state.log_history,
    }  # fmt: skip


def generate_pairs(cfg: IRLConfig, model, tok, demos: list[dict], path: Path, seed: int) -> list[dict]:
    """``n`` generations per demonstration's prompt, as pairs; reused from ``path`` after an interruption."""
    if path.exists():
        return read_jsonl(path)
    from ..generation import SamplingConfig, generate

    sampling = SamplingConfig(max_new_tokens=cfg.max_new_tokens, temperature=cfg.temperature, top_p=cfg.top_p,
                              n=cfg.n, batch_size=cfg.generation_batch_size, seed=seed)  # fmt: skip
    outputs = generate(model, tok, [d["prompt"] for d in demos], sampling, progress=cfg.progress)
    pairs = [{"prompt": d["prompt"], "chosen": d["completion"], "rejected": text, "answer": d["answer"], "_row": d["_row"]}
             for d, texts in zip(demos, outputs) for text in texts]  # fmt: skip
    atomic_write_jsonl(path, pairs)
    return pairs


def steps_for(cfg: IRLConfig, n_pairs: int, batch: int | None = None) -> int:
    """K: the configured steps, or ``epochs_per_iteration`` passes over ``n_pairs``."""
    if cfg.steps_per_iteration:
        return cfg.steps_per_iteration
    batch = batch or cfg.per_device_train_batch_size * cfg.gradient_accumulation_steps
    return max(1, math.ceil(cfg.epochs_per_iteration * n_pairs / batch))


def irft_args(cfg: IRLConfig, out: Path, steps: int, *, seed: int, bf16: bool) -> IRFTConfig:
    return IRFTConfig(
        output_dir=str(out), link="logistic" if cfg.method == "spin" else cfg.link, beta=cfg.beta, max_steps=steps,
        learning_rate=cfg.learning_rate, lr_scheduler_type=cfg.lr_scheduler_type, warmup_steps=float(cfg.warmup_ratio),
        weight_decay=cfg.weight_decay, max_grad_norm=cfg.max_grad_norm,
        per_device_train_batch_size=cfg.per_device_train_batch_size,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps, max_length=cfg.max_length,
        precompute_ref_batch_size=max(cfg.per_device_train_batch_size, 16), bf16=bf16,
        **checkpointing(cfg), logging_steps=max(1, min(cfg.logging_steps, steps)),
        save_strategy="no", seed=seed, report_to=cfg.report_to, disable_tqdm=not cfg.progress,
        use_cpu=not torch.cuda.is_available(), dataloader_num_workers=0,
    )  # fmt: skip


def checkpointing(cfg: IRLConfig) -> dict:
    """Trainer kwargs for gradient checkpointing: off unless asked (TRL's configs turn it on by default).

    Set through transformers 5's name for it, ``activation_checkpointing``; the old name warns.
    """
    return {"activation_checkpointing": cfg.gradient_checkpointing}


def lora_config(cfg: IRLConfig, task_type: str = "CAUSAL_LM"):
    if not cfg.lora:
        return None
    from peft import LoraConfig

    targets = cfg.lora_target_modules
    return LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout, task_type=task_type,
                      target_modules=targets if targets == "all-linear" else [t.strip() for t in targets.split(",")])


def load_policy(path: str, cfg: IRLConfig):
    """The causal LM at ``path``, its tokenizer and whether to train in bf16."""
    from .run import load_model_and_tokenizer

    use_gpu = torch.cuda.is_available()
    bf16 = cfg.bf16 if cfg.bf16 is not None else bool(use_gpu and torch.cuda.is_bf16_supported())
    model, tok = load_model_and_tokenizer(path, trust_remote_code=cfg.trust_remote_code,
                                          dtype=torch.bfloat16 if bf16 and use_gpu else torch.float32)  # fmt: skip
    return model, tok, bf16



def sample_accuracy(pairs: list[dict]) -> float | None:
    """Share of the generations whose final answer verifies (None without reference answers)."""
    from ..verify import verify

    scored = [p for p in pairs if p.get("answer") is not None]
    return sum(bool(verify(p["rejected"], p["answer"])) for p in scored) / len(scored) if scored else None


def mean_generation_tokens(pairs: list[dict], tok) -> float:
    lengths = [len(ids) for ids in tok([p["rejected"] for p in pairs], add_special_tokens=False)["input_ids"]]
    return sum(lengths) / max(1, len(lengths))


# ----------------------------------------------------------------------------- run bookkeeping


@contextlib.contextmanager
def quiet(enabled: bool):
    """Silence the progress bars of datasets, transformers and TRL while ``enabled``."""
    if not enabled:
        yield
        return
    import datasets
    from transformers.utils import logging as hf_logging

    ds_on, hf_on, env = datasets.is_progress_bar_enabled(), hf_logging.is_progress_bar_enabled(), os.environ.get("TQDM_DISABLE")
    datasets.disable_progress_bars()
    hf_logging.disable_progress_bar()
    os.environ["TQDM_DISABLE"] = "1"  # TRL's reference-scoring bar reads it
    try:
        yield
    finally:
        if ds_on:
            datasets.enable_progress_bars()
        if hf_on:
            hf_logging.enable_progress_bar()
        if env is None:
            os.environ.pop("TQDM_DISABLE", None)
        else:
            os.environ["TQDM_DISABLE"] = env


def is_done(idir: Path) -> bool:
    return (idir / "metrics.json").is_file()


def start_run(out: Path, cfg: IRLConfig) -> None:
    """Record the options; refuse to resume a folder made with other ones (T included: it decides the chunks)."""
    path = out / "config.json"
    if path.exists():
        old = read_json(path)
        for key, value in asdict(cfg).items():
            if key not in ("progress", "output_dir", "keep_checkpoints", "report_to") and key in old and old[key] != value:
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
