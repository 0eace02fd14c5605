"""Loss trajectories: each example's mean completion loss at every proxy checkpoint.

Forward only, in ``torch.inference_mode``, batched by length with right
padding. Per-token log-probabilities come from TRL's fused LM head
(:func:`trl.trainer.utils.add_fused_lm_head`), so the ``(batch, tokens, vocab)``
logits never exist at once. Recording is resumable: each checkpoint's losses go
to their own column file, written atomically, and a column already on disk is
not computed again. The result is the ``(N, C)`` matrix S2L clusters
(arXiv 2403.07384, Sec. 4).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from sftlab.generation.scoring import example_losses
from sftlab.io import atomic_file, atomic_write_json
from sftlab.models import load_causal_lm

INDEX = "index.json"
MATRIX = "trajectories.npy"


def record_trajectories(
    checkpoints: list[str | os.PathLike],
    dataset,
    out_dir: str | os.PathLike,
    *,
    batch_size: int = 32,
    max_length: int | None = None,
    progress: bool = True,
) -> np.ndarray:
    """The ``(N, C)`` loss matrix of ``dataset`` over ``checkpoints`` (HF model folders), resumable.

    Writes ``out_dir/columns/<checkpoint name>.npy`` per checkpoint, then
    ``out_dir/trajectories.npy`` and ``out_dir/index.json`` (checkpoints in
    column order, their paths, N, and a fingerprint of the tokens). A column
    already on disk is reused when it was made from the same tokens by the same
    checkpoint path; any other column is discarded.
    """
    out_dir = Path(out_dir)
    fingerprint = dataset_fingerprint(dataset, max_length)
    names = [Path(c).name for c in checkpoints]
    if len(set(names)) != len(names):
        raise ValueError(f"checkpoint folder names must be distinct, got {names}")
    index_file = out_dir / INDEX
    index = {
        "n": len(dataset),
        "fingerprint": fingerprint,
        "checkpoints": names,
        "paths": [str(c) for c in checkpoints],
        "max_length": max_length,
        "complete": False,
    }
    col_dir = out_dir / "columns"
    # keep a column on disk only if it was made from the same tokens by the same checkpoint path
    old = json.loads(index_file.read_text(encoding="utf-8")) if index_file.exists() else {}
    old_paths = dict(zip(old.get("checkpoints", []), old.get("paths", [])))
    new_paths = dict(zip(names, index["paths"]))
    for f in col_dir.glob("*.npy"):
        if old.get("fingerprint") != fingerprint or old_paths.get(f.stem) != new_paths.get(f.stem, ""):
            f.unlink()
    atomic_write_json(index_file, index)
    columns = []
    for path, name in zip(checkpoints, names):
        col_file = col_dir / f"{name}.npy"
        if col_file.exists():
            columns.append(np.load(col_file))
            continue
        model = load_causal_lm(str(path), "score", quiet=not progress)  # fp32 on CPU, bf16 on a bf16 GPU
        losses = example_losses(
            model, dataset, batch_size=batch_size, max_length=max_length, progress=progress, desc=f"losses @ {name}"
        )
        del model
        save_npy(col_file, losses)
        columns.append(losses)
    matrix = np.stack(columns, axis=1) if columns else np.zeros((len(dataset), 0), np.float32)  # (N, C)
    save_npy(out_dir / MATRIX, matrix)
    atomic_write_json(index_file, {**index, "complete": True})
    return matrix


def dataset_fingerprint(dataset, max_length: int | None = None) -> str:
    """A hash of the tokens and masks (as cut to ``max_length``), to tell stale loss columns apart."""
    h = hashlib.sha1(str(max_length).encode())
    for ids, mask in zip(dataset["input_ids"], dataset["completion_mask"]):
        h.update(np.asarray(ids, dtype=np.int64).tobytes())
        h.update(np.asarray(mask, dtype=np.int8).tobytes())
        h.update(b"|")
    return h.hexdigest()


def save_npy(path: str | os.PathLike, array: np.ndarray) -> Path:
    """``np.save`` through a temporary file and a rename."""
    with atomic_file(path, "wb") as f:
        np.save(f, array)
    return Path(path)
