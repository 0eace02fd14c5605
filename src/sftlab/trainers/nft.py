"""NFT: Negative-aware Fine-Tuning (Chen et al., "Bridging Supervised Learning and Reinforcement
Learning in Math Reasoning", https://arxiv.org/abs/2505.18116), on TRL's ``GRPOTrainer``.

The loop is GRPO's: questions with reference answers, no demonstrations. Each
generation batch samples K answers per question from the current policy (pi_old
from then on), the verifier marks each one right or wrong, ``r_q`` is the
group's accuracy, and the batch is then split into mini-batches for several
optimizer steps of NFT's loss (:mod:`sftlab.objectives.nft`), whose ratio
``R_t = pi_theta / pi_old`` moves away from 1 as the steps go.

:class:`NFTTrainer` is TRL's ``GRPOTrainer`` with three hooks changed: sampling,
rewards and the old per-token log-probabilities are TRL's; ``_calculate_rewards``
keeps the raw verifier scores, ``_generate_and_score_completions`` hands each
completion its verifier outcome, its group's ``r_q`` and the count of tokens in
informative groups, and ``_compute_loss`` computes NFT's loss instead of GRPO's
clipped surrogate.
There is no KL term and no reference model (the paper uses none).

Defaults follow the authors' 7B script (``train_7B.sh``, https://github.com/NVlabs/NFT):
16 answers per question, 512 questions per generation batch in mini-batches of
32 (16 optimizer steps per generation), lr 1e-6 constant after 10 warmup steps,
weight decay 0.1, gradient clipping 1.0, temperature 1, answers up to 3584 tokens.
Differences, all sftlab's: groups that are all right or all wrong are kept in
the batch with weight 0 instead of being replaced by fresh questions (the
authors' dynamic sampling), the loss is a mean over the kept tokens instead of
a sum over 1000 (``--token-normalizer 1000`` restores theirs), an answer the
verifier cannot score counts as wrong, and with vLLM, TRL's importance-sampling
correction between vLLM and the trainer is not applied (pi_old is the trainer's
own recomputation, as in the authors' code).

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

import torch
from trl import GRPOConfig, GRPOTrainer

from ..config import help_meta as _h
from ..errors import SftlabError
from ..io import atomic_write_json
from ..objectives.nft import PROMPT_WEIGHTINGS, informative, nft_loss


@dataclass
class NFTTrainConfig:
    """Options of ``sftlab train --method nft``. Defaults follow the NFT authors' 7B script (arXiv 2505.18116)."""

    method: str = field(default="nft", metadata=_h("nft: Negative-aware Fine-Tuning (online, verifier rewards).", choices=["nft"]))
    model: str | None = field(default=None, metadata=_h("Starting policy: hub id or local path. Omitted: the embedded lab model."))
    data: str | None = field(default=None, metadata=_h("Questions with reference answers (any sftlab format; solutions are not used). Omitted: the lab's train split."))
    output_dir: str = field(default="outputs/nft", metadata=_h("Where checkpoints, the final model and train_summary.json go."))
    max_steps: int = field(default=0, metadata=_h("Optimizer steps (0: --num-train-epochs passes over the questions)."))
    num_train_epochs: float = field(default=1.0, metadata=_h("Passes over the questions when --max-steps is 0."))
    max_prompts: int = field(default=0, metadata=_h("Use a seeded subset of this many questions (0: all)."))
    num_generations: int = field(default=16, metadata=_h("Answers sampled per question (K; the authors: 16)."))
    prompts_per_step: int = field(default=32, metadata=_h("Questions per optimizer step (the authors' mini-batch: 32)."))
    updates_per_generation: int = field(default=16, metadata=_h("Optimizer steps per generation batch: prompts_per_step x this many questions are sampled at once from pi_old (the authors: 512 / 32 = 16). 1: on-policy, R = 1."))
    per_device_train_batch_size: int = field(default=16, metadata=_h("Completions per device per micro-batch; prompts_per_step x num_generations must be a multiple of it times the number of processes (the rest is gradient accumulation)."))
    learning_rate: float = field(default=1e-6, metadata=_h("Peak learning rate (the authors: 1e-6)."))
    lr_scheduler_type: str = field(default="constant_with_warmup", metadata=_h("Learning-rate schedule (transformers names; the authors: constant after warmup)."))
    warmup_steps: int = field(default=10, metadata=_h("Linear warmup steps (the authors: 10)."))
    weight_decay: float = field(default=0.1, metadata=_h("AdamW weight decay (the authors' scripts: 0.1)."))
    max_grad_norm: float = field(default=1.0, metadata=_h("Gradient clipping norm (0 disables)."))
    temperature: float = field(default=1.0, metadata=_h("Sampling temperature (also divides the logits of R_t, as TRL does)."))
    top_p: float = field(default=1.0, metadata=_h("Nucleus sampling threshold."))
    max_completion_length: int = field(default=3584, metadata=_h("Longest sampled answer in tokens (the authors' 7B: 4096 - 512)."))
    epsilon: float = field(default=1.0, metadata=_h("eps: floor of the implicit negative likelihood ratio, value clipped with its gradient kept (the authors: 1.0)."))
    negative_weight: float = field(default=1.0, metadata=_h("Weight of the wrong answers' term (1: NFT; 0: RFT, right answers only)."))
    prompt_weighting: str = field(default="one_minus_r", metadata=_h("w(q): one_minus_r (1 - r_q, the paper's), sqrt_odds (sqrt((1 - r_q) / r_q)) or none.", choices=list(PROMPT_WEIGHTINGS)))
    max_log_ratio: float = field(default=10.0, metadata=_h("Clamp of log R_t before exponentiating (the authors' code: 10)."))
    correct_rate_clip: float = field(default=0.02, metadata=_h("r_q is clamped into [c, 1 - c] inside the loss (the authors' code: 0.02)."))
    token_normalizer: float = field(default=0.0, metadata=_h("0: the loss is a mean over the kept completion tokens of each optimizer step (sftlab's aggregation); > 0: their sum divided by this constant per device (the authors' code: 1000)."))
    verify_mode: str = field(default="math", metadata=_h("How a sampled answer is checked against the reference: math (math-verify) or exact. Strict: a sample that states no final answer (\\boxed{}, 'The answer is', ####) earns nothing.", choices=["math", "exact"]))
    use_vllm: bool = field(default=False, metadata=_h("Sample with vLLM (colocated) on GPU; needs the [vllm] extra."))
    lora: bool = field(default=False, metadata=_h("Train LoRA adapters instead of all weights; the saved model is merged."))
    lora_r: int = field(default=16, metadata=_h("LoRA rank."))
    lora_alpha: int = field(default=32, metadata=_h("LoRA alpha."))
    lora_dropout: float = field(default=0.05, metadata=_h("LoRA dropout."))
    lora_target_modules: str = field(default="all-linear", metadata=_h("Comma-separated module names for LoRA, or 'all-linear'."))
    bf16: bool | None = field(default=None, metadata=_h("bf16 mixed precision. Default: on where a GPU supports it, off on CPU."))
    gradient_checkpointing: bool = field(default=False, metadata=_h("Recompute activations in backward to save memory (slower; the authors turn it on)."))
    prompt_template: str | None = field(default=None, metadata=_h("Template with a {question} slot for reasoning records. Default: the tokenizer's chat template, else 'Question: ...\\nSolution:'."))
    logging_steps: int = field(default=1, metadata=_h("Log every N optimizer steps."))
    save_steps: int = field(default=50, metadata=_h("Save a checkpoint (for --resume) every N optimizer steps."))
    resume: bool = field(default=False, metadata=_h("Continue from the last checkpoint in --output-dir."))
    seed: int = field(default=42, metadata=_h("Seed for the subset, sampling and training."))
    trust_remote_code: bool = field(default=False, metadata=_h("Allow model code from the hub (off unless you ask)."))
    report_to: str = field(default="none", metadata=_h("Experiment trackers (transformers names: none, wandb, tensorboard, ...)."))
    progress: bool = field(default=True, metadata=_h("Show progress bars."))


