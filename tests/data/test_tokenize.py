"""tokenize_sft: the loss mask covers exactly the completion (+ EOS) or the assistant turns."""

from __future__ import annotations

import time

import pytest

from sftlab.data import SFTData, encode_prompts, tokenize_sft
from sftlab.errors import DataError, SftlabError


def records(fmt: str, rows: list[dict], unit: str = "line") -> SFTData:
    return SFTData(
        source="d.jsonl", format=fmt, records=[{**r, "_row": i + 1} for i, r in enumerate(rows)], row_unit=unit
    )


def spans(ids, mask, tokenizer) -> list[str]:
    """Decoded runs of consecutive masked tokens."""
    runs, current = [], []
    for token, bit in zip(ids, mask):
        if bit:
            current.append(token)
        elif current:
            runs.append(current)
            current = []
    if current:
        runs.append(current)
    return [tokenizer.decode(run) for run in runs]


def unmasked(ids, mask, tokenizer) -> str:
    return tokenizer.decode([t for t, b in zip(ids, mask) if not b])


PC_ROWS = [
    {"prompt": "What is two plus three?", "completion": " The answer is 5."},
    {"prompt": "Tom has 3 apples", "completion": " and 4 more, so 7. #### 7"},
    {"prompt": "", "completion": "héllo ünïcode ☃"},
]


def test_prompt_completion_mask_is_completion_plus_eos(tokenizer):
    ds, stats = tokenize_sft(records("prompt_completion", PC_ROWS), tokenizer, max_length=512)
    assert ds.column_names == ["input_ids", "completion_mask"]
    assert len(ds) == 3
    for row, example in zip(PC_ROWS, ds):
        ids, mask = example["input_ids"], example["completion_mask"]
        assert len(ids) == len(mask)
        assert ids[0] == tokenizer.bos_token_id and ids.count(tokenizer.bos_token_id) == 1
        assert ids[-1] == tokenizer.eos_token_id and mask[-1] == 1
        assert spans(ids, mask, tokenizer) == [row["completion"] + "</s>"]  # one run: completion, then EOS
        assert unmasked(ids, mask, tokenizer) == "<s>" + row["prompt"]
        # the prompt part is exactly what generation is given
        assert ids[: mask.index(1)] == encode_prompts([row["prompt"]], tokenizer)[0]
    lengths = [len(x) for x in ds["input_ids"]]
    assert stats == {
        "n_input": 3,
        "n_kept": 3,
        "n_dropped": 0,
        "n_truncated": 0,
        "n_tokens": sum(lengths),
        "n_completion_tokens": sum(sum(m) for m in ds["completion_mask"]),
        "max_length": 512,
    }
    # hand count for the empty prompt: BOS, then every completion token + EOS is trained on
    n_completion = len(tokenizer(PC_ROWS[2]["completion"], add_special_tokens=False)["input_ids"])
    assert ds[2]["completion_mask"] == [0] + [1] * (n_completion + 1)


def test_tokenizer_without_bos_adds_no_prefix(make_tokenizer):
    tok = make_tokenizer(bos=False)
    ds, _ = tokenize_sft(records("prompt_completion", PC_ROWS[:1]), tok, max_length=512)
    prompt_ids = tok(PC_ROWS[0]["prompt"], add_special_tokens=False)["input_ids"]
    assert ds[0]["input_ids"][: len(prompt_ids)] == prompt_ids
    assert ds[0]["completion_mask"][: len(prompt_ids) + 1] == [0] * len(prompt_ids) + [1]


def test_reasoning_plain_template(make_tokenizer):
    tok = make_tokenizer(chat_template=None)
    data = records("reasoning", [{"question": "2+3?", "solution": "2+3=5. The answer is 5.\n", "answer": "5"}])
    ds, _ = tokenize_sft(data, tok, max_length=512)
    ids, mask = ds[0]["input_ids"], ds[0]["completion_mask"]
    assert unmasked(ids, mask, tok) == "<s>Question: 2+3?\nSolution:"
    assert spans(ids, mask, tok) == [" 2+3=5. The answer is 5.</s>"]


def test_reasoning_chat_template_writes_bos_once(tokenizer):
    data = records("reasoning", [{"question": "2+3?", "solution": "The answer is 5.", "answer": "5"}])
    ds, _ = tokenize_sft(data, tokenizer, max_length=512)
    ids, mask = ds[0]["input_ids"], ds[0]["completion_mask"]
    assert ids.count(tokenizer.bos_token_id) == 1
    assert unmasked(ids, mask, tokenizer) == "<s><|user|>2+3?<|end|><|assistant|>"
    assert spans(ids, mask, tokenizer) == ["The answer is 5.</s>"]


