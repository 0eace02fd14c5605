"""Intrinsic dimension, kNN density and ADP clustering: hand values, Gaussian blobs, and DADApy agreement.

The blob tests run on the built-in estimators everywhere, and on DADApy too
where it is installed (the ``landscape`` extra).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from sftlab.errors import SftlabError
from sftlab.methods.landscape.adp import adp_clustering
from sftlab.methods.landscape.estimators import (
    gride_loglik,
    id_2nn,
    id_gride,
    knn,
    knn_log_density,
    remove_duplicates,
)
from sftlab.methods.landscape.geometry import dadapy_version, layer_geometry, resolve_backend

HAS_DADAPY = dadapy_version() is not None
NO_DADAPY = "DADApy not installed (extra sftlab[landscape]); the built-in estimators are tested instead"
BACKENDS = ["builtin", pytest.param("dadapy", marks=pytest.mark.skipif(not HAS_DADAPY, reason=NO_DADAPY))]


def blobs(d: int, n_clusters: int = 4, n: int = 300, D: int = 64, sep: float = 10.0, seed: int = 0):
    """``n_clusters`` unit Gaussians on a random d-dimensional linear subspace of R^D, centres >= ``sep`` apart."""
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(rng.normal(size=(D, d)))[0]  # (D, d), orthonormal columns
    centers = rng.normal(size=(n_clusters, d))
    gaps = np.linalg.norm(centers[:, None] - centers[None], axis=-1)[np.triu_indices(n_clusters, 1)]
    centers *= sep / gaps.min() if n_clusters > 1 else 0.0
    labels = np.repeat(np.arange(n_clusters), n)
    return (centers[labels] + rng.normal(size=(len(labels), d))) @ basis.T, labels  # (N, D)


# ------------------------------------------------------------------ hand-worked values


def test_knn_layout_self_first():
    X = np.array([[0.0], [1.0], [3.0], [7.0]])
    dist, idx = knn(X, 2)
    np.testing.assert_allclose(dist, [[0, 1, 3], [0, 1, 2], [0, 2, 3], [0, 4, 6]])
    np.testing.assert_array_equal(idx[:, 0], [0, 1, 2, 3])
    np.testing.assert_array_equal(idx[:, 1], [1, 0, 1, 2])


def test_remove_duplicates_keeps_first_copy():
    X = np.array([[1.0, 2], [3, 4], [1, 2], [5, 6], [3, 4]])
    np.testing.assert_array_equal(remove_duplicates(X), [0, 1, 3])


def test_gride_at_ranks_1_2_is_the_closed_form_2nn_mle():
    """Gride with n1=1, n2=2: the likelihood's derivative is sum(log mu) - (N-1)/d, so d = (N-1)/sum(log mu)."""
    rng = np.random.default_rng(1)
    mus = rng.uniform(1.05, 2.0, size=200)
    distances = np.stack([np.zeros(200), np.ones(200), mus], axis=1)
    assert id_gride(distances, 1) == pytest.approx(199 / np.log(mus).sum(), rel=1e-6)


def test_gride_maximises_its_likelihood():
    X, _ = blobs(3, n_clusters=1, n=600, seed=2)
    distances, _ = knn(X, 40)
    d_hat = id_gride(distances, 8)
    mus = distances[:, 16] / distances[:, 8]
    best = gride_loglik(d_hat, mus, 8, 16)
    assert best > gride_loglik(d_hat * 0.95, mus, 8, 16) and best > gride_loglik(d_hat * 1.05, mus, 8, 16)


def test_2nn_slope_through_origin():
    """Hand-worked: mu_i = exp(i/N) exactly, all kept (fraction 1): d = sum(x y) / sum(x x)."""
    n = 50
    x = np.arange(1, n + 1) / n
    distances = np.stack([np.zeros(n), np.ones(n), np.exp(x)], axis=1)
    y = -np.log(1 - np.arange(1, n) / n)  # the largest mu (F = 1) is the one point left out at fraction 0.98
    assert id_2nn(distances, fraction=0.98) == pytest.approx((x[:-1] @ y) / (x[:-1] @ x[:-1]))


def test_knn_log_density_hand_value():
    """k=2, d=2, N=3: log rho = log 2 - log(pi r_2^2) - log 3."""
    distances = np.array([[0.0, 1.0, 2.0], [0.0, 0.5, 1.0], [0.0, 1.0, 1.5]])
    log_den, err = knn_log_density(distances, 2.0, 2)
    expected = [math.log(2) - math.log(math.pi * r**2) - math.log(3) for r in (2.0, 1.0, 1.5)]
    np.testing.assert_allclose(log_den, expected)
    np.testing.assert_allclose(err, 1 / math.sqrt(2))


