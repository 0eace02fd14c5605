"""RFT: reward-learning fine-tuning from demonstrations (Algorithm 1 of https://arxiv.org/abs/2405.17888).

The reward is explicit. Each iteration t, on its chunk of the SFT prompts:

1. sample y~ from the current policy pi_t (and for a fixed held-out set of prompts);
2. reward step: the Bradley-Terry loss ``-log sigmoid(r(x, y) - r(x, y~))``, demonstration
   y above generation y~, with TRL's ``RewardTrainer`` on a sequence classifier
   with one output (a value head on the starting policy's backbone, or on
   ``--reward-model``), carried from iteration to iteration;
3. score the reward model on the held-out pairs (its accuracy is the
   iteration's headline metric);
4. policy step: K steps of TRL's ``GRPOTrainer`` maximising the learned reward
   with ``beta * KL(pi || pi_ref)``, pi_ref the run's starting policy.

Both steps are TRL's trainers as they are; this module feeds them the pairs and
prompts and keeps the per-iteration folders (layout as in :mod:`.loop`, plus
``iter-<t>/reward_model/``). The reward model scores text exactly as it was
trained on it (prompt + completion, no special tokens), through one function,
:func:`score`.
"""

from __future__ import annotations

import math
import random
import shutil
import time
from pathlib import Path

import torch

from sftlab.errors import SftlabError
from sftlab.io import atomic_write_json
from sftlab.methods.trainer_args import trainer_args
from sftlab.models import load_reward_model as load_classifier
from sftlab.models import load_tokenizer

from .common import (
    demo_subset,
    finish_run,
    generate_pairs,
    is_done,
    iteration_chunks,
    load_demonstrations,
    load_policy,
    lora_config,
    read_json,
    sample_accuracy,
    start_run,
    steps_for,
)  # fmt: skip
from .config import IRLConfig


def run_rft(cfg: IRLConfig) -> dict:
    """Run (or resume) RFT; returns the summary also written to ``output_dir/irl_summary.json``."""
    from sftlab.methods.sft import resolve_lab_defaults

    model_path, source = resolve_lab_defaults(cfg.model, cfg.data)
    tok = load_tokenizer(model_path, cfg.trust_remote_code)
    demos = load_demonstrations(source, tok, cfg.prompt_template)
    heldout, train = split_heldout(demo_subset(len(demos), cfg), cfg)
    chunks = iteration_chunks(train, cfg)
    out = Path(cfg.output_dir)
    start_run(out, cfg)

    iterations, current, t0 = [], model_path, time.time()
    reward_model = cfg.reward_model or model_path
    for t in range(1, cfg.iterations + 1):
        idir = out / f"iter-{t}"
        if is_done(idir):
            metrics = read_json(idir / "metrics.json")
        else:
            print(f"sftlab rft: iteration {t}/{cfg.iterations} from {current}")
            chunk = [demos[i] for i in chunks[t - 1]]
            metrics = run_rft_iteration(cfg, t, current, reward_model, model_path, chunk,
                                        [demos[i] for i in heldout], idir)  # fmt: skip
            atomic_write_json(idir / "metrics.json", metrics)  # last: marks the iteration complete
            if not cfg.keep_checkpoints and t > 1:
                for name in ("model", "reward_model"):
                    shutil.rmtree(out / f"iter-{t - 1}" / name, ignore_errors=True)
        iterations.append(metrics)
        current, reward_model = str(idir / "model"), str(idir / "reward_model")
    return finish_run(cfg, out, model_path, source, iterations, time.time() - t0)


def split_heldout(order: list[int], cfg: IRLConfig) -> tuple[list[int], list[int]]:
    """(held-out, training) demonstration indices: a seeded ``heldout_fraction`` of ``order`` held out."""
    k = max(1, round(cfg.heldout_fraction * len(order)))
    if len(order) - k < cfg.iterations:
        raise SftlabError(f"rft: {len(order)} demonstrations leave too few to train {cfg.iterations} iterations "
                          f"after holding out {k}")  # fmt: skip
    held = set(random.Random(cfg.seed + 2).sample(order, k))
    return [i for i in order if i in held], [i for i in order if i not in held]


