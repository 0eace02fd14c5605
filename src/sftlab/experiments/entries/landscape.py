"""The landscape step of ``sftlab demo``: base model with and without solved examples (ICL) vs SFT vs DFT.

On the lab's in-domain test split, labelled by problem family and by answer:
the base model is read 0-shot and with solved examples from the train split
(ICL), the SFT and DFT checkpoints the demo trained 0-shot. The section it
returns holds the per-layer curves (ID, density peaks, core points, ARI per
label) and a table of each condition's peaks.

Budget (2 CPU cores, the 4-layer lab model): the forward passes over the
5-shot prompts dominate; the geometry of every layer and condition takes a
few seconds. Measured on a lab stand-in: 25 CPU-seconds with ``--quick``
(200 questions, shots 0 and 5) and 54 CPU-seconds by default (400 questions,
shots 0, 1 and 5); docs/landscape.md has the details.
"""

from __future__ import annotations

from pathlib import Path

from sftlab.methods.landscape.landscape import LandscapeConfig, run_landscape

DEFAULT = {"shots": "0,1,5", "max_examples": 400}
QUICK = {"shots": "0,5", "max_examples": 200}
COMPARED = {"sft": "SFT", "dft": "DFT"}  # demo entry name -> condition name


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
    """Run the landscape step for ``ctx`` and return ``{"section", "metrics", "output_dir"}``.

    ``ctx`` (attributes or dict keys) gives ``lab`` (LabArtifacts) and either

    - ``checkpoints`` (``{name: path}``) and ``output_dir`` (this step writes
      under ``output_dir/landscape``), or
    - the demo registry's ``DemoContext``: the SFT and DFT models are then the
      first seed's checkpoints of its ``sft`` and ``dft`` entries (those that
      ran), and the output goes to ``run_dir("landscape", None)``;

    and optionally ``quick`` and ``seed``.
    """
    get = (lambda k, d=None: ctx.get(k, d)) if isinstance(ctx, dict) else (lambda k, d=None: getattr(ctx, k, d))
    checkpoints = get("checkpoints")
    if checkpoints is None:  # the demo registry's context
        checkpoints = {}
        for entry, label in COMPARED.items():
            model_dir = Path(ctx.run_dir(entry, 0)) / "model"
            if (model_dir / "config.json").is_file():
                checkpoints[label] = str(model_dir)
        out = Path(ctx.run_dir("landscape", None))
    else:
        out = Path(get("output_dir")) / "landscape"
    cfg = demo_config(get("lab"), dict(checkpoints), out, quick=bool(get("quick", False)),
                      seed=int(get("seed", 0) or 0), progress=get("progress", True))
    result = run_landscape(cfg)
    return {"section": result["section"], "metrics": result["metrics"], "output_dir": result["output_dir"]}


def section(ctx):
    """The report section for a demo registry entry (``DemoEntry(..., section=section)``)."""
    return demo_entry(ctx)["section"]


def _register() -> None:
    from sftlab.experiments.runner import DemoEntry, register

    register(DemoEntry(
        "landscape", "landscape", "Per-layer geometry (ID, density peaks, ARI) of base + ICL vs SFT vs DFT "
        "(arXiv 2409.03662).", run=None, section=section,
    ))


_register()
