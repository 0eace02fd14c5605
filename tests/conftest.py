"""Shared test fixtures: one torch thread per test, a tiny tokenizer and a tiny Llama, built offline from a config."""

from __future__ import annotations

import json
import os

import pytest

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

from tiny import make_model, make_tokenizer, one_thread  # noqa: E402


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny models run fastest on one torch thread, and far faster than on two on a busy machine."""
    with one_thread():
        yield


@pytest.fixture(scope="session")
def tiny_tokenizer():
    return make_tokenizer()


@pytest.fixture
def tiny_model(tiny_tokenizer):
    return make_model(len(tiny_tokenizer))


# A saved tiny Llama and a small addition data set, shared by the trainer and method tests (IRL, NFT, SFT runs).


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
