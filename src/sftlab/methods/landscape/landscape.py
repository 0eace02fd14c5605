"""``sftlab landscape``: per-layer geometry of a model's representations, ICL vs fine-tuning.

Doimo et al., "The representation landscape of few-shot learning and
fine-tuning in large language models", NeurIPS 2024, arXiv 2409.03662.
For every condition (the base model with k solved examples in the prompt,
and each compared model with none) the hidden state of the last prompt token
is taken at every layer; per layer we measure the intrinsic dimension, the
density peaks (ADP) and how well the peaks match each label (ARI). See
docs/landscape.md.

Outputs under ``output_dir``: ``metrics.json``, ``plots/*.png`` (one per
metric, one line per condition), ``summary.md``, and ``states/`` (the
extracted vectors, reused by a rerun with the same prompts and model).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from sftlab.args import ModelArgs, flag_error
from sftlab.config import help_meta as _h
from sftlab.errors import SftlabError
from sftlab.io import atomic_write_json, atomic_write_text
from sftlab.models import load_causal_lm, load_tokenizer

from .extract import demonstration, few_shot_prompt, last_token_states, pick_shots
from .figures import landscape_figures, landscape_section, slug
from .geometry import INSTALL_HINT, backend_label, layer_geometry, resolve_backend


@dataclass
class LandscapeConfig(ModelArgs):
    """Options of ``sftlab landscape``: the model options (:class:`~sftlab.args.ModelArgs`) and the analysis'."""

    model: str | None = field(
        default=None,
        metadata=_h(
            "Base model ([NAME=]PATH or hub id), analysed with --shots solved examples in the prompt. Default: the lab's base model."
        ),
    )
    compare: str = field(
        default="",
        metadata=_h("Comma-separated extra models ([NAME=]PATH), e.g. fine-tuned checkpoints, analysed 0-shot."),
    )
    data: str | None = field(
        default=None,
        metadata=_h(
            "Data whose prompts are analysed (any sftlab data source). Default: the lab's in-domain test split."
        ),
    )
    label_field: str | None = field(
        default=None,
        metadata=_h(
            "Comma-separated record fields to compare the density peaks with (ARI), e.g. 'family,answer'. Default: 'family,answer' on the lab, 'answer' otherwise."
        ),
    )
    shots: str = field(
        default="0,1,5",
        metadata=_h(
            "Comma-separated numbers of solved examples put before the base model's prompts (0 = plain prompt)."
        ),
    )
    shot_pool: str | None = field(
        default=None,
        metadata=_h(
            "Data the solved examples are drawn from. Default: the lab's train split on the lab, else --data itself (never an example's own record)."
        ),
    )
    shot_source: str = field(
        default="same_label",
        metadata=_h(
            "Which pool records a question's solved examples are drawn from: same_label (those sharing its value of the first --label-field, as the paper's prompts take MMLU examples from the question's own subject) or random (the whole pool). 'same_label,random' runs both."
        ),
    )
    output_dir: str = field(
        default="runs/landscape", metadata=_h("Where metrics.json, plots/ and the cached hidden states go.")
    )
    max_examples: int = field(default=1000, metadata=_h("Analyse at most this many records (a seeded random subset)."))
    batch_size: int = field(default=16, metadata=_h("Prompts per forward pass."))
    k: int = field(
        default=16, metadata=_h("Neighbours for the kNN density; the ID is Gride's at ranks (k, 2k). Paper: 16.")
    )
    z: float = field(
        default=1.6, metadata=_h("ADP merging threshold Z: peaks less distinct than Z errors are merged. Paper: 1.6.")
    )
    seed: int = field(default=0, metadata=_h("Seed for the record subset and the solved examples."))
    use_dadapy: str = field(
        default="auto",
        metadata=_h(
            "Compute with DADApy (the paper's library): auto (when installed), yes, no (sftlab's own implementation).",
            choices=["auto", "yes", "no"],
        ),
    )
    progress: bool = field(default=True, metadata=_h("Show progress bars."))

    def validate(self) -> None:
        super().validate()
        self.require_positive("max_examples", "batch_size", "k")
        if self.z <= 0:
            raise flag_error("z", f"must be positive, got {self.z}")
        self.shot_list()
        self.shot_sources()

    def shot_list(self) -> list[int]:
        try:
            shots = sorted({int(s) for s in str(self.shots).split(",") if s.strip()})
        except ValueError:
            raise flag_error("shots", f"expected comma-separated integers, got '{self.shots}'") from None
        if not shots or shots[0] < 0:
            raise flag_error("shots", f"expected integers >= 0, got '{self.shots}'")
        return shots

    def shot_sources(self) -> list[str]:
        sources = list(dict.fromkeys(s.strip() for s in str(self.shot_source).split(",") if s.strip()))
        if not sources or any(s not in SHOT_SOURCES for s in sources):
            raise flag_error(
                "shot_source", f"expected same_label, random or both comma-separated, got '{self.shot_source}'"
            )
        return sources


