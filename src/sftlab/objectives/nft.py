"""NFT's loss: Negative-aware Fine-Tuning (Chen et al., arXiv 2505.18116), a pure function.

Setting: for a question q the old policy pi_old sampled K answers, a verifier
marked each one right (``c = 1``) or wrong (``c = 0``), and ``r_q`` is the
share of right answers in the group. With the per-token likelihood ratio

    R_t = pi_theta(a_t | q, a_<t) / pi_old(a_t | q, a_<t),

NFT fits pi_theta to the right answers by maximum likelihood, and to the wrong
ones through the *implicit negative policy* ``(pi_old - r_q pi_theta) / (1 - r_q)``,
whose per-token likelihood ratio is ``(1 - r_q R_t) / (1 - r_q)``. Per token:

    loss_t = w(q) * [ c * (-log R_t)
                      + (1 - c) * lambda_neg * (-log max_v((1 - r_q R_t) / (1 - r_q), eps)) ]

and the loss is ``sum over completion tokens / N`` (:func:`sftlab.objectives.aggregate`).
``max_v(x, eps)`` clips the *value* at ``eps`` from below but keeps the gradient
of ``x`` (the authors' ``clamp_preserve_grad``): the implicit negative likelihood
must stay positive, and where it is clipped the token's gradient is ``-grad(x) / eps``.

What comes from where (the authors' code is https://github.com/NVlabs/NFT, ``dp_actor.py``):

- the formula, the value-clip with gradient kept, and the prompt weight
  ``w(q) = 1 - r_q``: the paper and the authors' code (``normalize=1``);
  ``w(q) = sqrt((1 - r_q) / r_q)`` (``normalize=2``) and ``w(q) = 1`` (``normalize=0``)
  are the code's alternatives;
- ``eps = 1.0`` (``clamp_negative``), ``lambda_neg = 1`` (``neg_weight``; 0 gives
  RFT, fine-tuning on the right answers only), ``log R_t`` clamped at ``+10``
  before exponentiating (a plain clamp, no gradient beyond it) and ``r_q``
  clamped into ``[0.02, 0.98]`` inside the formula: the authors' code and
  their training scripts;
- groups whose answers are all right or all wrong (``r_q`` in {0, 1}) carry no
  signal; the authors drop them and sample more questions until the batch is
  full (DAPO's dynamic sampling). Here they stay in the batch with weight 0 and
  their tokens do not count in ``N`` (sftlab's choice: there is no resampling);
- ``N``: sftlab's shared aggregation, the number of completion tokens of the
  kept groups in the global batch. The authors' code divides the token sum by a
  constant 1000 per device instead; pass ``num_items_in_batch=1000`` for that.
  Both weigh every token alike; they differ in the overall scale only.

On policy (``R_t = 1``) the gradient of ``loss_t`` is
``-w(q) / (1 - r_q) * (c - r_q) * grad log pi_theta(a_t)``, a policy gradient with
advantage ``c - r_q`` scaled per question: with ``w = 1 - r_q`` the un-normalized
advantage, with ``w = sqrt((1 - r_q) / r_q)`` GRPO's ``(c - r_q) / std`` (the paper shows
NFT and GRPO coincide on policy); the tests check both.

The ratio is per token, as in the authors' code (``ratio_type=token``); the
paper derives the implicit negative policy for whole answers.
"""

from __future__ import annotations

import torch

from .losses import aggregate

PROMPT_WEIGHTINGS = ("one_minus_r", "sqrt_odds", "none")


def clip_value_keep_grad(x: torch.Tensor, floor: float) -> torch.Tensor:
    """``max(x, floor)`` in value, with the gradient of ``x`` everywhere (``max_v`` above)."""
    return x + (x.clamp(min=floor) - x).detach()


def prompt_weight(correct_rate: torch.Tensor, weighting: str) -> torch.Tensor:
    """``w(q)`` of each sequence from its group's (clamped) accuracy ``r_q``."""
    if weighting == "one_minus_r":
        return 1.0 - correct_rate
    if weighting == "sqrt_odds":
        return ((1.0 - correct_rate) / correct_rate).sqrt()
    if weighting == "none":
        return torch.ones_like(correct_rate)
    raise ValueError(f"prompt weighting must be one of {PROMPT_WEIGHTINGS}, got {weighting!r}")


def informative(correct_rate: torch.Tensor) -> torch.Tensor:
    """Which sequences belong to a group with both right and wrong answers (``0 < r_q < 1``), shape ``(B,)``."""
    return (correct_rate > 0.0) & (correct_rate < 1.0)


