"""IRFT, SPIN and RFT in ``sftlab demo``: IRL from the lab's expert-style demonstrations.

Starting point: the demo's SFT model of the same seed (the ``sft`` entry's run,
reused from its cache). SPIN (https://arxiv.org/abs/2401.01335) starts from the
SFT checkpoint of the data it self-plays on (zephyr-7b-sft-full in its
recipes), and the IRFT authors' scripts, built on SPIN's code, start each run
from a fine-tuned checkpoint as well (arXiv 2405.17888). The three entries
therefore show what IRL adds on top of SFT with the same demonstrations; their
extra training is on top of SFT's, which the report's notes say. Set
:data:`START` to ``"base"`` to run them from the pretrained model instead.

Each entry runs a few short iterations on a seeded subset of the train split
(its lab recipe: ``configs/lab/{irft,spin,rft}.yaml``, sized for about 90 s per
method on 2 CPU cores, 20 s with --quick), then the demo's standard greedy
evaluation. The report section plots, per iteration, the log-probability gap
between demonstrations and the policy's own generations (the quantity the
implicit reward drives up) and the reward accuracies.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from sftlab.experiments.context import DemoEntry, EntryContext
from sftlab.experiments.scenarios import scenario_data
from sftlab.methods.irl import IRLConfig, run_irl
from sftlab.report import Section, Table

START = "sft"  # "sft": the demo's SFT model of the seed; "base": the lab's pretrained model
START_NOTE = (
    "IRFT, SPIN and RFT start from the SFT model of the same seed (SPIN's protocol) and train on top of it; "
    "their train time excludes SFT's."
)


def irl_config(ctx: EntryContext, entry: DemoEntry, seed: int, start_model: str) -> IRLConfig:
    """The entry's :class:`IRLConfig`: its recipe (the demo: the lab's; compare: the paper's), started from
    ``start_model``, on the context's training set (or on scenario data ``entry.options["data"]``)."""
    recipe = ctx.recipe(entry.recipe, IRLConfig)
    return IRLConfig(
        **{
            **recipe.options,
            "model": start_model,
            "data": demonstrations(ctx, entry),
            "output_dir": str(ctx.run_dir(entry.name, seed) / "irl"),
            "seed": seed,
            "progress": False,
        }
    )


def demonstrations(ctx: EntryContext, entry: DemoEntry) -> str:
    """The training set, or the scenario data ``entry.options["data"]`` names (e.g. the noisy demonstrations)."""
    return scenario_data(ctx, entry.options["data"]) if "data" in entry.options else ctx.train_data


def start_model(ctx: EntryContext, seed: int, entry: DemoEntry | None = None) -> str:
    """The SFT run of entry ``entry.options["start"]`` (default ``sft``) on the entry's demonstrations (cached: the
    same run as that entry's own)."""
    if START == "base":
        return ctx.model
    options = entry.options if entry is not None else {}
    data = scenario_data(ctx, options["data"]) if "data" in options else None
    return ctx.train(options.get("start", "sft"), seed, objective="nll", data=data)["output_dir"]


def run_irl_entry(ctx: EntryContext, entry: DemoEntry, seed: int) -> dict:
    t0 = time.time()
    if START == "sft":
        ctx.add_note(START_NOTE)
    cfg = irl_config(ctx, entry, seed, start_model(ctx, seed, entry))
    if ctx.cfg.fresh:
        shutil.rmtree(cfg.output_dir, ignore_errors=True)
    summary = ctx.run_method(entry.name, seed, run_irl, cfg)
    result = ctx.evaluate(entry.name, seed, summary["model"])
    rows = [h for h in summary["log_history"] if "loss" in h]
    curve = {"step": [h["step"] for h in rows], "objective": [h["loss"] for h in rows]}
    if rows and all("nll" in h for h in rows):
        curve["nll"] = [h["nll"] for h in rows]
    iterations = summary["iterations"]
    if entry.options.get("eval_iterations"):
        iterations = evaluate_iterations(ctx, entry, seed, summary, result)
    result.update(seed=seed, train_seconds=summary["train_seconds"], curve=curve, wall_seconds=time.time() - t0,
                  iterations=iterations, start=START)  # fmt: skip
    return result


def evaluate_iterations(ctx: EntryContext, entry: DemoEntry, seed: int, summary: dict, final: dict) -> list[dict]:
    """SPIN's claim is per iteration: every iteration's ``accuracy`` on the test sets, the same greedy evaluation
    as the entry's own (the last iteration's model is the entry's model, so its accuracy is ``final``'s; an earlier
    one is evaluated from ``iter-<t>/model``, cached in the run's ``eval/iter-<t>/``). An iteration whose model
    was not kept (``keep_checkpoints: false``) has no accuracy."""
    out = []
    last = max(it["iteration"] for it in summary["iterations"])
    for it in summary["iterations"]:
        t = it["iteration"]
        model = Path(summary["output_dir"]) / f"iter-{t}" / "model"
        if t == last:
            accuracy = final["accuracy"]
        elif (model / "config.json").is_file():
            accuracy = ctx.evaluate(entry.name, seed, str(model), tag=f"iter-{t}")["accuracy"]
        else:
            accuracy = None
        out.append({**it, "accuracy": accuracy})
    return out


def section(ctx: EntryContext, entries: list[DemoEntry]) -> Section | None:
    """One section for the IRL entries that ran."""
    ran = [e for e in entries if ctx.results.get(e.name, {}).get("runs")]
    if not ran:
        return None
    return Section(
        "IRL from demonstrations (IRFT, SPIN, RFT)",
        paragraphs=_text(ctx, ran),
        tables=[_table(ctx, ran)],
        images={"gap and reward accuracy per iteration": _figure(ctx, ran)},
    )


