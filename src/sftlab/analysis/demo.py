"""The landscape step of ``sftlab demo``: base model with and without solved examples (ICL) vs SFT vs DFT.

On the lab's in-domain test split, labelled by problem family and by answer:
the base model is read 0-shot and with solved examples from the train split
(ICL), the SFT and DFT checkpoints the demo trained 0-shot. The section it
returns holds the per-layer curves (ID, density peaks, core points, ARI per
label) and a table of each condition's peaks.

Budget (2 shared CPU cores, the default 4-layer lab model): the work is the
forward passes over the prompts and one ADP clustering per layer and
condition; ``demo_config`` sizes it to about 90 s in the default demo and 20 s
in ``--quick``.
"""

from __future__ import annotations

from pathlib import Path

from .landscape import LandscapeConfig, run_landscape

DEFAULT = {"shots": "0,1,5", "max_examples": 400}
QUICK = {"shots": "0,5", "max_examples": 200}


def demo_config(lab, checkpoints: dict[str, str], output_dir: str | Path, *, quick: bool = False, seed: int = 0,
                progress: bool = True) -> LandscapeConfig:
    """The demo's :class:`LandscapeConfig`: ``lab`` a ``LabArtifacts`` (``model_dir``, ``data``),
    ``checkpoints`` ``{name: path}`` of the fine-tuned models (e.g. ``{"SFT": ..., "DFT": ...}``)."""
    size = QUICK if quick else DEFAULT
    return LandscapeConfig(
        model=f"base={lab.model_dir}",
        compare=",".join(f"{name}={path}" for name, path in checkpoints.items()),
        data=str(lab.data["test_id"]),
        shot_pool=str(lab.data["train"]),
        label_field="family,answer",
        output_dir=str(output_dir),
        batch_size=32,
        seed=seed,
        progress=progress,
        **size,
    )


def demo_entry(ctx) -> dict:
    """Run the landscape step for the demo context ``ctx`` and return ``{"section", "metrics", "output_dir"}``.

    ``ctx`` provides (as attributes or keys): ``lab`` (LabArtifacts),
    ``checkpoints`` (``{name: path}`` of the trained models), ``output_dir``
    (this step's folder), and optionally ``quick`` and ``seed``. The returned
    ``metrics`` belong under the demo report's ``metrics["sections"]["landscape"]``,
    the ``section`` in its ``sections``.
    """
    get = (lambda k, d=None: ctx.get(k, d)) if isinstance(ctx, dict) else (lambda k, d=None: getattr(ctx, k, d))
    cfg = demo_config(get("lab"), dict(get("checkpoints") or {}), Path(get("output_dir")) / "landscape",
                      quick=bool(get("quick", False)), seed=int(get("seed", 0) or 0), progress=get("progress", True))
    result = run_landscape(cfg)
    return {"section": result["section"], "metrics": result["metrics"], "output_dir": result["output_dir"]}
