"""The claim scenarios' report sections (docs/lab.md, "Claim scenarios"): one small section per scenario with the
entries' accuracies (mean ± std over seeds, and each seed) and the scenario's own check (DFT: the regime; S2L: the
budgets and the pool; protein self-distillation: the pass rate per round). The claims' verdicts are the
scoreboard's (:mod:`sftlab.experiments.claims`, the report's first section), one criterion for every claim.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence

from sftlab.experiments.context import DemoEntry, EntryContext
from sftlab.experiments.scenarios import native_records, scenario_data
from sftlab.io import read_jsonl
from sftlab.report import Section, Table, format_accuracy, summarize_runs

LABELS = {"test_id": "in-domain", "test_ood": "out-of-domain"}
REGIME_EXAMPLES = 500  # train records scored for DFT's regime check (the first ones, both styles)


def _runs(ctx: EntryContext, name: str) -> list[dict]:
    return [r for r in ctx.results.get(name, {}).get("runs") or [] if r.get("accuracy")]


def accuracy_table(ctx: EntryContext, rows: Sequence[tuple[str, str]]) -> Table | None:
    """``rows``: (entry name, label) pairs; those that ran, with mean ± std and each seed's accuracy (%)."""
    out = []
    for name, label in rows:
        runs = _runs(ctx, name)
        if not runs:
            continue
        summary = summarize_runs(runs, ctx.splits)
        seeds = ["  ".join(f"{100 * r['accuracy'][s]:.1f}" for r in runs) for s in ctx.splits]
        out.append([label, *[format_accuracy(summary[s]) for s in ctx.splits], *seeds])
    columns = ["entry", *[LABELS.get(s, s) for s in ctx.splits], *[f"{LABELS.get(s, s)} per seed" for s in ctx.splits]]
    return Table(columns, out) if out else None


def claim_section(title: str, text: str, claims: Sequence[tuple[str, str, str]], refs: Sequence[tuple[str, str]] = (),
                  extra=None):  # fmt: skip
    """A :data:`~sftlab.experiments.context.SectionFn` for one scenario group: ``text``, the table of the group's
    entries and of the reference entries ``refs`` ((name, label) pairs) that ran, the claims it compares
    (a, b, "beats" | "matches": named, their verdicts are the scoreboard's), and
    ``extra(ctx, entries) -> (paragraphs, tables)``."""

    def section(ctx: EntryContext, entries: list[DemoEntry]) -> Section | None:
        if not any(ctx.results.get(e.name, {}).get("runs") for e in entries):
            return None
        paragraphs, tables = [text], []
        table = accuracy_table(ctx, [*refs, *[(e.name, e.label) for e in entries]])
        if table is not None:
            tables.append(table)
            paragraphs.append(
                "Compared: "
                + "; ".join(f"{a} {kind} {b}" for a, b, kind in claims)
                + ". Verdicts: the claims scoreboard (first section; 95% interval over paired seeds)."
            )
        if extra is not None:
            more_text, more_tables = extra(ctx, entries)
            paragraphs += more_text
            tables += more_tables
        return Section(title, paragraphs=paragraphs, tables=tables)

    return section


def target_probabilities(ctx: EntryContext) -> dict:
    """DFT's regime check: the mean per-token probability of the SFT targets (solution + EOS) under the starting
    model, for the first :data:`REGIME_EXAMPLES` train records in the expert style and the same ones in the native
    style; cached in ``runs/regime-check/once/probabilities.json``."""
    path = ctx.run_dir("regime-check", None) / "probabilities.json"
    if path.is_file() and not ctx.cfg.fresh:
        return json.loads(path.read_text(encoding="utf-8"))
    from sftlab.data import render_prompt
    from sftlab.generation.scoring import completion_losses
    from sftlab.io import atomic_write_json
    from sftlab.models import load_model_and_tokenizer

    expert = read_jsonl(ctx.train_data)[:REGIME_EXAMPLES]
    model, tok = load_model_and_tokenizer(ctx.model, "infer")
    prompts = [render_prompt(r["question"], tok) for r in expert]
    out = {"n": len(expert)}
    for style, records in (("expert", expert), ("native", native_records(expert))):
        p = completion_losses(model, tok, prompts, [r["solution"] for r in records], probability=True)
        nll = completion_losses(model, tok, prompts, [r["solution"] for r in records])
        out[style] = {"mean_token_probability": float(p.mean()), "mean_token_nll": float(nll.mean())}
    atomic_write_json(path, out)
    return out


def _regime(ctx: EntryContext, entries) -> tuple[list[str], list[Table]]:
    probs = target_probabilities(ctx)
    rows = [[style, f"{probs[style]['mean_token_probability']:.3f}", f"{probs[style]['mean_token_nll']:.3f}"]
            for style in ("native", "expert")]  # fmt: skip
    text = (
        f"Regime check: mean probability per target token (solution + EOS) under the base model, first "
        f"{probs['n']} train records, the same questions in both styles. DFT's regime is the native row: targets "
        "the model already finds likely."
    )
    return [text], [Table(["SFT targets", "mean token probability", "mean token NLL"], rows, summary=False)]