def run_rft_iteration(cfg: IRLConfig, t: int, start: str, reward_start: str, reference: str, demos: list[dict],
                      heldout: list[dict], idir: Path) -> dict:  # fmt: skip
    """Sample, reward step, held-out scoring, policy step; returns the iteration's metrics."""
    from sftlab.methods.sft import save_final

    timing = {}
    policy, tok, bf16 = load_policy(start, cfg)
    t0 = time.time()
    pairs = generate_pairs(cfg, policy, tok, demos, idir / "generations.jsonl", seed=cfg.seed + t)
    held_pairs = generate_pairs(cfg, policy, tok, heldout, idir / "heldout_generations.jsonl",
                                seed=cfg.seed + 10_000 + t)  # fmt: skip
    timing["generation_seconds"] = time.time() - t0

    # -- reward step
    rm = load_reward_model(reward_start, tok, cfg, bf16=bf16)
    t0 = time.time()
    reward_trainer = reward_step(cfg, rm, tok, pairs, idir / "reward_trainer", seed=cfg.seed + t)
    timing["reward_seconds"] = time.time() - t0
    save_final(reward_trainer, tok, idir / "reward_model", merge_lora=cfg.lora)
    shutil.rmtree(idir / "reward_trainer", ignore_errors=True)
    rm = reward_trainer.accelerator.unwrap_model(reward_trainer.model)
    rm.eval()
    train_stats = reward_accuracy(rm, tok, pairs)
    held_stats = reward_accuracy(rm, tok, held_pairs)

    # -- policy step: GRPO on the learned reward, KL to the run's starting policy
    t0 = time.time()
    policy_trainer = policy_step(cfg, policy, rm, tok, demos, idir / "policy_trainer", reference, seed=cfg.seed + t)
    timing["train_seconds"] = time.time() - t0
    save_final(policy_trainer, tok, idir / "model", merge_lora=cfg.lora)
    shutil.rmtree(idir / "policy_trainer", ignore_errors=True)
    return {
        "iteration": t, "start_model": start, "n_prompts": len(demos), "n_pairs": len(pairs),
        "n_heldout_pairs": len(held_pairs), "steps": policy_trainer.state.global_step,
        "reward_steps": reward_trainer.state.global_step,
        "train_reward_accuracy": train_stats["accuracy"], "heldout_reward_accuracy": held_stats["accuracy"],
        "heldout_reward_margin": held_stats["margin"], "sample_accuracy": sample_accuracy(pairs),
        "timing": timing, "log_history": policy_trainer.state.log_history,
        "reward_log_history": reward_trainer.state.log_history,
    }  # fmt: skip


def load_reward_model(path: str, tok, cfg: IRLConfig, *, bf16: bool | None = None):
    """A sequence classifier with one output on the backbone at ``path`` (its value head new on first use)."""
    rm = load_classifier(path, bf16=bf16, trust_remote_code=cfg.trust_remote_code)
    rm.config.pad_token_id = tok.pad_token_id  # the classifier pools at the last non-pad token
    return rm


def reward_ids(tok, pairs: list[dict], key: str) -> list[list[int]]:
    """Token ids the reward model reads: prompt + completion text, no special tokens (as :func:`score`)."""
    return tok([p["prompt"] + p[key] for p in pairs], add_special_tokens=False)["input_ids"]


def reward_args(cfg: IRLConfig, out: Path, n_pairs: int, *, seed: int):
    """The reward step's ``RewardConfig``: ``--reward-steps`` (default: one pass over ``n_pairs``) at ``--reward-learning-rate``."""
    from trl import RewardConfig

    batch = cfg.per_device_train_batch_size * cfg.gradient_accumulation_steps
    steps = cfg.reward_steps or max(1, math.ceil(n_pairs / batch))  # default: one pass over the pairs
    # As the reward step always ran: no --weight-decay (TRL's 0.0) and TRL's gradient checkpointing (on).
    return trainer_args(
        RewardConfig, cfg, output_dir=out, max_steps=steps, learning_rate=cfg.reward_learning_rate,
        lr_scheduler_type="linear", warmup_ratio=cfg.warmup_ratio, weight_decay=0.0, activation_checkpointing=None,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps, max_length=cfg.max_length,
        logging_steps=max(1, min(cfg.logging_steps, steps)), save_strategy="no", seed=seed,
    )  # fmt: skip


