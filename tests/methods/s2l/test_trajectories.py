"""Recorded losses equal the model's own loss; recording resumes from the columns on disk."""

import json

import datasets
import numpy as np
import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from sftlab.generation.scoring import example_losses
from sftlab.methods.s2l.trajectories import record_trajectories


def tiny_llama(seed=0):
    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=61,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
    )
    return LlamaForCausalLM(cfg).eval()


def toy_dataset(n=11, seed=0):
    """Prompts and completions of different lengths; the mask is 1 on the completion."""
    rng = np.random.default_rng(seed)
    ids, masks = [], []
    for _ in range(n):
        p, c = int(rng.integers(1, 9)), int(rng.integers(1, 12))
        ids.append(rng.integers(1, 61, p + c).tolist())
        masks.append([0] * p + [1] * c)
    return datasets.Dataset.from_dict({"input_ids": ids, "completion_mask": masks})


def direct_loss(model, ids, mask):
    """transformers' own loss for one example, prompt tokens labelled -100 (no batching, no padding)."""
    x = torch.tensor([ids])
    labels = torch.where(torch.tensor([mask]).bool(), x, -100)
    with torch.no_grad():
        return model(input_ids=x, labels=labels).loss.item()


def test_recorded_losses_equal_direct_computation():
    model, ds = tiny_llama(), toy_dataset()
    got = example_losses(model, ds, batch_size=4, progress=False)  # batches mix lengths: padding must not leak
    want = [direct_loss(model, r["input_ids"], r["completion_mask"]) for r in ds]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert "forward" not in vars(model)  # the fused head is removed again


def test_max_length_cuts_and_empty_completion_is_nan():
    model = tiny_llama()
    ds = datasets.Dataset.from_dict(
        {
            "input_ids": [[5, 6, 7, 8, 9, 10], [5, 6, 7, 8, 9, 10]],
            "completion_mask": [[0, 0, 1, 1, 1, 1], [0, 0, 0, 0, 1, 1]],
        }
    )
    got = example_losses(model, ds, max_length=4, progress=False)
    np.testing.assert_allclose(got[0], direct_loss(model, [5, 6, 7, 8], [0, 0, 1, 1]), rtol=1e-5)
    assert np.isnan(got[1])


def test_record_trajectories_resumes(tmp_path):
    ds = toy_dataset(7)
    ckpts = []
    for step in (1, 2):
        tiny_llama(seed=step).save_pretrained(tmp_path / "proxy" / f"checkpoint-{step}")
        ckpts.append(tmp_path / "proxy" / f"checkpoint-{step}")
    out = tmp_path / "traj"
    m = record_trajectories(ckpts, ds, out, batch_size=3, progress=False)
    assert m.shape == (7, 2)
    want = [direct_loss(LlamaForCausalLM.from_pretrained(ckpts[1]), r["input_ids"], r["completion_mask"]) for r in ds]
    np.testing.assert_allclose(m[:, 1], want, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(np.load(out / "trajectories.npy"), m)
    index = json.loads((out / "index.json").read_text())
    assert index["checkpoints"] == ["checkpoint-1", "checkpoint-2"] and index["n"] == 7 and index["complete"]

    # a column on disk is reused, not recomputed: plant a marker and see it come back
    np.save(out / "columns" / "checkpoint-1.npy", np.full(7, 123.0, np.float32))
    again = record_trajectories(ckpts, ds, out, progress=False)
    assert (again[:, 0] == 123.0).all()
    np.testing.assert_allclose(again[:, 1], m[:, 1])

    # another model under the same folder name: its column is recomputed, the other one kept
    tiny_llama(seed=5).save_pretrained(tmp_path / "other" / "checkpoint-1")
    moved = record_trajectories([tmp_path / "other" / "checkpoint-1", ckpts[1]], ds, out, progress=False)
    assert not (moved[:, 0] == 123.0).any()
    np.save(out / "columns" / "checkpoint-2.npy", np.full(7, 7.0, np.float32))
    assert (
        record_trajectories([tmp_path / "other" / "checkpoint-1", ckpts[1]], ds, out, progress=False)[:, 1] == 7.0
    ).all()

    # other tokens: the stale columns are discarded and recomputed
    fresh = record_trajectories(ckpts, toy_dataset(7, seed=1), out, progress=False)
    assert not (fresh == 7.0).any() and not (fresh == 123.0).any()


def test_distinct_checkpoint_names_required(tmp_path):
    with pytest.raises(ValueError, match="distinct"):
        record_trajectories([tmp_path / "a" / "ckpt", tmp_path / "b" / "ckpt"], toy_dataset(2), tmp_path / "t")
