"""S2L at scale: clustering + sampling time, and loss-recording speed vs a plain forward pass.

(a) k-means (K=100) and cluster sampling of N x C synthetic loss trajectories
    (default 1,000,000 x 12: a mixture of curve shapes, per-example scale and
    noise), against the 60 s target on 2 CPU cores.
(b) tokens/s of :func:`sftlab.generation.scoring.example_losses` (fused LM head, per-example
    mean completion loss) vs ``model(input_ids).logits`` on the same batches of
    the same model, target ratio >= 0.9.

    python benchmarks/s2l_scale.py [--quick] [--model PATH] [--device cuda]

The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

import numpy as np
import torch


def synthetic_trajectories(n: int, c: int, seed: int = 0) -> np.ndarray:
    """(n, c) loss curves: five shapes (fast/slow/no learning, plateau, late drop) x scale + noise."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, c)
    shapes = np.stack(
        [
            2.5 * np.exp(-5 * t) + 0.2,
            2.0 * np.exp(-t),
            1.5 - 0.3 * t,
            3.0 * np.exp(-10 * t) + 0.05,
            2.2 - 1.5 * t**2,
        ]
    )  # (5, c)
    which = rng.integers(0, len(shapes), n)
    scale = rng.lognormal(0.0, 0.3, (n, 1))
    return (shapes[which] * scale + rng.normal(0, 0.1, (n, c))).astype(np.float32)


def bench_clustering(n: int, c: int, k: int, budget: float) -> dict:
    from sftlab.methods.s2l import select_indices

    x = synthetic_trajectories(n, c)
    t0 = time.perf_counter()
    idx, info = select_indices("s2l", int(budget * n), n=n, trajectories=x, n_clusters=k, seed=0)
    seconds = time.perf_counter() - t0
    assert len(idx) == int(budget * n)
    return {
        "n": n,
        "c": c,
        "k": k,
        "budget": int(budget * n),
        "cluster_sample_s": round(seconds, 2),
        "clusters_found": len(info["cluster_sizes"]),
        "cluster_target_s": 60.0,
        "cluster_target_ratio": round(60.0 / seconds, 2),
    }


def make_model(path: str | None, device: str):
    from transformers import LlamaConfig, LlamaForCausalLM

    from sftlab.models import load_causal_lm

    if path:  # as S2L loads its proxies (purpose "score": bf16 on a bf16 GPU), then on --device (float32 on a CPU)
        return load_causal_lm(path, "score", bf16=False if device == "cpu" else None).to(device)
    torch.manual_seed(0)  # the lab model's shape (4 layers, 128 wide, 512-token vocabulary)
    cfg = LlamaConfig(
        vocab_size=512,
        hidden_size=128,
        intermediate_size=344,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=512,
    )
    return LlamaForCausalLM(cfg).to(device).eval()


def bench_recording(model, n: int, batch_size: int, min_len: int, max_len: int, repeats: int) -> dict:
    import datasets

    from sftlab.generation.scoring import _pad, example_losses

    rng = np.random.default_rng(0)
    vocab = model.config.vocab_size
    ids, masks = [], []
    for _ in range(n):
        length = int(rng.integers(min_len, max_len + 1))
        prompt = int(rng.integers(1, length // 2 + 1))
        ids.append(rng.integers(3, vocab, length).tolist())
        masks.append([0] * prompt + [1] * (length - prompt))
    ds = datasets.Dataset.from_dict({"input_ids": ids, "completion_mask": masks})
    tokens = sum(map(len, ids))
    device = next(model.parameters()).device
    # the same batches example_losses makes: longest first, right padding
    order = np.argsort([-len(x) for x in ids], kind="stable")
    batches = [
        _pad([ids[i] for i in order[s : s + batch_size]], [masks[i] for i in order[s : s + batch_size]], device)
        for s in range(0, n, batch_size)
    ]

    def plain():
        with torch.inference_mode():
            for input_ids, attention_mask, _ in batches:
                model(input_ids=input_ids, attention_mask=attention_mask).logits  # noqa: B018
        _sync(device)

    def record():
        example_losses(model, ds, batch_size=batch_size, progress=False)
        _sync(device)

    plain(), record()  # warm up
    t_plain, t_rec = [], []
    for _ in range(repeats):  # interleaved, so load from other processes hits both alike
        for fn, times in ((plain, t_plain), (record, t_rec)):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
    plain_tps, rec_tps = tokens / statistics.median(t_plain), tokens / statistics.median(t_rec)
    return {
        "examples": n,
        "tokens": tokens,
        "batch_size": batch_size,
        "repeats": repeats,
        "params_m": round(sum(p.numel() for p in model.parameters()) / 1e6, 2),
        "vocab": vocab,
        "plain_forward_tok_s": round(plain_tps),
        "recording_tok_s": round(rec_tps),
        "recording_vs_forward_ratio": round(rec_tps / plain_tps, 3),
    }


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="100,000 trajectories and a short recording run")
    ap.add_argument("--n", type=int, default=None, help="trajectories to cluster (default 1,000,000; --quick 100,000)")
    ap.add_argument("--c", type=int, default=12, help="checkpoints per trajectory")
    ap.add_argument("--k", type=int, default=100, help="clusters")
    ap.add_argument("--model", default=None, help="causal LM path for (b); default: a random model of the lab's shape")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--examples", type=int, default=None, help="examples for (b) (default 512; --quick 128)")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--max-len", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=None, help="timed repeats for (b) (default 5; --quick 3)")
    args = ap.parse_args()

    n = args.n or (100_000 if args.quick else 1_000_000)
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    machine = {
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "device": args.device,
        "gpu": torch.cuda.get_device_name() if args.device == "cuda" else None,
        "loadavg_start": [round(x, 2) for x in load] if load else None,
    }
    print(f"machine: {machine}", flush=True)

    a = bench_clustering(n, args.c, args.k, budget=0.1)
    print(
        f"(a) cluster + sample {a['n']:,} x {a['c']} (K={a['k']}, budget {a['budget']:,}): "
        f"{a['cluster_sample_s']} s (target <= 60 s)",
        flush=True,
    )

    model = make_model(args.model, args.device)
    b = bench_recording(
        model,
        args.examples or (128 if args.quick else 512),
        args.batch_size,
        16,
        args.max_len,
        args.repeats or (3 if args.quick else 5),
    )
    print(
        f"(b) recording {b['recording_tok_s']:,} tok/s vs plain forward {b['plain_forward_tok_s']:,} tok/s: "
        f"ratio {b['recording_vs_forward_ratio']} (target >= 0.9)",
        flush=True,
    )
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    machine["loadavg_end"] = [round(x, 2) for x in load] if load else None
    print(json.dumps({"machine": machine, "clustering": a, "recording": b}))


if __name__ == "__main__":
    main()
