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

The command around it (``sftlab train --method nft``) is :mod:`sftlab.methods.nft`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from trl import GRPOConfig, GRPOTrainer

from sftlab.objectives.nft import PROMPT_WEIGHTINGS, informative, nft_loss


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
