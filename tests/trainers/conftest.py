"""A saved tiny Llama + tokenizer and a small addition data set, shared by the IRL and NFT tests."""

from __future__ import annotations

import json

import pytest

from tiny import make_model, make_tokenizer


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory):
    """A random 2-layer Llama and its tokenizer, saved; tests read it and write elsewhere."""
    tok = make_tokenizer()
    d = tmp_path_factory.mktemp("tiny")
    make_model(len(tok), seed=0).save_pretrained(d)
    tok.save_pretrained(d)
    return d


@pytest.fixture(scope="session")
def data_file(tmp_path_factory):
    """Nine reasoning records, 'What is a plus b?' for a, b in 1..3, native-style solutions."""
    rows = [{"question": f"What is {a} plus {b}?", "solution": f"{a}+{b}={a + b}; #### {a + b}", "answer": a + b}
            for a in range(1, 4) for b in range(1, 4)]  # fmt: skip
    p = tmp_path_factory.mktemp("data") / "train.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return p
