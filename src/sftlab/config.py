"""Config dataclasses double as CLI flags.

Each field's ``metadata["help"]`` is its documentation and its ``--help`` text,
so there is one place to document an option. A YAML recipe (``--config``) sets
defaults; flags given on the command line win over the recipe. A ``list[str]``
field is a repeatable flag (``--eval a=x.jsonl --eval b=y.jsonl``); its value
in a recipe is a YAML list.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from pathlib import Path

import yaml

from .errors import SftlabError


def help_meta(text: str, **extra) -> dict:
    """A dataclass field's metadata: its ``--help`` text, plus e.g. ``choices``."""
    return {"help": text, **extra}


def add_dataclass_args(parser: argparse.ArgumentParser, cls) -> None:
    """Add one ``--flag`` per field of dataclass ``cls`` (underscores become dashes)."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.metadata.get("cli") is False:
            continue
        flag = "--" + f.name.replace("_", "-")
        kind = _base_type(hints[f.name])
        help_text = f.metadata.get("help", "")
        default = f.default if f.default is not dataclasses.MISSING else None
        kwargs: dict = {"dest": f.name, "default": argparse.SUPPRESS, "help": f"{help_text} (default: {default})"}
        if "choices" in f.metadata:
            kwargs["choices"] = f.metadata["choices"]
        if kind is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, **kwargs)
        elif kind is list:  # repeatable: each use appends one value
            kwargs["help"] = f"{help_text} (repeatable)"
            parser.add_argument(flag, action="append", type=str, metavar=f.name.upper(), **kwargs)
        else:
            parser.add_argument(flag, type=kind if kind in (int, float) else str, metavar=f.name.upper(), **kwargs)


def build_config(cls, args: argparse.Namespace, recipe_path: str | None = None):
    """Instantiate ``cls``: dataclass defaults < YAML recipe < command-line flags."""
    values: dict = {}
    if recipe_path:
        values.update(load_recipe(recipe_path, cls))
    names = {f.name for f in dataclasses.fields(cls)}
    values.update({k: v for k, v in vars(args).items() if k in names})
    return cls(**values)


def load_recipe(path: str, cls) -> dict:
    """The options a YAML recipe sets for ``cls``, typed. A top-level ``demo:`` block (settings that only
    ``sftlab demo`` reads, see ``configs/lab/``) is skipped."""
    p = Path(path)
    if not p.is_file():
        raise SftlabError(f"{path}: recipe file not found")
    data = read_yaml(p.read_text(encoding="utf-8"), str(path))
    data.pop("demo", None)
    return recipe_values(data, cls, str(path))


def read_yaml(text: str, where: str) -> dict:
    """A recipe's YAML text as a mapping; one clear error otherwise."""
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        line = getattr(getattr(e, "problem_mark", None), "line", None)
        where = f"{where}:{line + 1}" if line is not None else where
        raise SftlabError(f"{where}: not valid YAML ({getattr(e, 'problem', e)})") from None
    if not isinstance(data, dict):
        raise SftlabError(f"{where}: a recipe must be a mapping of option: value")
    return data


def recipe_values(data: dict, cls, where: str) -> dict:
    """``data`` (option: value) checked against the fields of dataclass ``cls``; numbers typed by the field."""
    names = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    out = {}
    for key, value in data.items():
        name = str(key).replace("-", "_")
        if name not in names:
            raise SftlabError(f"{where}: field '{key}': unknown option for {cls.__name__}")
        kind = _base_type(hints[name])
        if kind is list:
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list):
                raise SftlabError(f"{where}: field '{key}': expected a list, got {value!r}")
            value = [str(v) for v in value]
        if value is not None and kind in (int, float):
            try:  # YAML reads "1e-4" (no dot) as a string
                value = kind(float(value)) if kind is int else float(value)
            except (TypeError, ValueError):
                raise SftlabError(f"{where}: field '{key}': expected a number, got {value!r}") from None
        out[name] = value
    return out


def _base_type(hint):
    """``int | None`` -> int; ``str`` -> str; ``list[str]`` -> list."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return _base_type(args[0]) if args else str
    if origin is list:
        return list
    return hint if isinstance(hint, type) else str
