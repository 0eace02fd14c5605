"""The shipped lab builds: installed for their configs instead of pretraining, byte-checked against their data,
refused otherwise; the demo's lab variants ship; and (slow) a build from the seed compared with the shipped copy."""

from __future__ import annotations

import json

import pytest

from sftlab.io import file_sha256
from sftlab.lab import LabConfig, build_lab
from sftlab.lab.shipped import MODEL_FILES, install_shipped, shipped_artifact, shipped_dir, shipped_info, shipped_keys
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
        assert (art.model_dir / name).read_bytes() == (shipped_dir() / "model" / name).read_bytes()
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
    assert LabConfig(seed=1).key() not in shipped_keys()
    assert not install_shipped(LabConfig(seed=1), tmp_path, said.append)
    assert not any(tmp_path.iterdir()) and not said


def test_the_demo_lab_variants_ship_and_install(tmp_path):
    """The no-prior and careless labs that demo entries build from the default lab ship too (with the no-prior
    lab's own DART mapper initialization), each installed from its own folder and checked against its own data."""
    from sftlab.experiments.entries.dart import noprior_config
    from sftlab.experiments.entries.rl import careless_config

    variants = {"no-prior": noprior_config(LabConfig().to_dict()), "careless": careless_config(LabConfig().to_dict())}
    assert sorted(shipped_keys()) == sorted([LabConfig().key(), *(cfg.key() for cfg in variants.values())])
    models = {key: file_sha256(shipped_dir(key) / "model" / "model.safetensors") for key in shipped_keys()}
    assert len(set(models.values())) == 3  # three different models, not one copied thrice
    arts = {}
    for name, cfg in variants.items():
        said = []
        art = arts[name] = build_lab(cfg, cache_dir=tmp_path, progress=False)
        assert art.info["source"] == "shipped" and art.info["config"] == cfg.to_dict(), name
        for split in SPLITS:
            assert file_sha256(art.data[split]) == shipped_info(cfg)["data_sha256"][split], (name, split)
        assert file_sha256(art.model_dir / "model.safetensors") == models[cfg.key()], name
        assert not install_shipped(LabConfig(**{**cfg.to_dict(), "seed": 1}), tmp_path / "other", said.append)
    (mapper,) = (shipped_dir(variants["no-prior"]) / "artifacts").iterdir()  # DART's mapper for that lab
    assert shipped_artifact(arts["no-prior"], mapper.name, tmp_path / "mapper")
    assert not shipped_artifact(arts["careless"], mapper.name, tmp_path / "none")
    assert not (shipped_dir(variants["careless"]) / "artifacts").exists()


def test_changed_data_refuse_the_install(tmp_path, monkeypatch):
    """A task generator that no longer produces the shipped data must not be paired with the shipped model."""
    import sftlab.lab.shipped as shipped

    info = dict(INFO, data_sha256={**INFO["data_sha256"], "test_ood": "0" * 64})
    monkeypatch.setattr(shipped, "shipped_info", lambda cfg=None: info)
    said = []
    assert not install_shipped(LabConfig(), tmp_path, said.append)
    assert said == ["sftlab lab: the shipped build does not match this version's data (test_ood); building"]
    assert not (tmp_path / "model").exists() and not (tmp_path / "lab.json").exists()


def test_shipped_artifacts_go_only_to_the_shipped_build(installed, tmp_path):
    art, _ = installed
    names = [p.name for p in (shipped_dir() / "artifacts").iterdir() if p.is_dir()]
    assert names, "the DART lab mapper ships"
    assert shipped_artifact(art, names[0], tmp_path / "copy")
    assert (tmp_path / "copy" / "model.safetensors").read_bytes() == (
        shipped_dir() / "artifacts" / names[0] / "model.safetensors"
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
            (shipped_dir() / "model" / name).read_text()
        ), name
    built, shipped = (
        load_file(art.model_dir / "model.safetensors"),
        load_file(shipped_dir() / "model" / "model.safetensors"),
    )
    assert built.keys() == shipped.keys()
    diff = max((built[k] - shipped[k]).abs().max().item() for k in built)
    print(f"largest weight difference from the shipped copy: {diff:.3g}")
    for split, acc in INFO["base_accuracy"].items():
        assert abs(art.info["base_accuracy"][split] - acc) <= 0.06, (split, art.info["base_accuracy"][split], acc)


def test_every_shipped_file_is_package_data():
    """pyproject's package-data globs take every file of the shipped builds (an installed sftlab has them all)."""
    from pathlib import Path

    import tomllib

    root = Path(__file__).resolve().parents[2]
    package = root / "src" / "sftlab"
    globs = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["sftlab"]
    taken = {p for pattern in globs for p in package.glob(pattern) if p.is_file()}
    files = {p for p in (package / "lab" / "shipped").rglob("*") if p.is_file()}
    assert files and files <= taken, sorted(str(p.relative_to(package)) for p in files - taken)
