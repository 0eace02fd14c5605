"""Final-answer extraction and equivalence checking.

:func:`verify` says whether a completion's final answer matches a reference:
:func:`extract_answer` finds the answer (:mod:`sftlab.verify.extract`: the last
``\\boxed{x}``, "The answer is x" or ``#### x``; in lenient mode, without one,
the last answer-like expression), :func:`answers_match` compares it with the
reference (:mod:`sftlab.verify.compare`): as normalized strings
(``mode="exact"``) or as numbers, text and mathematical objects through
math-verify (``mode="math"``, https://github.com/huggingface/Math-Verify).

Strict or lenient. ``strict=True`` reads final-answer statements only: a
completion that states no answer earns nothing, which is what a training
reward wants (DART's gate, NFT, direct RL, self-distillation filters pass
``strict=True``). The default, lenient, also takes the last answer-like
expression of a completion without a statement, as math-verify does; the
evaluation (``sftlab eval``) uses it, so a model is scored on what it wrote.

Safety: model text is never executed. ``sympy.parse_expr`` and ``sympify`` of
strings call Python's ``eval``, so no model text reaches them: answers are
parsed only as LaTeX (math-verify's ``LatexExtractionConfig``, an ANTLR
grammar turned into sympy objects). math-verify's ``ExprExtractionConfig``
is used only for its *patterns*, to locate a plain-text answer
(``extract._fallback``); its parse step (``parse_expr``) is never called, and
the located string is read by our own number parser (:mod:`sftlab.verify.text`,
regular expressions and ``Fraction``) or as LaTeX. A test patches
``parse_expr`` to fail and checks every case still gets its verdict.

Bounds: a pathological answer cannot hang the caller. Extraction is linear
(the fallback reads the last ``FALLBACK_WINDOW`` characters); answers longer
than ``MAX_ANSWER_CHARS`` or nested deeper than ``MAX_NESTING`` are compared
as strings only; numbers, text and integer powers are decided without sympy;
the sympy comparison runs under a deadline (``timeout``, default
``$SFTLAB_VERIFY_TIMEOUT`` or 1 s: a SIGALRM timer in the main thread;
elsewhere a worker process that is killed when it overruns, see
:mod:`sftlab.verify._guard`).

Adding a domain verifier: a verifier is a function ``(completion, reference)
-> bool`` (see ``sftlab.distill.protein`` for one); rewards and filters take
such a function, so a new domain needs no change here.
"""

from __future__ import annotations

from ._guard import MAX_ANSWER_CHARS
from .compare import (
    DEFAULT_TIMEOUT_S,
    MAX_NESTING,
    alternatives,
    answers_match,
    default_timeout,
)
from .extract import FALLBACK_WINDOW, extract_answer
from .text import normalize_answer, parse_number, text_form

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "FALLBACK_WINDOW",
    "MAX_ANSWER_CHARS",
    "MAX_NESTING",
    "alternatives",
    "answers_match",
    "default_timeout",
    "extract_answer",
    "normalize_answer",
    "parse_number",
    "text_form",
    "verify",
]


def verify(
    completion: str, reference: str, *, mode: str = "math", timeout: float | None = None, strict: bool = False
) -> bool:
    """Whether the final answer of ``completion`` matches ``reference``.

    ``strict``: markers only (a completion without a final-answer statement is
    wrong); default lenient (see :func:`extract_answer`, :func:`answers_match`).
    """
    return answers_match(extract_answer(completion, strict=strict), reference, mode=mode, timeout=timeout)
