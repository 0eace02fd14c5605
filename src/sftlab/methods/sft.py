"""``sftlab train``: load the user's model and data (or the lab's), train, save a standard checkpoint."""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from sftlab.args import LoraArgs, ModelArgs, RunArgs
from sftlab.config import help_meta as _h
from sftlab.data.answers import ANSWER_SUFFIX_HELP, ANSWER_SUFFIXES
from sftlab.errors import SftlabError
from sftlab.io import atomic_write_json
from sftlab.methods.lab_defaults import resolve_lab_defaults
from sftlab.methods.trainer_args import trainer_args
from sftlab.models import check_max_length, load_causal_lm, load_model_and_tokenizer, lora_config, use_bf16
from sftlab.objectives import KL_DIRECTIONS, OBJECTIVES


@dataclass
class TrainConfig(RunArgs, LoraArgs, ModelArgs):
    """Options of ``sftlab train``. Defaults follow the DFT paper (lr 5e-5, cosine, warmup 0.1, 1 epoch).

    The model, LoRA and run options (learning rate, schedule, batch, precision, logging, seed) are the shared
    groups of :mod:`sftlab.args`; the fields below are ``sftlab train``'s own.
    """

    data: str | None = field(
        default=None,
        metadata=_h(
            "Training data: .jsonl/.json/.parquet, a save_to_disk folder, or a hub id 'name[:split]'. Omitted: the lab's expert-style train split."
        ),
    )
    output_dir: str = field(default="outputs/train", metadata=_h("Where checkpoints and the final model go."))
    objective: str = field(default="nll", metadata=_h("Per-token objective.", choices=list(OBJECTIVES)))
    alpha: float = field(default=1.0, metadata=_h("Exponent of the 'power' objective."))
    kl_coef: float = field(default=0.1, metadata=_h("ASFT: weight of the KL anchor."))
    kl_direction: str = field(
        default="forward",
        metadata=_h("ASFT: KL direction; forward = KL(pi_ref || pi_theta).", choices=list(KL_DIRECTIONS)),
    )
    fused_loss: str = field(
        default="auto",
        metadata=_h(
            "LM head + loss without full logits: trl (TRL's fused head, any device), cpu (single-process CPU path, gradients formed in forward), auto.",
            choices=["auto", "trl", "cpu"],
        ),
    )
    ref_model: str | None = field(
        default=None, metadata=_h("ASFT: reference model id/path. Omitted: a frozen copy of --model.")
    )
    max_steps: int = field(default=-1, metadata=_h("Stop after this many optimizer steps (-1: run the epochs)."))
    num_train_epochs: float = field(default=1.0, metadata=_h("Epochs over the data."))
    warmup_ratio: float = field(default=0.1, metadata=_h("Fraction of steps for linear warmup."))
    gradient_accumulation_steps: int = field(default=1, metadata=_h("Micro-batches per optimizer step."))
    max_length: int | None = field(
        default=None,
        metadata=_h(
            "Longest sequence in tokens (prompt + completion); at most the model's context (max_position_embeddings). Omitted: 1024, or the context when smaller."
        ),
    )
    on_overlength: str = field(
        default="drop",
        metadata=_h("What to do with longer records (always counted).", choices=["drop", "truncate", "error"]),
    )
    packing: bool = field(default=False, metadata=_h("Pack several records into each sequence (TRL's BFD packing)."))
    save_steps: int = field(default=500, metadata=_h("Save a checkpoint every N steps."))
    save_total_limit: int | None = field(default=2, metadata=_h("Keep at most this many checkpoints (None: all)."))
    answer_suffix: str = field(default="auto", metadata=_h(ANSWER_SUFFIX_HELP, choices=list(ANSWER_SUFFIXES)))
    resume: bool = field(default=False, metadata=_h("Continue from the last checkpoint in --output-dir."))


def run_train(cfg: TrainConfig) -> dict:
    """Train and save; returns a summary (output_dir, data stats, log history, seconds)."""
    from sftlab.data import apply_answer_check, load_sft_data, tokenize_sft

    model_path, data_source = resolve_lab_defaults(cfg.model, cfg.data)
    preflight(cfg, model_path)  # flag conflicts: one line, before data or weights load
    # the model's config only (cheap), before any data
    cfg = replace(cfg, max_length=check_max_length(model_path, cfg.max_length, trust_remote_code=cfg.trust_remote_code))
    data = load_sft_data(data_source)  # every row validated before any model is touched
    answers = apply_answer_check(data, data_source, cfg.answer_suffix)
    out = Path(cfg.output_dir)
    resume_from = _checkpoint_to_resume(out) if cfg.resume else None
    if cfg.resume and resume_from is None:
        print(f"sftlab: no checkpoint in {out} to resume from; starting from the beginning")

    bf16 = use_bf16(cfg.bf16)
    model, tok = load_model_and_tokenizer(model_path, "train", bf16=bf16, trust_remote_code=cfg.trust_remote_code)
    train_ds, stats = tokenize_sft(
        data, tok, max_length=cfg.max_length, on_overlength=cfg.on_overlength, prompt_template=cfg.prompt_template
    )
    if len(train_ds) == 0:
        raise SftlabError(
            f"{data_source}: no record fits in --max-length {cfg.max_length} ({stats['n_dropped']} dropped)"
        )
    _print_stats(data_source, data.format, stats)

    trainer = build_trainer(cfg, model, tok, train_ds)
    t0 = time.time()
    trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    seconds = time.time() - t0
    save_final(trainer, tok, out, merge_lora=cfg.lora)
    summary = {
        "output_dir": str(out),
        "model": model_path,
        "data": data_source,
        "data_format": data.format,
        "data_stats": {**stats, **answers},
        "train_seconds": seconds,
        "global_step": trainer.state.global_step,
        "log_history": trainer.state.log_history,
        "config": asdict(cfg),
    }
    if trainer.is_world_process_zero():
        atomic_write_json(out / "train_summary.json", summary)
    return summary


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def preflight(cfg: TrainConfig, model_path: str) -> None:
    """Flag conflicts that the model's config (not its weights) already decides: one ``SftlabError`` line.

    ``--fused-loss cpu`` needs a single CPU process, plain logits (no soft-capping or scaling), no LoRA on
    the LM head, and ASFT's forward KL; the trainer re-checks what only the loaded model can tell.
    """
    if cfg.fused_loss != "cpu":
        return
    reasons = []
    if cfg.objective == "asft" and cfg.kl_direction != "forward":
        reasons.append("--kl-direction reverse (the CPU path computes the forward KL)")
    if cfg.lora and "lm_head" in cfg.lora_target_modules:
        reasons.append("LoRA on lm_head")
    if _cuda_available():
        reasons.append("a GPU is present (the CPU path runs on the CPU only)")
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        reasons.append("several processes")
    if not reasons:
        from transformers import AutoConfig

        from sftlab.trainers.sft import has_scaled_logits

        try:
            model_config = AutoConfig.from_pretrained(model_path, trust_remote_code=cfg.trust_remote_code)
        except (OSError, ValueError) as e:
            raise SftlabError(f"{model_path}: cannot read the model config ({str(e).splitlines()[0]})") from None
        if has_scaled_logits(model_config):
            reasons.append(f"{model_path} scales or soft-caps its logits")
    if reasons:
        raise SftlabError(f"--fused-loss cpu does not apply: {'; '.join(reasons)} (use --fused-loss auto or trl)")


