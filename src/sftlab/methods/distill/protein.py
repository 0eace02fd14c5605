"""Protein pack: the filters of Tavakoli et al., arXiv 2512.09329 ("self-distillation fine-tuning of protein LMs").

The paper filters generated TrpB sequences cheapest first:

1. start: the sequence starts with Met (``M``);
2. length: within mean +/- 2 standard deviations of the natural set's lengths;
3. active site: after pairwise alignment to a reference TrpB (pfTrpB), the
   residue aligned to the reference's Lys82 is a Lys;
4. novelty: maximum sequence identity to the natural set below a threshold.

We add a cheap alphabet check (only the 20 standard amino acids) before them.

Alignment is a global (Needleman-Wunsch) alignment by parasail
(https://github.com/jeffdaily/parasail) with BLOSUM62, gap open 10, gap extend 1
(parasail's convention). **Identity** = identical aligned pairs / alignment
length, where the alignment length counts every column, gaps included (so
``identity("MKTAYIAK", "MKTYIAK") = 7/8``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from sftlab.errors import SftlabError

from .filters import (
    REGISTRY,
    Filter,
    LengthConfig,
    LengthFilter,
    NoveltyConfig,
    NoveltyFilter,
    RegexConfig,
    RegexFilter,
)

AMINO_ACIDS = "ACDEFGHIKLMNPQRSTVWY"
GAP_OPEN, GAP_EXTEND = 10, 1


def _parasail():
    try:
        import parasail
    except ImportError:
        raise SftlabError("the protein pack needs parasail: pip install 'sftlab[protein]'") from None
    return parasail


def align(query: str, ref: str) -> tuple[str, str]:
    """Global alignment of ``query`` to ``ref``; returns both with ``-`` for gaps (equal lengths)."""
    ps = _parasail()
    if not query or not ref:
        n = max(len(query), len(ref))
        return query.ljust(n, "-"), ref.ljust(n, "-")
    result = ps.nw_trace_scan_16(query, ref, GAP_OPEN, GAP_EXTEND, ps.blosum62)
    if result.saturated:  # scores beyond 16 bits (sequences of thousands of residues)
        result = ps.nw_trace_scan_32(query, ref, GAP_OPEN, GAP_EXTEND, ps.blosum62)
    tb = result.traceback
    return tb.query, tb.ref


def identity(a: str, b: str) -> float:
    """Identical aligned pairs / alignment length (all columns, gaps included) of the global alignment."""
    qa, ra = align(a, b)
    if not qa:
        return 0.0
    return sum(x == y and x != "-" for x, y in zip(qa, ra)) / len(qa)


def max_identity(seqs: Sequence[str], refs: Sequence[str]) -> list[float]:
    """For each sequence, its highest identity to any sequence of ``refs``."""
    return [max(identity(s, r) for r in refs) for s in seqs]


def residue_at(query: str, ref: str, position: int) -> str | None:
    """The residue of ``query`` aligned to ``ref``'s residue at 1-based ``position``; None if it faces a gap."""
    qa, ra = align(query, ref)
    seen = 0
    for q, r in zip(qa, ra):
        if r != "-":
            seen += 1
            if seen == position:
                return None if q == "-" else q
    return None


# ---------------------------------------------------------------- filters


@dataclass
class StartConfig:
    residue: str = field(default="M", metadata={"help": "required first residue"})


class StartResidueFilter(Filter):
    """Keep sequences whose first residue is ``residue`` (Met by default)."""

    name, cost = "met_start", 0.01

    def __init__(self, cfg: StartConfig | None = None):
        self.cfg = cfg or StartConfig()

    def keep(self, items):
        return [c.completion.strip().startswith(self.cfg.residue) for c in items]


@dataclass
class AlphabetConfig:
    alphabet: str = field(default=AMINO_ACIDS, metadata={"help": "allowed residue letters"})


def alphabet_filter(cfg: AlphabetConfig | None = None) -> RegexFilter:
    """Keep non-empty sequences made only of the allowed letters (the 20 standard amino acids)."""
    cfg = cfg or AlphabetConfig()
    flt = RegexFilter(RegexConfig(pattern=f"[{re.escape(cfg.alphabet)}]+", mode="fullmatch"), name="alphabet")
    flt.cost = 0.05
    return flt


@dataclass
class ConservedConfig:
    reference: str = field(default="", metadata={"help": "reference sequence the candidates are aligned to"})
    position: int = field(default=82, metadata={"help": "1-based position in the reference of the conserved residue"})
    residue: str = field(default="K", metadata={"help": "residue required at that position"})