def nft_per_token_loss(
    per_token_logps: torch.Tensor,
    old_per_token_logps: torch.Tensor,
    rewards: torch.Tensor,
    correct_rate: torch.Tensor,
    *,
    epsilon: float = 1.0,
    negative_weight: float = 1.0,
    prompt_weighting: str = "one_minus_r",
    max_log_ratio: float = 10.0,
    correct_rate_clip: float = 0.02,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Per-token NFT loss, ``(B, T)``, unmasked, and the tensors behind it.

    ``per_token_logps`` / ``old_per_token_logps``: ``(B, T)`` log-probabilities of
    the sampled tokens under pi_theta and pi_old. ``rewards``: ``(B,)`` verifier
    outcome in [0, 1] (1 right, 0 wrong). ``correct_rate``: ``(B,)`` the group's
    ``r_q``. Sequences of uninformative groups get the value of the formula; mask
    them out with :func:`informative` (as :func:`nft_loss` does).
    """
    if epsilon <= 0:
        raise ValueError(f"epsilon must be > 0 (log of the clipped negative likelihood), got {epsilon}")
    if not 0.0 <= correct_rate_clip < 0.5:
        raise ValueError(f"correct_rate_clip must be in [0, 0.5), got {correct_rate_clip}")
    dtype = torch.promote_types(per_token_logps.dtype, torch.float32)  # bf16 log-probs are computed on in fp32
    log_ratio = (per_token_logps.to(dtype) - old_per_token_logps.to(dtype)).clamp(max=max_log_ratio)  # (B, T)
    ratio = log_ratio.exp()
    c = rewards.to(dtype).unsqueeze(1)  # (B, 1)
    r_q = correct_rate.to(dtype).clamp(min=correct_rate_clip, max=1.0 - correct_rate_clip).unsqueeze(1)  # (B, 1)
    negative_ratio = (1.0 - r_q * ratio) / (1.0 - r_q)  # likelihood ratio of the implicit negative policy
    positive_loss = -log_ratio
    negative_loss = -clip_value_keep_grad(negative_ratio, epsilon).log()
    per_token = prompt_weight(r_q, prompt_weighting) * (c * positive_loss + (1.0 - c) * negative_weight * negative_loss)
    return per_token, {"ratio": ratio.detach(), "negative_clipped": (negative_ratio < epsilon).detach()}


def nft_loss(
    per_token_logps: torch.Tensor,
    old_per_token_logps: torch.Tensor,
    mask: torch.Tensor,
    rewards: torch.Tensor,
    correct_rate: torch.Tensor,
    *,
    epsilon: float = 1.0,
    negative_weight: float = 1.0,
    prompt_weighting: str = "one_minus_r",
    max_log_ratio: float = 10.0,
    correct_rate_clip: float = 0.02,
    num_items_in_batch=None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """NFT's loss: the per-token loss summed over the kept completion tokens, divided by ``num_items_in_batch``.

    ``mask``: ``(B, T)`` completion tokens. Kept tokens are those of sequences in
    informative groups (``0 < r_q < 1``). ``num_items_in_batch``: the global
    number of kept tokens (every micro-batch and rank; see
    :func:`sftlab.objectives.aggregate`); None: the kept tokens of this batch.
    Returns the loss and detached metrics: ``ratio`` (mean ``R_t`` over kept
    tokens), ``negative_clipped`` (share of kept wrong-answer tokens whose
    negative likelihood ratio is clipped at ``epsilon``), ``kept`` (share of
    sequences kept) and ``positive`` (share of kept sequences that are right).
    """
    per_token, parts = nft_per_token_loss(
        per_token_logps, old_per_token_logps, rewards, correct_rate, epsilon=epsilon, negative_weight=negative_weight,
        prompt_weighting=prompt_weighting, max_log_ratio=max_log_ratio, correct_rate_clip=correct_rate_clip,
    )  # fmt: skip
    keep = informative(correct_rate).unsqueeze(1)  # (B, 1)
    kept_mask = mask.to(per_token.dtype) * keep  # (B, T)
    loss = aggregate(per_token, kept_mask, num_items_in_batch)
    with torch.no_grad():
        n_kept = kept_mask.sum()
        negative_mask = kept_mask * (1.0 - rewards.to(per_token.dtype).unsqueeze(1))
        kept_rows = keep.squeeze(1).to(per_token.dtype)
        stats = {
            "ratio": _masked_mean(parts["ratio"], kept_mask, n_kept),
            "negative_clipped": _masked_mean(parts["negative_clipped"].to(per_token.dtype), negative_mask,
                                             negative_mask.sum()),
            "kept": kept_rows.mean() if kept_rows.numel() else torch.tensor(float("nan")),
            "positive": (rewards.to(per_token.dtype) * kept_rows).sum() / kept_rows.sum() if kept_rows.sum() > 0
            else torch.tensor(float("nan")),
        }  # fmt: skip
    return loss, stats


def _masked_mean(x: torch.Tensor, mask: torch.Tensor, n: torch.Tensor) -> torch.Tensor:
    return (x * mask).sum() / n if n > 0 else torch.tensor(float("nan"), device=x.device)
