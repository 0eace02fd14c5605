"""The S2L entries on the real DemoContext (stand-in lab), fine-tuning + evaluation of the subsets stubbed out.

The proxy is trained for real (DemoContext.train on the tiny model), once for every budget and seed.
"""

from __future__ import annotations

import statistics

from sftlab.data import load_sft_data
from sftlab.experiments.entries.s2l import proxy_checkpoints, run_budgets, section
from sftlab.experiments.registry import BY_NAME

S2L = [BY_NAME["s2l"], BY_NAME["random-subset"]]


def _ctx(demo_ctx, shrink_recipe, monkeypatch):
    ctx = demo_ctx(steps=8, batch_size=8)
    shrink_recipe(
        ctx, "configs/lab/s2l.yaml", {"n_checkpoints": 2, "n_clusters": 4, "max_length": 96}, {"budgets": [0.25, 0.5]}
    )
    calls = []

    def train_and_evaluate(name, seed, **kw):
        """'Accuracy' is the share of 'shop' problems in the subset; records what would have been trained."""
        records = load_sft_data(kw["data"]).records
        calls.append((name, seed, len(records), kw["max_steps"]))
        share = sum(r["family"] == "shop" for r in records) / len(records)
        return {
            "seed": seed,
            "accuracy": {"test_id": share, "test_ood": share / 2},
            "n": {"test_id": 1, "test_ood": 1},
            "train_seconds": 0.0,
        }

    monkeypatch.setattr(ctx, "train_and_evaluate", train_and_evaluate)
    return ctx, calls


def test_budgets_seeds_one_shared_proxy_and_the_sections_numbers(demo_ctx, shrink_recipe, monkeypatch):
    ctx, calls = _ctx(demo_ctx, shrink_recipe, monkeypatch)
    for seed in (0, 1):
        for entry in S2L:
            run = run_budgets(ctx, entry, seed)
            ctx.results.setdefault(entry.name, {"runs": []})["runs"].append(run)
            assert set(run["by_budget"]) == {"25", "50"} and run["seed"] == seed

    # 25% of 24 = 6 records for 8 x 0.25 -> 2 steps; 50% = 12 records for 4 steps (same epochs as the full run)
    assert sorted(calls) == sorted(
        (f"{m}-{p}", s, n, k) for m in ("s2l", "random") for s in (0, 1) for p, n, k in ((25, 6, 2), (50, 12, 4))
    )
    proxy = ctx.run_dir("s2l-proxy", 0) / "model"  # one proxy for everything, two evenly spaced checkpoints
    assert sorted(p.name for p in proxy.glob("checkpoint-*")) == ["checkpoint-4", "checkpoint-8"]
    assert not ctx.run_dir("s2l-proxy", 1).exists()

    ctx.results["sft"] = {"runs": [{"seed": 0, "accuracy": {"test_id": 0.25, "test_ood": 0.125}}]}
    sec = section(ctx, S2L)
    expected = []
    for p in ("25", "50"):
        for entry, label in zip(S2L, ("S2L", "random")):
            cells = [f"{label} {p}%"]
            for split in ctx.splits:
                acc = [r["by_budget"][p]["accuracy"][split] for r in ctx.results[entry.name]["runs"]]
                cells.append(f"{100 * statistics.mean(acc):.1f} ± {100 * statistics.stdev(acc):.1f}")
            expected.append(cells)
    assert sec.tables[0].rows == expected + [["full set (SFT)", "25.0 ± 0.0", "12.5 ± 0.0"]]
    assert sec.tables[0].columns == ["subset", "in-domain", "out-of-domain"]
    assert "2 evenly spaced checkpoints" in sec.paragraphs[0] and "(8 steps x budget)" in sec.paragraphs[0]


def test_the_demos_sft_run_serves_as_proxy_when_it_kept_checkpoints(demo_ctx, lab):
    from transformers import LlamaForCausalLM

    ctx = demo_ctx()
    sft = ctx.run_dir("sft", 0) / "model"
    for step in (4, 8):
        LlamaForCausalLM.from_pretrained(lab.model_dir).save_pretrained(sft / f"checkpoint-{step}")
    assert proxy_checkpoints(ctx, 2) == str(sft)
    assert not ctx.run_dir("s2l-proxy", 0).exists()
