"""DART's reward for a rewrite ``y'`` of an SFT example ``(x, y*, a*)``: pure terms, combined by weights.

DART (arXiv 2605.26924) rewards a mapper for rewriting supervision into the
target model's own distribution without changing what it teaches. The paper's
full text is not reachable here; the terms and their combination below are
sftlab's design (see docs/dart.md)::

    total(y') = gate                                   if the final answer of y' does not verify against a*
              = w_a * alignment - sum_k w_k * penalty_k   otherwise

    alignment = clip(lp(y'|x) - lp(y*|x), -c, c)      lp = mean log-prob per completion token under the frozen target
    gate      = -(w_a * c + sum_k w_k) - gate_margin    strictly below anything a correct rewrite can score

Every penalty is in [0, 1] and is a plain function of strings, so each can be
tested and logged on its own:

* ``length``: answer-only or truncated rewrites, ``1 - ratio / floor`` when the
  rewrite has fewer than ``floor`` x the original's non-space characters;
* ``coverage``: dropped reasoning, the share of the original's intermediate
  results (numbers of ``y*`` that are not in the question) missing from ``y'``;
* ``copy``: copying the question, the share of the question's word n-grams in
  ``y'`` beyond the share already in ``y*``;
* ``repetition``: loops, the share of repeated token n-grams above a tolerance;
* ``leak``: 1 when a piece of prompt scaffolding (the mapper template's or the
  target prompt's literal text) appears in ``y'`` but in neither ``y*`` nor ``x``.
"""

from __future__ import annotations

import math
import re
import string
from dataclasses import dataclass, field
from fractions import Fraction

from sftlab.config import help_meta as _h
from sftlab.trainers.rewards import correctness

PENALTIES = ("length", "coverage", "copy", "repetition", "leak")
TERMS = ("alignment", "correct", *PENALTIES)

_NUMBER = re.compile(r"(?<![\w.])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?")
_WORD = re.compile(r"\w+")
_TOKEN = re.compile(r"\w+|[^\w\s]")


@dataclass
class RewardConfig:
    """Weights and thresholds of DART's reward (sftlab's design; see docs/dart.md)."""

    alignment_weight: float = field(
        default=1.0,
        metadata=_h(
            "Weight w_a of the alignment term (target log-likelihood of the rewrite minus the original's, per token)."
        ),
    )
    alignment_clip: float = field(
        default=2.0,
        metadata=_h("Clip the alignment term to [-c, c] nats per token, so one term cannot swamp the others."),
    )
    length_weight: float = field(
        default=1.0, metadata=_h("Weight of the length penalty (answer-only or truncated rewrites).")
    )
    length_floor: float = field(
        default=0.1,
        metadata=_h(
            "Length floor: rewrites shorter than this fraction of the original (non-space characters) are penalized, linearly down to 0."
        ),
    )
    coverage_weight: float = field(
        default=1.0,
        metadata=_h("Weight of the dropped-reasoning penalty (share of the original's intermediate results missing)."),
    )
    copy_weight: float = field(default=1.0, metadata=_h("Weight of the question-copying penalty."))
    copy_ngram: int = field(default=4, metadata=_h("Word n-gram size used to detect copying of the question."))
    repetition_weight: float = field(default=1.0, metadata=_h("Weight of the repetition-loop penalty."))
    repetition_ngram: int = field(default=4, metadata=_h("Token n-gram size used to detect repetition loops."))
    repetition_tolerance: float = field(
        default=0.2, metadata=_h("Share of repeated n-grams tolerated before the repetition penalty starts.")
    )
    leak_weight: float = field(
        default=1.0, metadata=_h("Weight of the leaked-template penalty (prompt scaffolding in the rewrite).")
    )
    gate_margin: float = field(
        default=1.0,
        metadata=_h("A wrong final answer scores this much below the lowest reward a correct rewrite can get."),
    )
    verify_mode: str = field(
        default="math",
        metadata=_h(
            "How the rewrite's final answer is compared with the reference. The answer is read strictly: only a stated one (\\boxed{}, 'The answer is', ####) can pass.",
            choices=["math", "exact"],
        ),
    )


