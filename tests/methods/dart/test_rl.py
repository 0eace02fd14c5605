"""GRPO smoke tests on tiny models: the mapper (DART's reward) and the target (direct RL) are updated, terms logged."""

from __future__ import annotations

import pytest
import torch
from datasets import Dataset

from sftlab.methods.dart.likelihood import TargetScorer
from sftlab.methods.dart.prompt import DEFAULT_MAPPER_TEMPLATE, mapper_prompt, scaffold_for
from sftlab.methods.dart.rewards import TERMS, RewardConfig
from sftlab.methods.dart.rl import DartReward
from sftlab.methods.grpo import grpo_args, load_done, rl_curve, run_grpo
from sftlab.models import load_model_and_tokenizer
from sftlab.trainers.rewards import CorrectnessReward


def _params(model) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _changed(before: dict, model) -> bool:
    return any(not torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_grpo_updates_the_mapper_and_logs_every_term(tmp_path, records, target_dir, mapper_dir):
    target, tok = load_model_and_tokenizer(str(target_dir))
    scorer = TargetScorer(target, tok)
    lp0 = scorer.logprobs([r["question"] for r in records], [r["solution"] for r in records])
    dataset = Dataset.from_list(
        [
            {**r, "prompt": mapper_prompt(r["question"], r["solution"]), "lp_original": float(lp)}
            for r, lp in zip(records, lp0)
        ]
    )
    mapper, mapper_tok = load_model_and_tokenizer(str(mapper_dir))
    target_before, mapper_before = _params(target), _params(mapper)
    args = grpo_args(
        tmp_path / "rl",
        steps=2,
        group_size=4,
        prompts_per_step=2,
        learning_rate=1e-3,
        beta=0.04,
        temperature=1.0,
        max_completion_length=12,
        seed=0,
        progress=False,
    )
    reward = DartReward(scorer, RewardConfig(), scaffold_for(DEFAULT_MAPPER_TEMPLATE))
    summary = run_grpo(mapper, mapper_tok, dataset, [reward], args, tmp_path / "mapper")

    assert _changed(mapper_before, mapper), "GRPO left the mapper unchanged"
    assert not _changed(target_before, target), "the target must stay frozen"
    assert summary["steps"] == 2 and summary["rewrites"] == 16
    curve = rl_curve(summary["log_history"])
    assert curve["step"] == [1, 2]
    for term in TERMS:
        assert len(curve[f"dart/{term}"]) == 2 and all(v is not None for v in curve[f"dart/{term}"])
    # the GRPO reward is the mean of DART's totals; some group must have had spread for an update
    assert any(h.get("reward_std", 0) > 0 for h in summary["log_history"])
    assert load_done(tmp_path / "mapper")["steps"] == 2
    reloaded, _ = load_model_and_tokenizer(str(tmp_path / "mapper"))
    assert not _changed(_params(mapper), reloaded)


def test_dart_reward_matches_score_rewrites(records, target_dir):
    """The TRL-facing callable returns the same totals as the pure scoring, and logs means of the terms."""
    from sftlab.methods.dart.rewards import score_rewrites

    target, tok = load_model_and_tokenizer(str(target_dir))
    scorer = TargetScorer(target, tok)
    cfg, scaffold = RewardConfig(), scaffold_for(DEFAULT_MAPPER_TEMPLATE)
    rs = records[:3]
    completions = [" 1+6=7; #### 7", " The answer is 8.", " 7"]
    logged = {}
    totals = DartReward(scorer, cfg, scaffold)(
        prompts=[""] * 3, completions=completions, question=[r["question"] for r in rs],
        solution=[r["solution"] for r in rs], answer=[r["answer"] for r in rs], lp_original=[-3.0] * 3,
        log_metric=lambda k, v: logged.__setitem__(k, v),
    )  # fmt: skip
    lp = scorer.logprobs([r["question"] for r in rs], [c.strip() for c in completions])
    expected = score_rewrites(
        [c.strip() for c in completions],
        [r["question"] for r in rs],
        [r["solution"] for r in rs],
        [r["answer"] for r in rs],
        lp,
        [-3.0] * 3,
        cfg,
        scaffold,
    )
    assert totals == pytest.approx([e["total"] for e in expected])
    assert logged["dart/correct"] == pytest.approx(1 / 3)  # "8" is wrong; a bare "7" states no final answer
    assert set(f"dart/{t}" for t in TERMS) <= set(logged)


def test_direct_rl_updates_the_target(tmp_path, records, target_dir):
    from sftlab.data import render_prompt

    model, tok = load_model_and_tokenizer(str(target_dir))
    before = _params(model)
    dataset = Dataset.from_list([{"prompt": render_prompt(r["question"]), "answer": r["answer"]} for r in records])
    args = grpo_args(
        tmp_path / "rl",
        steps=1,
        group_size=4,
        prompts_per_step=2,
        learning_rate=1e-3,
        beta=0.0,
        temperature=1.0,
        max_completion_length=12,
        seed=0,
        progress=False,
    )
    summary = run_grpo(model, tok, dataset, [CorrectnessReward()], args, tmp_path / "policy")
    assert summary["steps"] == 1
    assert "rewards/correct/mean" in summary["log_history"][0]
    assert _changed(before, model)
    # the curve carries the share of tied groups (no advantage, no policy gradient): direct RL's signal per update
    curve = rl_curve(summary["log_history"])
    assert len(curve["frac_reward_zero_std"]) == 1 and 0.0 <= curve["frac_reward_zero_std"][0] <= 1.0
    assert len(curve["entropy"]) == 1 and curve["entropy"][0] is not None


def test_rl_curve_reads_the_signal_keys():
    history = [
        {"step": 1, "reward": 0.25, "kl": 0.0, "frac_reward_zero_std": 0.75, "entropy": 0.3},
        {"step": 2, "reward": 0.5, "kl": 0.01, "frac_reward_zero_std": 0.5, "entropy": 0.2},
        {"step": 2, "train_runtime": 1.0},
    ]
    curve = rl_curve(history)
    assert curve["step"] == [1, 2] and curve["reward"] == [0.25, 0.5]
    assert curve["frac_reward_zero_std"] == [0.75, 0.5] and curve["entropy"] == [0.3, 0.2]


def test_correctness_reward():
    assert CorrectnessReward()(prompts=["", ""], completions=["3+4=7; #### 7", "#### 8"], answer=["7", "7"]) == [
        1.0,
        0.0,
    ]


def test_conversational_prompts_and_completions(tiny_tokenizer):
    """Chat mappers get one user turn (TRL renders it); rewards read the assistant message back."""
    from sftlab.trainers.rewards import completion_str, grpo_prompt

    assert grpo_prompt("Q: 1+1", tiny_tokenizer) == "Q: 1+1"  # no chat template: the text as is

    class Chat:
        chat_template = "{{ messages }}"

    assert grpo_prompt("Q: 1+1", Chat()) == [{"role": "user", "content": "Q: 1+1"}]
    assert completion_str([{"role": "assistant", "content": "#### 2"}]) == "#### 2"
    assert CorrectnessReward()(
        prompts=[[]], completions=[[{"role": "assistant", "content": "#### 2"}]], answer=["2"]
    ) == [1.0]
