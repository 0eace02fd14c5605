"""Fixtures for the landscape tests: two tiny saved Llamas and a small reasoning file with a label field."""

from __future__ import annotations

import json

import pytest

FAMILIES = ["shop", "trip", "bank"]


@pytest.fixture(scope="session")
def models(tmp_path_factory, tiny_tokenizer):
    """A tiny base model and a perturbed copy ("fine-tuned"), saved like checkpoints."""
    from tiny import make_model

    root = tmp_path_factory.mktemp("models")
    paths = {}
    for name, seed in [("base", 0), ("ft", 1)]:
        model = make_model(len(tiny_tokenizer), seed=seed)
        model.save_pretrained(root / name)
        tiny_tokenizer.save_pretrained(root / name)
        paths[name] = str(root / name)
    return paths


@pytest.fixture(scope="session")
def data_file(tmp_path_factory):
    rows = []
    for i in range(48):
        a, b = i % 7 + 1, i // 7 + 2
        rows.append(
            {
                "question": f"Item {i}: {a} plus {b} in the {FAMILIES[i % 3]}?",
                "solution": f"{a}+{b}={a + b}; #### {a + b}",
                "family": FAMILIES[i % 3],
            }
        )
    path = tmp_path_factory.mktemp("data") / "d.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)
