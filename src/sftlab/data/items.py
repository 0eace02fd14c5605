"""Evaluation items: the prompt a model is asked, and the reference answer.

Prompts are rendered exactly as training renders them, so a model is
evaluated on the context it was trained with.
"""

from __future__ import annotations

from .formats import SFTData
from .templates import render_prompt
from .tokenize import render_chat


def eval_items(data: SFTData, tokenizer=None, *, prompt_template: str | None = None) -> list[dict]:
    """One dict per record: ``prompt`` (a string), ``answer`` (str or None), ``_row`` and every other field.

    - reasoning: the rendered question; the record's answer.
    - prompt_completion: the prompt as is (chat-rendered when it is a message
      list); ``answer`` if the record has one, else extracted from the completion.
    - messages: the conversation before its last assistant turn, chat-rendered
      with the generation prompt; the answer extracted from that turn (or the
      record's ``answer``).
    A reference answer that cannot be extracted is ``None``; evaluation skips
    and counts such items.
    """
    items = []
    for record in data.records:
        answer = record.get("answer")
        if data.format == "reasoning":
            prompt = render_prompt(record["question"], tokenizer, prompt_template)
        elif data.format == "prompt_completion" and isinstance(record["prompt"], str):
            prompt, reference = record["prompt"], record["completion"]
        else:
            if data.format == "messages":
                messages = record["messages"]
                last = max(i for i, m in enumerate(messages) if m["role"] == "assistant")
                context, reference = messages[:last], messages[last]["content"]
            else:  # conversational prompt/completion
                context = record["prompt"]
                reference = [m for m in record["completion"] if m["role"] == "assistant"][-1]["content"]
            prompt = render_chat(tokenizer, context, add_generation_prompt=True)
        if answer is None and data.format != "reasoning":
            answer = _extract(reference)
        items.append({**record, "prompt": prompt, "answer": None if answer is None else str(answer)})
    return items


def _extract(text: str | None) -> str | None:
    if not text:
        return None
    from sftlab.verify import extract_answer

    return extract_answer(text, strict=True)  # a reference only from a stated answer, never a guess
