"""Batched generation on a tiny random Llama."""

import pytest
import torch

from sftlab.errors import SftlabError
from sftlab.generation import SamplingConfig, generate

PROMPTS = [
    "Question: 1+1?\nSolution:",
    "Hi",
    "A much longer prompt, with many characters in it.",
    "x",
    "Question: what is 12*3?\nSolution:",
]


def greedy(n=1, **kw):
    return SamplingConfig(max_new_tokens=10, n=n, **kw)


def test_shapes_and_n(model, tokenizer):
    out = generate(
        model, tokenizer, PROMPTS, SamplingConfig(max_new_tokens=6, temperature=1.0, n=3, batch_size=2), progress=False
    )
    assert len(out) == len(PROMPTS)
    assert all(len(row) == 3 and all(isinstance(t, str) for t in row) for row in out)
    assert generate(model, tokenizer, [], greedy(), progress=False) == []


def test_batched_left_padded_greedy_equals_one_prompt_at_a_time(model, tokenizer):
    batched = generate(model, tokenizer, PROMPTS, greedy(batch_size=len(PROMPTS)), progress=False)
    alone = [generate(model, tokenizer, [p], greedy(), progress=False)[0] for p in PROMPTS]
    assert batched == alone
    assert all(row[0] for row in batched)  # the random model does produce text


def test_order_follows_prompts(model, tokenizer):
    out = generate(model, tokenizer, PROMPTS, greedy(batch_size=2), progress=False)
    perm = [3, 0, 4, 2, 1]
    out_perm = generate(model, tokenizer, [PROMPTS[i] for i in perm], greedy(batch_size=2), progress=False)
    assert out_perm == [out[i] for i in perm]


def test_greedy_n_copies(model, tokenizer):
    out = generate(model, tokenizer, PROMPTS[:2], greedy(n=3), progress=False)
    assert all(len(set(row)) == 1 and len(row) == 3 for row in out)


def test_completion_excludes_prompt_and_matches_plain_generate(model, tokenizer):
    """Tokenized with the tokenizer's BOS, as training does; decoded without the prompt."""
    prompt = PROMPTS[0]
    enc = tokenizer(prompt, return_tensors="pt")
    assert enc["input_ids"][0, 0].item() == tokenizer.bos_token_id
    with torch.inference_mode():
        ref = model.generate(**enc, max_new_tokens=10, do_sample=False, pad_token_id=tokenizer.eos_token_id)
    expected = tokenizer.decode(ref[0, enc["input_ids"].shape[1] :], skip_special_tokens=True)
    assert generate(model, tokenizer, [prompt], greedy(), progress=False) == [[expected]]


def test_prompt_that_starts_with_bos_gets_no_second_one(model, tokenizer):
    """A chat template that writes the BOS itself: the prompt is encoded as training encodes it."""
    assert generate(model, tokenizer, ["<s>Hi"], greedy(), progress=False) == generate(
        model, tokenizer, ["Hi"], greedy(), progress=False
    )


def test_sampling_is_seeded_and_leaves_global_rng_alone(model, tokenizer):
    cfg = SamplingConfig(max_new_tokens=8, temperature=1.0, n=4, seed=7, batch_size=2)
    torch.manual_seed(123)
    a = generate(model, tokenizer, PROMPTS, cfg, progress=False)
    after = torch.rand(3)
    b = generate(model, tokenizer, PROMPTS, cfg, progress=False)
    c = generate(
        model,
        tokenizer,
        PROMPTS,
        SamplingConfig(max_new_tokens=8, temperature=1.0, n=4, seed=8, batch_size=2),
        progress=False,
    )
    assert a == b
    assert a != c
    assert any(len(set(row)) > 1 for row in a)  # samples differ within a prompt
    torch.manual_seed(123)
    assert torch.equal(torch.rand(3), after)


def test_top_k_one_is_greedy(model, tokenizer):
    sampled = generate(
        model, tokenizer, PROMPTS, SamplingConfig(max_new_tokens=10, temperature=1.0, top_k=1, n=2), progress=False
    )
    assert sampled == generate(model, tokenizer, PROMPTS, greedy(n=2), progress=False)


def test_tokenizer_and_model_state_restored(model, tokenizer):
    assert tokenizer.pad_token is None and tokenizer.padding_side == "right"
    model.train()
    generate(model, tokenizer, PROMPTS[:2], greedy(), progress=False)
    assert model.training
    model.eval()
    assert tokenizer.pad_token is None and tokenizer.padding_side == "right"


def test_stops_at_eos(model, tokenizer):
    """A model whose most likely token is always EOS gives empty completions after one step."""
    bias = torch.zeros(len(tokenizer))
    bias[tokenizer.eos_token_id] = 1e4
    handle = model.lm_head.register_forward_hook(lambda mod, inp, out: out + bias)
    calls = []
    counter = model.register_forward_hook(lambda *a: calls.append(1))
    try:
        out = generate(model, tokenizer, PROMPTS, greedy(batch_size=len(PROMPTS)), progress=False)
    finally:
        handle.remove()
        counter.remove()
    assert out == [[""]] * len(PROMPTS)
    assert len(calls) == 1  # one forward pass, then every sequence had finished


def test_stop_strings_cut_the_completion(model, tokenizer):
    full = generate(model, tokenizer, PROMPTS[:1], greedy(), progress=False)[0][0]
    stop = full[4:6]
    cut = generate(model, tokenizer, PROMPTS[:1], greedy(stop=["@@never@@", stop]), progress=False)[0][0]
    assert cut == full[: full.find(stop)]


def test_vllm_backend_says_what_is_missing(model, tokenizer):
    with pytest.raises(SftlabError, match="vllm"):
        generate(model, tokenizer, PROMPTS, SamplingConfig(backend="vllm"), progress=False)


@pytest.mark.parametrize("bad", [dict(n=0), dict(temperature=-1.0), dict(top_p=0.0), dict(backend="nope")])
def test_bad_config(model, tokenizer, bad):
    with pytest.raises(SftlabError):
        generate(model, tokenizer, PROMPTS, SamplingConfig(**bad), progress=False)
