"""Tiny target, tiny mapper and a small reasoning data set for the DART tests (all offline, built once).

Tiny models run on one torch thread here: on a shared, loaded machine two
threads per process can make them tens of times slower, and one is as fast
when the machine is quiet.
"""

from __future__ import annotations

import json

import pytest
import torch

from sftlab.methods.dart.prompt import mapper_prompt
from tiny import one_thread

PAIRS = [(a, 7 - a) for a in range(1, 7)] * 2  # every answer is 7: a tiny mapper learns to end with '#### 7'


def record(i: int, a: int, b: int) -> dict:
    return {
        "id": f"r{i}",
        "question": f"Tom has {a} apples and buys {b} more. How many apples?",
        "solution": f"Adding {b} to {a} gives {a + b}. The answer is {a + b}.",
        "answer": str(a + b),
        "family": "shopping",
    }


@pytest.fixture(scope="session")
def make_record():
    return record


@pytest.fixture(scope="session")
def records():
    return [record(i, a, b) for i, (a, b) in enumerate(PAIRS)]


@pytest.fixture(scope="session")
def data_file(tmp_path_factory, records):
    path = tmp_path_factory.mktemp("data") / "train.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


@pytest.fixture(scope="session")
def target_dir(tmp_path_factory, tiny_tokenizer):
    """A tiny target trained a little on native-style solutions."""
    from tiny import make_model

    texts = [
        f"Question: {r['question']}\nSolution: {a}+{b}={a + b}; #### {a + b}</s>"
        for r, (a, b) in zip([record(i, a, b) for i, (a, b) in enumerate(PAIRS)], PAIRS)
    ]
    with one_thread():
        model = _fit(make_model(len(tiny_tokenizer), seed=1), tiny_tokenizer, texts, steps=60)
    out = tmp_path_factory.mktemp("target")
    model.save_pretrained(out)
    tiny_tokenizer.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def mapper_dir(tmp_path_factory, tiny_tokenizer, records):
    """A tiny mapper that has learned roughly to restate: mapper prompt -> native solution."""
    from tiny import make_model

    texts = [
        mapper_prompt(r["question"], r["solution"]) + f" {a}+{b}={a + b}; #### {a + b}</s>"
        for r, (a, b) in zip(records, PAIRS)
    ]
    with one_thread():
        model = _fit(make_model(len(tiny_tokenizer), seed=0), tiny_tokenizer, texts, steps=60)
    out = tmp_path_factory.mktemp("mapper")
    model.save_pretrained(out)
    tiny_tokenizer.save_pretrained(out)
    return out


def _fit(model, tok, texts, steps: int, lr: float = 1e-2):
    torch.manual_seed(0)
    batch = tok(texts, padding=True, return_tensors="pt", add_special_tokens=False)
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    for _ in range(steps):
        model(**batch, labels=labels).loss.backward()
        opt.step()
        opt.zero_grad()
    return model.eval()
