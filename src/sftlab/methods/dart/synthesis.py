"""Synthesis: one adapted solution per example, chosen among sampled candidates, with fallback to the original.

For each example, every candidate source (DART: the RL-trained mapper) samples
``n`` solutions; the frozen target scores them and the original
(:mod:`sftlab.methods.dart.rewards`), and a selection rule picks one:

* ``reward`` (DART): the highest total reward; it falls back to the original
  when it fails the correctness gate, has a penalty above ``max_penalty``, or
  an alignment below ``min_alignment``;
* ``likelihood`` (GRAPE-style, arXiv 2502.04194): the correct candidate with
  the highest target log-likelihood; the original when none is correct;
* ``correct`` (SDFT-style, arXiv 2402.13669): the first correct candidate; the
  original when none is.

On disk (``out_dir``)::

    shards/meta.json               what the shards were made from (a resumed run must match)
    shards/timing.json             seconds and candidates of each shard (for the manifest's rates)
    shards/shard-00000.jsonl ...   shard k = examples [k*S, (k+1)*S), each written atomically
    adapted.jsonl                  all rows in input order, the input's fields + "dart" provenance
    manifest.json                  counts, fallback rate, mean target log-likelihoods, settings

A shard on disk is complete by construction and is never recomputed, so an
interrupted synthesis resumes with no lost and no duplicated rows; each shard
samples with its own seed, so a resumed run writes what an uninterrupted one would.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from sftlab.errors import SftlabError
from sftlab.io import atomic_write_json, atomic_write_jsonl, read_jsonl
from sftlab.verify import verify

from .prompt import clean_rewrite
from .rewards import PENALTIES, score_rewrites

SELECTIONS = ("reward", "likelihood", "correct")


@dataclass
class CandidateSource:
    """A model that proposes solutions: ``prompt(record) -> text`` is continued ``n`` times."""

    name: str
    model: object
    tokenizer: object
    prompt: Callable[[dict], str]
    n: int


def synthesize(
    records: list[dict],
    sources: list[CandidateSource],
    scorer,
    cfg,
    out_dir,
    *,
    select: str = "reward",
    scaffold: list[str],
    progress: bool = True,
    info: dict | None = None,
) -> dict:
    """Adapt every record (resuming from shards on disk); write adapted.jsonl and manifest.json; return the manifest.

    ``cfg`` is an :class:`~sftlab.methods.dart.config.AdaptConfig` (reward weights,
    thresholds, sampling, shard size, seed). ``info`` is copied into the manifest.
    """
    if select not in SELECTIONS:
        raise SftlabError(f"unknown selection rule {select!r} (choose from {', '.join(SELECTIONS)})")
    out_dir = Path(out_dir)
    shard_dir = out_dir / "shards"
    meta = _meta(records, sources, cfg, select, scaffold)
    _check_meta(shard_dir / "meta.json", meta)
    atomic_write_json(shard_dir / "meta.json", meta)
    size = cfg.shard_size
    n_shards = -(-len(records) // size)
    timing_file = shard_dir / "timing.json"  # seconds and candidates per shard, kept across resumes
    timing = json.loads(timing_file.read_text(encoding="utf-8")) if timing_file.is_file() else {}
    for k in tqdm(range(n_shards), desc="synthesizing", unit="shard", disable=not progress):
        path = shard_dir / f"shard-{k:05d}.jsonl"
        if path.is_file():
            continue
        t0 = time.time()
        shard = records[k * size : (k + 1) * size]
        rows = _adapt_shard(shard, sources, scorer, cfg, select, scaffold, seed=cfg.seed * 1_000_003 + k)
        atomic_write_jsonl(path, rows)
        timing[str(k)] = {"seconds": time.time() - t0, "candidates": sum(r["dart"]["candidates"] for r in rows)}
        atomic_write_json(timing_file, timing)
    seconds = sum(t["seconds"] for t in timing.values())
    generated = sum(t["candidates"] for t in timing.values())
    rows = [row for k in range(n_shards) for row in read_jsonl(shard_dir / f"shard-{k:05d}.jsonl")]
    if len(rows) != len(records):  # shards from another run cannot get here (meta check), so this is a bug
        raise RuntimeError(f"synthesis: {len(rows)} rows in the shards for {len(records)} records")
    atomic_write_jsonl(out_dir / "adapted.jsonl", rows)
    manifest = {**summarize(rows, cfg.verify_mode), "select": select, "sources": [s.name for s in sources],
                "n_shards": n_shards, "synthesis_seconds": seconds, "candidates_generated": generated,
                "rewrites_per_second": generated / seconds if generated and seconds > 0 else None,
                "fingerprint": meta["fingerprint"], **(info or {})}  # fmt: skip
    atomic_write_json(out_dir / "manifest.json", manifest)
    return manifest


def summarize(rows: list[dict], verify_mode: str = "math") -> dict:
    """Counts and means over adapted rows (recomputed from the rows, not trusted from the flags).

    ``kept_verified_share``: of the rows that kept a rewrite, the share whose
    solution's final answer verifies against the answer, checked afresh.
    """
    kept = [r for r in rows if not r["dart"]["fallback"]]
    reasons: dict[str, int] = {}
    for r in rows:
        if r["dart"]["fallback"]:
            reasons[r["dart"]["reason"]] = reasons.get(r["dart"]["reason"], 0) + 1
    lp_orig = [r["dart"]["reward"]["lp_original"] for r in rows]
    lp_adapted = [r["dart"]["lp_solution"] for r in rows]
    verified = [verify(r["solution"], str(r.get("answer")), mode=verify_mode, strict=True) for r in kept]  # as the gate
    return {
        "n": len(rows), "n_rewritten": len(kept), "n_fallback": len(rows) - len(kept),
        "fallback_rate": (len(rows) - len(kept)) / len(rows) if rows else None, "fallback_reasons": reasons,
        "mean_lp_original": _mean(lp_orig), "mean_lp_adapted": _mean(lp_adapted),
        "mean_lp_rewritten": _mean([r["dart"]["lp_solution"] for r in kept]),
        "mean_lp_rewritten_originals": _mean([r["dart"]["reward"]["lp_original"] for r in kept]),
        "kept_verified_share": (sum(verified) / len(verified)) if verified else None,
        "n_without_answer": sum(r.get("answer") is None for r in rows),
    }  # fmt: skip


def _adapt_shard(records, sources, scorer, cfg, select, scaffold, *, seed: int) -> list[dict]:
    from sftlab.generation import SamplingConfig, generate

    per_record: list[list[tuple[str, str]]] = [[] for _ in records]  # (source name, candidate)
    for s in sources:
        sampling = SamplingConfig(
            max_new_tokens=cfg.max_completion_length,
            temperature=cfg.temperature,
            n=s.n,
            batch_size=cfg.generation_batch_size,
            seed=seed,
        )
        outs = generate(s.model, s.tokenizer, [s.prompt(r) for r in records], sampling, progress=False)
        for i, texts in enumerate(outs):
            per_record[i] += [(s.name, clean_rewrite(t)) for t in texts]
    questions = [r["question"] for r in records]
    originals = [r["solution"] for r in records]
    lp_orig = scorer.logprobs(questions, originals)
    flat = [(i, name, text) for i, cands in enumerate(per_record) for name, text in cands]
    lp = scorer.logprobs([questions[i] for i, _, _ in flat], [t for _, _, t in flat])  # one batched pass per shard
    idx = [i for i, _, _ in flat]
    scores = score_rewrites(
        [t for _, _, t in flat],
        [questions[i] for i in idx],
        [originals[i] for i in idx],
        [records[i].get("answer") for i in idx],
        lp,
        [lp_orig[i] for i in idx],
        cfg,
        scaffold,
    )
    grouped: list[list[tuple]] = [[] for _ in records]
    for (i, name, text), sc in zip(flat, scores):
        grouped[i].append((name, text, sc))
    rows = []
    for i, (record, cands) in enumerate(zip(records, grouped)):
        name, text, terms, reason = _choose(cands, cfg, select)
        fallback = reason is not None
        out = {k: v for k, v in record.items() if k != "_row"}
        out["solution"] = record["solution"] if fallback else text
        out["dart"] = {
            "original": record["solution"], "rewrite": text, "source": name, "fallback": fallback, "reason": reason,
            "reward": terms, "lp_solution": float(lp_orig[i]) if fallback else terms["lp_rewrite"],
            "candidates": len(cands), "select": select,
        }  # fmt: skip
        rows.append(out)
    return rows


def _choose(cands, cfg, select: str):
    """The chosen candidate (source, text, terms) and a fallback reason (None when it is kept)."""
    if not cands:
        return None, "", None, "no_candidate"
    if select == "reward":
        name, text, terms = max(cands, key=lambda c: c[2]["total"])  # first of equals
        if terms["correct"] < 1.0:
            return name, text, terms, "gate"
        if any(terms[p] > cfg.max_penalty for p in PENALTIES):
            return name, text, terms, "penalty"
        if terms["alignment"] < cfg.min_alignment:
            return name, text, terms, "alignment"
        return name, text, terms, None
    correct = [c for c in cands if c[2]["correct"] >= 1.0]
    if not correct:
        return (*cands[0], "gate")
    if select == "likelihood":
        return (*max(correct, key=lambda c: c[2]["lp_rewrite"]), None)
    return (*correct[0], None)


def _meta(records, sources, cfg, select, scaffold) -> dict:
    """What the shards depend on; a resumed run must have the same fingerprint."""
    settings = {k: getattr(cfg, k) for k in (
        "n_samples", "temperature", "max_completion_length", "shard_size", "seed", "max_penalty", "min_alignment",
        "alignment_weight", "alignment_clip", "length_weight", "length_floor", "coverage_weight", "copy_weight",
        "copy_ngram", "repetition_weight", "repetition_ngram", "repetition_tolerance", "leak_weight", "gate_margin",
        "verify_mode", "mapper_template", "prompt_template")}  # fmt: skip
    h = hashlib.sha256()
    for r in records:
        h.update(json.dumps([r.get("question"), r.get("solution"), r.get("answer")], ensure_ascii=False).encode())
    blob = json.dumps({"settings": settings, "select": select, "scaffold": scaffold, "data": h.hexdigest(),
                       "sources": [[s.name, s.n, getattr(s.model, "name_or_path", "")] for s in sources]},
                      sort_keys=True, default=str)  # fmt: skip
    return {
        "fingerprint": hashlib.sha256(blob.encode()).hexdigest()[:16],
        "n_records": len(records),
        "select": select,
        "sources": [s.name for s in sources],
        "settings": settings,
    }


def _check_meta(path: Path, meta: dict) -> None:
    if not path.is_file():
        return
    old = json.loads(path.read_text(encoding="utf-8"))
    if old.get("fingerprint") != meta["fingerprint"]:
        raise SftlabError(
            f"{path.parent}: holds synthesis shards made from other data, models or settings "
            f"(fingerprint {old.get('fingerprint')}, now {meta['fingerprint']}); use another --output-dir or delete it"
        )


def _mean(xs) -> float | None:
    xs = [x for x in xs if x is not None and np.isfinite(x)]
    return float(np.mean(xs)) if xs else None
