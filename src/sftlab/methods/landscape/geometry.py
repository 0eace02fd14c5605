"""The geometry of one layer's representations: ID, density, density peaks, ARI.

Follows the analysis of Doimo et al., "The representation landscape of
few-shot learning and fine-tuning in large language models" (NeurIPS 2024,
arXiv 2409.03662; code: github.com/diegodoimo/geometry_icl_finetuning,
``analysis/utils.py``), with its defaults:

- identical points are removed, coordinates in float64;
- the intrinsic dimension is Gride's at neighbour ranks ``(k, 2k)``, ``k = 16``
  (the code computes the Gride scaling and picks index ``log2(k)``); the 2NN
  estimate (Facco et al. 2017) is reported beside it;
- kNN log density with ``k = 16`` neighbours, in that intrinsic dimension;
- Advanced Density Peaks clustering with ``Z = 1.6``; the number of peaks and
  the ARI against each label use every point (``halo=False``), the fraction of
  core points the halo assignment (``halo=True``).

Two implementations give these numbers: DADApy's (``backend="dadapy"``, the
library the paper used; optional extra ``sftlab[landscape]``) and sftlab's own
(``backend="builtin"``: :mod:`.estimators` and :mod:`.adp`, the same
algorithms on scikit-learn's nearest neighbours). Every result records which.
"""

from __future__ import annotations

import importlib.metadata

import numpy as np
from sklearn.metrics import adjusted_rand_score

from sftlab.errors import SftlabError

from .adp import adp_clustering
from .estimators import gride_scaling, id_2nn, id_gride, knn, knn_log_density, remove_duplicates

MAXK = 100  # nearest neighbours kept per point (DADApy's default maxk)
INSTALL_HINT = "pip install 'sftlab[landscape]' (DADApy 0.3.4 needs numpy < 2; see docs/landscape.md)"


def dadapy_version() -> str | None:
    """The installed DADApy version, or None when it cannot be imported."""
    try:
        import dadapy  # noqa: F401
    except Exception:  # ImportError, or a broken install (e.g. a numpy ABI mismatch)
        return None
    return importlib.metadata.version("dadapy")


def resolve_backend(use_dadapy: str) -> str:
    """``"dadapy"`` or ``"builtin"`` for ``use_dadapy`` in auto (DADApy when importable) / yes / no."""
    if use_dadapy not in ("auto", "yes", "no"):
        raise SftlabError(f"use_dadapy: expected auto, yes or no, got '{use_dadapy}'")
    if use_dadapy == "no":
        return "builtin"
    if dadapy_version() is not None:
        return "dadapy"
    if use_dadapy == "yes":
        raise SftlabError(f"use_dadapy=yes but DADApy is not installed: {INSTALL_HINT}")
    return "builtin"


def backend_label(backend: str) -> str:
    """How a result names the implementation that produced it."""
    return f"dadapy {dadapy_version()}" if backend == "dadapy" else "sftlab builtin (estimators.py, adp.py)"


def layer_geometry(
    X: np.ndarray, labels: dict[str, np.ndarray] | None = None, *, k: int = 16, z: float = 1.6, backend: str = "builtin"
) -> dict:
    """Geometry of the rows of ``X`` ``(N, D)``; ``labels`` maps a label name to ``(N,)`` values for the ARI.

    Returns ``n``, ``n_unique``, ``id_gride`` (ranks k, 2k), ``id_2nn``,
    ``gride_scaling`` (``n1`` and ``id`` lists), ``log_density_mean``/``_std``,
    ``n_clusters``, ``core_fraction`` and ``ari`` ``{label: ARI}``. With fewer
    than ``2k + 2`` distinct points only ``n``, ``n_unique`` and ``skipped`` (the
    reason) are returned.
    """
    labels = labels or {}
    X = np.asarray(X, dtype=np.float64)
    keep = remove_duplicates(X)
    out: dict = {"n": int(X.shape[0]), "n_unique": int(len(keep))}
    if len(keep) < 2 * k + 2:
        out["skipped"] = f"{len(keep)} distinct points, fewer than 2k+2 = {2 * k + 2} (k={k})"
        return out
    X = X[keep]
    labels = {name: np.asarray(values)[keep] for name, values in labels.items()}
    maxk = min(MAXK, len(keep) - 1)
    compute = _with_dadapy if backend == "dadapy" else _builtin
    result = compute(X, k=k, z=z, maxk=maxk)
    assignment = result.pop("assignment")
    result["ari"] = {name: float(adjusted_rand_score(values, assignment)) for name, values in labels.items()}
    return {**out, **result}


def _builtin(X: np.ndarray, *, k: int, z: float, maxk: int) -> dict:
    distances, indices = knn(X, maxk)
    n1s, ids = gride_scaling(distances)
    id_k = id_gride(distances, k)
    log_den, log_den_err = knn_log_density(distances, id_k, k)
    adp = adp_clustering(log_den, log_den_err, indices, k, z)
    return _summary(id_k, id_2nn(distances), n1s, ids, log_den, adp.n_clusters, adp.core_fraction, adp.labels)


def _with_dadapy(X: np.ndarray, *, k: int, z: float, maxk: int) -> dict:
    from dadapy import Data

    data = Data(coordinates=X, maxk=maxk, verbose=False)
    data.compute_distances()
    id_2nn_value = float(data.compute_id_2NN()[0])
    ids, _, n2s = data.return_id_scaling_gride(range_max=maxk, return_ranks=True)
    n1s = np.asarray(n2s) // 2
    # k off the powers of two: the same Gride formula at (k, 2k) on DADApy's distances
    id_k = float(ids[list(n1s).index(k)]) if k in n1s else id_gride(data.distances, k)
    data.set_id(id_k)  # the density uses the Gride ID at the density's own scale, as the paper's code does
    log_den, _ = data.compute_density_kNN(k=k)
    assignment = np.asarray(data.compute_clustering_ADP(Z=z, halo=False))
    n_clusters = int(data.N_clusters)
    core = np.asarray(data.compute_clustering_ADP(Z=z, halo=True))
    return _summary(id_k, id_2nn_value, n1s, ids, log_den, n_clusters, float(np.mean(core != -1)), assignment)


def _summary(id_k, id_2nn_value, n1s, ids, log_den, n_clusters, core_fraction, assignment) -> dict:
    return {
        "id_gride": id_k,
        "id_2nn": id_2nn_value,
        "gride_scaling": {"n1": [int(n) for n in n1s], "id": [float(v) for v in ids]},
        "log_density_mean": float(np.mean(log_den)),
        "log_density_std": float(np.std(log_den)),
        "n_clusters": int(n_clusters),
        "core_fraction": float(core_fraction),
        "assignment": np.asarray(assignment),
    }
