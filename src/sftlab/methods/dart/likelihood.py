"""The frozen target model's view of a solution: its mean log-probability per completion token.

A solution is scored exactly as fine-tuning would train on it: the question
rendered by :func:`sftlab.data.render_prompt`, the solution as
:func:`sftlab.data.completion_text`, then EOS; the mean covers the solution's
tokens and the EOS. Scoring is forward-only and batched, through
:func:`sftlab.generation.scoring.completion_losses` (TRL's fused LM head: the
``(batch, tokens, vocab)`` logits never exist at once).
"""

from __future__ import annotations

import numpy as np

from sftlab.data import render_prompt
from sftlab.errors import SftlabError
from sftlab.generation.scoring import completion_losses


class TargetScorer:
    """Mean per-token log-probability of solutions under a frozen target model.

    ``prompt_template``: the target's prompt template (``None``: its chat
    template, else the plain ``Question: ...\\nSolution:``), as in ``sftlab train``.
    """

    def __init__(self, model, tokenizer, *, prompt_template: str | None = None, batch_size: int = 32):
        if tokenizer.eos_token_id is None:
            raise SftlabError("the target tokenizer has no EOS token, so a solution's end cannot be scored")
        self.model, self.tokenizer = model.eval().requires_grad_(False), tokenizer
        self.prompt_template, self.batch_size = prompt_template, batch_size

    def prompts(self, questions: list[str]) -> list[str]:
        return [render_prompt(q, self.tokenizer, self.prompt_template) for q in questions]

    def logprobs(self, questions: list[str], solutions: list[str]) -> np.ndarray:
        """(N,) mean log p(solution token | question, earlier tokens), EOS included."""
        if not questions:
            return np.zeros(0, dtype=np.float32)
        losses = completion_losses(self.model, self.tokenizer, self.prompts(questions), solutions,
                                   batch_size=self.batch_size)  # fmt: skip
        return -losses
