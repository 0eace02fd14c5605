"""The runner of ``sftlab demo`` and ``sftlab compare``, and the demo: every method on the embedded lab,
evaluated in-domain and out-of-domain, one report.

:func:`run_entries` runs entries through a context (the lab's :class:`DemoContext`, or compare's on the user's
model and data) and :func:`write_comparison` writes their report; both commands are these two calls. The entries are the ordered list in :mod:`sftlab.experiments.registry`, each
one data (:class:`~sftlab.experiments.context.DemoEntry`): a short ``run``
function that trains (or not) and returns one run per seed, its group, its lab
recipe and its group's report section. Runs are cached under
``<output_dir>/runs/<entry>/seed<k>/``, so an interrupted demo resumes where it
stopped and a finished one re-renders its report at once. Every entry is
shown, including the ones that lose.
"""

from __future__ import annotations

import contextlib
import functools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sftlab import __version__
from sftlab.console import RunView
from sftlab.errors import SftlabError

from .context import SEEDS, DemoConfig, DemoContext, DemoEntry, EntryContext, demo_size
from .pool import RUN_THREADS, RunPool, default_workers
from .registry import BY_NAME, ENTRIES

__all__ = [
    "DemoConfig",
    "DemoContext",
    "count_runs",
    "resolve_methods",
    "results_table",
    "run_demo",
    "run_entries",
    "section_points",
    "write_comparison",
]


def resolve_methods(methods: str | None, size: str = "standard") -> list[str]:
    """The entries ``--methods`` names, in run order: None = the default ones (with ``size`` "quick", the quick ones),
    'all' = every entry."""
    if not methods:
        names = [e.name for e in ENTRIES if (e.quick if size == "quick" else e.default)]
    elif methods.strip() == "all":
        names = [e.name for e in ENTRIES]
    else:
        names = [m.strip() for m in methods.split(",") if m.strip()]
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        raise SftlabError(f"--methods: unknown entries {unknown}; known: {list(BY_NAME)}")
    if not any(BY_NAME[n].run is not None and BY_NAME[n].accuracy for n in names):
        raise SftlabError(
            f"--methods {','.join(names)}: none of these reports test accuracy, which the report's table needs; "
            f"add a method, e.g. --methods base,{','.join(names)}"
        )
    return names


def section_points(entries: Sequence[DemoEntry]) -> dict[str, list[DemoEntry]]:
    """Where each group's section is drawn: the name of the group's last entry in ``entries`` -> the group's
    entries (in run order). Groups without a section draw nothing."""
    groups: dict[str, list[DemoEntry]] = {}
    for e in entries:
        groups.setdefault(e.group, []).append(e)
    return {members[-1].name: members for members in groups.values() if members[-1].section is not None}


def count_runs(entries: Sequence[DemoEntry], seeds: list[int]) -> int:
    """How many runs ``run_entries`` makes: one per seed of an entry, one for an entry run once."""
    return sum(len(seeds) if e.per_seed else 1 for e in entries if e.run is not None)


