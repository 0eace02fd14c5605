"""Prompts with k solved examples, and the hidden state of their last token at every layer.

The representation analysed is that of the last prompt token, the position
that predicts the first answer token (Doimo et al. 2024, arXiv 2409.03662).
"Every layer" is what transformers returns as ``hidden_states`` with
``output_hidden_states=True``: index 0 the token embeddings, index l the output
of block l (the last one after the final norm, as transformers reports it).
"""

from __future__ import annotations

import inspect

import numpy as np
import torch
from tqdm.auto import tqdm

from sftlab.data import encode_prompts, render_chat, render_prompt
from sftlab.data.templates import completion_text
from sftlab.errors import SftlabError

SHOT_SEPARATOR = "\n\n"


def demonstration(record: dict, fmt: str) -> tuple[str, str] | list[dict]:
    """A record as a solved example: ``(question, solution)`` for reasoning, ``(prompt, completion)``
    for string prompt/completion, or the conversation up to its last assistant turn for chat records."""
    if fmt == "reasoning":
        return record["question"], record["solution"]
    if fmt == "prompt_completion" and isinstance(record["prompt"], str):
        return record["prompt"], record["completion"]
    messages = record["messages"] if fmt == "messages" else record["prompt"] + record["completion"]
    last = max(i for i, m in enumerate(messages) if m["role"] == "assistant")
    return messages[: last + 1]


def few_shot_prompt(target, shots: list, fmt: str, tokenizer=None, template: str | None = None) -> str:
    """The prompt for ``target`` (a :func:`demonstration`) after the solved examples ``shots``.

    With no shots this is exactly the prompt training and evaluation use. Text
    prompts (no chat template, or an explicit ``template``) join the examples'
    ``prompt + completion`` and the target prompt with blank lines; chat
    prompts put each example as a user/assistant exchange before the target's
    turn.
    """
    chat = isinstance(target, list) or (
        fmt == "reasoning" and template is None and getattr(tokenizer, "chat_template", None)
    )
    if chat:
        turns = []
        for shot in shots:
            if isinstance(shot, list):  # a conversation; its system prompt stays out of the shots
                turns += [m for m in shot if m["role"] != "system"]
            else:
                turns += [{"role": "user", "content": shot[0]}, {"role": "assistant", "content": shot[1]}]
        context = target[:-1] if isinstance(target, list) else [{"role": "user", "content": target[0]}]
        system = [m for m in context[:1] if m["role"] == "system"]
        return render_chat(tokenizer, system + turns + context[len(system) :], add_generation_prompt=True)
    if fmt != "reasoning":  # string prompt/completion: the texts as the data has them
        return SHOT_SEPARATOR.join([p + c for p, c in shots] + [target[0]])
    prompts = [render_prompt(q, None, template) for q, _ in shots]
    solved = [p + completion_text(p, solution) for p, (_, solution) in zip(prompts, shots)]
    return SHOT_SEPARATOR.join(solved + [render_prompt(target[0], None, template)])


