"""Scoring: the one completion log-likelihood service (S2L trajectories, DART's target likelihood, perplexity filters).

Forward only, in ``torch.inference_mode``, batched by length with right
padding. Per-token log-probabilities come from TRL's fused LM head
(:func:`trl.trainer.utils.add_fused_lm_head`), so the ``(batch, tokens, vocab)``
logits never exist at once.
"""

from __future__ import annotations

import numpy as np
import torch
from tqdm.auto import tqdm

from sftlab.data import completion_text, encode_prompts


def example_losses(
    model,
    dataset,
    *,
    batch_size: int = 32,
    max_length: int | None = None,
    progress: bool = True,
    desc: str = "losses",
    probability: bool = False,
) -> np.ndarray:
    """Mean completion-token loss of each example of ``dataset`` under ``model``; returns (N,) float32.
    ``probability``: the mean completion-token probability ``p(y_t)`` instead (DFT's token weight, averaged).

    ``dataset`` rows hold ``input_ids`` and ``completion_mask`` (1 on the tokens
    the loss is computed on), as :func:`sftlab.data.tokenize_sft` makes them.
    Sequences longer than ``max_length`` are cut on the right; an example left
    with no completion token gets NaN. The value for an example equals
    ``model(input_ids, labels=...).loss`` with its prompt tokens labelled -100.
    """
    from trl.trainer.utils import add_fused_lm_head

    ids_list, masks = list(dataset["input_ids"]), list(dataset["completion_mask"])
    if max_length is not None:
        ids_list = [x[:max_length] for x in ids_list]
        masks = [m[:max_length] for m in masks]
    order = np.argsort([-len(x) for x in ids_list], kind="stable")  # longest first: a memory error shows at once
    device = next(model.parameters()).device
    out = np.full(len(ids_list), np.nan, dtype=np.float32)
    previous = vars(model).get("forward")  # the fused head patches this instance; put it back afterwards
    add_fused_lm_head(model)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            n_batches = -(-len(order) // batch_size)
            for batch in tqdm(_batches(order, batch_size), desc=desc, disable=not progress, total=n_batches):
                rows = [ids_list[i] for i in batch], [masks[i] for i in batch]
                input_ids, attention_mask, labels = _pad(*rows, device)
                result = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels, fused_lm_head=True)
                n_tokens = result.label_mask.sum(1)  # (B,)
                if probability:
                    loss = (result.log_probs.float().exp() * result.label_mask).sum(1) / n_tokens  # (B,)
                else:
                    loss = -result.log_probs.float().sum(1) / n_tokens  # (B,), NaN where no completion token
                out[batch] = loss.cpu().numpy()
    finally:
        model.train(was_training)
        if previous is None:
            vars(model).pop("forward", None)
        else:
            model.forward = previous
    return out


def completion_losses(
    model,
    tokenizer,
    prompts: list[str],
    completions: list[str],
    *,
    batch_size: int = 32,
    add_eos: bool = True,
    progress: bool = False,
    probability: bool = False,
) -> np.ndarray:
    """(N,) mean NLL per completion token of each ``completion`` after its ``prompt`` (EOS scored when ``add_eos``);
    ``probability``: the mean probability per completion token instead.

    The prompt is tokenized as training tokenizes it (:func:`sftlab.data.encode_prompts`, BOS once) and the
    completion as :func:`sftlab.data.completion_text` joins it to the prompt.
    """
    if not prompts:
        return np.zeros(0, dtype=np.float32)
    prompt_ids = encode_prompts(prompts, tokenizer)
    texts = [completion_text(p, c) for p, c in zip(prompts, completions, strict=True)]
    completion_ids = tokenizer(texts, add_special_tokens=False)["input_ids"]
    tail = [tokenizer.eos_token_id] if add_eos and tokenizer.eos_token_id is not None else []
    rows = {
        "input_ids": [p + c + tail for p, c in zip(prompt_ids, completion_ids)],
        "completion_mask": [[0] * len(p) + [1] * (len(c) + len(tail)) for p, c in zip(prompt_ids, completion_ids)],
    }
    return example_losses(model, rows, batch_size=batch_size, progress=progress, probability=probability)


def _batches(order: np.ndarray, batch_size: int):
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]


def _pad(ids: list[list[int]], masks: list[list[int]], device):
    """Right-pad to the longest: (input_ids, attention_mask, labels), each (B, T); labels -100 off the completion."""
    width = max(len(x) for x in ids)
    input_ids = torch.zeros(len(ids), width, dtype=torch.long)
    attention_mask = torch.zeros(len(ids), width, dtype=torch.long)
    labels = torch.full((len(ids), width), -100, dtype=torch.long)
    for row, (x, m) in enumerate(zip(ids, masks)):
        x_t = torch.as_tensor(x, dtype=torch.long)
        input_ids[row, : len(x)] = x_t
        attention_mask[row, : len(x)] = 1
        labels[row, : len(x)] = torch.where(torch.as_tensor(m, dtype=torch.bool), x_t, -100)
    return input_ids.to(device), attention_mask.to(device), labels.to(device)
