"""The NFT entry on the real DemoContext: opt-in, its recipe's config, a section with the run's curves."""

from __future__ import annotations

import pytest

import sftlab.experiments.entries.nft as demo
from sftlab.experiments.registry import BY_NAME

NFT = BY_NAME["nft"]


def test_entry_runs_in_the_plain_demo_not_in_quick():
    assert NFT.default and not NFT.quick and NFT.section is demo.section and NFT.recipe == "configs/lab/nft.yaml"


@pytest.mark.parametrize("full", [False, True])
def test_entry_configs_are_valid(demo_ctx, full):
    ctx = demo_ctx(full=full)
    cfg = demo.nft_config(ctx, NFT, 0)  # an NFTTrainConfig checks itself when built
    assert cfg.model == str(ctx.lab.model_dir) and cfg.data == str(ctx.lab.data["train"])
    assert cfg.output_dir == str(ctx.run_dir("nft", 0) / "nft")
    assert cfg.max_prompts >= cfg.prompts_per_step * cfg.updates_per_generation  # one generation batch fits
    assert (cfg.max_steps, cfg.max_prompts) == ((30, 128) if full else (8, 32))


def test_section(demo_ctx):
    ctx = demo_ctx(quick=True)
    assert demo.section(ctx, [NFT]) is None
    ctx.results["nft"] = {
        "runs": [{"nft": {"step": [1, 2, 3], "reward": [0.4, 0.5, 0.55], "kept_groups": [0.75, None, 0.5]}}]
    }
    sec = demo.section(ctx, [NFT])
    assert sec.paragraphs[0].startswith("NFT from the lab model: 8 steps of 4 questions x 4 sampled answers, 2 steps")
    (fig,) = sec.images.values()
    reward, kept = fig.axes
    assert list(reward.lines[0].get_ydata()) == [0.4, 0.5, 0.55]
    assert list(kept.lines[0].get_xdata()) == [1, 3] and list(kept.lines[0].get_ydata()) == [75.0, 50.0]


def test_a_finished_run_is_reused_and_fresh_trains_again(demo_ctx, monkeypatch):
    """A second demo on the same output folder reads the run's train_summary.json instead of training again
    (as the SFT runs are cached); --fresh trains again."""
    import json

    calls = []
    for fresh in (False, True):
        ctx = demo_ctx(quick=True, fresh=fresh)
        out = ctx.run_dir("nft", 0) / "nft"
        out.mkdir(parents=True, exist_ok=True)
        summary = {"output_dir": str(out), "log_history": [{"step": 1, "reward": 0.5}], "train_seconds": 1.0}
        (out / "train_summary.json").write_text(json.dumps(summary))
        monkeypatch.setattr(ctx, "run_method", lambda name, seed, fn, cfg, f=fresh, s=summary: calls.append(f) or s)
        monkeypatch.setattr(ctx, "evaluate", lambda name, seed, model, **kw: {"accuracy": {"test_id": 0.5}})
        run = demo.run_nft_entry(ctx, NFT, 0)
        assert run["nft"]["reward"] == [0.5] and run["train_seconds"] == 1.0
    assert calls == [True]  # only the --fresh run trained