# ----------------------------------------------------------------------------- the trainer


@dataclass
class NFTConfig(GRPOConfig):
    """TRL's GRPOConfig plus NFT's loss options (see :func:`sftlab.objectives.nft.nft_loss`).

    GRPO's clipping (``epsilon``, ``epsilon_high``), ``loss_type`` and
    ``scale_rewards`` are not used; ``beta`` must stay 0 (NFT has no KL term).
    """

    nft_epsilon: float = field(default=1.0, metadata={"help": "Floor of the implicit negative likelihood ratio."})
    negative_weight: float = field(default=1.0, metadata={"help": "Weight of the wrong answers' term."})
    prompt_weighting: str = field(default="one_minus_r", metadata={"help": "w(q).", "choices": list(PROMPT_WEIGHTINGS)})
    max_log_ratio: float = field(default=10.0, metadata={"help": "Clamp of log R_t."})
    correct_rate_clip: float = field(default=0.02, metadata={"help": "Clamp of r_q inside the loss."})
    token_normalizer: float = field(default=0.0, metadata={"help": "0: mean over kept tokens; > 0: sum / constant."})

    def __post_init__(self):
        super().__post_init__()
        if self.beta != 0.0:
            raise ValueError(f"NFT has no KL term: beta must be 0, got {self.beta}")
        if self.prompt_weighting not in PROMPT_WEIGHTINGS:
            raise ValueError(f"prompt_weighting must be one of {PROMPT_WEIGHTINGS}, got {self.prompt_weighting!r}")
        if self.nft_epsilon <= 0:
            raise ValueError(f"nft_epsilon must be > 0, got {self.nft_epsilon}")


