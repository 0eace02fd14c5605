"""The filter interface and the chain that runs filters cheapest first (arXiv 2512.09329).

Every filter has one interface, ``keep(items) -> list[bool]`` over a whole batch
(so deduplication, novelty and perplexity can work on the batch at once), a
``name`` and a relative ``cost``. A :class:`FilterChain` runs its filters
cheapest first (each filter only sees what the cheaper ones kept) and records,
per filter, how many candidates it saw and removed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


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
