"""DART's reward terms on hand-built cases, and the target scorer against a direct computation."""

from __future__ import annotations

import math

import pytest
import torch

from sftlab.methods.dart.likelihood import TargetScorer
from sftlab.methods.dart.rewards import (
    PENALTIES,
    RewardConfig,
    alignment,
    copy_penalty,
    correctness,
    coverage_penalty,
    gate_reward,
    leak_penalty,
    length_penalty,
    numbers,
    repetition_penalty,
    scaffold_fragments,
    score_rewrites,
    total_reward,
)

QUESTION = "Mia has 12 dollars. She earns 7 dollars washing cars. Her money grows to 2 times as much. How many dollars does Mia have now?"
EXPERT = (
    "Let us work through the problem one step at a time. First, adding 7 to 12 gives 19. "
    "Finally, 2 times 19 is 38. The answer is 38."
)
NATIVE = "12+7=19; 19*2=38; #### 38"
ANSWER = "38"
TEMPLATE = "Question: {question}\nReference solution: {solution}\nRewritten solution:"
SCAFFOLD = scaffold_fragments(TEMPLATE, "Question: {question}\nSolution:")


def score(rewrite, lp_rewrite=-1.0, lp_original=-1.0, cfg=None, original=EXPERT):
    cfg = cfg or RewardConfig()
    return score_rewrites([rewrite], [QUESTION], [original], [ANSWER], [lp_rewrite], [lp_original], cfg, SCAFFOLD)[0]


def test_native_rewrite_scores_above_the_original():
    """The target finds the native rewrite more likely (-0.4 vs -1.9 nats/token): alignment 1.5, no penalty."""
    rewrite = score(NATIVE, lp_rewrite=-0.4, lp_original=-1.9)
    original = score(EXPERT, lp_rewrite=-1.9, lp_original=-1.9)
    assert rewrite["correct"] == 1.0 and original["correct"] == 1.0
    assert all(rewrite[k] == 0.0 for k in PENALTIES), rewrite
    assert rewrite["alignment"] == pytest.approx(1.5)
    assert rewrite["total"] == pytest.approx(1.5)
    assert original["total"] == pytest.approx(0.0)
    assert rewrite["total"] > original["total"]


def test_hand_worked_total():
    """w_a=2, alignment 0.5, coverage 1/2 (38 kept, 19 dropped) weighted 0.6: 2*0.5 - 0.6*0.5 = 0.7."""
    cfg = RewardConfig(alignment_weight=2.0, coverage_weight=0.6, length_floor=0.0)
    s = score("12+7=20 and 20 is wrong, so 2 times it is 38. #### 38", -1.0, -1.5, cfg)
    assert s["coverage"] == pytest.approx(0.5)
    assert s["total"] == pytest.approx(2 * 0.5 - 0.6 * 0.5)


def test_wrong_answer_is_gated_below_every_correct_rewrite():
    cfg = RewardConfig()
    wrong = score("12+7=19; 19*2=39; #### 39", lp_rewrite=-0.1, lp_original=-3.0)
    assert wrong["correct"] == 0.0
    assert wrong["total"] == gate_reward(cfg) == pytest.approx(-(2.0 + 5.0) - 1.0)
    worst_correct = total_reward(
        {"alignment": -cfg.alignment_clip, "correct": 1.0, **dict.fromkeys(PENALTIES, 1.0)}, cfg
    )
    assert wrong["total"] < worst_correct
    assert score("no final answer here")["total"] == gate_reward(cfg)


def test_answer_only_and_truncated_rewrites_are_penalized():
    answer_only = score("#### 38")
    assert answer_only["correct"] == 1.0
    assert answer_only["length"] > 0.4  # 6 of ~100 non-space characters, floor 0.1
    assert answer_only["coverage"] == pytest.approx(0.5)  # 19 dropped; 38 kept
    assert answer_only["total"] < score(NATIVE)["total"]
    assert length_penalty("12+7", EXPERT, floor=0.1) > 0.5
    assert length_penalty(NATIVE, EXPERT, floor=0.1) == 0.0  # the terse native style is above the floor
    assert length_penalty("", EXPERT) == 1.0


def test_dropped_reasoning_is_penalized():
    assert coverage_penalty(NATIVE, EXPERT, QUESTION) == 0.0
    assert coverage_penalty("12*2=24... so #### 38", EXPERT, QUESTION) == pytest.approx(0.5)
    # operands stated in the question are not intermediate results
    assert set(numbers(EXPERT)) - set(numbers(QUESTION)) == {"19", "38"}
    assert coverage_penalty("anything", "no numbers at all", QUESTION) == 0.0