def _text(ctx: EntryContext, ran: list[DemoEntry]) -> list[str]:
    steps = []
    for e in ran:
        c = ctx.recipe(e.recipe, IRLConfig).options
        prompts = c.get("max_prompts") or "all"  # a paper recipe (compare) trains on every prompt, K in epochs
        k = c.get("steps_per_iteration") or f"{c.get('epochs_per_iteration', 1):g} epoch(s) of"
        if c["method"] == "rft":
            reward = c.get("reward_steps") or "one pass of"
            steps.append(
                f"{e.label}: {c['iterations']} iterations of a reward step ({reward} Bradley-Terry "
                f"steps) and a policy step ({k} GRPO steps) over {prompts} "
                f"train prompts, {round(100 * c['heldout_fraction'])}% of them held out."
            )
        else:
            chunks = "cut into chunks" if c["method"] == "irft" else "all of them every iteration"
            steps.append(
                f"{e.label}: {c['iterations']} iteration(s) over {prompts} train prompts ({chunks}), "
                f"{k} steps per iteration."
            )
    start = "SFT model" if START == "sft" else "pretrained model"
    first = ctx.recipe(ran[0].recipe, IRLConfig).options
    return [
        f"Start: the {start} of each seed. "
        + " ".join(steps)
        + f" Beta {first['beta']:g}; one sampled generation (temperature {first['temperature']:g}) per prompt.",
        "Curves: mean over seeds; table: first seed. **Log-probability gap**: mean of "
        "log pi(demonstration) - log pi(generation) over an iteration's pairs, "
        "under the iteration's start pi_t (fresh generations, dashed) and after its K steps (solid); the implicit "
        "reward drives it up, and self-play has converged when pi_t's own generations are as likely as the "
        "demonstrations. **Reward accuracy**: share of pairs whose demonstration gets the higher reward: implicit "
        "reward beta*log(pi/pi_t) on the iteration's pairs (IRFT, SPIN), the learned reward model on held-out pairs "
        "(RFT).",
    ]


def _mean_over_seeds(ctx, method: str, key: str) -> tuple[list[int], list[float]]:
    runs = ctx.results[method]["runs"]
    n = min(len(r["iterations"]) for r in runs)
    values = [[r["iterations"][i].get(key) for r in runs] for i in range(n)]
    xs = [i + 1 for i in range(n) if all(v is not None for v in values[i])]
    return xs, [sum(values[i - 1]) / len(values[i - 1]) for i in xs]


def _figure(ctx: EntryContext, ran: list[DemoEntry]):
    from matplotlib.ticker import MaxNLocator

    from sftlab.report.plots import METHOD_COLORS, new_figure, style_axes

    fig = new_figure(9.0, 3.4)
    gap, acc = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    for i, e in enumerate(ran):
        color = METHOD_COLORS[i % len(METHOD_COLORS)]
        if e.name != "rft":
            for key, style, suffix in (("ref_logp_gap", "--", "at pi_t"), ("logp_gap", "-", "after K steps")):
                xs, ys = _mean_over_seeds(ctx, e.name, key)
                gap.plot(xs, ys, style, marker="o", color=color, label=f"{e.label} {suffix}")
        key = "heldout_reward_accuracy" if e.name == "rft" else "reward_accuracy"
        xs, ys = _mean_over_seeds(ctx, e.name, key)
        acc.plot(
            xs,
            [100 * y for y in ys],
            marker="o",
            color=color,
            label=f"{e.label} ({'reward model, held out' if e.name == 'rft' else 'implicit'})",
        )
    gap.set_xlabel("iteration")
    gap.set_ylabel("log pi(demo) - log pi(generation)")
    acc.set_xlabel("iteration")
    acc.set_ylabel("reward accuracy (%)")
    acc.set_ylim(0, 105)
    for ax in (gap, acc):
        style_axes(ax)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if ax.get_legend_handles_labels()[0]:
            ax.legend(frameon=False, fontsize=7.5)
    return fig


TABLE_COLUMNS = [
    "method",
    "iteration",
    "pairs",
    "gap at pi_t",
    "gap after",
    "reward accuracy (%)",
    "generations correct (%)",
    "test accuracy (%)",
]


def _table(ctx: EntryContext, ran: list[DemoEntry]) -> Table:
    """Per iteration, first seed: the numbers behind the plot and the share of generations whose answer verifies."""
    rows = []
    for e in ran:
        for it in ctx.results[e.name]["runs"][0]["iterations"]:
            acc = it.get("heldout_reward_accuracy", it.get("reward_accuracy"))
            sample = it.get("sample_accuracy")
            test = it.get("accuracy") or {}
            first = next(iter(test.values()), None)  # the first test set (in-domain in the demo)
            rows.append(
                [
                    e.label,
                    it["iteration"],
                    it["n_pairs"],
                    _fmt(it.get("ref_logp_gap")),
                    _fmt(it.get("logp_gap")),
                    _fmt(None if acc is None else 100 * acc, 0),
                    _fmt(None if sample is None else 100 * sample, 0),
                    _fmt(None if first is None else 100 * first),
                ]
            )
    return Table(TABLE_COLUMNS, rows, summary=False)  # summary.md: as before, the headline only


def _fmt(x, digits: int = 1) -> str:
    return "" if x is None else f"{x:.{digits}f}"
