"""The landscape step of ``sftlab demo``: base model with and without solved examples (ICL) vs SFT vs DFT.

On the lab's in-domain test split, labelled by problem family and by answer:
the base model is read 0-shot and with solved examples from the train split
(ICL), drawn twice, as the recipe asks: from the question's own family (the
paper's prompts take MMLU examples from the question's subject) and at random
from the whole split; the SFT and DFT checkpoints the demo trained are read
0-shot. The 0-shot and SFT/DFT states are computed once for both shot sources.
The section it returns holds the per-layer curves (ID, density peaks, core
points, ARI per label; dashed same-label shots, dotted random ones), a table of
each condition's peaks and the family ARI per layer.

Budget (2 CPU cores, the 4-layer lab model): the forward passes over the
5-shot prompts dominate, so the second shot source nearly doubles the step
(measured on the lab, 1 thread: 79 CPU-seconds for both sources vs 43 for one
by default, 35 vs 23 with ``--quick``); the geometry of every layer and
condition takes a few seconds. docs/landscape.md has the details.
"""

from __future__ import annotations

from pathlib import Path

from sftlab.experiments.context import DemoEntry, EntryContext
from sftlab.methods.landscape.landscape import LandscapeConfig, run_landscape

COMPARED = {"sft": "SFT", "dft": "DFT"}  # demo entry name -> condition name


def landscape_config(
    ctx: EntryContext, entry: DemoEntry, checkpoints: dict[str, str], seed: int = 0
) -> LandscapeConfig:
    """The entry's :class:`LandscapeConfig`: its recipe (the demo's lab recipe; compare's paper recipe with its
    --label-field) on the context's probe records (the lab's in-domain test split; compare's first eval set), the
    starting model against ``checkpoints`` (``{condition name: path}``), shots from the training set, output in the
    entry's run folder."""
    recipe = ctx.recipe(entry.recipe, LandscapeConfig)
    return LandscapeConfig(**{
        **recipe.options, "model": f"base={ctx.model}",
        "compare": ",".join(f"{name}={path}" for name, path in checkpoints.items()),
        "data": ctx.probe_data, "shot_pool": ctx.train_data,
        "output_dir": str(ctx.run_dir(entry.name, None)), "seed": seed, "progress": False,
    })  # fmt: skip


def trained_checkpoints(ctx: EntryContext) -> dict[str, str]:
    """The first seed's models of the ``sft`` and ``dft`` entries, those that ran (found in their run folders)."""
    checkpoints = {}
    for name, label in COMPARED.items():
        model_dir = Path(ctx.run_dir(name, 0)) / "model"
        if (model_dir / "config.json").is_file():
            checkpoints[label] = str(model_dir)
    return checkpoints


def section(ctx: EntryContext, entries: list[DemoEntry]):
    """Run the landscape step (an analysis: the entry has no runs of its own) and return its report section."""
    (entry,) = entries
    return run_landscape(landscape_config(ctx, entry, trained_checkpoints(ctx)))["section"]
