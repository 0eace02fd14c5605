"""Shared fixtures: a tiny model and data set for selection tests (built here, nothing downloaded)."""

import numpy as np
import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from sftlab.io import atomic_write_jsonl


@pytest.fixture(scope="session")
def setup(tmp_path_factory):
    """A 2-layer Llama + tokenizer saved to disk, and 40 prompt/completion records from two sources."""
    from sftlab.lab.tokenizer import train_tokenizer

    root = tmp_path_factory.mktemp("s2l")
    rng = np.random.default_rng(0)
    rows = []
    for i in range(40):
        a, b = int(rng.integers(1, 50)), int(rng.integers(1, 50))
        if i % 4 == 0:
            rows.append(
                {"id": f"w{i}", "prompt": f"add {a} and {b}:", "completion": f" the sum is {a + b}", "src": "words"}
            )
        else:
            rows.append({"id": f"s{i}", "prompt": f"{a}+{b}=", "completion": str(a + b), "src": "symbols"})
    data_path = root / "train.jsonl"
    atomic_write_jsonl(data_path, rows)
    tok = train_tokenizer([r["prompt"] + r["completion"] for r in rows], vocab_size=80)
    torch.manual_seed(0)
    model = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=len(tok),
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=128,
            bos_token_id=tok.bos_token_id,
            eos_token_id=tok.eos_token_id,
            pad_token_id=tok.pad_token_id,
        )
    )
    model_dir = root / "tiny"
    model.save_pretrained(model_dir)
    tok.save_pretrained(model_dir)
    return root, data_path, model_dir, rows