def test_reasoning_explicit_template(tokenizer):
    data = records("reasoning", [{"question": "2+3?", "solution": "5", "answer": "5"}])
    ds, _ = tokenize_sft(data, tokenizer, max_length=512, prompt_template="Q: {question}\nA:")
    ids, mask = ds[0]["input_ids"], ds[0]["completion_mask"]
    assert unmasked(ids, mask, tokenizer) == "<s>Q: 2+3?\nA:"
    assert spans(ids, mask, tokenizer) == [" 5</s>"]


CONVERSATION = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "What is two plus three?"},
    {"role": "assistant", "content": "The answer is 5."},
    {"role": "user", "content": "and 3 apples and 4 more?"},
    {"role": "assistant", "content": "#### 7"},
    {"role": "tool", "content": "ok"},
]


def test_messages_mask_covers_assistant_turns_only(tokenizer):
    ds, stats = tokenize_sft(records("messages", [{"messages": CONVERSATION}]), tokenizer, max_length=512)
    ids, mask = ds[0]["input_ids"], ds[0]["completion_mask"]
    assert tokenizer.decode(ids) == tokenizer.apply_chat_template(CONVERSATION, tokenize=False)
    assert spans(ids, mask, tokenizer) == ["The answer is 5.<|end|>", "#### 7<|end|>"]
    assert unmasked(ids, mask, tokenizer) == (
        "<s><|system|>Be brief.<|end|><|user|>What is two plus three?<|end|><|assistant|>"
        "<|user|>and 3 apples and 4 more?<|end|><|assistant|><|tool|>ok<|end|>"
    )
    assert stats["n_completion_tokens"] == sum(mask)


def test_conversational_prompt_completion_trains_on_completion_only(tokenizer):
    row = {"prompt": CONVERSATION[:4], "completion": [{"role": "assistant", "content": "#### 7"}]}
    ds, _ = tokenize_sft(records("prompt_completion", [row]), tokenizer, max_length=512)
    ids, mask = ds[0]["input_ids"], ds[0]["completion_mask"]
    assert spans(ids, mask, tokenizer) == ["#### 7<|end|>"]  # the assistant turn inside the prompt is context


def test_messages_need_a_chat_template(make_tokenizer):
    with pytest.raises(SftlabError, match="the tokenizer has no chat template.*use a model whose tokenizer has one"):
        tokenize_sft(
            records("messages", [{"messages": CONVERSATION}]), make_tokenizer(chat_template=None), max_length=64
        )


def test_template_breaking_the_prefix_property_is_reported(make_tokenizer):
    # like templates that hide earlier turns' reasoning: an assistant turn shows only when it is last
    template = (
        "{% for m in messages %}<|{{ m['role'] }}|>"
        "{% if m['role'] == 'assistant' and not loop.last %}...{% else %}{{ m['content'] }}{% endif %}<|end|>"
        "{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}"
    )
    tok = make_tokenizer(chat_template=template)
    data = records("messages", [{"messages": CONVERSATION[:2] + CONVERSATION[2:3]}, {"messages": CONVERSATION}])
    with pytest.raises(DataError) as info:
        tokenize_sft(data, tok, max_length=512)
    assert str(info.value).startswith(
        "d.jsonl:2: field 'messages': the chat template does not render turn 2 as a prefix of the longer conversation"
    )


def test_template_rejecting_a_conversation_names_the_row(make_tokenizer):
    template = (
        "{% for m in messages %}{% if m['role'] == 'tool' %}{{ raise_exception('no tools here') }}{% endif %}"
        "<|{{ m['role'] }}|>{{ m['content'] }}<|end|>{% endfor %}"
    )
    data = records("messages", [{"messages": CONVERSATION}], unit="row")
    with pytest.raises(DataError, match=r"^d.jsonl: row 1: field 'messages': the chat template failed .*no tools here"):
        tokenize_sft(data, make_tokenizer(chat_template=template), max_length=512)


def _lengths(tokenizer, rows):
    ds, _ = tokenize_sft(records("prompt_completion", rows), tokenizer, max_length=10_000)
    return [len(x) for x in ds["input_ids"]], [m.index(1) for m in ds["completion_mask"]]


OVER_ROWS = [
    {"prompt": "Tom", "completion": " 7"},
    {"prompt": "What is two plus three?", "completion": " The answer is 5. The answer is 5. The answer is 5."},
    {"prompt": "What is two plus three? What is two plus three? What is two plus three?", "completion": " 5"},
    {"prompt": "Tom has", "completion": " 3 apples"},
]


