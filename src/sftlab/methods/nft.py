"""``sftlab train --method nft``: NFT (arXiv 2505.18116) on the questions of an SFT set, with the verifier reward.

The trainer and its defaults are :mod:`sftlab.trainers.nft`; this module is the command: options,
questions, the reward function, steps, and the run.

On disk: ``output_dir/`` holds TRL's checkpoints (``checkpoint-<step>``, for
``--resume``), then the final model (a standard checkpoint) and
``train_summary.json``.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sftlab.args import LoraArgs, ModelArgs, RunArgs, flag_error
from sftlab.config import help_meta as _h
from sftlab.errors import SftlabError
from sftlab.io import atomic_write_json
from sftlab.methods.trainer_args import trainer_args
from sftlab.objectives.nft import PROMPT_WEIGHTINGS
from sftlab.trainers.nft import NFTConfig, NFTTrainer


@dataclass
class NFTTrainConfig(RunArgs, LoraArgs, ModelArgs):
    """Options of ``sftlab train --method nft``. Defaults follow the NFT authors' 7B script (arXiv 2505.18116).

    The model, LoRA and run options are the shared groups of :mod:`sftlab.args`; redeclared here are the ones
    whose default is the authors' (learning rate, schedule, weight decay, batch, logging).
    """

    method: str = field(
        default="nft", metadata=_h("nft: Negative-aware Fine-Tuning (online, verifier rewards).", choices=["nft"])
    )
    data: str | None = field(
        default=None,
        metadata=_h(
            "Questions with reference answers (any sftlab format; solutions are not used). Omitted: the lab's train split."
        ),
    )
    output_dir: str = field(
        default="outputs/nft", metadata=_h("Where checkpoints, the final model and train_summary.json go.")
    )
    max_steps: int = field(default=0, metadata=_h("Optimizer steps (0: --num-train-epochs passes over the questions)."))
    num_train_epochs: float = field(default=1.0, metadata=_h("Passes over the questions when --max-steps is 0."))
    max_prompts: int = field(default=0, metadata=_h("Use a seeded subset of this many questions (0: all)."))
    num_generations: int = field(default=16, metadata=_h("Answers sampled per question (K; the authors: 16)."))
    prompts_per_step: int = field(
        default=32, metadata=_h("Questions per optimizer step (the authors' mini-batch: 32).")
    )
    updates_per_generation: int = field(
        default=16,
        metadata=_h(
            "Optimizer steps per generation batch: prompts_per_step x this many questions are sampled at once from pi_old (the authors: 512 / 32 = 16). 1: on-policy, R = 1."
        ),
    )
    per_device_train_batch_size: int = field(
        default=16,
        metadata=_h(
            "Completions per device per micro-batch; prompts_per_step x num_generations must be a multiple of it times the number of processes (the rest is gradient accumulation)."
        ),
    )
    learning_rate: float = field(default=1e-6, metadata=_h("Peak learning rate (the authors: 1e-6)."))
    lr_scheduler_type: str = field(
        default="constant_with_warmup",
        metadata=_h("Learning-rate schedule (transformers names; the authors: constant after warmup)."),
    )
    warmup_steps: int = field(default=10, metadata=_h("Linear warmup steps (the authors: 10)."))
    weight_decay: float = field(default=0.1, metadata=_h("AdamW weight decay (the authors' scripts: 0.1)."))
    temperature: float = field(
        default=1.0, metadata=_h("Sampling temperature (also divides the logits of R_t, as TRL does).")
    )
    top_p: float = field(default=1.0, metadata=_h("Nucleus sampling threshold."))
    max_completion_length: int = field(
        default=3584, metadata=_h("Longest sampled answer in tokens (the authors' 7B: 4096 - 512).")
    )
    epsilon: float = field(
        default=1.0,
        metadata=_h(
            "eps: floor of the implicit negative likelihood ratio, value clipped with its gradient kept (the authors: 1.0)."
        ),
    )
    negative_weight: float = field(
        default=1.0, metadata=_h("Weight of the wrong answers' term (1: NFT; 0: RFT, right answers only).")
    )
    prompt_weighting: str = field(
        default="one_minus_r",
        metadata=_h(
            "w(q): one_minus_r (1 - r_q, the paper's), sqrt_odds (sqrt((1 - r_q) / r_q)) or none.",
            choices=list(PROMPT_WEIGHTINGS),
        ),
    )
    max_log_ratio: float = field(
        default=10.0, metadata=_h("Clamp of log R_t before exponentiating (the authors' code: 10).")
    )
    correct_rate_clip: float = field(
        default=0.02, metadata=_h("r_q is clamped into [c, 1 - c] inside the loss (the authors' code: 0.02).")
    )
    token_normalizer: float = field(
        default=0.0,
        metadata=_h(
            "0: the loss is a mean over the kept completion tokens of each optimizer step (sftlab's aggregation); > 0: their sum divided by this constant per device (the authors' code: 1000)."
        ),
    )
    verify_mode: str = field(
        default="math",
        metadata=_h(
            "How a sampled answer is checked against the reference: math (math-verify) or exact. Strict: a sample that states no final answer (\\boxed{}, 'The answer is', ####) earns nothing.",
            choices=["math", "exact"],
        ),
    )
    use_vllm: bool = field(default=False, metadata=_h("Sample with vLLM (colocated) on GPU; needs the [vllm] extra."))
    logging_steps: int = field(
        default=1, metadata=_h("Log every N optimizer steps (here every step; sftlab train: 10).")
    )
    save_steps: int = field(default=50, metadata=_h("Save a checkpoint (for --resume) every N optimizer steps."))
    resume: bool = field(default=False, metadata=_h("Continue from the last checkpoint in --output-dir."))

    def validate(self) -> None:
        super().validate()
        self.require_positive(
            "num_generations",
            "prompts_per_step",
            "updates_per_generation",
            "per_device_train_batch_size",
            "max_completion_length",
            "logging_steps",
            "save_steps",
        )
        if self.num_generations < 2:
            raise flag_error("num_generations", "r_q needs at least 2 answers per question")
        self.require_non_negative(
            "max_steps", "max_prompts", "warmup_steps", "weight_decay", "token_normalizer", "negative_weight"
        )
        if self.max_steps == 0 and self.num_train_epochs <= 0:
            raise flag_error("num_train_epochs", "must be > 0 when --max-steps is 0")
        for name in ("learning_rate", "temperature", "epsilon"):
            if getattr(self, name) <= 0:
                raise flag_error(name, f"must be > 0, got {getattr(self, name)}")
        if not 0.0 <= self.correct_rate_clip < 0.5:
            raise flag_error("correct_rate_clip", f"must be in [0, 0.5), got {self.correct_rate_clip}")
        if self.prompt_weighting not in PROMPT_WEIGHTINGS:
            raise flag_error(
                "prompt_weighting", f"must be one of {', '.join(PROMPT_WEIGHTINGS)}, got {self.prompt_weighting!r}"
            )
        if self.verify_mode not in ("math", "exact"):
            raise flag_error("verify_mode", f"must be math or exact, got {self.verify_mode!r}")
        gradient_accumulation(self)


# ----------------------------------------------------------------------------- the trainer


def gradient_accumulation(cfg: NFTTrainConfig, world_size: int | None = None) -> int:
    """Micro-batches per optimizer step: ``prompts_per_step * K / (per_device_train_batch_size * processes)``."""
    world = world_size or int(os.environ.get("WORLD_SIZE", "1"))
    completions = cfg.prompts_per_step * cfg.num_generations
    per_micro = cfg.per_device_train_batch_size * world
    if completions % per_micro:
        raise SftlabError(f"nft: prompts_per_step x num_generations = {completions} completions per step is not a "
                          f"multiple of per_device_train_batch_size x processes = {per_micro}")  # fmt: skip
    return completions // per_micro


def load_questions(source: str, tokenizer, cfg: NFTTrainConfig) -> list[dict]:
    """``{"prompt", "answer"}`` per record with a reference answer (a seeded ``max_prompts`` subset if asked).

    Reasoning records with a chat template (and no ``--prompt-template``) become
    one user turn that TRL renders, as sftlab's direct RL does; everything else
    is the prompt string training and evaluation render.
    """
    import random

    from sftlab.data import eval_items, load_sft_data
    from sftlab.trainers.rewards import grpo_prompt

    data = load_sft_data(source)
    chat = data.format == "reasoning" and cfg.prompt_template is None and getattr(tokenizer, "chat_template", None)
    items = eval_items(data, tokenizer, prompt_template=cfg.prompt_template)
    rows = [{"prompt": grpo_prompt(r["question"], tokenizer) if chat else r["prompt"], "answer": r["answer"]}
            for r in items if r["answer"] is not None]  # fmt: skip
    if len(rows) < len(items):
        print(f"sftlab nft: {len(items) - len(rows)} of {len(items)} records have no reference answer; skipped")
    if not rows:
        raise SftlabError(f"{source}: no record has a reference answer to verify against")
    if cfg.max_prompts and len(rows) > cfg.max_prompts:
        rows = [rows[i] for i in sorted(random.Random(cfg.seed).sample(range(len(rows)), cfg.max_prompts))]
    return rows


def steps_for(cfg: NFTTrainConfig, n_prompts: int) -> int:
    return cfg.max_steps or max(1, math.ceil(cfg.num_train_epochs * n_prompts / cfg.prompts_per_step))


def nft_args(cfg: NFTTrainConfig, steps: int) -> NFTConfig:
    """The :class:`NFTConfig` of ``cfg``: the shared run options (:func:`trainer_args`) plus NFT's own."""
    import importlib.util

    import torch

    gpu = torch.cuda.is_available()
    if cfg.use_vllm and gpu and importlib.util.find_spec("vllm") is None:
        raise SftlabError("--use-vllm needs the [vllm] extra (pip install 'sftlab[vllm]'); or leave it off")
    accumulation = gradient_accumulation(cfg)
    return trainer_args(
        NFTConfig, cfg, output_dir=cfg.output_dir, max_steps=steps, warmup_steps=cfg.warmup_steps,
        gradient_accumulation_steps=accumulation, steps_per_generation=accumulation * cfg.updates_per_generation,
        num_generations=cfg.num_generations, max_completion_length=cfg.max_completion_length,
        temperature=cfg.temperature, top_p=cfg.top_p, beta=0.0, nft_epsilon=cfg.epsilon,
        negative_weight=cfg.negative_weight, prompt_weighting=cfg.prompt_weighting, max_log_ratio=cfg.max_log_ratio,
        correct_rate_clip=cfg.correct_rate_clip, token_normalizer=cfg.token_normalizer,
        use_vllm=bool(cfg.use_vllm and gpu), vllm_mode="colocate", save_strategy="steps", save_steps=cfg.save_steps,
        save_total_limit=1, save_only_model=False, log_completions=False,
    )  # fmt: skip


