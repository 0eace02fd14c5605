"""The transformers backend's decoding loop: ``model.generate``'s tokens, with less work per batch.

:func:`decode` gives the same tokens as ``model.generate`` with the
:class:`~transformers.GenerationConfig` that :mod:`sftlab.generation` builds
(greedy, or sampling with temperature, top-k and top-p), and does less:

- **finished sequences leave the batch.** ``generate`` keeps every row of a
  batch until the longest one ends, so one completion that runs to
  ``max_new_tokens`` makes the whole batch pay for it. Here, once a quarter of
  the rows left in a batch have finished, they are dropped from the KV cache
  and from the next forward passes. Sampling still draws for the whole batch:
  ``torch.multinomial`` draws one exponential per (row, token) of the tensor it
  is given, so the live rows' scores are placed back in a tensor of the full
  batch's shape and every draw keeps the random stream ``generate`` uses.
- **the KV cache is written in place.** Each layer's keys and values go into
  a buffer sized for the prompt plus ``max_new_tokens``, where ``DynamicCache``
  concatenates a new tensor at every step (about a fifth of the decoding time
  of the lab's model on a CPU).

Each row's computation is its own (attention is per row, the layers are
row-wise), so dropping finished rows changes no live row's tokens; the tests
compare the two loops token for token, and ``benchmarks/decode.py`` measures
both on the lab's models. A model this loop does not know (an encoder-decoder,
a cache with sliding-window or other special layers) is decoded by
``model.generate``: :func:`supported` says which.

transformers' own continuous batching (``generate_batch``) also frees finished rows, but it packs requests
into one paged token stream scheduled in its own order, so its samples do not follow ``generate``'s random
stream (the lab's figures rest on that stream); it was not used, and not measured here.
"""

from __future__ import annotations

import inspect

import torch
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer

__all__ = ["decode", "supported"]

# drop the finished rows once they are this share of the rows left (and at least one): each drop copies the cache
COMPACT_SHARE = 0.25


def supported(model) -> bool:
    """Whether :func:`decode` handles ``model``: a decoder-only transformers model (or a PEFT model around one)
    whose forward takes a ``cache`` and whose cache is plain full attention."""
    config = getattr(model, "config", None)
    if config is None or getattr(config, "is_encoder_decoder", False):
        return False
    base = model.get_base_model() if hasattr(model, "get_base_model") else model  # PEFT passes the inputs on
    try:
        takes_cache = "cache" in inspect.signature(base.forward).parameters
    except (TypeError, ValueError):
        takes_cache = False
    if not takes_cache:  # e.g. remote code written for an older transformers (``past_key_values``)
        return False
    try:
        layers = DynamicCache(config=config).layers
    except Exception:  # a config transformers' caches cannot read
        return False
    return bool(layers) and all(type(layer) is DynamicLayer for layer in layers)


