"""``run_landscape`` end to end on tiny Llamas and a small reasoning file (conftest.py), plus its input errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from sftlab.errors import DataError, SftlabError
from sftlab.methods.landscape import LandscapeConfig, run_landscape
from sftlab.methods.landscape import landscape as landscape_module
from sftlab.report import Section


def test_run_landscape_end_to_end_and_cached_rerun(models, data_file, tmp_path, monkeypatch):
    cfg = LandscapeConfig(
        model=f"base={models['base']}",
        compare=f"ft={models['ft']}",
        data=data_file,
        label_field="family,answer",
        shots="0,2",
        output_dir=str(tmp_path / "out"),
        batch_size=8,
        k=8,
        use_dadapy="no",
        progress=False,
    )
    result = run_landscape(cfg)
    m = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert m == json.loads(json.dumps(result["metrics"]))
    assert list(m["conditions"]) == ["base 0-shot", "base 2-shot", "ft"]
    assert m["implementation"].startswith("sftlab builtin")
    assert m["labels"] == {"family": 3, "answer": len({(i % 7 + 1) + (i // 7 + 2) for i in range(48)})}
    two_shot = m["conditions"]["base 2-shot"]
    assert two_shot["example_prompt"].count("Question:") == 3 and two_shot["shots"] == 2
    for cond in m["conditions"].values():
        assert [layer["layer"] for layer in cond["layers"]] == [0, 1, 2]  # embeddings + 2 blocks
        assert "skipped" in cond["layers"][0]  # every prompt ends in the same token
        for layer in cond["layers"][1:]:
            assert layer["id_gride"] > 0 and layer["n_clusters"] >= 1 and set(layer["ari"]) == {"family", "answer"}
    for name in ("id_gride", "n_clusters", "core_fraction", "ari_family", "ari_answer"):
        assert (tmp_path / "out" / "plots" / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
    section = result["section"]
    assert isinstance(section, Section) and len(section.images) == 5
    assert [row[:2] for row in section.tables[0].rows][:2] == [["base 0-shot", "0"], ["base 2-shot", "2"]]
    assert "| base 0-shot | 0 |" in (tmp_path / "out" / "summary.md").read_text()

    # A rerun with the same prompts and models reuses the saved states, without loading a model.
    monkeypatch.setattr(landscape_module, "last_token_states", _fail)
    monkeypatch.setattr(landscape_module, "load_causal_lm", _fail)
    again = run_landscape(cfg)
    assert again["metrics"]["conditions"] == result["metrics"]["conditions"]


def test_both_shot_sources_side_by_side(models, data_file, tmp_path):
    """Same-label and random shots in one run: the prompts draw as asked, the 0-shot states are computed once, and
    the section (tables, the sentence on shot sources, the ARI plot) shows exactly the metrics' values."""
    cfg = LandscapeConfig(
        model=f"base={models['base']}",
        compare=f"ft={models['ft']}",
        data=data_file,
        label_field="family,answer",
        shots="0,2",
        shot_source="same_label,random",
        output_dir=str(tmp_path),
        batch_size=8,
        k=8,
        use_dadapy="no",
        progress=False,
    )
    result = run_landscape(cfg)
    conds = result["metrics"]["conditions"]
    assert list(conds) == ["base 0-shot", "base 2-shot same-label", "base 2-shot random", "ft"]
    assert [c["shot_source"] for c in conds.values()] == [None, "same_label", "random", None]
    assert sorted(p.name for p in (tmp_path / "states").glob("*.npy")) == [
        "base-0-shot.npy",
        "base-2-shot-random.npy",
        "base-2-shot-same-label.npy",
        "ft.npy",
    ]
    # record 0 is a 'shop' question (conftest.py): its same-label examples are shop questions, never itself
    same = conds["base 2-shot same-label"]["example_prompt"]
    assert same.count("in the shop?") == 3 and "Item 0:" in same and same.count("Item 0:") == 1
    assert "trip?" not in same and "bank?" not in same
    rand = conds["base 2-shot random"]["example_prompt"]
    assert rand != same and rand.count("Question:") == 3

    section = result["section"]
    summary, per_layer = section.tables
    assert [row[:3] for row in summary.rows] == [
        ["base 0-shot", "0", "-"],
        ["base 2-shot same-label", "2", "same family"],
        ["base 2-shot random", "2", "random"],
        ["ft", "0", "-"],
    ]
    assert per_layer.columns == ["layer", *conds]
    for r, row in enumerate(per_layer.rows):
        assert row[0] == str(r)
        for cell, cond in zip(row[1:], conds.values()):
            ari = cond["layers"][r].get("ari", {}).get("family")
            assert cell == ("-" if ari is None else f"{ari:.2f}")
    assert per_layer.rows[0][1:] == ["-"] * 4 and per_layer.rows[1][1] != "-"
    shots_text = section.paragraphs[1]
    assert "Dashed: " in shots_text and "question's own 'family'" in shots_text and "Dotted: " in shots_text
    assert "whole shot pool" in shots_text and "seed 0" in shots_text
    ax = section.images["ARI of the peaks vs 'family'"].axes[0]
    assert [line.get_label() for line in ax.lines] == list(conds)
    assert [line.get_linestyle() for line in ax.lines] == ["-", "--", ":", "-"]
    for line, cond in zip(ax.lines, conds.values()):
        expected = [(x["layer"], x["ari"]["family"]) for x in cond["layers"] if "ari" in x]
        assert list(zip(line.get_xdata(), line.get_ydata())) == expected


