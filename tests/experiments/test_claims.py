"""The claims scoreboard on synthetic results (no training): verdicts, pairing by seed, the interval, and its place
first in the demo's report."""

from __future__ import annotations

import json
import math

import pytest

import sftlab.experiments.runner as demo
from sftlab.experiments import claims, scoreboard
from sftlab.experiments.claims import CLAIMS, Effect, paired
from sftlab.experiments.context import DemoEntry
from sftlab.experiments.registry import BY_NAME
from sftlab.experiments.scoreboard import claims_section, score, score_claims
from sftlab.report import Section


def runs_of(values: dict[int, float], split: str = "test_id") -> list[dict]:
    """One run per seed with ``accuracy[split]`` = the given value."""
    return [{"seed": s, "accuracy": {split: v, "other": 0.0}} for s, v in values.items()]


def effect(**kw) -> Effect:
    return Effect("m - b", ("b", "m"), paired("m", "b", "test_id"), **kw)


def verdict(method: dict, baseline: dict, **kw) -> dict:
    return score(effect(**kw), {"m": runs_of(method), "b": runs_of(baseline)})


B = {0: 0.40, 1: 0.50, 2: 0.30}


def test_verdicts_shown_opposite_not_shown():
    up = {s: v + d for (s, v), d in zip(B.items(), (0.10, 0.12, 0.11))}
    down = {s: v - d for (s, v), d in zip(B.items(), (0.10, 0.12, 0.11))}
    noisy = {s: v + d for (s, v), d in zip(B.items(), (0.10, -0.10, 0.01))}
    assert verdict(up, B)["verdict"] == "shown"
    assert verdict(down, B)["verdict"] == "opposite"
    assert verdict(noisy, B)["verdict"] == "not shown"
    assert verdict(down, B, direction=-1)["verdict"] == "shown"  # the paper claims the method lower
    assert verdict(up, B, direction=-1)["verdict"] == "opposite"


def test_equivalence_is_shown_only_when_the_interval_lies_within_the_margin():
    close = {s: v + d for (s, v), d in zip(B.items(), (0.005, -0.004, 0.0))}
    apart = {s: v + d for (s, v), d in zip(B.items(), (0.10, 0.12, 0.11))}
    wide = {s: v + d for (s, v), d in zip(B.items(), (0.02, -0.02, 0.0))}  # mean 0, interval about ±5 points
    assert verdict(close, B, margin=0.03)["verdict"] == "shown"
    assert verdict(apart, B, margin=0.03)["verdict"] == "not shown"
    row = verdict(wide, B, margin=0.03)
    assert row["ci95"][0] < -0.03 and row["verdict"] == "not shown"


def test_not_run_names_the_methods_and_unbuilt_entries():
    row = score(effect(), {"m": runs_of(B)})  # no baseline runs
    assert row["verdict"] == "not run" and row["mean"] is None
    assert row["note"].startswith("--methods b,m") and row["note"].endswith("; not in this version's entries yet: b")
    (dft,) = [c for c in CLAIMS if c.paper == "2508.05629"]
    row = score(dft.effects[0], {"sft": runs_of(B)})
    assert row["verdict"] == "not run" and "--methods sft-native,dft-native" in row["note"]
    (dart,) = [c for c in CLAIMS if c.paper == "2605.26924"]
    row = score(dart.effects[0], {"dart": runs_of(B)})
    assert row["note"] == "--methods sft-subset,dart"  # both entries exist: no 'not built' remark


def test_too_few_seeds_still_shows_the_numbers():
    row = verdict({0: 0.6, 1: 0.7}, {0: 0.4, 1: 0.5})
    assert row["verdict"] == "too few seeds" and "--seeds 3" in row["note"]
    assert row["n_seeds"] == 2 and row["mean"] == pytest.approx(0.2) and row["ci95"] is not None
    row = verdict({0: 0.6}, {0: 0.4})
    assert row["verdict"] == "too few seeds" and row["ci95"] is None


def test_differences_are_paired_by_seed_and_a_run_once_baseline_is_a_constant():
    method = {0: 0.50, 1: 0.70, 2: 0.60, 5: 0.90}
    baseline = {2: 0.40, 1: 0.20, 0: 0.45, 3: 0.10}  # other order, seed 3 only here, seed 5 only in method
    got = paired("m", "b", "test_id")({"m": runs_of(method), "b": runs_of(baseline)})
    assert got == pytest.approx({0: 0.05, 1: 0.50, 2: 0.20})
    once = paired("m", "base", "test_id", baseline_once=True)({"m": runs_of(method), "base": runs_of({0: 0.25})})
    assert once == pytest.approx({0: 0.25, 1: 0.45, 2: 0.35, 5: 0.65})
    with pytest.raises(claims.NotMeasured):
        paired("m", "base", "test_id", baseline_once=True)({"m": runs_of(method), "base": runs_of(baseline)})


