"""The command line: every command has documented flags; recipes and bad values give one-line errors."""

from __future__ import annotations

import re

import pytest

from sftlab.cli import COMMANDS, main


@pytest.mark.parametrize("command", [*COMMANDS, "lab"])
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as e:
        main([command, "--help"] if command != "lab" else ["lab", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "--" in out and "(default:" in out or command == "lab"


def test_train_method_switches_options(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--method", "irft", "--help"])
    irl_help = capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    sft_help = capsys.readouterr().out
    assert "--beta" in irl_help and "--objective" not in irl_help
    assert "--objective" in sft_help and re.search(r"--method \{sft,irft,spin,rft[,}]", sft_help)


def test_recipe_unknown_option_is_one_line_error(tmp_path, capsys):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("objective: dft\nlearning_rat: 1e-4\n")
    assert main(["train", "--config", str(recipe), "--model", "m", "--data", "d"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "r.yaml" in err[0] and "learning_rat" in err[0]


def test_recipe_values_are_defaults_that_flags_override(tmp_path):
    import argparse

    from sftlab.config import build_config
    from sftlab.methods.sft import TrainConfig

    recipe = tmp_path / "r.yaml"
    recipe.write_text("objective: dft\nlearning_rate: 1e-4\nmax_steps: 7\n")
    cfg = build_config(TrainConfig, argparse.Namespace(max_steps=3), str(recipe))
    assert (cfg.objective, cfg.learning_rate, cfg.max_steps) == ("dft", 1e-4, 3)


def test_fused_cpu_on_a_soft_capped_model_is_a_user_error_before_loading(tmp_path, capsys, monkeypatch):
    """``--fused-loss cpu`` where it cannot apply: one line, exit status 2, and neither data nor weights loaded."""
    import sftlab.methods.sft as sft_method
    from tiny import make_model, make_tokenizer

    tok = make_tokenizer()
    model = make_model(len(tok))
    model.config.final_logit_softcapping = 30.0  # as Gemma 2: the CPU path's plain h @ W.T would be wrong
    model.save_pretrained(tmp_path / "capped")
    tok.save_pretrained(tmp_path / "capped")
    data = tmp_path / "d.jsonl"
    data.write_text('{"prompt": "Q", "completion": " A"}\n')
    touched = []
    monkeypatch.setattr("sftlab.data.load_sft_data", lambda *a, **k: touched.append("data"))
    monkeypatch.setattr(sft_method, "load_model_and_tokenizer", lambda *a, **k: touched.append("model"))
    argv = [
        "train",
        "--model",
        str(tmp_path / "capped"),
        "--data",
        str(data),
        "--fused-loss",
        "cpu",
        "--output-dir",
        str(tmp_path / "out"),
    ]
    capsys.readouterr()  # saving the fixture printed progress bars
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--fused-loss cpu does not apply" in err[0] and "soft-caps its logits" in err[0]
    assert touched == [] and not (tmp_path / "out").exists()


def test_python_dash_m_sftlab_is_the_command_line():
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "sftlab", "lab", "--help"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "usage: sftlab lab" in proc.stdout