@torch.inference_mode()
def decode(model, input_ids: torch.Tensor, attention_mask: torch.Tensor, gen_config) -> torch.Tensor:
    """The new tokens for a left-padded batch, as ``model.generate(input_ids, attention_mask=...,
    generation_config=gen_config)[:, input_ids.shape[1]:]`` gives them: ``num_return_sequences`` rows per prompt
    (next to each other), ``pad_token_id`` after a row's EOS, as many columns as the longest row took."""
    per_prompt = gen_config.num_return_sequences or 1
    if per_prompt > 1:
        input_ids = input_ids.repeat_interleave(per_prompt, dim=0)
        attention_mask = attention_mask.repeat_interleave(per_prompt, dim=0)
    batch, prompt_len = input_ids.shape
    max_new = gen_config.max_new_tokens
    device = input_ids.device
    eos = torch.tensor(_as_list(gen_config.eos_token_id), device=device, dtype=torch.long)
    pad = gen_config.pad_token_id
    warpers = _warpers(gen_config)

    cache = _buffered_cache(model.config, prompt_len + max_new)
    logits = _forward(model, input_ids, attention_mask, cache)
    rows = torch.arange(batch, device=device)  # each live row's row in the batch
    alive = torch.ones(batch, dtype=torch.bool, device=device)  # over the live rows: not yet at EOS
    out = torch.full((batch, max_new), pad, dtype=torch.long, device=device)
    steps = 0
    for step in range(max_new):
        scores = logits.to(dtype=torch.float32)
        if gen_config.do_sample:
            full = scores.new_zeros((batch, scores.shape[-1]))  # finished rows: any scores, their draw is dropped
            full[rows] = scores
            full = warpers(input_ids, full)
            drawn = torch.multinomial(torch.softmax(full, dim=-1), num_samples=1).squeeze(1)
            tokens = drawn[rows]
        else:
            tokens = scores.argmax(dim=-1)
        tokens = torch.where(alive, tokens, pad)
        out[rows, step] = tokens
        alive &= ~torch.isin(tokens, eos)
        steps = step + 1
        left = int(alive.sum())
        if left == 0 or steps == max_new:
            break
        attention_mask = torch.cat([attention_mask, attention_mask.new_ones((attention_mask.shape[0], 1))], dim=-1)
        if alive.numel() - left >= max(1, int(COMPACT_SHARE * alive.numel())):
            keep = alive.nonzero().squeeze(1)
            rows, tokens, attention_mask, alive = rows[keep], tokens[keep], attention_mask[keep], alive[keep]
            cache.batch_select_indices(keep)
        logits = _forward(model, tokens[:, None], attention_mask, cache)
    return out[:, :steps]


def _forward(model, input_ids, attention_mask, cache) -> torch.Tensor:
    # the inputs generate's loop gives a decoder-only model (positions follow from the cache)
    out = model(input_ids=input_ids, attention_mask=attention_mask, cache=cache, use_cache=True, return_dict=True)
    return out.logits[:, -1]


def _as_list(value) -> list[int]:
    if value is None:
        return []
    return [int(v) for v in value] if isinstance(value, (list, tuple)) else [int(value)]


def _warpers(gen_config):
    """The sampling warpers ``generate`` applies for this config, in its order (temperature, top-k, top-p)."""
    from transformers.generation.logits_process import (
        LogitsProcessorList,
        TemperatureLogitsWarper,
        TopKLogitsWarper,
        TopPLogitsWarper,
    )

    warpers = LogitsProcessorList()
    if not gen_config.do_sample:
        return warpers
    if gen_config.temperature is not None and gen_config.temperature != 1.0:
        warpers.append(TemperatureLogitsWarper(gen_config.temperature))
    if gen_config.top_k is not None and gen_config.top_k != 0:
        warpers.append(TopKLogitsWarper(top_k=gen_config.top_k, min_tokens_to_keep=1))
    if gen_config.top_p is not None and gen_config.top_p < 1.0:
        warpers.append(TopPLogitsWarper(top_p=gen_config.top_p, min_tokens_to_keep=1))
    return warpers


def _buffered_cache(config, capacity: int):
    cache = DynamicCache()
    cache.layers = [_BufferedLayer(capacity) for _ in range(len(DynamicCache(config=config).layers))]
    return cache


class _BufferedLayer(DynamicLayer):
    """A full-attention cache layer that writes into one buffer per batch instead of concatenating."""

    def __init__(self, capacity: int):
        super().__init__()
        self.capacity = capacity
        self.length = 0

    def update(self, key_states, value_states, *args, **kwargs):
        if not self.is_initialized:
            self.is_initialized = True
            self.device = key_states.device
            shape = (*key_states.shape[:2], self.capacity)
            self._keys = key_states.new_empty((*shape, key_states.shape[-1]))
            self._values = value_states.new_empty((*shape, value_states.shape[-1]))
        end = self.length + key_states.shape[-2]
        self._keys[:, :, self.length : end] = key_states
        self._values[:, :, self.length : end] = value_states
        self.length = end
        self._views()
        return self.keys, self.values

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        if self.is_initialized:
            self._keys, self._values = self._keys[indices], self._values[indices]
            self._views()

    def _views(self) -> None:
        self.keys = self._keys[:, :, : self.length]
        self.values = self._values[:, :, : self.length]
