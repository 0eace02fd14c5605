"""Advanced Density Peaks (ADP) clustering without DADApy.

d'Errico, Facco, Laio, Rodriguez, "Automatic topography of high-dimensional
data sets by non-parametric density peak clustering", Information Sciences
560 (2021) 476-492. This follows DADApy 0.3.4's
``compute_clustering_ADP_pure_python`` step by step, with a fixed ``k`` for
every point's neighbourhood (what ``compute_density_kNN(k)`` sets):

1. **Putative peaks**: ``g = log rho - err`` (made positive); a point is a
   peak when no point among its ``k`` neighbours has a higher ``g``, and a peak
   is dropped when a denser point has it among its own ``k`` neighbours.
2. **Assignment**: in decreasing ``g``, each point joins the cluster of its
   nearest already-assigned neighbour.
3. **Saddles**: between two clusters, the densest point of one that has a
   point of the other among its ``k`` neighbours and is that point's closest
   member of its own cluster.
4. **Merging**: a pair of peaks is *not* statistically distinct when, for
   either peak, ``log rho_peak - log rho_saddle < Z (err_peak + err_saddle)``;
   such pairs are merged, highest saddle first, until every pair is distinct.
5. **Halo**: points of a cluster below its highest saddle are its halo; the
   rest are its *core*.

The one departure, for a rare case: a point whose ``maxk`` neighbours are all
still unassigned joins the densest peak's cluster (DADApy follows the dropped
peaks near it to the peak that absorbed them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class ADPResult:
    labels: np.ndarray  # (N,) cluster of every point, 0..n_clusters-1
    core_labels: np.ndarray  # (N,) as labels, -1 for halo points
    n_clusters: int
    centers: list[int]  # index of each cluster's peak

    @property
    def core_fraction(self) -> float:
        return float(np.mean(self.core_labels != -1))


def adp_clustering(
    log_den: np.ndarray, log_den_err: np.ndarray, indices: np.ndarray, k: int, z: float = 1.65
) -> ADPResult:
    """ADP clustering of ``N`` points from their log density, its error and their kNN ``indices`` ``(N, maxk+1)``.

    ``k`` is the neighbourhood of the density estimate; ``z`` the merging
    threshold in units of the error (larger ``z``: fewer peaks; DADApy's
    default 1.65, the paper's 1.6).
    """
    n, maxk = indices.shape[0], indices.shape[1] - 1
    log_den_c = log_den - np.min(log_den - z * log_den_err) + 1  # positive even after subtracting z*err
    g = log_den_c - log_den_err

    centers = _find_peaks(g, indices, k)
    assign = _assign(g, indices, centers)
    bord, bord_err = _saddles(g, log_den_c, log_den_err, indices, k, maxk, assign, centers)
    surviving, members = _merge(z, log_den_c, log_den_err, centers, assign, bord, bord_err)

    labels = np.empty(n, dtype=int)
    core = np.empty(n, dtype=int)
    keep = [c for c in range(len(centers)) if surviving[c]]
    for new, c in enumerate(keep):
        labels[members[c]] = new
        halo_level = max(bord[c, j] for j in keep)  # the diagonal holds -1
        pts = np.asarray(members[c])
        core[pts] = np.where(log_den_c[pts] < halo_level, -1, new)
    return ADPResult(labels=labels, core_labels=core, n_clusters=len(keep), centers=[centers[c] for c in keep])


def _find_peaks(g, indices, k) -> list[int]:
    """Step 1: local maxima of ``g`` within ``k`` neighbours, minus those inside a denser point's neighbourhood."""
    neighbours = indices[:, 1 : k + 1]  # (N, k)
    candidates = np.flatnonzero(np.all(g[neighbours] <= g[:, None], axis=1))
    in_hood = indices[:, : k + 1]  # (N, k+1): a point and its k neighbours
    centers = []
    for c in candidates:
        holders = np.flatnonzero((in_hood == c).any(axis=1))  # points with c in their neighbourhood
        if g[holders].max() <= g[c]:
            centers.append(int(c))
    return centers


def _assign(g, indices, centers) -> np.ndarray:
    """Step 2: each point, densest first, joins its nearest assigned neighbour's cluster."""
    n = len(g)
    assign = np.full(n, -1, dtype=int)
    assign[centers] = np.arange(len(centers))
    order = np.argsort(-g, kind="stable")
    for i in order:
        if assign[i] != -1:
            continue
        labelled = assign[indices[i, 1:]]
        hit = np.flatnonzero(labelled != -1)
        if hit.size:
            assign[i] = labelled[hit[0]]
        else:  # no assigned neighbour within maxk (rare): densest peak overall
            assign[i] = int(np.argmax(g[centers]))
    return assign


def _saddles(g, log_den_c, log_den_err, indices, k, maxk, assign, centers):
    """Step 3: the log density (and its error) at the saddle between every pair of clusters."""
    n_c = len(centers)
    best_g = np.zeros((n_c, n_c))
    bord_idx = np.full((n_c, n_c), -1, dtype=int)
    is_center = np.zeros(len(g), dtype=bool)
    is_center[centers] = True
    for p1 in np.flatnonzero(~is_center):
        c = assign[p1]
        others = np.flatnonzero(assign[indices[p1, 1 : k + 1]] != c)
        if not others.size:
            continue
        p2 = indices[p1, 1 + others[0]]  # p1's nearest neighbour in another cluster
        cp = assign[p2]
        for po in indices[p2, 1:maxk]:  # p1 must be p2's nearest member of cluster c (DADApy's range)
            if po == p1:
                break
            if assign[po] == c:
                p2 = -1
                break
        if p2 != -1 and g[p1] > best_g[c, cp]:
            best_g[c, cp] = best_g[cp, c] = g[p1]
            bord_idx[c, cp] = bord_idx[cp, c] = p1
    found = bord_idx != -1
    bord = np.where(found, log_den_c[bord_idx], 0.0)
    bord_err = np.where(found, log_den_err[bord_idx], 0.0)
    np.fill_diagonal(bord, -1.0)
    np.fill_diagonal(bord_err, 0.0)
    return bord, bord_err


def _merge(z, log_den_c, log_den_err, centers, assign, bord, bord_err):
    """Step 4: merge peaks that are not distinct at threshold ``z``, highest saddle first."""
    n_c = len(centers)
    peak = log_den_c[centers][:, None]  # (C, 1)
    peak_err = log_den_err[centers][:, None]
    members = [list(np.flatnonzero(assign == c)) for c in range(n_c)]
    surviving = [True] * n_c
    iu = np.triu_indices(n_c, k=1)
    while True:
        weak = (peak - bord) < z * (peak_err + bord_err)  # (C, C): peak i vs saddle (i, j)
        weak = (weak | weak.T)[iu]
        if not weak.any():
            return surviving, members
        pairs = np.flatnonzero(weak)
        top = pairs[np.argmax(bord[iu][pairs])]  # first pair with the highest saddle
        i, j = int(iu[0][top]), int(iu[1][top])
        c1 = (peak[i, 0] - bord[i, j]) / (peak_err[i, 0] + bord_err[i, j])
        c2 = (peak[j, 0] - bord[i, j]) / (peak_err[j, 0] + bord_err[i, j])
        if c1 < c2:  # keep the more significant peak
            i, j = j, i
        surviving[j] = False
        members[i].extend(members[j])
        members[j] = []
        bord[i, j] = bord[j, i] = -1.0
        bord_err[i, j] = bord_err[j, i] = 0.0
        others = [m for m in range(n_c) if m not in (i, j)]
        higher = [m for m in others if bord[i, m] < bord[j, m]]  # i inherits j's higher saddles
        bord[i, higher] = bord[higher, i] = bord[j, higher]
        bord_err[i, higher] = bord_err[higher, i] = bord_err[j, higher]
        bord[j, others] = bord[others, j] = -1.0
        bord_err[j, others] = bord_err[others, j] = 0.0
