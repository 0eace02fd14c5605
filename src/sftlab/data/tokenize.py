"""Turn validated records into token ids and a completion mask for training.

Every sequence starts the way the tokenizer starts one (its BOS, when it adds
one and the text does not already begin with it) and carries no other special
token the tokenizer would add: text data ends with EOS, chat data with
whatever the chat template closes a turn with. The mask is 1 on the tokens
the loss is computed on: the completion and its EOS, or the assistant turns.
The result is a pre-tokenized data set for TRL's ``SFTTrainer``
(``input_ids`` + ``completion_mask``; the trainer must run with
``completion_only_loss=True`` for the mask to apply).
"""

from __future__ import annotations

from tqdm.auto import tqdm

from sftlab.errors import SftlabError

from .formats import SFTData
from .templates import completion_text, render_prompt

OVERLENGTH = ("drop", "truncate", "error")


def tokenize_sft(
    data: SFTData,
    tokenizer,
    *,
    max_length: int,
    on_overlength: str = "drop",
    prompt_template: str | None = None,
):
    """Tokenize ``data`` for SFT; return ``(datasets.Dataset, stats)``.

    Records longer than ``max_length`` tokens are dropped, truncated from the
    right (keeping at least one completion token, else dropped), or raise a
    :class:`DataError` naming the row (``on_overlength``). ``stats`` counts
    ``n_input``, ``n_kept``, ``n_dropped``, ``n_truncated``, ``n_tokens`` and
    ``n_completion_tokens`` of the kept records, and echoes ``max_length``.
    ``prompt_template`` applies to reasoning records (see :func:`render_prompt`).
    """
    if on_overlength not in OVERLENGTH:
        raise SftlabError(f"on_overlength must be one of {', '.join(OVERLENGTH)}, got {on_overlength!r}")
    if max_length < 1:
        raise SftlabError(f"max_length must be a positive number of tokens, got {max_length}")
    records = data.records
    if data.format == "messages":
        examples = _chat_examples(data, [(r["messages"], 0) for r in records], tokenizer)
    elif data.format == "prompt_completion" and isinstance(records[0]["prompt"], list):
        convs = [(r["prompt"] + r["completion"], len(r["prompt"])) for r in records]
        examples = _chat_examples(data, convs, tokenizer)
    elif data.format == "prompt_completion":
        examples = _text_examples([r["prompt"] for r in records], [r["completion"] for r in records], tokenizer)
    else:  # reasoning: rendered exactly as generation and evaluation render it
        prompts = [render_prompt(r["question"], tokenizer, prompt_template) for r in records]
        completions = [completion_text(p, r["solution"]) for p, r in zip(prompts, records)]
        examples = _text_examples(prompts, completions, tokenizer)
    return _fit(data, examples, max_length, on_overlength)


def encode_prompts(texts: list[str], tokenizer) -> list[list[int]]:
    """Token ids of prompt texts, exactly as training starts its sequences.

    No special tokens are added except the tokenizer's leading BOS, and not
    when the text already starts with it (a chat template that writes it).
    Generation should encode prompts with this function too.
    """
    prefix = _bos_prefix(tokenizer)
    prefix_text = "".join(tokenizer.convert_ids_to_tokens(prefix))
    ids = tokenizer(list(texts), add_special_tokens=False)["input_ids"]
    if not prefix:
        return ids
    return [x if t.startswith(prefix_text) else prefix + x for t, x in zip(texts, ids)]


def render_chat(tokenizer, messages: list[dict], *, add_generation_prompt: bool = False) -> str:
    """``messages`` rendered by the tokenizer's chat template, as text."""
    if not getattr(tokenizer, "chat_template", None):
        raise SftlabError(
            "the tokenizer has no chat template, so chat (messages) data cannot be rendered; "
            "use a model whose tokenizer has one, or prompt/completion data"
        )
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)


def _bos_prefix(tokenizer) -> list[int]:
    """The ids the tokenizer puts before a text's own tokens (usually ``[bos]`` or nothing)."""
    with_special = tokenizer("a", add_special_tokens=True)["input_ids"]
    plain = tokenizer("a", add_special_tokens=False)["input_ids"]
    for start in range(len(with_special) - len(plain) + 1):
        if with_special[start : start + len(plain)] == plain:
            return with_special[:start]
    return []


