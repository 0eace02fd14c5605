"""Peak memory and time of one training step: sftlab's objectives vs TRL and vs full logits.

Setup (from the issue): a small Llama (2 layers, 256 wide) with a 151,936-token
vocabulary (Qwen2.5's), 2 sequences x 1024 completion tokens (+16 prompt tokens).
For each objective (nll, dft, asft) and implementation, forward + backward +
SGD steps run in a fresh process (one warm-up, then the best of ``--repeats``
timed), so peak RSS is that step's alone:

- ``sftlab``: SFTLabTrainer.compute_loss with its default on a CPU, the CPU path
  (``sftlab.objectives.fused_cpu``: gradients formed in the forward pass, tile by tile);
- ``sftlab_trlhead``: SFTLabTrainer with ``fused_loss="trl"`` (TRL's fused LM head; ASFT's
  KL through TRL's tiled divergence kernel), the path used on GPUs and under DDP/FSDP;
- ``trl``: TRL's SFTTrainer with loss_type nll / dft (TRL has no ASFT);
- ``full_logits``: ``model(...).logits`` then the loss on the full (B, T, V)
  tensor, as LLaMA-Factory and ms-swift compute DFT/ASFT.

Usage: python benchmarks/objective_memory.py [--seq 1024] [--vocab 151936]
The last line printed is one JSON object with every figure and the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import machine, run_child  # noqa: E402

IMPLS = {
    "nll": ["sftlab", "sftlab_trlhead", "trl", "full_logits"],
    "dft": ["sftlab", "sftlab_trlhead", "trl", "full_logits"],
    "asft": ["sftlab", "sftlab_trlhead", "full_logits"],
}


def child(impl: str, objective: str, seq: int, vocab: int, hidden: int, prompt: int, repeats: int) -> dict:
    import tempfile

    import psutil
    import torch
    from datasets import Dataset
    from tokenizers import Tokenizer, models
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=vocab,
        hidden_size=hidden,
        intermediate_size=4 * hidden,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=seq + prompt + 8,
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(cfg)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer(models.WordLevel({"<pad>": 0, "<unk>": 1}, unk_token="<unk>")),
        pad_token="<pad>",
        eos_token="<pad>",
        unk_token="<unk>",
    )
    g = torch.Generator().manual_seed(1)
    rows = [
        {
            "input_ids": torch.randint(2, vocab, (prompt + seq,), generator=g).tolist(),
            "completion_mask": [0] * prompt + [1] * seq,
        }
        for _ in range(2)
    ]
    ds = Dataset.from_list(rows)
    opt = None
    out_dir = tempfile.mkdtemp()
    common = dict(
        output_dir=out_dir,
        per_device_train_batch_size=2,
        bf16=False,
        activation_checkpointing=False,
        report_to="none",
        use_cpu=True,
        max_length=None,
    )
    if impl in ("sftlab", "sftlab_trlhead", "trl"):
        if impl.startswith("sftlab"):
            from sftlab.trainers.sft import SFTLabConfig, SFTLabTrainer

            path = "trl" if impl == "sftlab_trlhead" else "auto"
            trainer = SFTLabTrainer(
                model=model,
                args=SFTLabConfig(objective=objective, fused_loss=path, **common),
                train_dataset=ds,
                processing_class=tok,
            )
        else:
            from trl import SFTConfig, SFTTrainer

            trainer = SFTTrainer(
                model=model, args=SFTConfig(loss_type=objective, **common), train_dataset=ds, processing_class=tok
            )
        batch = trainer.data_collator([trainer.train_dataset[0], trainer.train_dataset[1]])

        def loss_fn():
            return trainer.compute_loss(model, dict(batch), num_items_in_batch=None)
    else:
        from sftlab.objectives import full_logits_reference

        ids = torch.tensor([r["input_ids"] for r in rows])
        labels = ids.clone()
        labels[:, :prompt] = -100
        ref = None
        if objective == "asft":
            import copy

            ref = copy.deepcopy(model).eval().requires_grad_(False)

        def loss_fn():
            ref_logits = None
            if ref is not None:
                with torch.no_grad():
                    ref_logits = ref(input_ids=ids).logits
            return full_logits_reference(
                model(input_ids=ids).logits, labels, objective, ref_logits=ref_logits, kl_coef=0.1
            )

    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    base_rss = psutil.Process().memory_info().rss
    times = []
    for _ in range(1 + repeats):  # one warm-up step, then the best of `repeats` timed steps
        t0 = time.perf_counter()
        loss = loss_fn()
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - t0)
    seconds = min(times[1:])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    return {
        "impl": impl,
        "objective": objective,
        "seconds": seconds,
        "peak_rss_gb": peak / 1e9,
        "step_rss_gb": (peak - base_rss) / 1e9,
        "loss": loss.item(),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seq", type=int, default=1024)
    ap.add_argument("--vocab", type=int, default=151936)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--prompt", type=int, default=16)
    ap.add_argument("--objectives", default="nll,dft,asft")
    ap.add_argument("--repeats", type=int, default=2, help="timed steps after one warm-up step (best is reported)")
    ap.add_argument("--child", nargs=2, metavar=("IMPL", "OBJECTIVE"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        print(json.dumps(child(a.child[0], a.child[1], a.seq, a.vocab, a.hidden, a.prompt, a.repeats)))
        return
    info = machine()
    print(f"machine: {info}")
    print(
        f"setup: 2-layer Llama, hidden {a.hidden}, vocab {a.vocab}, 2 x {a.seq} completion tokens; one step per process"
    )
    results = {}
    flags = [
        "--repeats",
        str(a.repeats),
        "--seq",
        str(a.seq),
        "--vocab",
        str(a.vocab),
        "--hidden",
        str(a.hidden),
        "--prompt",
        str(a.prompt),
    ]
    for objective in a.objectives.split(","):
        for impl in IMPLS[objective]:
            r = run_child(__file__, [*flags, "--child", impl, objective])
            results[f"{objective}/{impl}"] = r
            print(
                f"{objective:5s} {impl:12s} peak {r['peak_rss_gb']:.2f} GB (step +{r['step_rss_gb']:.2f} GB)"
                f"  {r['seconds']:.1f} s  loss {r['loss']:.4f}"
            )
    summary = {"machine": info, "setup": {"seq": a.seq, "vocab": a.vocab, "hidden": a.hidden}, "results": results}
    for objective in a.objectives.split(","):
        ours = results[f"{objective}/sftlab"]
        full = results[f"{objective}/full_logits"]
        summary[f"{objective}_peak_vs_full_logits_ratio"] = ours["peak_rss_gb"] / full["peak_rss_gb"]
        summary[f"{objective}_time_vs_full_logits_ratio"] = ours["seconds"] / full["seconds"]
        head = results[f"{objective}/sftlab_trlhead"]
        summary[f"{objective}_trlhead_peak_vs_full_logits_ratio"] = head["peak_rss_gb"] / full["peak_rss_gb"]
        if f"{objective}/trl" in results:
            trl = results[f"{objective}/trl"]
            summary[f"{objective}_peak_vs_trl_ratio"] = ours["peak_rss_gb"] / trl["peak_rss_gb"]
            summary[f"{objective}_time_vs_trl_ratio"] = ours["seconds"] / trl["seconds"]
            summary[f"{objective}_trlhead_peak_vs_trl_ratio"] = head["peak_rss_gb"] / trl["peak_rss_gb"]
            summary[f"{objective}_trlhead_time_vs_trl_ratio"] = head["seconds"] / trl["seconds"]
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
