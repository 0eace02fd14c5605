"""The generic filters: verifier, length, regex, arithmetic, exact and near dedup, novelty, perplexity."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from sftlab.errors import SftlabError

from .chain import Candidate, Filter


@dataclass
class VerifierConfig:
    mode: str = field(
        default="math",
        metadata={
            "help": "verification mode passed to sftlab.verify.verify (strict: a sample must state its final answer)"
        },
    )


class VerifierFilter(Filter):
    """Keep completions whose final answer the verifier accepts against the candidate's ``answer``.

    A verdict already stored in ``candidate.meta["verified"]`` (same mode) is reused.
    """

    name, cost = "verifier", 2.0

    def __init__(self, cfg: VerifierConfig | None = None):
        self.cfg = cfg or VerifierConfig()

    def keep(self, items):
        return [verified(c, self.cfg.mode) for c in items]


def verified(c: Candidate, mode: str = "math") -> bool:
    """Whether ``c``'s answer verifies (False without a reference); cached in ``c.meta``."""
    from sftlab.verify import verify

    key = "verified" if mode == "math" else f"verified_{mode}"
    if key not in c.meta:
        # strict: a sample kept for training must state its answer (a marker), or the next round learns not to
        c.meta[key] = c.answer is not None and bool(verify(c.completion, c.answer, mode=mode, strict=True))
    return c.meta[key]


@dataclass
class LengthConfig:
    k: float = field(
        default=2.0, metadata={"help": "keep lengths within mean +/- k standard deviations of the reference set"}
    )
    unit: str = field(default="chars", metadata={"help": "length unit: chars or words", "choices": ["chars", "words"]})


def text_length(text: str, unit: str = "chars") -> int:
    """Length of a stripped completion in characters (residues for a protein) or whitespace words."""
    text = text.strip()
    return len(text) if unit == "chars" else len(text.split())


class LengthFilter(Filter):
    """Keep completions whose length is within ``mean +/- k * std`` of a reference set.

    ``std`` is the population standard deviation (``numpy.std``, ddof=0); the
    window is inclusive at both ends.
    """

    name, cost = "length", 0.1

    def __init__(self, reference_lengths: Sequence[int], cfg: LengthConfig | None = None):
        self.cfg = cfg or LengthConfig()
        if len(reference_lengths) == 0:
            raise SftlabError("length filter: the reference set is empty")
        lengths = np.asarray(reference_lengths, dtype=float)
        self.mean, self.std = float(lengths.mean()), float(lengths.std())
        self.low, self.high = self.mean - self.cfg.k * self.std, self.mean + self.cfg.k * self.std

    @classmethod
    def from_texts(cls, texts: Sequence[str], cfg: LengthConfig | None = None) -> LengthFilter:
        cfg = cfg or LengthConfig()
        return cls([text_length(t, cfg.unit) for t in texts], cfg)

    def keep(self, items):
        return [self.low <= text_length(c.completion, self.cfg.unit) <= self.high for c in items]


@dataclass
class RegexConfig:
    pattern: str = field(default=r"\S", metadata={"help": "regular expression (Python re syntax)"})
    mode: str = field(
        default="search",
        metadata={
            "help": "search (anywhere) or fullmatch (whole stripped completion)",
            "choices": ["search", "fullmatch"],
        },
    )
    invert: bool = field(default=False, metadata={"help": "keep completions that do NOT match"})


class RegexFilter(Filter):
    """Keep completions that match a pattern (or, with ``invert``, that do not)."""

    name, cost = "regex", 0.2

    def __init__(self, cfg: RegexConfig | None = None, name: str | None = None):
        self.cfg = cfg or RegexConfig()
        self.name = name or self.name
        try:
            self._re = re.compile(self.cfg.pattern)
        except re.error as e:
            raise SftlabError(f"{self.name} filter: invalid pattern {self.cfg.pattern!r}: {e}") from None
        self._match = self._re.fullmatch if self.cfg.mode == "fullmatch" else self._re.search

    def keep(self, items):
        text = (lambda c: c.completion.strip()) if self.cfg.mode == "fullmatch" else (lambda c: c.completion)
        return [(self._match(text(c)) is not None) != self.cfg.invert for c in items]


@dataclass
class ArithmeticConfig:
    require: bool = field(default=False, metadata={"help": "also drop completions that write no equation"})


_NUMBER = r"\d+(?:\.\d+)?"


