"""``sftlab select``: pick a subset of SFT data with S2L or a baseline, and write it as a data set.

The steps feed each other through files in ``output_dir``, and each resumes
from what is already there:

1. ``proxy/``: the proxy model fine-tuned on the whole data with the SFT
   trainer, keeping ``n_checkpoints`` evenly spaced checkpoints (s2l, el2n).
2. ``trajectories/``: each example's mean completion loss at every checkpoint,
   the ``(N, C)`` matrix (:mod:`sftlab.methods.s2l.trajectories`);
   ``base_losses/``: the same under the proxy before fine-tuning (perplexity).
3. ``selected.jsonl`` (the chosen records, in their original order and fields,
   readable by :func:`sftlab.data.load_sft_data`) and ``manifest.json``
   (rows, ids, method, budget, seed, proxy, cluster sizes), written last.

Defaults follow the S2L paper's proxy run (arXiv 2403.07384; the authors'
``configs/pythia-70m-deduped_checkpoints.yml``): 3 epochs, lr 2e-5, cosine
schedule with 3% warmup, batch 32, 512 tokens, 12 checkpoints kept, K = 100.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from sftlab.args import Validated, flag_error
from sftlab.config import help_meta as _h
from sftlab.errors import SftlabError
from sftlab.io import atomic_write_json, atomic_write_jsonl

from .sampling import METHODS, SOURCE_SPLITS, parse_budget, select_indices

# The lab's tiny model needs a far larger step than a pretrained LM to move in a few hundred steps.
LAB_PROXY_LEARNING_RATE = 1e-3
PAPER_PROXY_LEARNING_RATE = 2e-5


@dataclass
class SelectConfig(Validated):
    """Options of ``sftlab select``."""

    method: str = field(
        default="s2l",
        metadata=_h(
            "Selection method: s2l (cluster the proxy's loss trajectories, arXiv 2403.07384), random, "
            "perplexity-low|mid|high (by the proxy's loss before fine-tuning), el2n (highest loss at the proxy's "
            "last checkpoint), full (everything).",
            choices=list(METHODS),
        ),
    )
    budget: str | None = field(
        default=None,
        metadata=_h("How much to keep: a count ('500') or a fraction in (0, 1] ('0.3'). Not needed for --method full."),
    )
    data: str | None = field(
        default=None,
        metadata=_h(
            "Data to select from (.jsonl/.json/.parquet, a save_to_disk folder, or a hub id). Omitted: the lab's train split."
        ),
    )
    proxy_model: str | None = field(
        default=None,
        metadata=_h("Small causal LM whose training trajectories guide the selection. Omitted: the lab model."),
    )
    proxy_checkpoints: str | None = field(
        default=None,
        metadata=_h(
            "Checkpoints of a proxy already fine-tuned on this data by your own run: a folder holding checkpoint-<step>/ "
            "folders, or comma-separated checkpoint paths. Skips proxy training; with more than --n-checkpoints, "
            "that many evenly spaced ones (the last included) are used."
        ),
    )
    output_dir: str = field(default="outputs/select", metadata=_h("Where selected.jsonl and manifest.json go."))
    work_dir: str | None = field(
        default=None,
        metadata=_h(
            "Where the proxy checkpoints and loss trajectories go, and are reused from. Omitted: --output-dir. "
            "Point several selections (other methods, budgets, seeds) at one to share a proxy."
        ),
    )
    n_checkpoints: int = field(
        default=12, metadata=_h("Evenly spaced proxy checkpoints, the trajectory length C (the S2L authors keep 12).")
    )
    n_clusters: int = field(default=100, metadata=_h("k-means clusters K (S2L's 100), capped by the data size."))
    proxy_epochs: float = field(default=3.0, metadata=_h("Proxy training epochs (S2L: 3)."))
    proxy_max_steps: int = field(default=-1, metadata=_h("Proxy optimizer steps; overrides --proxy-epochs when > 0."))
    proxy_learning_rate: float | None = field(
        default=None,
        metadata=_h(
            f"Proxy peak learning rate. Omitted: {PAPER_PROXY_LEARNING_RATE} (S2L) for --proxy-model, "
            f"{LAB_PROXY_LEARNING_RATE} for the lab model."
        ),
    )
    proxy_warmup_ratio: float = field(default=0.03, metadata=_h("Proxy linear warmup fraction (S2L: 0.03)."))
    proxy_batch_size: int = field(default=32, metadata=_h("Proxy sequences per optimizer step (S2L: 32)."))
    proxy_micro_batch_size: int = field(
        default=8,
        metadata=_h(
            "Proxy sequences per micro-batch; gradient accumulation makes up --proxy-batch-size (rounded down to a "
            "multiple of it)."
        ),
    )
    eval_batch_size: int = field(default=64, metadata=_h("Sequences per forward pass when recording losses."))
    max_length: int = field(
        default=512,
        metadata=_h("Longest sequence in tokens (S2L: 512); longer records are cut for training and scoring."),
    )
    seed: int = field(
        default=42, metadata=_h("Seed of k-means and sampling, and of the proxy training unless --proxy-seed.")
    )
    proxy_seed: int | None = field(default=None, metadata=_h("Seed of the proxy training. Omitted: --seed (S2L: 42)."))
    stratify_by: str | None = field(
        default=None,
        metadata=_h(
            "Record field naming each example's source; the budget is split across sources and the method runs "
            "inside each."
        ),
    )
    source_split: str = field(
        default="balanced",
        metadata=_h(
            "How --stratify-by splits the budget: balanced (smallest source first, an equal share of what remains, "
            "as the S2L code does) or proportional (to the source sizes).",
            choices=list(SOURCE_SPLITS),
        ),
    )
    prompt_template: str | None = field(
        default=None, metadata=_h("Template with a {question} slot for reasoning records (as in sftlab train).")
    )
    progress: bool = field(default=True, metadata=_h("Show progress bars."))

    def validate(self) -> None:
        for name, allowed in (("method", METHODS), ("source_split", SOURCE_SPLITS)):
            if getattr(self, name) not in allowed:
                raise flag_error(name, f"expected one of {', '.join(allowed)}, got {getattr(self, name)!r}")
        self.require_positive(
            "n_checkpoints", "n_clusters", "proxy_batch_size", "proxy_micro_batch_size", "eval_batch_size", "max_length"
        )


def run_select(cfg: SelectConfig) -> dict:
    """Select and write ``selected.jsonl`` + ``manifest.json``; returns the manifest plus output paths."""
    from sftlab.data import load_sft_data
    from sftlab.methods.lab_defaults import resolve_lab_defaults

    t0 = time.time()
    on_lab = cfg.proxy_model is None
    needs_proxy = cfg.method not in ("random", "full")
    if needs_proxy or cfg.data is None:
        model_path, data_source = resolve_lab_defaults(cfg.proxy_model, cfg.data)
    else:
        model_path, data_source = cfg.proxy_model, cfg.data
    data = load_sft_data(data_source)
    n = len(data.records)
    if cfg.method == "full":
        budget = n
    elif cfg.budget is None:
        raise SftlabError("--budget is required: a count (e.g. 500) or a fraction in (0, 1] (e.g. 0.3)")
    else:
        budget = parse_budget(cfg.budget, n)
    sources = _sources(data, cfg.stratify_by)
    out, work = Path(cfg.output_dir), Path(cfg.work_dir or cfg.output_dir)

    scores: dict = {}
    proxy_info: dict = {"model": model_path}
    if needs_proxy:
        dataset = _tokenize_all(data, model_path, cfg.prompt_template)
        if cfg.method.startswith("perplexity"):
            from .trajectories import record_trajectories

            base = record_trajectories(
                [model_path],
                dataset,
                work / "base_losses",
                batch_size=cfg.eval_batch_size,
                max_length=cfg.max_length,
                progress=cfg.progress,
            )
            scores["base_losses"] = base[:, 0]
        else:
            matrix, proxy_info = _proxy_trajectories(cfg, model_path, data_source, dataset, on_lab, work)
            scores["trajectories"], scores["final_losses"] = matrix, matrix[:, -1]

    # Examples with no completion token within max_length have no loss; they cannot be ranked or clustered.
    pool = np.arange(n)
    if scores:
        values = next(iter(scores.values()))
        pool = np.flatnonzero(np.isfinite(values.reshape(n, -1)).all(axis=1))
        if budget > len(pool):
            raise SftlabError(
                f"budget {budget} is more than the {len(pool)} records with a completion token within "
                f"--max-length {cfg.max_length}"
            )
    local, info = select_indices(
        cfg.method,
        budget,
        n=len(pool),
        trajectories=_take(scores.get("trajectories"), pool),
        final_losses=_take(scores.get("final_losses"), pool),
        base_losses=_take(scores.get("base_losses"), pool),
        sources=None if sources is None else [sources[i] for i in pool],
        source_split=cfg.source_split,
        n_clusters=cfg.n_clusters,
        seed=cfg.seed,
    )
    chosen = pool[local]

    records = [{k: v for k, v in data.records[i].items() if k != "_row"} for i in chosen]
    selected_path = atomic_write_jsonl(out / "selected.jsonl", records)
    manifest = {
        "method": cfg.method,
        "budget": cfg.budget,
        "n_selected": len(chosen),
        "n_total": n,
        "n_unscored": n - len(pool),
        "seed": cfg.seed,
        "data": data_source,
        "data_format": data.format,
        "row_unit": data.row_unit,
        "rows": [data.records[i]["_row"] for i in chosen],
        "indices": chosen.tolist(),
        "ids": [data.records[i].get("id") for i in chosen] if any("id" in r for r in data.records) else None,
        "proxy": proxy_info if needs_proxy else None,
        "stratify_by": cfg.stratify_by,
        **info,
        "seconds": round(time.time() - t0, 2),
        "config": asdict(cfg),
    }
    if "cluster_sizes" in info:
        manifest["n_clusters_found"] = len(info["cluster_sizes"])
    manifest_path = atomic_write_json(out / "manifest.json", manifest)
    if cfg.progress:
        print(f"sftlab: selected {len(chosen)} of {n} records ({cfg.method}) -> {selected_path}")
    return {
        **manifest,
        "selected_path": str(selected_path),
        "manifest_path": str(manifest_path),
        "output_dir": str(out),
    }


def proxy_plan(cfg: SelectConfig, n_train: int) -> dict:
    """Proxy optimizer steps and save interval: ``n_checkpoints`` checkpoints, evenly spaced, the last at the end.

    The planned length (``proxy_max_steps``, else epochs x steps per epoch) is
    rounded up to a multiple of ``n_checkpoints``, so checkpoints fall at
    ``save_steps, 2 * save_steps, ..., max_steps``.
    """
    accumulation = max(1, cfg.proxy_batch_size // cfg.proxy_micro_batch_size)
    if cfg.proxy_max_steps > 0:
        steps = cfg.proxy_max_steps
    else:
        steps = math.ceil(cfg.proxy_epochs * math.ceil(n_train / (cfg.proxy_micro_batch_size * accumulation)))
    save_steps = max(1, math.ceil(steps / cfg.n_checkpoints))
    return {
        "max_steps": save_steps * cfg.n_checkpoints,
        "save_steps": save_steps,
        "micro_batch_size": cfg.proxy_micro_batch_size,
        "gradient_accumulation_steps": accumulation,
    }


def _proxy_trajectories(cfg: SelectConfig, model_path: str, data_source: str, dataset, on_lab: bool, work: Path):
    """Train the proxy (or reuse its checkpoints) and record the (N, C) loss matrix."""
    from sftlab.methods.sft import TrainConfig, run_train

    from .trajectories import record_trajectories

    if cfg.proxy_checkpoints:
        checkpoints = given_checkpoints(cfg.proxy_checkpoints, cfg.n_checkpoints)
        matrix = record_trajectories(
            checkpoints,
            dataset,
            work / "trajectories",
            batch_size=cfg.eval_batch_size,
            max_length=cfg.max_length,
            progress=cfg.progress,
        )
        return matrix, {
            "model": model_path,
            "checkpoints": [str(c) for c in checkpoints],
            "steps": [_step_of(c) for c in checkpoints],
            "trained_by": "user",
        }
    n_train = sum(1 for m in dataset["completion_mask"] if any(m[: cfg.max_length]))
    plan = proxy_plan(cfg, n_train)
    lr = cfg.proxy_learning_rate or (LAB_PROXY_LEARNING_RATE if on_lab else PAPER_PROXY_LEARNING_RATE)
    proxy_dir, seed = work / "proxy", (cfg.seed if cfg.proxy_seed is None else cfg.proxy_seed)
    key = {
        "model": model_path,
        "data": data_source,
        "learning_rate": lr,
        "max_length": cfg.max_length,
        "seed": seed,
        "warmup_ratio": cfg.proxy_warmup_ratio,
        "prompt_template": cfg.prompt_template,
        **plan,
    }
    plan_file = work / "proxy_plan.json"
    if plan_file.exists():
        old = json.loads(plan_file.read_text(encoding="utf-8"))
        if old != key:
            changed = sorted(k for k in key if old.get(k) != key[k])
            raise SftlabError(
                f"{work}: holds a proxy trained with other settings ({', '.join(changed)}); "
                "use another --work-dir (or --output-dir) or delete that one"
            )
    atomic_write_json(plan_file, key)
    steps = [plan["save_steps"] * (j + 1) for j in range(cfg.n_checkpoints)]
    checkpoints = [proxy_dir / f"checkpoint-{s}" for s in steps]
    columns = work / "trajectories" / "columns"
    # a checkpoint is needed until its loss column is on disk (the checkpoints may be deleted after recording)
    if not all((c / "trainer_state.json").exists() or (columns / f"{c.name}.npy").exists() for c in checkpoints):
        run_train(
            TrainConfig(
                model=model_path,
                data=data_source,
                output_dir=str(proxy_dir),
                max_steps=plan["max_steps"],
                learning_rate=lr,
                warmup_ratio=cfg.proxy_warmup_ratio,
                lr_scheduler_type="cosine",
                per_device_train_batch_size=plan["micro_batch_size"],
                gradient_accumulation_steps=plan["gradient_accumulation_steps"],
                max_length=cfg.max_length,
                on_overlength="truncate",
                save_steps=plan["save_steps"],
                save_total_limit=None,
                seed=seed,
                prompt_template=cfg.prompt_template,
                resume=proxy_dir.exists(),
                progress=cfg.progress,
                logging_steps=max(1, plan["save_steps"] // 2),
            )
        )
    missing = [str(c) for c in checkpoints if not c.is_dir() and not (columns / f"{c.name}.npy").exists()]
    if missing:
        raise SftlabError(f"proxy training did not leave the expected checkpoints: {', '.join(missing)}")
    matrix = record_trajectories(
        checkpoints,
        dataset,
        work / "trajectories",
        batch_size=cfg.eval_batch_size,
        max_length=cfg.max_length,
        progress=cfg.progress,
    )
    return matrix, {
        "model": model_path,
        "checkpoints": [str(c) for c in checkpoints],
        "steps": steps,
        "learning_rate": lr,
        "seed": seed,
        **plan,
    }


def given_checkpoints(spec: str, n_checkpoints: int) -> list[Path]:
    """The proxy checkpoints named by ``--proxy-checkpoints``, in training order.

    A folder with ``checkpoint-<step>/`` sub-folders gives those, by step (a
    training run's output folder: its final model is the last checkpoint's
    copy); otherwise ``spec`` is a comma-separated list of checkpoint folders,
    kept in the order given. More than ``n_checkpoints`` are thinned to that many, evenly
    spaced by index, the last one kept.
    """
    parts = [Path(p.strip()).expanduser() for p in str(spec).split(",") if p.strip()]
    if len(parts) == 1 and parts[0].is_dir():
        found = [c for c in parts[0].glob("checkpoint-*") if c.is_dir() and _step_of(c) is not None]
        if found:
            parts = sorted(found, key=_step_of)
        elif not (parts[0] / "config.json").exists():
            raise SftlabError(f"{parts[0]}: --proxy-checkpoints: no checkpoint-<step>/ folders in it")
    missing = [str(p) for p in parts if not (p / "config.json").exists()]
    if missing:
        raise SftlabError(f"--proxy-checkpoints: not a model folder (no config.json): {missing[0]}")
    if len(parts) > n_checkpoints:
        keep = np.unique(np.round(np.linspace(len(parts) - 1, 0, n_checkpoints)).astype(int))
        parts = [parts[i] for i in keep]
    return parts


def _step_of(path: Path) -> int | None:
    tail = Path(path).name.rsplit("-", 1)[-1]
    return int(tail) if Path(path).name.startswith("checkpoint-") and tail.isdigit() else None


def _tokenize_all(data, model_path: str, prompt_template: str | None):
    """Every record tokenized, none dropped (so row i is record i); cutting to max_length happens at scoring."""
    from sftlab.data import tokenize_sft
    from sftlab.models import load_tokenizer

    tok = load_tokenizer(model_path)
    dataset, stats = tokenize_sft(data, tok, max_length=2**62, on_overlength="error", prompt_template=prompt_template)
    assert stats["n_kept"] == len(data.records)
    return dataset


def _sources(data, field_name: str | None):
    if field_name is None:
        return None
    out = []
    for r in data.records:
        value = r.get(field_name)
        if value is None or isinstance(value, (dict, list)):
            raise data.error(r, "missing or not a scalar (needed by --stratify-by)", field_name)
        out.append(str(value))
    return out


def _take(a, idx):
    return None if a is None else a[idx]