def test_copying_the_question_is_penalized():
    copied = score(QUESTION + " " + NATIVE)
    assert copied["copy"] == pytest.approx(1.0)
    assert copied["total"] < score(NATIVE)["total"]
    # an original that already quotes the question sets the baseline
    assert copy_penalty(QUESTION + " #### 38", QUESTION, original=QUESTION + " The answer is 38.") == 0.0


def test_repetition_loops_are_penalized():
    loop = "12+7=19; " * 8 + "19*2=38; #### 38"
    assert repetition_penalty(loop) > 0.5
    assert repetition_penalty(NATIVE) == 0.0
    assert repetition_penalty(EXPERT) == 0.0
    assert score(loop)["total"] < score(NATIVE)["total"]


def test_leaked_template_text_is_penalized():
    assert SCAFFOLD == ["Question:", "Reference solution:", "Rewritten solution:", "Solution:"]
    assert leak_penalty(NATIVE + "\nRewritten solution: 38", SCAFFOLD) == 1.0
    assert leak_penalty(NATIVE + "\nQuestion: Tom has 3 pens.", SCAFFOLD) == 1.0
    assert leak_penalty(NATIVE, SCAFFOLD) == 0.0
    # text that the original itself contains is not a leak
    assert leak_penalty("Solution: " + NATIVE, SCAFFOLD, original="Solution: 12+7=19") == 0.0
    assert score(NATIVE + "\nQuestion: Tom has 3 pens.")["total"] < score(NATIVE)["total"]


def test_alignment_and_correctness_edges():
    assert alignment(-0.5, -2.0) == 1.5
    assert alignment(-10.0, -1.0, clip=2.0) == -2.0
    assert alignment(math.nan, -1.0, clip=2.0) == -2.0
    assert correctness("so it is 38.\n#### 38", "38") == 1.0
    assert correctness("The answer is 38.", 38) == 1.0
    assert correctness("#### 38", None) == 0.0


def test_target_scorer_matches_a_direct_computation(tiny_tokenizer):
    """Mean completion log-prob (EOS included) equals -loss of a plain forward with the prompt labelled -100."""
    from tiny import make_model

    model = make_model(len(tiny_tokenizer), seed=3)
    scorer = TargetScorer(model, tiny_tokenizer, batch_size=2)
    questions = ["Tom has 3 apples and buys 4 more. How many apples?", "A box holds 12 pens; 5 are taken."]
    solutions = ["3+4=7; #### 7", "Taking 5 away from 12 leaves 7. The answer is 7."]
    got = scorer.logprobs(questions, solutions)
    for q, s, lp in zip(questions, solutions, got):
        prompt = f"Question: {q}\nSolution:"
        p_ids = tiny_tokenizer(prompt, add_special_tokens=False)["input_ids"]
        c_ids = tiny_tokenizer(" " + s, add_special_tokens=False)["input_ids"] + [tiny_tokenizer.eos_token_id]
        ids = torch.tensor([p_ids + c_ids])
        labels = torch.tensor([[-100] * len(p_ids) + c_ids])
        with torch.no_grad():
            expected = -model(input_ids=ids, labels=labels).loss.item()
        assert lp == pytest.approx(expected, abs=1e-5)


def test_native_rewrite_beats_original_under_a_native_trained_target(tiny_tokenizer):
    """End to end: a tiny target trained on native-style solutions prefers the native rewrite."""
    from tiny import make_model

    torch.manual_seed(0)
    model = make_model(len(tiny_tokenizer), seed=1)
    texts = [
        f"Question: Tom has {a} apples and buys {b} more.\nSolution: {a}+{b}={a + b}; #### {a + b}</s>"
        for a in range(2, 9)
        for b in range(1, 4)
    ]
    batch = tiny_tokenizer(texts, padding=True, return_tensors="pt", add_special_tokens=False)
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(40):
        loss = model(**batch, labels=labels).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
    scorer = TargetScorer(model, tiny_tokenizer)
    q = "Tom has 5 apples and buys 2 more. How many apples?"
    native, expert = "5+2=7; #### 7", "First, adding 2 to 5 gives 7. The answer is 7."
    lp = scorer.logprobs([q, q], [native, expert])
    s = score_rewrites(
        [native, expert], [q, q], [expert, expert], ["7", "7"], lp, [lp[1], lp[1]], RewardConfig(), SCAFFOLD
    )
    assert s[0]["alignment"] > 0.5
    assert s[0]["total"] > s[1]["total"] == pytest.approx(0.0)
