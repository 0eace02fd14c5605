"""The training-data check: reasoning solutions that state no final answer are counted and, on request, closed."""

import json

import pytest

from sftlab.data import apply_answer_check, check_final_answers, load_sft_data


def _data(tmp_path, rows):
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return load_sft_data(str(path))


ROWS = [
    {"question": "q1", "solution": "2 + 3 = 5. The answer is 5."},  # stated: nothing to do
    {"question": "q2", "solution": r"Hence $\boxed{7}$."},  # stated in a box
    {"question": "q3", "solution": "Adding, we get 9.", "answer": "9"},  # none stated, answer known: closed
    {"question": "q4", "solution": "By symmetry the sum is 12", "answer": 12},  # none stated, numeric answer field
    {"question": "q5", "solution": "A long argument without a conclusion."},  # none stated, no answer: counted only
]


def test_auto_appends_the_closing_line(tmp_path):
    data = _data(tmp_path, ROWS)
    stats = check_final_answers(data, "auto")
    assert stats == {"n_records": 5, "n_no_final_answer": 3, "n_answer_appended": 2}
    solutions = [r["solution"] for r in data.records]
    assert solutions[2] == "Adding, we get 9.\nThe answer is 9."
    assert solutions[3] == "By symmetry the sum is 12\nThe answer is 12."
    assert solutions[4] == "A long argument without a conclusion."
    assert check_final_answers(data, "auto")["n_no_final_answer"] == 1  # the closed ones now state their answer


def test_off_counts_only(tmp_path):
    data = _data(tmp_path, ROWS)
    assert check_final_answers(data, "off") == {"n_records": 5, "n_no_final_answer": 3, "n_answer_appended": 0}
    assert data.records[2]["solution"] == "Adding, we get 9."


def test_printed_line(tmp_path, capsys):
    apply_answer_check(_data(tmp_path, ROWS), "train.jsonl")
    out = capsys.readouterr().out.strip()
    assert out.startswith("sftlab: train.jsonl: 3 of 5 solutions state no final answer")
    assert "appended 'The answer is X.' to 2" in out and "1 stay without one" in out
    apply_answer_check(_data(tmp_path, ROWS[:2]), "train.jsonl")
    assert capsys.readouterr().out == ""  # all stated: silent


def test_other_formats_are_not_checked(tmp_path):
    data = _data(tmp_path, [{"prompt": "p", "completion": "no answer here"}])
    assert check_final_answers(data)["n_no_final_answer"] == 0


def test_unknown_mode(tmp_path):
    with pytest.raises(ValueError, match="answer_suffix"):
        check_final_answers(_data(tmp_path, ROWS), "always")


def test_reference_extracted_strictly(tmp_path):
    """A missing answer field is taken only from a stated answer, never guessed from the last number."""
    data = _data(tmp_path, [{"question": "q", "solution": "The answer is 4."}, {"question": "q", "solution": "so 4"}])
    assert [r["answer"] for r in data.records] == ["4", None]