def _pool(ctx: EntryContext, entries) -> tuple[list[str], list[Table]]:
    from . import s2l

    selecting = [e for e in entries if "method" in e.options]
    table, budgets, full = s2l.budget_table(ctx, selecting, full="full-pool")
    rows = [[f"{s2l.LABELS[m]} {p}%", *[format_accuracy(table[m][p][s]) for s in ctx.splits]]
            for p in budgets for m in table]  # fmt: skip
    if full:
        rows.append(["full pool", *[format_accuracy(full[s]) for s in ctx.splits]])
    pool = read_jsonl(scenario_data(ctx, "pool"))
    families = Counter(r["family"] for r in pool)
    distinct = Counter(r["family"] for r in pool if r["copy"] == 0)
    text = (
        "Pool: "
        + ", ".join(
            f"{f} {100 * n / len(pool):.0f}% ({distinct[f]} problems x {n // distinct[f]})" for f, n in families.items()
        )
        + f"; {len(pool)} rows. Subsets: S2L and random at each budget; the headline entries are the 30% runs."
    )
    return [text], [Table(["subset of the pool", *[LABELS.get(s, s) for s in ctx.splits]], rows)]


def _protein_rounds(ctx: EntryContext, entries) -> tuple[list[str], list[Table]]:
    text, rows = [], []
    for e in entries:
        for run in ctx.results.get(e.name, {}).get("runs") or []:
            if run.get("skipped"):
                text.append(f"{e.label}, seed {run['seed']}: skipped: {run['skipped']}.")
            for m in run.get("rounds") or []:
                filters = ", ".join(f"{s['filter']} {s['kept']}/{s['seen']}" for s in m["filters"])
                rows.append([run["seed"], m["round"], m["n_samples"], m["n_survivors"], f"{m['pass_rate']:.3f}",
                             filters])  # fmt: skip
    columns = ["seed", "round", "samples", "pass every filter", "pass rate", "filters (kept/seen, cheapest first)"]
    return text[:1], ([Table(columns, rows, summary=False)] if rows else [])


dft_section = claim_section(
    "Claim scenario: DFT in its regime (native-style targets)",
    "DFT (arXiv 2508.05629) is shown on math-pretrained models, whose SFT targets are already likely. Here: SFT "
    "and DFT on the lab's train questions with solutions in the lab model's own native style (same questions and "
    "answers as the expert-style train split), the lab SFT recipe. Claim: DFT beats SFT.",
    claims=[("dft-native", "sft-native", "beats")],
    refs=[("sft", "SFT (expert data)"), ("dft", "DFT (expert data)")],
    extra=_regime,
)
irft_section = claim_section(
    "Claim scenario: IRL with low-quality demonstrations",
    "IRFT / RFT (arXiv 2405.17888) claim robustness to low-quality demonstrations. Here: 30% of the train split's "
    "demonstrations (seeded) end in a wrong last step and a wrong answer. SFT on them, then IRFT and RFT from that "
    "SFT model of each seed with the same demonstrations (their lab recipes). Claims: IRFT beats SFT; RFT beats SFT.",
    claims=[("irft-noisy", "sft-noisy", "beats"), ("rft-noisy", "sft-noisy", "beats")],
    refs=[("sft", "SFT (clean data)")],
)
nft_section = claim_section(
    "Claim scenario: NFT vs rejection-sampling SFT",
    "NFT (arXiv 2505.18116) compares against fine-tuning on verified-correct samples alone. rs-sft is the nft "
    "entry with its negative term off (negative_weight 0) and no per-question weight (prompt_weighting none): the "
    "same samples, steps and updates; its loss is the NLL of the right answers of questions with at least one wrong "
    "answer (questions whose answers are all right carry no signal in NFT's loss, as in the authors' dynamic "
    "sampling). Claim: NFT beats rs-sft.",
    claims=[("nft", "rs-sft", "beats")],
    refs=[("nft", "NFT")],
)
s2l_section = claim_section(
    "Claim scenario: S2L on a redundant, imbalanced pool",
    "S2L (arXiv 2403.07384) is shown on MathInstruct, which mixes sources of very different sizes with redundant "
    "problems. Here: a pool as large as the train split where one family holds 60% (each of its problems 10 times, "
    "re-told) and another 20% (4 times each); S2L and random select 10% and 30% of it (S2L's proxy: the full-pool "
    "SFT run), full-pool is SFT on all of it with the same steps. Claims: S2L 30% beats random 30%; S2L 30% "
    "matches the full pool.",
    claims=[("s2l-pool", "random-pool", "beats"), ("s2l-pool", "full-pool", "matches")],
    extra=_pool,
)
protein_section = claim_section(
    "Claim scenario: protein self-distillation",
    "Self-distillation on the protein pack (arXiv 2512.09329, synthetic TrpB-like family, lab protein LM): sample, "
    "filter cheapest first (alphabet, Met start, length, conserved Lys82, novelty), fine-tune on the survivors, "
    "repeat. Pass rate: share of a round's samples that pass every filter. No math accuracy: the model is a "
    "protein LM.",
    claims=[],
    extra=_protein_rounds,
)
