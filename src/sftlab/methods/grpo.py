"""GRPO through TRL's ``GRPOTrainer``: the one GRPO stage that DART's mapper and the direct-RL baseline share.

Nothing of GRPO is rewritten here: :func:`grpo_args` builds the ``GRPOConfig``,
:func:`run_grpo` trains, resumes and saves atomically. **Direct RL**
(:func:`run_direct_rl`, DART's ablation and a baseline of its own): GRPO on the
target itself with the correctness reward.
"""

from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path

import torch

from sftlab.args import RunArgs
from sftlab.data import render_prompt
from sftlab.errors import SftlabError
from sftlab.io import atomic_dir, atomic_write_json
from sftlab.methods.trainer_args import trainer_args
from sftlab.models import load_model_and_tokenizer
from sftlab.trainers.rewards import CorrectnessReward, grpo_prompt

DONE = "rl_summary.json"


def grpo_args(
    output_dir,
    *,
    steps: int,
    group_size: int,
    prompts_per_step: int,
    learning_rate: float,
    beta: float,
    temperature: float,
    max_completion_length: int,
    seed: int,
    save_steps: int = 50,
    use_vllm: bool = False,
    progress: bool = True,
):
    """A ``GRPOConfig`` for one device: ``prompts_per_step`` groups of ``group_size`` completions per update.

    A constant learning rate without warmup, a log line every step, no gradient checkpointing; bf16 and the
    device by :func:`trainer_args`'s rules, and vLLM (colocated) generation on a GPU when asked.
    """
    from trl import GRPOConfig

    gpu = torch.cuda.is_available()
    if use_vllm and gpu and importlib.util.find_spec("vllm") is None:
        raise SftlabError("--use-vllm needs the [vllm] extra (pip install 'sftlab[vllm]'); or leave it off")
    run = RunArgs(learning_rate=learning_rate, lr_scheduler_type="constant", per_device_train_batch_size=group_size * prompts_per_step,
                  gradient_checkpointing=False, logging_steps=1, seed=seed, report_to="none", progress=progress)  # fmt: skip
    return trainer_args(
        GRPOConfig, run, output_dir=output_dir, max_steps=steps, beta=beta, num_generations=group_size,
        gradient_accumulation_steps=1, max_completion_length=max_completion_length, temperature=temperature,
        warmup_steps=0, save_strategy="steps", save_steps=save_steps, save_total_limit=1,
        use_vllm=bool(use_vllm and gpu), vllm_mode="colocate", log_completions=False, save_only_model=False,
    )  # fmt: skip


def adapt_grpo_args(cfg, output_dir):
    """:func:`grpo_args` from an ``AdaptConfig``'s RL options (the mapper's GRPO and the direct-RL baseline)."""
    return grpo_args(
        output_dir, steps=cfg.rl_steps, group_size=cfg.group_size, prompts_per_step=cfg.prompts_per_step,
        learning_rate=cfg.rl_learning_rate, beta=cfg.kl_beta, temperature=cfg.temperature,
        max_completion_length=cfg.max_completion_length, seed=cfg.seed, save_steps=cfg.save_steps,
        use_vllm=cfg.use_vllm, progress=cfg.progress,
    )  # fmt: skip


def run_grpo(model, tokenizer, dataset, reward_funcs, args, out_dir: Path) -> dict:
    """Train ``model`` with GRPO (resuming from a checkpoint in ``args.output_dir``) and save it to ``out_dir``.

    ``out_dir`` is written whole or not at all; its ``rl_summary.json`` (log
    history, seconds, steps) marks the stage done.
    """
    from transformers.trainer_utils import get_last_checkpoint
    from trl import GRPOTrainer

    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    trainer = GRPOTrainer(
        model=model, reward_funcs=reward_funcs, args=args, train_dataset=dataset, processing_class=tokenizer
    )
    ckpt_root = Path(args.output_dir)
    resume = get_last_checkpoint(str(ckpt_root)) if ckpt_root.is_dir() else None
    t0 = time.time()
    trainer.train(resume_from_checkpoint=resume)
    seconds = time.time() - t0
    summary = {
        "steps": trainer.state.global_step,
        "train_seconds": seconds,
        "resumed_from": resume,
        "rewrites": trainer.state.global_step * args.per_device_train_batch_size,
        "log_history": trainer.state.log_history,
    }
    with atomic_dir(out_dir) as tmp:
        trainer.save_model(str(tmp))
        tokenizer.save_pretrained(str(tmp))
        atomic_write_json(Path(tmp) / DONE, summary)
    return summary


def load_done(out_dir: Path) -> dict | None:
    """The summary of a finished RL stage in ``out_dir``, or None."""
    f = Path(out_dir) / DONE
    return json.loads(f.read_text(encoding="utf-8")) if f.is_file() else None


def rl_curve(log_history: list[dict]) -> dict:
    """Per-step reward, signal and DART terms from a GRPO log history (for plots and the report).

    Beside ``reward`` and ``kl``: ``frac_reward_zero_std`` (TRL's share of groups
    whose rewards are all equal, so their advantages are 0 and they add no policy
    gradient) and ``entropy``. With a binary reward (direct RL) most groups can
    tie; an update built from a handful of informative samples is mostly noise,
    which Adam still turns into a step of about the learning rate per weight.
    """
    rows = [h for h in log_history if "reward" in h]
    dart = sorted({k for h in rows for k in h if k.startswith("dart/")})
    keys = ["reward", "kl", "frac_reward_zero_std", "entropy"] + dart
    curve = {"step": [h["step"] for h in rows]}
    for k in keys:
        curve[k] = [h.get(k) for h in rows]
    return curve


def run_direct_rl(cfg, target_path: str, records: list[dict], out: Path) -> dict:
    """GRPO on the target with the correctness reward; the policy is saved to ``out/policy``. Resumable."""
    from datasets import Dataset

    done = load_done(out / "policy")
    if done is not None:
        return done
    model, tok = load_model_and_tokenizer(target_path, "train", trust_remote_code=cfg.trust_remote_code)
    # With a chat template and no explicit template, TRL renders the question as one user turn, as render_prompt does.
    chat = cfg.prompt_template is None and getattr(tok, "chat_template", None)
    dataset = Dataset.from_list([{"prompt": grpo_prompt(r["question"], tok) if chat else render_prompt(
        r["question"], tok, cfg.prompt_template), "answer": r.get("answer")} for r in records])  # fmt: skip
    args = adapt_grpo_args(cfg, out / "rl")
    return run_grpo(model, tok, dataset, [CorrectnessReward(cfg.verify_mode)], args, out / "policy")
