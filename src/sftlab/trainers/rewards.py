"""Reward functions that TRL's GRPO-family trainers take (``reward_funcs``), and the prompt shape they expect.

TRL calls a reward function with the prompts, the completions and the data set's
extra columns as keyword arguments, and logs it under its ``__name__``.
"""

from __future__ import annotations

from sftlab.verify import verify


class CorrectnessReward:
    """1 when the completion's final answer verifies against the row's ``answer``, else 0 (direct RL, NFT, RFT)."""

    __name__ = "correct"

    def __init__(self, mode: str = "math"):
        self.mode = mode

    def __call__(self, prompts, completions, answer, **_):
        return [correctness(completion_str(c), a, self.mode) for c, a in zip(completions, answer)]


def correctness(text: str, answer, mode: str = "math") -> float:
    """1.0 when the final answer of ``text`` verifies against the reference ``answer``, else 0.0.

    Strict extraction (``sftlab.verify``): a training reward pays only for an
    answer the text states (``\\boxed{}``, "The answer is", ``####``); a number
    that merely ends the text earns nothing.
    """
    return 1.0 if answer is not None and verify(text, str(answer), mode=mode, strict=True) else 0.0


def completion_str(completion) -> str:
    """A TRL completion as text: a string, or (conversational prompts) the assistant message list."""
    if isinstance(completion, str):
        return completion
    return "".join(m.get("content") or "" for m in completion if m.get("role") == "assistant")


def grpo_prompt(text: str, tokenizer):
    """A GRPO data set prompt: with a chat template, one user turn (TRL renders it); else the text itself."""
    if getattr(tokenizer, "chat_template", None):
        return [{"role": "user", "content": text}]
    return text