def test_baseline_once_matches_the_registry():
    """An effect whose baseline is run once in the registry says so (and only then)."""
    for claim in CLAIMS:
        for e in claim.effects:
            closure = dict(zip(e.measure.__code__.co_freevars, (c.cell_contents for c in e.measure.__closure__ or ())))
            if "baseline_once" in closure and closure["baseline"] in BY_NAME:
                assert closure["baseline_once"] == (not BY_NAME[closure["baseline"]].per_seed), e.label


def test_interval_is_the_student_t_interval_of_the_paired_differences():
    """Differences 0.02, 0.04, 0.09: mean 0.05; sample std sqrt((0.03² + 0.01² + 0.04²) / 2) = sqrt(0.0013)
    = 0.0360555; t(0.975, 2) = 4.3026527; half width 4.3026527 · 0.0360555 / sqrt(3) = 0.0895673;
    interval [-0.0395673, 0.1395673]: contains 0, so not shown."""
    row = verdict({0: 0.42, 1: 0.54, 2: 0.39}, B)
    assert row["per_seed"] == pytest.approx({"0": 0.02, "1": 0.04, "2": 0.09})
    half = 4.302652729749464 * math.sqrt(0.0013) / math.sqrt(3)
    assert row["mean"] == pytest.approx(0.05)
    assert row["ci95"] == pytest.approx([0.05 - half, 0.05 + half])
    assert row["ci95"] == pytest.approx([-0.0395673, 0.1395673], abs=1e-6)
    assert row["verdict"] == "not shown"
    assert scoreboard.format_effect(row) == "+5.0 [-4.0, +14.0]"


def test_spin_gain_is_its_final_accuracy_minus_the_sft_start_of_the_seed():
    (spin,) = [c for c in CLAIMS if c.paper == "2401.01335"]
    iterations = [{"iteration": 1, "sample_accuracy": 0.3}, {"iteration": 2, "sample_accuracy": 0.4}]
    spin_runs = [{**r, "start": "sft", "iterations": iterations} for r in runs_of({0: 0.5, 1: 0.6, 2: 0.7})]
    row = score(spin.effects[0], {"sft": runs_of(B), "spin": spin_runs})
    assert row["per_seed"] == pytest.approx({"0": 0.1, "1": 0.1, "2": 0.4}) and row["verdict"] == "not shown"
    row = score(spin.effects[0], {"sft": runs_of(B), "spin": [{**r, "start": "base"} for r in spin_runs]})
    assert row["verdict"] == "not measured"


def test_distill_gain_is_the_constraint_pass_rate_without_dedup():
    def rnd(arith: float, verifier: float) -> dict:
        return {"filters": [{"filter": "dedup", "pass_rate": 0.5}, {"filter": "arithmetic", "pass_rate": arith},
                            {"filter": "verifier", "pass_rate": verifier}]}  # fmt: skip

    runs = [{"seed": s, "accuracy": {}, "rounds": [rnd(0.5, 0.4), rnd(0.8, 0.5 + s / 10)]} for s in range(3)]
    (distill,) = [c for c in CLAIMS if c.paper == "2512.09329"]
    row = score(distill.effects[0], {"distill": runs})
    assert row["per_seed"] == pytest.approx({"0": 0.2, "1": 0.28, "2": 0.36}) and row["verdict"] == "shown"
    one_round = [{**r, "rounds": r["rounds"][:1]} for r in runs]
    assert score(distill.effects[0], {"distill": one_round})["verdict"] == "not measured"
    assert score(distill.effects[1], {"distill": runs})["verdict"] == "not run"  # distill-protein


def test_landscape_row_is_descriptive():
    def layers(aris):
        return [{"layer": i, "ari": {"family": a, "answer": a / 2}} for i, a in enumerate(aris)]

    metrics = {
        "labels": {"family": 3, "answer": 20},
        "conditions": {
            "base 0-shot": {"shots": 0, "shot_source": None, "layers": layers([0.1, 0.1])},
            "base 5-shot same-label": {"shots": 5, "shot_source": "same_label", "layers": layers([0.2, 0.6, 0.3])},
            "base 5-shot random": {"shots": 5, "shot_source": "random", "layers": layers([0.9, 0.9, 0.9])},
            "SFT": {"shots": 0, "shot_source": None, "layers": layers([0.1, 0.2, 0.4])},
        },
    }
    rows = score_claims({"sft": {"runs": []}, "landscape": {"runs": []}}, metrics)
    (row,) = [r for r in rows if r["paper"] == "2409.03662"]
    assert row["verdict"] == "descriptive"
    assert "family ARI: ICL 0.60 (layer 1) vs SFT 0.40 (layer 2)" in row["text"]
    assert row["text"].startswith("base 5-shot same-label vs SFT")
    (row,) = [r for r in score_claims({"sft": {"runs": []}, "landscape": {"runs": []}}) if r["paper"] == "2409.03662"]
    assert row["text"] == "see the landscape section"
    (row,) = [r for r in score_claims({}) if r["paper"] == "2409.03662"]
    assert row["verdict"] == "not run" and "--methods sft,landscape" in row["note"]


