"""The report's summary.md: the headline table, cost columns and each section, as Markdown."""

from __future__ import annotations

from .summary import (
    format_accuracy,
    format_interval,
    format_machine,
    format_seconds,
)
from .write import (
    Section,
    Table,
    _cell,
    _cost_columns,
    _costs,
    _date,
    _n_seeds,
    _split_n,
    _train_seconds,
)


def _render_markdown(metrics, summaries, split_labels, sections) -> str:
    methods, splits = metrics["methods"], list(metrics["splits"])
    seeds = ", ".join(map(str, metrics.get("seeds") or []))
    cost_cols = _cost_columns(methods)
    cols = ["method", *[f"{split_labels[s]}{_split_n(methods, s)}" for s in splits], "seeds", "train time", *cost_cols]
    context = [_date(metrics.get("created")), metrics.get("machine") and format_machine(metrics["machine"])]
    lines = [f"## {metrics.get('title') or 'sftlab report'}", ""]
    for section in sections:
        if section.lead:
            lines += _section_lines(section)[1:] + [""]  # before the results: no blank line above the title
    lines += [
        f"Accuracy (%), mean ± std over seeds{f' ({seeds})' if seeds else ''}"
        + (" [95% Student-t interval over seeds]" if _has_interval(summaries) else "")
        + ". "
        + " · ".join(c for c in context if c),
        "",
        "| " + " | ".join(_md(c) for c in cols) + " |",
        "| --- | " + " | ".join("---:" for _ in cols[1:]) + " |",
    ]
    for name, m in methods.items():
        costs = _costs(m) or {}
        cells = [_md(m.get("label", name)),
                 *[" ".join(filter(None, (format_accuracy(summaries[name][s]), format_interval(summaries[name][s]))))
                   for s in splits],
                 str(_n_seeds(m, summaries[name])), format_seconds(_train_seconds(m)),
                 *[costs.get(c, "–") for c in cost_cols]]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    if metrics.get("notes"):
        lines += ["", "Notes:", *[f"- {n}" for n in metrics["notes"]]]
    for section in sections:
        if not section.lead:
            lines += _section_lines(section)
    return "\n".join(line.rstrip() for line in lines) + "\n"


def _section_lines(section: Section) -> list[str]:
    tables = [_table_markdown(t) for t in section.tables if t.summary]
    return ["", f"### {section.title}", "", "\n\n".join(tables)] if tables else []


def _has_interval(summaries) -> bool:
    return any(s.get("ci95") for by_split in summaries.values() for s in by_split.values())


def section_markdown(section: Section) -> str:
    """A section on its own as Markdown: its title, paragraphs and tables (e.g. a command's summary.md)."""
    parts = [f"## {section.title}", *section.paragraphs, *[_table_markdown(t) for t in section.tables]]
    return "\n\n".join(parts) + "\n"


def _table_markdown(table: Table) -> str:
    lines = ["| " + " | ".join(_md(c) for c in table.columns) + " |", "|" + " --- |" * len(table.columns)]
    lines += ["| " + " | ".join(_md(_cell(c)) for c in row) + " |" for row in table.rows]
    return "\n".join(lines)


def _md(text) -> str:
    return str(text).replace("|", r"\|").replace("\n", " ")


# ---------------------------------------------------------------- small helpers
