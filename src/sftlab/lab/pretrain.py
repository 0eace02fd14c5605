"""Pretraining the lab's base model: a plain, fast torch loop.

The base model learns the prompt format that training and evaluation use:
each pretraining text is ``render_prompt(question) + completion_text(prompt,
solution) + EOS``, and the loss covers the whole text (a plain language model).
The number of steps is fixed by the config and the batch order derives from the
seed, so a build is reproducible and an interrupted one resumes from its last
saved state with the same result.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch
from tqdm.auto import tqdm
from transformers import LlamaConfig, LlamaForCausalLM, get_cosine_schedule_with_warmup

from sftlab.data.templates import completion_text, render_prompt
from sftlab.data.tokenize import encode_prompts
from sftlab.errors import SftlabError

STATE_FILE = "pretrain_state.pt"


def pretraining_text(question: str, solution: str, tokenizer) -> str:
    """The text a record contributes to pretraining, without EOS (added as a token)."""
    prompt = render_prompt(question, tokenizer)
    return prompt + completion_text(prompt, solution)


def encode(records, tokenizer, max_length: int) -> list[list[int]]:
    """Token ids of every record's pretraining text + EOS, cut at ``max_length``.

    Prompt and completion are tokenized apart and joined, exactly as
    :func:`sftlab.data.tokenize.tokenize_sft` builds SFT sequences.
    """
    prompts = [render_prompt(r["question"], tokenizer) for r in records]
    prompt_ids = encode_prompts(prompts, tokenizer)
    completions = [completion_text(p, r["solution"]) for p, r in zip(prompts, records)]
    completion_ids = tokenizer(completions, add_special_tokens=False)["input_ids"]
    return [(p + c + [tokenizer.eos_token_id])[:max_length] for p, c in zip(prompt_ids, completion_ids)]


def make_model(cfg, tokenizer) -> LlamaForCausalLM:
    """A fresh Llama-architecture model sized by ``cfg``, initialized from ``cfg.seed``."""
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=cfg.hidden_size,
        intermediate_size=cfg.intermediate_size,
        num_hidden_layers=cfg.num_layers,
        num_attention_heads=cfg.num_heads,
        num_key_value_heads=cfg.num_heads,
        max_position_embeddings=max(512, cfg.max_length),
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(cfg.seed)
    return LlamaForCausalLM(config)


def batch_order(lengths: list[int], batch_size: int, steps: int, seed: int, group: int = 16) -> list[list[int]]:
    """Example indices for every step, derived from ``seed`` alone.

    Epochs are shuffled; within each run of ``group`` batches, examples are
    sorted by length so that a batch holds similar lengths (less padding), and
    those batches are then shuffled.
    """
    n, order, epoch = len(lengths), [], 0
    while len(order) < steps * batch_size:
        g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
        order += torch.randperm(n, generator=g).tolist()
        epoch += 1
    order = order[: steps * batch_size]
    g = torch.Generator().manual_seed(seed * 1_000_003 - 1)
    batches = []
    for start in range(0, len(order), group * batch_size):
        chunk = sorted(order[start : start + group * batch_size], key=lambda i: lengths[i])
        run = [chunk[j : j + batch_size] for j in range(0, len(chunk), batch_size)]
        batches += [run[k] for k in torch.randperm(len(run), generator=g).tolist()]
    return batches


def collate(seqs: list[list[int]], pad_id: int) -> dict:
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)  # (B, T), right padding
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(s)
        mask[i, : len(s)] = 1
    labels = ids.masked_fill(mask == 0, -100)
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def pretrain(
    model,
    sequences: list[list[int]],
    cfg,
    pad_id: int,
    state_dir: str | Path | None = None,
    progress: bool = True,
    save_every: int = 200,
) -> dict:
    """Train ``model`` in place for ``cfg.pretrain_steps`` steps; returns a log
    (loss every 10 steps, tokens, seconds). With ``state_dir``, the state is saved
    every ``save_every`` steps (a multiple of 10) and a saved state is resumed."""
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=(0.9, 0.95), weight_decay=cfg.weight_decay)
    sched = get_cosine_schedule_with_warmup(opt, cfg.warmup_steps, cfg.pretrain_steps)
    batches = batch_order([len(x) for x in sequences], cfg.batch_size, cfg.pretrain_steps, cfg.seed)
    log = {"loss": [], "tokens": 0, "seconds": 0.0}
    start = 0
    state_path = Path(state_dir) / STATE_FILE if state_dir else None
    if state_path and state_path.is_file():
        state = torch.load(state_path, weights_only=True)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        start, log = state["step"], state["log"]
    model.train()
    t0, window = time.perf_counter(), []
    bar = tqdm(total=cfg.pretrain_steps, initial=start, desc="pretraining lab model", disable=not progress, unit="step")
    for step in range(start, cfg.pretrain_steps):
        batch = collate([sequences[i] for i in batches[step]], pad_id)
        loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        window.append(loss.item())
        log["tokens"] += int(batch["attention_mask"].sum())
        if (step + 1) % 10 == 0 or step + 1 == cfg.pretrain_steps:
            log["loss"].append([step + 1, sum(window) / len(window)])
            bar.set_postfix(loss=f"{log['loss'][-1][1]:.3f}")
            window = []
        bar.update(1)
        if state_path and (step + 1) % save_every == 0 and step + 1 < cfg.pretrain_steps:
            log["seconds"] += time.perf_counter() - t0
            t0 = time.perf_counter()
            _save_state(state_path, model, opt, sched, step + 1, log)
    bar.close()
    log["seconds"] += time.perf_counter() - t0
    model.eval()
    if not math.isfinite(log["loss"][-1][1]):
        raise SftlabError(f"lab pretraining diverged (loss {log['loss'][-1][1]}); lower --lr")
    return log


def _save_state(path: Path, model, opt, sched, step: int, log: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(
        {
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(),
            "step": step,
            "log": log,
        },
        tmp,
    )
    tmp.replace(path)
