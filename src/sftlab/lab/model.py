"""Build, cache and describe the lab: data splits, tokenizer, pretrained base model.

``build_lab(cfg)`` generates the task splits, trains the tokenizer, pretrains a
tiny Llama-architecture model on the native-style ``pretrain`` split, measures
its greedy accuracy on every split with the project's generation and
verification services, and stores everything under
``<cache_dir>/<key>/`` (key: hash of the config and sftlab's version)::

    model/            standard Hugging Face checkpoint with its tokenizer
    data/<split>.jsonl  reasoning records (question, solution, answer, ...)
    lab.json          config, build time, pretraining log, base accuracy

The folder appears whole or not at all (:func:`sftlab.io.atomic_dir`); an
interrupted build resumes its pretraining from ``<cache_dir>/.<key>.partial/``.
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import torch
from tqdm.auto import tqdm

from sftlab import __version__
from sftlab.errors import SftlabError
from sftlab.io import atomic_dir, atomic_write_json, atomic_write_jsonl, read_jsonl
from sftlab.models import transformers_bars_off

from .config import LabConfig
from .pretrain import encode, make_model, pretrain, pretraining_text
from .shipped import install_shipped
from .tasks import SPLITS, generate_splits
from .tokenizer import train_tokenizer

INFO_FILE = "lab.json"


class _NotShipped(Exception):
    """Raised inside an install's atomic folder so that a refused install leaves nothing behind."""


@dataclass
class LabArtifacts:
    """A built lab on disk."""

    root: Path
    model_dir: Path
    data: dict  # split -> Path of its JSONL file
    info: dict  # the contents of lab.json

    @property
    def config(self) -> LabConfig:
        return LabConfig(**self.info["config"])

    def records(self, split: str) -> list[dict]:
        if split not in self.data:
            raise SftlabError(f"lab: unknown split {split!r} (known: {', '.join(self.data)})")
        return read_jsonl(self.data[split])

    def load(self, purpose: str = "infer"):
        """``(model, tokenizer)`` of the base model, placed for ``purpose`` (:func:`sftlab.models.load_causal_lm`:
        "infer" is eval mode on this process's device)."""
        from sftlab.models import load_model_and_tokenizer

        return load_model_and_tokenizer(str(self.model_dir), purpose)


def default_cache_dir() -> Path:
    """``$SFTLAB_CACHE/lab``, else ``~/.cache/sftlab/lab``."""
    base = os.environ.get("SFTLAB_CACHE")
    return (Path(base).expanduser() if base else Path.home() / ".cache" / "sftlab") / "lab"


def lab_root(cfg: LabConfig | None = None, cache_dir: str | os.PathLike | None = None) -> Path:
    cfg = cfg or LabConfig()
    return (Path(cache_dir).expanduser() if cache_dir else default_cache_dir()) / cfg.key()


def build_lab(
    cfg: LabConfig | None = None,
    *,
    cache_dir: str | os.PathLike | None = None,
    force: bool = False,
    progress: bool = True,
    threads: int | None = None,
    shipped: bool = True,
) -> LabArtifacts:
    """Build the lab for ``cfg`` (default config) unless it is cached; return its artifacts.

    ``shipped``: for the config that ships with sftlab (the default one), install the shipped build
    (:mod:`sftlab.lab.shipped`: seconds) instead of pretraining (minutes); ``force`` always builds from the seed.
    ``threads``: torch threads for the build (default: the cores not busy with
    other work, from the load average). Data are identical for a seed; model
    weights are identical for a seed and a thread count.
    """
    cfg = cfg or LabConfig()
    root = lab_root(cfg, cache_dir)
    if not force and (root / INFO_FILE).is_file():
        return _load(root)
    with _lock(root):
        if not force and (root / INFO_FILE).is_file():  # built by another process meanwhile
            return _load(root)
        for stale in root.parent.glob(f".{root.name}.*.tmp"):  # left by a killed build; we hold the lock
            shutil.rmtree(stale, ignore_errors=True)
        partial = root.parent / f".{root.name}.partial"
        if shipped and not force and _install_shipped(cfg, root, progress):
            return _load(root)
        old_threads = torch.get_num_threads()
        torch.set_num_threads(threads or _free_cores())
        try:
            with atomic_dir(root) as tmp:
                _build(cfg, tmp, partial, progress)
        finally:
            torch.set_num_threads(old_threads)
        shutil.rmtree(partial, ignore_errors=True)
    return _load(root)


