"""How a question becomes a prompt, shared by training, generation and evaluation.

Training and evaluation must render prompts identically, so every caller goes
through :func:`render_prompt`.
"""

from __future__ import annotations

# Used for tokenizers without a chat template (base models, the lab model).
PLAIN_TEMPLATE = "Question: {question}\nSolution:"


def render_prompt(question: str, tokenizer=None, template: str | None = None) -> str:
    """Render ``question`` as a prompt string.

    Order of precedence: an explicit ``template`` with a ``{question}`` slot; the
    tokenizer's chat template (one user turn, generation prompt added); the plain
    ``PLAIN_TEMPLATE``.
    """
    if template is not None:
        return template.format(question=question)
    if tokenizer is not None and getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(
            [{"role": "user", "content": question}], tokenize=False, add_generation_prompt=True
        )
    return PLAIN_TEMPLATE.format(question=question)


def completion_text(prompt: str, solution: str) -> str:
    """The completion trained on (and expected from generation) after ``prompt``.

    A prompt that ends in a non-space character (the plain template's
    ``Solution:``) gets one separating space; chat prompts, which end in a newline
    or a role marker, get none. EOS is appended at tokenization, not here.
    """
    solution = solution.strip()
    if prompt and not prompt[-1].isspace() and not prompt.endswith(">"):
        return " " + solution
    return solution
