"""IRFT and SPIN loops on a tiny model: T generations, weights move, metrics logged, resume at the right iteration."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import AutoModelForCausalLM

import sftlab.generation
from sftlab.errors import SftlabError
from sftlab.io import read_jsonl
from sftlab.methods.irl import IRLConfig, run_irl
from sftlab.methods.irl.common import iteration_chunks
from sftlab.trainers.irft import IRFTTrainer
from tiny import make_tokenizer


@pytest.fixture
def generate_calls(monkeypatch):
    """Record the prompts of every call to the generation service."""
    calls, real = [], sftlab.generation.generate

    def spy(model, tok, prompts, config=None, **kw):
        calls.append(list(prompts))
        return real(model, tok, prompts, config, **kw)

    monkeypatch.setattr(sftlab.generation, "generate", spy)
    return calls


def _cfg(tiny_dir, data_file, out, **kw):
    base = dict(model=str(tiny_dir), data=str(data_file), output_dir=str(out), iterations=3, steps_per_iteration=2,
                learning_rate=1e-2, per_device_train_batch_size=3, max_new_tokens=8, max_length=64, logging_steps=1,
                progress=False, seed=0)  # fmt: skip
    base.update(kw)
    return IRLConfig(**base)


def _changed(a, b) -> bool:
    return any(not torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters()))


@pytest.mark.parametrize("link", ["logistic", "linear"])
def test_irft_generates_once_per_chunk_trains_and_logs(tiny_dir, data_file, tmp_path, generate_calls, link):
    out = tmp_path / "out"
    summary = run_irl(_cfg(tiny_dir, data_file, out, link=link))

    # T generation calls, one per chunk; the chunks partition the 9 prompts in file order
    assert [len(c) for c in generate_calls] == [3, 3, 3]
    assert len({p for c in generate_calls for p in c}) == 9
    for t, prompts in enumerate(generate_calls, start=1):
        rows = read_jsonl(out / f"iter-{t}" / "generations.jsonl")
        assert [r["prompt"] for r in rows] == prompts and all(r["chosen"].startswith(" ") for r in rows)

    its = summary["iterations"]
    assert [m["iteration"] for m in its] == [1, 2, 3] and all(m["steps"] == 2 for m in its)
    for m in its:
        # a share of the iteration's 3 pairs (a count of pairs ranked right), not any number in [0, 1]
        assert m["n_pairs"] == 3 and m["reward_accuracy"] * 3 == pytest.approx(
            round(m["reward_accuracy"] * 3), abs=1e-6
        )
        assert m["logp_gap"] != m["ref_logp_gap"]  # the policy moved away from pi_t on this iteration's pairs
        assert (out / f"iter-{m['iteration']}" / "metrics.json").is_file()
    logs = [h for h in summary["log_history"] if "loss" in h]
    assert len(logs) == 6 and all("rewards/accuracies" in h and "nll" in h for h in logs)
    assert [h["step"] for h in logs] == [1, 2, 3, 4, 5, 6]  # one step axis across iterations
    assert logs[0]["loss"] == pytest.approx(0.6931 if link == "logistic" else 0.0, abs=1e-3)  # z = 0 at pi = pi_t

    start = AutoModelForCausalLM.from_pretrained(tiny_dir)
    final = AutoModelForCausalLM.from_pretrained(summary["model"])
    mid = AutoModelForCausalLM.from_pretrained(out / "iter-1" / "model")
    assert _changed(start, mid) and _changed(mid, final)
    assert json.loads((out / "irl_summary.json").read_text())["curve"]["iteration"] == [1, 2, 3]


def test_spin_regenerates_all_prompts_and_mixes_previous(tiny_dir, data_file, tmp_path, generate_calls):
    out = tmp_path / "spin"
    summary = run_irl(_cfg(tiny_dir, data_file, out, method="spin", iterations=2, mix_previous=True))
    assert [len(c) for c in generate_calls] == [9, 9]
    first, second = summary["iterations"]
    assert (first["n_pairs"], first["n_mixed_previous"]) == (9, 0)
    assert (second["n_pairs"], second["n_mixed_previous"]) == (18, 9)


def test_interrupted_run_resumes_at_its_iteration(tiny_dir, data_file, tmp_path, generate_calls, monkeypatch):
    out = tmp_path / "resume"
    real_train, trains = IRFTTrainer.train, []

    def failing_train(self, *a, **kw):
        trains.append(1)
        if len(trains) == 2:
            raise KeyboardInterrupt  # the user stops the run in iteration 2, after its generations were saved
        return real_train(self, *a, **kw)

    monkeypatch.setattr(IRFTTrainer, "train", failing_train)
    with pytest.raises(KeyboardInterrupt):
        run_irl(_cfg(tiny_dir, data_file, out))
    assert (out / "iter-1" / "metrics.json").is_file() and (out / "iter-2" / "generations.jsonl").is_file()
    assert not (out / "iter-2" / "metrics.json").exists()
    first = json.loads((out / "iter-1" / "metrics.json").read_text())
    saved = read_jsonl(out / "iter-2" / "generations.jsonl")

    generate_calls.clear()
    summary = run_irl(_cfg(tiny_dir, data_file, out))
    assert len(trains) == 4  # iterations 2 and 3 trained on the second call; iteration 1 was not redone
    assert len(generate_calls) == 1  # only iteration 3 sampled: iteration 2 reused its saved generations
    assert read_jsonl(out / "iter-2" / "generations.jsonl") == saved
    assert summary["iterations"][0] == {k: v for k, v in first.items() if k != "log_history"}
    assert summary["iterations"][1]["start_model"] == str(out / "iter-1" / "model")
    assert [m["iteration"] for m in summary["iterations"]] == [1, 2, 3]


def test_resume_with_other_options_is_refused(tiny_dir, data_file, tmp_path):
    out = tmp_path / "other"
    run_irl(_cfg(tiny_dir, data_file, out, iterations=1, steps_per_iteration=1))
    with pytest.raises(SftlabError, match="field 'beta'"):
        run_irl(_cfg(tiny_dir, data_file, out, iterations=1, steps_per_iteration=1, beta=0.5))


def test_config_errors_are_one_line(tiny_dir, data_file, tmp_path):
    with pytest.raises(SftlabError, match="SPIN's loss is the logistic link"):
        run_irl(_cfg(tiny_dir, data_file, tmp_path / "a", method="spin", link="hinge"))
    with pytest.raises(SftlabError, match="cannot fill --iterations 20 chunks"):
        run_irl(_cfg(tiny_dir, data_file, tmp_path / "b", iterations=20))
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "q", "solution": "s"}\n{"question": "q2"}\n')
    with pytest.raises(SftlabError, match="bad.jsonl:2"):
        run_irl(_cfg(tiny_dir, bad, tmp_path / "c"))


def test_chunking_is_contiguous_or_seeded_shuffle():
    cfg = IRLConfig(iterations=3)
    assert iteration_chunks(list(range(7)), cfg) == [[0, 1], [2, 3, 4], [5, 6]]
    shuffled = iteration_chunks(list(range(7)), IRLConfig(iterations=3, chunking="shuffled", seed=1))
    assert sorted(i for chunk in shuffled for i in chunk) == list(range(7)) and shuffled != [[0, 1], [2, 3, 4], [5, 6]]
    assert iteration_chunks(list(range(4)), IRLConfig(method="spin", iterations=2)) == [[0, 1, 2, 3]] * 2


def test_lora_iteration_saves_a_merged_checkpoint(tiny_dir, data_file, tmp_path):
    out = tmp_path / "lora"
    summary = run_irl(_cfg(tiny_dir, data_file, out, iterations=1, steps_per_iteration=2, lora=True, lora_r=4,
                           lora_alpha=8))  # fmt: skip
    merged = AutoModelForCausalLM.from_pretrained(summary["model"])
    assert not any("lora" in n for n, _ in merged.named_parameters())
    assert _changed(AutoModelForCausalLM.from_pretrained(tiny_dir), merged)


@pytest.mark.parametrize("recipe", ["irft", "spin", "rft", "lab/irft", "lab/spin", "lab/rft"])
def test_recipes_load_and_validate(recipe):
    from pathlib import Path

    from sftlab.config import load_recipe

    path = Path(__file__).resolve().parents[3] / "configs" / f"{recipe}.yaml"
    cfg = IRLConfig(**load_recipe(str(path), IRLConfig))  # checked when built
    assert cfg.method == Path(recipe).name and cfg.beta == 0.1
    if "/" not in recipe:
        assert cfg.learning_rate == 5e-7  # the papers' 7B rate


def test_pairs_are_tokenized_as_sft_tokenizes_the_demonstrations(data_file, tmp_path):
    """prompt_ids + chosen_ids of a pair == the SFT sequence of its record (reasoning and prompt/completion data)."""
    from sftlab.data import load_sft_data, tokenize_sft
    from sftlab.methods.irl.common import load_demonstrations, tokenize_pairs

    tok = make_tokenizer()
    pc = tmp_path / "pc.jsonl"
    pc.write_text("".join(json.dumps({"prompt": f"Q: {a}+1?\nA:", "completion": f" {a + 1}"}) + "\n" for a in range(3)))
    for source in (data_file, pc):
        demos = load_demonstrations(str(source), tok)
        pairs = tokenize_pairs([{"prompt": d["prompt"], "chosen": d["completion"], "rejected": ""} for d in demos], tok)
        sft, _ = tokenize_sft(load_sft_data(str(source)), tok, max_length=256)
        assert [p + c for p, c in zip(pairs["prompt_ids"], pairs["chosen_ids"])] == sft["input_ids"]
        assert all(r == [tok.eos_token_id] for r in pairs["rejected_ids"])
    assert load_demonstrations(str(pc), tok)[1]["completion"] == " 2"
