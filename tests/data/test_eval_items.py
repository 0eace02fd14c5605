"""eval_items: prompts rendered exactly as in training, and the reference answers."""

from __future__ import annotations

import pytest

from sftlab.data import SFTData, encode_prompts, eval_items, render_prompt, tokenize_sft
from sftlab.errors import SftlabError

CHAT = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "What is two plus three?"},
    {"role": "assistant", "content": "The answer is 5."},
    {"role": "user", "content": "and 3 apples and 4 more?"},
    {"role": "assistant", "content": "3 and 4 more, so 7. #### 7"},
    {"role": "user", "content": "thanks"},
]


def records(fmt: str, rows: list[dict]) -> SFTData:
    return SFTData(source="d.jsonl", format=fmt, records=[{**r, "_row": i + 1} for i, r in enumerate(rows)])


def training_prompt_ids(data: SFTData, tokenizer, **kwargs) -> list[list[int]]:
    """The tokens before the first trained token, as tokenize_sft lays them out."""
    ds, _ = tokenize_sft(data, tokenizer, max_length=10_000, **kwargs)
    return [ex["input_ids"][: ex["completion_mask"].index(1)] for ex in ds]


@pytest.mark.parametrize("template", [None, "Q: {question}\nA:"])
def test_reasoning_items_match_training(tokenizer, template):
    rows = [
        {"question": "2+3?", "solution": "The answer is 5.", "answer": "5", "split": "test", "family": "add"},
        {"question": "Tom has 3 apples", "solution": "so 7", "answer": None, "split": "ood", "family": "apples"},
    ]
    data = records("reasoning", rows)
    items = eval_items(data, tokenizer, prompt_template=template)
    assert [i["prompt"] for i in items] == [render_prompt(r["question"], tokenizer, template) for r in rows]
    assert [i["answer"] for i in items] == ["5", None]
    assert [(i["_row"], i["split"], i["family"], i["question"]) for i in items] == [
        (1, "test", "add", "2+3?"),
        (2, "ood", "apples", "Tom has 3 apples"),
    ]
    prompts = [i["prompt"] for i in items]
    assert encode_prompts(prompts, tokenizer) == training_prompt_ids(data, tokenizer, prompt_template=template)


def test_plain_reasoning_without_tokenizer():
    items = eval_items(records("reasoning", [{"question": "2+3?", "solution": "5", "answer": "5"}]))
    assert items[0]["prompt"] == "Question: 2+3?\nSolution:"


def test_prompt_completion_items(tokenizer, extract_answer):
    rows = [
        {"prompt": "What is two plus three?", "completion": " The answer is 5."},
        {"prompt": "Tom has 3 apples", "completion": " and 4 more. #### 7", "answer": 7},
        {"prompt": "hello", "completion": " no answer stated"},
    ]
    data = records("prompt_completion", rows)
    items = eval_items(data, tokenizer)
    assert [i["prompt"] for i in items] == [r["prompt"] for r in rows]
    assert [i["answer"] for i in items] == ["5", "7", None]
    assert encode_prompts([i["prompt"] for i in items], tokenizer) == training_prompt_ids(data, tokenizer)


def test_messages_items_end_before_the_last_assistant_turn(tokenizer, extract_answer):
    data = records("messages", [{"messages": CHAT, "split": "ood"}])
    (item,) = eval_items(data, tokenizer)
    assert item["prompt"] == tokenizer.apply_chat_template(CHAT[:4], tokenize=False, add_generation_prompt=True)
    assert item["answer"] == "7" and item["split"] == "ood" and item["messages"] == CHAT
    # the prompt is exactly the context training used for that turn
    ds, _ = tokenize_sft(data, tokenizer, max_length=10_000)
    prompt_ids = encode_prompts([item["prompt"]], tokenizer)[0]
    ids, mask = ds[0]["input_ids"], ds[0]["completion_mask"]
    assert ids[: len(prompt_ids)] == prompt_ids and mask[len(prompt_ids)] == 1 and mask[len(prompt_ids) - 1] == 0


def test_messages_answer_field_wins(tokenizer):
    (item,) = eval_items(records("messages", [{"messages": CHAT[:3], "answer": "five"}]), tokenizer)
    assert item["answer"] == "five"


def test_conversational_prompt_completion_items(tokenizer, extract_answer):
    row = {"prompt": CHAT[:4], "completion": [{"role": "assistant", "content": "#### 7"}]}
    (item,) = eval_items(records("prompt_completion", [row]), tokenizer)
    assert item["prompt"] == tokenizer.apply_chat_template(CHAT[:4], tokenize=False, add_generation_prompt=True)
    assert item["answer"] == "7"


def test_messages_need_a_chat_template(make_tokenizer):
    data = records("messages", [{"messages": CHAT, "answer": "7"}])
    with pytest.raises(SftlabError, match="no chat template"):
        eval_items(data, make_tokenizer(chat_template=None))
    with pytest.raises(SftlabError, match="no chat template"):
        eval_items(data)
