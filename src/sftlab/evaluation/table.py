"""The plain-text results table that ``sftlab eval`` prints."""

from __future__ import annotations


def format_table(metrics: dict) -> str:
    """A plain-text table: one line per split."""
    k = metrics["k"]
    cols = ["split", "n", "skipped", "accuracy"] + ([f"avg@{k}", f"pass@{k}"] if k > 1 else [])
    lines = []
    for split, m in metrics["splits"].items():
        values = [m["accuracy"]] + ([m[f"avg@{k}"], m[f"pass@{k}"]] if k > 1 else [])
        lines.append([split, str(m["n"]), str(m["n_skipped"])] + ["-" if v is None else f"{v:.3f}" for v in values])
    widths = [max(len(c), *(len(row[i]) for row in lines)) if lines else len(c) for i, c in enumerate(cols)]
    fmt = lambda row: "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))  # noqa: E731
    return "\n".join([fmt(cols)] + [fmt(row) for row in lines])