def test_same_label_is_the_default_and_random_names_no_source(models, data_file, tmp_path):
    cfg = LandscapeConfig(
        model=models["base"],
        data=data_file,
        label_field="family",
        shots="2",
        k=8,
        output_dir=str(tmp_path / "a"),
        use_dadapy="no",
        progress=False,
    )
    assert cfg.shot_source == "same_label"
    (cond,) = run_landscape(cfg)["metrics"]["conditions"].items()
    assert cond[0] == "base 2-shot" and cond[1]["shot_source"] == "same_label"
    assert cond[1]["example_prompt"].count("in the shop?") == 3
    cfg.shot_source, cfg.output_dir = "random", str(tmp_path / "b")
    result = run_landscape(cfg)
    assert result["metrics"]["conditions"]["base 2-shot"]["shot_source"] == "random"
    assert "Dotted: " in result["section"].paragraphs[1] and "Dashed: " not in result["section"].paragraphs[1]


def test_same_label_shots_need_the_label_in_the_pool(models, data_file, tmp_path):
    pool = tmp_path / "pool.jsonl"
    pool.write_text(
        "".join(json.dumps({"question": f"{i}?", "solution": f"#### {i}", "family": "shop"}) + "\n" for i in range(3))
        + json.dumps({"question": "x?", "solution": "#### 1"})
        + "\n"
    )
    cfg = LandscapeConfig(
        model=models["base"],
        data=data_file,
        shot_pool=str(pool),
        label_field="family",
        shots="0,1",
        output_dir=str(tmp_path),
        use_dadapy="no",
        progress=False,
    )
    with pytest.raises(DataError, match=r"pool\.jsonl:4: field 'family': missing \(same-label shots"):
        run_landscape(cfg)
    pool.write_text(
        "".join(json.dumps({"question": f"{i}?", "solution": f"#### {i}", "family": "shop"}) + "\n" for i in range(3))
    )
    with pytest.raises(SftlabError, match="family 'trip' has 0 other examples in the shot pool"):
        run_landscape(cfg)


def test_states_match_a_direct_forward(models, data_file, tmp_path):
    """The saved 0-shot states are the model's own hidden states at the last prompt token."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from sftlab.data import encode_prompts, load_sft_data, render_prompt

    cfg = LandscapeConfig(
        model=models["base"],
        data=data_file,
        label_field="family",
        shots="0",
        k=8,
        output_dir=str(tmp_path),
        use_dadapy="no",
        progress=False,
    )
    run_landscape(cfg)
    states = np.load(tmp_path / "states" / "base-0-shot.npy")
    tok = AutoTokenizer.from_pretrained(models["base"])
    model = AutoModelForCausalLM.from_pretrained(models["base"])
    record = load_sft_data(data_file).records[5]
    ids = encode_prompts([render_prompt(record["question"], tok)], tok)
    with torch.no_grad():
        hidden = model(torch.tensor(ids), output_hidden_states=True).hidden_states
    np.testing.assert_allclose(states[2, 5], hidden[2][0, -1].numpy(), atol=1e-5)


def test_missing_label_field_names_the_line(models, data_file, tmp_path):
    cfg = LandscapeConfig(
        model=models["base"],
        data=data_file,
        label_field="topic",
        shots="0",
        output_dir=str(tmp_path),
        use_dadapy="no",
        progress=False,
    )
    with pytest.raises(DataError, match=r"d\.jsonl:1: field 'topic': missing"):
        run_landscape(cfg)


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("shots", "0,x", "comma-separated integers"),
        ("shots", "-1", ">= 0"),
        ("z", 0.0, "must be positive"),
        ("k", 0, "at least 1"),
        ("shot_source", "subject", "--shot-source: expected same_label, random"),
        ("shot_source", "", "--shot-source: expected"),
    ],
)
def test_bad_config(field, value, message):
    with pytest.raises(SftlabError, match=message):
        LandscapeConfig(**{field: value})


def test_shot_pool_of_another_format(models, data_file, tmp_path):
    pool = tmp_path / "pool.jsonl"
    pool.write_text(json.dumps({"prompt": "1+1=", "completion": "2"}) + "\n")
    cfg = LandscapeConfig(
        model=models["base"],
        data=data_file,
        shot_pool=str(pool),
        shots="0,1",
        output_dir=str(tmp_path),
        use_dadapy="no",
        progress=False,
    )
    with pytest.raises(SftlabError, match="same record format"):
        run_landscape(cfg)


def test_duplicate_condition_names(models, data_file, tmp_path):
    cfg = LandscapeConfig(
        model=models["base"],
        compare=f"{models['ft']},{models['ft']}",
        data=data_file,
        shots="0",
        output_dir=str(tmp_path),
        use_dadapy="no",
        progress=False,
    )
    with pytest.raises(SftlabError, match="two conditions are named 'ft'"):
        run_landscape(cfg)


def _fail(*args, **kwargs):
    raise AssertionError("hidden states were recomputed or a model was loaded")
