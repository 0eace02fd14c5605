"""run_select end to end on a tiny model built here: proxy training, trajectories, subset, manifest, resume."""

import json

import numpy as np
import pytest
import torch
from transformers import LlamaForCausalLM

from sftlab.data import load_sft_data, tokenize_sft
from sftlab.errors import DataError, SftlabError
from sftlab.methods.s2l import SelectConfig, proxy_plan, run_select


def config(setup, out, **kw):
    _, data_path, model_dir, _ = setup
    base = dict(
        method="s2l",
        budget="0.25",
        data=str(data_path),
        proxy_model=str(model_dir),
        output_dir=str(out),
        n_checkpoints=3,
        n_clusters=4,
        proxy_max_steps=5,
        proxy_batch_size=8,
        proxy_micro_batch_size=8,
        proxy_learning_rate=1e-3,
        max_length=48,
        eval_batch_size=16,
        progress=False,
    )
    return SelectConfig(**{**base, **kw})


def test_proxy_plan_evenly_spaced():
    # 100 records, batch 32 (8 x 4 accumulation): 4 steps per epoch, 3 epochs = 12 steps; 12 checkpoints every step
    plan = proxy_plan(SelectConfig(), 100)
    assert plan == {"max_steps": 12, "save_steps": 1, "micro_batch_size": 8, "gradient_accumulation_steps": 4}
    # 1000 records: 32 steps/epoch, 96 steps -> every 8 steps; 2000: 63 steps/epoch, 189 -> ceil(189/12)=16, 192
    assert proxy_plan(SelectConfig(), 1000)["save_steps"] == 8
    assert proxy_plan(SelectConfig(), 2000)["max_steps"] == 192
    assert proxy_plan(SelectConfig(proxy_max_steps=10, n_checkpoints=4), 5)["max_steps"] == 12


def test_run_select_end_to_end(setup, tmp_path):
    root, data_path, model_dir, rows = setup
    out = tmp_path / "s2l"
    result = run_select(config(setup, out))
    assert result["n_selected"] == 10 and result["n_total"] == 40

    # three evenly spaced checkpoints and an (N, C) trajectory matrix
    assert result["proxy"]["steps"] == [2, 4, 6]
    traj = np.load(out / "trajectories" / "trajectories.npy")
    assert traj.shape == (40, 3) and np.isfinite(traj).all()

    # row i of the matrix is record i: the last column equals the last checkpoint's own loss on that record
    data = load_sft_data(str(data_path))
    ckpt = LlamaForCausalLM.from_pretrained(out / "proxy" / "checkpoint-6").eval()
    from transformers import AutoTokenizer

    ds, _ = tokenize_sft(data, AutoTokenizer.from_pretrained(model_dir), max_length=48)
    for i in (0, 7, 39):
        x = torch.tensor([ds[i]["input_ids"]])
        labels = torch.where(torch.tensor([ds[i]["completion_mask"]]).bool(), x, -100)
        with torch.no_grad():
            assert traj[i, 2] == pytest.approx(ckpt(input_ids=x, labels=labels).loss.item(), rel=1e-4)

    # the subset reads back as a data set with the input's fields, and the manifest names its rows
    subset = load_sft_data(str(out / "selected.jsonl"))
    manifest = json.loads((out / "manifest.json").read_text())
    assert len(subset.records) == 10
    assert [r["id"] for r in subset.records] == manifest["ids"] == [rows[i]["id"] for i in manifest["indices"]]
    assert manifest["rows"] == [i + 1 for i in manifest["indices"]]  # 1-based lines of the jsonl
    assert set(subset.records[0]) - {"_row"} == set(rows[0])
    assert sum(manifest["cluster_sizes"]) == 40 and sum(manifest["cluster_selected"]) == 10

    # resume: the proxy is not trained again and the trajectories are reused; same seed, same subset
    stamp = (out / "proxy" / "checkpoint-6" / "trainer_state.json").stat().st_mtime_ns
    again = run_select(config(setup, out))
    assert (out / "proxy" / "checkpoint-6" / "trainer_state.json").stat().st_mtime_ns == stamp
    assert again["indices"] == result["indices"]

    # other baselines reuse the same proxy; stratification by the source field is respected
    el2n = run_select(config(setup, out, method="el2n", budget="5"))
    assert el2n["indices"] == sorted(np.argsort(-traj[:, 2], kind="stable")[:5].tolist())
    strat = run_select(config(setup, out, stratify_by="src", budget="8"))
    srcs = [rows[i]["src"] for i in strat["indices"]]
    assert srcs.count("words") == 4 and srcs.count("symbols") == 4  # balanced: 8 // 2 each

    # a changed proxy setting is refused rather than mixed with the old checkpoints
    with pytest.raises(SftlabError, match="other settings"):
        run_select(config(setup, out, proxy_learning_rate=5e-4))


