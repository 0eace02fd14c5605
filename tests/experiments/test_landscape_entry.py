"""The landscape entry on the real DemoContext (stand-in lab): its config from the recipe, and the section it draws
from the SFT/DFT models found in the entries' run folders."""

from __future__ import annotations

import json
import shutil

from sftlab.experiments.entries.landscape import landscape_config, section
from sftlab.experiments.registry import BY_NAME

LANDSCAPE = BY_NAME["landscape"]


def test_config_sizes(demo_ctx):
    full = landscape_config(demo_ctx(full=True), LANDSCAPE, {"SFT": "/ck/sft", "DFT": "/ck/dft"})
    standard = landscape_config(demo_ctx(), LANDSCAPE, {"SFT": "/ck/sft"})
    quick = landscape_config(demo_ctx(quick=True), LANDSCAPE, {"SFT": "/ck/sft"})
    lab = demo_ctx().lab
    assert full.compare == "SFT=/ck/sft,DFT=/ck/dft" and full.model == f"base={lab.model_dir}"
    assert full.data == str(lab.data["test_id"]) and full.shot_pool == str(lab.data["train"])
    assert (full.shot_list(), full.max_examples, standard.shot_list(), standard.max_examples) == (
        [0, 1, 5],
        400,
        [0, 5],
        200,
    )
    assert (quick.shot_list(), quick.max_examples, quick.shot_sources()) == ([0, 5], 100, ["same_label"])
    assert full.shot_sources() == standard.shot_sources() == ["same_label", "random"]


def test_section_from_the_entries_run_folders(demo_ctx, lab):
    ctx = demo_ctx()  # the standard size: both shot sources
    shutil.copytree(lab.model_dir, ctx.run_dir("sft", 0) / "model")  # DFT did not run: left out
    sec = section(ctx, [LANDSCAPE])
    assert sec.title == "Representation landscape"
    names = ["base 0-shot", "base 5-shot same-label", "base 5-shot random", "SFT"]
    assert [row[:3] for row in sec.tables[0].rows] == [
        [names[0], "0", "-"],
        [names[1], "5", "same family"],
        [names[2], "5", "random"],
        [names[3], "0", "-"],
    ]
    metrics = json.loads((ctx.run_dir("landscape", None) / "metrics.json").read_text())
    assert list(metrics["conditions"]) == names and metrics["n_examples"] == 48
    # the per-layer ARI table holds the metrics' values, the same-label and random columns side by side
    per_layer = sec.tables[1]
    assert per_layer.columns == ["layer", *names]
    for row in per_layer.rows:
        layer = int(row[0])
        for cell, name in zip(row[1:], names):
            ari = metrics["conditions"][name]["layers"][layer].get("ari", {}).get("family")
            assert cell == ("-" if ari is None else f"{ari:.2f}")
    assert "Dashed: " in sec.paragraphs[1] and "Dotted: " in sec.paragraphs[1]
