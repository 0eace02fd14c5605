"""sftlab's decoding loop against ``model.generate``: the same tokens, samples included, with fewer rows computed."""

import contextlib
import copy

import pytest
import torch

import sftlab.generation.decode as loop
from sftlab.generation import SamplingConfig, _generation_config, _left_padding, generate
from sftlab.generation.decode import decode, supported

PROMPTS = [
    "Question: 1+1?\nSolution:",
    "Hi",
    "A much longer prompt, with many characters in it.",
    "x",
    "Question: what is 12*3?\nSolution:",
    "abc",
    "The answer is 42.",
    "zz top",
    "hello world",
    "9+9=",
]


@contextlib.contextmanager
def eos_bias(model, tokenizer, value):
    """Raise EOS's logit so that completions end at different steps (the rows then leave the batch one by one)."""
    bias = torch.zeros(len(tokenizer))
    bias[tokenizer.eos_token_id] = value
    handle = model.lm_head.register_forward_hook(lambda mod, inp, out: out + bias)
    try:
        yield
    finally:
        handle.remove()


@contextlib.contextmanager
def batch_sizes(model):
    sizes = []
    handle = model.register_forward_hook(lambda mod, inp, out: sizes.append(out.logits.shape[0]))
    try:
        yield sizes
    finally:
        handle.remove()


def both(model, tokenizer, cfg: SamplingConfig, per_prompt: int):
    """New tokens from ``model.generate`` and from :func:`decode` for one left-padded batch of PROMPTS, each run
    with the same seed; and the batch sizes of decode's forward passes."""
    from sftlab.data.tokenize import encode_prompts

    gen_config = _generation_config(model, tokenizer, cfg, per_prompt)
    with _left_padding(tokenizer):
        enc = tokenizer.pad({"input_ids": encode_prompts(PROMPTS, tokenizer)}, return_tensors="pt")
    with torch.inference_mode():
        torch.manual_seed(cfg.seed)
        ref = model.generate(**enc, generation_config=gen_config)[:, enc["input_ids"].shape[1] :]
    torch.manual_seed(cfg.seed)
    with batch_sizes(model) as sizes:
        ours = decode(model, enc["input_ids"], enc["attention_mask"], gen_config)
    return ref, ours, sizes


def lengths(tokens, tokenizer):
    return [int((row != tokenizer.eos_token_id).cumprod(0).sum()) for row in tokens]


@pytest.mark.parametrize(
    "cfg,per_prompt",
    [
        (SamplingConfig(max_new_tokens=24), 1),
        (SamplingConfig(max_new_tokens=24, temperature=1.0, seed=3), 3),
        (SamplingConfig(max_new_tokens=24, temperature=0.7, top_k=20, top_p=0.9, seed=5), 2),
    ],
    ids=["greedy", "sampled", "temperature-top-k-top-p"],
)
def test_same_tokens_as_generate_while_rows_leave_the_batch(model, tokenizer, cfg, per_prompt):
    with eos_bias(model, tokenizer, 3.0):
        ref, ours, sizes = both(model, tokenizer, cfg, per_prompt)
    tokenizer.pad_token = None  # _left_padding restored it; the fixture has none
    ends = lengths(ref, tokenizer)
    # the premise: rows end at different steps, some early, some at the limit
    assert len(set(ends)) >= 3 and min(ends) < 12 and max(ends) == cfg.max_new_tokens
    assert torch.equal(ours, ref)
    rows = len(PROMPTS) * per_prompt
    assert sizes[0] == rows and min(sizes) < rows  # finished rows did leave the batch
    # no forward pass computed more rows than were still going, plus those finished since the last drop
    assert sum(sizes) < rows * len(sizes)


def test_generate_uses_the_loop_and_gives_generates_completions(model, tokenizer, monkeypatch):
    cfgs = [
        SamplingConfig(max_new_tokens=20, batch_size=4),
        SamplingConfig(max_new_tokens=20, temperature=1.0, n=3, batch_size=4, seed=11),
    ]
    with eos_bias(model, tokenizer, 3.0):
        ours = [generate(model, tokenizer, PROMPTS, cfg, progress=False) for cfg in cfgs]
        monkeypatch.setattr(loop, "supported", lambda model: False)
        with batch_sizes(model) as sizes:
            ref = [generate(model, tokenizer, PROMPTS, cfg, progress=False) for cfg in cfgs]
    assert ours == ref
    assert sizes  # model.generate ran


def test_all_rows_at_eos_after_the_first_token(model, tokenizer):
    with eos_bias(model, tokenizer, 1e4):
        ref, ours, sizes = both(model, tokenizer, SamplingConfig(max_new_tokens=10), 1)
    tokenizer.pad_token = None
    assert ours.shape == ref.shape == (len(PROMPTS), 1)
    assert torch.equal(ours, ref) and sizes == [len(PROMPTS)]


def test_which_models_the_loop_decodes(model):
    from transformers import MistralConfig, MistralForCausalLM

    assert supported(model)  # Llama: full attention in every layer
    sliding = MistralConfig(
        vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, sliding_window=8,
    )  # fmt: skip
    assert not supported(MistralForCausalLM(sliding))  # sliding-window layers: model.generate decodes it
    assert not supported(object())

    class OlderForward(torch.nn.Module):  # remote code written for an older transformers
        config = model.config

        def forward(self, input_ids, attention_mask=None, past_key_values=None, use_cache=None):
            raise AssertionError("not called")

    assert not supported(OlderForward())


def test_a_peft_model_is_decoded_by_the_loop(model, tokenizer):
    from peft import LoraConfig, get_peft_model

    peft_model = get_peft_model(copy.deepcopy(model), LoraConfig(r=2, target_modules=["q_proj"], lora_dropout=0.0))
    assert supported(peft_model)
    cfg = SamplingConfig(max_new_tokens=24, temperature=1.0, seed=3)
    with eos_bias(peft_model.get_base_model(), tokenizer, 3.0):
        ref, ours, _ = both(peft_model, tokenizer, cfg, 2)
    tokenizer.pad_token = None
    assert torch.equal(ours, ref)
