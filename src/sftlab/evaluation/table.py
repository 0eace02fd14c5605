"""The plain-text results table that ``sftlab eval`` prints."""

from __future__ import annotations


def format_table(metrics: dict) -> str:
    """A plain-text table: one line per split (``no answer``: greedy completions with no extractable answer;
    ``truncated``, shown when any: prompts cut from the left to fit the context)."""
    k = metrics["k"]
    truncated = any(m.get("n_truncated") for m in metrics["splits"].values())
    cols = ["split", "n", "skipped", "no answer"] + (["truncated"] if truncated else []) + ["accuracy"]
    cols += [f"avg@{k}", f"pass@{k}"] if k > 1 else []
    lines = []
    for split, m in metrics["splits"].items():
        values = [m["accuracy"]] + ([m[f"avg@{k}"], m[f"pass@{k}"]] if k > 1 else [])
        counts = [m["n"], m["n_skipped"], m.get("n_no_answer", 0)] + ([m.get("n_truncated", 0)] if truncated else [])
        lines.append([split] + [str(c) for c in counts] + ["-" if v is None else f"{v:.3f}" for v in values])
    widths = [max(len(c), *(len(row[i]) for row in lines)) if lines else len(c) for i, c in enumerate(cols)]
    fmt = lambda row: "  ".join(
        cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths))
    )  # noqa: E731
    return "\n".join([fmt(cols)] + [fmt(row) for row in lines])
