"""Intrinsic dimension and kNN density from nearest-neighbour distances.

These are the estimators the representation-landscape analysis uses, written
on top of scikit-learn's ``NearestNeighbors`` so they run without DADApy. Each
follows DADApy 0.3.4 (https://github.com/sissa-data-science/DADApy), the
library the paper's code calls, step for step; ``tests/analysis`` checks them
against DADApy where it is installed.

- 2NN: Facco, d'Errico, Rodriguez, Laio, "Estimating the intrinsic dimension of
  datasets by a minimal neighborhood information", Sci. Rep. 7 (2017).
- Gride: Denti, Doimo, Laio, Mira, "The generalized ratios intrinsic dimension
  estimator", Sci. Rep. 12 (2022), arXiv 2104.13832.
- kNN density: the volume of the ball that holds the k nearest neighbours, in
  the intrinsic dimension (d'Errico et al., Inf. Sci. 560 (2021)).

Distances follow DADApy's layout: ``distances[i, 0] == 0`` is the point
itself and ``distances[i, j]`` is its j-th nearest neighbour.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import betaln, gammaln
from sklearn.neighbors import NearestNeighbors

EPS = np.finfo(np.float64).eps


def remove_duplicates(X: np.ndarray) -> np.ndarray:
    """Indices (sorted) of the first copy of every distinct row of ``X``.

    Identical points have zero neighbour distances, which break every
    estimator here; the paper's code drops them the same way.
    """
    _, first = np.unique(X, axis=0, return_index=True)
    return np.sort(first)


def knn(X: np.ndarray, maxk: int) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean distances and indices of the ``maxk`` nearest neighbours, self in column 0.

    Returns ``(distances, indices)``, both ``(N, maxk + 1)``.
    """
    n = X.shape[0]
    if not 1 <= maxk < n:
        raise ValueError(f"maxk must be in [1, N-1] = [1, {n - 1}], got {maxk}")
    nn = NearestNeighbors(n_neighbors=maxk).fit(X)
    dist, idx = nn.kneighbors()  # excludes each point itself: (N, maxk)
    self_col = np.arange(n)[:, None]
    distances = np.hstack([np.zeros((n, 1)), dist])  # (N, maxk + 1)
    indices = np.hstack([self_col, idx])
    distances[:, 1:] = np.maximum(distances[:, 1:], EPS)  # DADApy's remove_zero_dists
    return distances, indices


def id_2nn(distances: np.ndarray, fraction: float = 0.9) -> float:
    """2NN intrinsic dimension (Facco et al. 2017), DADApy's ``compute_id_2NN`` default.

    With ``mu_i = r2_i / r1_i``, ``-log(1 - F(mu)) = d log(mu)`` where F is the
    empirical CDF; ``d`` is the least-squares slope through the origin on the
    ``fraction`` smallest ``mu`` (the largest are discarded as outliers).
    """
    mus = np.sort(np.log(distances[:, 2] / distances[:, 1]))
    n = len(mus)
    n_eff = int(n * fraction)
    x = mus[:n_eff]
    y = -np.log(1 - np.arange(1, n_eff + 1) / n)
    return float(x @ y / (x @ x))


def id_gride(
    distances: np.ndarray, n1: int, n2: int | None = None, d0: float = 1e-3, d1: float = 1e3, eps: float = 1e-7
) -> float:
    """Gride intrinsic dimension from the ratios ``r_{n2} / r_{n1}`` (default ``n2 = 2 n1``).

    Maximum likelihood of ``d`` under the ratios' exact distribution (Denti et
    al. 2022, eq. 4), found by bisection on the derivative as DADApy does.
    ``n1 = 1, n2 = 2`` is the 2NN maximum-likelihood estimate ``(N-1) / sum(log mu)``.
    """
    n2 = 2 * n1 if n2 is None else n2
    mus = _filter_mus(distances[:, n2] / distances[:, n1])
    n = len(mus)
    log_mus = np.log(mus)

    def neg_dloglik(d: float) -> float:  # minus the derivative of the log-likelihood in d
        one_m_mus_d = np.maximum(1.0 - mus ** (-d), 2 * eps)
        return float(np.sum(((1 - n2 + n1) / one_m_mus_d + n2 - 1.0) * log_mus) - (n - 1) / d)

    l1 = neg_dloglik(d1)
    while abs(d0 - d1) > eps:
        d2 = (d0 + d1) / 2.0
        if neg_dloglik(d2) * l1 > 0:
            d1 = d2
        else:
            d0 = d2
    return (d0 + d1) / 2.0


def gride_loglik(d: float, mus: np.ndarray, n1: int, n2: int) -> float:
    """Log-likelihood of ``d`` given ratios ``mus`` (Denti et al. 2022, eq. 4); for tests and plots."""
    mus = np.asarray(mus, dtype=np.float64)
    n = len(mus)
    return float(
        (n - 1) * math.log(d)  # DADApy uses N - 1 here (an unbiased-style correction)
        + np.sum((n2 - n1 - 1) * np.log(mus**d - 1))
        - n * betaln(n2 - n1, n1)
        - np.sum(((n2 - 1) * d + 1) * np.log(mus))
    )


def gride_scaling(distances: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gride ID at neighbour ranks ``n1 = 1, 2, 4, ...`` (``n2 = 2 n1``) as far as ``distances`` reach.

    Returns ``(n1s, ids)``. The paper reads the ID at ``n1 = k`` (the density's
    neighbour count), where it has stopped drifting with scale.
    """
    maxk = distances.shape[1] - 1
    n1s = np.array([2**i for i in range(int(math.log2(maxk)))])  # 2 * n1 <= maxk
    return n1s, np.array([id_gride(distances, int(n1)) for n1 in n1s])


def knn_log_density(distances: np.ndarray, intrinsic_dim: float, k: int) -> tuple[np.ndarray, np.ndarray]:
    """kNN log density and its error, DADApy's ``compute_density_kNN(k)``.

    ``log rho_i = log k - log N - log(V_d r_{i,k}^d)`` with ``V_d`` the volume
    of the unit ball in ``d = intrinsic_dim`` dimensions; the error is
    ``1 / sqrt(k)``. Returns ``(log_den, log_den_err)``, each ``(N,)``.
    """
    n, d = distances.shape[0], float(intrinsic_dim)
    log_unit_ball = d / 2.0 * math.log(math.pi) - gammaln((d + 2) / 2)
    log_den = math.log(k) - log_unit_ball - d * np.log(distances[:, k]) - math.log(n)
    return log_den, np.full(n, 1.0 / math.sqrt(k))


def _filter_mus(mus: np.ndarray) -> np.ndarray:
    """DADApy's guard: nudge ratios of exactly 1, drop extreme ratios (likely near-duplicate points)."""
    mus = np.where(mus == 1, mus + 10 * EPS, mus)
    q3, q2 = np.percentile(mus, [95, 50])
    return mus[mus < 20 * (q3 - q2) + q2]
