"""Decoding: sftlab's loop (finished rows leave the batch, the KV cache written in place) vs ``model.generate``.

Both loops run the same prompts through ``sftlab.generation.generate`` on one torch thread, alternating,
``--repeats`` times each (the best time is kept, so a busy moment of the machine does not decide), in the settings
the demo uses: greedy over the lab's 400 test prompts (200 test_id + 200 test_ood, batches of 64, 160 new tokens),
and sampling at temperature 1 (4 completions per prompt for 100 train prompts, 64 new tokens, as self-distillation
samples). Completions are compared one by one: the loop must give ``generate``'s tokens, samples included.

    python benchmarks/decode.py [--model PATH ...] [--repeats 2]

Without ``--model``, the lab's base model (installed or built on first use). The last line printed is one JSON
object with every figure and ``time_ratio`` (sftlab's loop over ``model.generate``, per model and setting).
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
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    import torch

    import sftlab.generation.decode as loop
    from sftlab.data import load_sft_data
    from sftlab.data.items import eval_items
    from sftlab.generation import SamplingConfig, generate
    from sftlab.lab import ensure_lab
    from sftlab.models import load_model_and_tokenizer

    torch.set_num_threads(1)
    lab = ensure_lab(progress=False)
    tests = [it["prompt"] for s in ("test_id", "test_ood") for it in eval_items(load_sft_data(str(lab.data[s])))[:200]]
    train = [it["prompt"] for it in eval_items(load_sft_data(str(lab.data["train"])))[:100]]
    settings = {
        "greedy": (tests, SamplingConfig(max_new_tokens=160, batch_size=64)),
        "sampled": (train, SamplingConfig(max_new_tokens=64, temperature=1.0, n=4, batch_size=32, seed=3)),
    }
    supported = loop.supported
    results = []
    for path in args.model or [str(lab.model_dir)]:
        model, tok = load_model_and_tokenizer(path, "infer")
        assert supported(model), f"{path}: sftlab's loop does not handle this model"
        for name, (prompts, cfg) in settings.items():
            seconds, outputs = {"sftlab": [], "generate": []}, {}
            for _ in range(args.repeats):
                for which in ("sftlab", "generate"):
                    loop.supported = supported if which == "sftlab" else (lambda model: False)
                    t = time.perf_counter()
                    outputs[which] = generate(model, tok, prompts, cfg, progress=False)
                    seconds[which].append(time.perf_counter() - t)
            loop.supported = supported
            best = {which: min(times) for which, times in seconds.items()}
            same = sum(a == b for a, b in zip(outputs["sftlab"], outputs["generate"]))
            results.append({
                "model": path, "setting": name, "prompts": len(prompts), "completions": len(prompts) * cfg.n,
                "seconds_sftlab": round(best["sftlab"], 2), "seconds_generate": round(best["generate"], 2),
                "time_ratio": round(best["sftlab"] / best["generate"], 3), "identical_prompts": same,
            })  # fmt: skip
            print(f"{path} {name}: sftlab {best['sftlab']:.1f} s, generate {best['generate']:.1f} s "
                  f"({best['sftlab'] / best['generate']:.2f}x); identical {same}/{len(prompts)} prompts "
                  f"({cfg.n} completion(s) each)", flush=True)  # fmt: skip
    print(json.dumps({"machine": machine(), "threads": 1, "results": results}))


if __name__ == "__main__":
    main()
