"""Whether two answers are the same: numbers, text, then mathematics (math-verify) under a deadline.

Order (see :func:`answers_match`): equal normalized strings; a reference of
the form ``X, or equivalently Y`` / ``X (or Y)`` accepts either part; plain
numbers (with units, percent, currency, thousands separators, scientific
notation, mixed numbers) as exact fractions; free-form text (Yes/No, words)
as normalized text; integer powers (``10^{10^8}``) by their base and
exponent; everything else through math-verify's LaTeX parse + verify under
the time limit of :mod:`sftlab.verify._guard`.
"""

from __future__ import annotations

import os
import re

from ._guard import MAX_ANSWER_CHARS, math_equal
from .text import normalize_answer, numbers_equal, parse_number, text_form, yes_no_match

# Deeper nesting of braces/brackets/parentheses is compared as a string only: no benchmark answer nests this deep,
# and the LaTeX parser's cost grows fast with depth.
MAX_NESTING = 30
# The time limit of one sympy comparison, in seconds, when the caller gives none (env SFTLAB_VERIFY_TIMEOUT overrides).
DEFAULT_TIMEOUT_S = 1.0

_ALTERNATIVES = (
    re.compile(r"(.+?),?\s+or\s+equivalently,?\s+(.+)", re.IGNORECASE),
    re.compile(r"(.+?)\s*\((?:or|or\s+equivalently|equivalently|i\.e\.,?)\s+(.+)\)", re.IGNORECASE),
)
_CONNECTOR = re.compile(r",?\s*(?<![\\A-Za-z])(?:and|or)(?![A-Za-z])\s*")
_POWER = re.compile(r"[\d\s^{}()]+")
_MAX_EXPONENT = 10**9


def default_timeout() -> float:
    """The time limit of one comparison: ``$SFTLAB_VERIFY_TIMEOUT`` seconds, else :data:`DEFAULT_TIMEOUT_S`."""
    try:
        return max(float(os.environ.get("SFTLAB_VERIFY_TIMEOUT", DEFAULT_TIMEOUT_S)), 1e-3)
    except ValueError:
        return DEFAULT_TIMEOUT_S


