"""Building the lab: files, cache, reload with transformers, reproducible and resumable pretraining."""

from __future__ import annotations

import json
import os
import time

import pytest
import torch

from sftlab.data import load_sft_data
from sftlab.data.tokenize import tokenize_sft
from sftlab.lab import LabConfig, build_lab, ensure_lab, lab_info
from sftlab.lab.pretrain import encode, make_model, pretrain
from sftlab.lab.tasks import SPLITS, generate_splits
from sftlab.lab.tokenizer import train_tokenizer
from sftlab.verify import verify

TINY = LabConfig.tiny()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    cache = tmp_path_factory.mktemp("lab-cache")
    return build_lab(TINY, cache_dir=cache, progress=False, threads=1), cache


def test_build_writes_model_data_and_info(lab):
    art, cache = lab
    assert art.root == cache / TINY.key()
    assert sorted(p.name for p in art.root.iterdir()) == ["data", "lab.json", "model"]
    assert not list(cache.glob(".*.partial")) and not list(cache.glob(".*.tmp"))
    for split in SPLITS:
        records = art.records(split)
        assert len(records) == getattr(TINY, f"{split}_size") and records[0]["split"] == split
    assert art.records("train") == generate_splits(TINY)["train"]
    info = json.loads((art.root / "lab.json").read_text())
    assert info == art.info and art.config == TINY
    assert set(info["base_accuracy"]) == set(SPLITS)
    for split, a in info["base_accuracy"].items():  # a share of the split's scored problems, as its detail records
        n = info["base_accuracy_detail"][split]["n"]
        assert (
            n == min(TINY.eval_size, len(art.records(split))) and info["base_accuracy_detail"][split]["accuracy"] == a
        )
        assert a * n == pytest.approx(round(a * n), abs=1e-3 * n)
    detail = info["base_accuracy_detail"]["test_ood"]
    assert set(detail["by_shift"]) == set(TINY.shift_list) and set(detail["by_family"]) == set(TINY.train_families)
    assert (
        info["pretrain"]["steps"] == TINY.pretrain_steps
        and len(info["pretrain"]["loss_curve"]) == TINY.pretrain_steps // 10
    )
    curve = [loss for _, loss in info["pretrain"]["loss_curve"]]
    assert curve[-1] < curve[0] / 2  # it learned something
    assert info["model"]["parameters"] > 0 and info["build_seconds"] > 0


def test_base_accuracy_is_what_the_checkpoint_scores(lab):
    """Re-score the stored examples: each verdict matches verify() on the stored completion."""
    art, _ = lab
    for detail in art.info["base_accuracy_detail"].values():
        for ex in detail["examples"]:
            assert ex["correct"] == verify(ex["completion"], ex["answer"])


def test_checkpoint_reloads_with_transformers_and_generates(lab):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    art, _ = lab
    model = AutoModelForCausalLM.from_pretrained(art.model_dir).eval()
    tok = AutoTokenizer.from_pretrained(art.model_dir)
    assert tok.bos_token and tok.eos_token and tok.pad_token and not tok.chat_template
    assert model.config.vocab_size == len(tok) and model.config.model_type == "llama"
    digits = [t for t in tok.convert_ids_to_tokens(tok("Solution: 123+45=168")["input_ids"]) if t.strip("Ġ").isdigit()]
    assert digits == list("12345168")
    enc = tok(["Question: Mia has 3 coins in a jar.\nSolution:"], return_tensors="pt")
    out = model.generate(**enc, max_new_tokens=5, do_sample=False, pad_token_id=tok.pad_token_id)
    assert out.shape[1] > enc["input_ids"].shape[1]


def test_pretraining_sequences_equal_what_sft_trains_on(lab, tmp_path):
    """Pretraining text = render_prompt + completion_text + EOS, token for token as the SFT data layer builds it."""
    from transformers import AutoTokenizer

    art, _ = lab
    tok = AutoTokenizer.from_pretrained(art.model_dir)
    records = art.records("pretrain")[:20]
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps({k: r[k] for k in ("question", "solution", "answer")}) + "\n" for r in records))
    dataset, _ = tokenize_sft(load_sft_data(str(path)), tok, max_length=512)
    assert encode(records, tok, 512) == dataset["input_ids"]
    assert tok.decode(dataset["input_ids"][0]) == (
        f"<s>Question: {records[0]['question']}\nSolution: {records[0]['solution']}</s>"
    )


def test_cached_rebuild_is_a_no_op(lab):
    art, cache = lab
    stamp = (art.root / "lab.json").stat().st_mtime_ns
    again = build_lab(TINY, cache_dir=cache, progress=False)  # lab.json untouched (below): nothing was rebuilt
    assert again.root == art.root and again.info == art.info
    assert (art.root / "lab.json").stat().st_mtime_ns == stamp
    assert ensure_lab(TINY, cache_dir=cache).info == art.info


