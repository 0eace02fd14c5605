"""`sftlab demo`: sections drawn once per group after its last entry; the entry list runs end to end, writes the
report, and resumes from its cached runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import sftlab.experiments.runner as demo
from sftlab.experiments.context import DemoEntry
from sftlab.lab import LabConfig, build_lab
from sftlab.report import Section, Table


def _fake_run(ctx, entry, seed):
    return {
        "seed": seed,
        "accuracy": {"test_id": 0.5, "test_ood": 0.25},
        "n": {"test_id": 48, "test_ood": 4},
        "train_seconds": 1.0,
    }


def test_each_groups_section_is_drawn_once_right_after_its_last_entry(demo_ctx):
    """Groups interleaved in the run order: a section drawn early would miss a run, one drawn twice shows twice."""
    calls = []

    def section(ctx, entries):
        calls.append(([e.name for e in entries], sorted(ctx.results)))
        rows = [[e.name, len(ctx.results[e.name]["runs"])] for e in entries]
        return Section(f"group {entries[0].group}", tables=[Table(["entry", "runs"], rows)])

    def entry(name, group, with_section=True, run=_fake_run):
        return DemoEntry(name, name.upper(), "", group, run, section=section if with_section else None)

    entries = [
        entry("a1", "a"),
        entry("b1", "b"),
        entry("a2", "a"),
        entry("c1", "c", False),
        entry("b2", "b"),
        entry("only", "d", run=None),
    ]
    assert {k: [e.name for e in v] for k, v in demo.section_points(entries).items()} == {
        "a2": ["a1", "a2"],
        "b2": ["b1", "b2"],
        "only": ["only"],
    }
    ctx = demo_ctx()
    methods, sections, timings = demo.run_entries(ctx, entries, seeds=[0, 1])
    assert calls == [
        (["a1", "a2"], ["a1", "a2", "b1"]),  # after a2, before b2 ran
        (["b1", "b2"], ["a1", "a2", "b1", "b2", "c1"]),
        (["only"], ["a1", "a2", "b1", "b2", "c1", "only"]),
    ]
    assert [s.title for s in sections] == ["group a", "group b", "group d"]
    assert sections[0].tables[0].rows == [["a1", 2], ["a2", 2]]  # both seeds of both entries were in
    assert sections[2].tables[0].rows == [["only", 0]]
    assert list(methods) == ["a1", "b1", "a2", "c1", "b2"] and list(timings) == [e.name for e in entries]
    assert methods["a1"]["summary"]["test_id"] == {"mean": 0.5, "std": 0.0, "n_seeds": 2, "ci95": [0.5, 0.5]}


def test_a_subset_of_a_group_draws_after_its_own_last_entry(demo_ctx):
    from sftlab.experiments.registry import BY_NAME

    selected = [BY_NAME[n] for n in demo.resolve_methods("irft,sft,rft")]
    points = demo.section_points(selected)
    assert list(points) == ["rft"] and [e.name for e in points["rft"]] == ["irft", "rft"]
    assert list(demo.section_points([BY_NAME[n] for n in demo.resolve_methods("all")])) == [
        "random-subset",
        "landscape",
        "distill",
        "dart-dft-noprior",
        "rft",
        "nft",
        "dft-native",
        "rft-noisy",
        "rs-sft",
        "rs-sft-careless",
        "random-pool",
        "distill-protein",
    ]


@pytest.fixture(scope="module")
def tiny_lab(tmp_path_factory):
    return build_lab(
        LabConfig.tiny(pretrain_steps=60), cache_dir=str(tmp_path_factory.mktemp("labcache")), progress=False
    )


def test_quick_demo_on_a_tiny_lab_writes_report_and_resumes(tiny_lab, tmp_path, monkeypatch):
    monkeypatch.setattr("sftlab.lab.ensure_lab", lambda **_: tiny_lab)
    out = tmp_path / "demo"
    cfg = demo.DemoConfig(
        quick=True,
        workers=1,  # the runs in this process, where the monkeypatch below reaches them
        output_dir=str(out),
        methods="base,sft,dft,asft",
        steps=3,
        eval_limit=6,
        max_new_tokens=24,
        batch_size=4,
    )
    demo.run_demo(cfg)
    metrics = json.loads((out / "metrics.json").read_text())
    assert list(metrics["methods"]) == ["base", "sft", "dft", "asft"]
    for name, m in metrics["methods"].items():
        evaluated = json.loads(
            (out / "runs" / name / ("once" if name == "base" else "seed0") / "eval" / "metrics.json").read_text()
        )["splits"]
        for split in ("test_id", "test_ood"):
            correct = sum(
                json.loads(line)["correct"]
                for line in (
                    out / "runs" / name / ("once" if name == "base" else "seed0") / "eval" / "generations.jsonl"
                )
                .read_text()
                .splitlines()
                if json.loads(line)["split"] == split
            )
            assert m["runs"][0]["accuracy"][split] == evaluated[split]["accuracy"] == correct / 6
            assert m["summary"][split] == {"mean": correct / 6, "std": 0.0, "n_seeds": 1, "ci95": None}
            assert all(r["n"][split] == 6 for r in m["runs"])
        if name != "base":
            assert m["runs"][0]["seed"] == 0 and m["runs"][0]["curve"]["nll"]
    assert metrics["config"]["size"] == "quick" and metrics["config"]["fine-tuning"] == {
        "steps": 3,
        "learning_rate": 1e-3,
        "batch_size": 4,
        "recipe": "configs/lab/sft.yaml",
    }
    assert metrics["seeds"] == [0]
    html = (out / "report.html").read_text()
    assert "DFT" in html and "ASFT" in html and (out / "summary.md").is_file()

    # A second run reuses every cached run: no training happens.
    summary = out / "runs" / "dft" / "seed0" / "model" / "train_summary.json"
    before = summary.stat().st_mtime_ns
    monkeypatch.setattr("sftlab.methods.sft.run_train", lambda cfg: pytest.fail("retrained a cached run"))
    demo.run_demo(cfg)
    assert summary.stat().st_mtime_ns == before


def test_quick_and_full_together_are_one_line_before_anything_loads(tmp_path, monkeypatch):
    from sftlab.errors import SftlabError

    monkeypatch.setattr("sftlab.lab.ensure_lab", lambda **_: pytest.fail("loaded the lab"))
    with pytest.raises(SftlabError, match="--quick and --full: choose one size"):
        demo.run_demo(demo.DemoConfig(quick=True, full=True, output_dir=str(tmp_path)))


def test_unknown_method_is_a_clear_error(tmp_path):
    from sftlab.errors import SftlabError

    with pytest.raises(SftlabError, match="unknown entries"):
        demo.run_demo(demo.DemoConfig(methods="sft,nope", output_dir=str(tmp_path)))


@pytest.mark.slow
def test_cli_quick_demo_on_the_real_lab(tmp_path):
    """What the README promises, in --quick form: builds (or reuses) the lab, runs every entry, writes the report."""
    out = tmp_path / "demo"
    env = {**os.environ, "SFTLAB_CACHE": os.environ.get("SFTLAB_CACHE", str(tmp_path / "cache"))}
    proc = subprocess.run(
        [sys.executable, "-m", "sftlab.cli", "demo", "--quick", "--output-dir", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=3000,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "report at" in proc.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    for name in ("base", "sft", "dft", "asft"):
        for split in ("test_id", "test_ood"):
            assert metrics["methods"][name]["summary"][split]["n_seeds"] >= 1
    assert metrics["methods"]["base"]["summary"]["test_id"]["mean"] > 0.2  # the base model has real skill


@pytest.mark.slow
def test_cli_quick_demo_runs_every_registered_entry(tmp_path):
    """`sftlab demo --quick --methods all` on the real lab: every entry reports both splits, every section is drawn
    (fewer fine-tuning steps and test problems than --quick's, to keep CI short: the entries' own budgets as --quick),
    with two workers, so every entry also travels to a worker process whatever the machine's load."""
    out = tmp_path / "demo-all"
    env = {**os.environ, "SFTLAB_CACHE": os.environ.get("SFTLAB_CACHE", str(tmp_path / "cache"))}
    small = ["--steps", "20", "--eval-limit", "40", "--max-new-tokens", "120"]
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sftlab.cli",
            "demo",
            "--quick",
            "--methods",
            "all",
            "--workers",
            "2",
            *small,
            "--output-dir",
            str(out),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=3000,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    from sftlab.experiments.registry import ENTRIES

    # distill-protein reports pass rates, not math accuracy (or skips without parasail): its section only
    methods = [entry.name for entry in ENTRIES if entry.run is not None and entry.name != "distill-protein"]
    assert len(methods) >= 18 and sorted(metrics["methods"]) == sorted(methods)
    for name in methods:
        for split in ("test_id", "test_ood"):
            assert metrics["methods"][name]["summary"][split]["n_seeds"] == 1, (name, split)
    report = (out / "report.html").read_text(encoding="utf-8")
    for title in (
        "S2L data selection vs random",
        "Representation landscape",
        "Self-distillation",
        "DART",
        "IRL from demonstrations",
        "NFT",
        "Claims scoreboard",
    ):
        assert f"<h2>{title}" in report, title


def test_the_size_note_gives_each_in_domain_means_standard_error():
    """Binomial standard errors at each method's own accuracy over its seeds' problems: sqrt(.4*.6/400) = 2.4 points,
    sqrt(.1*.9/400) = 1.5; one seed of 0.4 on 200 problems: 3.5."""
    from types import SimpleNamespace

    from sftlab.experiments.runner import size_note

    ctx = SimpleNamespace(items={"test_id": [None] * 200}, steps=80)
    summary = lambda mean, n: {"summary": {"test_id": {"mean": mean, "n_seeds": n}}}  # noqa: E731
    note = size_note("standard", ctx, {"a": summary(0.4, 2), "b": summary(0.1, 2), "c": summary(None, 0)})
    assert note.startswith("Size: the plain demo's size: fine-tuning runs of 80 steps")
    assert "200 test problems per split" in note and "is 1.5-2.4 points here" in note
    assert "is 3.5 points here" in size_note("quick", ctx, {"a": summary(0.4, 1)})
    assert (
        size_note("full", ctx, {})
        == "Size: --full: the lab recipes as written (fine-tuning runs of 80 steps). 200 test problems per split."
    )
