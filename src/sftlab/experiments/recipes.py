"""The lab recipes (``configs/lab/*.yaml``): the demo's only source of lab-scale settings.

The recipes ship inside the package (``sftlab/configs/lab/``, package data),
so ``sftlab demo`` finds them from any working directory; the repository's
``configs/lab`` is a symlink to that folder, so ``sftlab train --config
configs/lab/irft.yaml`` reads the same files. A recipe holds a command's
options; its ``demo:`` block holds what only the demo reads (e.g. S2L's
budgets) and, under ``quick:``, the overrides of ``sftlab demo --quick``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from importlib import resources

from sftlab.config import read_yaml, recipe_values
from sftlab.errors import SftlabError


@dataclass(frozen=True)
class LabRecipe:
    """One lab recipe, ``--quick`` applied: ``options`` for the command's config class, ``demo`` for the demo."""

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


def read_recipe(path: str, cls, *, quick: bool = False) -> LabRecipe:
    """Read lab recipe ``path`` for config class ``cls``; with ``quick``, its ``demo.quick`` overrides apply."""
    data = read_yaml(recipe_text(path), path)
    demo = dict(data.pop("demo", None) or {})
    overrides = dict(demo.pop("quick", None) or {})
    options = recipe_values(data, cls, path)
    if quick:
        names = {f.name for f in dataclasses.fields(cls)}
        options.update(recipe_values({k: v for k, v in overrides.items() if k in names}, cls, f"{path}: demo.quick"))
        demo.update({k: v for k, v in overrides.items() if k not in names})
    return LabRecipe(path, options, demo)
