"""``write_report``: metrics.json, a self-contained report.html, summary.md and plots/*.png."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import html
import json
import os
import re
from pathlib import Path

from sftlab import __version__
from sftlab.errors import SftlabError
from sftlab.io import atomic_dir, atomic_write_json, atomic_write_text

from .plots import DPI, accuracy_figure, curves_figure, figure_png
from .style import _CSS
from .summary import (
    format_accuracy,
    format_bytes,
    format_count,
    format_interval,
    format_machine,
    format_seconds,
    summarize_runs,
)

MAX_EXAMPLES = 6  # example generations shown per method


NAV = {"accuracy": "Accuracy", "examples": "Examples"}  # short names in the page's link bar


@dataclasses.dataclass
class Table:
    """A table of a report section, as data: ``columns`` (header texts) and ``rows`` (one list of cells each).

    Cells are shown as ``str(cell)`` (None: empty), escaped, so a producer formats its numbers
    itself (``format_accuracy``, f-strings) and never writes HTML. ``summary``: also in summary.md.
    """

    columns: list[str]
    rows: list[list]
    caption: str = ""
    summary: bool = True


@dataclasses.dataclass
class Section:
    """An extra report section that a method adds (DART, S2L, landscape, ...), as data.

    ``paragraphs`` are plain text (escaped; ``**word**`` shows in bold), then
    come the ``tables`` (:class:`Table`), then the ``images``: a caption ->
    a matplotlib ``Figure`` or PNG bytes; each is embedded in the HTML and
    saved under ``plots/``; PNGs show at 150 dpi, and ``sftlab.report.plots``
    has ``new_figure``/``style_axes`` for figures that match the report's own.
    summary.md gets the tables marked ``summary`` under the title. A ``lead``
    section comes first, before the results table (the demo's claims
    scoreboard). Only this module writes HTML.
    """

    title: str
    paragraphs: list[str] = dataclasses.field(default_factory=list)
    tables: list[Table] = dataclasses.field(default_factory=list)
    images: dict = dataclasses.field(default_factory=dict)
    lead: bool = False


def write_report(output_dir: str | os.PathLike, metrics: dict, *, sections=()) -> dict[str, Path]:
    """Write the report files for ``metrics`` (schema: ``sftlab.report``) into ``output_dir``.

    Everything is rendered in memory first and each file is written atomically,
    so a failure leaves no partial file. Returns ``{relative path: path}`` of
    every file written.
    """
    _check(metrics)
    out = Path(output_dir)
    methods, splits = metrics["methods"], list(metrics["splits"])
    split_labels = {s: metrics.get("labels", {}).get(s, s) for s in splits}
    summaries = {name: {**summarize_runs(m["runs"], splits), **(m.get("summary") or {})} for name, m in methods.items()}

    plots = {"plots/accuracy.png": figure_png(accuracy_figure(methods, splits, split_labels, summaries))}
    curves = curves_figure(methods)
    if curves is not None:
        plots["plots/training_curves.png"] = figure_png(curves)
    section_images = []
    for i, section in enumerate(sections):
        files = {}
        for caption, image in section.images.items():
            name = f"plots/{_slug(section.title)}-{_slug(caption)}.png"
            if name in plots:  # two sections or captions with the same slug
                name = name[: -len(".png")] + f"-{i}-{len(files)}.png"
            plots[name] = files[caption] = _png(image, f"report section '{section.title}': image '{caption}'")
        section_images.append(files)
    page = _render_html(metrics, summaries, split_labels, plots, list(zip(sections, section_images)))
    from .markdown import _render_markdown  # it builds on this module's tables and helpers

    summary_md = _render_markdown(metrics, summaries, split_labels, sections)

    written = {"metrics.json": atomic_write_json(out / "metrics.json", metrics)}  # first: it fails on bad values
    with atomic_dir(out / "plots") as tmp:
        for name, png in plots.items():
            (tmp / Path(name).name).write_bytes(png)
    written.update({name: out / name for name in plots})
    written["summary.md"] = atomic_write_text(out / "summary.md", summary_md)
    written["report.html"] = atomic_write_text(out / "report.html", page)
    return written


def _check(metrics: dict) -> None:
    """One clear error for a metrics dict that does not follow the schema."""
    if not isinstance(metrics, dict):
        raise SftlabError(f"report metrics: expected a dict, got {type(metrics).__name__}")
    if not isinstance(metrics.get("splits"), (list, tuple)) or not metrics["splits"]:
        raise SftlabError("report metrics: 'splits' must be a non-empty list of split names")
    if not isinstance(metrics.get("methods"), dict) or not metrics["methods"]:
        raise SftlabError("report metrics: 'methods' must be a non-empty dict keyed by method name")
    for name, method in metrics["methods"].items():
        runs = method.get("runs") if isinstance(method, dict) else None
        if not isinstance(runs, list):
            raise SftlabError(f"report metrics: methods['{name}']: 'runs' must be a list")
        for i, run in enumerate(runs):
            if not isinstance(run, dict) or not isinstance(run.get("accuracy"), dict):
                raise SftlabError(f"report metrics: methods['{name}'].runs[{i}]: 'accuracy' must be a dict by split")


# ---------------------------------------------------------------- HTML


def _render_html(metrics, summaries, split_labels, plots, sections) -> str:
    e = html.escape
    methods, splits = metrics["methods"], list(metrics["splits"])
    title = metrics.get("title") or "sftlab report"
    caption = _HEADLINE_CAPTION + (_COST_CAPTION if _cost_columns(methods) else "")
    parts = []
    for i, (section, images) in enumerate(sections):
        if section.lead:
            parts.append(_section_part(i, section, images))
    parts.append(("results", "Results", _headline_table(metrics, summaries, split_labels), caption))
    parts.append(("accuracy", "Accuracy: " + " vs ".join(split_labels[s] for s in splits),
                  _img(plots["plots/accuracy.png"], "accuracy per method and split"),
                  "Bars: mean over seeds; error bars: ±1 std; dots: single seeds. "
                  + _n_text(methods, splits, split_labels)))  # fmt: skip
    if "plots/training_curves.png" in plots:
        parts.append(("curves", "Training curves", _img(plots["plots/training_curves.png"], "training curves"),
                      "Left: the objective each method optimizes. Right: the plain NLL of the same tokens. "
                      "Lines: mean over seeds; bands: ±1 std."))  # fmt: skip
    if metrics.get("notes"):
        items = "".join(f"<li>{e(str(n))}</li>" for n in metrics["notes"])
        parts.append(("notes", "Notes", f"<ul>{items}</ul>", ""))
    for i, (section, images) in enumerate(sections):
        if not section.lead:
            parts.append(_section_part(i, section, images))
    examples = _examples_html(methods, split_labels)
    if examples:
        parts.append(("examples", "Example generations", examples,
                      "A few generations per method from one seed, as the model wrote them."))  # fmt: skip
    if metrics.get("config"):
        config = json.dumps(metrics["config"], indent=2, ensure_ascii=False, default=str)
        folded = f"<details><summary>show</summary><pre>{e(config)}</pre></details>"
        parts.append(("config", "Configuration", folded, ""))
    nav = "".join(f'<a href="#{e(sid)}">{e(NAV.get(sid, name))}</a>' for sid, name, _, _ in parts)
    body = "\n".join(_section(*part) for part in parts)
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{e(title)}</title>'
        f"<style>{_CSS}</style></head>\n<body><main>\n{_header(metrics, title)}\n<nav>{nav}</nav>\n{body}\n"
        f"<footer>written by sftlab {e(__version__)}</footer>\n</main></body></html>\n"
    )


def _section_part(i: int, section: Section, images: dict) -> tuple[str, str, str, str]:
    e = html.escape
    figs = "".join(f"<figure>{_img(png, cap)}<figcaption>{e(cap)}</figcaption></figure>" for cap, png in images.items())
    return (f"s{i}-{_slug(section.title)}", section.title, _section_body(section) + figs, "")


def _header(metrics, title) -> str:
    e = html.escape
    facts = [
        ("date", _date(metrics.get("created"))),
        ("machine", metrics.get("machine") and format_machine(metrics["machine"])),
        ("sftlab", metrics.get("sftlab_version") or __version__),
        ("seeds", ", ".join(map(str, metrics.get("seeds") or []))),
    ]
    items = "".join(f"<div><dt>{k}</dt><dd>{e(str(v))}</dd></div>" for k, v in facts if v)
    return f"<header><h1>{e(title)}</h1><dl>{items}</dl></header>"


_HEADLINE_CAPTION = ("Accuracy (%) on each split: mean ± std over seeds (sample std; 0 for a single seed); below it, "
                     "with two or more seeds, the 95% Student-t interval of the mean over seeds. n: problems per split. "
                     "Bold: the highest mean per split. Train time: mean per seed.")  # fmt: skip


_COST_CAPTION = (" Cost, where measured: wall time (training + evaluation) and tokens trained (prompt + completion, "
                 "padding excluded), mean per seed; peak memory, the largest over seeds (GPU: "
                 "torch.cuda.max_memory_allocated of the run; CPU: the process's max RSS so far, which never goes "
                 "down within one command).")  # fmt: skip


def _costs(method) -> dict | None:
    """A method's cost columns from its runs' ``cost`` blocks (None: no run measured one)."""
    costs = [r["cost"] for r in method["runs"] if isinstance(r.get("cost"), dict)]
    if not costs:
        return None

    def mean(key):
        values = [c[key] for c in costs if c.get(key) is not None]
        return sum(values) / len(values) if values else None

    peaks = [c["peak_memory_bytes"] for c in costs if c.get("peak_memory_bytes")]
    return {
        "wall time": format_seconds(mean("wall_seconds")),
        "tokens trained": format_count(mean("tokens_trained")),
        "peak memory": format_bytes(max(peaks) if peaks else None),
    }


def _cost_columns(methods) -> list[str]:
    return ["wall time", "tokens trained", "peak memory"] if any(_costs(m) for m in methods.values()) else []


def _headline_table(metrics, summaries, split_labels) -> str:
    e = html.escape
    methods, splits = metrics["methods"], list(metrics["splits"])
    means = {s: [summaries[m][s]["mean"] for m in methods] for s in splits}
    best = {s: max((v for v in means[s] if v is not None), default=None) for s in splits}
    head = "".join(f'<th class="num">{e(split_labels[s])}<small>{_split_n(methods, s)}</small></th>' for s in splits)
    cost_cols = _cost_columns(methods)
    rows = []
    for name, m in methods.items():
        desc = f"<small>{e(m['description'])}</small>" if m.get("description") else ""
        cells = "".join(
            f'<td class="num{" best" if best[s] is not None and summaries[name][s]["mean"] == best[s] else ""}">'
            f"{format_accuracy(summaries[name][s])}{_interval_html(summaries[name][s])}</td>"
            for s in splits
        )
        costs = _costs(m) or {}
        cost_cells = "".join(f'<td class="num">{e(costs.get(c, "–"))}</td>' for c in cost_cols)
        rows.append(
            f'<tr><th scope="row">{e(m.get("label", name))}{desc}</th>{cells}'
            f'<td class="num">{_n_seeds(m, summaries[name])}</td>'
            f'<td class="num">{format_seconds(_train_seconds(m))}</td>{cost_cells}</tr>'
        )
    cost_head = "".join(f'<th class="num">{e(c)}</th>' for c in cost_cols)
    return (
        f'<table class="headline"><thead><tr><th>method</th>{head}<th class="num">seeds</th>'
        f'<th class="num">train time</th>{cost_head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )


def _interval_html(summary) -> str:
    interval = format_interval(summary)
    return f'<small class="ci">95% CI {interval}</small>' if interval else ""


def _examples_html(methods, split_labels) -> str:
    e = html.escape
    parts = []
    for name, m in methods.items():
        run = next((r for r in m["runs"] if r.get("examples")), None)
        if run is None:
            continue
        cards = []
        for ex in run["examples"][:MAX_EXAMPLES]:
            ok = bool(ex.get("correct"))
            split = ex.get("split")
            badge = f'<span class="badge">{e(str(split_labels.get(split, split)))}</span>' if split else ""
            cards.append(
                f'<div class="example {"ok" if ok else "bad"}"><div class="ex-head">'
                f'<span class="mark">{"✓ correct" if ok else "✗ incorrect"}</span>{badge}'
                f'<span class="ref">reference: <code>{e(str(ex.get("answer", "")))}</code></span></div>'
                f'<div class="lbl">prompt</div><pre>{e(str(ex.get("prompt", "")))}</pre>'
                f'<div class="lbl">completion</div><pre>{e(str(ex.get("completion", "")))}</pre></div>'
            )
        seed = f" <small>seed {e(str(run['seed']))}</small>" if "seed" in run else ""
        parts.append(f'<h3>{e(m.get("label", name))}{seed}</h3><div class="examples">{"".join(cards)}</div>')
    return "".join(parts)


def _section_body(section: Section) -> str:
    """A section's paragraphs and tables as HTML, every text escaped."""
    e = html.escape
    parts = [f"<p>{_inline(p)}</p>" for p in section.paragraphs]
    for t in section.tables:
        cap = f'<p class="caption">{e(t.caption)}</p>' if t.caption else ""
        head = "".join(f"<th>{e(str(c))}</th>" for c in t.columns)
        body = "".join("<tr>" + "".join(f"<td>{e(_cell(c))}</td>" for c in row) + "</tr>" for row in t.rows)
        parts.append(f"{cap}<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
    return "".join(parts)


def _inline(text: str) -> str:
    """Escaped text; ``**word**`` in bold."""
    return re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", html.escape(str(text)))


def _cell(value) -> str:
    return "" if value is None else str(value)


def _section(sid, title, content, caption="") -> str:
    cap = f'<p class="caption">{html.escape(caption)}</p>' if caption else ""
    return f'<section id="{html.escape(sid)}"><h2>{html.escape(title)}</h2>{cap}{content}</section>'


def _img(png: bytes, alt: str) -> str:
    """An inline PNG shown at its physical size (``DPI``), shrunk to fit narrow windows."""
    width = f' width="{round(_png_width(png) * 96 / DPI)}"' if png[:8] == b"\x89PNG\r\n\x1a\n" else ""
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{html.escape(alt)}"{width} src="data:image/png;base64,{data}">'


# ---------------------------------------------------------------- Markdown


def _png(image, where: str) -> bytes:
    if isinstance(image, (bytes, bytearray)):
        return bytes(image)
    if hasattr(image, "savefig"):
        return figure_png(image)
    raise SftlabError(f"{where}: expected a matplotlib Figure or PNG bytes, got {type(image).__name__}")


def _split_count(methods, split) -> int | None:
    """The number of problems on ``split`` when every run evaluated the same number, else None."""
    ns = {r.get("n", {}).get(split) for m in methods.values() for r in m["runs"]} - {None}
    return ns.pop() if len(ns) == 1 else None


def _split_n(methods, split) -> str:
    n = _split_count(methods, split)
    return f" (n={n})" if n is not None else ""


def _n_text(methods, splits, split_labels) -> str:
    parts = [f"{split_labels[s]} {_split_count(methods, s)}" for s in splits if _split_count(methods, s) is not None]
    return ("Problems per split and seed: " + ", ".join(parts) + ".") if parts else ""


def _n_seeds(method, summary) -> int:
    return max([s.get("n_seeds") or 0 for s in summary.values()] + [len(method["runs"])])


def _train_seconds(method) -> float | None:
    times = [r["train_seconds"] for r in method["runs"] if r.get("train_seconds") is not None]
    return sum(times) / len(times) if times else None


def _date(created) -> str:
    if not created:
        return ""
    try:
        stamp = dt.datetime.fromisoformat(str(created).replace("Z", "+00:00"))
    except ValueError:
        return str(created)
    zone = " UTC" if stamp.utcoffset() == dt.timedelta(0) else ""
    return stamp.strftime("%Y-%m-%d %H:%M") + zone


def _png_width(png: bytes) -> int:
    return int.from_bytes(png[16:20], "big")  # IHDR width, right after the 8-byte signature and chunk header


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-") or "x"
