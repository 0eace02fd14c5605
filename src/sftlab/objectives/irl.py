"""Pairwise losses of implicit-reward IRL from demonstrations (IRFT, SPIN).

IRFT (Li et al., "Getting More Juice Out of the SFT Data", NeurIPS 2024,
https://arxiv.org/abs/2405.17888, Algorithm 2) learns a policy pi from
demonstrations y alone: the reward is implicit, ``r(x, y) = beta * log pi(y|x) / pi_t(y|x)``
with ``pi_t`` the iterate the stage started from, and each step lowers

    l(z),  z = beta * [log pi(y|x)/pi_t(y|x) - log pi(y~|x)/pi_t(y~|x)],

where ``y~`` is a sample of ``pi_t`` for the same prompt and ``l`` a link:

- ``logistic``: ``-log sigmoid(z)``: SPIN's loss (Chen et al., https://arxiv.org/abs/2401.01335),
  which is DPO's sigmoid loss with rejected = generation and reference = previous iterate;
- ``hinge``: ``max(0, 1 - z)``;
- ``linear``: ``-z``, whose gradient is the raw IRL gradient (the demonstration's
  log-likelihood gradient minus the generation's), unbounded: it never saturates.

Sequence log-probabilities are sums over completion tokens, shape ``(B,)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

LINKS = ("logistic", "hinge", "linear")


def link_loss(z: torch.Tensor, link: str) -> torch.Tensor:
    """``l(z)`` elementwise for a link in :data:`LINKS`."""
    if link == "logistic":
        return -F.logsigmoid(z)
    if link == "hinge":
        return torch.relu(1.0 - z)
    if link == "linear":
        return -z
    raise ValueError(f"link must be one of {LINKS}, got {link!r}")


def implicit_rewards(policy_logps: torch.Tensor, ref_logps: torch.Tensor, beta: float) -> torch.Tensor:
    """``beta * log pi(y|x) / pi_t(y|x)`` per sequence."""
    return beta * (policy_logps - ref_logps)


def irl_pair_loss(
    policy_chosen_logps: torch.Tensor,
    policy_rejected_logps: torch.Tensor,
    ref_chosen_logps: torch.Tensor,
    ref_rejected_logps: torch.Tensor,
    *,
    beta: float,
    link: str = "logistic",
) -> torch.Tensor:
    """Per-pair loss ``l(z)``, shape ``(B,)``; chosen = demonstration, rejected = generation."""
    z = implicit_rewards(policy_chosen_logps, ref_chosen_logps, beta) - implicit_rewards(
        policy_rejected_logps, ref_rejected_logps, beta
    )
    return link_loss(z, link)


def pair_metrics(
    policy_chosen_logps: torch.Tensor,
    policy_rejected_logps: torch.Tensor,
    ref_chosen_logps: torch.Tensor,
    ref_rejected_logps: torch.Tensor,
    *,
    beta: float,
) -> dict[str, float]:
    """What an iteration reports on its pairs.

    - ``reward_accuracy``: share of pairs whose demonstration's implicit reward is above
      the generation's (ties, e.g. before any step, count as misses);
    - ``reward_margin``: mean of ``z`` (demonstration reward minus generation reward);
    - ``logp_gap``: mean of ``log pi(y|x) - log pi(y~|x)`` under the policy;
    - ``ref_logp_gap``: the same under the reference ``pi_t``.
    """
    chosen_r = implicit_rewards(policy_chosen_logps, ref_chosen_logps, beta)
    rejected_r = implicit_rewards(policy_rejected_logps, ref_rejected_logps, beta)
    return {
        "reward_accuracy": (chosen_r > rejected_r).float().mean().item(),
        "reward_margin": (chosen_r - rejected_r).mean().item(),
        "logp_gap": (policy_chosen_logps - policy_rejected_logps).mean().item(),
        "ref_logp_gap": (ref_chosen_logps - ref_rejected_logps).mean().item(),
    }
