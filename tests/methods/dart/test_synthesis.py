"""Synthesis: the selection rules, the output's schema and provenance, and resuming without lost or duplicated rows."""

from __future__ import annotations

import json

import pytest

import sftlab.methods.dart.synthesis as synthesis
from sftlab.data import load_sft_data
from sftlab.errors import SftlabError
from sftlab.io import read_jsonl
from sftlab.methods.dart.config import AdaptConfig
from sftlab.methods.dart.likelihood import TargetScorer
from sftlab.methods.dart.prompt import DEFAULT_MAPPER_TEMPLATE, mapper_prompt, scaffold_for
from sftlab.methods.dart.rewards import PENALTIES
from sftlab.methods.dart.synthesis import CandidateSource, summarize, synthesize
from sftlab.models import load_model_and_tokenizer

SCAFFOLD = scaffold_for(DEFAULT_MAPPER_TEMPLATE)


class Interrupted(Exception):
    """Stands for a crash or a kill in the middle of a shard."""


def terms(total, correct=1.0, alignment=0.5, lp=-1.0, **penalties):
    return {
        "total": total,
        "correct": correct,
        "alignment": alignment,
        "lp_rewrite": lp,
        **{p: penalties.get(p, 0.0) for p in PENALTIES},
    }


def test_reward_rule_keeps_the_best_and_falls_back_with_a_reason():
    cfg = AdaptConfig(max_penalty=0.5, min_alignment=0.0)
    good, better = ("m", "a", terms(0.2)), ("m", "b", terms(0.9))
    assert synthesis._choose([good, better], cfg, "reward")[1:] == ("b", better[2], None)
    assert synthesis._choose([("m", "w", terms(-8.0, correct=0.0))], cfg, "reward")[3] == "gate"
    assert synthesis._choose([("m", "p", terms(0.1, coverage=0.6))], cfg, "reward")[3] == "penalty"
    assert synthesis._choose([("m", "q", terms(-0.1, alignment=-0.1))], cfg, "reward")[3] == "alignment"
    assert synthesis._choose([], cfg, "reward")[3] == "no_candidate"


def test_likelihood_and_correct_rules():
    cfg = AdaptConfig()
    wrong_but_likely = ("t", "x", terms(-8.0, correct=0.0, lp=-0.1))
    a, b = ("m", "a", terms(0.0, lp=-2.0)), ("t", "b", terms(0.0, lp=-0.5))
    assert synthesis._choose([wrong_but_likely, a, b], cfg, "likelihood")[1] == "b"  # GRAPE: most likely correct one
    assert synthesis._choose([wrong_but_likely, a, b], cfg, "correct")[1] == "a"  # SDFT: first correct one
    assert synthesis._choose([wrong_but_likely], cfg, "likelihood")[3] == "gate"


def _setup(target_dir, mapper_dir, shard_size=4):
    target, tok = load_model_and_tokenizer(str(target_dir))
    mapper, mtok = load_model_and_tokenizer(str(mapper_dir))
    cfg = AdaptConfig(n_samples=2, max_completion_length=12, shard_size=shard_size, progress=False)
    source = CandidateSource("mapper", mapper, mtok, n=2, prompt=lambda r: mapper_prompt(r["question"], r["solution"]))
    return cfg, source, TargetScorer(target, tok)


def test_output_schema_provenance_and_manifest(tmp_path, records, make_record, target_dir, mapper_dir):
    # the tiny mapper always ends with '#### 7', so problems whose answer is 11 fall back
    records = records[:6] + [make_record(100 + i, 5 + i, 6 - i) for i in range(2)]
    cfg, source, scorer = _setup(target_dir, mapper_dir)
    manifest = synthesize(records, [source], scorer, cfg, tmp_path, scaffold=SCAFFOLD, progress=False)
    rows = read_jsonl(tmp_path / "adapted.jsonl")
    assert [r["id"] for r in rows] == [r["id"] for r in records]
    for row, rec in zip(rows, records):
        d = row["dart"]
        assert {k: row[k] for k in ("question", "answer", "family")} == {
            k: rec[k] for k in ("question", "answer", "family")
        }
        assert "_row" not in row and d["original"] == rec["solution"] and d["candidates"] == 2
        assert row["solution"] == (rec["solution"] if d["fallback"] else d["rewrite"])
        assert d["fallback"] == (d["reason"] is not None)
        assert {"alignment", "correct", "total", "lp_rewrite", "lp_original", *PENALTIES} <= set(d["reward"])
    n_fallback = sum(r["dart"]["fallback"] for r in rows)
    assert 2 <= n_fallback < len(rows), "the tiny mapper should get some rewrites right and some wrong"
    assert all(r["dart"]["reason"] == "gate" for r in rows[-2:])
    assert manifest["n"] == len(records) and manifest["n_fallback"] == n_fallback
    assert manifest["fallback_rate"] == pytest.approx(n_fallback / len(rows))
    assert manifest["kept_verified_share"] == 1.0  # kept rewrites pass the gate, checked afresh
    assert json.loads((tmp_path / "manifest.json").read_text())["fingerprint"] == manifest["fingerprint"]
    data = load_sft_data(str(tmp_path / "adapted.jsonl"))  # the adapted set is ordinary SFT data
    assert data.format == "reasoning" and len(data.records) == len(records)