def pick_shots(
    n_targets: int,
    pool_size: int,
    shots: int,
    seed: int,
    exclude: list[int] | None = None,
    *,
    labels: list | None = None,
    pool_labels: list | None = None,
    label_name: str = "label",
) -> list[list[int]]:
    """For each target, ``shots`` distinct pool indices, drawn with a seed per target.

    ``exclude[i]`` (a pool index, or -1) keeps target ``i``'s own record out of
    its shots when the pool is the analysed data. The draws for ``k`` shots
    are the first ``k`` of the draws for more, so 1-shot examples are among
    the 5-shot ones.

    Without ``labels`` the shots come from the whole pool. With ``labels`` (one
    value per target) and ``pool_labels`` (one per pool record), target ``i``'s
    shots come only from the pool records whose label equals ``labels[i]``, as
    the paper's prompts take their examples from the question's own subject
    (MMLU's standard 5-shot prompts). A label with fewer than ``shots`` such
    records (besides the target's own) raises :class:`SftlabError` naming it
    (``label_name`` is the field, for the message); there is no fallback to
    other labels, which would mix the two conditions.
    """
    groups: dict = {}
    if labels is not None:
        if pool_labels is None or len(pool_labels) != pool_size or len(labels) != n_targets:
            raise ValueError("same-label shots need one label per target and one per pool record")
        for j, value in enumerate(pool_labels):
            groups.setdefault(value, []).append(j)
    out = []
    for i in range(n_targets):
        own = exclude[i] if exclude else -1
        if labels is None:
            candidates = None
            available = pool_size - (0 <= own < pool_size)
            if available < shots:
                raise SftlabError(
                    f"{shots}-shot prompts need at least {shots} other examples in the shot pool, got {available}"
                )
        else:
            candidates = groups.get(labels[i], [])
            available = len(candidates) - (0 <= own < pool_size and pool_labels[own] == labels[i])
            if available < shots:
                raise SftlabError(
                    f"{shots}-shot prompts with same-label shots: {label_name} '{labels[i]}' has "
                    f"{available} other examples in the shot pool (of {pool_size}), {shots} needed; "
                    f"use fewer --shots, a larger --shot-pool or --shot-source random"
                )
        rng = np.random.default_rng([seed, i])
        picked: list[int] = []
        while len(picked) < shots:  # sequential draws: the first k do not depend on how many follow
            j = int(rng.integers(pool_size)) if candidates is None else candidates[int(rng.integers(len(candidates)))]
            if j != own and j not in picked:
                picked.append(j)
        out.append(picked)
    return out


@torch.inference_mode()
def last_token_states(
    model,
    tokenizer,
    prompts: list[str],
    *,
    batch_size: int = 16,
    padding_side: str = "left",
    progress: bool = True,
    desc: str = "hidden states",
) -> np.ndarray:
    """Hidden state of each prompt's last token at every layer, as float32 ``(L+1, N, H)``.

    Prompts are tokenized as training tokenizes them, grouped by length and run
    ``batch_size`` at a time; only the last-token vectors of each batch are
    kept, so memory is ``(L+1) N H`` floats plus one batch's activations.
    Position ids follow the attention mask, so a padded prompt is computed as
    it would be alone, with either ``padding_side``.
    """
    if padding_side not in ("left", "right"):
        raise ValueError(f"padding_side must be 'left' or 'right', got {padding_side!r}")
    ids = encode_prompts(prompts, tokenizer)
    if any(len(x) == 0 for x in ids):
        raise SftlabError("an empty prompt has no last token to analyse")
    device = next(model.parameters()).device
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    extra = {"logits_to_keep": 1} if "logits_to_keep" in inspect.signature(model.forward).parameters else {}
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))  # similar lengths together: less padding
    states = None
    was_training = model.training
    model.eval()
    bar = tqdm(total=len(ids), desc=desc, disable=not progress, unit="prompt")
    try:
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            input_ids, mask, last = _pad([ids[i] for i in rows], pad_id, padding_side)
            position_ids = (mask.cumsum(-1) - 1).clamp(min=0)  # (B, T): 0.. along the real tokens
            hidden = model(
                input_ids=input_ids.to(device),
                attention_mask=mask.to(device),
                position_ids=position_ids.to(device),
                output_hidden_states=True,
                use_cache=False,
                **extra,
            ).hidden_states  # L+1 tensors of (B, T, H)
            take = torch.arange(len(rows), device=device), last.to(device)
            vecs = torch.stack([h[take] for h in hidden]).float().cpu().numpy()  # (L+1, B, H)
            if states is None:
                states = np.empty((vecs.shape[0], len(ids), vecs.shape[2]), dtype=np.float32)
            states[:, rows] = vecs
            bar.update(len(rows))
    finally:
        bar.close()
        model.train(was_training)
    return states


def _pad(seqs: list[list[int]], pad_id: int, side: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(input_ids, attention_mask, last_index)`` for ``seqs`` padded on ``side``; shapes (B, T), (B, T), (B,)."""
    width = max(len(s) for s in seqs)
    input_ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    last = torch.empty(len(seqs), dtype=torch.long)
    for r, s in enumerate(seqs):
        cols = slice(width - len(s), width) if side == "left" else slice(0, len(s))
        input_ids[r, cols] = torch.tensor(s)
        mask[r, cols] = 1
        last[r] = width - 1 if side == "left" else len(s) - 1
    return input_ids, mask, last
