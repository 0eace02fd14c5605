"""Composable filters for self-distillation: each says which generated candidates to keep.

Every filter has one interface, ``keep(items) -> list[bool]`` over a whole batch
(so deduplication, novelty and perplexity can work on the batch at once), a
``name`` and a relative ``cost``. A :class:`FilterChain` runs its filters
cheapest first (the ordering of Tavakoli et al., arXiv 2512.09329: each filter
only sees what the cheaper ones kept) and records, per filter, how many
candidates it saw and removed.

Filters are built by name from a short spec (``"verifier,length:k=2,near_dedup"``)
with :func:`build_filters`; each has a config dataclass whose fields document
its options.
"""

from __future__ import annotations

import math
import re
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields

import numpy as np
import yaml

from sftlab.errors import SftlabError


@dataclass
class Candidate:
    """One generated completion and what the filters may need to judge it."""

    prompt: str
    completion: str
    answer: str | None = None  # reference answer, for the verifier filter
    meta: dict = field(default_factory=dict)


class Filter:
    """Base class: ``keep`` returns one bool per candidate (True = keep)."""

    name: str = "filter"
    cost: float = 1.0  # relative; a chain runs lower costs first

    def keep(self, items: list[Candidate]) -> list[bool]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, cost={self.cost})"


@dataclass
class ChainResult:
    survivors: list[Candidate]
    removed_by: list[str | None]  # per input candidate: the filter that removed it, None if it survived
    stats: list[dict]  # per filter, in run order: name, cost, seen, removed, kept, pass_rate


class FilterChain:
    """Run filters cheapest first (ties keep the given order); each sees only the survivors so far."""

    def __init__(self, filters: Sequence[Filter]):
        self.filters = sorted(filters, key=lambda f: f.cost)  # sorted() is stable

    def run(self, items: list[Candidate]) -> ChainResult:
        alive = list(range(len(items)))
        removed_by: list[str | None] = [None] * len(items)
        stats = []
        for flt in self.filters:
            batch = [items[i] for i in alive]
            flags = list(flt.keep(batch)) if batch else []
            if len(flags) != len(batch):
                raise ValueError(f"filter {flt.name!r} returned {len(flags)} flags for {len(batch)} items")
            for i, ok in zip(alive, flags):
                if not ok:
                    removed_by[i] = flt.name
            kept = [i for i, ok in zip(alive, flags) if ok]
            stats.append(
                {
                    "filter": flt.name,
                    "cost": flt.cost,
                    "seen": len(batch),
                    "removed": len(batch) - len(kept),
                    "kept": len(kept),
                    "pass_rate": len(kept) / len(batch) if batch else None,
                }
            )
            alive = kept
        return ChainResult([items[i] for i in alive], removed_by, stats)


# ---------------------------------------------------------------- filters


@dataclass
class VerifierConfig:
    mode: str = field(default="math", metadata={"help": "verification mode passed to sftlab.verify.verify (strict: a sample must state its final answer)"})


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
    k: float = field(default=2.0, metadata={"help": "keep lengths within mean +/- k standard deviations of the reference set"})
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
    mode: str = field(default="search", metadata={"help": "search (anywhere) or fullmatch (whole stripped completion)", "choices": ["search", "fullmatch"]})
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
    scope: str = field(default="prompt", metadata={"help": "deduplicate among completions of the same prompt, or across all", "choices": ["prompt", "all"]})
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
    threshold: float = field(default=0.8, metadata={"help": "drop a completion whose shingle Jaccard with an earlier kept one is >= this"})
    scope: str = field(default="prompt", metadata={"help": "compare completions of the same prompt, or across all", "choices": ["prompt", "all"]})


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
    max_identity: float = field(default=0.9, metadata={"help": "keep completions whose maximum identity to the reference set is below this"})
    metric: str = field(default="jaccard", metadata={"help": "identity measure: jaccard (character shingles) or alignment (global protein alignment)", "choices": ["jaccard", "alignment"]})
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
    max_perplexity: float = field(default=20.0, metadata={"help": "keep completions whose perplexity under the reference model is at most this"})
    batch_size: int = field(default=16, metadata={"help": "sequences per forward pass"})


class PerplexityFilter(Filter):
    """Keep completions with perplexity ``exp(mean NLL of completion tokens | prompt)`` under a reference model <= threshold."""

    name, cost = "perplexity", 10.0

    def __init__(self, model, tokenizer, cfg: PerplexityConfig | None = None):
        self.model, self.tokenizer, self.cfg = model, tokenizer, cfg or PerplexityConfig()

    def perplexities(self, items: list[Candidate]) -> list[float]:
        return completion_perplexities(self.model, self.tokenizer, [(c.prompt, c.completion) for c in items], self.cfg.batch_size)

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
    losses = completion_losses(model, tokenizer, [pairs[i][0] for i in scored], [pairs[i][1] for i in scored],
                               batch_size=batch_size, add_eos=False)
    out = [math.inf] * len(pairs)
    for i, loss in zip(scored, losses.tolist()):
        out[i] = math.exp(loss) if math.isfinite(loss) else math.inf
    return out


