"""Argument groups: every shipped recipe builds through its command's parser, every command's --help shows each
field's documentation, and the shared options are defined once (sftlab.args) with the flags, defaults and recipe
keys the commands always had."""

from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path

import pytest

from sftlab.args import LoraArgs, ModelArgs, RunArgs
from sftlab.cli import COMMANDS, TRAIN_METHODS, main
from sftlab.errors import SftlabError

ROOT = Path(__file__).resolve().parents[1]

# recipe -> the command line that takes it (`sftlab <argv> --config <recipe>`)
RECIPES = {
    "asft.yaml": ["train"], "dft.yaml": ["train"], "sft.yaml": ["train"],
    "irft.yaml": ["train", "--method", "irft"], "spin.yaml": ["train", "--method", "spin"],
    "rft.yaml": ["train", "--method", "rft"], "nft.yaml": ["train", "--method", "nft"],
    "dart.yaml": ["dart"], "distill_math.yaml": ["distill"], "distill_protein.yaml": ["distill"],
    "landscape.yaml": ["landscape"], "select_s2l.yaml": ["select"],
    "lab/irft.yaml": ["train", "--method", "irft"], "lab/spin.yaml": ["train", "--method", "spin"],
    "lab/rft.yaml": ["train", "--method", "rft"], "lab/nft.yaml": ["train", "--method", "nft"],
    "lab/dart.yaml": ["dart"], "lab/sft.yaml": ["train"], "lab/s2l.yaml": ["select"],
    "lab/landscape.yaml": ["landscape"], "lab/distill.yaml": ["distill"],
    "lab/s2l_pool.yaml": ["select"], "lab/distill_protein.yaml": ["distill"],
    "lab/rl_careless.yaml": ["dart"], "lab/nft_careless.yaml": ["train", "--method", "nft"],
}  # fmt: skip


def test_every_shipped_recipe_is_listed():
    shipped = {str(p.relative_to(ROOT / "configs")) for p in (ROOT / "configs").glob("*.yaml")}
    shipped |= {str(p.relative_to(ROOT / "configs")) for p in (ROOT / "configs" / "lab").glob("*.yaml")}
    assert shipped == set(RECIPES)


def _spec(argv):
    module, cfg_name, run_name = COMMANDS[argv[0]][:3]
    if "--method" in argv and argv[argv.index("--method") + 1] in TRAIN_METHODS:
        module, cfg_name, run_name = TRAIN_METHODS[argv[argv.index("--method") + 1]]
    return module, cfg_name, run_name


@pytest.mark.parametrize("recipe", sorted(RECIPES))
def test_recipe_builds_through_its_command(recipe, monkeypatch):
    """``sftlab <cmd> --config <recipe>`` parses and builds (and validates) its config; the run itself is stubbed."""
    argv = [*RECIPES[recipe], "--config", str(ROOT / "configs" / recipe)]
    module, cfg_name, run_name = _spec(argv)
    built = []
    monkeypatch.setattr(importlib.import_module(module), run_name, built.append)
    assert main(argv) == 0
    (cfg,) = built
    assert type(cfg).__name__ == cfg_name
    import yaml

    for key, value in (yaml.safe_load((ROOT / "configs" / recipe).read_text()) or {}).items():
        if key == "demo":  # read by `sftlab demo` only; commands skip it
            continue
        got = getattr(cfg, key.replace("-", "_"))
        assert got == value or (isinstance(got, float) and got == float(value)), key


def _commands():
    for name in COMMANDS:
        yield [name]
    for method in TRAIN_METHODS:
        yield ["train", "--method", method]


@pytest.mark.parametrize("argv", list(_commands()), ids=" ".join)
def test_help_shows_every_fields_documentation(argv, capsys):
    module, cfg_name, _ = _spec(argv)
    cls = getattr(importlib.import_module(module), cfg_name)
    with pytest.raises(SystemExit) as e:
        main([*argv, "--help"])
    assert e.value.code == 0
    text = "".join(capsys.readouterr().out.split())  # argparse wraps lines (and hyphenated words)
    for f in dataclasses.fields(cls):
        if f.metadata.get("cli") is False:
            continue
        assert f.metadata.get("help"), f"{cls.__name__}.{f.name} has no help text"
        assert "--" + f.name.replace("_", "-") in text
        assert "".join(f.metadata["help"].split()) in text, f.name


def test_groups_are_shared_and_paper_defaults_are_redeclared():
    from sftlab.methods.irl import IRLConfig
    from sftlab.methods.nft import NFTTrainConfig
    from sftlab.methods.sft import TrainConfig

    for cls in (TrainConfig, IRLConfig, NFTTrainConfig):
        assert issubclass(cls, (RunArgs, LoraArgs, ModelArgs))
        assert "progress" not in cls.__dict__.get("__annotations__", {})  # defined once, in RunArgs
    assert (TrainConfig().learning_rate, IRLConfig().learning_rate, NFTTrainConfig().learning_rate) == (
        5e-5,
        5e-7,
        1e-6,
    )
    assert (IRLConfig().lora_r, IRLConfig().lora_alpha, TrainConfig().lora_r, TrainConfig().lora_alpha) == (
        64,
        16,
        16,
        32,
    )
    assert NFTTrainConfig().weight_decay == 0.1 and TrainConfig().weight_decay == 0.0


@pytest.mark.parametrize(("module", "cls", "bad", "message"), [
    ("sftlab.methods.irl", "IRLConfig", {"iterations": 0}, "--iterations: must be at least 1, got 0"),
    ("sftlab.methods.irl", "IRLConfig", {"method": "spin", "link": "hinge"}, "--link: SPIN's loss is the logistic link"),
    ("sftlab.methods.nft", "NFTTrainConfig", {"epsilon": 0.0}, "--epsilon: must be > 0, got 0.0"),
    ("sftlab.methods.eval", "EvalConfig", {"k": 0}, "--k: must be at least 1, got 0"),
    ("sftlab.methods.landscape", "LandscapeConfig", {"shots": "a"}, "--shots: expected comma-separated integers"),
    ("sftlab.methods.dart", "AdaptConfig", {"method": "direct_rl"}, "--method: must be one of dart, sdft, grape"),
    ("sftlab.methods.s2l", "SelectConfig", {"n_clusters": 0}, "--n-clusters: must be at least 1, got 0"),
    ("sftlab.methods.distill", "DistillConfig", {"mix_original": 1.0}, "--mix-original: must be in [0, 1)"),
])  # fmt: skip
def test_a_config_checks_itself_when_built_with_one_line_naming_the_flag(module, cls, bad, message):
    cfg_cls = getattr(importlib.import_module(module), cls)
    with pytest.raises(SftlabError) as e:
        cfg_cls(**bad)
    assert str(e.value).startswith(message) and "\n" not in str(e.value)
    with pytest.raises(SftlabError):
        dataclasses.replace(cfg_cls(), **bad)  # a changed copy is checked too


def test_dart_takes_direct_rl():
    from sftlab.methods.dart import DartConfig

    assert DartConfig(method="direct_rl").method == "direct_rl"
