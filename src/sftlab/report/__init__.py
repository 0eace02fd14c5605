"""The report: ``metrics.json``, a self-contained ``report.html``, ``summary.md`` and ``plots/*.png``.

``write_report(output_dir, metrics, sections=[...])`` renders one metrics dict.
The HTML embeds its PNG plots as data URIs and its CSS inline, so it is one
file that opens anywhere, offline. ``summary.md`` holds the headline table and
the notes, short enough to paste into a README.

The metrics dict (producers build it; ``summarize_runs`` and ``machine_info``
help)::

    {
      "title": "sftlab demo",
      "created": "2026-11-21T05:00:00Z",            # ISO 8601
      "sftlab_version": "0.1.0",
      "machine": {"cpu": "...", "cores": 2, "gpu": null, "torch": "2.13.0", ...},   # machine_info()
      "config": {...},                               # free-form, shown folded at the end
      "seeds": [0, 1],
      "splits": ["test_id", "test_ood"],             # split keys in display order
      "labels": {"test_id": "in-domain", "test_ood": "out-of-domain"},   # optional display names
      "methods": {                                   # display order = insertion order
        "base": {
          "label": "base model",                     # optional, defaults to the key
          "description": "...",                      # optional, shown under the label
          "runs": [{
            "seed": 0,
            "accuracy": {"test_id": 0.41, "test_ood": 0.05},     # fraction correct, per split
            "n": {"test_id": 400, "test_ood": 400},              # problems evaluated, per split
            "train_seconds": 0.0,
            "curve": {"step": [...], "objective": [...], "nll": [...]},   # optional; absent/empty for base
            "examples": [{"split": "test_id", "prompt": "...", "completion": "...",
                          "answer": "38", "correct": true}],
          }],
          "summary": {"test_id": {"mean": 0.41, "std": 0.0, "n_seeds": 1}, ...},  # summarize_runs(runs, splits)
        },
      },
      "notes": ["..."],                              # e.g. documented ablations
      "sections": {},                                # free-form data behind extra sections
    }

Only ``splits`` and ``methods`` (each with ``runs``, each run with
``accuracy``) are required; a method without ``summary`` gets one computed
from its runs. ``metrics.json`` is the dict exactly as given.

The HTML shows, in order: a header (title, date, machine, sftlab version,
seeds), the headline table (method x split accuracy mean ± std over seeds,
seeds, training time), accuracy bars per method and split with error bars,
training curves (objective and plain NLL vs step, mean over seeds), example
generations per method (all text escaped), the notes, then the extra
``Section`` s that later methods add with their own plots.

``screenshot(html_path, png_path)`` renders the page with a headless Chromium
when one is installed.
"""

from .markdown import section_markdown
from .screenshot import screenshot
from .summary import format_accuracy, machine_info, summarize_runs
from .write import Section, Table, write_report

__all__ = [
    "Section",
    "Table",
    "format_accuracy",
    "machine_info",
    "screenshot",
    "section_markdown",
    "summarize_runs",
    "write_report",
]
