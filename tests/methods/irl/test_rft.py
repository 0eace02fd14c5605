"""RFT on a tiny model: reward step (Bradley-Terry) + policy step (GRPO on the learned reward), per iteration."""

from __future__ import annotations

import json

import torch
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

from sftlab.methods.irl import IRLConfig, rft, run_irl


def test_rft_alternates_reward_and_policy_steps(tiny_dir, data_file, tmp_path, monkeypatch):
    data = data_file
    scored = []
    real_score = rft.score

    def spy(rm, tok, prompts, completions, **kw):
        scored.append(len(prompts))
        return real_score(rm, tok, prompts, completions, **kw)

    monkeypatch.setattr(rft, "score", spy)
    refs, real_policy_step = [], rft.policy_step

    def keep_reference(*a, **kw):
        trainer = real_policy_step(*a, **kw)
        refs.append([p.detach().clone() for p in trainer.ref_model.parameters()])
        return trainer

    monkeypatch.setattr(rft, "policy_step", keep_reference)
    out = tmp_path / "rft"
    cfg = IRLConfig(method="rft", model=str(tiny_dir), data=str(data), output_dir=str(out), iterations=2,
                    steps_per_iteration=1, reward_steps=2, reward_learning_rate=1e-2, learning_rate=1e-2,
                    num_generations=2, per_device_train_batch_size=4, heldout_fraction=0.25, max_new_tokens=8,
                    max_length=64, logging_steps=1, progress=False, seed=0, warmup_ratio=0.0)  # fmt: skip
    summary = run_irl(cfg)

    its = summary["iterations"]
    assert [m["iteration"] for m in its] == [1, 2]
    for m in its:
        assert m["n_heldout_pairs"] == 2 and m["n_pairs"] in (3, 4)  # 9 prompts: 2 held out, 7 cut into 2 chunks
        assert m["heldout_reward_accuracy"] in (0.0, 0.5, 1.0)  # a share of the 2 held-out pairs ranked right
        assert m["reward_steps"] == 2 and m["steps"] == 1
        assert (out / f"iter-{m['iteration']}" / "reward_model" / "config.json").is_file()
    assert summary["curve"]["heldout_reward_accuracy"] == [m["heldout_reward_accuracy"] for m in its]
    # the policy step asked the learned reward model for scores (beyond the held-out/train accuracy calls)
    assert len(scored) > 4 * 2
    logs = json.loads((out / "iter-1" / "metrics.json").read_text())["log_history"]
    assert any("reward" in h and "kl" in h for h in logs), "GRPO logged no reward"

    start = AutoModelForCausalLM.from_pretrained(tiny_dir)
    final = AutoModelForCausalLM.from_pretrained(summary["model"])
    assert any(not torch.equal(a, b) for a, b in zip(start.parameters(), final.parameters()))
    # the KL reference of iteration 2's policy step is the run's starting policy, not iteration 1's
    assert len(refs) == 2 and all(torch.equal(a, b) for a, b in zip(refs[1], start.parameters()))
    rm1 = AutoModelForSequenceClassification.from_pretrained(out / "iter-1" / "reward_model")
    rm2 = AutoModelForSequenceClassification.from_pretrained(out / "iter-2" / "reward_model")
    assert rm1.config.num_labels == 1
    assert any(not torch.equal(a, b) for a, b in zip(rm1.parameters(), rm2.parameters()))  # carried and trained on


def test_reward_model_learns_to_rank_demonstrations(tiny_dir, tmp_path):
    """A few Bradley-Terry steps on fixed pairs make the reward model rank demonstration over generation."""
    tok = AutoTokenizer.from_pretrained(tiny_dir)
    pairs = [{"prompt": f"Question: What is {a} plus {b}?\nSolution:", "chosen": f" {a}+{b}={a + b}; #### {a + b}",
              "rejected": " The answer is 42."} for a in range(1, 4) for b in range(1, 4)]  # fmt: skip
    cfg = IRLConfig(method="rft", reward_steps=15, reward_learning_rate=3e-3, per_device_train_batch_size=9,
                    max_length=64, progress=False, warmup_ratio=0.0)  # fmt: skip
    rm = rft.load_reward_model(str(tiny_dir), tok, cfg)
    before = rft.reward_accuracy(rm, tok, pairs)
    trainer = rft.reward_step(cfg, rm, tok, pairs, tmp_path / "rm", seed=0)
    after = rft.reward_accuracy(trainer.model.eval(), tok, pairs)
    assert after["accuracy"] == 1.0 and after["margin"] > before["margin"] + 0.5
