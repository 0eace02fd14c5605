"""DART's cost: the RL stage (wall time, rewrites/s) and DART end to end vs direct RL at equal policy updates.

Three runs, each in a fresh process on the same lab-sized setup:

* ``dart_rl``: GRPO on the mapper with DART's reward (the target scores every
  rewrite) for ``--steps`` policy updates;
* ``direct_rl``: GRPO on the target itself with the correctness reward for the
  same number of updates (DART's ablation);
* ``dart_end_to_end``: ``sftlab dart``: the same RL stage, synthesis of
  ``--examples`` records (best of ``--samples``), and ``--sft-steps`` of SFT
  on the adapted data.

By default the models are lab-sized Llamas (4 layers, 128 wide) with random
weights and a tokenizer trained on the lab's task texts, so the benchmark
needs no lab build; a random model writes until ``--max-new-tokens``, the
worst case for generation. ``--lab DIR`` uses a built lab's model as the
target and ``--mapper DIR`` (e.g. the lab's mapper initialization) as the
initial mapper instead (realistic lengths).

    python benchmarks/dart_cost.py [--steps 10] [--examples 128] [--threads 1]

The last line printed is one JSON object with every figure and the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import machine, run_child  # noqa: E402


def setup(work: str, examples: int, lab: str | None) -> tuple[str, str]:
    """(model dir, data jsonl) in ``work``: a built lab's, or a random lab-sized model and fresh lab problems."""
    from sftlab.io import atomic_write_jsonl

    if lab:
        return os.path.join(lab, "model"), os.path.join(lab, "data", "train.jsonl")
    import random

    import torch

    from sftlab.lab import LabConfig
    from sftlab.lab.pretrain import make_model, pretraining_text
    from sftlab.lab.tasks import make_problem, make_record
    from sftlab.lab.tokenizer import train_tokenizer

    cfg = LabConfig()
    rng = random.Random(0)
    records = [
        make_record(
            make_problem(rng, cfg.train_families[i % 5], rng.randint(2, 3), 20, 50),
            rng,
            style="expert",
            split="train",
            idx=i,
        )
        for i in range(max(examples, 64))
    ]
    model_dir, data = os.path.join(work, "model"), os.path.join(work, "train.jsonl")
    atomic_write_jsonl(data, records)
    tok = train_tokenizer([pretraining_text(r["question"], r["solution"], None) for r in records], cfg.vocab_size)
    torch.manual_seed(0)
    make_model(cfg, tok).save_pretrained(model_dir)
    tok.save_pretrained(model_dir)
    return model_dir, data


