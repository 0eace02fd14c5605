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