def test_random_full_and_perplexity_need_no_training(setup, tmp_path):
    _, data_path, _, rows = setup
    r = run_select(config(setup, tmp_path / "r", method="random", budget="7", proxy_model=None))
    assert r["n_selected"] == 7 and r["proxy"] is None
    assert not (tmp_path / "r" / "proxy").exists()
    f = run_select(config(setup, tmp_path / "f", method="full", budget=None, proxy_model=None))
    assert f["indices"] == list(range(40))
    p = run_select(config(setup, tmp_path / "p", method="perplexity-high", budget="0.1"))
    base = np.load(tmp_path / "p" / "base_losses" / "trajectories.npy")[:, 0]
    assert p["indices"] == sorted(np.argsort(-base, kind="stable")[:4].tolist())
    assert not (tmp_path / "p" / "proxy").exists()


def test_bad_inputs(setup, tmp_path):
    with pytest.raises(SftlabError, match="--budget is required"):
        run_select(config(setup, tmp_path / "x", method="random", budget=None))
    with pytest.raises(SftlabError, match="budget '41'"):
        run_select(config(setup, tmp_path / "x", method="random", budget="41"))
    with pytest.raises(DataError, match=r"train.jsonl:1: field 'family': missing"):
        run_select(config(setup, tmp_path / "x", method="random", stratify_by="family"))


def test_proxy_checkpoints_from_the_users_own_run(setup, tmp_path):
    _, _, model_dir, _ = setup
    model = LlamaForCausalLM.from_pretrained(model_dir)
    for step in (5, 10, 15, 20, 25):
        model.save_pretrained(tmp_path / "run" / f"checkpoint-{step}")
    r = run_select(config(setup, tmp_path / "o", proxy_checkpoints=str(tmp_path / "run"), n_checkpoints=3))
    assert r["proxy"]["steps"] == [5, 15, 25]  # thinned to 3 evenly spaced, the last kept
    assert np.load(tmp_path / "o" / "trajectories" / "trajectories.npy").shape == (40, 3)
    assert not (tmp_path / "o" / "proxy").exists()
    listed = ",".join(str(tmp_path / "run" / f"checkpoint-{s}") for s in (10, 20))
    assert run_select(config(setup, tmp_path / "o2", proxy_checkpoints=listed))["proxy"]["steps"] == [10, 20]
    with pytest.raises(SftlabError, match="no checkpoint"):
        run_select(config(setup, tmp_path / "o3", proxy_checkpoints=str(tmp_path / "o2")))


def test_bad_settings_are_one_line_errors(setup, tmp_path):
    for kw, flag in (
        (dict(method="best"), "--method"),
        (dict(n_clusters=0), "--n-clusters"),
        (dict(eval_batch_size=0), "--eval-batch-size"),
        (dict(source_split="even"), "--source-split"),
    ):
        with pytest.raises(SftlabError, match=flag):
            run_select(config(setup, tmp_path / "x", **kw))
