"""A tiny random Llama and a character-level tokenizer, built offline (helpers in tests/tiny.py)."""

import pytest

from tiny import char_tokenizer, tiny_llama


@pytest.fixture(scope="session")
def tokenizer():
    return char_tokenizer()


@pytest.fixture(scope="session")
def model(tokenizer):
    return tiny_llama(tokenizer)


@pytest.fixture(scope="session")
def saved_model(tmp_path_factory, model, tokenizer):
    path = tmp_path_factory.mktemp("tiny-llama")
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)
