"""Fixtures for the data tests: a tiny tokenizer trained here, and file writers.

Test modules get the writers through the ``writers`` fixture (a dict: file name
-> ``write(path, rows) -> path``), since test files cannot import this module.
"""

from __future__ import annotations

import json

import pytest

CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}<|end|>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
SPECIAL = ["<pad>", "<s>", "</s>", "<|system|>", "<|user|>", "<|assistant|>", "<|tool|>", "<|end|>"]
CORPUS = [
    "What is two plus three? The answer is 5.",
    "Tom has 3 apples and buys 4 more, so he has 7 apples. #### 7",
    "Question: hello world Solution: the sum is 12 and the answer is 12",
    "héllo ünïcode ☃ world, question and solution",
]


def build_tokenizer(chat_template: str | None = CHAT_TEMPLATE, bos: bool = True):
    """A byte-level BPE tokenizer trained on a few sentences; adds BOS like Llama when ``bos``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=SPECIAL, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(CORPUS, trainer)
    if bos:
        tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>" if bos else None, eos_token="</s>", pad_token="<pad>"
    )
    tokenizer.chat_template = chat_template
    return tokenizer


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def write_json_array(path, rows):
    path.write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def write_parquet(path, rows):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def write_saved(path, rows, split: str | None = None):
    """A folder written by ``save_to_disk``: a Dataset, or a DatasetDict holding ``split``."""
    import datasets

    ds = datasets.Dataset.from_list(rows)
    (datasets.DatasetDict({split: ds}) if split else ds).save_to_disk(str(path))
    return path


WRITERS = {
    "data.jsonl": write_jsonl,
    "data.json": write_json_array,
    "data.parquet": write_parquet,
    "saved": write_saved,
}


@pytest.fixture(scope="session")
def tokenizer():
    """Byte-level BPE with BOS and the simple chat template above."""
    return build_tokenizer()


@pytest.fixture(scope="session")
def make_tokenizer():
    """``build_tokenizer`` itself, for variants (no chat template, no BOS)."""
    return build_tokenizer


@pytest.fixture(scope="session")
def writers():
    return WRITERS


@pytest.fixture
def extract_answer():
    """``sftlab.verify.extract_answer``; tests that need it skip while it cannot be imported."""
    try:
        from sftlab.verify import extract_answer
    except ImportError as e:
        pytest.skip(f"sftlab.verify.extract_answer is not importable ({e})")
    return extract_answer
