"""DART: adapt SFT data to the target model with an RL-trained mapper, then fine-tune (arXiv 2605.26924).

>>> run_adapt(AdaptConfig(model="my/target", data="train.jsonl"))  # doctest: +SKIP
>>> run_dart(DartConfig(model="my/target", data="train.jsonl", objective="dft"))  # doctest: +SKIP

The paper's full text is not reachable here; the reward, the RL setup and the
synthesis are sftlab's design (docs/dart.md).
"""

from .config import AdaptConfig, DartConfig
from .likelihood import TargetScorer
from .prompt import DEFAULT_MAPPER_TEMPLATE, mapper_prompt
from .rewards import PENALTIES, TERMS, RewardConfig, score_rewrites
from .run import run_adapt, run_dart
from .synthesis import CandidateSource, synthesize

__all__ = [
    "AdaptConfig",
    "CandidateSource",
    "DEFAULT_MAPPER_TEMPLATE",
    "DartConfig",
    "PENALTIES",
    "RewardConfig",
    "TERMS",
    "TargetScorer",
    "mapper_prompt",
    "run_adapt",
    "run_dart",
    "score_rewrites",
    "synthesize",
]