def test_summary_recomputes_verification():
    rows = [{"solution": "#### 7", "answer": "7", "dart": {"fallback": False, "reason": None, "lp_solution": -1.0,
                                                          "reward": {"lp_original": -2.0}}},
            {"solution": "#### 8", "answer": "7", "dart": {"fallback": False, "reason": None, "lp_solution": -1.0,
                                                          "reward": {"lp_original": -2.0}}},
            {"solution": "orig", "answer": "7", "dart": {"fallback": True, "reason": "gate", "lp_solution": -2.0,
                                                        "reward": {"lp_original": -2.0}}}]  # fmt: skip
    s = summarize(rows)
    assert s["kept_verified_share"] == 0.5 and s["fallback_rate"] == pytest.approx(1 / 3)
    assert s["mean_lp_adapted"] == pytest.approx(-4 / 3) and s["mean_lp_original"] == -2.0
    assert s["fallback_reasons"] == {"gate": 1}


def test_interrupted_synthesis_resumes_without_lost_or_duplicated_rows(
    tmp_path, monkeypatch, records, target_dir, mapper_dir
):
    cfg, source, scorer = _setup(target_dir, mapper_dir, shard_size=4)  # 12 records: 3 shards
    synthesize(records, [source], scorer, cfg, tmp_path / "whole", scaffold=SCAFFOLD, progress=False)

    real, calls, crash = synthesis._adapt_shard, [], [True]

    def crash_on_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2 and crash[0]:
            raise Interrupted
        return real(*args, **kwargs)

    monkeypatch.setattr(synthesis, "_adapt_shard", crash_on_second)
    with pytest.raises(Interrupted):
        synthesize(records, [source], scorer, cfg, tmp_path / "resumed", scaffold=SCAFFOLD, progress=False)
    shards = sorted(p.name for p in (tmp_path / "resumed" / "shards").glob("shard-*"))
    assert shards == ["shard-00000.jsonl"]  # the crashed shard left nothing behind
    assert not (tmp_path / "resumed" / "adapted.jsonl").exists()

    calls.clear()
    crash[0] = False
    synthesize(records, [source], scorer, cfg, tmp_path / "resumed", scaffold=SCAFFOLD, progress=False)
    assert len(calls) == 2  # shard 0 was not recomputed
    resumed = read_jsonl(tmp_path / "resumed" / "adapted.jsonl")
    assert [r["id"] for r in resumed] == [r["id"] for r in records]  # none lost, none duplicated, in order
    assert resumed == read_jsonl(tmp_path / "whole" / "adapted.jsonl")  # what an uninterrupted run writes


def test_shards_from_other_settings_are_refused(tmp_path, records, target_dir, mapper_dir):
    cfg, source, scorer = _setup(target_dir, mapper_dir, shard_size=12)
    synthesize(records, [source], scorer, cfg, tmp_path, scaffold=SCAFFOLD, progress=False)
    cfg.max_penalty = 0.9
    with pytest.raises(SftlabError, match="other data, models or settings"):
        synthesize(records, [source], scorer, cfg, tmp_path, scaffold=SCAFFOLD, progress=False)


def test_manifest_rates_survive_a_resume(tmp_path, records, target_dir, mapper_dir):
    cfg, source, scorer = _setup(target_dir, mapper_dir, shard_size=6)
    first = synthesize(records, [source], scorer, cfg, tmp_path, scaffold=SCAFFOLD, progress=False)
    again = synthesize(
        records, [source], scorer, cfg, tmp_path, scaffold=SCAFFOLD, progress=False
    )  # all shards on disk
    assert first["candidates_generated"] == again["candidates_generated"] == 2 * len(records)
    assert again["synthesis_seconds"] == first["synthesis_seconds"] > 0
