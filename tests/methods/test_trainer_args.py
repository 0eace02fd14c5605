"""trainer_args changes no result: every method's TRL config is field-for-field the one the hand-written builders
made before it existed (their bodies are copied below as the reference), for the defaults and for changed options."""

from __future__ import annotations

import math

import pytest
import torch

from sftlab.models import use_bf16

# ----------------------------------------------------------------------------- the old builders, as they were


def old_sft_args(cfg, *, bf16):  # methods/sft.py build_trainer, before trainer_args
    from sftlab.trainers.sft import SFTLabConfig

    return SFTLabConfig(
        output_dir=cfg.output_dir,
        objective=cfg.objective,
        alpha=cfg.alpha,
        kl_coef=cfg.kl_coef,
        kl_direction=cfg.kl_direction,
        fused_loss=cfg.fused_loss,
        max_steps=cfg.max_steps,
        num_train_epochs=cfg.num_train_epochs,
        learning_rate=cfg.learning_rate,
        lr_scheduler_type=cfg.lr_scheduler_type,
        warmup_steps=float(cfg.warmup_ratio),
        weight_decay=cfg.weight_decay,
        max_grad_norm=cfg.max_grad_norm,
        per_device_train_batch_size=cfg.per_device_train_batch_size,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        max_length=cfg.max_length,
        packing=cfg.packing,
        bf16=bf16,
        activation_checkpointing=cfg.gradient_checkpointing,
        logging_steps=cfg.logging_steps,
        save_steps=cfg.save_steps,
        save_total_limit=cfg.save_total_limit,
        seed=cfg.seed,
        report_to=cfg.report_to,
        disable_tqdm=not cfg.progress,
        use_cpu=not torch.cuda.is_available(),
        dataloader_num_workers=0,
        save_only_model=False,
    )


def old_irft_args(cfg, out, steps, *, seed, bf16):  # methods/irl/common.py irft_args
    from sftlab.trainers.irft import IRFTConfig

    return IRFTConfig(
        output_dir=str(out),
        link="logistic" if cfg.method == "spin" else cfg.link,
        beta=cfg.beta,
        max_steps=steps,
        learning_rate=cfg.learning_rate,
        lr_scheduler_type=cfg.lr_scheduler_type,
        warmup_steps=float(cfg.warmup_ratio),
        weight_decay=cfg.weight_decay,
        max_grad_norm=cfg.max_grad_norm,
        per_device_train_batch_size=cfg.per_device_train_batch_size,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        max_length=cfg.max_length,
        precompute_ref_batch_size=max(cfg.per_device_train_batch_size, 16),
        bf16=bf16,
        activation_checkpointing=cfg.gradient_checkpointing,
        logging_steps=max(1, min(cfg.logging_steps, steps)),
        save_strategy="no",
        seed=seed,
        report_to=cfg.report_to,
        disable_tqdm=not cfg.progress,
        use_cpu=not torch.cuda.is_available(),
        dataloader_num_workers=0,
    )


def old_reward_args(cfg, out, n_pairs, *, seed, bf16):  # methods/irl/rft.py reward_step
    from trl import RewardConfig

    batch = cfg.per_device_train_batch_size * cfg.gradient_accumulation_steps
    steps = cfg.reward_steps or max(1, math.ceil(n_pairs / batch))
    return RewardConfig(
        output_dir=str(out),
        max_steps=steps,
        learning_rate=cfg.reward_learning_rate,
        lr_scheduler_type="linear",
        warmup_steps=float(cfg.warmup_ratio),
        per_device_train_batch_size=cfg.per_device_train_batch_size,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        max_length=cfg.max_length,
        max_grad_norm=cfg.max_grad_norm,
        bf16=bf16,
        logging_steps=max(1, min(cfg.logging_steps, steps)),
        save_strategy="no",
        seed=seed,
        report_to=cfg.report_to,
        disable_tqdm=not cfg.progress,
        use_cpu=not torch.cuda.is_available(),
        dataloader_num_workers=0,
    )