class NFTTrainer(GRPOTrainer):
    """GRPOTrainer whose loss is NFT's (:func:`~sftlab.objectives.nft.nft_loss`).

    The reward functions must score each completion in [0, 1] (1: right); with
    several, their weighted sum (``reward_weights``) must stay in [0, 1]. A
    completion no function can score counts as wrong.
    """

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        rewards_per_func = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        self._nft_rewards_per_func = rewards_per_func  # (global batch, functions), gathered over processes
        return rewards_per_func

    def _generate_and_score_completions(self, inputs):
        output = super()._generate_and_score_completions(inputs)
        mode = "train" if self.model.training else "eval"
        k = self.num_generations if mode == "train" else self.num_generations_eval
        rewards, correct_rate = group_outcomes(self._nft_rewards_per_func, self.reward_weights, k)  # (N,), (N,)
        local = output["prompt_ids"].size(0)
        rows = slice(self.accelerator.process_index * local, (self.accelerator.process_index + 1) * local)
        output["nft_reward"], output["nft_correct_rate"] = rewards[rows], correct_rate[rows]
        mask = output["completion_mask"] * output.get("tool_mask", 1)
        kept_tokens = (mask * informative(correct_rate[rows]).unsqueeze(1)).sum()
        output["nft_num_tokens"] = self.accelerator.gather(kept_tokens.float().reshape(1)).sum()  # 0-dim: not split
        kept = informative(correct_rate.view(-1, k)[:, 0])
        self._metrics[mode]["nft/kept_groups"].append(kept.float().mean().item())
        return output

    def _normalizer(self, inputs, mode: str):
        """N of one micro-batch: a constant, or the generation batch's kept tokens per optimizer step and process."""
        if self.args.token_normalizer > 0:
            return self.args.token_normalizer
        n = inputs["nft_num_tokens"].clamp(min=1.0) / self.accelerator.num_processes
        if mode == "train":  # the generation batch spans steps_per_generation micro-batches, summed per step
            accumulation = getattr(self, "current_gradient_accumulation_steps", self.args.gradient_accumulation_steps)
            n = n * accumulation / self.args.steps_per_generation
        return n

    def _compute_loss(self, model, inputs):
        mode = "train" if self.model.training else "eval"
        completion_ids, completion_mask = inputs["completion_ids"], inputs["completion_mask"]
        input_ids = torch.cat([inputs["prompt_ids"], completion_ids], dim=1)
        attention_mask = torch.cat([inputs["prompt_mask"], completion_mask], dim=1)
        mask = completion_mask if "tool_mask" not in inputs else completion_mask * inputs["tool_mask"]
        extra = {k: inputs.get(k) for k in _MODEL_EXTRAS}
        per_token_logps, entropies, _ = self._get_per_token_logps_and_entropies(
            model, input_ids, attention_mask, completion_ids.size(1), compute_entropy=True, **extra
        )  # (B, T) each
        old = inputs.get("old_per_token_logps")  # None when every step is on-policy: R = 1
        old = per_token_logps.detach() if old is None else old
        args = self.args
        loss, stats = nft_loss(
            per_token_logps, old, mask, inputs["nft_reward"], inputs["nft_correct_rate"], epsilon=args.nft_epsilon,
            negative_weight=args.negative_weight, prompt_weighting=args.prompt_weighting,
            max_log_ratio=args.max_log_ratio, correct_rate_clip=args.correct_rate_clip,
            num_items_in_batch=self._normalizer(inputs, mode),
        )  # fmt: skip
        gather = self.accelerator.gather
        m = self._metrics[mode]
        for key, value in stats.items():
            m[f"nft/{key}"].append(gather(value.to(loss.device).reshape(1)).nanmean().item())
        with torch.no_grad():
            totals = gather(torch.stack([(entropies * mask).sum(), mask.sum().float()]).reshape(1, 2)).sum(0)
            m["entropy"].append((totals[0] / totals[1].clamp(min=1.0)).item())
        return loss


