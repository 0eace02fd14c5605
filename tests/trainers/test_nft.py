"""NFTTrainer on a tiny model: its loss is the pure function's on the same batch; a short run trains, saves, resumes."""

from __future__ import annotations

import json
import re
from argparse import Namespace
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from datasets import Dataset
from transformers import AutoModelForCausalLM

import sftlab.methods.nft as nft
from sftlab.cli import main
from sftlab.config import build_config
from sftlab.errors import SftlabError
from sftlab.methods.nft import NFTTrainConfig, run_nft
from sftlab.objectives.nft import informative, nft_loss
from sftlab.trainers.nft import NFTConfig, NFTTrainer, group_outcomes
from tiny import make_tokenizer

ROOT = Path(__file__).resolve().parents[2]
K = 4


def n_right(a: int, b: int) -> int:
    """How many of a question's K answers the stub verifier accepts: none when a == b, else 1 to 3."""
    return 0 if a == b else (a + b) % 3 + 1


class StubVerifier:
    """Accepts the first ``n_right(a, b)`` answers of each group (TRL passes groups of K consecutive rows)."""

    __name__ = "stub"

    def __call__(self, prompts, completions, answer, **_):
        out = []
        for i, p in enumerate(prompts):
            a, b = map(int, re.search(r"What is (\d) plus (\d)", p).groups())
            out.append(1.0 if i % K < n_right(a, b) else 0.0)
        return out


def _ref_logps(model, inp) -> torch.Tensor:
    """log pi(a_t) of the completion tokens from the full logits (temperature 1), (B, T)."""
    ids = torch.cat([inp["prompt_ids"], inp["completion_ids"]], dim=1)
    att = torch.cat([inp["prompt_mask"], inp["completion_mask"]], dim=1)
    t = inp["completion_ids"].size(1)
    logits = model(input_ids=ids, attention_mask=att).logits[:, -t - 1 : -1]  # (B, T, V)
    return logits.float().log_softmax(-1).gather(-1, inp["completion_ids"].unsqueeze(-1)).squeeze(-1)


def test_trainer_loss_is_the_pure_function_on_the_same_batch(tiny_dir, tmp_path):
    model = AutoModelForCausalLM.from_pretrained(tiny_dir)
    tok = make_tokenizer()
    tok.padding_side = "left"
    prompts = [f"Question: What is {a} plus {b}?\nSolution:" for a in range(1, 4) for b in range(1, 4)]
    args = NFTConfig(
        output_dir=str(tmp_path), per_device_train_batch_size=8, gradient_accumulation_steps=1, steps_per_generation=2,
        num_generations=K, max_completion_length=8, max_steps=2, learning_rate=1e-2, beta=0.0, use_cpu=True,
        report_to="none", save_strategy="no", disable_tqdm=True, dataloader_num_workers=0, seed=0, bf16=False,
    )  # fmt: skip
    trainer = NFTTrainer(
        model=model,
        reward_funcs=[StubVerifier()],
        args=args,
        processing_class=tok,
        train_dataset=Dataset.from_dict({"prompt": prompts, "answer": ["0"] * len(prompts)}),
    )
    trainer.model.train()
    inputs = trainer._prepare_inputs(next(iter(trainer.get_train_dataloader())))  # 4 questions x 4 answers
    buffers = trainer._buffered_inputs  # the generation batch, in 2 micro-batches (2 optimizer steps)
    assert len(buffers) == 2 and inputs is buffers[0]

    # r_q: per question, the share of its answers the verifier accepted
    rows = {"reward": [], "rate": [], "question": []}
    for buf in buffers:
        rows["reward"] += buf["nft_reward"].tolist()
        rows["rate"] += buf["nft_correct_rate"].tolist()
        rows["question"] += tok.batch_decode(buf["prompt_ids"], skip_special_tokens=True)
    questions = set(rows["question"])
    assert len(questions) == 4 and len(rows["reward"]) == 16
    for q in questions:
        a, b = map(int, re.search(r"What is (\d) plus (\d)", q).groups())
        mine = [i for i, x in enumerate(rows["question"]) if x == q]
        assert sorted(rows["reward"][i] for i in mine) == [0.0] * (K - n_right(a, b)) + [1.0] * n_right(a, b)
        assert all(rows["rate"][i] == pytest.approx(n_right(a, b) / K) for i in mine)
    n_informative = sum(0 < rows["rate"][rows["question"].index(q)] < 1 for q in questions)
    assert trainer._metrics["train"]["nft/kept_groups"] == [pytest.approx(n_informative / 4)]

    # pi_old: the policy that sampled, scored by the trainer before any step
    with torch.no_grad():
        for buf in buffers:
            m = buf["completion_mask"].bool()
            assert torch.allclose(buf["old_per_token_logps"][m], _ref_logps(trainer.model, buf)[m], atol=1e-5)

    # one optimizer step later in spirit: move theta so that R != 1
    torch.manual_seed(1)
    with torch.no_grad():
        for p in trainer.model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    loss = trainer.compute_loss(trainer.model, inputs)
    kept_tokens = sum((b["completion_mask"] * informative(b["nft_correct_rate"]).unsqueeze(1)).sum() for b in buffers)
    with torch.no_grad():
        expected, stats = nft_loss(
            _ref_logps(trainer.model, inputs),
            inputs["old_per_token_logps"],
            inputs["completion_mask"],
            inputs["nft_reward"],
            inputs["nft_correct_rate"],
            num_items_in_batch=kept_tokens / 2,
        )  # N: kept tokens per optimizer step
    assert kept_tokens > 0 and stats["ratio"].item() != pytest.approx(1.0, abs=1e-3)
    assert loss.item() == pytest.approx(expected.item(), abs=1e-5)
    loss.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in trainer.model.parameters())
    assert trainer._metrics["train"]["nft/ratio"][-1] == pytest.approx(stats["ratio"].item(), abs=1e-4)


