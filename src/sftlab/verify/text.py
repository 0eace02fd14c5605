"""Answer strings without sympy: normalization, numbers (with their units) and free-form text.

Everything here is plain Python on bounded strings (regular expressions
without nested quantifiers, :class:`fractions.Fraction`), so it is fast and
cannot hang. :mod:`sftlab.verify.compare` decides with these first and hands
only what is left (LaTeX expressions, sets, intervals) to math-verify.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

# ---------------------------------------------------------------- normalization

_TEXT_CMD = re.compile(
    r"\\(?:text(?:bf|it|rm|normal|sf|tt)?|mathrm|mathbf|mathit|mathsf|mbox|operatorname|emph)\s*\{([^{}]*)\}"
)
_SPACING = re.compile(r"\\(?:[,;:!> ]|quad|qquad|displaystyle|left|right|big|Big|bigg|Bigg)(?![A-Za-z])")
_GROUPED = re.compile(r"-?[1-9]\d{0,2}(?:(?:,|\\,|\{,\}|\\ | |\u2009|\u202f)\d{3})+(?:\.\d+)?")
_GROUP_SEP = re.compile(r",|\\,|\{,\}|\\ | |\u2009|\u202f")


def strip_delimiters(s: str) -> str:
    """Drop math delimiters (``$``, ``\\(..\\)``, ``\\[..\\]``), markdown emphasis, a trailing period and outer space."""
    s = s.replace("\\$", "$").replace("$", " ").strip()
    for left, right in (("\\(", "\\)"), ("\\[", "\\]")):
        if s.startswith(left) and s.endswith(right):
            s = s[len(left) : -len(right)].strip()
    s = s.strip("*_ \t\n").rstrip(".").strip().strip("*_").strip()
    return s


def normalize_answer(s: str) -> str:
    """The string form compared in exact mode (and tried first in math mode).

    Strips ``$`` signs (math delimiters or currency), ``\\(..\\)``, a trailing
    period, markdown emphasis and LaTeX spacing commands; ``\\dfrac`` and
    ``\\tfrac`` become ``\\frac``; runs of whitespace collapse to one space.
    Thousands separators (``1,000``, ``1 000``, ``1\\,000``) are removed only
    when the whole answer is one such number, so ``(0,100)`` keeps its comma.

    >>> normalize_answer(" $1,000.$ ")
    '1000'
    >>> normalize_answer("(0,100)")
    '(0,100)'
    """
    s = strip_delimiters(s)
    s = _SPACING.sub(" ", s).replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac").replace("\u2212", "-")
    s = " ".join(s.split())
    if _GROUPED.fullmatch(s):
        s = _GROUP_SEP.sub("", s)
    return s


def unwrap_text(s: str) -> str:
    """``\\text{apples}`` -> `` apples `` (every text-like command, innermost first, a few levels)."""
    for _ in range(3):
        new = _TEXT_CMD.sub(lambda m: f" {m.group(1)} ", s)
        if new == s:
            break
        s = new
    return " ".join(s.split())


# ---------------------------------------------------------------- numbers

# Words that are mathematics, not prose: an answer made of these and symbols is not a text answer.
MATH_WORDS = frozenset(
    [
        "sin",
        "cos",
        "tan",
        "cot",
        "sec",
        "csc",
        "arcsin",
        "arccos",
        "arctan",
        "sinh",
        "cosh",
        "tanh",
        "log",
        "ln",
        "lg",
        "exp",
        "lim",
        "max",
        "min",
        "gcd",
        "lcm",
        "mod",
        "pi",
        "infty",
        "inf",
        "sqrt",
        "det",
        "deg",
        "dx",
        "dy",
        "dz",
        "dt",
        "and",
        "or",
    ]
)
_NUMBER_WORDS = {
    w: i
    for i, w in enumerate(
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
            "twenty",
        ]
    )
}
_CURRENCY = re.compile(r"^(?:\\?\$|€|£|¥|₹|usd|eur|gbp|rs\.?)\s*", re.IGNORECASE)
_DEGREES = re.compile(r"\s*(?:\^\s*\{?\s*\\circ\s*\}?|°|\\degree)\s*$")
_PERCENT = re.compile(r"\s*(?:\\?%|percent)$", re.IGNORECASE)
# A unit after a number: words of two letters or more (``18 apples``, ``3 km/h``, ``5 square feet``, ``12 cm^2``).
_UNIT = re.compile(r"\s+([A-Za-z]{2,}(?:[ /-][A-Za-z]{2,})*(?:\^\{?[23]\}?)?)$")
_NON_UNITS = frozenset(
    {
        "pi",
        "and",
        "or",
        "times",
        "plus",
        "minus",
        "over",
        "divided",
        "squared",
        "cubed",
        "sqrt",
        "to",
        "of",
        "mod",
        "percent",
    }
)

_DECIMAL = r"-?(?:\d+\.?\d*|\.\d+)"
_PLAIN = re.compile(rf"({_DECIMAL})(?:[eE]([+-]?\d{{1,4}}))?")
_TIMES_TEN = re.compile(rf"({_DECIMAL})\s*(?:\\times|\\cdot|×|\*|x)\s*10\s*\^\s*\{{?\s*([+-]?\d{{1,4}})\s*\}}?")
_SLASH = re.compile(r"(-?\d+)\s*/\s*(\d+)")
_FRAC = re.compile(r"(-?)\\frac\s*(?:\{\s*(\d+)\s*\}|(\d))\s*(?:\{\s*(\d+)\s*\}|(\d))")
_MIXED = re.compile(
    r"(-?)(\d+)\s+(\d+)\s*/\s*(\d+)|(-?)(\d+)\s*\\frac\s*(?:\{\s*(\d+)\s*\}|(\d))\s*(?:\{\s*(\d+)\s*\}|(\d))"
)


@dataclass(frozen=True)
class Number:
    """A numeric answer: its exact value, its unit (lower-case, singular) if any, and how it was written."""

    value: Fraction
    unit: str | None = None
    percent: bool = False
    inexact: bool = False  # written as a decimal: compared after rounding, as math-verify rounds


def parse_number(s: str) -> Number | None:
    """The number ``s`` states, or None when it is not one plain number (with an optional unit).

    Understands ``-3``, ``3.50``, ``1,000,000``, ``1 000``, ``1.5e3``,
    ``1.5 \\times 10^{3}``, ``3/4``, ``\\frac{3}{4}``, mixed numbers (``2 1/2``,
    ``2\\frac{1}{2}``), ``50%``, currency (``$18``, ``€5``), degrees and trailing
    unit words (``18 dollars``, ``5 cm``, ``\\text{ apples}``), and the words
    zero to twenty.

    >>> parse_number("2 1/2").value
    Fraction(5, 2)
    >>> parse_number("18 dollars")
    Number(value=Fraction(18, 1), unit='dollar', percent=False, inexact=False)
    """
    s = unwrap_text(normalize_answer(s))
    if not s or len(s) > 200:
        return None
    s = _CURRENCY.sub("", s)
    unit = None
    if _DEGREES.search(s):
        s, unit = _DEGREES.sub("", s), "degree"
    percent = bool(_PERCENT.search(s))
    s = _PERCENT.sub("", s).strip()
    m = _UNIT.search(s)
    if m and not percent and unit is None and not set(re.split(r"[ /-]", m.group(1).lower())) & _NON_UNITS:
        unit = _singular(m.group(1))
        s = s[: m.start()].strip()
        s = _CURRENCY.sub("", s)
    if _GROUPED.fullmatch(s):
        s = _GROUP_SEP.sub("", s)
    value, inexact = _value(s)
    if value is None:
        return None
    return Number(value, unit, percent, inexact)


def _value(s: str) -> tuple[Fraction | None, bool]:
    if s.lower() in _NUMBER_WORDS:
        return Fraction(_NUMBER_WORDS[s.lower()]), False
    if m := _PLAIN.fullmatch(s):
        if m.group(1) in ("-", "-."):
            return None, False
        exp = int(m.group(2)) if m.group(2) else 0
        return Fraction(m.group(1)) * Fraction(10) ** exp, "." in m.group(1) and not m.group(2)
    if m := _TIMES_TEN.fullmatch(s):
        return Fraction(m.group(1)) * Fraction(10) ** int(m.group(2)), False
    if m := _SLASH.fullmatch(s):
        den = int(m.group(2))
        return (Fraction(int(m.group(1)), den) if den else None), False
    if m := _FRAC.fullmatch(s):
        num, den = int(m.group(2) or m.group(3)), int(m.group(4) or m.group(5))
        return ((-1 if m.group(1) else 1) * Fraction(num, den) if den else None), False
    if m := _MIXED.fullmatch(s):
        g = m.groups()
        sign, whole, num, den = (g[0], g[1], g[2], g[3]) if g[1] else (g[4], g[5], g[6] or g[7], g[8] or g[9])
        whole, num, den = int(whole), int(num), int(den)
        if not 0 < num < den:  # "2 4/2" is not a mixed number
            return None, False
        return (-1 if sign else 1) * (whole + Fraction(num, den)), False
    return None, False


def _singular(unit: str) -> str:
    words = unit.lower().split()
    last = words[-1]
    if last.endswith("es") and last[:-2].endswith(("ch", "sh", "x", "ss")):
        last = last[:-2]
    elif last.endswith("s") and not last.endswith("ss") and len(last) > 2:
        last = last[:-1]
    return " ".join(words[:-1] + [last])


def numbers_equal(a: Number, b: Number) -> bool:
    """Equal values (and the same unit when both state one).

    A percentage matches both its number and its fraction (``50%`` is ``50`` and
    ``0.5``, as math-verify accepts). A decimal matches a value that rounds to
    the same 6 decimal places (math-verify's ``float_rounding``).
    """
    if a.unit and b.unit and a.unit != b.unit:
        return False
    values_a = {a.value, a.value / 100} if a.percent else {a.value}
    values_b = {b.value, b.value / 100} if b.percent else {b.value}
    if values_a & values_b:
        return True
    if a.inexact or b.inexact:
        return any(round(x, 6) == round(y, 6) for x in values_a for y in values_b)
    return False


# ---------------------------------------------------------------- free-form text

_WORD = re.compile(r"(?<![\\A-Za-z])[A-Za-z]{2,}")
_ARTICLES = re.compile(r"\b(?:a|an|the)\b")
_LEADING = re.compile(r"^(?:that\s+)?(?:there\s+(?:are|is)\s+)")


def text_form(s: str) -> str | None:
    """The normalized text of a free-form answer (``No positive integer solutions``), or None for mathematics.

    An answer is text when, once ``\\text{..}`` is unwrapped, it holds a word of
    two letters or more that is not a LaTeX command or a mathematical name
    (``sin``, ``log``, ``pi``, ``and``, ...). Text is compared after
    lower-casing and dropping punctuation, articles and extra spaces, never as
    a product of symbols (``on`` is not ``No``).
    """
    s = unwrap_text(normalize_answer(s))
    if not any(w.lower() not in MATH_WORDS for w in _WORD.findall(s)):
        return None
    s = s.lower().replace("\\", " ")
    s = re.sub(r"[^\w\s]", " ", s)
    s = _ARTICLES.sub(" ", s)
    s = " ".join(s.split())
    return _LEADING.sub("", s)


YES_NO = ("yes", "no")


def yes_no_match(pred_text: str, ref_text: str) -> bool | None:
    """For a Yes/No reference: whether the prediction says the same (``Yes, because ...`` says yes); else None."""
    if ref_text not in YES_NO:
        return None
    words = pred_text.split()
    if not words or words[0] not in YES_NO:
        return False
    # "yes and no" or "no, yes" hedges: no credit
    return words[0] == ref_text and not any(w in YES_NO for w in words[1:])