def child(kind: str, a) -> dict:
    import torch

    if a.threads:
        torch.set_num_threads(a.threads)
    from sftlab.methods.dart import DartConfig, run_dart
    from sftlab.methods.dart import rl as rl_module

    work = tempfile.mkdtemp(prefix="dart_cost_")
    model_dir, data = setup(work, a.examples, a.lab)
    reward_seconds = [0.0]
    real_call = rl_module.DartReward.__call__

    def timed(self, *args, **kwargs):  # time spent scoring rewrites with the target
        t = time.perf_counter()
        try:
            return real_call(self, *args, **kwargs)
        finally:
            reward_seconds[0] += time.perf_counter() - t

    rl_module.DartReward.__call__ = timed
    cfg = DartConfig(
        method="direct_rl" if kind == "direct_rl" else "dart", model=model_dir, mapper=a.mapper or model_dir, data=data,
        output_dir=os.path.join(work, "out"), max_examples=a.examples, rl_steps=a.steps, group_size=a.group_size,
        prompts_per_step=a.prompts_per_step, rl_learning_rate=1e-4, max_completion_length=a.max_new_tokens,
        n_samples=a.samples, save_steps=10**9, train_max_steps=a.sft_steps, train_batch_size=16,
        train_learning_rate=1e-3, max_length=512, progress=False,
    )  # fmt: skip
    t0 = time.perf_counter()
    if kind == "dart_rl":
        from sftlab.methods.dart import TargetScorer
        from sftlab.methods.dart.prompt import scaffold_for
        from sftlab.methods.dart.run import load, load_reasoning, train_mapper

        target, tok = load(model_dir)
        rl = train_mapper(cfg, cfg.mapper, load_reasoning(data, a.examples), TargetScorer(target, tok),
                          scaffold_for(cfg.mapper_template), Path(work) / "out")  # fmt: skip
        out = {"rl_seconds": rl["train_seconds"], "rewrites": rl["rewrites"]}
    else:
        result = run_dart(cfg)
        rl = result["rl"] if kind == "direct_rl" else result["adapt"]["rl"]
        out = {"rl_seconds": rl["train_seconds"], "rewrites": rl["rewrites"]}
        if kind == "dart_end_to_end":
            m = result["adapt"]["manifest"]
            out.update(
                synthesis_seconds=m["synthesis_seconds"],
                synthesis_rewrites_per_s=m["rewrites_per_second"],
                train_seconds=result["train"]["train_seconds"],
                fallback_rate=m["fallback_rate"],
            )
    out.update(
        kind=kind,
        wall_seconds=time.perf_counter() - t0,
        steps=a.steps,
        reward_seconds=reward_seconds[0],
        cpu_seconds=time.process_time(),
    )
    out["rewrites_per_s"] = out["rewrites"] / out["rl_seconds"]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=10, help="GRPO policy updates (mapper and direct RL alike)")
    ap.add_argument("--group-size", type=int, default=4)
    ap.add_argument("--prompts-per-step", type=int, default=4)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--examples", type=int, default=128, help="records adapted by the end-to-end run")
    ap.add_argument("--samples", type=int, default=2, help="rewrites per record at synthesis")
    ap.add_argument("--sft-steps", type=int, default=50, help="SFT steps on the adapted data (end to end)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads per run (0: torch's default)")
    ap.add_argument("--lab", default=None, help="a built lab folder (model/, data/) instead of random weights")
    ap.add_argument(
        "--mapper", default=None, help="initial mapper (default: the target; with --lab, e.g. the lab mapper)"
    )
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        print(json.dumps(child(a.child, a)))
        return
    info = machine()
    print(f"machine: {info}")
    print(
        f"setup: {'lab ' + a.lab if a.lab else 'random lab-sized Llama 4x128'}; {a.steps} GRPO steps of "
        f"{a.prompts_per_step} x {a.group_size} completions <= {a.max_new_tokens} tokens; end to end: "
        f"{a.examples} records x {a.samples} rewrites, {a.sft_steps} SFT steps"
    )
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in vars(a).items() if k != "child" and v is not None]
    runs = {}
    for kind in ("dart_rl", "direct_rl", "dart_end_to_end"):
        runs[kind] = r = run_child(__file__, [*flags, f"--child={kind}"], timeout=3600)
        print(
            f"{kind:16s} wall {r['wall_seconds']:7.1f} s  RL {r['rl_seconds']:6.1f} s  "
            f"{r['rewrites_per_s']:6.1f} rewrites/s  scoring {r['reward_seconds']:5.1f} s"
        )
    d, e, x = runs["dart_rl"], runs["dart_end_to_end"], runs["direct_rl"]
    summary = {
        "machine": info, "setup": {k: v for k, v in vars(a).items() if k != "child"}, "runs": runs,
        "dart_rl_seconds": d["rl_seconds"], "dart_rl_rewrites_per_s": d["rewrites_per_s"],
        "dart_rl_scoring_share": d["reward_seconds"] / d["rl_seconds"],
        "direct_rl_seconds": x["rl_seconds"], "dart_end_to_end_seconds": e["wall_seconds"],
        "dart_rl_vs_direct_rl_seconds_ratio": d["rl_seconds"] / x["rl_seconds"],
        "dart_end_to_end_vs_direct_rl_seconds_ratio": e["wall_seconds"] / x["wall_seconds"],
        "dart_end_to_end_vs_direct_rl_cpu_ratio": e["cpu_seconds"] / x["cpu_seconds"],
    }  # fmt: skip
    print(
        f"DART RL / direct RL (same {a.steps} updates): {summary['dart_rl_vs_direct_rl_seconds_ratio']:.2f}x; "
        f"DART end to end / direct RL: {summary['dart_end_to_end_vs_direct_rl_seconds_ratio']:.2f}x wall"
    )
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
