"""Can the lab's scenarios tell a method from a deliberately broken copy of it?

For each method, the real one and a broken copy run on the lab over the same
seeds, and the in-domain accuracy difference (real minus broken, paired by
seed) gets a 95% Student-t interval. A scenario that cannot separate them
cannot count as evidence for the method (docs: DESIGN.md, "a lab result is
evidence only if ... it can tell the method from a broken copy of it").

The broken copies live in this script only, patched in for their runs:

* ``dft``: DFT with the token weight ``1 - p`` instead of ``p`` (the trainer's
  ``per_token_loss`` is wrapped; both copies run TRL's fused LM head,
  ``fused_loss="trl"``, so the weight is the only difference: the CPU fast path
  forms DFT's weight inside its kernel and cannot be wrapped);
* ``nft``: NFT with the sign of the wrong answers' term flipped (the NFT
  trainer's ``nft_loss`` gets ``negative_weight = -lambda_neg``; the command
  refuses negative weights, so this is the only way to get one);
* ``s2l``: S2L with its k-means cluster labels shuffled across examples (the
  cluster sizes stay, the membership goes), at the demo's headline budget;
* ``dft-native``, ``s2l-pool``: the same broken copies on the data of DFT's and
  S2L's claim scenarios (native-style solutions; the redundant, imbalanced pool:
  :mod:`sftlab.experiments.scenarios`), where the scoreboard tests their claims;
* ``grpo-careless``: GRPO on the careless lab variant (RL's regime, the
  ``grpo-careless`` entry) with the verifier's reward inverted (``1 - r``: it pays
  for wrong answers);
* ``nft-careless``: NFT on the careless lab variant (the ``nft-careless`` entry)
  with the negative term's sign flipped, as ``nft``.

With ``--output-dir`` a demo output folder, the real copies of the entries that
share a name with a demo entry (``grpo-careless``, ``nft-careless``) are that demo's cached runs.

Runs go through the demo's own context (``DemoContext``: its recipes, its
caching under ``--output-dir/runs``, its greedy evaluation), so a rerun
resumes; what the runs print goes to ``<output-dir>/console.log`` (``--verbose``: the
console). Not part of the demo or the tests.

    python benchmarks/lab_sensitivity.py [--seeds 3] [--quick] [--variants dft,nft,s2l] [--output-dir DIR]
    python benchmarks/lab_sensitivity.py --tiny-lab --quick --seeds 1 --steps 4 --eval-limit 8   # smoke run

The lab comes from ``--cache-dir`` / ``$SFTLAB_CACHE`` as usual (built if
missing); ``--tiny-lab`` uses the test suite's reduced lab instead (numbers
meaningless: it checks that the script runs). Results: ``<output-dir>/lab_sensitivity.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from contextlib import nullcontext
from pathlib import Path
from unittest import mock

VARIANTS = ("dft", "nft", "s2l", "dft-native", "s2l-pool", "grpo-careless", "nft-careless")  # from the 4th: scenarios


# ---------------------------------------------------------------- the broken copies (this script only)


def dft_one_minus_p(per_token_loss):
    """``per_token_loss`` with DFT's weight ``sg(p)`` replaced by ``sg(1 - p)``; other objectives unchanged."""

    def loss(objective, log_probs, **kw):
        if objective != "dft":
            return per_token_loss(objective, log_probs, **kw)
        return -(1.0 - log_probs.detach().exp()) * log_probs

    return loss


def nft_flipped_negative(nft_loss):
    """``nft_loss`` with the wrong answers' term entering with the opposite sign."""

    def loss(*args, negative_weight: float = 1.0, **kw):
        return nft_loss(*args, negative_weight=-negative_weight, **kw)

    return loss


def shuffled_clusters(cluster_trajectories):
    """``cluster_trajectories`` whose labels are permuted across examples: same sizes, random members."""

    def cluster(trajectories, n_clusters, seed: int = 0, **kw):
        import numpy as np

        labels = cluster_trajectories(trajectories, n_clusters, seed=seed, **kw)
        return np.random.default_rng(seed + 7919).permutation(labels)

    return cluster


def inverted_reward(reward_class):
    """``reward_class`` whose reward is ``1 - r``: right answers earn 0, wrong ones 1."""

    class Inverted(reward_class):
        def __call__(self, *args, **kw):
            return [1.0 - r for r in super().__call__(*args, **kw)]

    return Inverted


# variant -> (what is broken, the function patched (where its callers look it up), original -> broken copy)
BROKEN = {
    "dft": ("DFT weighted by 1 - p", "sftlab.trainers.sft.per_token_loss", dft_one_minus_p),
    "nft": ("NFT, negative term's sign flipped", "sftlab.trainers.nft.nft_loss", nft_flipped_negative),
    "s2l": ("S2L, cluster labels shuffled", "sftlab.methods.s2l.sampling.cluster_trajectories", shuffled_clusters),
}
BROKEN["dft-native"], BROKEN["s2l-pool"] = BROKEN["dft"], BROKEN["s2l"]
BROKEN["nft-careless"] = BROKEN["nft"]
BROKEN["grpo-careless"] = ("GRPO, reward inverted (1 - r)", "sftlab.methods.grpo.CorrectnessReward", inverted_reward)