def sft_args(cfg: TrainConfig):
    """The :class:`SFTLabConfig` of ``cfg``: the shared run options (:func:`trainer_args`) plus SFT's own."""
    from sftlab.trainers.sft import SFTLabConfig

    return trainer_args(
        SFTLabConfig, cfg, output_dir=cfg.output_dir, objective=cfg.objective, alpha=cfg.alpha, kl_coef=cfg.kl_coef,
        kl_direction=cfg.kl_direction, fused_loss=cfg.fused_loss, max_steps=cfg.max_steps,
        num_train_epochs=cfg.num_train_epochs, warmup_ratio=cfg.warmup_ratio,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps, max_length=cfg.max_length, packing=cfg.packing,
        save_steps=cfg.save_steps, save_total_limit=cfg.save_total_limit, save_only_model=False,
    )  # fmt: skip


def build_trainer(cfg: TrainConfig, model, tokenizer, train_dataset, *, ref_model=None):
    """An :class:`SFTLabTrainer` configured from ``cfg`` (shared by run_train and methods built on SFT)."""
    from sftlab.trainers.sft import SFTLabTrainer

    args = sft_args(cfg)
    peft_config = lora_config(cfg.lora, cfg.lora_r, cfg.lora_alpha, cfg.lora_dropout, cfg.lora_target_modules)
    if ref_model is None and cfg.objective == "asft" and cfg.ref_model:
        ref_model = load_causal_lm(cfg.ref_model, "train", bf16=args.bf16, trust_remote_code=cfg.trust_remote_code)
    trainer = SFTLabTrainer(
        model=model,
        args=args,
        train_dataset=train_dataset,
        processing_class=tokenizer,
        peft_config=peft_config,
        ref_model=ref_model,
    )
    if not cfg.progress:  # without progress bars transformers prints every log dict; keep quiet instead
        from transformers.trainer_callback import PrinterCallback

        trainer.remove_callback(PrinterCallback)
    return trainer


def save_final(trainer, tokenizer, out: Path, *, merge_lora: bool = False) -> None:
    """Save the final model + tokenizer into ``out`` as a standard checkpoint, atomically per file.

    The files are written to a temporary folder first and then moved into place,
    so ``out`` never holds a half-written model. A LoRA model is merged, and its
    adapter kept under ``out/adapter``.
    """
    trainer.accelerator.wait_for_everyone()
    model = trainer.accelerator.unwrap_model(trainer.model)
    state_dict = trainer.accelerator.get_state_dict(trainer.model) if trainer.is_fsdp_enabled else None
    if not trainer.is_world_process_zero():
        return
    tmp = out / ".final.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    if merge_lora:
        model.save_pretrained(tmp / "adapter")
        model = model.merge_and_unload()
    model.__dict__.pop("forward", None)  # drop the fused-head patch before saving/using the model elsewhere
    model.save_pretrained(tmp, state_dict=state_dict)
    tokenizer.save_pretrained(tmp)
    for item in tmp.iterdir():
        target = out / item.name
        if target.is_dir():
            shutil.rmtree(target)
        os.replace(item, target)
    tmp.rmdir()


def _checkpoint_to_resume(out: Path) -> Path | None:
    from transformers.trainer_utils import get_last_checkpoint

    return Path(get_last_checkpoint(str(out))) if out.is_dir() and get_last_checkpoint(str(out)) else None


def _print_stats(source: str, fmt: str, stats: dict) -> None:
    msg = (
        f"sftlab: {source} ({fmt}): {stats['n_kept']} records, {stats['n_completion_tokens']} completion tokens"
        f" of {stats['n_tokens']}"
    )
    if stats.get("n_dropped") or stats.get("n_truncated"):
        msg += (
            f"; over --max-length {stats['max_length']}: {stats['n_dropped']} dropped, {stats['n_truncated']} truncated"
        )
    print(msg)
