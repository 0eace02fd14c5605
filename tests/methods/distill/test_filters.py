"""Filters keep or remove exactly what they should, on hand-built texts."""

from __future__ import annotations

import math

import pytest
import torch

from sftlab.errors import SftlabError
from sftlab.methods.distill.filters import (
    ArithmeticConfig,
    ArithmeticFilter,
    Candidate,
    DedupConfig,
    ExactDedupFilter,
    Filter,
    FilterChain,
    FilterContext,
    LengthConfig,
    LengthFilter,
    NearDedupConfig,
    NearDedupFilter,
    NoveltyConfig,
    NoveltyFilter,
    PerplexityConfig,
    PerplexityFilter,
    RegexConfig,
    RegexFilter,
    VerifierFilter,
    build_filters,
    completion_perplexities,
    equations_hold,
    jaccard_matrix,
    parse_filter_spec,
    shingles,
)


def cands(*texts, prompt="p"):
    return [Candidate(prompt=prompt, completion=t) for t in texts]


def test_verifier_keeps_correct_answers_only():
    items = [
        Candidate("q", "3 + 4 = 7\n#### 7", answer="7"),
        Candidate("q", "3 + 4 = 8\n#### 8", answer="7"),
        Candidate("q", "no answer given", answer="7"),
        Candidate("q", "#### 7", answer=None),  # no reference: cannot be verified
    ]
    assert VerifierFilter().keep(items) == [True, False, False, False]
    assert [c.meta["verified"] for c in items] == [True, False, False, False]  # verdicts cached on the candidate
    stale = Candidate("q", "#### 8", answer="7", meta={"verified": True})
    assert VerifierFilter().keep([stale]) == [True]  # a stored verdict is reused, not recomputed


def test_length_window_mean_plus_minus_k_sigma():
    # reference lengths 2,4,4,4,5,5,7,9: mean 5, population std 2 -> k=1 window [3, 7]
    flt = LengthFilter([2, 4, 4, 4, 5, 5, 7, 9], LengthConfig(k=1.0))
    assert (flt.mean, flt.std, flt.low, flt.high) == (5.0, 2.0, 3.0, 7.0)
    assert flt.keep(cands("ab", "abc", "abcdefg", "abcdefgh", "  abc  ")) == [False, True, True, False, True]
    words = LengthFilter.from_texts(["a b", "a b c d"], LengthConfig(k=0.0, unit="words"))  # mean 3, std 1 -> [3, 3]
    assert words.keep(cands("x y z", "x y", "xyz")) == [True, False, False]


def test_regex_search_fullmatch_invert():
    texts = cands("The answer is 12.", "#### 12", "no digits here")
    assert RegexFilter(RegexConfig(pattern=r"\d+")).keep(texts) == [True, True, False]
    assert RegexFilter(RegexConfig(pattern=r"#### \d+", mode="fullmatch")).keep(texts) == [False, True, False]
    assert RegexFilter(RegexConfig(pattern=r"\d+", invert=True)).keep(texts) == [False, False, True]
    with pytest.raises(SftlabError, match="invalid pattern"):
        RegexFilter(RegexConfig(pattern="(unclosed"))


def test_arithmetic_checks_every_written_equation():
    assert equations_hold(" 12*3=36; 36/3=12; #### 12") == (2, True)
    assert equations_hold(" 12*3=36; 37/3=12; #### 12") == (2, False)  # right answer, wrong step
    assert equations_hold("5-9=-4, 7/2=3.5, 3 × 4 = 12") == (3, True)
    assert equations_hold("20/0=0") == (1, False)
    assert equations_hold("1+2+3=6 and #### 6") == (0, True)  # chains are not parsed
    items = cands(" 10-4=6; 6-2=4; #### 4", " 10-4=7; 7-3=4; #### 4", "#### 4")
    assert ArithmeticFilter().keep(items) == [True, False, True]
    assert ArithmeticFilter(ArithmeticConfig(require=True)).keep(items) == [True, False, False]


def test_exact_dedup_scopes_and_normalization():
    items = [Candidate("p1", "a b"), Candidate("p1", " a  b "), Candidate("p2", "a b"), Candidate("p1", "c")]
    assert ExactDedupFilter().keep(items) == [True, False, True, True]
    assert ExactDedupFilter(DedupConfig(normalize=False)).keep(items) == [True, True, True, True]
    assert ExactDedupFilter(DedupConfig(scope="all")).keep(items) == [True, False, False, True]


