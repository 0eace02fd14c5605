"""RL in its regime: the careless lab variant's data, its entries on the real DemoContext (stand-in lab, real GRPO
and evaluation with samples), and the scoreboard's avg@k effect."""

from __future__ import annotations

import pytest

import sftlab.experiments.entries.rl as rl
from sftlab.experiments.claims import NotMeasured, paired
from sftlab.experiments.registry import BY_NAME
from sftlab.lab import LabConfig, generate_splits


def test_the_careless_variant_changes_only_pretraining_solutions():
    default, careless = LabConfig.tiny(), LabConfig.tiny(careless_fraction=0.6)
    assert "careless_fraction" not in default.to_dict() and default.key() != careless.key()
    assert LabConfig(**careless.to_dict()) == careless and LabConfig(**default.to_dict()) == default
    a, b = generate_splits(default), generate_splits(careless)
    for split in ("train", "test_id", "test_ood"):
        assert a[split] == b[split]  # the same SFT data and test sets
    assert [r["question"] for r in a["pretrain"]] == [r["question"] for r in b["pretrain"]]
    native = [(x, y) for x, y in zip(a["pretrain"], b["pretrain"]) if y["style"] == "native"]
    skipped = [(x, y) for x, y in native if y.get("careless")]
    assert 0.55 < len(skipped) / len(native) < 0.65
    for x, y in skipped:  # the chain without its last equation, and the value before it stated
        equations = x["solution"].split("; ")[:-1]
        assert y["solution"] == "; ".join(equations[:-1] + [f"#### {equations[-2].split('=')[-1]}"])
        assert y["answer"] == x["answer"] and "careless" not in x
    assert all(x == y for x, y in native if not y.get("careless"))


def test_careless_fraction_is_checked():
    with pytest.raises(Exception, match="field 'careless_fraction': must be in \\[0, 1\\]"):
        LabConfig.tiny(careless_fraction=1.5)


def test_entries_run_grpo_from_the_variant_and_score_greedy_and_avg_at_k(demo_ctx, shrink_recipe, monkeypatch, lab):
    ctx = demo_ctx(quick=True)
    shrink_recipe(
        ctx,
        "configs/lab/rl_careless.yaml",
        {"max_examples": 8, "rl_steps": 2, "prompts_per_step": 2, "group_size": 4, "max_completion_length": 12},
    )
    monkeypatch.setattr(ctx.cfg, "max_new_tokens", 12)
    monkeypatch.setattr(rl, "careless_lab", lambda ctx, entry=None: lab)  # the stand-in lab as the variant
    base = rl.run_base_careless(ctx, BY_NAME["base-careless"], None)
    run = rl.run_grpo_careless(ctx, BY_NAME["grpo-careless"], 1)
    for r in (base, run):
        s = r["sampled"]
        assert s["k"] == rl.EVAL_K and set(s["avg"]) == set(s["pass"]) == {"test_id", "test_ood"}
        assert all(0 <= s["avg"][k] <= s["pass"][k] <= 1 for k in s["avg"])
    assert run["rl"]["steps"] == 2 and run["seed"] == 1
    policy = ctx.run_dir("grpo-careless", 1) / "rl" / "policy"
    assert (policy / "model.safetensors").is_file()
    assert (ctx.run_dir("grpo-careless", 1) / "eval" / f"k{rl.EVAL_K}" / "metrics.json").is_file()
    ctx.results.update({"base-careless": {"runs": [base]}, "grpo-careless": {"runs": [run]}})
    section = rl.section(ctx, [BY_NAME["base-careless"], BY_NAME["grpo-careless"]])
    assert [row[0] for row in section.tables[0].rows] == ["base model (careless lab)", "GRPO (careless lab)"]
    assert f"in-domain avg@{rl.EVAL_K}" in section.tables[0].columns


def test_nft_and_rejection_sampling_start_from_the_variant(demo_ctx, shrink_recipe, monkeypatch, lab):
    ctx = demo_ctx(quick=True)
    small = {"max_steps": 2, "max_prompts": 8, "prompts_per_step": 2, "num_generations": 4}
    shrink_recipe(
        ctx, "configs/lab/nft_careless.yaml", {**small, "per_device_train_batch_size": 8, "max_completion_length": 12}
    )
    monkeypatch.setattr(ctx.cfg, "max_new_tokens", 12)
    monkeypatch.setattr(rl, "careless_lab", lambda ctx, entry=None: lab)
    seen = []
    real = __import__("sftlab.experiments.entries.nft", fromlist=["nft_config"]).nft_config

    def spy(*args, **kw):
        cfg = real(*args, **kw)
        seen.append(cfg)
        return cfg

    monkeypatch.setattr("sftlab.experiments.entries.nft.nft_config", spy)
    runs = [rl.run_nft_careless(ctx, BY_NAME[name], 0) for name in ("nft-careless", "rs-sft-careless")]
    assert [c.model for c in seen] == [str(lab.model_dir)] * 2 and [c.data for c in seen] == [
        str(lab.data["train"])
    ] * 2
    assert [c.negative_weight for c in seen] == [1.0, 0.0] and seen[1].prompt_weighting == "none"
    assert all(r["sampled"]["k"] == rl.EVAL_K and r["nft"]["step"] for r in runs)


def test_the_avg_at_k_effect_pairs_samples_not_greedy():
    def r(seed, greedy, avg=None):
        out = {"seed": seed, "accuracy": {"test_id": greedy}}
        if avg is not None:
            out["sampled"] = {"k": 4, "avg": {"test_id": avg}, "pass": {"test_id": 1.0}}
        return out

    runs = {"b": [r(0, 0.10, 0.30)], "m": [r(0, 0.50, 0.45), r(1, 0.40, 0.35)]}
    assert paired("m", "b", "test_id", baseline_once=True, metric="avg")(runs) == pytest.approx({0: 0.15, 1: 0.05})
    assert paired("m", "b", "test_id", baseline_once=True)(runs) == pytest.approx({0: 0.40, 1: 0.30})
    with pytest.raises(NotMeasured, match="without samples"):
        paired("m", "b", "test_id", baseline_once=True, metric="avg")({"b": runs["b"], "m": [r(0, 0.5)]})
