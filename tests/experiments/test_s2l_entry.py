"""The S2L demo entries on the demo's own context, with fine-tuning + evaluation stubbed out.

The proxy is trained for real (DemoContext.train on the tiny model), once for every budget and seed.
"""

from pathlib import Path
from types import SimpleNamespace

import pytest

from sftlab.data import load_sft_data
from sftlab.experiments.entries.s2l import S2LDemoSettings, run_budgets, section
from sftlab.experiments.runner import ENTRIES, DemoConfig, DemoContext


class StubContext(DemoContext):
    def __init__(self, out: Path, lab):  # no test splits to load: evaluation is stubbed
        self.cfg, self.lab, self.out = DemoConfig(batch_size=8), lab, out
        self.quick, self.steps, self.splits, self.results, self.calls = False, 8, ["test_id", "test_ood"], {}, []

    def train_and_evaluate(self, name, seed, **kw):
        """'Accuracy' is the share of word problems in the subset; records what would have been trained."""
        records = load_sft_data(kw["data"]).records
        self.calls.append((name, seed, len(records), kw["max_steps"]))
        share = sum(r["src"] == "words" for r in records) / len(records)
        return {"seed": seed, "accuracy": {"test_id": share, "test_ood": share / 2}, "n": {"test_id": 1, "test_ood": 1},
                "train_seconds": 0.0}


def test_entries_registered():
    assert {"s2l", "random-subset"} <= set(ENTRIES)
    ctx = SimpleNamespace(selected=["random-subset", "s2l"], results={})  # drawn after the last of the two only
    assert ENTRIES["random-subset"].section(ctx) is None
    ctx.results["s2l"] = {"runs": [{"accuracy": {"test_id": 0.5, "test_ood": 0.25}, "by_budget": {}}]}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("sftlab.experiments.entries.s2l.section", lambda ctx: "drawn")
        assert ENTRIES["s2l"].section(ctx) == "drawn" and ENTRIES["random-subset"].section(ctx) is None


def test_budgets_seeds_and_one_shared_proxy(setup, tmp_path):
    _, data_path, model_dir, _ = setup
    ctx = StubContext(tmp_path, SimpleNamespace(model_dir=model_dir, data={"train": data_path}))
    settings = S2LDemoSettings(budgets=(0.1, 0.5), n_checkpoints=2, n_clusters=4, max_length=48)
    for seed in (0, 1):
        for method, entry in (("s2l", "s2l"), ("random", "random-subset")):
            run = run_budgets(ctx, method, seed, settings)
            ctx.results.setdefault(entry, {"runs": []})["runs"].append(run)
            assert set(run["by_budget"]) == {"10", "50"} and run["seed"] == seed

    # 10% of 40 = 4 records for 8 x 0.1 -> 1 step; 50% = 20 records for 4 steps (same epochs as the full run)
    assert sorted(ctx.calls) == sorted((f"{m}-{p}", s, n, k) for m in ("s2l", "random") for s in (0, 1)
                                       for p, n, k in ((10, 4, 1), (50, 20, 4)))
    # one proxy for everything, with its two evenly spaced checkpoints
    proxy = ctx.run_dir("s2l-proxy", 0) / "model"
    assert sorted(p.name for p in proxy.glob("checkpoint-*")) == ["checkpoint-4", "checkpoint-8"]
    assert not list(tmp_path.glob("runs/s2l-proxy/seed1"))
    again = run_budgets(ctx, "s2l", 0, settings)["by_budget"]  # the selections on disk are reused
    first = ctx.results["s2l"]["runs"][0]["by_budget"]
    for p in ("10", "50"):
        assert {k: v for k, v in again[p].items() if k != "select_seconds"} == \
            {k: v for k, v in first[p].items() if k != "select_seconds"}

    ctx.results["sft"] = {"runs": [{"seed": 0, "accuracy": {"test_id": 0.25, "test_ood": 0.125}}]}
    sec = section(ctx)
    assert "S2L" in sec.title and len(sec.images) == 1
    assert "S2L 10%" in sec.markdown and "random 50%" in sec.markdown and "full set" in sec.markdown


def test_the_demos_sft_run_serves_as_proxy_when_it_kept_checkpoints(setup, tmp_path):
    from transformers import LlamaForCausalLM

    from sftlab.experiments.entries.s2l import proxy_checkpoints

    _, data_path, model_dir, _ = setup
    ctx = StubContext(tmp_path, SimpleNamespace(model_dir=model_dir, data={"train": data_path}))
    sft = ctx.run_dir("sft", 0) / "model"
    for step in (4, 8):
        LlamaForCausalLM.from_pretrained(model_dir).save_pretrained(sft / f"checkpoint-{step}")
    assert proxy_checkpoints(ctx, S2LDemoSettings(n_checkpoints=2)) == str(sft)
    assert not ctx.run_dir("s2l-proxy", 0).exists()
