"""Evaluation: greedy accuracy, avg@k and pass@k per split, with every generation logged.

>>> metrics = evaluate(model, tokenizer, {"test": items}, k=8, output_dir="out")  # doctest: +SKIP

The ``sftlab eval`` command is :mod:`sftlab.methods.eval`.
"""

from .scoring import evaluate, pass_at_k
from .table import format_table

__all__ = ["evaluate", "format_table", "pass_at_k"]
