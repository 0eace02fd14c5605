"""Finding the final answer in a completion.

Order (see :func:`extract_answer`):

1. **Final-answer statements** ("markers"), the *last* one in the text wins:
   ``\\boxed{x}`` / ``\\fbox{x}``, "The final answer is x", "The answer is x",
   "Final Answer: x", "Answer: x", and a ``#### x`` line. A ``####`` line that
   is a markdown heading (``#### Step 2: ...``, ``#### Final Answer``) is not an
   answer. Final boxes that follow one another with only ``and``/commas
   between them (``$\\boxed{2}$ and $\\boxed{3}$``) are read together as one
   multi-part answer (``2, 3``).
2. **Lenient fallback** (not in strict mode): with no marker, the last
   answer-like expression, found with math-verify's own extraction patterns
   and priorities (``LatexExtractionConfig`` and ``ExprExtractionConfig``:
   "final answer is" > "answer:" > "answer ..." > a trailing LaTeX or plain
   number/expression; rightmost first within a priority). Only the patterns
   are used to *locate* the answer; nothing found here is parsed by
   ``sympy.parse_expr`` (see :mod:`sftlab.verify`). Failing that, a completion
   of at most ``SHORT_ANSWER_WORDS`` words is its own answer.

Every step is a linear scan or a regular expression over a bounded window,
so extraction needs no time limit.
"""

from __future__ import annotations

import re
from functools import lru_cache
from itertools import groupby

from .text import strip_delimiters

_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")
_STATEMENT = re.compile(
    r"(?:\bfinal\s+answers?|\banswers?)(?:\s*\*\*)?(?:\s+(?:is|are|would\s+be|should\s+be)\b\s*:?|\s*:)", re.IGNORECASE
)
_HASHES = re.compile(r"####")
_SENTENCE_END = re.compile(r"\.(?:\s|$)|,\s+(?:since|because|as|which|so|but|where)\b|\s+(?:because|since)\b")
_HEADING = re.compile(
    r"(?i)(?:step|part|case|section|stage|phase|final\s+answer|answer|solution|summary|conclusion|verification|"
    r"explanation|problem|approach|method|analysis|check|result|calculation|setup|understanding|reasoning|plan|note)s?\b"
)
# Text allowed between two boxes of one multi-part answer.
_BOX_JOINER = re.compile(
    r"[\s$,;.]*(?:(?:,?\s*(?:and|or)|\\text\{\s*(?:and|or|,)\s*\}|\\quad|&)[\s$,;.]*)?", re.IGNORECASE
)
# The fallback looks at the end of the completion only: the final answer is there, and the window bounds the work.
FALLBACK_WINDOW = 2000
# A completion of at most this many words, with nothing else to extract, is read as the answer itself (lenient only).
SHORT_ANSWER_WORDS = 3
_MARKER_START = re.compile(r"####|\\boxed|\\fbox|answer", re.IGNORECASE)


def extract_answer(text: str, *, strict: bool = False) -> str | None:
    """The final answer in ``text``, or None when it states none.

    ``strict=True``: final-answer statements only (``\\boxed{}``, "The
    (final) answer is", "Answer:", ``####``); the last one wins. Default
    (lenient): the same, and without any, the last answer-like expression as
    math-verify finds it (``Final Answer \\[ 9 \\]``, a bare ``7,425,000``, a
    closing ``$x = 3$``).

    >>> extract_answer("so 3 + 4 = 7\\n#### 7")
    '7'
    >>> extract_answer("Thus $\\\\boxed{\\\\frac{1}{2}}$.")
    '\\\\frac{1}{2}'
    >>> extract_answer("The roots are $\\\\boxed{2}$ and $\\\\boxed{3}$.")
    '2, 3'
    >>> extract_answer("In total 7,425,000") is None, extract_answer("In total 7,425,000", strict=False)
    (False, '7,425,000')
    """
    if not text:
        return None
    found = _last_statement(text)
    if found is None and not strict:
        found = _fallback(text[-FALLBACK_WINDOW:])
        short = text.strip()
        if found is None and len(short.split()) <= SHORT_ANSWER_WORDS and not _MARKER_START.search(short):
            found = _clean(short)  # a completion that is only its answer ("Yes", "**Monday**")
    return found