def answers_match(pred: str | None, ref: str | None, *, mode: str = "math", timeout: float | None = None) -> bool:
    """Whether the predicted answer ``pred`` matches the reference ``ref``.

    ``mode="exact"``: equality after :func:`normalize_answer`.
    ``mode="math"``: exact first (fast path); then, for the reference and each
    of its alternatives (``X, or equivalently Y``): numbers, text, integer
    powers, and math-verify's LaTeX parse + verify (``0.5 == \\frac{1}{2}``,
    ``x+1 == 1+x``, sets, intervals, tuples), which returns False after
    ``timeout`` seconds (default :func:`default_timeout`). Answers longer than
    ``MAX_ANSWER_CHARS`` or nested deeper than ``MAX_NESTING`` are only
    compared as strings. None on either side is never a match.
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
    timeout = default_timeout() if timeout is None else timeout
    return any(_match(p, alt, timeout) for alt in alternatives(r))


def alternatives(ref: str) -> list[str]:
    """The reference and the forms it offers as equivalent: ``C(10, 5), or equivalently 252`` -> both parts."""
    for pattern in _ALTERNATIVES:
        m = pattern.fullmatch(ref)
        if m:
            return [ref, normalize_answer(m.group(1)), normalize_answer(m.group(2))]
    return [ref]


def _match(p: str, r: str, timeout: float) -> bool:
    p, r = _strip_outer_braces(p), _strip_outer_braces(r)
    if p == r:
        return True
    np_, nr = parse_number(p), parse_number(r)
    if np_ is not None and nr is not None:
        return numbers_equal(np_, nr)
    pt, rt = text_form(p), text_form(r)
    if pt is not None or rt is not None:
        if pt is None or rt is None:
            return False  # words against mathematics: never a product of symbols
        verdict = yes_no_match(pt, rt)
        return verdict if verdict is not None else pt == rt
    if _nesting(p) > MAX_NESTING or _nesting(r) > MAX_NESTING:
        return False
    # "0 and 1", "12 or 13": a list of answers, never the product 0*a*n*d*1
    p, r = _CONNECTOR.sub(", ", p), _CONNECTOR.sub(", ", r)
    powers = _power_verdict(p, r)
    if powers is not None:
        return powers
    return math_equal(p, r, timeout)


def _strip_outer_braces(s: str) -> str:
    """``{{1}}`` -> ``1``: braces around the whole answer group nothing."""
    while len(s) >= 2 and s[0] == "{" and s[-1] == "}":
        depth = 0
        for i, c in enumerate(s):
            depth += (c == "{") - (c == "}")
            if depth == 0 and i < len(s) - 1:
                return s  # "{a}{b}": the first brace closes early
        s = s[1:-1].strip()
    return s


def _nesting(s: str) -> int:
    depth = deepest = 0
    for c in s:
        if c in "{([":
            depth += 1
            deepest = max(deepest, depth)
        elif c in "})]":
            depth = max(depth - 1, 0)
    return deepest


# ---------------------------------------------------------------- integer powers without sympy


def _power_verdict(p: str, r: str) -> bool | None:
    """Decide two integer power expressions (``10^{10^8}``, ``2^{10}``, ``1024``) exactly; None if not both such.

    Each side is read as ``b^e`` with ``b`` not a perfect power, so equal
    values have equal pairs. A side whose exponent itself exceeds 10^9 cannot
    be written out and is not equal to anything but the same string.
    """
    if "^" not in p + r or not (_POWER.fullmatch(p) and _POWER.fullmatch(r)):
        return None
    a, b = _power(p), _power(r)
    if a == "too big" or b == "too big":
        return False
    if a is None or b is None:
        return None
    return a == b


def _power(s: str) -> tuple[int, int] | str | None:
    tokens = re.findall(r"\d+|[\^{}()]", s)
    try:
        value, rest = _parse_power(tokens)
    except OverflowError:
        return "too big"
    except (ValueError, IndexError):
        return None
    return value if not rest else None


def _parse_power(tokens: list[str]) -> tuple[tuple[int, int], list[str]]:
    """Right-associative ``atom (^ atom)*`` over digit strings and groups; value as ``(base, exponent)``."""
    head, rest = tokens[0], tokens[1:]
    if head in "{(":
        inner, rest = _parse_power(rest)
        if not rest or rest[0] not in "})":
            raise ValueError("unbalanced")
        base, rest = inner, rest[1:]
    elif head.isdigit():
        if len(head) > 100:
            raise ValueError("too long")
        base = _perfect_power(int(head))
    else:
        raise ValueError(head)
    if rest and rest[0] == "^":
        (eb, ee), rest = _parse_power(rest[1:])
        if ee * eb.bit_length() > 64:  # exponent > ~2^64: cannot be written out
            raise OverflowError
        exponent = eb**ee
        if base[1] * exponent > _MAX_EXPONENT:
            raise OverflowError
        if exponent == 0:
            base = (1, 1)
        elif base[0] > 1:
            base = (base[0], base[1] * exponent)
    return base, rest


def _perfect_power(n: int) -> tuple[int, int]:
    """``n`` as ``(b, k)`` with ``b**k == n`` and ``b`` not itself a perfect power (0 and 1 as ``(n, 1)``)."""
    if n < 2:
        return n, 1
    for k in range(n.bit_length(), 1, -1):
        b = round(n ** (1.0 / k)) if n < 2**1000 else None
        if b is None:
            break
        for c in (b - 1, b, b + 1):
            if c > 1 and c**k == n:
                inner, j = _perfect_power(c)
                return inner, j * k
    return n, 1