def test_adp_merges_peaks_below_the_threshold():
    """Two close 1-D bumps: distinct at a small Z, merged at a large one; far-apart bumps stay two."""
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 1, 400), rng.normal(3.0, 1, 400)])[:, None]
    distances, indices = knn(X, 60)
    log_den, err = knn_log_density(distances, 1.0, 16)
    many = adp_clustering(log_den, err, indices, 16, z=0.5)
    one = adp_clustering(log_den, err, indices, 16, z=20.0)
    assert many.n_clusters >= 2 and one.n_clusters == 1
    assert set(one.labels) == {0} and one.core_fraction == 1.0  # a single peak has no saddle, so no halo
    assert many.core_fraction < 1.0  # points below the saddle between two peaks are halo


# ------------------------------------------------------------------ Gaussian blobs


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("d", [2, 5])
def test_blobs_id_and_clusters(backend, d):
    X, labels = blobs(d, n_clusters=4)
    shuffled = np.random.default_rng(0).permutation(labels)
    out = layer_geometry(X, {"blob": labels, "shuffled": shuffled}, k=16, z=1.6, backend=backend)
    assert out["id_gride"] == pytest.approx(d, rel=0.2)
    assert out["id_2nn"] == pytest.approx(d, rel=0.2)
    assert out["n_clusters"] == 4
    assert out["ari"]["blob"] >= 0.9
    assert abs(out["ari"]["shuffled"]) < 0.05  # the ARI is not 1 for any labelling
    assert 0.0 < out["core_fraction"] <= 1.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_overlapping_blobs_are_one_peak(backend):
    X, labels = blobs(3, n_clusters=3, sep=0.3, seed=1)
    out = layer_geometry(X, {"blob": labels}, backend=backend)
    assert out["n_clusters"] == 1 and out["ari"]["blob"] == 0.0


def test_degenerate_layer_is_skipped_with_a_reason():
    X = np.ones((50, 8))  # e.g. every prompt ends in the same token: identical embeddings
    out = layer_geometry(X, {"a": np.arange(50)})
    assert out["n"] == 50 and out["n_unique"] == 1 and "distinct points" in out["skipped"]
    assert "id_gride" not in out


# ------------------------------------------------------------------ backends


def test_resolve_backend():
    assert resolve_backend("no") == "builtin"
    assert resolve_backend("auto") == ("dadapy" if HAS_DADAPY else "builtin")
    with pytest.raises(SftlabError, match="auto, yes or no"):
        resolve_backend("maybe")
    if not HAS_DADAPY:
        with pytest.raises(SftlabError, match="pip install"):
            resolve_backend("yes")


@pytest.mark.skipif(not HAS_DADAPY, reason=NO_DADAPY)
@pytest.mark.parametrize("seed", range(6))
def test_builtin_equals_dadapy(seed):
    """Random mixtures (sizes, widths, overlaps differ): same Gride, 2NN, density, peaks, assignment and halo."""
    rng = np.random.default_rng(100 + seed)
    d, n_c = int(rng.integers(2, 8)), int(rng.integers(2, 12))
    centers = rng.normal(size=(n_c, d)) * rng.uniform(0.5, 4)
    labels = np.repeat(np.arange(n_c), rng.integers(20, 100, size=n_c))
    X = centers[labels] + rng.normal(size=(len(labels), d)) * rng.uniform(0.3, 1.5, size=(len(labels), 1))
    X = X @ rng.normal(size=(d, 30))
    for z in (0.5, 1.6, 3.0):
        a = layer_geometry(X, {"c": labels}, z=z, backend="builtin")
        b = layer_geometry(X, {"c": labels}, z=z, backend="dadapy")
        for key in ("id_gride", "id_2nn", "log_density_mean", "core_fraction"):
            assert a[key] == pytest.approx(b[key], rel=1e-6), key  # DADApy fits 2NN with curve_fit
        assert a["gride_scaling"]["n1"] == b["gride_scaling"]["n1"]
        assert a["gride_scaling"]["id"] == pytest.approx(b["gride_scaling"]["id"], rel=1e-9)
        assert a["n_clusters"] == b["n_clusters"] and a["ari"] == b["ari"]