# a binary equation "a op b = c" not preceded by another operand or operator (chains are skipped)
_EQUATION = re.compile(rf"(?<![\d.+\-*/×])({_NUMBER})\s*([+\-*/×])\s*({_NUMBER})\s*=\s*(-?{_NUMBER})")


def equations_hold(text: str) -> tuple[int, bool]:
    """``(number of "a op b = c" equations in text, whether all hold)``, in exact rational arithmetic.

    Numbers are parsed with :class:`fractions.Fraction`; nothing in ``text`` is executed.
    A division holds when ``b != 0`` and ``a == b * c``.
    """
    from fractions import Fraction

    found = _EQUATION.findall(text)
    ok = True
    for a, op, b, c in found:
        a, b, c = Fraction(a), Fraction(b), Fraction(c)
        if op == "+":
            ok &= a + b == c
        elif op == "-":
            ok &= a - b == c
        elif op in "*×":
            ok &= a * b == c
        else:
            ok &= b != 0 and a == b * c
    return len(found), ok


class ArithmeticFilter(Filter):
    """Keep completions whose written equations ``a op b = c`` (+ - * /, integers or decimals) are all correct.

    An answer-only verifier accepts a right final answer reached through wrong
    steps; this cheap check removes those (the reasoning is checked, not only
    the answer).
    """

    name, cost = "arithmetic", 0.5

    def __init__(self, cfg: ArithmeticConfig | None = None):
        self.cfg = cfg or ArithmeticConfig()

    def keep(self, items):
        out = []
        for c in items:
            n, ok = equations_hold(c.completion)
            out.append(ok and (n > 0 or not self.cfg.require))
        return out


@dataclass
class DedupConfig:
    scope: str = field(
        default="prompt",
        metadata={
            "help": "deduplicate among completions of the same prompt, or across all",
            "choices": ["prompt", "all"],
        },
    )
    normalize: bool = field(default=True, metadata={"help": "compare after stripping and collapsing whitespace"})


def _normalize(text: str) -> str:
    return " ".join(text.split())


class ExactDedupFilter(Filter):
    """Keep the first occurrence of each completion (within a prompt, or across all)."""

    name, cost = "dedup", 0.3

    def __init__(self, cfg: DedupConfig | None = None):
        self.cfg = cfg or DedupConfig()

    def keep(self, items):
        seen, out = set(), []
        for c in items:
            text = _normalize(c.completion) if self.cfg.normalize else c.completion
            key = (c.prompt if self.cfg.scope == "prompt" else None, text)
            out.append(key not in seen)
            seen.add(key)
        return out


def shingles(text: str, n: int) -> set[str]:
    """Character n-grams of whitespace-normalized ``text``; a text shorter than n is its own single shingle."""
    text = _normalize(text)
    if len(text) <= n:
        return {text}
    return {text[i : i + n] for i in range(len(text) - n + 1)}


def jaccard_matrix(a: Sequence[str], b: Sequence[str], n: int) -> np.ndarray:
    """Jaccard similarity of character n-gram sets, every text of ``a`` against every text of ``b``.

    Built on scikit-learn's binary CountVectorizer: intersection sizes are a sparse
    product, union = |A| + |B| - intersection. Returns a dense ``(len(a), len(b))`` array.
    """
    from sklearn.feature_extraction.text import CountVectorizer

    if not a or not b:
        return np.zeros((len(a), len(b)))
    vec = CountVectorizer(analyzer=lambda t: sorted(shingles(t, n)), binary=True, lowercase=False)
    vec.fit(list(a) + list(b))
    xa, xb = vec.transform(a), vec.transform(b)  # (len(a), V), (len(b), V) binary
    inter = (xa @ xb.T).toarray().astype(float)  # (len(a), len(b))
    size_a = np.asarray(xa.sum(axis=1)).ravel()[:, None]
    size_b = np.asarray(xb.sum(axis=1)).ravel()[None, :]
    return inter / (size_a + size_b - inter)


@dataclass
class NearDedupConfig:
    n: int = field(default=5, metadata={"help": "character n-gram (shingle) size"})
    threshold: float = field(
        default=0.8, metadata={"help": "drop a completion whose shingle Jaccard with an earlier kept one is >= this"}
    )
    scope: str = field(
        default="prompt",
        metadata={"help": "compare completions of the same prompt, or across all", "choices": ["prompt", "all"]},
    )