class ConservedResidueFilter(Filter):
    """Keep sequences that, aligned to the reference, carry ``residue`` at the reference's ``position``."""

    name, cost = "conserved", 1.0

    def __init__(self, cfg: ConservedConfig):
        self.cfg = cfg
        ref = cfg.reference
        if not ref:
            raise SftlabError("conserved filter: a reference sequence is required (option 'reference')")
        if not 1 <= cfg.position <= len(ref):
            raise SftlabError(f"conserved filter: position {cfg.position} is outside the reference (length {len(ref)})")
        if ref[cfg.position - 1] != cfg.residue:
            raise SftlabError(
                f"conserved filter: the reference has {ref[cfg.position - 1]!r} at position {cfg.position}, "
                f"not {cfg.residue!r} (positions are 1-based)"
            )

    def keep(self, items):
        return [
            residue_at(c.completion.strip(), self.cfg.reference, self.cfg.position) == self.cfg.residue for c in items
        ]


@dataclass
class ProteinPackConfig:
    """The protein pack's options; defaults follow arXiv 2512.09329 except ``max_identity`` (configurable)."""

    reference: str = field(
        default="", metadata={"help": "reference sequence for the conserved-residue check (e.g. pfTrpB)"}
    )
    position: int = field(
        default=82, metadata={"help": "1-based reference position of the conserved residue (Lys82 in pfTrpB)"}
    )
    residue: str = field(default="K", metadata={"help": "the conserved residue"})
    start: str = field(default="M", metadata={"help": "required first residue"})
    length_k: float = field(
        default=2.0, metadata={"help": "length window: natural mean +/- length_k standard deviations"}
    )
    max_identity: float = field(
        default=0.9, metadata={"help": "novelty: maximum identity to the natural set must be below this"}
    )


def protein_filters(natural: Sequence[str], cfg: ProteinPackConfig) -> list[Filter]:
    """The pack's filters, cheapest first: alphabet, start, length, conserved residue, novelty."""
    if not natural:
        raise SftlabError("protein pack: the natural sequence set is empty")
    return [
        alphabet_filter(),
        StartResidueFilter(StartConfig(cfg.start)),
        LengthFilter.from_texts(natural, LengthConfig(k=cfg.length_k, unit="chars")),
        ConservedResidueFilter(ConservedConfig(cfg.reference, cfg.position, cfg.residue)),
        NoveltyFilter(natural, NoveltyConfig(max_identity=cfg.max_identity, metric="alignment")),
    ]


def constraint_flags(seqs: Sequence[str], natural: Sequence[str], cfg: ProteinPackConfig) -> tuple[dict, np.ndarray]:
    """Each pack constraint checked on every sequence on its own (not as a chain).

    Returns ``({filter name: bool array}, max identity to the natural set per sequence)``.
    """
    from .filters import Candidate

    items = [Candidate(prompt="", completion=s) for s in seqs]
    flags, ids = {}, np.zeros(len(items))
    for flt in protein_filters(natural, cfg):
        if isinstance(flt, NoveltyFilter):
            ids = np.asarray(flt.max_identity(items), dtype=float)
            flags[flt.name] = ids < cfg.max_identity
        else:
            flags[flt.name] = np.asarray(flt.keep(items), dtype=bool)
    return flags, ids


def protein_metrics(seqs: Sequence[str], natural: Sequence[str], cfg: ProteinPackConfig) -> dict:
    """Constraint satisfaction, novelty and diversity of sampled sequences.

    Returns ``pass_rates`` per constraint (each on its own), ``all_constraints``
    (share meeting every one), ``mean_max_identity`` to the natural set,
    ``novel`` (share below the identity threshold) and ``unique`` (share of
    distinct sequences).
    """
    if not seqs:
        return {
            "n": 0,
            "pass_rates": {},
            "all_constraints": 0.0,
            "mean_max_identity": None,
            "novel": 0.0,
            "unique": 0.0,
        }
    flags, ids = constraint_flags(seqs, natural, cfg)
    all_ok = np.logical_and.reduce(list(flags.values()))
    return {
        "n": len(seqs),
        "pass_rates": {k: float(v.mean()) for k, v in flags.items()},
        "all_constraints": float(all_ok.mean()),
        "mean_max_identity": float(ids.mean()),
        "novel": float(flags["novelty"].mean()),
        "unique": len(set(seqs)) / len(seqs),
    }


REGISTRY.update(
    {
        "met_start": (StartConfig, lambda cfg, ctx: StartResidueFilter(cfg)),
        "alphabet": (AlphabetConfig, lambda cfg, ctx: alphabet_filter(cfg)),
        "conserved": (ConservedConfig, lambda cfg, ctx: ConservedResidueFilter(cfg)),
    }
)
