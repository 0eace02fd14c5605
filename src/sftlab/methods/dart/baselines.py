"""Baselines in DART's harness: the same data, target, scorer, synthesis and fine-tuning, another way to get there.

* **sdft** (no RL; after SDFT, Yang et al. 2024, arXiv 2402.13669): the target
  itself rewrites each solution, prompted with the question and the original
  (``mapper_template``); the rewrite is kept when its answer verifies, else the
  original (selection ``correct``).
* **grape** (no RL; after GRAPE, arXiv 2502.04194): candidates from the initial
  mapper's rewrites and the target's own solutions to the question; the correct
  one with the highest target log-likelihood is kept, else the original
  (selection ``likelihood``).
* **direct_rl** (DART's ablation): GRPO on the target itself with the
  correctness reward, for the same number of policy updates as the mapper gets
  (:func:`sftlab.methods.grpo.run_direct_rl`).
* plain SFT on the original data is ``sftlab train`` on it.
"""

from __future__ import annotations

from sftlab.data import render_prompt

from .prompt import mapper_prompt
from .synthesis import CandidateSource

SYNTHESIS_METHODS = {"dart": "reward", "sdft": "correct", "grape": "likelihood"}


def sdft_sources(cfg, target, target_tok) -> list[CandidateSource]:
    """The target, prompted to rewrite the original solution."""

    def prompt(r):
        return mapper_prompt(r["question"], r["solution"], cfg.mapper_template, target_tok)

    return [CandidateSource("target-rewrite", target, target_tok, n=cfg.n_samples, prompt=prompt)]


def grape_sources(cfg, mapper, mapper_tok, target, target_tok) -> list[CandidateSource]:
    """The initial (not RL-trained) mapper's rewrites and the target's own solutions, ``n_samples`` each."""
    return [
        CandidateSource("mapper", mapper, mapper_tok, n=cfg.n_samples,
                        prompt=lambda r: mapper_prompt(r["question"], r["solution"], cfg.mapper_template, mapper_tok)),
        CandidateSource("target", target, target_tok, n=cfg.n_samples,
                        prompt=lambda r: render_prompt(r["question"], target_tok, cfg.prompt_template)),
    ]  # fmt: skip
