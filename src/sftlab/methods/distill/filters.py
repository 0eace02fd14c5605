"""Filters for self-distillation, built by name from a short spec (``"verifier,length:k=2,near_dedup"``).

:func:`build_filters` turns a spec into filters; each filter has a config
dataclass whose fields document its options. The interface and the chain are in
:mod:`.chain`, the generic filters in :mod:`.generic`, the protein pack's in
:mod:`.protein`.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Callable
from dataclasses import dataclass, field, fields

import yaml

from sftlab.errors import SftlabError

from .chain import Candidate, ChainResult, Filter, FilterChain
from .generic import (
    ArithmeticConfig,
    ArithmeticFilter,
    DedupConfig,
    ExactDedupFilter,
    LengthConfig,
    LengthFilter,
    NearDedupConfig,
    NearDedupFilter,
    NoveltyConfig,
    NoveltyFilter,
    PerplexityConfig,
    PerplexityFilter,
    RegexConfig,
    RegexFilter,
    VerifierConfig,
    VerifierFilter,
    completion_perplexities,
    equations_hold,
    jaccard_matrix,
    shingles,
    text_length,
    verified,
)

__all__ = [
    "ArithmeticConfig",
    "ArithmeticFilter",
    "Candidate",
    "ChainResult",
    "DedupConfig",
    "ExactDedupFilter",
    "Filter",
    "FilterChain",
    "FilterContext",
    "LengthConfig",
    "LengthFilter",
    "NearDedupConfig",
    "NearDedupFilter",
    "NoveltyConfig",
    "NoveltyFilter",
    "PerplexityConfig",
    "PerplexityFilter",
    "REGISTRY",
    "RegexConfig",
    "RegexFilter",
    "VerifierConfig",
    "VerifierFilter",
    "build_filters",
    "completion_perplexities",
    "equations_hold",
    "filter_configs",
    "jaccard_matrix",
    "parse_filter_spec",
    "shingles",
    "text_length",
    "verified",
]


@dataclass
class FilterContext:
    """What filters may need from the run: reference texts (length window, novelty) and a reference model."""

    reference_texts: list[str] = field(default_factory=list)
    model: object = None
    tokenizer: object = None


def _reference(ctx: FilterContext, name: str) -> list[str]:
    if not ctx.reference_texts:
        raise SftlabError(f"filter '{name}' needs a reference set of completions (original data), and none was given")
    return ctx.reference_texts


def _perplexity(cfg: PerplexityConfig, ctx: FilterContext) -> PerplexityFilter:
    if ctx.model is None:
        raise SftlabError("filter 'perplexity' needs a reference model, and none was given")
    return PerplexityFilter(ctx.model, ctx.tokenizer, cfg)


# name -> (config class, builder(config, context) -> Filter)
REGISTRY: dict[str, tuple[type, Callable[..., Filter]]] = {
    "verifier": (VerifierConfig, lambda cfg, ctx: VerifierFilter(cfg)),
    "length": (LengthConfig, lambda cfg, ctx: LengthFilter.from_texts(_reference(ctx, "length"), cfg)),
    "regex": (RegexConfig, lambda cfg, ctx: RegexFilter(cfg)),
    "arithmetic": (ArithmeticConfig, lambda cfg, ctx: ArithmeticFilter(cfg)),
    "dedup": (DedupConfig, lambda cfg, ctx: ExactDedupFilter(cfg)),
    "near_dedup": (NearDedupConfig, lambda cfg, ctx: NearDedupFilter(cfg)),
    "novelty": (NoveltyConfig, lambda cfg, ctx: NoveltyFilter(_reference(ctx, "novelty"), cfg)),
    "perplexity": (PerplexityConfig, _perplexity),
}


def parse_filter_spec(spec) -> list[tuple[str, dict]]:
    """``"verifier,length:k=1.5:unit=words"`` (or a YAML list of such strings / ``{name: ..., opt: ...}`` maps) -> [(name, options)]."""
    if spec is None:
        return []
    items = [s for s in spec.split(",")] if isinstance(spec, str) else list(spec)
    out = []
    for item in items:
        if isinstance(item, dict):
            opts = dict(item)
            name = opts.pop("name", None)
        else:
            name, _, rest = str(item).partition(":")
            opts = {}
            # options are separated by ':' before a 'key=' (so a pattern may itself hold a ':')
            for part in re.split(r":(?=\s*\w+\s*=)", rest) if rest.strip() else []:
                if "=" not in part:
                    raise SftlabError(f"filters: option {part!r} of filter '{name}' must look like key=value")
                key, value = part.split("=", 1)
                opts[key.strip()] = value.strip()  # typed later, against the filter's config
        if not name:
            if isinstance(item, str) and not item.strip():
                continue
            raise SftlabError(f"filters: entry {item!r} has no filter name")
        out.append((str(name).strip(), opts))
    return out


def _typed_options(name: str, cfg_cls, opts: dict) -> dict:
    hints = typing.get_type_hints(cfg_cls)
    cfg_fields = {f.name: f for f in fields(cfg_cls)}
    out = {}
    for key, value in opts.items():
        kind = hints[key]
        if isinstance(value, str) and kind is not str:
            try:
                value = yaml.safe_load(value)
            except yaml.YAMLError:
                pass  # reported as a type error below
        ok = isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value, ok = float(value), True
        if not ok:
            raise SftlabError(f"filters: option '{key}' of filter '{name}' must be {kind.__name__}, got {value!r}")
        choices = cfg_fields[key].metadata.get("choices")
        if choices and value not in choices:
            raise SftlabError(
                f"filters: option '{key}' of filter '{name}' must be one of {', '.join(choices)}, got {value!r}"
            )
        out[key] = value
    return out


def filter_configs(spec) -> list[tuple[str, object]]:
    """``[(name, config)]`` for a spec: unknown names, options or values are one clear error."""
    from . import protein  # noqa: F401  (registers the protein filters)

    out = []
    for name, opts in parse_filter_spec(spec):
        if name not in REGISTRY:
            raise SftlabError(f"filters: unknown filter '{name}' (known: {', '.join(REGISTRY)})")
        cfg_cls = REGISTRY[name][0]
        known = {f.name for f in fields(cfg_cls)}
        for key in opts:
            if key not in known:
                raise SftlabError(
                    f"filters: filter '{name}' has no option '{key}' (options: {', '.join(sorted(known))})"
                )
        out.append((name, cfg_cls(**_typed_options(name, cfg_cls, opts))))
    return out


def build_filters(spec, ctx: FilterContext | None = None) -> list[Filter]:
    """Build filters from a spec (see :func:`parse_filter_spec`) and what they need from ``ctx``."""
    ctx = ctx or FilterContext()
    return [REGISTRY[name][1](cfg, ctx) for name, cfg in filter_configs(spec)]