# ---------------------------------------------------------------- building from a spec


@dataclass
class FilterContext:
    """What filters may need from the run: reference texts (length window, novelty) and a reference model."""

    reference_texts: list[str] = field(default_factory=list)
    model: object = None
    tokenizer: object = None


def _reference(ctx: FilterContext, name: str) -> list[str]:
    if not ctx.reference_texts:
        raise SftlabError(f"filter '{name}' needs a reference set of completions (original data), and none was given")
    return ctx.reference_texts


def _perplexity(cfg: PerplexityConfig, ctx: FilterContext) -> PerplexityFilter:
    if ctx.model is None:
        raise SftlabError("filter 'perplexity' needs a reference model, and none was given")
    return PerplexityFilter(ctx.model, ctx.tokenizer, cfg)


# name -> (config class, builder(config, context) -> Filter)
REGISTRY: dict[str, tuple[type, Callable[..., Filter]]] = {
    "verifier": (VerifierConfig, lambda cfg, ctx: VerifierFilter(cfg)),
    "length": (LengthConfig, lambda cfg, ctx: LengthFilter.from_texts(_reference(ctx, "length"), cfg)),
    "regex": (RegexConfig, lambda cfg, ctx: RegexFilter(cfg)),
    "arithmetic": (ArithmeticConfig, lambda cfg, ctx: ArithmeticFilter(cfg)),
    "dedup": (DedupConfig, lambda cfg, ctx: ExactDedupFilter(cfg)),
    "near_dedup": (NearDedupConfig, lambda cfg, ctx: NearDedupFilter(cfg)),
    "novelty": (NoveltyConfig, lambda cfg, ctx: NoveltyFilter(_reference(ctx, "novelty"), cfg)),
    "perplexity": (PerplexityConfig, _perplexity),
}


def parse_filter_spec(spec) -> list[tuple[str, dict]]:
    """``"verifier,length:k=1.5:unit=words"`` (or a YAML list of such strings / ``{name: ..., opt: ...}`` maps) -> [(name, options)]."""
    if spec is None:
        return []
    items = [s for s in spec.split(",")] if isinstance(spec, str) else list(spec)
    out = []
    for item in items:
        if isinstance(item, dict):
            opts = dict(item)
            name = opts.pop("name", None)
        else:
            name, _, rest = str(item).partition(":")
            opts = {}
            # options are separated by ':' before a 'key=' (so a pattern may itself hold a ':')
            for part in re.split(r":(?=\s*\w+\s*=)", rest) if rest.strip() else []:
                if "=" not in part:
                    raise SftlabError(f"filters: option {part!r} of filter '{name}' must look like key=value")
                key, value = part.split("=", 1)
                opts[key.strip()] = value.strip()  # typed later, against the filter's config
        if not name:
            if isinstance(item, str) and not item.strip():
                continue
            raise SftlabError(f"filters: entry {item!r} has no filter name")
        out.append((str(name).strip(), opts))
    return out


def _typed_options(name: str, cfg_cls, opts: dict) -> dict:
    hints = typing.get_type_hints(cfg_cls)
    cfg_fields = {f.name: f for f in fields(cfg_cls)}
    out = {}
    for key, value in opts.items():
        kind = hints[key]
        if isinstance(value, str) and kind is not str:
            try:
                value = yaml.safe_load(value)
            except yaml.YAMLError:
                pass  # reported as a type error below
        ok = isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value, ok = float(value), True
        if not ok:
            raise SftlabError(f"filters: option '{key}' of filter '{name}' must be {kind.__name__}, got {value!r}")
        choices = cfg_fields[key].metadata.get("choices")
        if choices and value not in choices:
            raise SftlabError(f"filters: option '{key}' of filter '{name}' must be one of {', '.join(choices)}, got {value!r}")
        out[key] = value
    return out


def filter_configs(spec) -> list[tuple[str, object]]:
    """``[(name, config)]`` for a spec: unknown names, options or values are one clear error."""
    from . import protein  # noqa: F401  (registers the protein filters)

    out = []
    for name, opts in parse_filter_spec(spec):
        if name not in REGISTRY:
            raise SftlabError(f"filters: unknown filter '{name}' (known: {', '.join(REGISTRY)})")
        cfg_cls = REGISTRY[name][0]
        known = {f.name for f in fields(cfg_cls)}
        for key in opts:
            if key not in known:
                raise SftlabError(f"filters: filter '{name}' has no option '{key}' (options: {', '.join(sorted(known))})")
        out.append((name, cfg_cls(**_typed_options(name, cfg_cls, opts))))
    return out


def build_filters(spec, ctx: FilterContext | None = None) -> list[Filter]:
    """Build filters from a spec (see :func:`parse_filter_spec`) and what they need from ``ctx``."""
    ctx = ctx or FilterContext()
    return [REGISTRY[name][1](cfg, ctx) for name, cfg in filter_configs(spec)]