def _eos_id(tokenizer) -> int:
    if tokenizer.eos_token_id is None:
        raise SftlabError("the tokenizer has no EOS token, so a completion's end cannot be marked")
    return tokenizer.eos_token_id


def _text_examples(prompts: list[str], completions: list[str], tokenizer) -> list[tuple[list[int], list[int]]]:
    """prompt + completion + EOS, tokenized apart so the boundary is where generation starts."""
    eos = _eos_id(tokenizer)
    prompt_ids = encode_prompts(prompts, tokenizer)
    completion_ids = tokenizer(completions, add_special_tokens=False)["input_ids"]
    return [(p + c + [eos], [0] * len(p) + [1] * (len(c) + 1)) for p, c in zip(prompt_ids, completion_ids)]


def _chat_examples(data: SFTData, convs: list[tuple[list[dict], int]], tokenizer):
    """Conversations with a mask on each assistant turn at index >= ``start``.

    An assistant turn ``i`` is the tokens of the conversation up to and
    including it, beyond those of the conversation before it with the
    generation prompt added. That requires the template to render a
    conversation's beginning the same whatever follows (the prefix property),
    which is checked.
    """
    index: dict[str, int] = {}  # each distinct text is tokenized once
    layouts = []  # per conversation: (full text, [(before turn i, through turn i) for each trained turn i])
    for record, (messages, start) in zip(
        data.records, tqdm(convs, desc="rendering chats", disable=len(convs) < 10_000)
    ):
        try:
            full = render_chat(tokenizer, messages)
            turns = []
            for i, m in enumerate(messages):
                if i >= start and m["role"] == "assistant":
                    before = render_chat(tokenizer, messages[:i], add_generation_prompt=True)
                    through = full if i == len(messages) - 1 else render_chat(tokenizer, messages[: i + 1])
                    turns.append((i, index.setdefault(before, len(index)), index.setdefault(through, len(index))))
        except SftlabError:
            raise
        except Exception as e:  # a template may reject a conversation (e.g. roles must alternate)
            raise data.error(record, f"the chat template failed on this conversation ({e})", "messages") from None
        layouts.append((index.setdefault(full, len(index)), turns))
    ids = encode_prompts(list(index), tokenizer)
    examples = []
    for record, (full_k, turns) in zip(data.records, layouts):
        full = ids[full_k]
        mask = [0] * len(full)
        for i, before_k, through_k in turns:
            before, through = ids[before_k], ids[through_k]
            if through[: len(before)] != before or full[: len(through)] != through:
                raise data.error(
                    record,
                    f"the chat template does not render turn {i} as a prefix of the longer conversation, "
                    "so its assistant tokens cannot be located; use a model whose template renders earlier turns "
                    "the same whatever follows, or prompt/completion data",
                    "messages",
                )
            mask[len(before) : len(through)] = [1] * (len(through) - len(before))
        if not any(mask):
            raise data.error(record, "the chat template renders no tokens for the assistant turns", "messages")
        examples.append((full, mask))
    return examples


def _fit(data: SFTData, examples, max_length: int, on_overlength: str):
    import datasets

    kept_ids, kept_masks = [], []
    n_dropped = n_truncated = 0
    for record, (ids, mask) in zip(data.records, examples):
        if len(ids) > max_length:
            if on_overlength == "error":
                raise data.error(
                    record,
                    f"is {len(ids)} tokens long, over max_length={max_length} "
                    "(raise --max-length, or use --on-overlength drop or truncate)",
                )
            ids, mask = ids[:max_length], mask[:max_length]
            if on_overlength == "drop" or not any(mask):
                n_dropped += 1
                continue
            n_truncated += 1
        kept_ids.append(ids)
        kept_masks.append(mask)
    if not kept_ids:
        raise SftlabError(
            f"{data.source}: all {len(examples)} records are longer than max_length={max_length} "
            f"(or leave no completion token within it); raise --max-length"
        )
    stats = {
        "n_input": len(examples),
        "n_kept": len(kept_ids),
        "n_dropped": n_dropped,
        "n_truncated": n_truncated,
        "n_tokens": sum(map(len, kept_ids)),
        "n_completion_tokens": sum(map(sum, kept_masks)),
        "max_length": max_length,
    }
    dataset = datasets.Dataset.from_dict({"input_ids": kept_ids, "completion_mask": kept_masks})
    return dataset, stats
