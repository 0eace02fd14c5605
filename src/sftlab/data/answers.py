"""Do the training solutions state a final answer? A model trained on solutions without one can never be scored.

A reasoning record's solution should end in a final-answer statement that
:func:`sftlab.verify.extract_answer` reads in strict mode (``\\boxed{x}``, "The
answer is x", ``#### x``). Many real data sets (competition solutions
written for people) do not: the model learns to stop without stating its
answer, and every verifier then scores it wrong. :func:`check_final_answers`
counts such records and, with ``answer_suffix="auto"`` (the default of
``sftlab train``, ``dart`` and ``distill``), appends the lab's closing line
``The answer is X.`` to those that carry an ``answer`` field.
"""

from __future__ import annotations

from .formats import SFTData

ANSWER_SUFFIXES = ("auto", "off")
ANSWER_SUFFIX_HELP = (
    "Reasoning records whose solution states no final answer (no \\boxed{}, 'The answer is' or ####) are counted; "
    "auto: append 'The answer is X.' (X = the record's answer field) so the trained model can be scored; off: count only."
)


def closing_line(answer) -> str:
    """The lab's final-answer sentence: ``The answer is 38.``"""
    return f"The answer is {answer}."


def check_final_answers(data: SFTData, answer_suffix: str = "auto") -> dict:
    """Count (and with ``auto`` fix, in place) reasoning solutions without a final-answer statement.

    Returns ``{"n_records", "n_no_final_answer", "n_answer_appended"}``; other
    formats are not checked (their records have no separate answer field).
    """
    if answer_suffix not in ANSWER_SUFFIXES:
        raise ValueError(f"answer_suffix must be one of {', '.join(ANSWER_SUFFIXES)} (got {answer_suffix!r})")
    stats = {"n_records": len(data.records), "n_no_final_answer": 0, "n_answer_appended": 0}
    if data.format != "reasoning":
        return stats
    from sftlab.verify import extract_answer

    for record in data.records:
        if extract_answer(record["solution"], strict=True) is not None:
            continue
        stats["n_no_final_answer"] += 1
        if answer_suffix == "auto" and record.get("answer") is not None:
            record["solution"] = record["solution"].rstrip() + "\n" + closing_line(record["answer"])
            stats["n_answer_appended"] += 1
    return stats


def describe_final_answers(source: str, stats: dict) -> str | None:
    """One line for the user when some solutions state no final answer; None when all do."""
    missing, appended = stats["n_no_final_answer"], stats["n_answer_appended"]
    if not missing:
        return None
    line = f"sftlab: {source}: {missing} of {stats['n_records']} solutions state no final answer"
    if appended:
        line += f"; appended '{closing_line('X')}' to {appended} (--answer-suffix auto)"
    if missing > appended:
        line += (
            f"; {missing - appended} stay without one (no 'answer' field, or --answer-suffix off): "
            "a model trained on them may never state an answer a verifier can score"
        )
    return line


def apply_answer_check(data: SFTData, source: str, answer_suffix: str = "auto") -> dict:
    """:func:`check_final_answers`, printing :func:`describe_final_answers`'s line when there is one."""
    stats = check_final_answers(data, answer_suffix)
    line = describe_final_answers(source, stats)
    if line:
        print(line)
    return stats
