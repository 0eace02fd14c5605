"""`sftlab train` end to end on a tiny model saved to disk: logs, weights move, checkpoint reloads, resume."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from sftlab.cli import main
from sftlab.methods.sft import TrainConfig, run_train
from tiny import make_model, make_tokenizer


@pytest.fixture
def tiny_dir(tmp_path):
    tok = make_tokenizer()
    model = make_model(len(tok), seed=0)
    d = tmp_path / "tiny"
    model.save_pretrained(d)
    tok.save_pretrained(d)
    return d


@pytest.fixture
def data_file(tmp_path):
    rows = [
        {"question": f"What is {a} plus {b}?", "solution": f"{a}+{b}={a + b}; #### {a + b}"}
        for a in range(1, 7)
        for b in range(1, 5)
    ]
    p = tmp_path / "train.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return p


def _cfg(tiny_dir, data_file, out, **kw):
    base = dict(
        model=str(tiny_dir),
        data=str(data_file),
        output_dir=str(out),
        max_steps=4,
        learning_rate=1e-3,
        per_device_train_batch_size=4,
        logging_steps=1,
        save_steps=2,
        max_length=64,
        progress=False,
        warmup_ratio=0.0,
    )
    base.update(kw)
    return TrainConfig(**base)


@pytest.mark.parametrize("objective", ["dft", "asft"])
def test_train_logs_moves_weights_and_reloads(tiny_dir, data_file, tmp_path, objective):
    out = tmp_path / "out"
    summary = run_train(_cfg(tiny_dir, data_file, out, objective=objective))
    logs = [h for h in summary["log_history"] if "loss" in h]
    assert logs and all("nll" in h and "mean_token_accuracy" in h for h in logs)
    assert logs[0]["nll"] > logs[0]["loss"]  # DFT's objective sits below the plain NLL it is logged beside
    if objective == "asft":
        assert all("kl" in h for h in logs)
    before = AutoModelForCausalLM.from_pretrained(tiny_dir)
    after = AutoModelForCausalLM.from_pretrained(out)
    assert any(not torch.equal(a, b) for a, b in zip(before.parameters(), after.parameters()))
    tok = AutoTokenizer.from_pretrained(out)
    ids = tok("Question: What is 2 plus 3?\nSolution:", return_tensors="pt")
    gen = after.generate(**ids, max_new_tokens=5, do_sample=False)
    assert gen.shape[1] > ids["input_ids"].shape[1]
    assert (out / "train_summary.json").is_file() and (out / "checkpoint-4").is_dir()


def test_resume_continues_from_last_checkpoint(tiny_dir, data_file, tmp_path):
    out = tmp_path / "out"
    run_train(_cfg(tiny_dir, data_file, out, max_steps=2))
    summary = run_train(_cfg(tiny_dir, data_file, out, max_steps=4, resume=True))
    steps = [h["step"] for h in summary["log_history"] if "loss" in h]
    assert summary["global_step"] == 4 and min(steps) == 1 and 3 in steps  # history carried over, steps 3-4 new


def test_lora_run_saves_merged_standard_checkpoint(tiny_dir, data_file, tmp_path):
    out = tmp_path / "out"
    run_train(_cfg(tiny_dir, data_file, out, lora=True, lora_r=4, lora_alpha=8, max_steps=2, learning_rate=1e-2))
    merged = AutoModelForCausalLM.from_pretrained(out)  # plain transformers load: no PEFT needed
    assert not any("lora" in n for n, _ in merged.named_parameters())
    assert (out / "adapter" / "adapter_config.json").is_file()


def test_cli_bad_data_exits_2_and_writes_nothing(tiny_dir, tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "q", "solution": "s"}\n{"question": "q2"}\n')
    out = tmp_path / "never"
    code = main(["train", "--model", str(tiny_dir), "--data", str(bad), "--output-dir", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "bad.jsonl:2" in err[0] and "solution" in err[0]
    assert not out.exists()


def test_packing_run(tiny_dir, data_file, tmp_path):
    """Packed sequences (TRL's BFD packing, padding-free batches) train with the fused objective."""
    out = tmp_path / "out"
    summary = run_train(_cfg(tiny_dir, data_file, out, packing=True, objective="dft", max_steps=2))
    logs = [h for h in summary["log_history"] if "loss" in h]
    assert summary["global_step"] == 2 and all("nll" in h for h in logs)


def test_cli_max_length_over_context_exits_2_before_data(tiny_dir, tmp_path, capsys):
    """The tiny model's context is 256 (tests/tiny.py): --max-length 1024 is refused from the config alone,
    before the (missing) data file is read."""
    out = tmp_path / "never"
    code = main(
        [
            "train",
            "--model",
            str(tiny_dir),
            "--data",
            str(tmp_path / "missing.jsonl"),
            "--max-length",
            "1024",
            "--output-dir",
            str(out),
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "--max-length 1024 exceeds the context" in err[0] and "max_position_embeddings 256" in err[0]
    assert not out.exists()
