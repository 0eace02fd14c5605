"""The LM head + loss without the full ``(tokens, vocab)`` logits.

Per-token log-probabilities come from TRL's fused LM head
(:func:`trl.trainer.utils.add_fused_lm_head`: Triton on GPU, torch tiles
elsewhere), which the SFT trainer installs. What needs the whole next-token
distribution, ASFT's KL anchor, goes through TRL's tiled divergence kernel
(:class:`trl.kernels.chunked_divergence.ChunkedDivergenceFunction`), which
projects both models' hidden states through their heads tile by tile and
recomputes the tiles in the backward pass.

:func:`full_logits_reference` is the plain, unchunked computation, kept for
tests and benchmarks.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from trl.kernels.chunked_divergence import ChunkedDivergenceFunction

from .losses import aggregate, per_token_loss

# TRL's divergence kernel: beta=0 is KL(teacher || student), beta=1 is KL(student || teacher).
KL_DIRECTIONS = {"forward": 0.0, "reverse": 1.0}


def chunked_kl(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    ref_hidden: torch.Tensor,
    ref_weight: torch.Tensor,
    *,
    bias: torch.Tensor | None = None,
    ref_bias: torch.Tensor | None = None,
    direction: str = "forward",
) -> torch.Tensor:
    """Per-token KL between the reference's and the policy's next-token distributions.

    ``hidden`` (N, H) and ``ref_hidden`` (N, H_ref) are the final hidden states at
    the N scored positions; ``weight`` (V, H) and ``ref_weight`` (V, H_ref) the LM
    heads. ``direction="forward"`` is KL(pi_ref || pi_theta) (ASFT's anchor),
    ``"reverse"`` is KL(pi_theta || pi_ref). Gradients flow to the policy only.
    Returns (N,).
    """
    if direction not in KL_DIRECTIONS:
        raise ValueError(f"unknown KL direction {direction!r}; expected one of {tuple(KL_DIRECTIONS)}")
    if hidden.shape[0] == 0:
        return hidden.sum(-1)  # (0,), still attached to the graph
    kl, _entropy = ChunkedDivergenceFunction.apply(
        hidden, weight, bias, ref_hidden.detach(), ref_weight.detach(), ref_bias, KL_DIRECTIONS[direction]
    )
    return kl


def full_logits_reference(
    logits: torch.Tensor,
    labels: torch.Tensor,
    objective: str,
    *,
    alpha: float = 1.0,
    ref_logits: torch.Tensor | None = None,
    kl_coef: float = 0.0,
    kl_direction: str = "forward",
    num_items_in_batch=None,
) -> torch.Tensor:
    """The objective computed the plain way, from full ``(B, T, V)`` logits.

    ``labels`` (B, T) are the input ids with -100 at positions not trained on; the
    shift to next-token targets happens here, as in ``transformers``. This is the
    computation LLaMA-Factory and ms-swift use for DFT; sftlab uses it only as a
    reference.
    """
    logits, labels = logits[:, :-1].float(), labels[:, 1:]  # (B, T-1, V), (B, T-1)
    mask = labels != -100
    logp_all = F.log_softmax(logits, dim=-1)  # (B, T-1, V)
    log_probs = logp_all.gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1) * mask
    kl = None
    if objective == "asft":
        ref_logp = F.log_softmax(ref_logits[:, :-1].float(), dim=-1).detach()
        if kl_direction == "forward":
            kl = (ref_logp.exp() * (ref_logp - logp_all)).sum(-1)
        else:
            kl = (logp_all.exp() * (logp_all - ref_logp)).sum(-1)
    per_token = per_token_loss(objective, log_probs, alpha=alpha, kl=kl, kl_coef=kl_coef)
    return aggregate(per_token, mask, num_items_in_batch)
