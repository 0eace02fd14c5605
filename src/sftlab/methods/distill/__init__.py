"""Self-distillation fine-tuning with domain filters (arXiv 2512.09329): generate, filter, fine-tune, repeat.

- :mod:`.filters`: the filter interface, the generic filters and the chain (cheapest first);
- :mod:`.protein`: the protein pack (Met start, length window, conserved residue, novelty);
- :mod:`.loop`: ``DistillConfig`` and ``run_distill`` (``sftlab distill``);
- :mod:`.protein_lab`: the synthetic protein family and tiny protein LM of the example;
- :mod:`.demo`: the math self-distillation entry of ``sftlab demo``.
"""

from .filters import Candidate, Filter, FilterChain, FilterContext, build_filters
from .loop import DistillConfig, run_distill

__all__ = ["Candidate", "DistillConfig", "Filter", "FilterChain", "FilterContext", "build_filters", "run_distill"]