def ensure_lab(
    cfg: LabConfig | None = None, *, cache_dir: str | os.PathLike | None = None, progress: bool = True
) -> LabArtifacts:
    """The lab for ``cfg``: loaded from the cache, built first if missing."""
    return build_lab(cfg, cache_dir=cache_dir, progress=progress)


def lab_info(cfg: LabConfig | None = None, *, cache_dir: str | os.PathLike | None = None) -> dict:
    """Where the lab for ``cfg`` lives, whether it is built, and if so a summary of its lab.json
    (without the loss curve and example generations, which lab.json keeps)."""
    cfg = cfg or LabConfig()
    root = lab_root(cfg, cache_dir)
    out = {"key": cfg.key(), "root": str(root), "built": (root / INFO_FILE).is_file()}
    if out["built"]:
        art = _load(root)
        info = dict(art.info)
        info["pretrain"] = {k: v for k, v in info["pretrain"].items() if k != "loss_curve"}
        info["base_accuracy_detail"] = {
            s: {k: v for k, v in d.items() if k != "examples"} for s, d in info.get("base_accuracy_detail", {}).items()
        }
        out.update(
            model_dir=str(art.model_dir),
            data={k: str(v) for k, v in art.data.items()},
            info_file=str(root / INFO_FILE),
            **info,
        )
    else:
        out["config"] = cfg.to_dict()
    return out


def default_eval_setup(cfg: LabConfig | None = None, *, cache_dir: str | os.PathLike | None = None):
    """``(model_dir, {"test_id": path, "test_ood": path})`` of the lab, built if missing."""
    art = ensure_lab(cfg, cache_dir=cache_dir)
    return str(art.model_dir), {s: str(art.data[s]) for s in ("test_id", "test_ood")}


# -- building ---------------------------------------------------------------


def _install_shipped(cfg: LabConfig, root: Path, progress: bool) -> bool:
    """Install the shipped build for ``cfg`` at ``root`` (whole or not at all); False if it does not apply."""
    try:
        with atomic_dir(root) as tmp:
            if not install_shipped(cfg, tmp, tqdm.write if progress else (lambda *_: None)):
                raise _NotShipped
    except _NotShipped:
        return False
    return True


def _build(cfg: LabConfig, out: Path, partial: Path, progress: bool) -> None:
    t0, load0 = time.time(), _loadavg()
    say = tqdm.write if progress else (lambda *_: None)
    say(f"sftlab lab: building {cfg.key()} (seed {cfg.seed}); {torch.get_num_threads()} torch threads")
    splits = generate_splits(cfg)
    for split in SPLITS:
        atomic_write_jsonl(out / "data" / f"{split}.jsonl", splits[split])
    tokenizer = _tokenizer(cfg, splits, partial)
    sequences = encode(splits["pretrain"], tokenizer, cfg.max_length)
    model = make_model(cfg, tokenizer)
    n_params = sum(p.numel() for p in model.parameters())
    say(f"sftlab lab: {len(splits['pretrain'])} pretraining problems, {n_params / 1e6:.2f}M-parameter model")
    log = pretrain(model, sequences, cfg, tokenizer.pad_token_id, state_dir=partial, progress=progress)
    with transformers_bars_off(not progress):
        model.save_pretrained(out / "model")
    tokenizer.save_pretrained(out / "model")
    t_eval = time.time()
    accuracy, detail = _base_accuracy(model, tokenizer, splits, cfg, progress)
    info = {
        "sftlab_version": __version__,
        "key": cfg.key(),
        "config": cfg.to_dict(),
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "families": {"base": cfg.base_list, "train": cfg.train_families},
        "splits": {s: len(splits[s]) for s in SPLITS},
        "model": {
            "architecture": "LlamaForCausalLM",
            "parameters": n_params,
            "vocab_size": len(tokenizer),
            "hidden_size": cfg.hidden_size,
            "layers": cfg.num_layers,
        },
        "pretrain": {
            "steps": cfg.pretrain_steps,
            "tokens": log["tokens"],
            "seconds": round(log["seconds"], 1),
            "tokens_per_second": round(log["tokens"] / max(log["seconds"], 1e-9)),
            "final_loss": log["loss"][-1][1],
            "loss_curve": log["loss"],
        },
        "base_accuracy": accuracy,
        "base_accuracy_detail": detail,
        "eval_seconds": round(time.time() - t_eval, 1),
        "build_seconds": round(time.time() - t0, 1),
        "machine": {
            "torch_threads": torch.get_num_threads(),
            "cpu_count": os.cpu_count(),
            "load_average_start": load0,
            "load_average_end": _loadavg(),
            "platform": platform.platform(),
            "torch": torch.__version__,
        },
    }
    atomic_write_json(out / INFO_FILE, info)
    say(
        f"sftlab lab: built in {info['build_seconds']:.0f} s; base accuracy "
        + ", ".join(f"{k} {v:.3f}" for k, v in accuracy.items())
    )


