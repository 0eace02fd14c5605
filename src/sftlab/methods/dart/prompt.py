"""The mapper's prompt: the question and the original solution through a configurable template."""

from __future__ import annotations

import string

from sftlab.args import flag_error
from sftlab.data.templates import PLAIN_TEMPLATE

from .rewards import scaffold_fragments

DEFAULT_MAPPER_TEMPLATE = "Question: {question}\nReference solution: {solution}\nRewritten solution:"
SLOTS = ("question", "solution")


def check_template(template: str, field: str = "mapper_template") -> None:
    """A mapper template must hold exactly the ``{question}`` and ``{solution}`` slots."""
    try:
        slots = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as e:
        raise flag_error(field, f"not a valid template ({e}); write literal braces as {{{{ }}}}") from None
    missing, extra = set(SLOTS) - slots, slots - set(SLOTS)
    if missing or extra:
        raise flag_error(
            field,
            "the template needs the slots {question} and {solution} and no others "
            f"(missing: {sorted(missing) or 'none'}, unknown: {sorted(extra) or 'none'})",
        )


def mapper_prompt(question: str, solution: str, template: str = DEFAULT_MAPPER_TEMPLATE, tokenizer=None) -> str:
    """The text the mapper continues with its rewrite.

    With a tokenizer that has a chat template, the filled template is sent as
    one user turn (generation prompt added); otherwise it is used as is.
    """
    text = template.format(question=question, solution=solution.strip())
    if tokenizer is not None and getattr(tokenizer, "chat_template", None):
        messages = [{"role": "user", "content": text}]
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return text


def clean_rewrite(completion: str) -> str:
    """The rewrite as a solution: the mapper's completion without surrounding whitespace."""
    return completion.strip()


def scaffold_for(mapper_template: str, target_template: str | None = None) -> list[str]:
    """Leak markers: the literal text of the mapper template and of the target's prompt template."""
    return scaffold_fragments(mapper_template, target_template or PLAIN_TEMPLATE)
