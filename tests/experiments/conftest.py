"""A stand-in lab (tiny saved Llama, small reasoning splits) and the real DemoContext on it."""

from __future__ import annotations

import json

import pytest

from sftlab.experiments.context import DemoConfig, DemoContext
from sftlab.experiments.recipes import LabRecipe
from sftlab.lab.model import LabArtifacts

FAMILIES = ["shop", "trip", "bank"]


def record(i: int) -> dict:
    a, b = i % 7 + 1, i // 7 + 2
    return {
        "id": f"r{i}",
        "question": f"Item {i}: Tom has {a} apples and buys {b} more in the {FAMILIES[i % 3]}. How many?",
        "solution": f"Adding {b} to {a} gives {a + b}. The answer is {a + b}.",
        "answer": str(a + b),
        "family": FAMILIES[i % 3],
    }


@pytest.fixture(scope="session")
def lab(tmp_path_factory, tiny_tokenizer):
    """A LabArtifacts on disk: a tiny base model and its train / test_id / test_ood splits."""
    from tiny import make_model

    root = tmp_path_factory.mktemp("standin-lab")
    model = make_model(len(tiny_tokenizer), seed=0)
    model.config.max_position_embeddings = 512  # the lab model's context: the lab recipes train at --max-length 512
    model.save_pretrained(root / "model")
    tiny_tokenizer.save_pretrained(root / "model")
    data = {}
    for split, ids in (("train", range(24)), ("test_id", range(100, 148)), ("test_ood", range(200, 204))):
        data[split] = root / f"{split}.jsonl"
        data[split].write_text("".join(json.dumps(record(i)) + "\n" for i in ids))
    return LabArtifacts(root=root, model_dir=root / "model", data=data, info={"config": {}})


@pytest.fixture
def demo_ctx(lab, tmp_path):
    """``demo_ctx(**options)``: the real DemoContext on the stand-in lab, options of DemoConfig."""

    def make(**options) -> DemoContext:
        return DemoContext(DemoConfig(output_dir=str(tmp_path / "demo"), **options), lab, tmp_path / "demo")

    return make


@pytest.fixture
def shrink_recipe(monkeypatch):
    """``shrink_recipe(ctx, path, options, demo)``: ``ctx.recipe(path, ...)`` then returns the recipe with
    ``options`` / ``demo`` overridden (a test-sized run)."""

    def shrink(ctx, path: str, options: dict | None = None, demo: dict | None = None) -> None:
        real = ctx.recipe

        def recipe(p, cls, name=None):
            r = real(p, cls, name)
            return r if p != path else LabRecipe(r.path, {**r.options, **(options or {})}, {**r.demo, **(demo or {})})

        monkeypatch.setattr(ctx, "recipe", recipe)

    return shrink
