"""Two CPU processes under `accelerate launch` train a few steps and save one standard checkpoint."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from transformers import AutoModelForCausalLM

from tiny import make_model, make_tokenizer

ROOT = Path(__file__).resolve().parents[2]


def test_two_process_cpu_launch(tmp_path):
    tok = make_tokenizer()
    make_model(len(tok)).save_pretrained(tmp_path / "tiny")
    tok.save_pretrained(tmp_path / "tiny")
    rows = [{"prompt": f"Add {a} and {b}.", "completion": f"{a + b}"} for a in range(8) for b in range(4)]
    (tmp_path / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out"
    cmd = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--config_file",
        str(ROOT / "configs/accelerate/cpu2.yaml"),
        "-m",
        "sftlab.cli",
        "train",
        "--model",
        str(tmp_path / "tiny"),
        "--data",
        str(tmp_path / "d.jsonl"),
        "--output-dir",
        str(out),
        "--objective",
        "dft",
        "--max-steps",
        "3",
        "--per-device-train-batch-size",
        "2",
        "--logging-steps",
        "1",
        "--learning-rate",
        "1e-3",
        "--max-length",
        "32",
        "--no-progress",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MASTER_PORT": "29517"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["global_step"] == 3
    logged = [h for h in summary["log_history"] if "loss" in h]
    assert len(logged) == 3 and all("nll" in h for h in logged)
    AutoModelForCausalLM.from_pretrained(out)  # one standard checkpoint, written by the main process
