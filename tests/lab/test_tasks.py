"""Task generation: determinism, disjoint splits, solutions that verify, shifts that hold."""

from __future__ import annotations

import random
import re
from collections import Counter

import pytest

from sftlab.errors import SftlabError
from sftlab.lab import FAMILIES, LabConfig, Problem, expert_solution, generate_splits, make_problem, native_solution
from sftlab.verify import verify

CFG = LabConfig(pretrain_size=1000, train_size=200, test_id_size=100, test_ood_size=120)
EQUATION = re.compile(r"(\d+)([-+*/])(\d+)=(\d+)")


@pytest.fixture(scope="module")
def splits():
    return generate_splits(CFG)


def test_hand_worked_solutions():
    p = Problem("shopping", "q", ((12, "add", 7, 19), (19, "mul", 2, 38)), 38)
    assert native_solution(p) == "12+7=19; 19*2=38; #### 38"
    text = expert_solution(p, random.Random(0))
    assert text.endswith("The answer is 38.") and "19" in text and "####" not in text
    assert verify(native_solution(p), "38") and verify(text, "38") and not verify(text, "19")


def test_deterministic_for_a_seed(splits):
    assert generate_splits(CFG) == splits
    other = generate_splits(LabConfig(**{**CFG.to_dict(), "seed": 1}))
    assert other["train"] != splits["train"]


def test_test_splits_do_not_depend_on_training_sizes(splits):
    bigger = generate_splits(LabConfig(**{**CFG.to_dict(), "pretrain_size": 1100, "train_size": 250}))
    assert bigger["test_id"] == splits["test_id"] and bigger["test_ood"] == splits["test_ood"]


def test_splits_are_disjoint_and_sized(splits):
    seen = {}
    for split, records in splits.items():
        assert len(records) == getattr(CFG, f"{split}_size")
        assert len({r["id"] for r in records}) == len(records)
        for r in records:
            assert r["split"] == split
            assert seen.setdefault(r["question"], split) == split, f"question in {seen[r['question']]} and {split}"


def test_every_solution_verifies_and_its_arithmetic_is_right(splits):
    for records in splits.values():
        for r in records:
            assert set(r) >= {"id", "question", "solution", "answer", "family", "style", "split", "steps"}
            assert verify(r["solution"], r["answer"]), r
            assert not verify(r["solution"], str(int(r["answer"]) + 1))
            if r["style"] == "native":
                eqs = EQUATION.findall(r["solution"])
                assert len(eqs) == r["steps"]
                for a, op, b, c in eqs:
                    a, b, c = int(a), int(b), int(c)
                    assert {"+": a + b, "-": a - b, "*": a * b, "/": a // b if a % b == 0 else None}[op] == c
                assert eqs[-1][3] == r["answer"]
            else:
                assert r["solution"].endswith(f"The answer is {r['answer']}.")


def test_both_styles_verify_for_every_family():
    rng = random.Random(0)
    for family in FAMILIES:
        for steps in (1, 2, 3, 4):
            p = make_problem(rng, family, steps, 20, 50)
            assert len(p.steps) == steps and 1 <= p.answer <= 50
            assert verify(native_solution(p), str(p.answer))
            assert verify(expert_solution(p, rng), str(p.answer))
            assert all(1 <= b <= 20 and 1 <= c <= 50 for _, _, b, c in p.steps)


def test_split_composition(splits):
    pre = splits["pretrain"]
    assert {r["family"] for r in pre} == set(CFG.base_list)
    assert Counter(r["style"] for r in pre)["expert"] == round(CFG.expert_prior_fraction * len(pre))
    for split in ("train", "test_id", "test_ood"):
        assert {r["family"] for r in splits[split]} == set(CFG.train_families)
        assert {r["style"] for r in splits[split]} == {"expert"}
    assert "ages" in CFG.train_families and "ages" not in CFG.base_list
    for r in splits["train"] + splits["test_id"]:
        assert CFG.min_steps <= r["steps"] <= CFG.max_steps


def _held_out_patterns() -> list[re.Pattern]:
    """Each family's held-out wordings (the 'wording' shift) as regexes, placeholders as wildcards."""
    templates = {variants[-1] for f in FAMILIES.values() for variants in [f.start, f.ask, *f.ops.values()]}
    return [re.compile(re.sub(r"\\\{\w+\\\}", r"[\\w' ]+?", re.escape(t)), re.IGNORECASE) for t in templates]


def test_ood_shifts_hold(splits):
    ood = splits["test_ood"]
    assert Counter(r["shift"] for r in ood).keys() == set(CFG.shift_list)
    held_out = _held_out_patterns()
    for r in ood:
        numbers = [int(x) for x in re.findall(r"\d+", r["solution"])]
        if r["shift"] == "steps":
            assert r["steps"] == CFG.max_steps + 1 and max(numbers) <= CFG.value_max
        elif r["shift"] == "numbers":
            assert max(numbers) > CFG.operand_max and max(numbers) <= CFG.ood_value_max
        else:
            assert CFG.min_steps <= r["steps"] <= CFG.max_steps
            assert any(h.search(r["question"]) for h in held_out), r["question"]


def test_held_out_wording_is_never_used_in_domain(splits):
    held_out = _held_out_patterns()
    assert len(held_out) > 20
    for split in ("pretrain", "train", "test_id"):
        for r in splits[split]:
            assert not [h.pattern for h in held_out if h.search(r["question"])], r["question"]


def test_no_expert_prior_variant():
    cfg = LabConfig(pretrain_size=400, train_size=50, test_id_size=20, test_ood_size=30, expert_prior_fraction=0.0)
    assert {r["style"] for r in generate_splits(cfg)["pretrain"]} == {"native"}


@pytest.mark.parametrize(
    "bad",
    [
        dict(base_families="cooking"),
        dict(min_steps=3, max_steps=2),
        dict(expert_prior_fraction=1.5),
        dict(ood_shifts="colour"),
        dict(train_size=0),
    ],
)
def test_bad_config_is_one_clear_error(bad):
    with pytest.raises(SftlabError, match="lab config: field"):
        LabConfig(**bad)


def test_too_narrow_ranges_fail_clearly():
    cfg = LabConfig(
        pretrain_size=1500,
        train_size=10,
        test_id_size=10,
        test_ood_size=10,
        base_families="sharing",
        operand_max=2,
        value_max=3,
        min_steps=1,
        max_steps=1,
    )
    with pytest.raises(SftlabError, match="cannot draw"):
        generate_splits(cfg)


def test_expert_steps_read_back_what_every_train_solution_states(splits):
    from sftlab.lab import parse_expert_steps

    rng = random.Random(0)
    for r in splits["train"] + splits["test_id"]:
        steps = parse_expert_steps(r["solution"])
        assert len(steps) == r["steps"] and steps[-1][3] == int(r["answer"])
        p = Problem(r["family"], r["question"], steps, int(r["answer"]))
        assert parse_expert_steps(expert_solution(p, rng)) == steps  # any wording of the same arithmetic
    with pytest.raises(SftlabError, match="wrong step"):
        parse_expert_steps("First, adding 2 to 3 gives 6. The answer is 6.")
    assert parse_expert_steps("First, adding 2 to 3 gives 6.", check=False) == ((3, "add", 2, 6),)
    with pytest.raises(SftlabError, match="no step"):
        parse_expert_steps("The answer is 6.")