# -- the pure terms -------------------------------------------------------------------------


def alignment(lp_rewrite: float, lp_original: float, clip: float = 2.0) -> float:
    """``clip(lp(y'|x) - lp(y*|x), -clip, clip)``: how much more natural the rewrite is to the target, per token.

    >>> alignment(-0.5, -2.0)
    1.5
    >>> alignment(-9.0, -1.0)
    -2.0
    """
    if not (math.isfinite(lp_rewrite) and math.isfinite(lp_original)):
        return -clip
    return max(-clip, min(clip, lp_rewrite - lp_original))


def length_penalty(rewrite: str, original: str, floor: float = 0.1) -> float:
    """``max(0, 1 - ratio / floor)``, ratio = non-space characters of ``rewrite`` over those of ``original``.

    >>> round(length_penalty("#### 5", "First, 2 plus 3 is 5. The answer is 5.", floor=0.5), 3)  # 1 - (5/29)/0.5
    0.655
    """
    ref = _chars(original)
    if ref == 0 or floor <= 0:
        return 0.0
    return max(0.0, 1.0 - (_chars(rewrite) / ref) / floor)


def coverage_penalty(rewrite: str, original: str, question: str = "") -> float:
    """Share of the original's intermediate results missing from the rewrite.

    Intermediate results are the numbers of ``original`` that the question does
    not state (computed values, the final answer among them); when there are
    none, all numbers of ``original``; with no number at all, no penalty.

    >>> x, y = "Mia has 12, gets 7, then has 2 times as many.", "12 plus 7 is 19, and 2 times 19 is 38."
    >>> coverage_penalty("12+7=19; 19*2=38; #### 38", y, x), coverage_penalty("#### 38", y, x)
    (0.0, 0.5)
    """
    results = set(numbers(original)) - set(numbers(question))
    if not results:
        results = set(numbers(original))
    if not results:
        return 0.0
    return len(results - set(numbers(rewrite))) / len(results)


def copy_penalty(rewrite: str, question: str, original: str = "", n: int = 4) -> float:
    """``max(0, copied(rewrite) - copied(original))``, copied(t) = share of the question's word n-grams found in t."""
    return max(0.0, _copied(question, rewrite, n) - _copied(question, original, n))


def repetition_penalty(rewrite: str, n: int = 4, tolerance: float = 0.2) -> float:
    """Repeated token n-grams beyond ``tolerance``, scaled to [0, 1].

    ``repeated = 1 - distinct / total`` over the rewrite's n-grams of word and
    punctuation tokens; the penalty is ``clip((repeated - tolerance) / (1 - tolerance), 0, 1)``.
    """
    toks = _TOKEN.findall(rewrite.lower())
    grams = [tuple(toks[i : i + n]) for i in range(len(toks) - n + 1)]
    if len(grams) < 2:
        return 0.0
    repeated = 1.0 - len(set(grams)) / len(grams)
    if tolerance >= 1:
        return 0.0
    return min(1.0, max(0.0, (repeated - tolerance) / (1.0 - tolerance)))


def leak_penalty(rewrite: str, scaffold: list[str], original: str = "", question: str = "") -> float:
    """1.0 when a scaffold fragment appears in the rewrite but in neither the original nor the question."""
    for fragment in scaffold:
        if fragment in rewrite and fragment not in original and fragment not in question:
            return 1.0
    return 0.0


def scaffold_fragments(*templates: str) -> list[str]:
    """The literal text of prompt templates, split at slots and line breaks, as leak markers.

    Fragments with fewer than 3 letters or digits (punctuation, a lone space) are
    dropped: they occur in any text.

    >>> scaffold_fragments("Question: {question}\\nSolution: {solution}\\nRewrite:")
    ['Question:', 'Solution:', 'Rewrite:']
    """
    out: list[str] = []
    for template in templates:
        if not template:
            continue
        for literal, *_ in string.Formatter().parse(template):
            for piece in literal.split("\n"):
                piece = piece.strip()
                if sum(c.isalnum() for c in piece) >= 3 and piece not in out:
                    out.append(piece)
    return out


