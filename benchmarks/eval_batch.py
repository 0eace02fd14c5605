"""Greedy evaluation on the lab: prompts per generation batch, 64 (the demo's) vs 128 (its former setting).

Both sizes run the same 400 test prompts (200 test_id + 200 test_ood, as the plain demo evaluates) through
``sftlab.generation.generate`` on one torch thread, alternating, ``--repeats`` times each (the best time is kept,
so a busy moment of the machine does not decide). The completions of the two sizes are compared one by one: left
padding must not change a greedy answer.

    python benchmarks/eval_batch.py [--model PATH ...] [--batches 64,128] [--repeats 2]

Without ``--model``, the lab's base model (installed or built on first use). The last line printed is one JSON
object with every figure and ``time_ratio`` (the first size's time over the second's, per model).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import machine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", action="append", help="model folder(s); default: the lab's base model")
    parser.add_argument("--batches", default="64,128", help="two batch sizes, comma-separated")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--n", type=int, default=200, help="test problems per split")
    args = parser.parse_args()

    import torch

    from sftlab.data import load_sft_data
    from sftlab.data.items import eval_items
    from sftlab.generation import SamplingConfig, generate
    from sftlab.lab import ensure_lab
    from sftlab.models import load_model_and_tokenizer

    torch.set_num_threads(1)
    first, second = (int(b) for b in args.batches.split(","))
    lab = ensure_lab(progress=False)
    prompts = [
        it["prompt"] for s in ("test_id", "test_ood") for it in eval_items(load_sft_data(str(lab.data[s])))[: args.n]
    ]
    results = []
    for path in args.model or [str(lab.model_dir)]:
        model, tok = load_model_and_tokenizer(path, "infer")
        seconds, outputs = {first: [], second: []}, {}
        for _ in range(args.repeats):
            for size in (first, second):
                t = time.perf_counter()
                outputs[size] = generate(
                    model, tok, prompts, SamplingConfig(max_new_tokens=160, batch_size=size), progress=False
                )
                seconds[size].append(time.perf_counter() - t)
        best = {size: min(times) for size, times in seconds.items()}
        same = sum(a == b for a, b in zip(outputs[first], outputs[second]))
        results.append({
            "model": path, "prompts": len(prompts), f"seconds_{first}": round(best[first], 2),
            f"seconds_{second}": round(best[second], 2), "time_ratio": round(best[first] / best[second], 3),
            "identical_completions": same,
        })  # fmt: skip
        print(f"{path}: batch {first} {best[first]:.1f} s, batch {second} {best[second]:.1f} s "
              f"({best[first] / best[second]:.2f}x); identical completions {same}/{len(prompts)}")  # fmt: skip
    print(json.dumps({"machine": machine(), "threads": 1, "results": results}))


if __name__ == "__main__":
    main()
