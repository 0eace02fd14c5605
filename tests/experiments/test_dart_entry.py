"""The lab mapper's training pairs, and the demo entries on a stub context (tiny models; evaluation stubbed)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

import sftlab.experiments.entries.dart as demo
import sftlab.methods.dart.lab_mapper as lab_mapper
from sftlab.experiments.runner import ENTRIES, DemoConfig, DemoContext
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
    question = first[0]["prompt"].split("\n")[0][len("Question: "):]
    rows = mapper_pairs(_lab_with(cfg, [question]), 40, 0.5, DEFAULT_MAPPER_TEMPLATE, seed=0)
    assert len(rows) == 40 and all(question not in r["prompt"] for r in rows)  # excluded questions are redrawn
    native = [r for r in rows if "####" in r["completion"]]
    assert 10 <= len(native) <= 30  # about half native, half another expert wording
    for r in rows:
        assert r["prompt"].endswith("Rewritten solution:") and "The answer is" in r["prompt"]
        assert r["completion"].startswith(" ") and verify(r["completion"], r["answer"])
    assert rows == mapper_pairs(_lab_with(cfg, [question]), 40, 0.5, DEFAULT_MAPPER_TEMPLATE, seed=0)  # seeded


class StubContext(DemoContext):
    def __init__(self, out: Path, lab):  # evaluation and fine-tuning are stubbed
        self.cfg, self.lab, self.out = DemoConfig(methods="dart,direct-rl"), lab, out
        self.selected = ["dart", "direct-rl"]
        self.quick, self.steps, self.splits, self.results, self.calls = True, 4, ["test_id", "test_ood"], {}, []

    def train_and_evaluate(self, name, seed, **kw):
        self.calls.append((name, seed, kw))
        return {"seed": seed, "accuracy": {"test_id": 0.5, "test_ood": 0.25}, "n": {"test_id": 1, "test_ood": 1}}

    def evaluate(self, name, seed, model_dir):
        self.calls.append((name, seed, {"model_dir": model_dir}))
        return {"accuracy": {"test_id": 0.1, "test_ood": 0.0}, "n": {"test_id": 1, "test_ood": 1}, "examples": []}


def test_entries_adapt_once_train_per_seed_and_draw_the_section(tmp_path, monkeypatch, data_file, target_dir,
                                                                mapper_dir):
    assert {"dart", "direct-rl"} <= set(ENTRIES)
    tiny = demo.DartDemoSettings(adapt_examples=6, rl_steps=2, group_size=4, prompts_per_step=2,
                                 rl_learning_rate=1e-3, n_samples=2, max_completion_length=12)
    monkeypatch.setattr(demo, "settings_for", lambda ctx: tiny)
    monkeypatch.setattr(demo, "direct_rl_settings_for", lambda ctx: demo.DirectRLDemoSettings(
        steps=2, group_size=4, prompts_per_step=2, learning_rate=1e-3, max_examples=6, max_completion_length=12))
    monkeypatch.setattr(lab_mapper, "ensure_lab_mapper", lambda lab, **kw: mapper_dir)
    ctx = StubContext(tmp_path, SimpleNamespace(model_dir=target_dir, data={"train": data_file}))

    runs = [demo.run_dart_entry(ctx, seed) for seed in (0, 1)]
    ctx.results["dart"] = {"runs": runs}
    adapted = tmp_path / "runs" / "dart" / "once" / "adapt" / "adapted.jsonl"
    assert [(c[0], c[1], c[2]["data"]) for c in ctx.calls] == [("dart", 0, str(adapted)), ("dart", 1, str(adapted))]
    assert runs[0]["adapt"]["manifest"]["n"] == 6 and runs[0]["adapt"]["rl"]["steps"] == 2
    assert ENTRIES["dart"].section(ctx) is None  # drawn after the last selected entry of this module

    ctx.calls.clear()
    run = demo.run_direct_rl_entry(ctx, 0)
    assert ctx.calls == [("direct-rl", 0, {"model_dir": str(tmp_path / "runs" / "direct-rl" / "seed0" / "rl" / "policy")})]
    assert run["rl"]["steps"] == 2 and run["seed"] == 0
    ctx.results["direct-rl"] = {"runs": [run]}

    sec = ENTRIES["direct-rl"].section(ctx)
    assert sec is not None and sec.title == "DART: adapted data"
    assert "kept rewrites whose answer verifies" in sec.markdown and "| DART | 6 |" in sec.markdown
    assert list(sec.images) == ["GRPO reward per step"]

    from sftlab.report import write_report

    metrics = {"splits": ctx.splits, "methods": {n: {"runs": ctx.results[n]["runs"]} for n in ("dart", "direct-rl")}}
    paths = write_report(tmp_path / "report", metrics, sections=[sec])
    page = (tmp_path / "report" / "report.html").read_text()
    assert "DART: adapted data" in page and any("grpo-reward" in str(p) for p in paths)


@pytest.mark.parametrize("verified, word", [(1.0, "meets"), (0.9, "BELOW")])
def test_section_flags_the_verification_target(verified, word):
    a = {"manifest": {"n": 10, "mean_lp_original": -2.0, "mean_lp_adapted": -1.0, "mean_lp_rewritten": -0.5,
                      "mean_lp_rewritten_originals": -2.1, "kept_verified_share": verified, "fallback_rate": 0.2,
                      "fallback_reasons": {"gate": 2}}, "rl": None, "native_share_kept": 0.75}
    cells = demo._cells(a)
    assert word in cells[3] and cells[1] == "-2.000 -> -1.000" and cells[4] == "20.0% (gate 2)"
    assert cells[5] == "75.0%" and cells[6] == "none"


def test_direct_rl_has_its_own_budget_sized_for_a_binary_reward(tmp_path, monkeypatch):
    """Direct RL does not inherit the mapper's GRPO budget (4 x 4 samples at lr 1e-4).

    The mapper's reward is real-valued; the verifier's is 0/1, so on the lab about two
    thirds of 4 x 4 samples tie in their group and carry no gradient, and the update is
    noise that Adam still turns into lr-sized steps (docs/dart.md). The entry must pass
    groups of at least 8, at least 64 samples per update, and a rate below the mapper's.
    """
    seen = {}

    def fake_run_dart(cfg):
        seen["cfg"] = cfg
        return {"model": str(tmp_path / "policy"), "rl": {"train_seconds": 0.0, "steps": cfg.rl_steps}}

    monkeypatch.setattr(demo, "run_dart", fake_run_dart)
    ctx = StubContext(tmp_path, SimpleNamespace(model_dir=tmp_path, data={"train": tmp_path / "train.jsonl"}))
    ctx.quick = False
    demo.run_direct_rl_entry(ctx, 0)
    cfg, mapper = seen["cfg"], demo.DartDemoSettings()
    assert cfg.method == "direct_rl" and cfg.group_size >= 8 and cfg.group_size * cfg.prompts_per_step >= 64
    assert cfg.rl_learning_rate < mapper.rl_learning_rate
    assert cfg.max_examples == 0  # the whole train split, not the mapper's 512-record subset