def numbers(text: str) -> list[str]:
    """Numbers in ``text``, normalized (``1,000`` -> ``1000``, ``3.50`` -> ``7/2``).

    >>> numbers("12+7=19; 19*2=38; #### 38")
    ['12', '7', '19', '19', '2', '38', '38']
    """
    out = []
    for m in _NUMBER.finditer(text):
        s = m.group().replace(",", "")
        try:
            out.append(str(Fraction(s)))
        except (ValueError, ZeroDivisionError):
            continue
    return out


# -- combining ------------------------------------------------------------------------------


def penalty_weights(cfg: RewardConfig) -> dict[str, float]:
    return {
        "length": cfg.length_weight,
        "coverage": cfg.coverage_weight,
        "copy": cfg.copy_weight,
        "repetition": cfg.repetition_weight,
        "leak": cfg.leak_weight,
    }


def gate_reward(cfg: RewardConfig) -> float:
    """The reward of a wrong answer: ``-(w_a * c + sum_k w_k) - gate_margin``."""
    return -(cfg.alignment_weight * cfg.alignment_clip + sum(penalty_weights(cfg).values())) - cfg.gate_margin


def text_terms(rewrite: str, question: str, original: str, answer, cfg: RewardConfig, scaffold: list[str]) -> dict:
    """The terms that need no model: ``correct`` and every penalty."""
    return {
        "correct": correctness(rewrite, answer, cfg.verify_mode),
        "length": length_penalty(rewrite, original, cfg.length_floor),
        "coverage": coverage_penalty(rewrite, original, question),
        "copy": copy_penalty(rewrite, question, original, cfg.copy_ngram),
        "repetition": repetition_penalty(rewrite, cfg.repetition_ngram, cfg.repetition_tolerance),
        "leak": leak_penalty(rewrite, scaffold, original, question),
    }


def total_reward(terms: dict, cfg: RewardConfig) -> float:
    """Combine the terms (``alignment``, ``correct`` and the penalties) into the reward."""
    if terms["correct"] < 1.0:
        return gate_reward(cfg)
    weights = penalty_weights(cfg)
    return cfg.alignment_weight * terms["alignment"] - sum(weights[k] * terms[k] for k in PENALTIES)


def score_rewrites(
    rewrites: list[str],
    questions: list[str],
    originals: list[str],
    answers: list,
    lp_rewrites: list[float],
    lp_originals: list[float],
    cfg: RewardConfig,
    scaffold: list[str],
) -> list[dict]:
    """Every term, the target log-likelihoods and the total for each rewrite (one dict per rewrite)."""
    out = []
    for y, x, y0, a, lp, lp0 in zip(rewrites, questions, originals, answers, lp_rewrites, lp_originals, strict=True):
        terms = text_terms(y, x, y0, a, cfg, scaffold)
        terms["alignment"] = alignment(float(lp), float(lp0), cfg.alignment_clip)
        terms.update(lp_rewrite=float(lp), lp_original=float(lp0), total=total_reward(terms, cfg))
        out.append(terms)
    return out


# -- helpers --------------------------------------------------------------------------------


def _chars(text: str) -> int:
    return sum(not c.isspace() for c in text)


def _copied(question: str, text: str, n: int) -> float:
    q = _WORD.findall(question.lower())
    if not q or not text:
        return 0.0
    n = max(1, min(n, len(q)))
    q_grams = {tuple(q[i : i + n]) for i in range(len(q) - n + 1)}
    t = _WORD.findall(text.lower())
    t_grams = {tuple(t[i : i + n]) for i in range(len(t) - n + 1)}
    return len(q_grams & t_grams) / len(q_grams)