def test_overlength_drop_truncate_error_counts(tokenizer):
    lengths, prompt_lengths = _lengths(tokenizer, OVER_ROWS)
    limit = 12
    # the fixture rows must exercise every case: short, truncatable, prompt alone too long
    assert lengths[0] <= limit and lengths[3] <= limit
    assert lengths[1] > limit and prompt_lengths[1] < limit
    assert prompt_lengths[2] >= limit
    data = records("prompt_completion", OVER_ROWS)

    ds, stats = tokenize_sft(data, tokenizer, max_length=limit, on_overlength="drop")
    assert [len(x) for x in ds["input_ids"]] == [lengths[0], lengths[3]]
    assert (stats["n_input"], stats["n_kept"], stats["n_dropped"], stats["n_truncated"]) == (4, 2, 2, 0)
    assert stats["n_tokens"] == lengths[0] + lengths[3]

    ds, stats = tokenize_sft(data, tokenizer, max_length=limit, on_overlength="truncate")
    assert [len(x) for x in ds["input_ids"]] == [lengths[0], limit, lengths[3]]
    assert (stats["n_input"], stats["n_kept"], stats["n_dropped"], stats["n_truncated"]) == (4, 3, 1, 1)
    truncated = ds[1]
    assert sum(truncated["completion_mask"]) == limit - prompt_lengths[1]
    assert truncated["input_ids"][-1] != tokenizer.eos_token_id  # cut from the right: EOS is gone
    full, _ = tokenize_sft(records("prompt_completion", OVER_ROWS[1:2]), tokenizer, max_length=10_000)
    assert truncated["input_ids"] == full[0]["input_ids"][:limit]
    assert stats["n_tokens"] == lengths[0] + limit + lengths[3]
    assert stats["n_completion_tokens"] == sum(sum(m) for m in ds["completion_mask"])

    with pytest.raises(DataError) as info:
        tokenize_sft(data, tokenizer, max_length=limit, on_overlength="error")
    assert str(info.value) == (
        f"d.jsonl:2: is {lengths[1]} tokens long, over max_length={limit} "
        "(raise --max-length, or use --on-overlength drop or truncate)"
    )


def test_everything_dropped_is_an_error(tokenizer):
    with pytest.raises(SftlabError, match=r"all 4 records are longer than max_length=3"):
        tokenize_sft(records("prompt_completion", OVER_ROWS), tokenizer, max_length=3)


def test_bad_overlength_option(tokenizer):
    with pytest.raises(SftlabError, match="on_overlength must be one of drop, truncate, error, got 'skip'"):
        tokenize_sft(records("prompt_completion", OVER_ROWS), tokenizer, max_length=64, on_overlength="skip")


def test_sftconfig_turns_the_mask_into_labels(tmp_path, tokenizer):
    """TRL's SFTTrainer takes the data set as pre-tokenized and ignores the loss on masked-out tokens."""
    from transformers import LlamaConfig, LlamaForCausalLM
    from trl import SFTConfig, SFTTrainer

    ds, _ = tokenize_sft(records("messages", [{"messages": CONVERSATION}] * 2), tokenizer, max_length=512)
    cfg = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=128,
    )
    args = SFTConfig(
        output_dir=str(tmp_path),
        completion_only_loss=True,
        max_length=512,
        report_to=[],
        use_cpu=True,
        bf16=False,
        activation_checkpointing=False,
        dataset_num_proc=None,
    )
    trainer = SFTTrainer(model=LlamaForCausalLM(cfg), args=args, train_dataset=ds, processing_class=tokenizer)
    example = trainer.train_dataset[0]
    assert example["input_ids"] == ds[0]["input_ids"]
    assert example["labels"] == [t if m else -100 for t, m in zip(ds[0]["input_ids"], ds[0]["completion_mask"])]


def test_tokenizing_scales_linearly_with_the_records(tokenizer):
    """3,000 records are all kept, and take about ten times as long as 300, not a hundred times (a ratio, so that
    a busy machine slows both alike; absolute speed is for benchmarks)."""

    def seconds(kind: str, rows: list, n: int) -> float:
        data = records(kind, [rows[i % len(rows)] for i in range(n)])
        best = float("inf")
        for _ in range(2):
            start = time.perf_counter()
            ds, stats = tokenize_sft(data, tokenizer, max_length=512)
            best = min(best, time.perf_counter() - start)
        assert stats["n_kept"] == n and len(ds) == n
        return best

    for kind, rows in (("prompt_completion", PC_ROWS), ("messages", [{"messages": CONVERSATION}])):
        small, large = seconds(kind, rows, 300), seconds(kind, rows, 3000)
        assert large < 30 * small + 0.5, (kind, small, large)  # linear: ~10x; quadratic: ~100x
