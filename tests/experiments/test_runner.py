"""`sftlab demo`: the registry runs end to end, writes the report, and resumes from its cached runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import sftlab.experiments.runner as demo
from sftlab.lab import LabConfig, build_lab


@pytest.fixture(scope="module")
def tiny_lab(tmp_path_factory):
    return build_lab(LabConfig.tiny(pretrain_steps=60), cache_dir=str(tmp_path_factory.mktemp("labcache")),
                     progress=False)


def test_quick_demo_on_a_tiny_lab_writes_report_and_resumes(tiny_lab, tmp_path, monkeypatch):
    monkeypatch.setattr("sftlab.lab.ensure_lab", lambda **_: tiny_lab)
    out = tmp_path / "demo"
    cfg = demo.DemoConfig(quick=True, output_dir=str(out), methods="base,sft,dft,asft", steps=3, eval_limit=6,
                          max_new_tokens=24, batch_size=4)
    demo.run_demo(cfg)
    metrics = json.loads((out / "metrics.json").read_text())
    assert list(metrics["methods"]) == ["base", "sft", "dft", "asft"]
    for name, m in metrics["methods"].items():
        for split in ("test_id", "test_ood"):
            assert 0.0 <= m["summary"][split]["mean"] <= 1.0
            assert all(r["n"][split] == 6 for r in m["runs"])
        if name != "base":
            assert m["runs"][0]["seed"] == 0 and m["runs"][0]["curve"]["nll"]
    assert metrics["seeds"] == [0]
    html = (out / "report.html").read_text()
    assert "DFT" in html and "ASFT" in html and (out / "summary.md").is_file()

    # A second run reuses every cached run: no training happens.
    summary = out / "runs" / "dft" / "seed0" / "model" / "train_summary.json"
    before = summary.stat().st_mtime_ns
    monkeypatch.setattr("sftlab.methods.sft.run_train", lambda cfg: pytest.fail("retrained a cached run"))
    demo.run_demo(cfg)
    assert summary.stat().st_mtime_ns == before


def test_unknown_method_is_a_clear_error(tmp_path):
    from sftlab.errors import SftlabError

    with pytest.raises(SftlabError, match="unknown entries"):
        demo.run_demo(demo.DemoConfig(methods="sft,nope", output_dir=str(tmp_path)))


@pytest.mark.slow
def test_cli_quick_demo_on_the_real_lab(tmp_path):
    """What the README promises, in --quick form: builds (or reuses) the lab, runs every entry, writes the report."""
    out = tmp_path / "demo"
    env = {**os.environ, "SFTLAB_CACHE": os.environ.get("SFTLAB_CACHE", str(tmp_path / "cache"))}
    proc = subprocess.run([sys.executable, "-m", "sftlab.cli", "demo", "--quick", "--output-dir", str(out)],
                          capture_output=True, text=True, env=env, timeout=3000)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "report at" in proc.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    for name in ("base", "sft", "dft", "asft"):
        for split in ("test_id", "test_ood"):
            assert metrics["methods"][name]["summary"][split]["n_seeds"] >= 1
    assert metrics["methods"]["base"]["summary"]["test_id"]["mean"] > 0.2  # the base model has real skill


@pytest.mark.slow
def test_cli_quick_demo_runs_every_registered_entry(tmp_path):
    """`sftlab demo --quick --methods all` on the real lab: every entry reports both splits, every section is drawn."""
    out = tmp_path / "demo-all"
    env = {**os.environ, "SFTLAB_CACHE": os.environ.get("SFTLAB_CACHE", str(tmp_path / "cache"))}
    proc = subprocess.run([sys.executable, "-m", "sftlab.cli", "demo", "--quick", "--methods", "all",
                           "--output-dir", str(out)], capture_output=True, text=True, env=env, timeout=3000)
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    demo._load_entry_modules()
    methods = [name for name, entry in demo.ENTRIES.items() if entry.run is not None]
    assert len(methods) >= 18 and sorted(metrics["methods"]) == sorted(methods)
    for name in methods:
        for split in ("test_id", "test_ood"):
            assert metrics["methods"][name]["summary"][split]["n_seeds"] == 1, (name, split)
    report = (out / "report.html").read_text(encoding="utf-8")
    for title in ("S2L data selection vs random", "Representation landscape", "Self-distillation", "DART",
                  "IRL from demonstrations", "NFT"):
        assert f"<h2>{title}" in report, title
