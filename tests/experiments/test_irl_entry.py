"""The IRFT/SPIN/RFT demo entries: registered, valid configs, and one report section after the last of them."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

import sftlab.experiments.entries.irl as demo
from sftlab.experiments.runner import ENTRIES, resolve_methods


def _ctx(tmp_path, methods, results, quick=True):
    lab = SimpleNamespace(data={"train": "train.jsonl"}, model_dir=Path("lab-model"))
    return SimpleNamespace(quick=quick, cfg=SimpleNamespace(methods=methods, fresh=False), results=results, lab=lab,
                           selected=resolve_methods(methods), notes=[], run_dir=lambda name, seed: tmp_path / name / f"seed{seed}")  # fmt: skip


def _its(key, values):
    return [{"iteration": i + 1, "n_pairs": 4, key: v, "logp_gap": 2.0 + i, "ref_logp_gap": 1.0 + i,
             "sample_accuracy": 0.25} for i, v in enumerate(values)]  # fmt: skip


def test_entries_are_registered():
    assert {"irft", "spin", "rft"} <= set(ENTRIES)
    assert all(ENTRIES[m].section is demo.section for m in ("irft", "spin", "rft"))


@pytest.mark.parametrize("quick", [True, False])
def test_entry_configs_are_valid(tmp_path, quick):
    ctx = _ctx(tmp_path, None, {}, quick=quick)
    for method in ("irft", "spin", "rft"):
        cfg = demo.irl_config(ctx, method, 0, "start-model")  # an IRLConfig checks itself when built
        assert cfg.method == method and cfg.model == "start-model" and cfg.output_dir.endswith("irl")
    assert demo.irl_config(ctx, "spin", 0, "m").link == "logistic"


def test_section_comes_once_after_the_last_irl_entry(tmp_path):
    irft = {"runs": [{"iterations": _its("reward_accuracy", [0.5, 1.0])},
                     {"iterations": _its("reward_accuracy", [1.0, 1.0])}]}
    rft = {"runs": [{"iterations": _its("heldout_reward_accuracy", [0.6, 0.8])}]}
    assert demo.section(_ctx(tmp_path, "sft,irft,rft", {"irft": irft})) is None  # rft still to run
    sec = demo.section(_ctx(tmp_path, "sft,irft,rft", {"irft": irft, "rft": rft}))
    assert sec is not None and len(sec.images) == 1
    assert sec.html.count("<tr><td>") == 4  # first seed: 2 IRFT + 2 RFT iterations
    means = demo._mean_over_seeds(_ctx(tmp_path, None, {"irft": irft}), "irft", "reward_accuracy")
    assert means == ([1, 2], [0.75, 1.0])
    assert demo.section(_ctx(tmp_path, "irft", {})) is None  # nothing ran
    spin = {"runs": [{"iterations": _its("reward_accuracy", [1.0])}]}
    assert demo.section(_ctx(tmp_path, "all", {"irft": irft})) is None  # --methods all: spin and rft still to run
    assert demo.section(_ctx(tmp_path, "all", {"irft": irft, "spin": spin, "rft": rft})) is not None
