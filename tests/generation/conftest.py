"""A tiny random Llama and a character-level tokenizer, built offline (helpers in tests/tiny.py)."""

import pytest
from tiny import char_tokenizer, one_thread, tiny_llama


@pytest.fixture(autouse=True)
def one_torch_thread():
    with one_thread():
        yield


@pytest.fixture(scope="session")
def tokenizer():
    return char_tokenizer()


@pytest.fixture(scope="session")
def model(tokenizer):
    # a sharp output layer: no near-ties, so greedy decoding is stable under padding
    return tiny_llama(tokenizer, head_scale=20.0)
