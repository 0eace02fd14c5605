"""The lab tokenizer: single-digit tokens, lossless round trip, BOS/EOS/PAD, plain prompt template."""

from __future__ import annotations

import pytest
from transformers import AutoTokenizer

from sftlab.data.templates import PLAIN_TEMPLATE, render_prompt
from sftlab.lab.tokenizer import train_tokenizer

CORPUS = [
    f"Question: Mia has {i} coins. She saves {i * 7 % 50} more.\nSolution: {i}+7=19; #### {i * 3}" for i in range(300)
]


@pytest.fixture(scope="module")
def tok():
    return train_tokenizer(CORPUS, vocab_size=200)


def test_digits_are_single_tokens(tok):
    tokens = tok.convert_ids_to_tokens(tok("12345+678=91011", add_special_tokens=False)["input_ids"])
    assert [t for t in tokens if any(c.isdigit() for c in t)] == list("12345678") + list("91011")


def test_round_trip_bos_and_specials(tok):
    text = "Question: Zo walks 12 km, ~{x}|.\nSolution: 3*4=12; #### 12"  # ASCII, partly unseen in CORPUS
    ids = tok(text)["input_ids"]
    assert ids[0] == tok.bos_token_id and ids.count(tok.bos_token_id) == 1
    assert tok.decode(ids, skip_special_tokens=True) == text
    # Non-ASCII is normalized, never dropped: accents stripped, anything else becomes "?".
    assert tok.decode(tok("Zoë ✓ 3")["input_ids"], skip_special_tokens=True) == "Zoe ? 3"
    assert len({tok.bos_token_id, tok.eos_token_id, tok.pad_token_id}) == 3
    assert 100 < len(tok) <= 200  # a small corpus may run out of merges before 200


def test_no_chat_template_so_prompts_are_plain(tok):
    assert not tok.chat_template
    assert render_prompt("What is 2+2?", tok) == PLAIN_TEMPLATE.format(question="What is 2+2?")


def test_saves_and_reloads_with_auto_tokenizer(tok, tmp_path):
    tok.save_pretrained(tmp_path)
    again = AutoTokenizer.from_pretrained(tmp_path)
    text = CORPUS[17]
    assert again(text)["input_ids"] == tok(text)["input_ids"]
    assert (again.bos_token, again.eos_token, again.pad_token) == ("<s>", "</s>", "<pad>")


def test_training_is_deterministic():
    a, b = train_tokenizer(CORPUS, 200), train_tokenizer(CORPUS, 200)
    assert a.get_vocab() == b.get_vocab() and a(CORPUS[5])["input_ids"] == b(CORPUS[5])["input_ids"]
