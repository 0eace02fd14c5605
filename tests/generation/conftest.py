"""A tiny random Llama and a character-level tokenizer, built offline (helpers in tests/tiny.py)."""

import pytest

from tiny import char_tokenizer, tiny_llama


@pytest.fixture(scope="session")
def tokenizer():
    return char_tokenizer()


@pytest.fixture(scope="session")
def model(tokenizer):
    # a sharp output layer: no near-ties, so greedy decoding is stable under padding
    return tiny_llama(tokenizer, head_scale=20.0)