def test_lab_info_before_and_after_build(lab, tmp_path):
    art, cache = lab
    info = lab_info(TINY, cache_dir=cache)
    assert (
        info["built"] and info["model_dir"] == str(art.model_dir) and info["base_accuracy"] == art.info["base_accuracy"]
    )
    assert "loss_curve" not in info["pretrain"]
    missing = lab_info(TINY, cache_dir=tmp_path)
    assert not missing["built"] and missing["config"] == TINY.to_dict() and missing["key"] == TINY.key()


def test_key_depends_on_config_and_version(monkeypatch):
    import sftlab

    assert LabConfig().key() == LabConfig().key() != LabConfig(seed=1).key()
    assert LabConfig(expert_prior_fraction=0.0).key() != LabConfig().key()
    key = LabConfig().key()
    monkeypatch.setattr(sftlab, "__version__", "0.0.0-test")
    assert LabConfig().key() != key


def test_cache_dir_default_follows_env(monkeypatch, tmp_path):
    from sftlab.lab import default_cache_dir, lab_root

    monkeypatch.setenv("SFTLAB_CACHE", str(tmp_path))
    assert default_cache_dir() == tmp_path / "lab"
    assert lab_root(TINY) == tmp_path / "lab" / TINY.key()


def _small_pretraining(steps: int):
    cfg = LabConfig.tiny(pretrain_size=200, pretrain_steps=steps, warmup_steps=2)
    splits = generate_splits(cfg)
    tok = train_tokenizer([r["question"] + " " + r["solution"] for r in splits["pretrain"]], 300)
    return cfg, tok, encode(splits["pretrain"], tok, cfg.max_length)


def test_pretraining_is_reproducible_and_resumes_exactly(tmp_path, monkeypatch):
    import sftlab.lab.pretrain as pretrain_module

    torch.set_num_threads(1)
    cfg, tok, seqs = _small_pretraining(20)
    a = make_model(cfg, tok)
    log_a = pretrain(a, seqs, cfg, tok.pad_token_id, progress=False)
    b = make_model(cfg, tok)
    pretrain(b, seqs, cfg, tok.pad_token_id, progress=False)
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(pa, pb), name

    # Interrupted after 10 steps (state saved), then resumed: same weights as the uninterrupted run.
    calls = []

    def collate_then_interrupt(*args):
        calls.append(1)
        if len(calls) == 13:
            raise KeyboardInterrupt
        return collate(*args)

    collate = pretrain_module.collate
    monkeypatch.setattr(pretrain_module, "collate", collate_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        pretrain(make_model(cfg, tok), seqs, cfg, tok.pad_token_id, state_dir=tmp_path, progress=False, save_every=10)
    monkeypatch.setattr(pretrain_module, "collate", collate)
    assert torch.load(tmp_path / "pretrain_state.pt", weights_only=False)["step"] == 10
    d = make_model(cfg, tok)
    log_d = pretrain(d, seqs, cfg, tok.pad_token_id, state_dir=tmp_path, progress=False, save_every=10)
    for (name, pa), pd in zip(a.state_dict().items(), d.state_dict().values()):
        assert torch.equal(pa, pd), name
    assert log_d["loss"] == log_a["loss"] and log_d["tokens"] == log_a["tokens"]


def test_forced_rebuild_is_identical_and_clears_stale_temp_folders(lab):
    """Same seed and thread count -> the same data files and bit-identical weights."""
    from safetensors.torch import load_file

    art, cache = lab
    before = load_file(art.model_dir / "model.safetensors")
    data_before = {s: p.read_bytes() for s, p in art.data.items()}
    stale = cache / f".{TINY.key()}.killed.tmp"
    (stale / "data").mkdir(parents=True)
    again = build_lab(TINY, cache_dir=cache, force=True, progress=False, threads=1)
    assert not stale.exists()
    after = load_file(again.model_dir / "model.safetensors")
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    assert {s: p.read_bytes() for s, p in again.data.items()} == data_before
    assert again.info["base_accuracy"] == art.info["base_accuracy"]


@pytest.mark.skipif(not os.path.exists("/proc/loadavg"), reason="needs /proc/loadavg")
def test_thread_rule_counts_a_busy_process_and_not_finished_ones():
    import subprocess
    import sys

    from sftlab.lab.model import _free_cores, _running_others

    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)
        assert _running_others() >= 1
        n = len(os.sched_getaffinity(0))
        assert _free_cores() <= max(1, n - 1)
    finally:
        spinner.kill()
        spinner.wait()
