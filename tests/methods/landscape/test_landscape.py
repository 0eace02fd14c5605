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
    cfg = LandscapeConfig(model=f"base={models['base']}", compare=f"ft={models['ft']}", data=data_file,
                          label_field="family,answer", shots="0,2", output_dir=str(tmp_path / "out"),
                          batch_size=8, k=8, use_dadapy="no", progress=False)
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


def test_states_match_a_direct_forward(models, data_file, tmp_path):
    """The saved 0-shot states are the model's own hidden states at the last prompt token."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from sftlab.data import encode_prompts, load_sft_data, render_prompt

    cfg = LandscapeConfig(model=models["base"], data=data_file, label_field="family", shots="0", k=8,
                          output_dir=str(tmp_path), use_dadapy="no", progress=False)
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
    cfg = LandscapeConfig(model=models["base"], data=data_file, label_field="topic", shots="0",
                          output_dir=str(tmp_path), use_dadapy="no", progress=False)
    with pytest.raises(DataError, match=r"d\.jsonl:1: field 'topic': missing"):
        run_landscape(cfg)


@pytest.mark.parametrize("field,value,message", [
    ("shots", "0,x", "comma-separated integers"),
    ("shots", "-1", ">= 0"),
    ("z", 0.0, "must be positive"),
    ("k", 0, "at least 1"),
])
def test_bad_config(field, value, message):
    with pytest.raises(SftlabError, match=message):
        LandscapeConfig(**{field: value})


def test_shot_pool_of_another_format(models, data_file, tmp_path):
    pool = tmp_path / "pool.jsonl"
    pool.write_text(json.dumps({"prompt": "1+1=", "completion": "2"}) + "\n")
    cfg = LandscapeConfig(model=models["base"], data=data_file, shot_pool=str(pool), shots="0,1",
                          output_dir=str(tmp_path), use_dadapy="no", progress=False)
    with pytest.raises(SftlabError, match="same record format"):
        run_landscape(cfg)


def test_duplicate_condition_names(models, data_file, tmp_path):
    cfg = LandscapeConfig(model=models["base"], compare=f"{models['ft']},{models['ft']}", data=data_file,
                          shots="0", output_dir=str(tmp_path), use_dadapy="no", progress=False)
    with pytest.raises(SftlabError, match="two conditions are named 'ft'"):
        run_landscape(cfg)


def _fail(*args, **kwargs):
    raise AssertionError("hidden states were recomputed or a model was loaded")
