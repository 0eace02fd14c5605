"""The lab recipes (``configs/lab/*.yaml``): the demo's only source of lab-scale settings.

The recipes ship inside the package (``sftlab/configs/lab/``, package data),
so ``sftlab demo`` finds them from any working directory; the repository's
``configs/lab`` is a symlink to that folder, so ``sftlab train --config
configs/lab/irft.yaml`` reads the same files. A recipe holds a command's
options; its ``demo:`` block holds what only the demo reads (e.g. S2L's
budgets) and the overrides of the demo's sizes (:data:`SIZES`): ``standard:`` for
a plain ``sftlab demo``, ``quick:`` on top of it for ``--quick``; ``--full``
runs the options as written (what ``sftlab train --config`` runs).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from importlib import resources

from sftlab.config import read_yaml, recipe_values
from sftlab.errors import SftlabError

SIZES = (
    "full",
    "standard",
    "quick",
)  # the demo's sizes, largest first; each applies the overrides of those after "full"


@dataclass(frozen=True)
class LabRecipe:
    """One lab recipe at one demo size: ``options`` for the command's config class, ``demo`` for the demo."""

    path: str  # as entries name it: "configs/lab/irft.yaml"
    options: dict
    demo: dict = field(default_factory=dict)

    def only(self, cls) -> dict:
        """The options that are fields of ``cls`` (e.g. DART's recipe for the adaptation step alone)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return {k: v for k, v in self.options.items() if k in names}


def recipe_text(path: str) -> str:
    """The text of ``path`` ("configs/lab/<name>.yaml") from the installed package."""
    if not path.startswith("configs/lab/") or not path.endswith(".yaml"):
        raise SftlabError(f"{path}: a lab recipe is configs/lab/<name>.yaml")
    resource = resources.files("sftlab").joinpath(*path.split("/"))
    if not resource.is_file():
        raise SftlabError(f"{path}: no such lab recipe in the sftlab package")
    return resource.read_text(encoding="utf-8")


def read_recipe(path: str, cls, *, size: str = "full", quick: bool = False) -> LabRecipe:
    """Read lab recipe ``path`` for config class ``cls`` at demo size ``size`` (:data:`SIZES`; ``quick=True`` is
    ``size="quick"``): "standard" applies ``demo.standard``, "quick" ``demo.standard`` then ``demo.quick``."""
    size = "quick" if quick else size
    if size not in SIZES:
        raise SftlabError(f"{path}: unknown demo size {size!r} (known: {', '.join(SIZES)})")
    data = read_yaml(recipe_text(path), path)
    demo = dict(data.pop("demo", None) or {})
    tiers = {name: dict(demo.pop(name, None) or {}) for name in SIZES[1:]}
    options = recipe_values(data, cls, path)
    names = {f.name for f in dataclasses.fields(cls)}
    for name in SIZES[1 : SIZES.index(size) + 1]:
        overrides = tiers[name]
        options.update(recipe_values({k: v for k, v in overrides.items() if k in names}, cls, f"{path}: demo.{name}"))
        demo.update({k: v for k, v in overrides.items() if k not in names})
    return LabRecipe(path, options, demo)
