"""Evaluation: greedy accuracy, avg@k and pass@k per split, with every generation logged.

>>> metrics = evaluate(model, tokenizer, {"test": items}, k=8, output_dir="out")  # doctest: +SKIP

``sftlab eval`` is :func:`run_eval` with an :class:`EvalConfig`.
"""

from .scoring import evaluate, pass_at_k
from .run import EvalConfig, format_table, load_model_and_tokenizer, run_eval

__all__ = ["EvalConfig", "evaluate", "format_table", "load_model_and_tokenizer", "pass_at_k", "run_eval"]
