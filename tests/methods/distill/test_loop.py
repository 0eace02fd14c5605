"""The distill loop on a tiny model: two rounds end to end, then resumption after interruptions."""

from __future__ import annotations

import json
import shutil

import pytest

from sftlab.errors import SftlabError
from sftlab.io import atomic_write_jsonl, read_jsonl
from sftlab.methods.distill import loop
from sftlab.methods.distill.loop import DistillConfig, _mix_original, resolve, run_distill

PROMPTS = [
    {
        "prompt": "Question: Tom has 3 apples and buys 4 more. How many apples?\nSolution:",
        "completion": " 3+4=7; #### 7",
    },
    {
        "prompt": "Question: A box holds 12 pens; 5 are taken. How many remain?\nSolution:",
        "completion": " 12-5=7; #### 7",
    },
    {"prompt": "Question: She walks 6 km each day for 3 days. How far?\nSolution:", "completion": " 6*3=18; #### 18"},
    {"prompt": "Question: What is 2 plus 3?\nSolution:", "completion": " 2+3=5; #### 5"},
]


def config(root, out="run", **kw) -> DistillConfig:
    base = dict(
        model=str(root / "model"), prompts=str(root / "prompts.jsonl"), eval_data=f"heldout={root / 'prompts.jsonl'}",
        rounds=2, n=2, max_new_tokens=8, temperature=1.0, filters=r"regex:pattern=\S,dedup", mix_original=0.5,
        train_steps=2, batch_size=4, learning_rate=1e-3, max_length=64, eval_size=4, output_dir=str(root / out),
        progress=False,
    )  # fmt: skip
    base.update(kw)
    return DistillConfig(**base)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A completed 2-round run (shared by the tests, which copy it before changing it)."""
    from tiny import make_model, make_tokenizer

    root = tmp_path_factory.mktemp("distill")
    tok = make_tokenizer()
    make_model(len(tok)).save_pretrained(root / "model")
    tok.save_pretrained(root / "model")
    atomic_write_jsonl(root / "prompts.jsonl", PROMPTS)
    result = run_distill(config(root))
    return root, result


def test_two_rounds_write_everything(finished):
    root, result = finished
    out = root / "run"
    assert (out / "base" / "metrics.json").exists() and (out / "report.html").exists()
    assert list(result["methods"]) == ["base", "round-1", "round-2"]
    rounds = result["sections"]["distill"]["rounds"]
    for r, m in enumerate(rounds, start=1):
        rdir = out / f"round-{r}"
        gens = read_jsonl(rdir / "generations.jsonl")
        assert len(gens) == 4 * 2 == m["n_samples"]  # 4 prompts x n=2
        survivors = read_jsonl(rdir / "survivors.jsonl")
        assert len(survivors) == m["n_survivors"] == sum(g["removed_by"] is None for g in gens)
        # chain counts add up: each filter sees what the previous one kept
        stats = m["filters"]
        assert [s["filter"] for s in stats] == ["regex", "dedup"]  # cost 0.2, then 0.3
        assert stats[0]["seen"] == 8 and stats[1]["seen"] == stats[0]["kept"] and stats[1]["kept"] == m["n_survivors"]
        assert m["n_survivors"] > 0 and m["trained"]
        # mixing: share 0.5 -> as many original records as survivors (capped at the 4 available)
        train = read_jsonl(rdir / "train.jsonl")
        assert m["n_original"] == min(4, m["n_survivors"]) == sum(t.get("source") == "original" for t in train)
        assert (rdir / "checkpoint" / "config.json").exists() and not list((rdir / "checkpoint").glob("checkpoint-*"))
        assert m["train"]["steps"] == 2
        assert set(m["eval"]["accuracy"]) == {"heldout"} and m["eval"]["n"]["heldout"] == 4
        assert json.loads((rdir / "metrics.json").read_text())["n_survivors"] == m["n_survivors"]
    assert rounds[0]["start_model"] == str(root / "model")
    assert rounds[1]["start_model"] == "round-1/checkpoint"  # the next round starts from the new model
    # training changed the weights
    from safetensors.torch import load_file

    before = load_file(root / "model" / "model.safetensors")
    after = load_file(out / "round-1" / "checkpoint" / "model.safetensors")
    assert any(not (before[k] == after[k]).all() for k in before)


def _copy(root, name):
    shutil.copytree(root / "run", root / name)
    return root / name


def _count(monkeypatch, module, name):
    calls = []
    real = getattr(module, name)

    def counted(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


def test_resume_redoes_only_the_incomplete_round(finished, monkeypatch):
    root, result = finished
    out = _copy(root, "resume-a")
    (out / "round-2" / "metrics.json").unlink()
    import sftlab.methods.sft

    samples = _count(monkeypatch, loop, "sample_candidates")
    trains = _count(monkeypatch, sftlab.methods.sft, "run_train")
    rounds = _count(monkeypatch, loop, "run_round")
    again = run_distill(config(root, out="resume-a"))
    assert [args[2] for args in rounds] == [2]  # round 1 is complete, round 2 is redone
    assert samples == [] and trains == []  # its samples and finished training are reused
    old, new = result["sections"]["distill"]["rounds"][1], again["sections"]["distill"]["rounds"][1]
    assert new["filters"] == old["filters"] and new["eval"]["accuracy"] == old["eval"]["accuracy"]


def test_resume_after_a_crash_mid_round(finished, monkeypatch):
    root, result = finished
    out = _copy(root, "resume-b")
    shutil.rmtree(out / "round-2")
    import sftlab.methods.sft

    def crash(cfg):
        raise RuntimeError("interrupted during training")

    monkeypatch.setattr(sftlab.methods.sft, "run_train", crash)
    with pytest.raises(RuntimeError, match="interrupted"):
        run_distill(config(root, out="resume-b"))
    assert (out / "round-2" / "generations.jsonl").exists() and not (out / "round-2" / "metrics.json").exists()
    monkeypatch.undo()

    samples = _count(monkeypatch, loop, "sample_candidates")
    again = run_distill(config(root, out="resume-b"))
    assert samples == []  # the samples drawn before the crash are reused
    assert (out / "round-2" / "metrics.json").exists()
    old, new = result["sections"]["distill"]["rounds"][1], again["sections"]["distill"]["rounds"][1]
    assert new["filters"] == old["filters"] and new["n_survivors"] == old["n_survivors"]


def test_refuses_to_mix_two_runs(finished):
    root, _ = finished
    out = _copy(root, "resume-c")
    with pytest.raises(SftlabError, match="field 'temperature'"):
        run_distill(config(root, out="resume-c", temperature=0.5))
    assert out.exists()


def test_config_checks_and_pack_defaults(tmp_path):
    cfg = resolve(DistillConfig(pack="protein"))
    assert (cfg.n, cfg.max_new_tokens, cfg.eval_size) == (128, 160, 128)
    assert resolve(DistillConfig(n=3)).n == 3
    for bad, msg in [
        (dict(pack="chem"), "^--pack: "),
        (dict(mix_original=1.0), r"^--mix-original: must be in \[0, 1\)"),
        (dict(rounds=0), "^--rounds: must be at least 1"),
        (dict(filters="verifier:mode"), "key=value"),
        (dict(filters="verifier,bogus"), "unknown filter 'bogus'"),
        (dict(filters="length:k=wide"), "option 'k' of filter 'length' must be float"),
    ]:
        with pytest.raises(SftlabError, match=msg):
            DistillConfig(**bad)  # checked when built, before resolve() fills the pack's defaults


def test_mix_original_share():
    original = [{"prompt": str(i), "completion": "x"} for i in range(10)]
    assert len(_mix_original(original, 6, 0.25, seed=0)) == 2  # 0.25 / 0.75 * 6
    assert len(_mix_original(original, 6, 0.5, seed=0)) == 6
    assert len(_mix_original(original, 30, 0.5, seed=0)) == 10  # capped at what exists
    assert _mix_original(original, 0, 0.5, seed=0) == [] and _mix_original(original, 5, 0.0, seed=0) == []
    assert all(r["source"] == "original" for r in _mix_original(original, 4, 0.5, seed=1))