def broken(variant: str):
    """The patch that turns ``variant`` into its broken copy, for the ``with`` block."""
    import importlib

    _, target, make = BROKEN[variant]
    module, name = target.rsplit(".", 1)
    return mock.patch(target, make(getattr(importlib.import_module(module), name)))


# ---------------------------------------------------------------- one run (real or broken) of a variant


def run_dft(ctx, name: str, seed: int, data: str | None = None) -> dict:
    return ctx.train_and_evaluate(name, seed, objective="dft", fused_loss="trl", data=data)


def run_dft_native(ctx, name: str, seed: int) -> dict:
    """DFT on the native-style solutions of its claim scenario (the ``dft-native`` entry's data)."""
    from sftlab.experiments.scenarios import scenario_data

    return run_dft(ctx, name, seed, data=scenario_data(ctx, "native"))


def run_nft(ctx, name: str, seed: int) -> dict:
    from sftlab.experiments.entries.nft import run_nft_entry
    from sftlab.experiments.registry import BY_NAME

    return run_nft_entry(ctx, dataclasses.replace(BY_NAME["nft"], name=name), seed)


def run_s2l(ctx, name: str, seed: int, pool: str | None = None) -> dict:
    """S2L at the demo's headline budget (the recipe's proxy and clustering), then the demo's fine-tuning; with
    ``pool``, on that claim scenario's pool with its entry's recipe and a proxy trained on the pool."""
    import json

    from sftlab.experiments.entries.s2l import HEADLINE, proxy_checkpoints
    from sftlab.experiments.registry import BY_NAME
    from sftlab.experiments.scenarios import scenario_data
    from sftlab.methods.s2l.select import SelectConfig, run_select

    entry = BY_NAME["s2l-pool" if pool else "s2l"]
    data = scenario_data(ctx, pool) if pool else str(ctx.lab.data["train"])
    proxy_name = f"s2l-proxy-{pool}" if pool else "s2l-proxy"
    recipe = ctx.recipe(entry.recipe, SelectConfig)
    sel_dir = ctx.run_dir(name, seed) / "selection"
    if (sel_dir / "manifest.json").is_file() and not ctx.cfg.fresh:
        selected = str(sel_dir / "selected.jsonl")
        n_selected = json.loads((sel_dir / "manifest.json").read_text())["n_selected"]
    else:
        proxy = proxy_checkpoints(ctx, recipe.options["n_checkpoints"], full="full-pool" if pool else "sft",
                                  name=proxy_name, data=data if pool else None)  # fmt: skip
        selection = run_select(SelectConfig(**{
            **recipe.options, "method": "s2l", "budget": str(float(HEADLINE)), "data": data,
            "proxy_model": str(ctx.lab.model_dir), "proxy_checkpoints": proxy, "output_dir": str(sel_dir),
            "work_dir": str(ctx.run_dir(proxy_name, 0) / "selection"), "seed": seed, "progress": False,
        }))  # fmt: skip
        selected, n_selected = selection["selected_path"], selection["n_selected"]
    run = ctx.train_and_evaluate(name, seed, data=selected, max_steps=max(1, round(ctx.steps * HEADLINE)))
    return {**run, "n_selected": n_selected}


def run_grpo_careless(ctx, name: str, seed: int) -> dict:
    """GRPO on the careless lab variant with the ``grpo-careless`` entry's recipe (RL's claim scenario)."""
    from sftlab.experiments.entries.rl import run_grpo_careless as run
    from sftlab.experiments.registry import BY_NAME

    return run(ctx, dataclasses.replace(BY_NAME["grpo-careless"], name=name), seed)


def run_nft_careless(ctx, name: str, seed: int) -> dict:
    """NFT on the careless lab variant with the ``nft-careless`` entry's recipe (NFT's claim in RL's regime)."""
    from sftlab.experiments.entries.rl import run_nft_careless as run
    from sftlab.experiments.registry import BY_NAME

    return run(ctx, dataclasses.replace(BY_NAME["nft-careless"], name=name), seed)


RUNS = {
    "dft": run_dft,
    "nft": run_nft,
    "s2l": run_s2l,
    "dft-native": run_dft_native,
    "s2l-pool": lambda ctx, name, seed: run_s2l(ctx, name, seed, pool="pool"),
    "grpo-careless": run_grpo_careless,
    "nft-careless": run_nft_careless,
}


# ---------------------------------------------------------------- the comparison


def compare(real: dict[int, float], broke: dict[int, float]) -> dict:
    """Real minus broken, paired by seed: per-seed differences, mean, 95% Student-t interval, separated?"""
    from sftlab.report.summary import t_interval

    diffs = {s: real[s] - broke[s] for s in sorted(real.keys() & broke.keys())}
    interval = t_interval(list(diffs.values()))
    return {
        "diff": diffs,
        "mean": statistics.fmean(diffs.values()) if diffs else None,
        "ci95": None if interval is None else list(interval),
        "separated": None if interval is None else bool(interval[0] > 0 or interval[1] < 0),
    }


