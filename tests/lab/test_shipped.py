"""The shipped lab build: installed for the default config instead of pretraining, byte-checked against its data,
refused otherwise; and (slow) a build from the seed compared with the shipped copy."""

from __future__ import annotations

import json

import pytest

from sftlab.io import file_sha256
from sftlab.lab import LabConfig, build_lab
from sftlab.lab.shipped import MODEL_FILES, SHIPPED, install_shipped, shipped_artifact, shipped_info
from sftlab.lab.tasks import SPLITS

INFO = shipped_info()
pytestmark = pytest.mark.skipif(INFO is None, reason="this installation carries no shipped lab build")


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    cache = tmp_path_factory.mktemp("shipped-cache")
    return build_lab(LabConfig(), cache_dir=cache, progress=False), cache


def test_the_shipped_build_is_the_default_configs(installed):
    art, cache = installed
    assert INFO["config"] == LabConfig().to_dict()
    assert art.root == cache / LabConfig().key() and art.info["source"] == "shipped"
    assert sorted(p.name for p in art.root.iterdir()) == ["data", "lab.json", "model"]
    assert not list(cache.glob(".*.tmp"))
    for split in SPLITS:  # the data are regenerated from the seed and equal the build's byte for byte
        assert file_sha256(art.data[split]) == INFO["data_sha256"][split]
    for name in MODEL_FILES:
        assert (art.model_dir / name).read_bytes() == (SHIPPED / "lab" / "model" / name).read_bytes()
    assert art.info["base_accuracy"] == INFO["base_accuracy"]


def test_the_installed_model_loads_and_scores_what_lab_json_says(installed):
    """Greedy completions of the shipped model on the stored examples give the stored verdicts."""
    import torch

    from sftlab.data.templates import render_prompt
    from sftlab.generation import SamplingConfig, generate
    from sftlab.verify import verify

    art, _ = installed
    model, tok = art.load()
    ex = art.info["base_accuracy_detail"]["test_id"]["examples"]
    with torch.no_grad():
        out = generate(model, tok, [render_prompt(e["question"], tok) for e in ex], SamplingConfig(max_new_tokens=160))
    assert [c[0] for c in out] == [e["completion"] for e in ex]
    assert [verify(c[0], e["answer"]) for c, e in zip(out, ex)] == [e["correct"] for e in ex]


def test_another_config_is_not_installed(tmp_path):
    said = []
    assert not install_shipped(LabConfig(seed=1), tmp_path, said.append)
    assert not any(tmp_path.iterdir()) and not said


def test_changed_data_refuse_the_install(tmp_path, monkeypatch):
    """A task generator that no longer produces the shipped data must not be paired with the shipped model."""
    import sftlab.lab.shipped as shipped

    info = dict(INFO, data_sha256={**INFO["data_sha256"], "test_ood": "0" * 64})
    monkeypatch.setattr(shipped, "shipped_info", lambda: info)
    said = []
    assert not install_shipped(LabConfig(), tmp_path, said.append)
    assert said == ["sftlab lab: the shipped build does not match this version's data (test_ood); building"]
    assert not (tmp_path / "model").exists() and not (tmp_path / "lab.json").exists()


def test_shipped_artifacts_go_only_to_the_shipped_build(installed, tmp_path):
    art, _ = installed
    names = [p.name for p in SHIPPED.iterdir() if p.is_dir() and p.name != "lab"]
    assert names, "the DART lab mapper ships"
    assert shipped_artifact(art, names[0], tmp_path / "copy")
    assert (tmp_path / "copy" / "model.safetensors").read_bytes() == (
        SHIPPED / names[0] / "model.safetensors"
    ).read_bytes()
    other = type(art)(art.root, art.model_dir, art.data, {**art.info, "source": None})
    assert not shipped_artifact(other, names[0], tmp_path / "no")
    assert not (tmp_path / "no").exists()


@pytest.mark.slow
def test_a_build_from_the_seed_matches_the_shipped_copy(tmp_path):
    """`sftlab lab build --force` on the default config, as the shipped copy was built (one torch thread).

    The data and tokenizer must be identical; the model must score as the shipped one does within sampling noise
    of the 400-problem splits (weights are bit-identical only on the same CPU kernels and library versions: the
    test prints how far they are)."""
    from safetensors.torch import load_file

    art = build_lab(LabConfig(), cache_dir=tmp_path, force=True, progress=False, threads=1)
    assert "source" not in art.info
    for split in SPLITS:
        assert file_sha256(art.data[split]) == INFO["data_sha256"][split], split
    for name in ("tokenizer.json", "tokenizer_config.json", "config.json"):
        assert json.loads((art.model_dir / name).read_text()) == json.loads(
            (SHIPPED / "lab" / "model" / name).read_text()
        ), name
    built, shipped = (
        load_file(art.model_dir / "model.safetensors"),
        load_file(SHIPPED / "lab" / "model" / "model.safetensors"),
    )
    assert built.keys() == shipped.keys()
    diff = max((built[k] - shipped[k]).abs().max().item() for k in built)
    print(f"largest weight difference from the shipped copy: {diff:.3g}")
    for split, acc in INFO["base_accuracy"].items():
        assert abs(art.info["base_accuracy"][split] - acc) <= 0.06, (split, art.info["base_accuracy"][split], acc)