def old_policy_args(cfg, out, n_demos, *, seed, bf16):  # methods/irl/rft.py policy_step
    from trl import GRPOConfig

    from sftlab.methods.irl.common import steps_for

    group = cfg.num_generations
    batch = -(-cfg.per_device_train_batch_size // group) * group
    steps = steps_for(cfg, n_demos, batch=batch // group * cfg.gradient_accumulation_steps)
    return GRPOConfig(
        output_dir=str(out),
        max_steps=steps,
        beta=cfg.beta,
        learning_rate=cfg.learning_rate,
        lr_scheduler_type=cfg.lr_scheduler_type,
        warmup_steps=float(cfg.warmup_ratio),
        weight_decay=cfg.weight_decay,
        max_grad_norm=cfg.max_grad_norm,
        per_device_train_batch_size=batch,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        num_generations=group,
        max_completion_length=cfg.max_new_tokens,
        temperature=cfg.temperature,
        top_p=cfg.top_p,
        bf16=bf16,
        activation_checkpointing=cfg.gradient_checkpointing,
        logging_steps=max(1, min(cfg.logging_steps, steps)),
        save_strategy="no",
        seed=seed,
        report_to=cfg.report_to,
        disable_tqdm=not cfg.progress,
        use_cpu=not torch.cuda.is_available(),
        dataloader_num_workers=0,
    )


def old_nft_args(cfg, steps, *, bf16):  # methods/nft.py nft_args
    from sftlab.methods.nft import gradient_accumulation
    from sftlab.trainers.nft import NFTConfig

    gpu = torch.cuda.is_available()
    accumulation = gradient_accumulation(cfg)
    return NFTConfig(
        output_dir=cfg.output_dir,
        max_steps=steps,
        learning_rate=cfg.learning_rate,
        lr_scheduler_type=cfg.lr_scheduler_type,
        warmup_steps=cfg.warmup_steps,
        weight_decay=cfg.weight_decay,
        max_grad_norm=cfg.max_grad_norm,
        per_device_train_batch_size=cfg.per_device_train_batch_size,
        gradient_accumulation_steps=accumulation,
        steps_per_generation=accumulation * cfg.updates_per_generation,
        num_generations=cfg.num_generations,
        max_completion_length=cfg.max_completion_length,
        temperature=cfg.temperature,
        top_p=cfg.top_p,
        beta=0.0,
        nft_epsilon=cfg.epsilon,
        negative_weight=cfg.negative_weight,
        prompt_weighting=cfg.prompt_weighting,
        max_log_ratio=cfg.max_log_ratio,
        correct_rate_clip=cfg.correct_rate_clip,
        token_normalizer=cfg.token_normalizer,
        bf16=bf16,
        activation_checkpointing=cfg.gradient_checkpointing,
        use_vllm=bool(cfg.use_vllm and gpu),
        vllm_mode="colocate",
        logging_steps=cfg.logging_steps,
        save_strategy="steps",
        save_steps=cfg.save_steps,
        save_total_limit=1,
        save_only_model=False,
        seed=cfg.seed,
        report_to=cfg.report_to,
        disable_tqdm=not cfg.progress,
        use_cpu=not gpu,
        dataloader_num_workers=0,
        log_completions=False,
    )


def old_grpo_args(
    output_dir,
    *,
    steps,
    group_size,
    prompts_per_step,
    learning_rate,
    beta,
    temperature,
    max_completion_length,
    seed,
    save_steps=50,
    use_vllm=False,
    progress=True,
):  # methods/grpo.py
    from trl import GRPOConfig

    gpu = torch.cuda.is_available()
    return GRPOConfig(
        output_dir=str(output_dir),
        max_steps=steps,
        learning_rate=learning_rate,
        beta=beta,
        num_generations=group_size,
        per_device_train_batch_size=group_size * prompts_per_step,
        gradient_accumulation_steps=1,
        max_completion_length=max_completion_length,
        temperature=temperature,
        lr_scheduler_type="constant",
        warmup_steps=0,
        logging_steps=1,
        save_strategy="steps",
        save_steps=save_steps,
        save_total_limit=1,
        seed=seed,
        report_to="none",
        disable_tqdm=not progress,
        use_cpu=not gpu,
        bf16=bool(gpu and torch.cuda.is_bf16_supported()),
        activation_checkpointing=False,
        use_vllm=bool(use_vllm and gpu),
        vllm_mode="colocate",
        dataloader_num_workers=0,
        log_completions=False,
        save_only_model=False,
    )


# ----------------------------------------------------------------------------- old == new


def same(old, new):
    a, b = old.to_dict(), new.to_dict()
    assert type(old) is type(new)
    assert a == b, {k: (a.get(k), b.get(k)) for k in a.keys() | b.keys() if a.get(k) != b.get(k)}


# The defaults, then options that reach every mapped field (the bf16 rule both ways, no progress, checkpointing...)
CHANGED = dict(
    learning_rate=3e-4,
    lr_scheduler_type="linear",
    weight_decay=0.01,
    max_grad_norm=0.5,
    per_device_train_batch_size=4,
    bf16=False,
    gradient_checkpointing=True,
    logging_steps=3,
    seed=7,
    report_to="tensorboard",
    progress=False,
)
VARIANTS = [{}, CHANGED, {"bf16": True}]


@pytest.mark.parametrize("options", VARIANTS)
@pytest.mark.parametrize(
    "extra",
    [
        {},
        dict(
            objective="asft",
            alpha=0.5,
            kl_coef=0.2,
            kl_direction="reverse",
            fused_loss="trl",
            max_steps=12,
            num_train_epochs=2.0,
            warmup_ratio=0.0,
            gradient_accumulation_steps=3,
            max_length=64,
            packing=True,
            save_steps=5,
            save_total_limit=None,
        ),
    ],
)
def test_sft_config_unchanged(options, extra, tmp_path):
    from sftlab.methods.sft import TrainConfig, sft_args

    cfg = TrainConfig(output_dir=str(tmp_path), **options, **extra)
    same(old_sft_args(cfg, bf16=use_bf16(cfg.bf16)), sft_args(cfg))


@pytest.mark.parametrize("options", VARIANTS)
@pytest.mark.parametrize("method", ["irft", "spin"])
def test_irft_config_unchanged(options, method, tmp_path):
    from sftlab.methods.irl.common import irft_args
    from sftlab.methods.irl.config import IRLConfig

    cfg = IRLConfig(
        method=method,
        link="hinge" if method == "irft" else "logistic",
        beta=0.3,
        warmup_ratio=0.2,
        gradient_accumulation_steps=2,
        max_length=128,
        **options,
    )
    for steps in (1, 50):
        same(
            old_irft_args(cfg, tmp_path / "t", steps, seed=cfg.seed + 3, bf16=use_bf16(cfg.bf16)),
            irft_args(cfg, tmp_path / "t", steps, seed=cfg.seed + 3),
        )


@pytest.mark.parametrize("options", VARIANTS)
def test_rft_reward_and_policy_configs_unchanged(options, tmp_path):
    from sftlab.methods.irl import rft
    from sftlab.methods.irl.config import IRLConfig

    for reward_steps in (0, 5):
        cfg = IRLConfig(
            method="rft",
            reward_steps=reward_steps,
            reward_learning_rate=2e-5,
            warmup_ratio=0.05,
            num_generations=3,
            max_new_tokens=40,
            temperature=0.7,
            top_p=0.9,
            steps_per_iteration=0,
            gradient_accumulation_steps=2,
            **options,
        )
        bf16 = use_bf16(cfg.bf16)
        for n in (1, 37):
            same(
                old_reward_args(cfg, tmp_path / "rm", n, seed=9, bf16=bf16),
                rft.reward_args(cfg, tmp_path / "rm", n, seed=9),
            )
            same(
                old_policy_args(cfg, tmp_path / "p", n, seed=9, bf16=bf16),
                rft.policy_args(cfg, tmp_path / "p", n, seed=9),
            )


@pytest.mark.parametrize("options", VARIANTS)
def test_nft_config_unchanged(options, tmp_path):
    from sftlab.methods.nft import NFTTrainConfig, nft_args

    for extra in (
        {},
        dict(
            prompts_per_step=4,
            num_generations=4,
            per_device_train_batch_size=8,
            warmup_steps=0,
            max_completion_length=32,
            epsilon=0.5,
            negative_weight=0.0,
            prompt_weighting="none",
            max_log_ratio=5.0,
            correct_rate_clip=0.1,
            token_normalizer=100.0,
            save_steps=7,
            use_vllm=True,
            temperature=0.8,
            top_p=0.95,
        ),
    ):
        cfg = NFTTrainConfig(output_dir=str(tmp_path), **{**options, **extra})
        same(old_nft_args(cfg, 11, bf16=use_bf16(cfg.bf16)), nft_args(cfg, 11))


@pytest.mark.parametrize("progress", [True, False])
def test_grpo_config_unchanged(progress, tmp_path):
    from sftlab.methods.grpo import grpo_args

    kw = dict(
        steps=3,
        group_size=4,
        prompts_per_step=2,
        learning_rate=1e-3,
        beta=0.04,
        temperature=0.9,
        max_completion_length=48,
        seed=5,
        save_steps=2,
        use_vllm=False,
        progress=progress,
    )
    same(old_grpo_args(tmp_path / "rl", **kw), grpo_args(tmp_path / "rl", **kw))
    same(
        old_grpo_args(
            tmp_path / "rl",
            steps=1,
            group_size=2,
            prompts_per_step=1,
            learning_rate=1e-6,
            beta=0.0,
            temperature=1.0,
            max_completion_length=8,
            seed=0,
        ),
        grpo_args(
            tmp_path / "rl",
            steps=1,
            group_size=2,
            prompts_per_step=1,
            learning_rate=1e-6,
            beta=0.0,
            temperature=1.0,
            max_completion_length=8,
            seed=0,
        ),
    )


def test_adapt_grpo_config_unchanged(tmp_path):
    from sftlab.methods.dart import AdaptConfig
    from sftlab.methods.grpo import adapt_grpo_args

    cfg = AdaptConfig(
        rl_steps=7,
        group_size=3,
        prompts_per_step=2,
        kl_beta=0.1,
        rl_learning_rate=2e-6,
        temperature=0.8,
        max_completion_length=20,
        save_steps=4,
        seed=3,
        progress=False,
    )
    expected = old_grpo_args(
        tmp_path / "rl",
        steps=7,
        group_size=3,
        prompts_per_step=2,
        learning_rate=2e-6,
        beta=0.1,
        temperature=0.8,
        max_completion_length=20,
        seed=3,
        save_steps=4,
        progress=False,
    )
    same(expected, adapt_grpo_args(cfg, tmp_path / "rl"))
