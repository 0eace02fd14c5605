"""IRFT, SPIN and RFT in ``sftlab demo``: IRL from the lab's expert-style demonstrations.

Starting point: the demo's SFT model of the same seed (the ``sft`` entry's run,
reused from its cache). SPIN (https://arxiv.org/abs/2401.01335) starts from the
SFT checkpoint of the data it self-plays on (zephyr-7b-sft-full in its
recipes), and the IRFT authors' scripts, built on SPIN's code, start each run
from a fine-tuned checkpoint as well (arXiv 2405.17888). The three entries
therefore show what IRL adds on top of SFT with the same demonstrations; their
extra training is on top of SFT's, which the report's notes say. Set
``IRLDemoSettings.start = "base"`` to run them from the pretrained model instead.

Each entry runs a few short iterations on a seeded subset of the train split
(sized for the demo's budget, see :class:`IRLDemoSettings`), then the demo's
standard greedy evaluation. The report section plots, per iteration, the
log-probability gap between demonstrations and the policy's own generations
(the quantity the implicit reward drives up) and the reward accuracies.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, replace

from sftlab.experiments.runner import DemoEntry, register
from sftlab.methods.irl import IRLConfig, run_irl

METHODS = {"irft": "IRFT", "spin": "SPIN", "rft": "RFT"}
START_NOTE = ("IRFT, SPIN and RFT start from the SFT model of the same seed (SPIN's protocol) and train on top of it; "
              "their train time excludes SFT's.")


@dataclass
class IRLDemoSettings:
    """How much IRL each entry does per seed (sized for about 90 s per method on 2 CPU cores, 20 s with --quick)."""

    start: str = "sft"  # "sft": the demo's SFT model of the seed; "base": the lab's pretrained model
    iterations: int = 3
    max_prompts: int = 96  # IRFT/RFT: cut into `iterations` chunks; SPIN: all of them every iteration
    spin_iterations: int = 2
    spin_prompts: int = 48
    steps: int = 12  # optimizer steps per iteration (IRFT, SPIN)
    rft_iterations: int = 2
    rft_steps: int = 8  # GRPO steps per iteration, 4 prompts x 4 completions each
    reward_steps: int = 8  # Bradley-Terry steps per iteration, 16 pairs each
    batch_size: int = 8
    learning_rate: float = 1e-4  # 1e-3 (the demo's SFT rate) drives the generations away from the demonstrations
    rft_learning_rate: float = 1e-5
    reward_learning_rate: float = 1e-4
    max_new_tokens: int = 128

    @classmethod
    def quick(cls) -> IRLDemoSettings:
        return cls(iterations=2, max_prompts=24, spin_iterations=1, spin_prompts=16, steps=4, rft_steps=3,
                   reward_steps=4, max_new_tokens=96)


def settings_for(ctx) -> IRLDemoSettings:
    return IRLDemoSettings.quick() if ctx.quick else IRLDemoSettings()


def irl_config(ctx, method: str, seed: int, start_model: str) -> IRLConfig:
    """The entry's :class:`IRLConfig`: lab defaults at the demo's scale."""
    s = settings_for(ctx)
    cfg = IRLConfig(
        method=method, model=start_model, data=str(ctx.lab.data["train"]),
        output_dir=str(ctx.run_dir(method, seed) / "irl"), iterations=s.iterations, max_prompts=s.max_prompts,
        steps_per_iteration=s.steps, beta=0.1, learning_rate=s.learning_rate, lr_scheduler_type="linear",
        warmup_ratio=0.1, per_device_train_batch_size=s.batch_size, max_length=512, temperature=1.0,
        max_new_tokens=s.max_new_tokens, generation_batch_size=64, logging_steps=2, seed=seed, progress=False,
    )  # fmt: skip
    if method == "spin":
        cfg = replace(cfg, iterations=s.spin_iterations, max_prompts=s.spin_prompts)
    if method == "rft":
        cfg = replace(cfg, iterations=s.rft_iterations, steps_per_iteration=s.rft_steps,
                      learning_rate=s.rft_learning_rate, reward_steps=s.reward_steps,
                      reward_learning_rate=s.reward_learning_rate, num_generations=4,
                      per_device_train_batch_size=4 * 4, heldout_fraction=0.2)  # fmt: skip
    return cfg


def start_model(ctx, seed: int) -> str:
    if settings_for(ctx).start == "base":
        return str(ctx.lab.model_dir)
    return ctx.train("sft", seed, objective="nll")["output_dir"]  # the `sft` entry's run (cached)


def _entry(method: str):
    def run(ctx, seed: int) -> dict:
        t0 = time.time()
        if settings_for(ctx).start == "sft" and START_NOTE not in ctx.notes:
            ctx.notes.append(START_NOTE)
        cfg = irl_config(ctx, method, seed, start_model(ctx, seed))
        if ctx.cfg.fresh:
            shutil.rmtree(cfg.output_dir, ignore_errors=True)
        summary = run_irl(cfg)
        result = ctx.evaluate(method, seed, summary["model"])
        rows = [h for h in summary["log_history"] if "loss" in h]
        curve = {"step": [h["step"] for h in rows], "objective": [h["loss"] for h in rows]}
        if rows and all("nll" in h for h in rows):
            curve["nll"] = [h["nll"] for h in rows]
        result.update(seed=seed, train_seconds=summary["train_seconds"], curve=curve, wall_seconds=time.time() - t0,
                      iterations=summary["iterations"], start=settings_for(ctx).start)  # fmt: skip
        return result

    return run


def section(ctx):
    """One section for the IRL entries that ran, shown after the last of them."""
    from sftlab.report import Section

    ran = [m for m in METHODS if ctx.results.get(m, {}).get("runs")]
    selected = _selected(ctx)
    if not ran or not selected or ran[-1] != selected[-1]:
        return None  # another IRL entry still has to run: the section comes after it
    s = settings_for(ctx)
    text = (
        f"<p>Start: the demo's {'SFT model' if s.start == 'sft' else 'pretrained model'} of each seed. "
        f"IRFT: {s.iterations} iterations over {s.max_prompts} train prompts cut into chunks; SPIN: "
        f"{s.spin_iterations} iteration(s) over {s.spin_prompts} prompts; {s.steps} steps per iteration. RFT: "
        f"{s.rft_iterations} iterations of a reward step ({s.reward_steps} Bradley-Terry steps) and a policy step "
        f"({s.rft_steps} GRPO steps), 20% of its {s.max_prompts} prompts held out. Beta 0.1; one sampled generation "
        "(temperature 1) per prompt.</p>"
        "<p>Curves: mean over seeds; table: first seed. <b>Log-probability gap</b>: mean of "
        "log pi(demonstration) - log pi(generation) over an iteration's pairs, "
        "under the iteration's start pi_t (fresh generations, dashed) and after its K steps (solid); the implicit "
        "reward drives it up, and self-play has converged when pi_t's own generations are as likely as the "
        "demonstrations. <b>Reward accuracy</b>: share of pairs whose demonstration gets the higher reward: implicit "
        "reward beta*log(pi/pi_t) on the iteration's pairs (IRFT, SPIN), the learned reward model on held-out pairs "
        "(RFT).</p>"
    )
    return Section("IRL from demonstrations (IRFT, SPIN, RFT)", html=text + _table(ctx, ran),
                   images={"gap and reward accuracy per iteration": _figure(ctx, ran)})


def _selected(ctx) -> list[str]:
    """This module's entries among those the demo runs (in METHODS order)."""
    return [m for m in METHODS if m in ctx.selected]


