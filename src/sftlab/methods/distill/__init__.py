"""Self-distillation fine-tuning with domain filters (arXiv 2512.09329): generate, filter, fine-tune, repeat.

- :mod:`.chain`: the filter interface and the chain (cheapest first);
- :mod:`.generic`: the generic filters (verifier, length, regex, arithmetic, dedup, novelty, perplexity);
- :mod:`.filters`: filters built by name from a spec (``"verifier,length:k=2"``);
- :mod:`.protein`: the protein pack (Met start, length window, conserved residue, novelty);
- :mod:`.tasks`: what a pack gives the loop, and the math pack's task;
- :mod:`.loop`: ``DistillConfig`` and ``run_distill`` (``sftlab distill``);
- :mod:`.protein_lab`: the synthetic protein family and tiny protein LM of the example.
The math self-distillation entry of ``sftlab demo`` is :mod:`sftlab.experiments.entries.distill`.
"""

from .filters import Candidate, Filter, FilterChain, FilterContext, build_filters
from .loop import DistillConfig, run_distill

__all__ = ["Candidate", "DistillConfig", "Filter", "FilterChain", "FilterContext", "build_filters", "run_distill"]
