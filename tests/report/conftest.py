"""A fake metrics dict for the report tests: two methods, two seeds, curves, hostile example text."""

from __future__ import annotations

import pytest

HOSTILE = "<script>alert('x')</script>"


def _curve(scale: float) -> dict:
    steps = [0, 10, 20, 30]
    nll = [2.0, 1.5, 1.0, 0.8]
    return {"step": steps, "objective": [scale * v for v in nll], "nll": nll}


def _example(split: str, correct: bool) -> dict:
    return {"split": split, "prompt": f"Question: 3 + 4? {HOSTILE}\nSolution:",
            "completion": f" 3+4=7; #### 7 {HOSTILE}", "answer": "7", "correct": correct}  # fmt: skip


@pytest.fixture
def fake_metrics() -> dict:
    """Hand-set accuracies (hand-worked summaries in the tests):

    base: test_id 0.40, 0.40; test_ood 0.05, 0.05 (no curve, no training).
    dft:  test_id 0.50, 0.56; test_ood 0.10, 0.20; train 60 s and 62 s.
    """
    n = {"test_id": 400, "test_ood": 400}
    base_runs = [
        {"seed": s, "accuracy": {"test_id": 0.40, "test_ood": 0.05}, "n": n, "train_seconds": 0.0, "curve": {},
         "examples": [_example("test_id", True)]}
        for s in (0, 1)
    ]  # fmt: skip
    dft_runs = [
        {"seed": 0, "accuracy": {"test_id": 0.50, "test_ood": 0.10}, "n": n, "train_seconds": 60.0,
         "curve": _curve(0.3), "examples": [_example("test_id", True), _example("test_ood", False)]},
        {"seed": 1, "accuracy": {"test_id": 0.56, "test_ood": 0.20}, "n": n, "train_seconds": 62.0,
         "curve": _curve(0.4), "examples": [_example("test_ood", True)]},
    ]  # fmt: skip
    return {
        "title": "report test <b>",
        "created": "2026-11-21T05:00:00Z",
        "sftlab_version": "0.1.0",
        "machine": {"cpu": "Test CPU", "cores": 2, "gpu": None, "torch": "2.13.0"},
        "config": {"steps": 30, "note": HOSTILE},
        "seeds": [0, 1],
        "splits": ["test_id", "test_ood"],
        "labels": {"test_id": "in-domain", "test_ood": "out-of-domain"},
        "methods": {
            "base": {"label": "base model", "description": "pretrained only", "runs": base_runs},
            "dft": {"label": "DFT", "description": "arXiv 2508.05629", "runs": dft_runs},
        },
        "notes": [f"a documented ablation {HOSTILE}"],
        "sections": {},
    }