def _mean_over_seeds(ctx, method: str, key: str) -> tuple[list[int], list[float]]:
    runs = ctx.results[method]["runs"]
    n = min(len(r["iterations"]) for r in runs)
    values = [[r["iterations"][i].get(key) for r in runs] for i in range(n)]
    xs = [i + 1 for i in range(n) if all(v is not None for v in values[i])]
    return xs, [sum(values[i - 1]) / len(values[i - 1]) for i in xs]


def _figure(ctx, ran: list[str]):
    from matplotlib.ticker import MaxNLocator

    from sftlab.report.plots import METHOD_COLORS, new_figure, style_axes

    fig = new_figure(9.0, 3.4)
    gap, acc = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    for i, m in enumerate(ran):
        color = METHOD_COLORS[i % len(METHOD_COLORS)]
        if m != "rft":
            for key, style, suffix in (("ref_logp_gap", "--", "at pi_t"), ("logp_gap", "-", "after K steps")):
                xs, ys = _mean_over_seeds(ctx, m, key)
                gap.plot(xs, ys, style, marker="o", color=color, label=f"{METHODS[m]} {suffix}")
        key = "heldout_reward_accuracy" if m == "rft" else "reward_accuracy"
        xs, ys = _mean_over_seeds(ctx, m, key)
        acc.plot(xs, [100 * y for y in ys], marker="o", color=color,
                 label=f"{METHODS[m]} ({'reward model, held out' if m == 'rft' else 'implicit'})")
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


def _table(ctx, ran: list[str]) -> str:
    """Per iteration, first seed: the numbers behind the plot and the share of generations whose answer verifies."""
    rows = ""
    for m in ran:
        for it in ctx.results[m]["runs"][0]["iterations"]:
            acc = it.get("heldout_reward_accuracy", it.get("reward_accuracy"))
            cells = [METHODS[m], it["iteration"], it["n_pairs"], _fmt(it.get("ref_logp_gap")), _fmt(it.get("logp_gap")),
                     _fmt(None if acc is None else 100 * acc, 0), _fmt(None if it.get("sample_accuracy") is None
                                                                      else 100 * it["sample_accuracy"], 0)]  # fmt: skip
            rows += "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"
    head = ("<tr><th>method</th><th>iteration</th><th>pairs</th><th>gap at pi_t</th><th>gap after</th>"
            "<th>reward accuracy (%)</th><th>generations correct (%)</th></tr>")  # fmt: skip
    return f"<table>{head}{rows}</table>"


def _fmt(x, digits: int = 1) -> str:
    return "" if x is None else f"{x:.{digits}f}"


register(DemoEntry("irft", "IRFT", "Implicit-reward IRL (arXiv 2405.17888, Algorithm 2) from the SFT model: "
                   "demonstration vs own generation, reference = the iteration's start, one chunk of prompts per "
                   "iteration.", _entry("irft"), section=section))  # fmt: skip
register(DemoEntry("spin", "SPIN", "Self-play fine-tuning (arXiv 2401.01335) from the SFT model: IRFT's logistic loss "
                   "with every iteration regenerating the whole (subset of the) data.", _entry("spin"),
                   section=section))  # fmt: skip
register(DemoEntry("rft", "RFT", "Reward-learning fine-tuning (arXiv 2405.17888, Algorithm 1) from the SFT model: a "
                   "Bradley-Terry reward model on demonstration vs generation, then GRPO on it with a KL anchor.",
                   _entry("rft"), section=section))  # fmt: skip