def test_shingles_and_jaccard_by_hand():
    assert shingles("abcdef", 3) == {"abc", "bcd", "cde", "def"}
    assert shingles("ab", 3) == {"ab"}
    # {abc,bcd,cde,def} vs {abc,bcd,cde,deg}: 3 shared of 5 -> 0.6; vs "xyz": 0
    sim = jaccard_matrix(["abcdef"], ["abcdeg", "xyz", "abcdef"], 3)
    assert sim.shape == (1, 3)
    assert sim[0].tolist() == pytest.approx([0.6, 0.0, 1.0])


def test_near_dedup_threshold_is_inclusive_and_per_prompt():
    items = [Candidate("p", "abcdef"), Candidate("p", "abcdeg"), Candidate("q", "abcdeg"), Candidate("p", "zzzzzz")]
    assert NearDedupFilter(NearDedupConfig(n=3, threshold=0.6)).keep(items) == [True, False, True, True]
    assert NearDedupFilter(NearDedupConfig(n=3, threshold=0.61)).keep(items) == [True, True, True, True]
    assert NearDedupFilter(NearDedupConfig(n=3, threshold=0.6, scope="all")).keep(items) == [True, False, False, True]


def test_near_dedup_compares_with_kept_items_only():
    # b is near a (dropped); c is near b but not near a: it survives because b was not kept
    a, b, c = "aaaabbbb", "aaaabbbc", "aaacbbcc"
    sim = jaccard_matrix([a, b, c], [a, b, c], 3)
    assert sim[0, 1] >= 0.5 and sim[1, 2] < 0.5 and sim[0, 2] < 0.5
    assert NearDedupFilter(NearDedupConfig(n=3, threshold=0.5)).keep(cands(a, b, c)) == [True, False, True]


def test_novelty_jaccard_below_threshold():
    flt = NoveltyFilter(["abcdef", "qrstuv"], NoveltyConfig(max_identity=0.6, n=3))
    items = cands("abcdeg", "abcxyz", "qrstuv")  # {abc} shared of 7 shingles -> 1/7
    assert flt.max_identity(items) == pytest.approx([0.6, 1 / 7, 1.0])
    assert flt.keep(items) == [False, True, False]  # strictly below


class Recorder(Filter):
    """Keeps items whose completion does not contain ``drop``; remembers what it saw."""

    def __init__(self, name, cost, drop):
        self.name, self.cost, self.drop, self.seen = name, cost, drop, None

    def keep(self, items):
        self.seen = [c.completion for c in items]
        return [self.drop not in c.completion for c in items]


def test_chain_runs_cheapest_first_and_counts():
    expensive, cheap, middle = (
        Recorder("expensive", 9.0, "x"),
        Recorder("cheap", 0.1, "c"),
        Recorder("middle", 1.0, "m"),
    )
    chain = FilterChain([expensive, cheap, middle])
    assert [f.name for f in chain.filters] == ["cheap", "middle", "expensive"]
    items = cands("ok1", "c", "m", "x", "cm", "ok2", "mx")
    result = chain.run(items)
    assert [c.completion for c in result.survivors] == ["ok1", "ok2"]
    assert cheap.seen == ["ok1", "c", "m", "x", "cm", "ok2", "mx"]
    assert middle.seen == ["ok1", "m", "x", "ok2", "mx"]
    assert expensive.seen == ["ok1", "x", "ok2"]
    assert result.removed_by == [None, "cheap", "middle", "expensive", "cheap", None, "middle"]
    assert [(s["filter"], s["seen"], s["removed"], s["kept"]) for s in result.stats] == [
        ("cheap", 7, 2, 5),
        ("middle", 5, 2, 3),
        ("expensive", 3, 1, 2),
    ]
    assert result.stats[0]["pass_rate"] == pytest.approx(5 / 7)


def test_chain_on_empty_batch_and_bad_filter():
    result = FilterChain([Recorder("a", 1.0, "z")]).run([])
    assert result.survivors == [] and result.stats[0]["seen"] == 0 and result.stats[0]["pass_rate"] is None

    class Broken(Filter):
        name = "broken"

        def keep(self, items):
            return [True]

    with pytest.raises(ValueError, match="broken"):
        FilterChain([Broken()]).run(cands("a", "b"))


