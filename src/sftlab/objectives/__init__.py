"""Token-level SFT objectives (pure functions) and the chunked LM-head helpers."""

from .chunked import KL_DIRECTIONS, chunked_kl, full_logits_reference
from .losses import OBJECTIVES, aggregate, asft, dft, nll, per_token_loss, power

__all__ = [
    "OBJECTIVES",
    "KL_DIRECTIONS",
    "aggregate",
    "asft",
    "chunked_kl",
    "dft",
    "full_logits_reference",
    "nll",
    "per_token_loss",
    "power",
]
