"""``sftlab adapt`` and ``sftlab dart`` end to end on tiny models, resuming, and their errors."""

from __future__ import annotations

import json

import pytest

import sftlab.methods.dart.run as run_mod
from sftlab.errors import SftlabError
from sftlab.io import read_jsonl
from sftlab.methods.dart import AdaptConfig, DartConfig, run_adapt, run_dart


def _cfg(cls, tmp_path, data_file, target_dir, mapper_dir, **kw):
    values = dict(model=str(target_dir), mapper=str(mapper_dir), data=str(data_file), output_dir=str(tmp_path / "out"),
                  rl_steps=2, group_size=4, prompts_per_step=2, rl_learning_rate=1e-3, max_completion_length=12,
                  n_samples=2, shard_size=5, progress=False)  # fmt: skip
    values.update(kw)
    return cls(**values)


def test_run_adapt_trains_the_mapper_then_synthesizes_and_resumes(
    tmp_path, monkeypatch, data_file, records, target_dir, mapper_dir
):
    cfg = _cfg(AdaptConfig, tmp_path, data_file, target_dir, mapper_dir)
    summary = run_adapt(cfg)
    out = tmp_path / "out"
    assert summary["rl"]["steps"] == 2 and len(summary["rl"]["curve"]["dart/alignment"]) == 2
    assert summary["mapper"] == str(out / "mapper") and (out / "mapper" / "rl_summary.json").is_file()
    assert summary["manifest"]["mapper"] == str(out / "mapper")
    rows = read_jsonl(summary["data"])
    assert [r["id"] for r in rows] == [r["id"] for r in records]
    assert json.loads((out / "config.json").read_text())["resolved"]["mapper"] == str(mapper_dir)

    # a second run reuses the trained mapper and every shard
    monkeypatch.setattr(run_mod, "run_grpo", lambda *a, **k: pytest.fail("RL ran again"))
    import sftlab.methods.dart.synthesis as synthesis

    monkeypatch.setattr(synthesis, "_adapt_shard", lambda *a, **k: pytest.fail("a shard was recomputed"))
    again = run_adapt(cfg)
    assert read_jsonl(again["data"]) == rows


def test_rl_steps_zero_uses_the_mapper_as_is(tmp_path, data_file, target_dir, mapper_dir):
    summary = run_adapt(_cfg(AdaptConfig, tmp_path, data_file, target_dir, mapper_dir, rl_steps=0, max_examples=5))
    assert summary["rl"] is None and summary["mapper"] == str(mapper_dir)
    assert summary["manifest"]["n"] == 5


def test_run_dart_fine_tunes_the_target_on_the_adapted_data(tmp_path, data_file, target_dir, mapper_dir):
    cfg = _cfg(
        DartConfig,
        tmp_path,
        data_file,
        target_dir,
        mapper_dir,
        rl_steps=1,
        train_max_steps=2,
        train_batch_size=4,
        train_learning_rate=1e-3,
        objective="dft",
    )
    result = run_dart(cfg)
    out = tmp_path / "out"
    assert result["adapt"]["data"] == str(out / "adapt" / "adapted.jsonl")
    train = json.loads((out / "train" / "train_summary.json").read_text())
    assert train["data"] == str(out / "adapt" / "adapted.jsonl") and train["global_step"] == 2
    assert train["config"]["objective"] == "dft"
    assert (out / "train" / "config.json").is_file()  # a standard checkpoint of the fine-tuned target


def test_bad_options_and_data_give_one_clear_error(tmp_path, target_dir, mapper_dir):
    with pytest.raises(SftlabError, match="--mapper-template:.*missing: \\['solution'\\]"):
        AdaptConfig(mapper_template="Q: {question}\nRewrite:")
    with pytest.raises(SftlabError, match="--mapper-template:.*unknown: \\['answer'\\]"):
        AdaptConfig(mapper_template="{question} {solution} {answer}")
    with pytest.raises(SftlabError, match="^--group-size: "):
        AdaptConfig(group_size=1)
    with pytest.raises(SftlabError, match="^--coverage-weight: weights must be >= 0"):
        AdaptConfig(coverage_weight=-1.0)
    pc = tmp_path / "pc.jsonl"
    pc.write_text(json.dumps({"prompt": "2+2?", "completion": "4"}) + "\n")
    with pytest.raises(SftlabError, match="reasoning records.*prompt_completion"):
        run_adapt(_cfg(AdaptConfig, tmp_path, pc, target_dir, mapper_dir))


def test_configs_become_cli_flags_and_recipes_load():
    """Every field is a --flag with its help; the shipped recipes load into DartConfig."""
    import argparse
    import dataclasses
    from pathlib import Path

    from sftlab.config import add_dataclass_args, build_config

    root = Path(__file__).resolve().parents[3]
    for cls in (AdaptConfig, DartConfig):
        assert all(f.metadata.get("help") for f in dataclasses.fields(cls)), cls
        parser = argparse.ArgumentParser()
        add_dataclass_args(parser, cls)
        args = parser.parse_args(["--rl-steps", "3", "--coverage-weight", "0.5", "--no-progress", "--method", "grape"])
        cfg = build_config(cls, args)
        assert (cfg.rl_steps, cfg.coverage_weight, cfg.progress, cfg.method) == (3, 0.5, False, "grape")
    for recipe in ("configs/dart.yaml", "configs/lab/dart.yaml"):
        cfg = build_config(DartConfig, argparse.Namespace(), str(root / recipe))
        assert cfg.method == "dart" and cfg.rl_steps > 0
