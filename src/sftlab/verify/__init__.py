"""Final-answer extraction and equivalence checking.

:func:`verify` says whether a completion's final answer matches a reference:
:func:`extract_answer` finds the answer (``#### x``, ``\\boxed{x}``, "The answer
is x"), :func:`answers_match` compares it with the reference, either as
normalized strings (``mode="exact"``) or as mathematical objects through
math-verify (``mode="math"``, https://github.com/huggingface/Math-Verify).

Safety: model text is never executed. Answers are parsed only as LaTeX
(math-verify's ``LatexExtractionConfig``, an ANTLR grammar turned into sympy
objects); math-verify's plain-expression path, which goes through
``sympy.parse_expr`` and thus ``eval``, is not used. A pathological answer
cannot hang the caller: inputs are capped in length, plain numbers are compared
without sympy, and the sympy comparison runs under a deadline (a SIGALRM timer
in the main thread; elsewhere a worker process that is killed when it overruns,
see :mod:`sftlab.verify._guard`).
"""

from __future__ import annotations

import re
from fractions import Fraction

from ._guard import MAX_ANSWER_CHARS, math_equal

__all__ = ["extract_answer", "answers_match", "verify", "normalize_answer", "MAX_ANSWER_CHARS"]

_HASHES = "####"
_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")
_ANSWER_IS = re.compile(r"answer\s+is\s*:?\s*", re.IGNORECASE)
_SENTENCE_END = re.compile(r"\.(?:\s|$)")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?:\D|$))")
_INTEGER = re.compile(r"-?\d+")
_NUMBER = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)(?:/\d+)?")


def extract_answer(text: str) -> str | None:
    """The final answer in ``text``, or None when it states none.

    Priority: the last ``#### x`` (GSM8K style, rest of that line), then the
    last ``\\boxed{x}`` (nested braces kept), then the last "answer is x"
    ("The answer is x", "the final answer is: x"; up to the end of the sentence,
    with markup such as ``$`` and ``**`` stripped).

    >>> extract_answer("so 3 + 4 = 7\\n#### 7")
    '7'
    >>> extract_answer("Thus $\\\\boxed{\\\\frac{1}{2}}$.")
    '\\\\frac{1}{2}'
    >>> extract_answer("The answer is **42**.")
    '42'
    """
    if not text:
        return None
    for find in (_last_hashes, _last_boxed, _last_answer_is):
        answer = find(text)
        if answer:
            return answer
    return None


def _last_hashes(text: str) -> str | None:
    i = text.rfind(_HASHES)
    if i < 0:
        return None
    line = text[i + len(_HASHES) :].split("\n", 1)[0]
    return _clean(line.lstrip("#"))


def _last_boxed(text: str) -> str | None:
    boxes = [m.end() - 1 for m in _BOXED.finditer(text)]  # positions of each box's "{"
    if not boxes:
        return None
    closing = _matching_braces(text, boxes[0])
    for open_at in reversed(boxes):  # the last box first; an unbalanced (cut-off) box is skipped
        close_at = closing.get(open_at)
        if close_at is not None and text[open_at + 1 : close_at].strip():
            return text[open_at + 1 : close_at].strip()
    return None


def _matching_braces(text: str, start: int) -> dict[int, int]:
    """Map each ``{`` at or after ``start`` to its matching ``}`` (one linear pass)."""
    stack, closing = [], {}
    for j in range(start, len(text)):
        c = text[j]
        if c == "{":
            stack.append(j)
        elif c == "}" and stack:
            closing[stack.pop()] = j
    return closing


def _last_answer_is(text: str) -> str | None:
    last = None
    for last in _ANSWER_IS.finditer(text):
        pass
    if last is None:
        return None
    rest = text[last.end() :].split("\n", 1)[0]
    end = _SENTENCE_END.search(rest)
    if end:
        rest = rest[: end.start()]
    return _clean(rest)


def _clean(s: str) -> str | None:
    """Strip surrounding whitespace, markdown emphasis, ``$`` delimiters and a final period."""
    s = s.strip().strip("*_").strip()
    if s.startswith("\\(") and s.endswith("\\)"):
        s = s[2:-2].strip()
    s = s.strip("$").strip().rstrip(".").strip().strip("*_").strip()
    box = _BOXED.match(s)  # "#### \boxed{5}": the box's content
    if box and _matching_braces(s, box.end() - 1).get(box.end() - 1) == len(s) - 1:
        s = s[box.end() : -1].strip()
    return s or None


def normalize_answer(s: str) -> str:
    """The string form compared in exact mode.

    Strips whitespace, ``$`` signs (math delimiters or currency), a trailing
    period, and thousands separators in numbers (``1,000`` -> ``1000``); runs of
    whitespace collapse to one space.

    >>> normalize_answer(" $1,000.$ ")
    '1000'
    """
    s = s.replace("\\$", "").replace("$", "").strip()
    s = s.rstrip(".").strip()
    s = _THOUSANDS.sub("", s)
    return " ".join(s.split())


def answers_match(pred: str | None, ref: str | None, *, mode: str = "math", timeout: float = 5.0) -> bool:
    """Whether the predicted answer ``pred`` matches the reference ``ref``.

    ``mode="exact"``: equality after :func:`normalize_answer`.
    ``mode="math"``: exact first (fast path), then plain numbers compared as
    fractions, then math-verify's parse + verify on the LaTeX reading of both
    (``0.5 == 1/2 == \\frac{1}{2}``, ``3.0 == 3``, percentages as math-verify
    treats them). The sympy step returns False after ``timeout`` seconds.
    Answers longer than ``MAX_ANSWER_CHARS`` are only compared exactly.
    None on either side is never a match.
    """
    if mode not in ("exact", "math"):
        raise ValueError(f"unknown verification mode {mode!r} (use 'exact' or 'math')")
    if pred is None or ref is None:
        return False
    p, r = normalize_answer(str(pred)), normalize_answer(str(ref))
    if not p or not r:
        return False
    if p == r:
        return True
    if mode == "exact" or len(p) > MAX_ANSWER_CHARS or len(r) > MAX_ANSWER_CHARS:
        return False
    numeric = _numeric_verdict(p, r)
    if numeric is not None:
        return numeric
    return math_equal(p, r, timeout)


def _numeric_verdict(p: str, r: str) -> bool | None:
    """Decide plain-number pairs without sympy; None when math-verify must decide.

    Two integers are equal only as strings (already checked). Equal rationals
    (``0.5`` and ``1/2``) match; unequal non-integers go on to math-verify, which
    also accepts a rounded decimal (``0.333333`` for ``1/3``).
    """
    if _INTEGER.fullmatch(p) and _INTEGER.fullmatch(r):
        return int(p) == int(r)  # "007" == "7"
    if _NUMBER.fullmatch(p) and _NUMBER.fullmatch(r):
        try:
            if Fraction(p) == Fraction(r):
                return True
        except (ValueError, ZeroDivisionError):
            return None
    return None


def verify(completion: str, reference: str, *, mode: str = "math", timeout: float = 5.0) -> bool:
    """Whether the final answer of ``completion`` matches ``reference`` (see :func:`answers_match`)."""
    return answers_match(extract_answer(completion), reference, mode=mode, timeout=timeout)
