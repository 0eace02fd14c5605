"""The claims scoreboard: scores each claim of :mod:`sftlab.experiments.claims` against the demo's runs, and draws
the demo report's first section (the verdicts are defined in :mod:`~sftlab.experiments.claims`)."""

from __future__ import annotations

import statistics
from collections.abc import Mapping

from sftlab.report import Section, Table
from sftlab.report.summary import t_interval

from .claims import CLAIMS, MIN_SEEDS, Effect, NotMeasured, Runs
from .registry import BY_NAME

SAME = 1e-9  # paired differences this close are equal (accuracies are counts over the same problems)


def score(effect: Effect, runs: Runs) -> dict:
    """One row's numbers: per-seed values, mean, 95% interval, seed count, verdict and a note (JSON-ready)."""
    row = {"effect": effect.label, "direction": effect.direction, "margin": effect.margin, "per_seed": {},
           "mean": None, "ci95": None, "n_seeds": 0, "verdict": "", "note": ""}  # fmt: skip
    missing = [e for e in effect.entries if not runs.get(e)]
    if missing:
        row.update(verdict="not run", note=_run_hint(effect.entries, missing))
        return row
    try:
        per_seed = effect.measure(runs)
    except NotMeasured as e:
        row.update(verdict="not measured", note=str(e))
        return row
    values = [per_seed[s] for s in sorted(per_seed)]
    interval = t_interval(values)
    row.update(per_seed={str(s): per_seed[s] for s in sorted(per_seed)}, n_seeds=len(values),
               mean=statistics.fmean(values) if values else None,
               ci95=None if interval is None else list(interval))  # fmt: skip
    if len(values) < MIN_SEEDS:
        row.update(verdict="too few seeds", note=f"{len(values)} paired seed(s); rerun with --seeds {MIN_SEEDS}")
        return row
    if max(values) - min(values) < SAME:
        row.update(verdict="not shown", note="every seed's difference is the same: with no spread between seeds the "
                   "interval is undefined, not narrow")  # fmt: skip
        return row
    lo, hi = interval
    if effect.margin is not None:
        row["verdict"] = "shown" if -effect.margin <= lo and hi <= effect.margin else "not shown"
    elif lo > 0 or hi < 0:
        row["verdict"] = "shown" if (lo > 0) == (effect.direction > 0) else "opposite"
    else:
        row["verdict"] = "not shown"
    return row


def _run_hint(entries: tuple[str, ...], missing: list[str]) -> str:
    hint = f"--methods {','.join(entries)}"
    unbuilt = [e for e in missing if e not in BY_NAME]
    if unbuilt:
        hint += f"; not in this version's entries yet: {', '.join(unbuilt)}"
    return hint


def score_claims(results: Mapping[str, dict], landscape: dict | None = None) -> list[dict]:
    """Every claim's rows: ``results`` is the runner's ``{entry: {"runs": [...]}}``; ``landscape`` the landscape
    step's metrics (None: not run or not found)."""
    runs = {name: r.get("runs") or [] for name, r in results.items()}
    rows = []
    for claim in CLAIMS:
        head = {"claim": claim.name, "paper": claim.paper, "figure": claim.figure, "scenario": claim.scenario}
        for effect in claim.effects:
            rows.append({**head, **score(effect, runs), "why": effect.why})
        if claim.descriptive is not None:
            ran = all(e in results for e in claim.descriptive_entries)
            text = claim.descriptive(landscape) if ran else ""
            rows.append({**head, "effect": "ARI of the density peaks vs the labels", "text": text,
                         "n_seeds": 1 if ran else 0, "verdict": "descriptive" if ran else "not run",
                         "note": "" if ran else _run_hint(claim.descriptive_entries, [
                             e for e in claim.descriptive_entries if e not in results]), "why": claim.why})  # fmt: skip
    return rows


def format_effect(row: dict) -> str:
    """``+3.1 [-1.2, +7.4]`` (accuracy points, mean and 95% interval); a descriptive row's text; "–" if none."""
    if row.get("text"):
        return row["text"]
    if row.get("mean") is None:
        return "–"
    interval = f" [{100 * row['ci95'][0]:+.1f}, {100 * row['ci95'][1]:+.1f}]" if row.get("ci95") else ""
    return f"{100 * row['mean']:+.1f}{interval}"


COLUMNS = ["claim", "paper's figure", "lab scenario", "measured", "effect (points) [95% CI]", "seeds", "verdict"]


def claims_section(results: Mapping[str, dict], landscape: dict | None = None) -> tuple[Section, list[dict]]:
    """The scoreboard section and its rows (for metrics.json)."""
    rows = score_claims(results, landscape)
    with_why = any(r["why"] for r in rows)
    table_rows, previous = [], None
    for r in rows:
        first = r["claim"] != previous  # a claim's name, figure and scenario on its first row only
        previous = r["claim"]
        verdict = r["verdict"] + (f" ({r['note']})" if r["note"] else "")
        cells = [f"{r['claim']} ({'arXiv ' + r['paper'] if r['paper'][0].isdigit() else r['paper']})" if first else "",
                 r["figure"] if first else "", r["scenario"] if first else "", r["effect"], format_effect(r),
                 r["n_seeds"] or "", verdict]  # fmt: skip
        table_rows.append(cells + ([r["why"]] if with_why else []))
    text = (
        "Each paper's claim, written into sftlab/experiments/claims.py before any lab result was seen, and what "
        "the lab's runs say of it. **Effect**: the method's run minus the baseline's run of the same seed, in "
        "accuracy points (pass-rate points for self-distillation), mean over seeds with the 95% Student-t interval "
        f"of the paired differences. **Verdict**: shown if the interval excludes 0 in the claimed direction, "
        f"opposite if it excludes 0 the other way, not shown otherwise; a 'matches' claim is shown if the whole "
        f"interval lies within its margin; too few seeds below {MIN_SEEDS}; not run if an entry it needs did not "
        "run (the --methods that runs it is given)."
    )
    table = Table(COLUMNS + (["what is known of why"] if with_why else []), table_rows)
    return Section("Claims scoreboard", paragraphs=[text], tables=[table], lead=True), rows
