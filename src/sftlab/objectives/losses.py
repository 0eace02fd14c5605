"""Per-token SFT objectives as pure functions of the target tokens' log-probabilities.

Every objective has the form ``loss_t = -w_t * log p_theta(y_t)`` (+ an anchor for
ASFT), where the weight ``w_t`` is a *detached* function of the token's
probability. All functions take ``log_probs`` of shape ``(B, T)`` (zero at
ignored positions) and return per-token losses of the same shape; reduce them
with :func:`aggregate`.
"""

from __future__ import annotations

import torch

OBJECTIVES = ("nll", "dft", "power", "asft")


def nll(log_probs: torch.Tensor) -> torch.Tensor:
    """Plain SFT: ``-log p(y_t)``."""
    return -log_probs


def dft(log_probs: torch.Tensor) -> torch.Tensor:
    """Dynamic Fine-Tuning, arXiv 2508.05629: ``-sg(p(y_t)) * log p(y_t)``.

    The stop-gradient weight rectifies SFT's implicit reward ``1/p`` (Eq. 8 of the paper).
    """
    return -log_probs.detach().exp() * log_probs


def power(log_probs: torch.Tensor, alpha: float) -> torch.Tensor:
    """Power-weighted NLL: ``-sg(p(y_t)^alpha) * log p(y_t)``; alpha=0 is NLL, alpha=1 is DFT."""
    return -(alpha * log_probs.detach()).exp() * log_probs


def asft(log_probs: torch.Tensor, kl: torch.Tensor, kl_coef: float) -> torch.Tensor:
    """Anchored SFT, arXiv 2509.23753: DFT plus ``kl_coef * KL`` to a frozen reference, per token.

    ``kl`` is the per-token divergence between the reference and the policy's
    next-token distributions (see :func:`sftlab.objectives.chunked.chunked_kl`).
    """
    return dft(log_probs) + kl_coef * kl


def per_token_loss(
    objective: str,
    log_probs: torch.Tensor,
    *,
    alpha: float = 1.0,
    kl: torch.Tensor | None = None,
    kl_coef: float = 0.0,
) -> torch.Tensor:
    """Dispatch to the objective named ``objective`` (one of :data:`OBJECTIVES`)."""
    if objective == "nll":
        return nll(log_probs)
    if objective == "dft":
        return dft(log_probs)
    if objective == "power":
        return power(log_probs, alpha)
    if objective == "asft":
        if kl is None:
            raise ValueError("objective 'asft' needs the per-token KL to the reference model")
        return asft(log_probs, kl, kl_coef)
    raise ValueError(f"unknown objective {objective!r}; expected one of {OBJECTIVES}")


def aggregate(per_token: torch.Tensor, mask: torch.Tensor, num_items_in_batch=None) -> torch.Tensor:
    """Mean over the completion tokens of the *global* batch.

    ``num_items_in_batch`` is the number of loss tokens summed over every
    gradient-accumulation micro-batch and every data-parallel rank (the
    ``transformers.Trainer`` passes it). With it, summing the micro-batch losses
    gives the mean over the global batch, so batch 8 x 1 step equals batch 1 x 8
    accumulation steps. Without it, the local mean is returned. An all-masked
    batch gives a differentiable zero.
    """
    total = (per_token * mask).sum()
    denom = mask.sum() if num_items_in_batch is None else num_items_in_batch
    return total / torch.as_tensor(denom, device=total.device, dtype=total.dtype).clamp(min=1)
