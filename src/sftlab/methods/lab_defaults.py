"""The embedded lab as every method's default: the one place below the experiments that imports ``sftlab.lab``.

A method given no ``--model`` / ``--data`` asks here; the lab is built (and
cached) on first use. An import-linter contract keeps every other method module
off ``sftlab.lab``.
"""

from __future__ import annotations

from sftlab.errors import SftlabError


def ensure_lab():
    """The lab's artifacts (model folder, data splits, config), built on first use."""
    try:
        from sftlab.lab import ensure_lab as _ensure_lab
    except ImportError as e:  # pragma: no cover - the lab ships with sftlab
        raise SftlabError(f"no --model/--data given and the embedded lab is unavailable ({e})") from None
    return _ensure_lab()


def resolve_lab_defaults(model: str | None, data: str | None) -> tuple[str, str]:
    """Fill a missing --model/--data with the embedded lab's (building it on first use)."""
    if model is not None and data is not None:
        return model, data
    lab = ensure_lab()
    return (model or str(lab.model_dir)), (data or str(lab.data["train"]))


def eval_setup() -> tuple[str, dict[str, str]]:
    """``(model path, {split: data source})`` of the lab's test splits."""
    try:
        from sftlab.lab import default_eval_setup
    except ImportError:
        raise SftlabError("no --model/--data given and the embedded lab is not available") from None
    return default_eval_setup()


def restatement_triples(lab, n: int, native_share: float, seed: int) -> list[dict]:
    """New lab problems for DART's lab mapper (see :func:`sftlab.lab.mapper.restatement_triples`)."""
    from sftlab.lab.mapper import restatement_triples as _triples

    exclude = {r["question"] for split in lab.data for r in lab.records(split)}
    return _triples(lab.config, n, native_share, seed, exclude)


def shipped_artifact(lab, name: str, dest) -> bool:
    """Copy the artifact ``name`` that ships with the lab's shipped build to ``dest`` (see
    :func:`sftlab.lab.shipped.shipped_artifact`); False when ``lab`` is not that build or it does not ship."""
    from sftlab.lab.shipped import shipped_artifact as _shipped

    return _shipped(lab, name, dest)