def run_entries(
    ctx: EntryContext,
    entries: Sequence[DemoEntry],
    seeds: list[int],
    *,
    describe: Callable[[DemoEntry], str] | None = None,
    view: RunView | None = None,
    pool: RunPool | None = None,
):
    """Run ``entries``; draw each group's section once, right after its last entry.

    Returns ``(methods, sections, timings)``: the report's methods (entries with runs), the sections in the
    order drawn, and seconds per entry, wall time from its start to its last run's end (a group's section counts
    in its last entry's time; with workers, entries overlap). ``describe``: the report's description of an entry
    (default: ``entry.description``). ``view``: the console's live view, told of every run (default: plain lines
    per entry). ``pool``: worker processes that run the runs (default: every run here, one after the other).

    With workers, an entry starts once the entries it reads (``entry.after``; by default every earlier one) have
    finished, so independent entries run beside each other; its ``prepare`` and the sections run here. Whatever
    the order runs finish in, results, notes and sections are taken in the list's order: the report is the one a
    sequential run writes.
    """
    say = view.line if view is not None else print
    track = view.run if view is not None else lambda label, counted=True: contextlib.nullcontext()
    draw_after = section_points(entries)
    selected = [e.name for e in entries]
    parallel = pool is not None and pool.active
    started: dict[str, float] = {}
    outcome: dict[str, Any] = {}  # entry name -> its runs (list) or its Batch in the workers
    out = {"methods": {}, "sections": [], "timings": {}, "committed": 0}

    def finished(name: str) -> bool:
        o = outcome.get(name)
        return o is not None and (isinstance(o, list) or o.finished_at is not None)  # a batch: polled, errors raised

    def commit_ready() -> None:  # take finished entries in list order: the report does not depend on timing
        while out["committed"] < len(entries) and finished(entries[out["committed"]].name):
            _commit(ctx, entries[out["committed"]], outcome, started, draw_after, describe, say, out)
            out["committed"] += 1

    for i, entry in enumerate(entries):
        needs = selected[:i] if entry.after is None else [n for n in entry.after if n in selected[:i]]
        while parallel and not all(finished(n) for n in needs):
            pool.poll(view)
            commit_ready()
        started[entry.name] = time.time()
        seeds_run = [] if entry.run is None else seeds if entry.per_seed else [None]
        if entry.prepare is not None and seeds_run:
            with track(f"{entry.label}: shared step", counted=False):
                entry.prepare(ctx, entry)
        if parallel and seeds_run:
            outcome[entry.name] = pool.submit(ctx, entry, seeds_run)
        else:
            runs = []
            for seed in seeds_run:
                with track(entry.label if seed is None else f"{entry.label} seed {seed}"):
                    runs.append(entry.run(ctx, entry, seed))
            outcome[entry.name] = runs
            started[entry.name] = (started[entry.name], time.time())
        if parallel:
            pool.poll(view, timeout=0)
        commit_ready()
    while out["committed"] < len(entries):  # only runs in the workers are left
        pool.poll(view)
        commit_ready()
    return out["methods"], out["sections"], out["timings"]


def _commit(ctx, entry: DemoEntry, outcome: dict, started: dict, draw_after: dict, describe, say, out: dict) -> None:
    """An entry's results into ``ctx`` and the report (its group's section too, if it is the group's last)."""
    from sftlab.report import summarize_runs

    name, o = entry.name, outcome[entry.name]
    if isinstance(o, list):
        runs, (t0, t1) = o, started[name]
    else:
        runs, t0, t1 = RunPool.merge(ctx, o), started[name], o.finished_at
    ctx.results[name] = {"runs": runs}
    if name in draw_after:
        group = draw_after[name]
        t_section = time.time()
        sec = group[-1].section(ctx, group)
        t1 += time.time() - t_section
        if sec is not None:
            out["sections"].append(sec)
    seconds = out["timings"][name] = t1 - t0
    if entry.run is None:
        say(f"  {entry.label:12s} (report section)   ({seconds:.0f} s)")
        return
    if not any(r.get("accuracy") for r in runs):  # skipped, or no accuracy to show (e.g. a protein LM)
        why = next((r["skipped"] for r in runs if r.get("skipped")), "no accuracy; see its report section")
        say(f"  {entry.label:12s} {why}   ({seconds:.0f} s)")
        return
    m = out["methods"][name] = {
        "label": entry.label,
        "description": describe(entry) if describe else entry.description,
        "runs": runs,
        "summary": summarize_runs(runs, ctx.splits),
        "seconds": seconds,
    }
    acc = "  ".join(f"{s} {m['summary'][s]['mean']:.3f}" for s in ctx.splits)
    say(f"  {entry.label:12s} {acc}   ({seconds:.0f} s)")


