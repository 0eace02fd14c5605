"""The baselines run in DART's harness on tiny models: SDFT-style, GRAPE-style and direct RL."""

from __future__ import annotations

import json

from sftlab.io import read_jsonl
from sftlab.methods.dart import AdaptConfig, DartConfig, run_adapt, run_dart


def _cfg(cls, tmp_path, data_file, target_dir, mapper_dir, **kw):
    values = dict(model=str(target_dir), mapper=str(mapper_dir), data=str(data_file), output_dir=str(tmp_path / "out"),
                  rl_steps=1, group_size=4, prompts_per_step=2, rl_learning_rate=1e-3, max_completion_length=12,
                  n_samples=2, shard_size=6, progress=False)  # fmt: skip
    values.update(kw)
    return cls(**values)


def test_sdft_rewrites_with_the_target_and_keeps_correct_ones(tmp_path, data_file, records, target_dir, mapper_dir):
    s = run_adapt(_cfg(AdaptConfig, tmp_path, data_file, target_dir, mapper_dir, method="sdft"))
    assert s["rl"] is None and s["mapper"] is None
    rows = read_jsonl(s["data"])
    assert len(rows) == len(records) and {r["dart"]["source"] for r in rows} == {"target-rewrite"}
    assert all(r["dart"]["select"] == "correct" and r["dart"]["candidates"] == 2 for r in rows)
    assert all(r["dart"]["reason"] in (None, "gate") for r in rows)
    assert s["manifest"]["method"] == "sdft" and not (tmp_path / "out" / "mapper").exists()


def test_grape_picks_the_most_likely_correct_candidate(tmp_path, data_file, records, target_dir, mapper_dir):
    s = run_adapt(_cfg(AdaptConfig, tmp_path, data_file, target_dir, mapper_dir, method="grape"))
    rows = read_jsonl(s["data"])
    assert s["manifest"]["sources"] == ["mapper", "target"]
    assert all(r["dart"]["candidates"] == 4 for r in rows)  # n_samples from each source
    kept = [r for r in rows if not r["dart"]["fallback"]]
    assert kept, "the tiny mapper gets most of these right"
    assert all(r["dart"]["reward"]["correct"] == 1.0 for r in kept)


def test_direct_rl_trains_the_target_for_rl_steps(tmp_path, data_file, target_dir, mapper_dir):
    out = run_dart(_cfg(DartConfig, tmp_path, data_file, target_dir, mapper_dir, method="direct_rl", rl_steps=2))
    assert out["method"] == "direct_rl" and out["rl"]["steps"] == 2
    summary = json.loads((tmp_path / "out" / "policy" / "rl_summary.json").read_text())
    assert "rewards/correct/mean" in summary["log_history"][0]
    assert (tmp_path / "out" / "policy" / "config.json").is_file()
