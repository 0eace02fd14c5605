"""Choosing a subset from per-example scores: S2L and the baselines (pure numpy).

S2L (SmallToLarge, Yang et al., NeurIPS 2024, arXiv 2403.07384) clusters the
loss trajectories a small proxy model traces during training and spends the
budget across the clusters, smallest cluster first, so that rare training
dynamics are kept and common ones thinned out. The procedure follows the
authors' code (https://github.com/BigML-CS-UCLA/S2L, ``schedules/s2l.py``):

1. k-means on the raw ``(N, C)`` trajectories (Euclidean, NaN set to 0).
2. Clusters sorted by size, smallest first; cluster ``i`` of the ``K`` gets
   ``min(size_i, remaining // (K - i))`` examples, drawn uniformly at random
   without replacement, and ``remaining`` shrinks by what it took. A cluster
   smaller than its share is taken whole and what it leaves over goes to the
   larger clusters after it, so the budget is spent exactly (see
   :func:`balanced_allocation`).
3. With a source column, the budget is first split across sources and the two
   steps above run inside each source with its own k-means (see
   :func:`split_by_source`).

Unlike the authors' code, which sets clusters of <= 2 examples aside and fills
the budget from them last, every cluster here takes part in step 2 (small
clusters are taken whole), as the method is described in the paper.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from sftlab.errors import SftlabError

METHODS = ("s2l", "random", "perplexity-low", "perplexity-mid", "perplexity-high", "el2n", "full")
SOURCE_SPLITS = ("balanced", "proportional")


def parse_budget(budget: str | int | float, n: int) -> int:
    """The number of examples to select out of ``n``.

    An int (or a string of digits, ``"500"``) is a count in ``[1, n]``; a float
    (or a string with a decimal point, ``"0.3"``) is a fraction in ``(0, 1]``,
    rounded half up to a count (at least 1). ``"1"`` is one example, ``"1.0"``
    the whole set.
    """
    text = str(budget).strip()
    try:
        is_fraction = isinstance(budget, float) or any(c in text for c in ".eE")
        value = float(text) if is_fraction else int(text)
    except ValueError:
        raise SftlabError(
            f"budget {budget!r}: expected a count (e.g. 500) or a fraction in (0, 1] (e.g. 0.3)"
        ) from None
    if is_fraction:
        if not 0.0 < value <= 1.0:
            raise SftlabError(f"budget {budget!r}: a fraction must be in (0, 1]")
        return max(1, min(n, math.floor(value * n + 0.5)))
    if not 1 <= value <= n:
        raise SftlabError(f"budget {budget!r}: a count must be between 1 and the data set size ({n})")
    return int(value)


def balanced_allocation(sizes, budget: int) -> np.ndarray:
    """How many examples each group gives: smallest group first, an equal share of what remains.

    Groups are visited by increasing size (ties by position). Group ``i`` of
    ``K`` gets ``min(size_i, remaining // (K - i))``. The counts sum to
    ``min(budget, sum(sizes))`` exactly: the last group's share is all that
    remains, and a group capped by its share leaves at most what the larger
    groups after it can hold.

    >>> balanced_allocation([1, 10, 4], 9).tolist()
    [1, 4, 4]
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    counts = np.zeros_like(sizes)
    remaining = min(int(budget), int(sizes.sum()))
    order = np.argsort(sizes, kind="stable")
    for i, g in enumerate(order):
        counts[g] = min(sizes[g], remaining // (len(order) - i))
        remaining -= counts[g]
    return counts


def proportional_allocation(sizes, budget: int) -> np.ndarray:
    """Counts proportional to ``sizes`` summing to ``budget`` (largest remainder, ties by position)."""
    sizes = np.asarray(sizes, dtype=np.int64)
    budget = min(int(budget), int(sizes.sum()))
    quota = sizes * budget / sizes.sum()
    counts = np.floor(quota).astype(np.int64)
    order = np.argsort(-(quota - counts), kind="stable")
    counts[order[: budget - counts.sum()]] += 1
    return counts


def cluster_trajectories(
    trajectories: np.ndarray, n_clusters: int = 100, *, seed: int = 0, max_iter: int = 20
) -> np.ndarray:
    """k-means cluster labels ``(N,)`` of the ``(N, C)`` loss trajectories.

    scikit-learn's Lloyd k-means (k-means++ init, one run) with ``max_iter=20``,
    the 20 iterations of the authors' faiss call; K is capped by N. About 10 s
    for 1,000,000 x 12 on 2 CPU cores (``benchmarks/s2l_scale.py``).
    """
    from sklearn.cluster import KMeans

    x = np.nan_to_num(np.asarray(trajectories, dtype=np.float32), nan=0.0)  # (N, C)
    if x.ndim == 1:
        x = x[:, None]
    k = max(1, min(int(n_clusters), len(x)))
    if k == 1:
        return np.zeros(len(x), dtype=np.int64)
    with warnings.catch_warnings():  # fewer distinct points than K: some clusters stay empty, which is fine
        warnings.simplefilter("ignore")
        km = KMeans(n_clusters=k, n_init=1, max_iter=max_iter, random_state=seed).fit(x)
    return km.labels_.astype(np.int64)


def sample_clusters(labels: np.ndarray, budget: int, rng: np.random.Generator) -> np.ndarray:
    """Indices drawn from clusters ``labels`` by :func:`balanced_allocation`, uniformly within each."""
    order = np.argsort(labels, kind="stable")  # members of each cluster, contiguous and in index order
    clusters, starts, sizes = np.unique(labels[order], return_index=True, return_counts=True)
    counts = balanced_allocation(sizes, budget)
    picked = [rng.choice(order[s : s + size], k, replace=False) for s, size, k in zip(starts, sizes, counts) if k]
    return np.sort(np.concatenate(picked)) if picked else np.zeros(0, dtype=np.int64)


def split_by_source(sources, budget: int, how: str = "balanced") -> dict:
    """Per-source budgets ``{source: count}`` summing to ``budget``.

    ``how="balanced"`` (the authors' code): sources by increasing size, each an
    equal share of what remains, a small source taken whole
    (:func:`balanced_allocation`). ``how="proportional"``: counts proportional to
    the source sizes, rounded by largest remainder (:func:`proportional_allocation`).
    Sources are ordered by their string form, so ties break the same way on every run.
    """
    if how not in SOURCE_SPLITS:
        raise SftlabError(f"source split {how!r}: expected one of {', '.join(SOURCE_SPLITS)}")
    names, sizes = np.unique(np.asarray([str(s) for s in sources]), return_counts=True)
    counts = balanced_allocation(sizes, budget) if how == "balanced" else proportional_allocation(sizes, budget)
    return dict(zip(names.tolist(), counts.tolist()))


def rank_select(scores: np.ndarray, budget: int, where: str) -> np.ndarray:
    """The ``budget`` indices with the lowest, middle or highest ``scores`` (ties by index)."""
    order = np.argsort(scores, kind="stable")
    start = {"low": 0, "mid": (len(order) - budget) // 2, "high": len(order) - budget}[where]
    return np.sort(order[start : start + budget])


def select_indices(
    method: str,
    budget: int,
    *,
    n: int,
    trajectories: np.ndarray | None = None,
    final_losses: np.ndarray | None = None,
    base_losses: np.ndarray | None = None,
    sources=None,
    source_split: str = "balanced",
    n_clusters: int = 100,
    seed: int = 0,
) -> tuple[np.ndarray, dict]:
    """Select ``budget`` of ``n`` examples with ``method``; returns (sorted indices, info).

    - ``s2l``: cluster ``trajectories`` (N, C) and sample across clusters (module docstring).
    - ``random``: uniformly at random.
    - ``perplexity-low|mid|high``: the lowest, middle or highest ``base_losses``, the
      mean completion loss (log-perplexity) under the proxy before fine-tuning
      (as in Marion et al. 2023, arXiv 2309.04564).
    - ``el2n``: the highest ``final_losses``, the loss at the proxy's last checkpoint
      (EL2N-style, Paul et al. 2021, arXiv 2107.07075, with the loss for the error norm).
    - ``full``: every example (the budget is ignored).

    With ``sources`` (one label per example) the budget is split across sources
    by :func:`split_by_source` and ``method`` runs inside each. ``info`` holds the
    cluster sizes (s2l) and per-source counts. Deterministic for a seed.
    """
    if method not in METHODS:
        raise SftlabError(f"method {method!r}: expected one of {', '.join(METHODS)}")
    if method == "full":
        return np.arange(n), {}
    if not 0 <= budget <= n:
        raise SftlabError(f"budget {budget}: must be between 0 and the number of examples ({n})")
    scores = {"s2l": trajectories, "el2n": final_losses}.get(method, base_losses)
    if method != "random" and scores is None:
        raise ValueError(f"method {method!r} needs its scores")
    rng = np.random.default_rng(seed)
    if sources is None:
        return _select_group(
            method, np.arange(n), budget, trajectories, final_losses, base_losses, n_clusters, seed, rng
        )
    sources = np.asarray([str(s) for s in sources])
    picked, info = [], {"sources": {}}
    for name, count in split_by_source(sources, budget, source_split).items():
        members = np.flatnonzero(sources == name)
        idx, sub = _select_group(method, members, count, trajectories, final_losses, base_losses, n_clusters, seed, rng)
        picked.append(idx)
        info["sources"][name] = {"size": len(members), "selected": int(count), **sub}
    return np.sort(np.concatenate(picked)), info


def _select_group(method, members, budget, trajectories, final_losses, base_losses, n_clusters, seed, rng):
    """Select ``budget`` of the example indices ``members``; returns global indices and info."""
    if budget == 0:
        return np.zeros(0, dtype=np.int64), {}
    if method == "random":
        return np.sort(rng.choice(members, budget, replace=False)), {}
    if method == "s2l":
        labels = cluster_trajectories(trajectories[members], n_clusters, seed=seed)
        local = sample_clusters(labels, budget, rng)
        sizes = np.bincount(labels)
        taken = np.bincount(labels[local], minlength=len(sizes))
        info = {"cluster_sizes": sizes[sizes > 0].tolist(), "cluster_selected": taken[sizes > 0].tolist()}
        return members[local], info
    scores = final_losses if method == "el2n" else base_losses
    where = "high" if method == "el2n" else method.split("-")[1]
    return members[rank_select(np.nan_to_num(scores[members], nan=0.0), budget, where)], {}
