"""Shared test fixtures: one torch thread per test, a tiny tokenizer and a tiny Llama, built offline from a config."""

from __future__ import annotations

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