class NearDedupFilter(Filter):
    """Greedy near-duplicate removal by character-shingle Jaccard similarity.

    Candidates are visited in order; one is dropped when its Jaccard similarity
    with an already kept candidate (same prompt, or any with ``scope=all``)
    reaches ``threshold``. Exact pairwise comparison: quadratic in group size,
    which is fine for the hundreds-to-thousands of samples of a round.
    """

    name, cost = "near_dedup", 1.0

    def __init__(self, cfg: NearDedupConfig | None = None):
        self.cfg = cfg or NearDedupConfig()

    def keep(self, items):
        groups: dict = {}
        for i, c in enumerate(items):
            groups.setdefault(c.prompt if self.cfg.scope == "prompt" else None, []).append(i)
        out = [True] * len(items)
        for idx in groups.values():
            texts = [items[i].completion for i in idx]
            sim = jaccard_matrix(texts, texts, self.cfg.n)
            kept: list[int] = []
            for j in range(len(idx)):
                if kept and sim[j, kept].max() >= self.cfg.threshold:
                    out[idx[j]] = False
                else:
                    kept.append(j)
        return out


@dataclass
class NoveltyConfig:
    max_identity: float = field(
        default=0.9, metadata={"help": "keep completions whose maximum identity to the reference set is below this"}
    )
    metric: str = field(
        default="jaccard",
        metadata={
            "help": "identity measure: jaccard (character shingles) or alignment (global protein alignment)",
            "choices": ["jaccard", "alignment"],
        },
    )
    n: int = field(default=5, metadata={"help": "shingle size for the jaccard metric"})


class NoveltyFilter(Filter):
    """Keep completions whose maximum identity to a reference (training) set is below a threshold.

    ``metric="jaccard"``: character-shingle Jaccard similarity (texts).
    ``metric="alignment"``: identity of a global pairwise alignment, see
    :func:`sftlab.methods.distill.protein.identity` (sequences).
    """

    name, cost = "novelty", 5.0

    def __init__(self, reference: Sequence[str], cfg: NoveltyConfig | None = None):
        self.cfg = cfg or NoveltyConfig()
        if len(reference) == 0:
            raise SftlabError("novelty filter: the reference set is empty")
        self.reference = list(reference)

    def max_identity(self, items: list[Candidate]) -> list[float]:
        texts = [c.completion.strip() for c in items]
        if self.cfg.metric == "alignment":
            from .protein import max_identity

            return max_identity(texts, self.reference)
        return jaccard_matrix(texts, self.reference, self.cfg.n).max(axis=1).tolist() if texts else []

    def keep(self, items):
        return [m < self.cfg.max_identity for m in self.max_identity(items)]


@dataclass
class PerplexityConfig:
    max_perplexity: float = field(
        default=20.0, metadata={"help": "keep completions whose perplexity under the reference model is at most this"}
    )
    batch_size: int = field(default=16, metadata={"help": "sequences per forward pass"})


class PerplexityFilter(Filter):
    """Keep completions with perplexity ``exp(mean NLL of completion tokens | prompt)`` under a reference model <= threshold."""

    name, cost = "perplexity", 10.0

    def __init__(self, model, tokenizer, cfg: PerplexityConfig | None = None):
        self.model, self.tokenizer, self.cfg = model, tokenizer, cfg or PerplexityConfig()

    def perplexities(self, items: list[Candidate]) -> list[float]:
        return completion_perplexities(
            self.model, self.tokenizer, [(c.prompt, c.completion) for c in items], self.cfg.batch_size
        )

    def keep(self, items):
        return [p <= self.cfg.max_perplexity for p in self.perplexities(items)]


def completion_perplexities(model, tokenizer, pairs: Sequence[tuple[str, str]], batch_size: int = 16) -> list[float]:
    """Perplexity ``exp(mean NLL of completion tokens | prompt)`` of each ``(prompt, completion)`` pair.

    The NLL comes from the scoring service (:func:`sftlab.generation.scoring.completion_losses`: no full logits),
    which tokenizes the pair exactly as training builds the survivor's sequence (BOS, prompt, then the completion
    joined by :func:`sftlab.data.completion_text`); the EOS is not scored. An empty completion gets ``inf``.
    """
    from sftlab.generation.scoring import completion_losses

    scored = [i for i, (_, completion) in enumerate(pairs) if completion.strip()]
    losses = completion_losses(
        model,
        tokenizer,
        [pairs[i][0] for i in scored],
        [pairs[i][1] for i in scored],
        batch_size=batch_size,
        add_eos=False,
    )
    out = [math.inf] * len(pairs)
    for i, loss in zip(scored, losses.tolist()):
        out[i] = math.exp(loss) if math.isfinite(loss) else math.inf
    return out


# ---------------------------------------------------------------- building from a spec