def _last_statement(text: str) -> str | None:
    """The content of the last final-answer statement (marker) whose content is not empty."""
    candidates: list[tuple[int, str]] = []  # (position, content)
    hash_lines = []  # (start, end) of each line holding ####; its answer follows the line's last ####
    for m in _HASHES.finditer(text):
        if hash_lines and m.start() < hash_lines[-1][1]:
            continue  # read with its line below
        start = text.rfind("\n", 0, m.start()) + 1
        end = text.find("\n", m.end())
        end = len(text) if end < 0 else end
        hash_lines.append((start, end))
        last = text.rfind("####", m.start(), end)
        content = _clean(text[last + 4 : end].lstrip("#"))
        if content and not _is_heading(content):
            candidates.append((last, content))
    for m in _STATEMENT.finditer(text):
        content = _statement_content(text, m.end())
        if content:
            candidates.append((m.start(), content))
    for start, content in _box_runs(text):
        if not any(a <= start < b for a, b in hash_lines):  # a box on a #### line belongs to that line
            candidates.append((start, content))
    if not candidates:
        return None
    return max(candidates, key=lambda c: c[0])[1]


def _statement_content(text: str, at: int) -> str | None:
    rest = text[at : at + 1000]
    line, _, after = rest.partition("\n")
    if not line.strip(" *:"):  # "Final Answer:\n\n42": the next non-empty line
        line = next((part for part in after.split("\n") if part.strip()), "")
    end = _SENTENCE_END.search(line)
    if end:
        line = line[: end.start()]
    return _clean(line)


def _is_heading(content: str) -> bool:
    """A ``####`` line that titles a section (``Step 1: Add``, ``Final Answer``) rather than stating an answer."""
    if content.endswith(":") or _HEADING.match(content):
        return True
    words = content.split()
    return len(words) >= 3 and not re.search(r"[\d\\$=]", content)


def _box_runs(text: str) -> list[tuple[int, str]]:
    """``(start, content)`` of each run of consecutive boxes; a run of several is joined with ``, ``."""
    boxes = []  # (start, content_end_plus_one, content)
    opens = [m for m in _BOXED.finditer(text)]
    if not opens:
        return []
    closing = _matching_braces(text, opens[0].end() - 1)
    for m in opens:
        close_at = closing.get(m.end() - 1)
        if close_at is None:  # unbalanced (cut off): skipped
            continue
        content = text[m.end() : close_at].strip()
        if content and not (boxes and m.start() < boxes[-1][1]):  # nested boxes: the outer one
            boxes.append((m.start(), close_at + 1, content))
    runs: list[tuple[int, list[str]]] = []
    previous_end = None
    for start, end, content in boxes:
        if previous_end is not None and _BOX_JOINER.fullmatch(text[previous_end:start]):
            runs[-1][1].append(content)
        else:
            runs.append((start, [content]))
        previous_end = end
    return [(start, ", ".join(parts)) for start, parts in runs]


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


def _clean(s: str) -> str | None:
    """Strip space, markdown emphasis, math delimiters, a final period, and a box around the whole answer."""
    s = strip_delimiters(s.strip().lstrip(":=").strip())
    box = _BOXED.match(s)  # "#### \boxed{5}": the box's content
    if box and _matching_braces(s, box.end() - 1).get(box.end() - 1) == len(s) - 1:
        s = strip_delimiters(s[box.end() : -1])
    return s or None


# ---------------------------------------------------------------- lenient fallback: math-verify's patterns


@lru_cache(maxsize=1)
def _fallback_patterns():
    """math-verify's extraction regexes for LaTeX and plain expressions, grouped by priority (lowest first)."""
    from math_verify import ExprExtractionConfig, LatexExtractionConfig
    from math_verify.parser import get_extraction_regexes

    patterns = [
        (pattern, priority)
        for regexes, _config in get_extraction_regexes([LatexExtractionConfig(), ExprExtractionConfig()])
        for pattern, priority in regexes
    ]
    patterns.sort(key=lambda p: p[1])
    return [[p for p, _ in group] for _, group in groupby(patterns, key=lambda p: p[1])]


def _fallback(text: str) -> str | None:
    """The rightmost match of math-verify's highest-priority pattern that matches, as a string."""
    for group in _fallback_patterns():
        matches = [m for pattern in group for m in pattern.finditer(text)]
        for m in sorted(matches, key=lambda m: (m.end(), -m.start()), reverse=True):  # rightmost first, as math-verify
            answer = _match_string(m)
            if answer:
                return answer
    return None


def _match_string(m: re.Match) -> str | None:
    groups = {k: v for k, v in m.groupdict().items() if v}
    if any("Boxed" in k or "\\boxed" in v for k, v in groups.items()):
        return None  # boxes are markers: a box left for the fallback is cut off
    latex = [v for k, v in groups.items() if "_latex" in k]
    if latex:
        percent = any(k.endswith("percent") for k in groups)
        parts = [_clean(p) for p in latex]
        answer = ", ".join(p for p in parts if p)
        return (answer + "%") if answer and percent and len(parts) == 1 else answer or None
    if "expr" in groups:
        return _clean(groups["expr"])
    number = "".join(
        groups.get(k, "") for k in ("integer1", "decimal1", "integer2", "decimal2", "decimal3", "integer3")
    )
    if number:
        return number + ("%" if groups.get("percent") else "")
    return None