def reward_function(cfg: NFTTrainConfig):
    """The verifier as a TRL reward function: 1 when the answer verifies against the reference, else 0."""
    from sftlab.trainers.rewards import CorrectnessReward

    return CorrectnessReward(cfg.verify_mode)


def run_nft(cfg: NFTTrainConfig) -> dict:
    """Train with NFT and save; returns the summary also written to ``output_dir/train_summary.json``."""
    import datasets
    from transformers.trainer_utils import get_last_checkpoint

    from sftlab.console import quiet
    from sftlab.methods.lab_defaults import resolve_lab_defaults
    from sftlab.methods.sft import save_final
    from sftlab.models import load_model_and_tokenizer, load_tokenizer, lora_config, use_bf16

    model_path, source = resolve_lab_defaults(cfg.model, cfg.data)
    tok = load_tokenizer(model_path, cfg.trust_remote_code)
    rows = load_questions(source, tok, cfg)  # every record checked before a model is loaded
    per_generation = cfg.prompts_per_step * cfg.updates_per_generation
    if len(rows) < per_generation:
        raise SftlabError(f"nft: {len(rows)} questions cannot fill one generation batch of prompts_per_step x "
                          f"updates_per_generation = {per_generation}")  # fmt: skip
    out = Path(cfg.output_dir)
    resume = get_last_checkpoint(str(out)) if cfg.resume and out.is_dir() else None
    if cfg.resume and resume is None:
        print(f"sftlab nft: no checkpoint in {out} to resume from; starting from the beginning")
    steps = steps_for(cfg, len(rows))
    with quiet(not cfg.progress):
        bf16 = use_bf16(cfg.bf16)
        model, tok = load_model_and_tokenizer(model_path, "train", bf16=bf16, trust_remote_code=cfg.trust_remote_code)
        tok.padding_side = "left"
        trainer = NFTTrainer(model=model, reward_funcs=[reward_function(cfg)], args=nft_args(cfg, steps),
                             train_dataset=datasets.Dataset.from_list(rows), processing_class=tok,
                             peft_config=lora_config(cfg.lora, cfg.lora_r, cfg.lora_alpha, cfg.lora_dropout,
                                                     cfg.lora_target_modules))  # fmt: skip
        if not cfg.progress:
            from transformers.trainer_callback import PrinterCallback

            trainer.remove_callback(PrinterCallback)
        print(
            f"sftlab nft: {len(rows)} questions, {steps} steps of {cfg.prompts_per_step} questions x "
            f"{cfg.num_generations} answers, {cfg.updates_per_generation} steps per generation batch"
        )
        t0 = time.time()
        trainer.train(resume_from_checkpoint=resume)
        seconds = time.time() - t0
        save_final(trainer, tok, out, merge_lora=cfg.lora)
    summary = {
        "output_dir": str(out), "model": model_path, "data": source, "n_prompts": len(rows), "train_seconds": seconds,
        "global_step": trainer.state.global_step, "resumed_from": resume, "log_history": trainer.state.log_history,
        "config": asdict(cfg),
    }  # fmt: skip
    if trainer.is_world_process_zero():
        atomic_write_json(out / "train_summary.json", summary)
    print(f"sftlab nft: final model at {out}")
    return summary