def test_perplexity_matches_masked_model_loss(tiny_tokenizer, tiny_model):
    pairs = [("Question: Tom has 3 apples\nSolution:", " 3+4=7; #### 7"), ("The answer", " is 42."), ("x", "")]
    got = completion_perplexities(tiny_model, tiny_tokenizer, pairs, batch_size=2)
    for (prompt, completion), ppl in zip(pairs[:2], got[:2]):
        p = tiny_tokenizer(prompt, add_special_tokens=False)["input_ids"]
        c = tiny_tokenizer(completion, add_special_tokens=False)["input_ids"]
        ids = torch.tensor([p + c])
        labels = torch.tensor([[-100] * len(p) + c])
        with torch.no_grad():
            loss = tiny_model(input_ids=ids, labels=labels).loss
        assert ppl == pytest.approx(math.exp(loss.item()), rel=1e-4)
    assert got[2] == math.inf
    assert completion_perplexities(tiny_model, tiny_tokenizer, pairs, batch_size=1) == pytest.approx(got, rel=1e-4)
    # a random model: perplexity near the vocabulary size; a threshold between the two values splits them
    items = [Candidate(p, c) for p, c in pairs[:2]]
    threshold = sum(got[:2]) / 2
    expected = [g <= threshold for g in got[:2]]
    assert (
        PerplexityFilter(tiny_model, tiny_tokenizer, PerplexityConfig(max_perplexity=threshold)).keep(items) == expected
    )


def _full_logits_perplexities(model, tokenizer, pairs):
    """The reference (and the filter's computation before the scoring service): one sequence at a time, the
    full (1, T, V) logits, ``F.cross_entropy`` over the completion tokens, exp of the mean."""
    import torch.nn.functional as F

    out = []
    for prompt, completion in pairs:
        p = tokenizer(prompt)["input_ids"]  # with the tokenizer's own BOS, if it adds one
        c = tokenizer(completion, add_special_tokens=False)["input_ids"]
        ids = torch.tensor([p + c])  # (1, T)
        with torch.no_grad():
            logits = model(input_ids=ids).logits[0, :-1].float()  # (T-1, V)
        nll = F.cross_entropy(logits[len(p) - 1 :], ids[0, len(p) :], reduction="mean")  # completion tokens only
        out.append(math.exp(nll.item()))
    return out


@pytest.mark.parametrize("tokenizer_kind", ["bpe", "char_with_bos"])
def test_perplexity_equals_a_full_logits_reference(tiny_tokenizer, tokenizer_kind):
    """The service-backed perplexity equals the plain full-logits computation to 1e-5, padding and BOS included."""
    from tiny import char_tokenizer, make_model

    tok = tiny_tokenizer if tokenizer_kind == "bpe" else char_tokenizer()
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    model = make_model(len(tok), seed=3).eval()
    # completions as training joins them to the prompt (one space after "Solution:", none after a newline)
    pairs = [
        ("Question: Tom has 3 apples and buys 4 more. How many apples?\nSolution:", " 3+4=7; #### 7"),
        ("The answer", " is 42."),
        ("She walks 6 km\n", "6*3=18"),
        ("Question: A box holds 12 pens; 5 are taken. How many remain?\nSolution:", " 12-5=7. Each step is written."),
    ]
    expected = _full_logits_perplexities(model, tok, pairs)
    for batch_size in (1, 3, 16):
        got = completion_perplexities(model, tok, pairs, batch_size=batch_size)
        assert got == pytest.approx(expected, rel=1e-5, abs=0)
    assert completion_perplexities(model, tok, pairs + [("x", ""), ("y", "  ")])[-2:] == [math.inf, math.inf]


def test_parse_and_build_filters():
    assert parse_filter_spec("verifier, length:k=1.5:unit=words,regex:pattern=a:b") == [
        ("verifier", {}),
        ("length", {"k": "1.5", "unit": "words"}),
        ("regex", {"pattern": "a:b"}),
    ]
    ctx = FilterContext(reference_texts=["abcd", "abcdef"])
    built = build_filters("near_dedup:threshold=0.5,length:k=1,dedup,novelty", ctx)
    assert [f.name for f in built] == ["near_dedup", "length", "dedup", "novelty"]
    assert built[0].cfg.threshold == 0.5 and built[1].cfg.k == 1.0 and isinstance(built[1].cfg.k, float)
    built = build_filters([{"name": "regex", "pattern": "[0-9]+", "invert": True}])
    assert built[0].cfg.pattern == "[0-9]+" and built[0].cfg.invert is True


@pytest.mark.parametrize(
    "spec, message",
    [
        ("verifyer", "unknown filter 'verifyer'"),
        ("length:kk=2", "filter 'length' has no option 'kk'"),
        ("length:k=two", "option 'k' of filter 'length' must be float"),
        ("dedup:scope=everything", "must be one of prompt, all"),
        ("length:k", "must look like key=value"),
        ("novelty", "needs a reference set"),
        ("perplexity", "needs a reference model"),
    ],
)
def test_build_filters_errors(spec, message):
    with pytest.raises(SftlabError, match=message):
        build_filters(spec, FilterContext())