def reward_step(cfg: IRLConfig, rm, tok, pairs: list[dict], out: Path, *, seed: int):
    """Train ``rm`` on (demonstration, generation) pairs with the Bradley-Terry loss; returns the trainer."""
    import datasets
    from trl import RewardTrainer

    dataset = datasets.Dataset.from_dict({"chosen_ids": reward_ids(tok, pairs, "chosen"),
                                          "rejected_ids": reward_ids(tok, pairs, "rejected")})  # fmt: skip
    trainer = RewardTrainer(model=rm, args=reward_args(cfg, out, len(dataset), seed=seed), train_dataset=dataset,
                            processing_class=tok, peft_config=lora_config(cfg, "SEQ_CLS"))  # fmt: skip
    trainer.train()
    return trainer


@torch.no_grad()
def score(rm, tok, prompts: list[str], completions: list[str], batch_size: int = 32) -> torch.Tensor:
    """The reward model's score of each prompt + completion, shape ``(N,)``.

    A classifier's scalar output, not a log-likelihood, so not :mod:`sftlab.generation.scoring`.
    """
    device = next(rm.parameters()).device
    scores = []
    for i in range(0, len(prompts), batch_size):
        texts = [p + c for p, c in zip(prompts[i : i + batch_size], completions[i : i + batch_size])]
        enc = tok(texts, add_special_tokens=False, padding=True, padding_side="right", return_tensors="pt").to(device)
        scores.append(rm(**enc).logits[:, 0].float().cpu())  # (b,)
    return torch.cat(scores) if scores else torch.zeros(0)


def reward_accuracy(rm, tok, pairs: list[dict]) -> dict:
    """Share of pairs the reward model ranks demonstration above generation, and the mean score margin."""
    if not pairs:
        return {"accuracy": None, "margin": None}
    prompts = [p["prompt"] for p in pairs]
    chosen = score(rm, tok, prompts, [p["chosen"] for p in pairs])
    rejected = score(rm, tok, prompts, [p["rejected"] for p in pairs])
    return {"accuracy": (chosen > rejected).float().mean().item(), "margin": (chosen - rejected).mean().item()}


def policy_args(cfg: IRLConfig, out: Path, n_demos: int, *, seed: int):
    """The policy step's ``GRPOConfig``: K steps of groups of ``--num-generations`` completions, ``beta * KL``."""
    from trl import GRPOConfig

    group = cfg.num_generations
    batch = -(-cfg.per_device_train_batch_size // group) * group  # completions per micro-batch: whole groups
    steps = steps_for(cfg, n_demos, batch=batch // group * cfg.gradient_accumulation_steps)
    return trainer_args(
        GRPOConfig, cfg, output_dir=out, max_steps=steps, beta=cfg.beta, warmup_ratio=cfg.warmup_ratio,
        per_device_train_batch_size=batch, gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        num_generations=group, max_completion_length=cfg.max_new_tokens, temperature=cfg.temperature, top_p=cfg.top_p,
        logging_steps=max(1, min(cfg.logging_steps, steps)), save_strategy="no", seed=seed,
    )  # fmt: skip


def policy_step(cfg: IRLConfig, policy, rm, tok, demos: list[dict], out: Path, reference: str, *, seed: int):
    """K steps of GRPO on the learned reward with ``beta * KL`` to ``reference``; returns the trainer."""
    import datasets
    from trl import GRPOTrainer

    def learned_reward(prompts, completions, **_):
        return score(rm, tok, list(prompts), list(completions)).tolist()

    args = policy_args(cfg, out, len(demos), seed=seed)
    # GRPOTrainer builds its KL reference from the config's model id: point it at the run's start, not at pi_t.
    policy.config._name_or_path = reference
    trainer = GRPOTrainer(model=policy, reward_funcs=learned_reward, args=args,
                          train_dataset=datasets.Dataset.from_dict({"prompt": [d["prompt"] for d in demos]}),
                          processing_class=tok, peft_config=lora_config(cfg))  # fmt: skip
    trainer.train()
    return trainer
