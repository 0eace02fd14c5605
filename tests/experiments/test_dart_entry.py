"""The lab mapper's training pairs, and the DART entries on the real DemoContext (stand-in lab; fine-tuning and
evaluation stubbed)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

import sftlab.experiments.entries.dart as demo
import sftlab.methods.dart.lab_mapper as lab_mapper
from sftlab.experiments.registry import BY_NAME
from sftlab.lab import LabConfig
from sftlab.methods.dart.lab_mapper import mapper_pairs
from sftlab.methods.dart.prompt import DEFAULT_MAPPER_TEMPLATE
from sftlab.verify import verify


def _lab_with(cfg, questions):
    """A lab handle whose one split holds ``questions`` (what mapper_pairs must never draw)."""
    return SimpleNamespace(config=cfg, data={"train": None}, records=lambda split: [{"question": q} for q in questions])


def test_mapper_pairs_restate_fresh_problems_in_both_styles():
    cfg = LabConfig.tiny()
    first = mapper_pairs(_lab_with(cfg, []), 40, 0.5, DEFAULT_MAPPER_TEMPLATE, seed=0)
    question = first[0]["prompt"].split("\n")[0][len("Question: ") :]
    rows = mapper_pairs(_lab_with(cfg, [question]), 40, 0.5, DEFAULT_MAPPER_TEMPLATE, seed=0)
    assert len(rows) == 40 and all(question not in r["prompt"] for r in rows)  # excluded questions are redrawn
    native = [r for r in rows if "####" in r["completion"]]
    assert 10 <= len(native) <= 30  # about half native, half another expert wording
    for r in rows:
        assert r["prompt"].endswith("Rewritten solution:") and "The answer is" in r["prompt"]
        assert r["completion"].startswith(" ") and verify(r["completion"], r["answer"])
    assert rows == mapper_pairs(_lab_with(cfg, [question]), 40, 0.5, DEFAULT_MAPPER_TEMPLATE, seed=0)  # seeded


def test_entries_adapt_once_train_per_seed_and_draw_the_section(demo_ctx, shrink_recipe, monkeypatch, lab, tmp_path):
    ctx = demo_ctx(quick=True)
    shrink_recipe(
        ctx,
        "configs/lab/dart.yaml",
        {
            "max_examples": 6,
            "rl_steps": 2,
            "group_size": 4,
            "prompts_per_step": 2,
            "rl_learning_rate": 1e-3,
            "n_samples": 2,
            "max_completion_length": 12,
            "generation_batch_size": 8,
            "scoring_batch_size": 8,
        },
    )
    monkeypatch.setattr(lab_mapper, "ensure_lab_mapper", lambda lab, **kw: lab.model_dir)  # the tiny model as mapper
    calls = []

    def train_and_evaluate(name, seed, **kw):  # fine-tuning and evaluation are stubbed
        calls.append((name, seed, kw))
        return {"seed": seed, "accuracy": {"test_id": 0.5, "test_ood": 0.25}, "n": {"test_id": 1, "test_ood": 1}}

    def evaluate(name, seed, model_dir):
        calls.append((name, seed, {"model_dir": model_dir}))
        return {"accuracy": {"test_id": 0.1, "test_ood": 0.0}, "n": {"test_id": 1, "test_ood": 1}, "examples": []}

    monkeypatch.setattr(ctx, "train_and_evaluate", train_and_evaluate)
    monkeypatch.setattr(ctx, "evaluate", evaluate)
    dart_entry, direct = BY_NAME["dart"], BY_NAME["direct-rl"]

    runs = [demo.run_adapted_entry(ctx, dart_entry, seed) for seed in (0, 1)]
    ctx.results["dart"] = {"runs": runs}
    adapted = ctx.run_dir("dart", None) / "adapt" / "adapted.jsonl"
    assert [(c[0], c[1], c[2]["data"]) for c in calls] == [("dart", 0, str(adapted)), ("dart", 1, str(adapted))]
    assert list(ctx.adaptations) == ["dart"]  # adapted once, shared through the context's declared cache
    manifest = runs[0]["adapt"]["manifest"]
    assert manifest["n"] == 6 and runs[0]["adapt"]["rl"]["steps"] == 2 and runs[1]["adapt"] == runs[0]["adapt"]

    calls.clear()
    run = demo.run_direct_rl_entry(ctx, direct, 0)
    assert calls == [("direct-rl", 0, {"model_dir": str(ctx.run_dir("direct-rl", 0) / "rl" / "policy")})]
    assert run["rl"]["steps"] == 2 and run["seed"] == 0
    ctx.results["direct-rl"] = {"runs": [run]}

    sec = demo.section(ctx, [dart_entry, direct])
    assert sec.title == "DART: adapted data" and sec.tables[0].columns == demo.HEAD
    (row,) = sec.tables[0].rows
    assert row[:3] == ["DART", "6", f"{manifest['mean_lp_original']:.3f} -> {manifest['mean_lp_adapted']:.3f}"]
    assert (
        row[-1]
        == f"2 steps, {runs[0]['adapt']['rl']['train_seconds']:.0f} s, {runs[0]['adapt']['rl']['rewrites']} rewrites"
    )
    assert list(sec.images) == ["GRPO reward per step"]
    (fig,) = sec.images.values()
    curves = {line.get_label(): list(line.get_ydata()) for line in fig.axes[0].lines}
    assert curves == {
        "DART mapper": runs[0]["adapt"]["rl"]["curve"]["reward"],
        "direct RL (target)": run["rl"]["curve"]["reward"],
    }

    from sftlab.report import write_report

    metrics = {"splits": ctx.splits, "methods": {n: {"runs": ctx.results[n]["runs"]} for n in ("dart", "direct-rl")}}
    paths = write_report(tmp_path / "report", metrics, sections=[sec])
    page = (tmp_path / "report" / "report.html").read_text()
    assert "DART: adapted data" in page and any("grpo-reward" in str(p) for p in paths)
    assert "| DART | 6 |" in paths["summary.md"].read_text()


@pytest.mark.parametrize("verified, word", [(1.0, "meets"), (0.9, "BELOW")])
def test_section_flags_the_verification_target(verified, word):
    a = {
        "manifest": {
            "n": 10,
            "mean_lp_original": -2.0,
            "mean_lp_adapted": -1.0,
            "mean_lp_rewritten": -0.5,
            "mean_lp_rewritten_originals": -2.1,
            "kept_verified_share": verified,
            "fallback_rate": 0.2,
            "fallback_reasons": {"gate": 2},
        },
        "rl": None,
        "native_share_kept": 0.75,
    }
    cells = demo._cells(a)
    assert word in cells[3] and cells[1] == "-2.000 -> -1.000" and cells[4] == "20.0% (gate 2)"
    assert cells[5] == "75.0%" and cells[6] == "none"
