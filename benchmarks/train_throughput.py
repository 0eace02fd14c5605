"""Training throughput (tokens/s) of sftlab's SFT and DFT vs TRL's SFTTrainer.

Same tiny Llama (lab-sized: 4 layers, 128 wide, vocab 512), same data (random
token sequences with a prompt/completion split), same settings. Each run is a
fresh process doing ``trainer.train()`` for ``--steps`` steps; runs are
interleaved (trl, sftlab, trl, sftlab, ...) ``--repeats`` times and the best
tokens/s of each is kept, so background load hurts both sides alike.

The last line printed is one JSON object with the figures and the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import machine, run_child  # noqa: E402


def child(impl: str, objective: str, steps: int, batch: int, seq: int, hidden: int, layers: int, vocab: int) -> dict:
    import torch
    from datasets import Dataset
    from tokenizers import Tokenizer, models
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    torch.manual_seed(0)
    model = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=vocab,
            hidden_size=hidden,
            intermediate_size=4 * hidden,
            num_hidden_layers=layers,
            num_attention_heads=4,
            num_key_value_heads=4,
            max_position_embeddings=seq + 8,
        )
    )
    tok = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer(models.WordLevel({"<pad>": 0, "<unk>": 1}, unk_token="<unk>")),
        pad_token="<pad>",
        eos_token="<pad>",
        unk_token="<unk>",
    )
    g = torch.Generator().manual_seed(1)
    n = steps * batch
    rows = []
    for i in range(n):
        length = seq - (i % 4) * (seq // 8)  # some padding, as in real batches
        prompt = length // 3
        rows.append(
            {
                "input_ids": torch.randint(2, vocab, (length,), generator=g).tolist(),
                "completion_mask": [0] * prompt + [1] * (length - prompt),
            }
        )
    ds = Dataset.from_list(rows)
    common = dict(
        output_dir=tempfile.mkdtemp(),
        per_device_train_batch_size=batch,
        max_steps=steps,
        bf16=False,
        activation_checkpointing=False,
        report_to="none",
        use_cpu=True,
        logging_steps=10,
        save_strategy="no",
        completion_only_loss=True,
        disable_tqdm=True,
        learning_rate=1e-3,
        max_length=None,
        seed=0,
    )
    if impl == "sftlab":
        from sftlab.trainers.sft import SFTLabConfig, SFTLabTrainer

        trainer = SFTLabTrainer(
            model=model, args=SFTLabConfig(objective=objective, **common), train_dataset=ds, processing_class=tok
        )
    else:
        from trl import SFTConfig, SFTTrainer

        trainer = SFTTrainer(
            model=model, args=SFTConfig(loss_type=objective, **common), train_dataset=ds, processing_class=tok
        )
    t0 = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - t0
    tokens = sum(len(r["input_ids"]) for r in rows)
    return {
        "impl": impl,
        "objective": objective,
        "seconds": seconds,
        "tokens": tokens,
        "tokens_per_s": tokens / seconds,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--vocab", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--objectives", default="nll,dft")
    ap.add_argument("--child", nargs=2, metavar=("IMPL", "OBJECTIVE"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    dims = [a.steps, a.batch, a.seq, a.hidden, a.layers, a.vocab]
    if a.child:
        print(json.dumps(child(a.child[0], a.child[1], *dims)))
        return
    info = machine()
    print(f"machine: {info}")
    print(f"setup: Llama {a.layers}x{a.hidden}, vocab {a.vocab}, batch {a.batch} x <= {a.seq} tokens, {a.steps} steps")
    flags = [
        "--steps",
        str(a.steps),
        "--batch",
        str(a.batch),
        "--seq",
        str(a.seq),
        "--hidden",
        str(a.hidden),
        "--layers",
        str(a.layers),
        "--vocab",
        str(a.vocab),
    ]
    best: dict[str, dict] = {}
    for _ in range(a.repeats):
        for objective in a.objectives.split(","):
            for impl in ("trl", "sftlab"):
                r = run_child(__file__, [*flags, "--child", impl, objective])
                key = f"{objective}/{impl}"
                print(f"{objective:4s} {impl:7s} {r['tokens_per_s']:9.0f} tokens/s ({r['seconds']:.1f} s)")
                if key not in best or r["tokens_per_s"] > best[key]["tokens_per_s"]:
                    best[key] = r
    summary = {"machine": info, "setup": vars(a) | {"child": None}, "best": best}
    for objective in a.objectives.split(","):
        ratio = best[f"{objective}/sftlab"]["tokens_per_s"] / best[f"{objective}/trl"]["tokens_per_s"]
        summary[f"{objective}_tokens_per_s_vs_trl_ratio"] = ratio
        print(f"{objective}: sftlab / TRL tokens/s = {ratio:.3f}")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
