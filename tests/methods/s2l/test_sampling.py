"""S2L sampling and the baselines, on hand-built trajectories (no model)."""

import numpy as np
import pytest

from sftlab.errors import SftlabError
from sftlab.methods.s2l.sampling import (
    balanced_allocation,
    cluster_trajectories,
    parse_budget,
    proportional_allocation,
    rank_select,
    select_indices,
    split_by_source,
)


def blobs(sizes, c=6, seed=0):
    """Well-separated trajectory clusters of the given sizes; returns (X (N, C), true labels)."""
    rng = np.random.default_rng(seed)
    centers = np.arange(len(sizes))[:, None] * 10.0 + np.linspace(3, 1, c)  # (G, C)
    labels = np.repeat(np.arange(len(sizes)), sizes)
    return centers[labels] + rng.normal(0, 0.05, (len(labels), c)), labels


def test_parse_budget():
    assert parse_budget("500", 1000) == 500
    assert parse_budget(7, 10) == 7
    assert parse_budget("0.3", 10) == 3
    assert parse_budget(0.29, 100) == 29  # 0.29 * 100 = 28.999... must not floor to 28
    assert parse_budget("0.25", 10) == 3  # 2.5 rounds half up
    assert parse_budget("1.0", 10) == 10
    assert parse_budget("1", 10) == 1
    assert parse_budget("0.001", 10) == 1  # at least one example
    for bad in ("0", "11", "1.5", "0.0", "-3", "ten", ""):
        with pytest.raises(SftlabError, match="budget"):
            parse_budget(bad, 10)


def test_balanced_allocation_by_hand():
    # sizes 1, 4, 10, budget 9: the 1 is taken whole (share 9 // 3 = 3), then the 4 whole (share 8 // 2 = 4),
    # and the 10 gets what remains, 4.
    assert balanced_allocation([1, 10, 4], 9).tolist() == [1, 4, 4]
    # equal sizes: 10 // 3 = 3, 7 // 2 = 3, 4 // 1 = 4 (ties visited by position)
    assert balanced_allocation([5, 5, 5], 10).tolist() == [3, 3, 4]
    assert balanced_allocation([2, 3], 100).tolist() == [2, 3]  # budget over the total: everything


def test_allocations_are_exact():
    rng = np.random.default_rng(1)
    for _ in range(300):
        sizes = rng.integers(1, 50, rng.integers(1, 12))
        budget = int(rng.integers(1, sizes.sum() + 1))
        for alloc in (balanced_allocation(sizes, budget), proportional_allocation(sizes, budget)):
            assert alloc.sum() == budget and (alloc <= sizes).all() and (alloc >= 0).all()


def test_proportional_allocation_by_hand():
    # sizes 50, 30, 20 and budget 7: quotas 3.5, 2.1, 1.4 -> floors 3, 2, 1 and the one left over goes to
    # the largest remainder, 0.5.
    assert proportional_allocation([50, 30, 20], 7).tolist() == [4, 2, 1]


def test_kmeans_recovers_separated_clusters_and_caps_k():
    x, truth = blobs([5, 40, 15])
    labels = cluster_trajectories(x, n_clusters=3, seed=0)
    # same partition up to renaming
    assert len({(a, b) for a, b in zip(labels, truth)}) == 3
    assert cluster_trajectories(x[:4], n_clusters=100).max() < 4  # K capped by N


def test_s2l_small_clusters_taken_whole_and_exact_budget():
    x, truth = blobs([3, 4, 60, 80])
    idx, info = select_indices("s2l", 30, n=len(x), trajectories=x, n_clusters=4, seed=0)
    assert len(idx) == 30 and len(set(idx.tolist())) == 30
    taken = np.bincount(truth[idx], minlength=4)
    # 3 and 4 taken whole (shares 7 and 9), then 23 // 2 = 11 and 12 from the two large clusters
    assert taken.tolist() == [3, 4, 11, 12]
    assert sorted(info["cluster_sizes"]) == [3, 4, 60, 80]
    assert sorted(info["cluster_selected"]) == [3, 4, 11, 12]


def test_deterministic_for_a_seed():
    x, _ = blobs([10, 30, 50], seed=3)
    for method in ("s2l", "random"):
        a, _ = select_indices(method, 20, n=len(x), trajectories=x, n_clusters=3, seed=7)
        b, _ = select_indices(method, 20, n=len(x), trajectories=x, n_clusters=3, seed=7)
        c, _ = select_indices(method, 20, n=len(x), trajectories=x, n_clusters=3, seed=8)
        assert a.tolist() == b.tolist()
        assert a.tolist() != c.tolist()


@pytest.mark.parametrize("budget", ["1", "17", "0.1", "0.5", "1.0"])
@pytest.mark.parametrize("method", ["s2l", "random", "perplexity-low", "perplexity-mid", "perplexity-high", "el2n"])
def test_exact_budgets(method, budget):
    x, _ = blobs([5, 20, 45], seed=2)
    n = len(x)
    k = parse_budget(budget, n)
    idx, _ = select_indices(
        method, k, n=n, trajectories=x, final_losses=x[:, -1], base_losses=x[:, 0], n_clusters=10, seed=0
    )
    assert len(idx) == k and len(np.unique(idx)) == k and idx.min() >= 0 and idx.max() < n


def test_rank_baselines_by_hand():
    scores = np.array([5.0, 1.0, 4.0, 2.0, 3.0, 0.0])  # order by score: 5, 1, 3, 4, 2, 0
    assert rank_select(scores, 2, "low").tolist() == [1, 5]
    assert rank_select(scores, 2, "mid").tolist() == [3, 4]  # ranks 2 and 3 of 6
    assert rank_select(scores, 2, "high").tolist() == [0, 2]
    idx, _ = select_indices("el2n", 2, n=6, final_losses=scores)
    assert idx.tolist() == [0, 2]
    idx, _ = select_indices("perplexity-low", 2, n=6, base_losses=scores)
    assert idx.tolist() == [1, 5]
    assert select_indices("full", 2, n=6)[0].tolist() == list(range(6))


def test_split_by_source():
    src = ["a"] * 2 + ["b"] * 10 + ["c"] * 30
    # balanced: a (2) whole, then 10 // 2 = 5 from b... b has 10 so share (12 - 2) // 2 = 5, c the other 5
    assert split_by_source(src, 12, "balanced") == {"a": 2, "b": 5, "c": 5}
    # proportional: quotas 12*2/42 = 0.57, 2.86, 8.57 -> floors 0, 2, 8, two more to the largest remainders
    assert split_by_source(src, 12, "proportional") == {"a": 1, "b": 3, "c": 8}
    with pytest.raises(SftlabError, match="source split"):
        split_by_source(src, 3, "weird")


@pytest.mark.parametrize("how", ["balanced", "proportional"])
@pytest.mark.parametrize("method", ["s2l", "random", "el2n"])
def test_stratification_respected(method, how):
    x, _ = blobs([6, 30, 24], seed=4)
    rng = np.random.default_rng(0)
    sources = np.array(["gsm"] * 40 + ["math"] * 15 + ["code"] * 5)[rng.permutation(60)]
    idx, info = select_indices(
        method, 20, n=60, trajectories=x, final_losses=x[:, -1], sources=sources, source_split=how, n_clusters=4
    )
    want = split_by_source(sources, 20, how)
    got = {s: int((sources[idx] == s).sum()) for s in want}
    assert got == want and len(idx) == 20
    assert {s: v["selected"] for s, v in info["sources"].items()} == want


def test_unknown_method():
    with pytest.raises(SftlabError, match="method"):
        select_indices("best", 3, n=10)
