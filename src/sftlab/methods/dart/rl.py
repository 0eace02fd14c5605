"""DART's mapper reward for TRL's ``GRPOTrainer`` (the GRPO stage itself is :mod:`sftlab.methods.grpo`).

Nothing of GRPO is rewritten here: the reward is a callable that TRL calls with
the prompts, the completions and the data set's extra columns. :class:`DartReward`
scores the mapper's rewrites with the frozen target (batched, no gradients,
:class:`~sftlab.methods.dart.likelihood.TargetScorer`) and the text terms of
:mod:`sftlab.methods.dart.rewards`, and logs every term through TRL's ``log_metric``
(``dart/alignment``, ``dart/correct``, ``dart/length``, ...) beside TRL's own
``reward`` and ``kl``.
"""

from __future__ import annotations

import numpy as np

from sftlab.trainers.rewards import completion_str

from .prompt import clean_rewrite
from .rewards import TERMS, RewardConfig, score_rewrites


class DartReward:
    """TRL reward function: DART's total reward of each rewrite; each term logged as ``dart/<term>``.

    The data set rows carry ``question``, ``solution`` (the original y*),
    ``answer`` and ``lp_original`` (the target's log-likelihood of y*, scored once).
    """

    __name__ = "dart"

    def __init__(self, scorer, cfg: RewardConfig, scaffold: list[str]):
        self.scorer, self.cfg, self.scaffold = scorer, cfg, scaffold

    def __call__(self, prompts, completions, question, solution, answer, lp_original, log_metric=None, **_):
        rewrites = [clean_rewrite(completion_str(c)) for c in completions]
        lp = self.scorer.logprobs(list(question), rewrites)
        scores = score_rewrites(rewrites, list(question), list(solution), list(answer), lp, list(lp_original),
                                self.cfg, self.scaffold)  # fmt: skip
        if log_metric is not None:
            for term in (*TERMS, "lp_rewrite"):
                log_metric(f"dart/{term}", float(np.mean([s[term] for s in scores])))
        return [s["total"] for s in scores]