def _tokenizer(cfg: LabConfig, splits: dict, partial: Path):
    """Train the tokenizer on the lab corpus (pretrain + train texts); reuse a saved one when resuming."""
    from sftlab.models import load_tokenizer

    saved = partial / "tokenizer"
    if (saved / "tokenizer.json").is_file():
        return load_tokenizer(str(saved))
    texts = [pretraining_text(r["question"], r["solution"], None) for s in ("pretrain", "train") for r in splits[s]]
    tok = train_tokenizer(texts, cfg.vocab_size, model_max_length=max(1024, cfg.max_length))
    tok.save_pretrained(saved)
    return tok


def _base_accuracy(model, tokenizer, splits: dict, cfg: LabConfig, progress: bool) -> tuple[dict, dict]:
    """Greedy accuracy of the base model on the first ``eval_size`` records of each split."""
    from sftlab.data.templates import render_prompt
    from sftlab.generation import SamplingConfig, generate
    from sftlab.verify import verify

    accuracy, detail = {}, {}
    if cfg.eval_size <= 0:
        return accuracy, detail
    sampling = SamplingConfig(max_new_tokens=cfg.max_new_tokens)  # 64 prompts a batch: faster than 128 here
    for split in SPLITS:
        records = splits[split][: cfg.eval_size]
        prompts = [render_prompt(r["question"], tokenizer) for r in records]
        with torch.no_grad():
            completions = [c[0] for c in generate(model, tokenizer, prompts, sampling, progress=progress)]
        correct = [verify(c, r["answer"]) for c, r in zip(completions, records)]
        groups = defaultdict(lambda: defaultdict(list))
        for r, ok in zip(records, correct):
            groups["by_family"][r["family"]].append(ok)
            groups["by_steps"][str(r["steps"])].append(ok)
            if "shift" in r:
                groups["by_shift"][r["shift"]].append(ok)
        accuracy[split] = _mean(correct)
        detail[split] = {
            "n": len(records),
            "accuracy": accuracy[split],
            **{g: {k: _mean(v) for k, v in sorted(d.items())} for g, d in groups.items()},
            "native_style_share": _mean(["####" in c for c in completions]),
            "examples": [
                {"question": r["question"], "completion": c, "answer": r["answer"], "correct": ok}
                for r, c, ok in list(zip(records, completions, correct))[:3]
            ],
        }
    return accuracy, detail


# -- helpers ----------------------------------------------------------------


def _load(root: Path) -> LabArtifacts:
    import json

    info = json.loads((root / INFO_FILE).read_text(encoding="utf-8"))
    return LabArtifacts(
        root=root, model_dir=root / "model", data={s: root / "data" / f"{s}.jsonl" for s in SPLITS}, info=info
    )


def _mean(values) -> float:
    values = list(values)
    return round(sum(values) / len(values), 4) if values else 0.0


def _loadavg() -> float | None:
    with contextlib.suppress(OSError, AttributeError):
        return round(os.getloadavg()[0], 2)
    return None


def _free_cores() -> int:
    """Cores not busy with other work, at least 1: oversubscribed torch threads run tiny models far slower.

    Counts the tasks running right now (``/proc/loadavg``'s running field, less
    this process, at the lowest of a few samples so a short-lived task does not
    count); the load average would also count work that just finished, such as
    a build that ended a minute ago. Elsewhere, falls back to the 1-minute load average.
    """
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    busy = _running_others()
    if busy is None:
        busy = _loadavg() or 0.0
    return max(1, min(n, round(n - busy)))


def _running_others(samples: int = 5, interval: float = 0.05) -> int | None:
    """Other runnable tasks now (lowest of ``samples`` reads of /proc/loadavg), or None where it is unavailable."""
    seen = []
    for i in range(samples):
        try:
            with open("/proc/loadavg", encoding="ascii") as f:
                running = int(f.read().split()[3].split("/")[0])
        except (OSError, ValueError, IndexError):
            return None
        seen.append(max(0, running - 1))  # the reading task itself is running
        if i + 1 < samples:
            time.sleep(interval)
    return min(seen)


@contextlib.contextmanager
def _lock(root: Path):
    """Hold an exclusive file lock so two processes do not build the same lab at once."""
    root.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on POSIX
        yield
        return
    with open(root.parent / f".{root.name}.lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