def test_group_outcomes():
    per_func = torch.tensor([[1.0], [0.0], [float("nan")], [1.0], [0.0], [0.0]])
    rewards, rate = group_outcomes(per_func, torch.ones(1), k=3)
    assert rewards.tolist() == [1.0, 0.0, 0.0, 1.0, 0.0, 0.0]  # unscorable counts as wrong
    assert rate.tolist() == pytest.approx([1 / 3] * 6)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        group_outcomes(torch.tensor([[2.0], [0.0]]), torch.ones(1), k=2)
    with pytest.raises(ValueError, match="beta"):
        NFTConfig(output_dir="x", beta=0.1, num_generations=2, per_device_train_batch_size=2, use_cpu=True)


def test_run_nft_trains_saves_and_resumes(tiny_dir, data_file, tmp_path, monkeypatch):
    data = data_file
    monkeypatch.setattr(nft, "reward_function", lambda cfg: StubVerifier())
    out = tmp_path / "nft"
    cfg = NFTTrainConfig(model=str(tiny_dir), data=str(data), output_dir=str(out), max_steps=2, num_generations=K,
                         prompts_per_step=2, updates_per_generation=2, per_device_train_batch_size=4,
                         max_completion_length=8, learning_rate=1e-2, weight_decay=0.0, warmup_steps=0, save_steps=1,
                         progress=False, seed=0)  # fmt: skip
    summary = run_nft(cfg)
    assert summary["global_step"] == 2 and summary["n_prompts"] == 9
    assert json.loads((out / "train_summary.json").read_text())["global_step"] == 2
    logs = [h for h in summary["log_history"] if "loss" in h]
    assert len(logs) == 2 and all("nft/ratio" in h and "entropy" in h for h in logs)
    assert logs[0]["nft/kept_groups"] > 0  # logged when a generation batch is sampled: step 1, not step 2
    assert logs[0]["nft/ratio"] == pytest.approx(1.0) and logs[1]["nft/ratio"] != pytest.approx(1.0)  # off-policy
    start = AutoModelForCausalLM.from_pretrained(tiny_dir)
    final = AutoModelForCausalLM.from_pretrained(out)  # a standard checkpoint
    assert any(not torch.equal(a, b) for a, b in zip(start.parameters(), final.parameters()))
    assert (out / "checkpoint-2").is_dir()

    resumed = run_nft(replace(cfg, max_steps=3, resume=True))
    assert resumed["resumed_from"].endswith("checkpoint-2") and resumed["global_step"] == 3


def test_config_checks():
    NFTTrainConfig()  # the paper's defaults: 32 x 16 completions per step, 16 per micro-batch
    with pytest.raises(SftlabError, match="multiple"):
        NFTTrainConfig(prompts_per_step=3, num_generations=4, per_device_train_batch_size=8)
    with pytest.raises(SftlabError, match="^--num-generations: r_q needs at least 2"):
        NFTTrainConfig(num_generations=1, per_device_train_batch_size=1)
    with pytest.raises(SftlabError, match=r"^--correct-rate-clip: must be in \[0, 0.5\), got 0.5$"):
        NFTTrainConfig(correct_rate_clip=0.5)
    cfg = NFTTrainConfig()
    with pytest.raises(SftlabError, match="^--learning-rate: must be > 0"):
        replace(cfg, learning_rate=0.0)  # a changed copy is checked too


def test_cli_and_recipes(capsys):
    with pytest.raises(SystemExit) as e:
        main(["train", "--method", "nft", "--help"])
    assert e.value.code == 0
    text = capsys.readouterr().out
    assert "--epsilon" in text and "--prompt-weighting" in text and "--updates-per-generation" in text
    paper = build_config(NFTTrainConfig, Namespace(), str(ROOT / "configs" / "nft.yaml"))
    assert (paper.method, paper.learning_rate, paper.num_generations, paper.epsilon) == ("nft", 1e-6, 16, 1.0)
    assert paper.prompts_per_step * paper.updates_per_generation == 512
    lab = build_config(NFTTrainConfig, Namespace(), str(ROOT / "configs" / "lab" / "nft.yaml"))  # checked when built
    assert lab.method == "nft" and lab.max_completion_length < paper.max_completion_length
