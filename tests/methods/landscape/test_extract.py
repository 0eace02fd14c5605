"""Last-prompt-token hidden states, checked against ``output_hidden_states`` of one example alone."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from sftlab.data import encode_prompts, render_prompt
from sftlab.errors import SftlabError
from sftlab.methods.landscape.extract import few_shot_prompt, last_token_states, pick_shots

PROMPTS = [
    "Question: Tom has 3 apples.\nSolution:",
    "Question: A box holds 12 pens; 5 are taken. How many remain, and how many boxes are there?\nSolution:",
    "Question: 7?\nSolution:",
    "Question: She walks 6 km each day for 3 days.\nSolution:",
    "Question: Each step is written out in words, and then the total is given. What is it?\nSolution:",
]


@pytest.mark.parametrize("padding_side", ["left", "right"])
def test_equals_output_hidden_states_of_each_example_alone(tiny_model, tiny_tokenizer, padding_side):
    lengths = [len(x) for x in encode_prompts(PROMPTS, tiny_tokenizer)]
    assert len(set(lengths)) == len(PROMPTS)  # every batch is padded
    states = last_token_states(
        tiny_model, tiny_tokenizer, PROMPTS, batch_size=3, padding_side=padding_side, progress=False
    )
    n_layers = tiny_model.config.num_hidden_layers
    assert states.shape == (n_layers + 1, len(PROMPTS), tiny_model.config.hidden_size)
    for i, ids in enumerate(encode_prompts(PROMPTS, tiny_tokenizer)):
        with torch.no_grad():
            hidden = tiny_model(torch.tensor([ids]), output_hidden_states=True).hidden_states
        for layer in range(n_layers + 1):
            torch.testing.assert_close(torch.from_numpy(states[layer, i]), hidden[layer][0, -1], atol=1e-5, rtol=1e-5)


def test_padding_matters_without_the_right_positions(tiny_model, tiny_tokenizer):
    """The check above can fail: reading the last column of a right-padded batch gives other vectors."""
    left = last_token_states(tiny_model, tiny_tokenizer, PROMPTS, batch_size=5, progress=False)
    ids = encode_prompts(PROMPTS, tiny_tokenizer)
    width = max(map(len, ids))
    batch = torch.tensor([x + [0] * (width - len(x)) for x in ids])
    mask = (torch.arange(width)[None] < torch.tensor([len(x) for x in ids])[:, None]).long()
    with torch.no_grad():
        wrong = tiny_model(batch, attention_mask=mask, output_hidden_states=True).hidden_states[-1][:, -1]
    short = min(range(len(ids)), key=lambda i: len(ids[i]))
    assert not torch.allclose(wrong[short], torch.from_numpy(left[-1, short]), atol=1e-3)


def test_few_shot_prompt_text_and_zero_shot_is_the_training_prompt():
    shots = [("1+1?", "1+1=2; #### 2"), ("2+3?", "2+3=5; #### 5")]
    prompt = few_shot_prompt(("4+4?", None), shots, "reasoning")
    assert prompt == (
        "Question: 1+1?\nSolution: 1+1=2; #### 2\n\nQuestion: 2+3?\nSolution: 2+3=5; #### 5"
        "\n\nQuestion: 4+4?\nSolution:"
    )
    assert few_shot_prompt(("4+4?", None), [], "reasoning") == render_prompt("4+4?")


def test_few_shot_prompt_chat(tiny_tokenizer):
    chat_tok = copy.copy(tiny_tokenizer)
    chat_tok.chat_template = (
        "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}<|assistant|>{% endif %}"
    )
    prompt = few_shot_prompt(("4+4?", None), [("1+1?", "2")], "reasoning", chat_tok)
    assert prompt == "<|user|>1+1?\n<|assistant|>2\n<|user|>4+4?\n<|assistant|>"
    assert few_shot_prompt(("4+4?", None), [], "reasoning", chat_tok) == render_prompt("4+4?", chat_tok)

    def turns(*texts):
        return [{"role": role, "content": t} for role, t in zip(["system", "user", "assistant"], texts)]

    conv, shot = turns("S", "q", "a"), turns("S", "q1", "a1")
    assert few_shot_prompt(conv, [shot], "messages", chat_tok) == (
        "<|system|>S\n<|user|>q1\n<|assistant|>a1\n<|user|>q\n<|assistant|>"
    )


def test_pick_shots_seeded_nested_and_excluding_self():
    five = pick_shots(20, 20, 5, seed=3, exclude=list(range(20)))
    one = pick_shots(20, 20, 1, seed=3, exclude=list(range(20)))
    assert five == pick_shots(20, 20, 5, seed=3, exclude=list(range(20)))
    assert five != pick_shots(20, 20, 5, seed=4, exclude=list(range(20)))
    for i, (s5, s1) in enumerate(zip(five, one)):
        assert i not in s5 and len(set(s5)) == 5 and s1 == s5[:1]
    with pytest.raises(SftlabError, match="need at least 3 other examples"):
        pick_shots(1, 3, 3, seed=0, exclude=[0])


def _pick_shots_before(n_targets, pool_size, shots, seed, exclude=None):
    """A copy of pick_shots before --shot-source existed: random shots must still draw exactly these."""
    out = []
    for i in range(n_targets):
        own = exclude[i] if exclude else -1
        rng = np.random.default_rng([seed, i])
        picked = []
        while len(picked) < shots:
            j = int(rng.integers(pool_size))
            if j != own and j not in picked:
                picked.append(j)
        out.append(picked)
    return out


@pytest.mark.parametrize("n_targets,pool_size,shots,seed,exclude", [
    (20, 20, 5, 3, list(range(20))), (30, 200, 5, 0, None), (7, 9, 8, 11, [3, -1, 8, 0, 1, 2, 5]), (50, 6, 1, 2, None),
])  # fmt: skip
def test_random_shots_unchanged(n_targets, pool_size, shots, seed, exclude):
    assert pick_shots(n_targets, pool_size, shots, seed, exclude) == \
        _pick_shots_before(n_targets, pool_size, shots, seed, exclude)  # fmt: skip


# A pool of 40 records in three labels of uneven size; the first 12 are also the analysed targets (exclude = own index).
POOL_LABELS = ["a"] * 6 + ["b"] * 14 + ["c"] * 20
POOL_LABELS = [POOL_LABELS[(7 * j) % 40] for j in range(40)]  # interleaved, so a label is not a contiguous block


@pytest.mark.parametrize("exclude", [list(range(12)), None])
def test_same_label_shots_stay_in_the_label_and_never_take_the_question(exclude):
    targets = POOL_LABELS[:12]
    five = pick_shots(12, 40, 5, seed=3, exclude=exclude, labels=targets, pool_labels=POOL_LABELS)
    one = pick_shots(12, 40, 1, seed=3, exclude=exclude, labels=targets, pool_labels=POOL_LABELS)
    assert five == pick_shots(12, 40, 5, seed=3, exclude=exclude, labels=targets, pool_labels=POOL_LABELS)
    assert five != pick_shots(12, 40, 5, seed=4, exclude=exclude, labels=targets, pool_labels=POOL_LABELS)
    assert five != pick_shots(12, 40, 5, seed=3, exclude=exclude)  # not the random draws
    for i, (s5, s1) in enumerate(zip(five, one)):
        assert [POOL_LABELS[j] for j in s5] == [targets[i]] * 5, (i, s5)
        assert len(set(s5)) == 5 and s1 == s5[:1]
        if exclude:
            assert i not in s5
    # every label's draws reach across its records, not one fixed subset
    drawn = {j for s in pick_shots(12, 40, 5, seed=0, labels=targets, pool_labels=POOL_LABELS) for j in s}
    assert {POOL_LABELS[j] for j in drawn} == set(targets) and len(drawn) > 15


def test_same_label_too_small_names_the_label_and_counts():
    # label 'a' has 6 pool records, target 0 among them; without its own record 5 remain: 5 shots fit, 6 do not
    targets = POOL_LABELS[:12]
    assert pick_shots(12, 40, 5, seed=0, exclude=list(range(12)), labels=targets, pool_labels=POOL_LABELS)
    with pytest.raises(
        SftlabError,
        match=r"^6-shot prompts with same-label shots: family 'a' has 5 other examples "
        r"in the shot pool \(of 40\), 6 needed; .*--shot-source random$",
    ):
        pick_shots(
            12, 40, 6, seed=0, exclude=list(range(12)), labels=targets, pool_labels=POOL_LABELS, label_name="family"
        )
    with pytest.raises(SftlabError, match="label 'z' has 0 other examples"):  # a label absent from the pool
        pick_shots(1, 40, 1, seed=0, labels=["z"], pool_labels=POOL_LABELS)