def results_table(view: RunView, methods: dict, splits: list[str], labels: dict) -> None:
    """The headline numbers at the end of a command: mean ± std over seeds per split, seeds, time per method."""
    rows = []
    for m in methods.values():
        cells = []
        for split in splits:
            s = m["summary"][split]
            cells.append("n/a" if s["mean"] is None else f"{100 * s['mean']:.1f} ± {100 * (s.get('std') or 0):.1f}")
        rows.append([m["label"], *cells, str(len(m["runs"])), f"{m['seconds']:.0f} s"])
    view.table(
        "accuracy (%), mean ± std over seeds", ["method", *(labels.get(s, s) for s in splits), "seeds", "time"], rows
    )


def run_demo(cfg: DemoConfig) -> dict:
    from sftlab.lab import ensure_lab

    if cfg.list_methods:
        for e in ENTRIES:
            recipe = e.recipe or ""
            runs = f"{'default' if e.default else '':7s} {'quick' if e.quick else '':5s}"
            print(f"{e.name:17s} {runs}  {e.group:9s} {recipe:28s} {e.description}")
        return {}
    size = demo_size(cfg)  # a bad combination of flags is one line before anything loads
    names = resolve_methods(cfg.methods, size)
    t_start = time.time()
    import torch

    n_seeds = cfg.seeds or SEEDS[size]
    seeds = list(range(n_seeds))
    workers = default_workers(cfg.workers)
    lab = ensure_lab(cache_dir=cfg.cache_dir)  # a lab build picks its own thread count (docs/lab.md)
    torch.set_num_threads(RUN_THREADS)  # every run and shared step, here or in a worker: results independent of workers
    out = Path(cfg.output_dir)
    make_context = functools.partial(demo_context, cfg, lab, out, names)  # picklable: each worker builds its own
    ctx = make_context()
    print(
        f"sftlab demo ({size}): lab at {lab.root}; methods {names}; seeds {seeds}; {ctx.steps} steps per run; "
        f"{workers} worker(s), {RUN_THREADS} torch thread per run"
    )

    entries = [BY_NAME[n] for n in names]
    labels = {"test_id": "in-domain", "test_ood": "out-of-domain"}
    log = out / "console.log"
    with (
        RunView(count_runs(entries, seeds), title="sftlab demo", verbose=cfg.verbose, log=log) as view,
        RunPool(make_context, workers, log=log, verbose=cfg.verbose) as pool,
    ):
        methods, sections, timings = run_entries(ctx, entries, seeds, view=view, pool=pool)
        if not methods:  # every entry skipped (e.g. distill-protein without parasail): nothing to report
            view.line("sftlab demo: no entry has results to report; " + " ".join(ctx.notes))
            return {}
        from .claims import landscape_metrics
        from .scoreboard import claims_section

        landscape = landscape_metrics(ctx.run_dir("landscape", None)) if "landscape" in ctx.results else None
        scoreboard, claims = claims_section(ctx.results, landscape)

        config = {
            "demo": asdict(cfg),
            "lab": lab.info.get("config", {}),
            "size": size,
            "fine-tuning": {
                "steps": ctx.steps,
                "learning_rate": ctx.learning_rate,
                "batch_size": ctx.batch_size,
                "recipe": ctx.sft.path,
            },
        }
        metrics, paths = write_comparison(
            out,
            title="sftlab demo" + ("" if size == "standard" else f" ({size})"),
            config=config,
            seeds=seeds,
            splits=ctx.splits,
            labels=labels,
            methods=methods,
            notes=[size_note(size, ctx, methods), *ctx.notes, *_standing_notes(lab, methods)],
            sections=[scoreboard, *sections],  # the claims first
            data={
                "claims": claims,
                "lab": {k: v for k, v in lab.info.items() if k != "config"},
                "seconds": timings,
                "total_seconds": time.time() - t_start,
            },
        )
    results_table(view, methods, ctx.splits, labels)
    if not cfg.verbose:
        print(f"sftlab demo: what the runs printed is in {out / 'console.log'}")
    if cfg.screenshot:
        from sftlab.report.screenshot import screenshot

        screenshot(out / "report.html", out / "report.png")
    print(
        f"sftlab demo: report at {out / 'report.html'} (metrics.json, summary.md beside it); "
        f"{time.time() - t_start:.0f} s"
    )
    return {"metrics": metrics, "paths": paths}