def test_every_claim_has_a_row_and_the_section_renders():
    section, rows = claims_section({})
    n_rows = sum(len(c.effects) + (c.descriptive is not None) for c in CLAIMS)
    assert len(rows) == len(section.tables[0].rows) == n_rows
    assert {r["verdict"] for r in rows} == {"not run"}
    assert all(c.paper == "baseline" or c.paper[:4].isdigit() for c in CLAIMS)
    assert section.tables[0].columns[-2:] == ["verdict", "what is known of why"]  # some claims carry a note
    json.dumps(rows)  # metrics.json takes them as they are


def _fake(accuracy):
    def run(ctx, entry, seed):
        return {"seed": seed or 0, "accuracy": {"test_id": accuracy(seed or 0), "test_ood": 0.1}, "train_seconds": 0.0}

    return run


def test_the_scoreboard_is_the_first_section_of_the_demos_report(lab, tmp_path, monkeypatch):
    """run_demo with stand-in entries: base 0.30 once, direct-rl 0.40/0.41/0.42 over 3 seeds, and an entry with
    its own section: the scoreboard comes first, before the results table and that section, in report.html and
    summary.md, and says 'shown' for RL on the lab."""
    entries = (
        DemoEntry("base", "base model", "", "core", _fake(lambda s: 0.30), per_seed=False, default=True),
        DemoEntry("direct-rl", "direct RL", "", "dart", _fake(lambda s: 0.40 + s / 100), default=True),
        DemoEntry("extra", "extra", "", "x", _fake(lambda s: 0.2), section=lambda ctx, es: Section("Extra section")),
    )
    monkeypatch.setattr(demo, "ENTRIES", entries)
    monkeypatch.setattr(demo, "BY_NAME", {e.name: e for e in entries})
    monkeypatch.setattr("sftlab.lab.ensure_lab", lambda **_: lab)
    out = tmp_path / "demo"
    demo.run_demo(demo.DemoConfig(output_dir=str(out), methods="base,direct-rl,extra", seeds=3, workers=1))
    html = (out / "report.html").read_text()
    first = html.index("<h2>Claims scoreboard")
    assert first < html.index("<h2>Results") < html.index("<h2>Extra section")
    assert html.index('href="#s0-claims-scoreboard"') < html.index('href="#results"')  # the navigation too
    md = (out / "summary.md").read_text()
    assert md.index("### Claims scoreboard") < md.index("Accuracy (%), mean")
    rows = json.loads((out / "metrics.json").read_text())["sections"]["claims"]
    rl, *careless = [r for r in rows if r["claim"] == "RL works on the lab"]
    assert [r["verdict"] for r in careless] == ["not run", "not run"]  # the careless variant's rows did not run
    assert rl["verdict"] == "shown" and rl["per_seed"] == pytest.approx({"0": 0.10, "1": 0.11, "2": 0.12})


def test_spin_is_scored_iteration_by_iteration_from_its_sft_start():
    """SPIN's per-iteration rows: iteration 1 minus the sft run of the same seed, iteration 2 minus iteration 1."""
    sft = runs_of({0: 0.30, 1: 0.40, 2: 0.35})
    spin = []
    for seed, (a1, a2) in {0: (0.32, 0.31), 1: (0.45, 0.50), 2: (0.35, 0.36)}.items():
        its = [{"iteration": 1, "accuracy": {"test_id": a1}}, {"iteration": 2, "accuracy": {"test_id": a2}}]
        spin.append({"seed": seed, "start": "sft", "iterations": its, "accuracy": {"test_id": a2}})
    runs = {"sft": sft, "spin": spin}
    assert claims.iteration_gain("spin", 1)(runs) == pytest.approx({0: 0.02, 1: 0.05, 2: 0.0})
    assert claims.iteration_gain("spin", 2)(runs) == pytest.approx({0: -0.01, 1: 0.05, 2: 0.01})
    (claim,) = [c for c in CLAIMS if c.paper == "2401.01335"]
    rows = [score(e, runs) for e in claim.effects]
    assert [r["effect"] for r in rows][1:] == ["spin iteration 1 - iteration 0, in-domain",
                                               "spin iteration 2 - iteration 1, in-domain"]  # fmt: skip
    assert rows[1]["mean"] == pytest.approx(0.07 / 3) and rows[0]["mean"] == pytest.approx(0.04)
    spin[1]["iterations"][0]["accuracy"] = None  # a run without the per-iteration evaluation
    assert score(claim.effects[1], runs)["verdict"] == "not measured"


def test_equal_differences_give_no_interval_and_no_verdict():
    """Three seeds each one problem of 200 lower: the t-interval collapses to a point; that is not evidence."""
    row = verdict({0: 0.095, 1: 0.135, 2: 0.08}, {0: 0.1, 1: 0.14, 2: 0.085})
    assert row["ci95"][0] == pytest.approx(row["ci95"][1]) and row["mean"] == pytest.approx(-0.005)
    assert row["verdict"] == "not shown" and "no spread" in row["note"]
    assert verdict({0: 0.095, 1: 0.135, 2: 0.08}, {0: 0.1, 1: 0.145, 2: 0.086})["verdict"] == "opposite"