_MODEL_EXTRAS = ("pixel_values", "image_grid_thw", "num_images", "pixel_attention_mask", "spatial_shapes", "num_tiles",
                 "image_sizes", "token_type_ids", "mm_token_type_ids", "image_position_ids")  # fmt: skip


def group_outcomes(rewards_per_func: torch.Tensor, weights: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Each completion's verifier outcome ``c`` and its group's accuracy ``r_q``, both ``(N,)``.

    ``rewards_per_func``: ``(N, F)``, groups of ``k`` consecutive rows (TRL's
    order). NaN (unscorable) counts as 0, as does a completion no function scored.
    """
    rewards = (rewards_per_func.nan_to_num(nan=0.0) * weights.to(rewards_per_func.device).unsqueeze(0)).sum(dim=1)
    if rewards.numel() and (rewards.min() < 0.0 or rewards.max() > 1.0):
        raise ValueError("NFT needs verifier rewards in [0, 1] (1: right, 0: wrong); got values outside it: "
                         f"[{rewards.min().item():.3g}, {rewards.max().item():.3g}]")  # fmt: skip
    correct_rate = rewards.view(-1, k).mean(dim=1).repeat_interleave(k)
    return rewards, correct_rate


# ----------------------------------------------------------------------------- the run


def check_config(cfg: NFTTrainConfig) -> None:
    for name in ("num_generations", "prompts_per_step", "updates_per_generation", "per_device_train_batch_size",
                 "max_completion_length", "logging_steps", "save_steps"):  # fmt: skip
        if getattr(cfg, name) < 1:
            raise SftlabError(f"nft: field '{name}': must be at least 1, got {getattr(cfg, name)}")
    if cfg.num_generations < 2:
        raise SftlabError("nft: field 'num_generations': r_q needs at least 2 answers per question")
    for name in ("max_steps", "max_prompts", "warmup_steps", "weight_decay", "token_normalizer", "negative_weight"):
        if getattr(cfg, name) < 0:
            raise SftlabError(f"nft: field '{name}': must be >= 0, got {getattr(cfg, name)}")
    if cfg.max_steps == 0 and cfg.num_train_epochs <= 0:
        raise SftlabError("nft: field 'num_train_epochs': must be > 0 when --max-steps is 0")
    if cfg.learning_rate <= 0 or cfg.temperature <= 0 or cfg.epsilon <= 0:
        raise SftlabError("nft: fields 'learning_rate', 'temperature' and 'epsilon' must be > 0")
    if not 0.0 <= cfg.correct_rate_clip < 0.5:
        raise SftlabError(f"nft: field 'correct_rate_clip': must be in [0, 0.5), got {cfg.correct_rate_clip}")
    if cfg.prompt_weighting not in PROMPT_WEIGHTINGS:
        raise SftlabError(f"nft: field 'prompt_weighting': must be one of {', '.join(PROMPT_WEIGHTINGS)}")
    if cfg.verify_mode not in ("math", "exact"):
        raise SftlabError(f"nft: field 'verify_mode': must be math or exact, got {cfg.verify_mode!r}")
    gradient_accumulation(cfg)


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

    from ..adapt.rl import grpo_prompt
    from ..data import eval_items, load_sft_data

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


def nft_args(cfg: NFTTrainConfig, steps: int, *, bf16: bool) -> NFTConfig:
    import importlib.util

    gpu = torch.cuda.is_available()
    if cfg.use_vllm and gpu and importlib.util.find_spec("vllm") is None:
        raise SftlabError("--use-vllm needs the [vllm] extra (pip install 'sftlab[vllm]'); or leave it off")
    accumulation = gradient_accumulation(cfg)
    return NFTConfig(
        output_dir=cfg.output_dir, max_steps=steps, learning_rate=cfg.learning_rate,
        lr_scheduler_type=cfg.lr_scheduler_type, warmup_steps=cfg.warmup_steps, weight_decay=cfg.weight_decay,
        max_grad_norm=cfg.max_grad_norm, per_device_train_batch_size=cfg.per_device_train_batch_size,
        gradient_accumulation_steps=accumulation, steps_per_generation=accumulation * cfg.updates_per_generation,
        num_generations=cfg.num_generations, max_completion_length=cfg.max_completion_length,
        temperature=cfg.temperature, top_p=cfg.top_p, beta=0.0, nft_epsilon=cfg.epsilon,
        negative_weight=cfg.negative_weight, prompt_weighting=cfg.prompt_weighting, max_log_ratio=cfg.max_log_ratio,
        correct_rate_clip=cfg.correct_rate_clip, token_normalizer=cfg.token_normalizer, bf16=bf16,
        activation_checkpointing=cfg.gradient_checkpointing, use_vllm=bool(cfg.use_vllm and gpu),
        vllm_mode="colocate", logging_steps=cfg.logging_steps, save_strategy="steps", save_steps=cfg.save_steps,
        save_total_limit=1, save_only_model=False, seed=cfg.seed, report_to=cfg.report_to,
        disable_tqdm=not cfg.progress, use_cpu=not gpu, dataloader_num_workers=0, log_completions=False,
    )  # fmt: skip


def reward_function(cfg: NFTTrainConfig):
    """The verifier as a TRL reward function: 1 when the answer verifies against the reference, else 0."""
    from ..adapt.rl import CorrectnessReward

    return CorrectnessReward(cfg.verify_mode)


def run_nft(cfg: NFTTrainConfig) -> dict:
    """Train with NFT and save; returns the summary also written to ``output_dir/train_summary.json``."""
    import datasets
    from transformers.trainer_utils import get_last_checkpoint

    from .irl import load_policy, load_tokenizer, lora_config, quiet
    from .run import resolve_lab_defaults, save_final

    check_config(cfg)
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
        model, tok, bf16 = load_policy(model_path, cfg)
        tok.padding_side = "left"
        trainer = NFTTrainer(model=model, reward_funcs=[reward_function(cfg)], args=nft_args(cfg, steps, bf16=bf16),
                             train_dataset=datasets.Dataset.from_list(rows), processing_class=tok,
                             peft_config=lora_config(cfg))  # fmt: skip
        if not cfg.progress:
            from transformers.trainer_callback import PrinterCallback

            trainer.remove_callback(PrinterCallback)
        print(f"sftlab nft: {len(rows)} questions, {steps} steps of {cfg.prompts_per_step} questions x "
              f"{cfg.num_generations} answers, {cfg.updates_per_generation} steps per generation batch")
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