def demo_context(cfg: DemoConfig, lab, out: Path, names: list[str]) -> DemoContext:
    """The demo's context running ``names`` (the main process's, and each worker's own)."""
    ctx = DemoContext(cfg, lab, out)
    ctx.selected = list(names)
    return ctx


def write_comparison(
    out: Path,
    *,
    title: str,
    config: dict,
    seeds: list[int],
    splits: list[str],
    labels: dict,
    methods: dict,
    notes: list[str],
    sections: list,
    data: dict,
) -> tuple[dict, dict]:
    """The report of ``run_entries``' results (schema: :mod:`sftlab.report`): returns ``(metrics, paths)``.
    ``data`` is the free-form data behind the sections (metrics.json's ``sections``)."""
    from sftlab.report import machine_info, write_report

    metrics = {
        "title": title,
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "sftlab_version": __version__,
        "machine": machine_info(),
        "config": config,
        "seeds": seeds,
        "splits": splits,
        "labels": labels,
        "methods": methods,
        "notes": notes,
        "sections": data,
    }
    return metrics, write_report(out, metrics, sections=sections)


SIZES = {
    "standard": "the plain demo's size: fine-tuning runs of {steps} steps and the methods' small budgets (the `standard:` "
    "blocks of configs/lab/*.yaml) instead of the recipes as written (`--full`), so that every method family runs in "
    "8-10 minutes on 2 cores",
    "quick": "--quick: fine-tuning runs of {steps} steps and the methods' smallest budgets (the `quick:` blocks over "
    "the `standard:` ones in configs/lab/*.yaml), a first look in about 2 minutes",
    "full": "--full: the lab recipes as written (fine-tuning runs of {steps} steps)",
}


def size_note(size: str, ctx, methods: dict) -> str:
    """What the demo's size shrank, and the test-sampling standard error it leaves on each in-domain mean
    (binomial at the method's own accuracy, over its seeds' test problems)."""
    n = len(ctx.items["test_id"])
    errors = []
    for m in methods.values():
        s = m["summary"]["test_id"]
        if s.get("mean") is not None and s.get("n_seeds"):
            errors.append(100 * math.sqrt(s["mean"] * (1 - s["mean"]) / (n * s["n_seeds"])))
    head = f"Size: {SIZES[size].format(steps=ctx.steps)}. {n} test problems per split."
    if not errors:
        return head
    low, high = f"{min(errors):.1f}", f"{max(errors):.1f}"
    return (
        f"{head} The test-sampling standard error of an in-domain mean over its seeds is "
        f"{low if low == high else f'{low}-{high}'} points here (binomial, at each method's own accuracy): "
        "differences under about twice that are not resolved by this run."
    )


def _standing_notes(lab, methods: dict) -> list[str]:
    notes = []
    base = lab.info.get("base_accuracy")
    if base:
        notes.append(
            "Base model accuracy measured at lab build time: "
            + ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in base.items())
            + "."
        )
    if "dft" in methods and "sft" in methods:
        d, s = methods["dft"]["summary"], methods["sft"]["summary"]
        verdict = []
        for split, label in (("test_id", "in-domain"), ("test_ood", "out-of-domain")):
            if d[split]["mean"] is not None and s[split]["mean"] is not None:
                diff = d[split]["mean"] - s[split]["mean"]
                verdict.append(f"{label} {diff * 100:+.1f} points")
        notes.append(
            "DFT minus SFT (mean over seeds): "
            + ", ".join(verdict)
            + ". Differences of a few points are within seed noise at these test sizes."
        )
    notes.append(
        "DFT needs some prior on the target style: the lab's base model saw a small share of expert-style "
        "solutions in pretraining (expert_prior_fraction). Without it DFT's token weights p are near zero and "
        "training stalls; see docs/lab.md for the ablation."
    )
    return notes
