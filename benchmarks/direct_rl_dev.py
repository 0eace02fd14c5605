"""Direct RL (GRPO with the verifier reward) on the cached lab, chosen on a dev split, never on test_id.

The splits, fixed before any run: **dev** = the last 200 train records (``train[1800:2000]``); the RL
prompts come from ``train[:--n-prompts]`` (at most 1,800, so never from dev); ``rlpool`` = the first 200
train records (prompts RL may have trained on: accuracy there against dev tells fitting from
generalizing); ``test_id`` = the lab's in-domain test split, for the one final evaluation.

Three modes (one JSON line each; ``train`` also appends it to ``--results``):

* ``diag``: ``--n`` samples per problem of a split at ``--temperature``: the verifier reward
  per family, maj@n (the most common stated answer is right) and pass@n (some sample is right), the share of tied groups (all samples right or all wrong: zero advantage), the share of
  samples cut at ``--max-len`` tokens and how many of those score 0;
* ``train``: GRPO through :func:`sftlab.methods.grpo.run_grpo` (the code path of ``sftlab dart
  --method direct_rl``) with the given budget and TRL options, then greedy accuracy on dev;
* ``eval``: greedy accuracy (and avg@k / pass@k with ``--k``) of a model on a split.

    SFTLAB_CACHE=... OMP_NUM_THREADS=1 python benchmarks/direct_rl_dev.py diag --temperature 0.7
    python benchmarks/direct_rl_dev.py train --temperature 0.7 --lr 5e-5 --beta 0 --max-len 64 \
        --mask-truncated --no-ages --steps 60 --n-prompts 1800 --out runs/D
    python benchmarks/direct_rl_dev.py eval --split test_id --k 4 --model runs/D/policy

See docs/dart.md, "Direct RL on the lab".
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import torch

from sftlab.data import render_prompt
from sftlab.evaluation import evaluate
from sftlab.generation import SamplingConfig, generate
from sftlab.io import read_jsonl
from sftlab.lab import ensure_lab
from sftlab.models import load_model_and_tokenizer
from sftlab.trainers.rewards import CorrectnessReward, correctness
from sftlab.verify import extract_answer, normalize_answer

DEV = slice(1800, 2000)


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("mode", choices=["diag", "train", "eval"])
    p.add_argument("--model", default=None, help="diag/eval: a model folder (default: the lab model)")
    p.add_argument("--split", default="dev", choices=["dev", "rlpool", "test_id"])
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--n", type=int, default=8, help="diag: samples per problem")
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--prompts", type=int, default=16, help="prompts per GRPO step")
    p.add_argument("--group", type=int, default=8, help="samples per prompt")
    p.add_argument("--lr", type=float, default=5e-5)
    p.add_argument("--beta", type=float, default=0.04)
    p.add_argument("--max-len", type=int, default=96, help="max_completion_length (diag: max new tokens)")
    p.add_argument("--n-prompts", type=int, default=512, help="RL prompts: train[:N], N <= 1800")
    p.add_argument("--no-ages", action="store_true", help="leave the ages family out of the RL prompts")
    p.add_argument("--loss-type", default=None, help="TRL loss_type (default: TRL's)")
    p.add_argument("--scale-rewards", default=None, help="TRL scale_rewards (default: TRL's)")
    p.add_argument("--mask-truncated", action="store_true", help="TRL mask_truncated_completions")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--k", type=int, default=1, help="eval: samples per problem for avg@k")
    p.add_argument("--out", default="runs/direct_rl")
    p.add_argument("--results", default="results.jsonl")
    return p.parse_args(argv)


def splits(lab, n_prompts: int, no_ages: bool) -> tuple[dict, list]:
    train = read_jsonl(lab.data["train"])
    pool = [r for r in train[: min(n_prompts, DEV.start)] if not (no_ages and r["family"] == "ages")]
    return {"dev": train[DEV], "rlpool": train[:200], "test_id": read_jsonl(lab.data["test_id"])}, pool


def accuracy(model_dir: str, records: list[dict], k: int = 1, seed: int = 0) -> dict:
    model, tok = load_model_and_tokenizer(model_dir, "infer")
    items = [{"prompt": render_prompt(r["question"], tok), "answer": r["answer"]} for r in records]
    t0 = time.time()
    sampling = SamplingConfig(max_new_tokens=160, batch_size=128, seed=seed)
    s = evaluate(model, tok, {"x": items}, k=k, sampling=sampling, progress=False)["splits"]["x"]
    keep = ("accuracy", "n", f"avg@{k}", f"pass@{k}")
    return {key: s[key] for key in keep if key in s} | {"eval_s": round(time.time() - t0, 1)}


def diag(a, model_dir: str, records: list[dict]) -> dict:
    model, tok = load_model_and_tokenizer(model_dir, "infer")
    prompts = [render_prompt(r["question"], tok) for r in records]
    cfg = SamplingConfig(max_new_tokens=a.max_len, temperature=a.temperature, n=a.n, batch_size=64, seed=a.seed)
    t0 = time.time()
    outs = generate(model, tok, prompts, cfg, progress=False)
    seconds = time.time() - t0
    by_family, tied, cut, cut_zero, total, majority, any_right = defaultdict(list), 0, 0, 0, 0, 0, 0
    for r, texts in zip(records, outs):
        rewards = [correctness(t, r["answer"]) for t in texts]
        votes = Counter(normalize_answer(x) for t in texts if (x := extract_answer(t)) is not None)
        if votes:  # the most common stated answer (first seen on a tie), as self-consistency reads it
            top = votes.most_common(1)[0][0]
            majority += any(rw and normalize_answer(extract_answer(t) or "") == top for t, rw in zip(texts, rewards))
        any_right += max(rewards) > 0
        by_family[r["family"]].append(sum(rewards) / len(rewards))
        tied += len(set(rewards)) == 1
        for t, rw in zip(texts, rewards):
            total += 1
            if len(tok(t, add_special_tokens=False)["input_ids"]) >= a.max_len - 1:  # no EOS within the budget
                cut, cut_zero = cut + 1, cut_zero + (rw == 0)
    n = sum(len(v) for v in by_family.values())
    return {
        "split": a.split, "temperature": a.temperature, "n": a.n, "generation_s": round(seconds, 1),
        "reward": round(sum(sum(v) for v in by_family.values()) / n, 3),
        f"maj@{a.n}": round(majority / len(records), 3), f"pass@{a.n}": round(any_right / len(records), 3),
        "by_family": {f: round(sum(v) / len(v), 3) for f, v in by_family.items()},
        "tied_groups": round(tied / len(records), 3), "truncated_share": round(cut / total, 4),
        "truncated_scoring_0": cut_zero,
    }  # fmt: skip


def train(a, lab, pool: list[dict], dev: list[dict]) -> dict:
    from datasets import Dataset

    from sftlab.methods.grpo import grpo_args, run_grpo

    out = Path(a.out)
    model, tok = load_model_and_tokenizer(str(lab.model_dir), "train")
    data = Dataset.from_list([{"prompt": render_prompt(r["question"], tok), "answer": r["answer"]} for r in pool])
    args = grpo_args(out / "rl", steps=a.steps, group_size=a.group, prompts_per_step=a.prompts, learning_rate=a.lr,
                     beta=a.beta, temperature=a.temperature, max_completion_length=a.max_len, seed=a.seed,
                     save_steps=10**9, progress=False)  # fmt: skip
    if a.loss_type:
        args.loss_type = a.loss_type
    if a.scale_rewards:
        args.scale_rewards = a.scale_rewards
    args.mask_truncated_completions = a.mask_truncated
    t0 = time.time()
    summary = run_grpo(model, tok, data, [CorrectnessReward()], args, out / "policy")
    seconds = time.time() - t0
    rows = [h for h in summary["log_history"] if "reward" in h]

    def mean(key, part):
        v = [h[key] for h in rows[part] if h.get(key) is not None]
        return round(sum(v) / len(v), 3) if v else None

    return {
        "settings": vars(a), "rl_s": round(seconds, 1), "loss_type": args.loss_type,
        "scale_rewards": args.scale_rewards, "reward_first5": mean("reward", slice(0, 5)),
        "reward_last5": mean("reward", slice(-5, None)), "tied_groups": mean("frac_reward_zero_std", slice(None)),
        "clipped_ratio": mean("completions/clipped_ratio", slice(None)), "dev": accuracy(str(out / "policy"), dev),
    }  # fmt: skip


def main(argv=None) -> None:
    a = parse(argv)
    torch.set_num_threads(1)
    lab = ensure_lab(progress=False)
    named, pool = splits(lab, a.n_prompts, a.no_ages)
    model_dir = a.model or str(lab.model_dir)
    if a.mode == "diag":
        result = diag(a, model_dir, named[a.split])
    elif a.mode == "eval":
        result = {"model": model_dir, "split": a.split, **accuracy(model_dir, named[a.split], a.k, a.seed)}
    else:
        result = train(a, lab, pool, named["dev"])
        with open(a.results, "a", encoding="utf-8") as f:
            f.write(json.dumps(result) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    sys.exit(main())