def _pct(values: dict[int, float]) -> str:
    xs = list(values.values())
    if not xs:
        return "–"
    std = statistics.stdev(xs) if len(xs) > 1 else 0.0
    return f"{100 * statistics.fmean(xs):.1f} ± {100 * std:.1f}"


def table(results: dict) -> str:
    head = ["variant", "real", "broken", "difference [95% CI]", "separated?"]
    rows = []
    for variant, r in results["variants"].items():
        c = r["comparison"]
        diff = "–" if c["mean"] is None else f"{100 * c['mean']:+.1f}"
        if c["ci95"]:
            diff += f" [{100 * c['ci95'][0]:+.1f}, {100 * c['ci95'][1]:+.1f}]"
        separated = "n/a (one seed)" if c["separated"] is None else ("yes" if c["separated"] else "no")
        rows.append([f"{variant}: {r['broken_copy']}", _pct(r["real"]), _pct(r["broken"]), diff, separated])
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    lines = ["  ".join(str(x).ljust(w) for x, w in zip(row, widths)) for row in [head, *rows]]
    return "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:]])


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=3, help="Seeds per copy (default 3).")
    p.add_argument("--quick", action="store_true", help="The demo's --quick sizes (fewer steps, smaller tests).")
    p.add_argument("--variants", default=",".join(VARIANTS), help=f"Comma-separated, of {', '.join(VARIANTS)}.")
    p.add_argument("--output-dir", default="outputs/lab_sensitivity", help="Runs (cached) and the results JSON.")
    p.add_argument("--cache-dir", default=None, help="Lab build cache (default: $SFTLAB_CACHE or ~/.cache/sftlab/lab).")
    p.add_argument("--split", default="test_id", choices=["test_id", "test_ood"], help="Accuracy compared.")
    p.add_argument("--steps", type=int, default=None, help="Fine-tuning steps (default: the demo's).")
    p.add_argument("--eval-limit", type=int, default=None, help="Test problems per split (default: the demo's).")
    p.add_argument("--max-new-tokens", type=int, default=160, help="Generation budget per test problem.")
    p.add_argument("--verbose", action="store_true", help="Show the runs' own output (default: console.log).")
    p.add_argument(
        "--tiny-lab", action="store_true", help="The tests' reduced lab (a smoke run: numbers mean nothing)."
    )
    a = p.parse_args(argv)
    variants = [v.strip() for v in a.variants.split(",") if v.strip()]
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        p.error(f"--variants: unknown {unknown}; known: {list(VARIANTS)}")

    import torch

    from sftlab.console import RunView
    from sftlab.experiments.context import DemoConfig, DemoContext
    from sftlab.io import atomic_write_json
    from sftlab.lab import LabConfig, ensure_lab
    from sftlab.lab.model import _free_cores
    from sftlab.report import machine_info
    from sftlab.report.summary import format_machine

    t_start = time.time()
    torch.set_num_threads(_free_cores())  # as the demo does: tiny models run faster on fewer threads when busy
    lab = ensure_lab(LabConfig.tiny(pretrain_steps=60) if a.tiny_lab else None, cache_dir=a.cache_dir)
    out = Path(a.output_dir)
    cfg = DemoConfig(quick=a.quick, seeds=a.seeds, output_dir=str(out), steps=a.steps, eval_limit=a.eval_limit,
                     max_new_tokens=a.max_new_tokens, examples=0, cache_dir=a.cache_dir)  # fmt: skip
    ctx = DemoContext(cfg, lab, out)
    seeds = list(range(a.seeds))
    machine = machine_info()
    print(f"lab_sensitivity: lab at {lab.root}; variants {variants}; seeds {seeds}; {format_machine(machine)}")

    results = {"machine": machine, "config": vars(a), "lab": str(lab.root), "split": a.split, "variants": {}}
    total = 2 * len(seeds) * len(variants)
    with RunView(total, title="lab sensitivity", verbose=a.verbose, log=out / "console.log") as view:
        for variant in variants:
            t0 = time.time()
            acc = {"real": {}, "broken": {}}
            for seed in seeds:
                for copy in ("real", "broken"):
                    name = variant if copy == "real" else f"{variant}-broken"
                    with view.run(f"{name} seed {seed}"), broken(variant) if copy == "broken" else nullcontext():
                        run = RUNS[variant](ctx, name, seed)
                    acc[copy][seed] = run["accuracy"][a.split]
                    view.line(f"  {name:12s} seed {seed}: {a.split} {run['accuracy'][a.split]:.3f}")
            results["variants"][variant] = {
                "broken_copy": BROKEN[variant][0],
                **acc,
                "comparison": compare(acc["real"], acc["broken"]),
                "seconds": round(time.time() - t0, 1),
            }
    results["seconds"] = round(time.time() - t_start, 1)
    path = atomic_write_json(out / "lab_sensitivity.json", results)
    print(f"\nreal vs broken copy, {a.split} accuracy (%), mean ± std over seeds; difference = real - broken")
    print(table(results))
    print(f"\nmachine: {format_machine(machine)}; {results['seconds']:.0f} s; results in {path}")
    return results


if __name__ == "__main__":
    main()