SHOT_SOURCES = ("same_label", "random")


def run_landscape(cfg: LandscapeConfig) -> dict:
    """Extract, measure, plot; returns ``output_dir``, ``metrics``, ``files`` and ``section`` (a report Section)."""
    t0 = time.time()
    backend = resolve_backend(cfg.use_dadapy)
    if backend == "builtin" and cfg.use_dadapy == "auto":
        print(
            f"sftlab landscape: DADApy is not installed, so sftlab's own estimators are used (the same algorithms, "
            f"checked against DADApy 0.3.4); to use DADApy: {INSTALL_HINT}"
        )
    base, compare, data_source, pool_source, label_fields = _resolve(cfg)
    needs_pool_label = "same_label" in cfg.shot_sources() and any(cfg.shot_list())
    records, fmt, pool, pool_fmt, exclude = _load(
        cfg, data_source, pool_source, label_fields, label_fields[0] if needs_pool_label else None
    )
    labels = {f: np.array([str(r[f]) for r in records]) for f in label_fields}
    sources = cfg.shot_sources()
    # (name, model path, shots, shot source): the source is named only when more than one is compared
    conditions = [(f"{base[0]} 0-shot", base[1], 0, None)] if 0 in cfg.shot_list() else []
    conditions += [
        (f"{base[0]} {k}-shot" + (f" {source.replace('_', '-')}" if len(sources) > 1 else ""), base[1], k, source)
        for source in sources
        for k in cfg.shot_list()
        if k
    ]
    conditions += [(name, path, 0, None) for name, path in compare]
    _check_names([c[0] for c in conditions])

    out = Path(cfg.output_dir)
    metrics = {
        "title": "Representation landscape",
        "paper": "arXiv 2409.03662",
        "implementation": backend_label(backend),
        "config": {**asdict(cfg), "data": data_source, "shot_pool": pool_source, "label_field": ",".join(label_fields)},
        "n_examples": len(records),
        "labels": {f: int(len(set(v))) for f, v in labels.items()},
        "conditions": {},
    }
    # path -> [model or None, tokenizer]: the base model is loaded once for all shot counts, and not at all when
    # its states are cached (the tokenizer alone renders the prompts)
    loaded: dict[str, list] = {}
    for name, path, k, source in conditions:
        if path not in loaded:
            loaded.clear()  # one model in memory at a time
            loaded[path] = [None, load_tokenizer(path, cfg.trust_remote_code)]
        tok = loaded[path][1]
        shot_ids = [[] for _ in records]
        if k and source == "random":
            shot_ids = pick_shots(len(records), len(pool), k, cfg.seed, exclude)
        elif k:
            shot_ids = pick_shots(
                len(records),
                len(pool),
                k,
                cfg.seed,
                exclude,
                labels=list(labels[label_fields[0]]),
                pool_labels=[str(r[label_fields[0]]) for r in pool],
                label_name=label_fields[0],
            )
        prompts = [
            few_shot_prompt(
                demonstration(r, fmt), [demonstration(pool[j], pool_fmt) for j in ids], fmt, tok, cfg.prompt_template
            )
            for r, ids in zip(records, shot_ids)
        ]

        def extract(path=path, name=name, prompts=prompts, tok=tok):
            if loaded[path][0] is None:
                # float32 on CPU (distances want the precision), bf16 on a GPU that has it
                loaded[path][0] = load_causal_lm(path, "score", trust_remote_code=cfg.trust_remote_code)
            return last_token_states(
                loaded[path][0],
                tok,
                prompts,
                batch_size=cfg.batch_size,
                progress=cfg.progress,
                desc=f"{name}: hidden states",
            )

        states = _cached_states(out / "states", name, path, prompts, extract)
        layers = []
        for layer in tqdm(range(states.shape[0]), desc=f"{name}: geometry", disable=not cfg.progress, unit="layer"):
            layers.append({"layer": layer, **layer_geometry(states[layer], labels, k=cfg.k, z=cfg.z, backend=backend)})
        metrics["conditions"][name] = {
            "model": path,
            "shots": k,
            "shot_source": source,
            "n_prompts": len(prompts),
            "example_prompt": prompts[0],
            "layers": layers,
        }
    loaded.clear()
    metrics["seconds"] = round(time.time() - t0, 1)

    figures = landscape_figures(metrics)
    files = {"metrics.json": atomic_write_json(out / "metrics.json", metrics)}
    from sftlab.report import section_markdown
    from sftlab.report.plots import figure_png

    for key, fig in figures.items():
        files[f"plots/{key}.png"] = _write_bytes(out / "plots" / f"{key}.png", figure_png(fig))
    section = landscape_section(metrics, figures)
    files["summary.md"] = atomic_write_text(out / "summary.md", section_markdown(section))
    return {"output_dir": str(out), "metrics": metrics, "files": files, "section": section}


# ------------------------------------------------------------------ inputs


