"""The NFT demo entry: registered as opt-in, valid configs at both sizes, a report section once it has run."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

import sftlab.experiments.entries.nft as demo
from sftlab.experiments.runner import ENTRIES


def _ctx(tmp_path, results, quick=True):
    lab = SimpleNamespace(data={"train": "train.jsonl"}, model_dir=Path("lab-model"))
    return SimpleNamespace(quick=quick, cfg=SimpleNamespace(methods="nft", fresh=False), results=results, lab=lab,
                           notes=[], run_dir=lambda name, seed: tmp_path / name / f"seed{seed}")  # fmt: skip


def test_entry_is_registered_opt_in():
    assert ENTRIES["nft"].default is False and ENTRIES["nft"].section is demo.section


@pytest.mark.parametrize("quick", [True, False])
def test_entry_configs_are_valid(tmp_path, quick):
    cfg = demo.nft_config(_ctx(tmp_path, {}, quick=quick), 0)  # an NFTTrainConfig checks itself when built
    assert cfg.model == "lab-model" and cfg.data == "train.jsonl" and cfg.output_dir.endswith("nft")
    assert cfg.max_prompts >= cfg.prompts_per_step * cfg.updates_per_generation  # one generation batch fits
    assert cfg.updates_per_generation > 1  # some steps are off-policy, as in the paper
    if quick:
        assert cfg.max_steps <= 8 and cfg.max_prompts <= 32


def test_section(tmp_path):
    assert demo.section(_ctx(tmp_path, {})) is None
    run = {"nft": {"step": [1, 2, 3], "reward": [0.4, 0.5, 0.55], "kept_groups": [0.75, None, 0.5]}}
    sec = demo.section(_ctx(tmp_path, {"nft": {"runs": [run]}}))
    assert sec is not None and len(sec.images) == 1 and "NFT" in sec.title
