"""Batched generation: n completions per prompt, behind one function.

:func:`generate` is the service every sampling method uses (evaluation, DART,
IRFT/SPIN, self-distillation). The transformers backend batches prompts with
left padding and decodes them with :func:`sftlab.generation.decode.decode`
(``model.generate``'s tokens, with finished rows leaving the batch), or with
``model.generate`` for a model that loop does not know. A vLLM backend can be
registered in ``BACKENDS`` under the same signature.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from sftlab.data.tokenize import encode_prompts
from sftlab.errors import SftlabError

__all__ = ["SamplingConfig", "generate", "BACKENDS"]


@dataclass
class SamplingConfig:
    """How completions are sampled (shared by every command that generates)."""

    max_new_tokens: int = field(default=256, metadata={"help": "Maximum number of tokens generated per completion."})
    temperature: float = field(default=0.0, metadata={"help": "Sampling temperature; 0 means greedy decoding."})
    top_p: float = field(
        default=1.0, metadata={"help": "Nucleus sampling: keep the smallest token set with this much probability."}
    )
    top_k: int = field(
        default=0, metadata={"help": "Sample among the k most likely tokens only; 0 turns the filter off."}
    )
    n: int = field(default=1, metadata={"help": "Number of completions per prompt."})
    batch_size: int = field(
        default=64, metadata={"help": "Prompts per generation batch (each batch holds batch_size x n sequences)."}
    )
    seed: int = field(default=0, metadata={"help": "Random seed for sampling; the same seed gives the same samples."})
    backend: str = field(
        default="transformers",
        metadata={
            "help": "Generation backend: transformers, or vllm (GPU, needs the [vllm] extra).",
            "choices": ["transformers", "vllm"],
        },
    )
    stop: list[str] | None = field(
        default=None,
        metadata={
            "help": "Stop strings: a completion is cut at the first one (the stop string is dropped).",
            "cli": False,
        },
    )


def generate(
    model, tokenizer, prompts: list[str], config: SamplingConfig | None = None, *, progress: bool = True
) -> list[list[str]]:
    """Generate ``config.n`` completions for each prompt.

    Returns one list of ``n`` completion strings per prompt, in the order of
    ``prompts``; each is decoded without special tokens and without the prompt,
    and cut at the first stop string. Prompts are tokenized as training
    tokenizes them (:func:`sftlab.data.encode_prompts`: the tokenizer's BOS,
    once, and no other special tokens).
    """
    config = config or SamplingConfig()
    _check_config(config)
    if config.backend not in BACKENDS:
        raise SftlabError(f"unknown generation backend '{config.backend}' (choose from {', '.join(BACKENDS)})")
    outputs = BACKENDS[config.backend](model, tokenizer, list(prompts), config, progress)
    if config.stop:
        outputs = [[_cut_at_stop(text, config.stop) for text in row] for row in outputs]
    return outputs


def _check_config(config: SamplingConfig) -> None:
    if config.n < 1 or config.batch_size < 1 or config.max_new_tokens < 1:
        raise SftlabError("sampling: n, batch_size and max_new_tokens must be at least 1")
    if config.temperature < 0 or not 0 < config.top_p <= 1 or config.top_k < 0:
        raise SftlabError("sampling: need temperature >= 0, 0 < top_p <= 1 and top_k >= 0")


def _cut_at_stop(text: str, stop: list[str]) -> str:
    cuts = [i for s in stop if s and (i := text.find(s)) >= 0]
    return text[: min(cuts)] if cuts else text


def _generate_transformers(
    model, tokenizer, prompts: list[str], config: SamplingConfig, progress: bool
) -> list[list[str]]:
    from sftlab.generation.decode import decode, supported

    greedy = config.temperature == 0
    own_loop = supported(model)
    # Greedy decoding is deterministic: one sequence per prompt, copied n times.
    per_prompt = 1 if greedy else config.n
    gen_config = _generation_config(model, tokenizer, config, per_prompt)
    prompt_ids = encode_prompts(prompts, tokenizer) if prompts else []
    order = sorted(
        range(len(prompts)), key=lambda i: -len(prompt_ids[i])
    )  # longest first: padding is small, OOM shows early
    results: list[list[str]] = [[] for _ in prompts]
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    batches = [order[i : i + config.batch_size] for i in range(0, len(order), config.batch_size)]
    try:
        with _left_padding(tokenizer), torch.inference_mode(), _seeded(config.seed, device):
            for batch in tqdm(batches, desc="generating", unit="batch", disable=not progress or not batches):
                enc = tokenizer.pad({"input_ids": [prompt_ids[i] for i in batch]}, return_tensors="pt").to(device)
                if own_loop:  # the same tokens, with finished rows dropped and the cache written in place
                    new_tokens = decode(model, enc["input_ids"], enc["attention_mask"], gen_config)
                else:
                    out = model.generate(**enc, generation_config=gen_config)  # (B * per_prompt, T_prompt + T_new)
                    new_tokens = out[:, enc["input_ids"].shape[1] :]  # left padding: prompts end at one column
                texts = tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
                for j, i in enumerate(batch):
                    results[i] = texts[j * per_prompt : (j + 1) * per_prompt]
    finally:
        model.train(was_training)
    if greedy and config.n > 1:
        results = [row * config.n for row in results]
    return results


def _generation_config(model, tokenizer, config: SamplingConfig, per_prompt: int):
    from transformers import GenerationConfig

    eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    if eos is None:
        eos = tokenizer.eos_token_id
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    sampling = (
        {"do_sample": True, "temperature": config.temperature, "top_p": config.top_p, "top_k": config.top_k}
        if config.temperature > 0
        else {"do_sample": False}
    )
    # Every decoding knob is set here, so a checkpoint's generation_config.json
    # (e.g. a repetition penalty) cannot change what the config describes.
    return GenerationConfig(
        max_new_tokens=config.max_new_tokens,
        num_return_sequences=per_prompt,
        num_beams=1,
        repetition_penalty=1.0,
        no_repeat_ngram_size=0,
        eos_token_id=eos,
        pad_token_id=pad,
        **sampling,
    )


@contextlib.contextmanager
def _left_padding(tokenizer):
    """Pad on the left (so generation continues every prompt), with EOS as pad if there is none."""
    side, pad = tokenizer.padding_side, tokenizer.pad_token
    if pad is None:
        if tokenizer.eos_token is None:
            raise SftlabError("the tokenizer has neither a pad token nor an EOS token; cannot batch prompts")
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    try:
        yield
    finally:
        tokenizer.padding_side = side
        if pad is None:
            tokenizer.pad_token = None


@contextlib.contextmanager
def _seeded(seed: int, device: torch.device):
    """Seed torch's generators for the block and give the caller's random state back afterwards."""
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices, device_type="cuda" if devices else "cpu"):
        torch.manual_seed(seed)
        yield


def _generate_vllm(model, tokenizer, prompts, config, progress):
    # The hook for a vLLM backend: same inputs, same output shape.
    try:
        import vllm  # noqa: F401
    except ImportError:
        raise SftlabError(
            "the vllm generation backend needs the [vllm] extra (pip install 'sftlab[vllm]') and a GPU; "
            "use --backend transformers on CPU"
        ) from None
    raise SftlabError("the vllm generation backend is not available yet; use backend 'transformers'")


BACKENDS = {"transformers": _generate_transformers, "vllm": _generate_vllm}