def _resolve(cfg: LandscapeConfig):
    """(base (name, path), compare [(name, path)], data source, pool source, label fields), lab defaults filled in."""
    lab = None
    if cfg.model is None or cfg.data is None:
        try:
            from sftlab.methods.lab_defaults import ensure_lab
        except ImportError as e:
            raise SftlabError(f"landscape: no --model/--data given and the embedded lab is unavailable ({e})") from None
        lab = ensure_lab()
    base = _named(cfg.model or f"base={lab.model_dir}", default_name="base")
    compare = [_named(spec) for spec in cfg.compare.split(",") if spec.strip()]
    on_lab = cfg.data is None
    data_source = cfg.data or str(lab.data["test_id"])
    pool_source = cfg.shot_pool or (str(lab.data["train"]) if on_lab else data_source)
    fields = cfg.label_field or ("family,answer" if on_lab else "answer")
    label_fields = [f.strip() for f in fields.split(",") if f.strip()]
    if not label_fields:
        raise SftlabError("landscape: field 'label_field': give at least one record field")
    return base, compare, data_source, pool_source, label_fields


def _named(spec: str, default_name: str | None = None) -> tuple[str, str]:
    """``NAME=PATH`` or ``PATH`` (named after its last path part)."""
    spec = spec.strip()
    name, sep, path = spec.partition("=")
    if not sep:
        path = spec
        name = default_name or Path(spec.rstrip("/")).name or spec
    if not name.strip() or not path.strip():
        raise SftlabError(f"landscape: model '{spec}': expected NAME=PATH or PATH")
    return name.strip(), path.strip()


def _check_names(names: list[str]) -> None:
    seen = set()
    for n in names:
        if n in seen:
            raise SftlabError(f"landscape: two conditions are named '{n}'; name the models NAME=PATH")
        seen.add(n)


def _load(cfg, data_source: str, pool_source: str, label_fields: list[str], pool_label: str | None = None):
    """Records analysed (a seeded subset, label fields checked), the shot pool (its ``pool_label`` field checked,
    when given: same-label shots are drawn by it), and each record's own pool index."""
    from sftlab.data import load_sft_data

    data = load_sft_data(data_source)
    rng = np.random.default_rng(cfg.seed)
    keep = np.sort(rng.permutation(len(data.records))[: cfg.max_examples]) if len(data.records) > cfg.max_examples \
        else np.arange(len(data.records))  # fmt: skip
    records = [data.records[i] for i in keep]
    for r in records:
        for f in label_fields:
            value = r.get(f)
            if value is None or isinstance(value, (dict, list)):
                message = "missing (needed as a label)" if value is None else "expected a plain value for a label"
                raise data.error(r, message, f)
    if pool_source == data_source:
        pool, exclude = data, [int(i) for i in keep]
    else:
        pool, exclude = load_sft_data(pool_source), None
        if pool.format != data.format or _is_chat(pool) != _is_chat(data):
            raise SftlabError(
                f"{pool_source}: the shot pool must have the same record format as {data_source} "
                f"({pool.format} vs {data.format})"
            )
    for r in pool.records if pool_label else []:
        value = r.get(pool_label)
        if value is None or isinstance(value, (dict, list)):
            raise pool.error(
                r,
                "missing (same-label shots are drawn by it; or --shot-source random)"
                if value is None
                else "expected a plain value for a label",
                pool_label,
            )
    return records, data.format, pool.records, pool.format, exclude


def _is_chat(data) -> bool:
    first = data.records[0]
    return data.format == "messages" or (data.format == "prompt_completion" and isinstance(first["prompt"], list))


def _cached_states(folder: Path, name: str, path: str, prompts: list[str], compute) -> np.ndarray:
    """States from ``folder`` when the same model saw the same prompts before, else ``compute()`` and save."""
    key = hashlib.sha256(json.dumps([path, _fingerprint(path), prompts]).encode()).hexdigest()
    stem = folder / slug(name)
    meta = stem.with_suffix(".json")
    if meta.is_file() and stem.with_suffix(".npy").is_file():
        if json.loads(meta.read_text()).get("key") == key:
            return np.load(stem.with_suffix(".npy"))
    states = compute()
    folder.mkdir(parents=True, exist_ok=True)
    tmp = stem.with_suffix(".npy.tmp")
    with open(tmp, "wb") as f:
        np.save(f, states)
    os.replace(tmp, stem.with_suffix(".npy"))
    atomic_write_json(meta, {"key": key, "model": path, "shape": list(states.shape)})
    return states


def _fingerprint(path: str) -> list:
    """Sizes and times of a local model's weight files, so a retrained checkpoint is not mistaken for the old one."""
    p = Path(path)
    if not p.is_dir():
        return []
    return sorted([f.name, f.stat().st_size, f.stat().st_mtime_ns] for f in p.glob("*.safetensors"))


def _write_bytes(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return path


# ------------------------------------------------------------------ figures and report section
