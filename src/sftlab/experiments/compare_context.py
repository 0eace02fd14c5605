"""The :class:`~sftlab.experiments.context.EntryContext` of ``sftlab compare``: runs cached by their settings on
the user's model, training set and eval sets (:mod:`sftlab.experiments.compare` runs the comparison)."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from sftlab.errors import SftlabError
from sftlab.io import atomic_write_text

from .compare_methods import SHARED_STEPS, STARTS_FROM_SFT, TRAINS_WITH_SFT
from .compare_options import CompareConfig
from .compare_plan import ComparePlan, full_options, settings_key
from .context import sampled_metrics, train_and_evaluate
from .recipes import LabRecipe


class CompareContext:
    """The :class:`~sftlab.experiments.context.EntryContext` of ``sftlab compare``: the user's model, training set
    and eval sets, each method's resolved recipe, and cached train/eval helpers that also measure cost."""

    lab = None  # no lab: the entries compare runs read ctx.model and ctx.train_data
    quick = False
    size = "full"  # the paper recipes as written (compare reads no lab recipe sizes)
    keep_proxy_checkpoints = False  # S2L trains --proxy-model itself: a run keeps its checkpoints for resuming only

    def __init__(self, cfg: CompareConfig, plan: ComparePlan, out: str | Path):
        self.cfg, self.plan, self.out = cfg, plan, Path(out)
        self.model, self.train_data = cfg.model, cfg.data
        self.proxy_model, self.mapper_model = cfg.proxy_model, cfg.mapper_model or cfg.model
        self.probe_data = next(iter(plan.evals.values()))  # the landscape reads the first eval set
        sft = plan.settings.get("sft") or next(iter(plan.settings.values()), {})
        self.steps: int = sft.get("max_steps", -1)
        self.batch_size: int = sft.get("per_device_train_batch_size", 8)
        self.splits = list(plan.evals)
        self.selected = [e.name for e in plan.entries]
        self.results: dict[str, dict] = {}
        self.notes: list[str] = []
        self.adaptations: dict[str, dict] = {}
        self._items: dict[str, list[dict]] | None = None
        self.eval_key = settings_key(
            {
                "evals": {n: plan.fingerprints[f"eval:{n}"] for n in plan.evals},
                "max_new_tokens": cfg.max_new_tokens,
                "limit": cfg.eval_limit,
                "mode": cfg.mode,
                "prompt_template": cfg.prompt_template,
            }
        )

    def run_key(self, name: str) -> str:
        """The hash a method's runs are filed under: its resolved settings, the model's and the data's fingerprints.
        A step the seeds share (:data:`SHARED_STEPS`: S2L's proxy, DART's adaptation) is keyed by what it reads."""
        fp = self.plan.fingerprints
        if name in SHARED_STEPS:
            method, fields, inputs = SHARED_STEPS[name]
            settings = {k: v for k, v in self.plan.settings[method].items() if fields is None or k in fields}
            key = {"step": name, "settings": settings, "prompt_template": self.cfg.prompt_template}
            return settings_key({**key, **{k: fp[k] for k in inputs}})
        if name not in self.plan.settings:  # the base model: nothing trained
            return settings_key({"method": name, "model": fp["model"]})
        key = {
            "method": name,
            "settings": self.plan.settings[name],
            "model": fp["model"],
            "data": fp["data"],
            "prompt_template": self.cfg.prompt_template,
        }
        if name in STARTS_FROM_SFT:
            key["start"] = self.run_key("sft")  # a changed SFT run is a new starting point
        if name in TRAINS_WITH_SFT:
            key["fine-tuning"] = self.plan.settings["sft"]
            key["shared"] = {step: self.run_key(step) for step, (m, _, _) in SHARED_STEPS.items() if m == name}
        if name == "landscape":  # it reads the sft and dft runs (those compared) and the first eval set
            key["compared"] = {n: self.run_key(n) for n in ("sft", "dft") if n in self.plan.settings}
            key["probe"] = fp[f"eval:{next(iter(self.plan.evals))}"]
        return settings_key(key)

    def run_dir(self, name: str, seed: int | None) -> Path:
        return self.out / "runs" / name / self.run_key(name) / ("once" if seed is None else f"seed{seed}")

    def recipe(self, path: str, cls, name: str | None = None) -> LabRecipe:
        """What entry ``name`` (default: the compared entry with lab recipe ``path``) asks for by its lab recipe:
        here the entry's paper recipe, ``--set`` applied, every field of its config class filled (the class's
        defaults where the recipe is silent), with compare's ``--prompt-template`` and ``--trust-remote-code``
        where the class has them. ``cls`` may extend the entry's class (DART's adaptation is part of DartConfig)."""
        asked = (lambda e: e.name == name) if name else (lambda e: e.recipe == path)
        [entry] = [e for e in self.plan.entries if e.name in self.plan.settings and asked(e)] or [None]
        if entry is None or not issubclass(cls, entry.config):
            raise SftlabError(f"{path}: compare runs methods with their paper recipes, not the lab's")
        options = full_options(entry, self.plan.settings[entry.name], self.cfg)
        shared = {"prompt_template": self.cfg.prompt_template, "trust_remote_code": self.cfg.trust_remote_code}
        options.update({k: v for k, v in shared.items() if k in options})
        return LabRecipe(self.plan.recipes[entry.name], options)

    def add_note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def train(self, name: str, seed: int, *, data: str | None = None, model: str | None = None, **overrides) -> dict:
        """Fine-tune ``model`` (default --model) on ``data`` (default --data) with the method's resolved recipe;
        cached. An unfinished run resumes from its last checkpoint. Returns the train summary."""
        from sftlab.methods.sft import TrainConfig, run_train

        run_dir = self.run_dir(name, seed)
        done = run_dir / "model" / "train_summary.json"
        if done.is_file() and not self.cfg.fresh:
            return json.loads(done.read_text())
        resume = not self.cfg.fresh and any((run_dir / "model").glob("checkpoint-*"))
        settings = self.plan.settings["sft" if name in TRAINS_WITH_SFT else name]
        cfg = TrainConfig(**{
            **settings, "model": model or self.model, "data": data or self.train_data,
            "output_dir": str(run_dir / "model"), "seed": seed, "progress": False, "resume": resume,
            "prompt_template": self.cfg.prompt_template, "trust_remote_code": self.cfg.trust_remote_code, **overrides,
        })  # fmt: skip
        self._write_settings(name, run_dir)
        _reset_peak_memory()
        t0 = time.time()
        summary = run_train(cfg)
        for checkpoint in (run_dir / "model").glob("checkpoint-*"):  # finished: the final model is what is compared
            shutil.rmtree(checkpoint, ignore_errors=True)
        tokens = [h["num_tokens"] for h in summary["log_history"] if "num_tokens" in h]
        _write_json(
            run_dir / "train_cost.json",
            {"wall_seconds": time.time() - t0, "tokens_trained": max(tokens) if tokens else None, **_peak_memory()},
        )
        return summary

    def run_method(self, name: str, seed: int, fn, cfg) -> dict:
        """``fn(cfg)`` (a method's own command) for the run of ``name`` and ``seed``, cached: its summary is kept in
        the run's folder; an unfinished run resumes as the method does (IRL iterations, distill rounds, RL
        checkpoints). Measures the run's cost as :meth:`train` does."""
        run_dir = self.run_dir(name, seed)
        done = run_dir / "summary.json"
        if done.is_file() and not self.cfg.fresh:
            return json.loads(done.read_text())
        self._write_settings(name, run_dir)
        _reset_peak_memory()
        t0 = time.time()
        summary = fn(cfg)
        logs = summary.get("log_history") or []
        tokens = [h["num_tokens"] for h in logs if "num_tokens" in h]
        _write_json(
            run_dir / "train_cost.json",
            {"wall_seconds": time.time() - t0, "tokens_trained": max(tokens) if tokens else None, **_peak_memory()},
        )
        _write_json(done, json.loads(json.dumps(summary, default=str)))
        return summary

    def _write_settings(self, name: str, run_dir: Path) -> None:
        """``runs/<name>/<key>/settings.json``: what the key hashes, readable (a shared step: its method's)."""
        method = SHARED_STEPS[name][0] if name in SHARED_STEPS else name
        extra = {"start": f"runs/sft/{self.run_key('sft')}"} if name in STARTS_FROM_SFT else {}
        if name in TRAINS_WITH_SFT:
            extra["fine-tuning"] = {"recipe": self.plan.recipes["sft"], "settings": self.plan.settings["sft"]}
            extra["shared"] = {s: f"runs/{s}/{self.run_key(s)}" for s, (m, _, _) in SHARED_STEPS.items() if m == name}
        settings = {
            "method": name, "recipe": self.plan.recipes[method], "settings": self.plan.settings[method],
            "fingerprints": {k: v for k, v in self.plan.fingerprints.items() if not k.startswith("eval:")}, **extra,
        }  # fmt: skip
        run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(run_dir.parent / "settings.json", json.dumps(settings, indent=2, default=str))

    def shared_dir(self, step: str) -> Path:
        """Where a step the seeds share (:data:`SHARED_STEPS`) keeps its files, keyed by what it reads; its
        settings.json written beside."""
        path = self.run_dir(step, None)
        self._write_settings(step, path)
        return path

    def evaluate(self, name: str, seed: int | None, model_dir: str, *, tag: str = "", k: int = 1) -> dict:
        """Greedy accuracy on every eval set; cached under the run's ``eval/<key>/`` (``tag``: ``eval/<key>/<tag>/``;
        ``k > 1``: a ``k<k>/`` folder below it, with avg@k and pass@k at temperature 1). Returns accuracy, n, examples
        (and ``sampled`` with ``k > 1``)."""
        from sftlab.evaluation import evaluate
        from sftlab.generation import SamplingConfig
        from sftlab.models import load_model_and_tokenizer

        eval_dir = self.run_dir(name, seed) / "eval" / self.eval_key / tag / (f"k{k}" if k > 1 else "")
        if not (eval_dir / "metrics.json").is_file() or self.cfg.fresh:
            items = self.items()
            _reset_peak_memory()
            t0 = time.time()
            model, tok = load_model_and_tokenizer(model_dir, "infer", trust_remote_code=self.cfg.trust_remote_code)
            evaluate(
                model,
                tok,
                items,
                sampling=SamplingConfig(max_new_tokens=self.cfg.max_new_tokens, batch_size=self.cfg.eval_batch_size),
                k=k,
                mode=self.cfg.mode,
                output_dir=str(eval_dir),
                progress=False,
                extra={"model": model_dir, "data": self.plan.evals},
            )
            del model
            _write_json(eval_dir / "eval_cost.json", {"wall_seconds": time.time() - t0, **_peak_memory()})
        metrics = json.loads((eval_dir / "metrics.json").read_text())
        splits = metrics["splits"]
        return {
            "accuracy": {s: splits[s]["accuracy"] for s in self.splits},
            "n": {s: splits[s]["n"] for s in self.splits},
            "examples": _examples(eval_dir / "generations.jsonl", self.cfg.examples, self.splits),
            "cost": self.cost(name, seed, eval_dir),
            **sampled_metrics(metrics, self.splits),
        }

    def train_and_evaluate(self, name: str, seed: int, **train_kwargs) -> dict:
        return train_and_evaluate(self, name, seed, **train_kwargs)

    def cost(self, name: str, seed: int | None, eval_dir: Path) -> dict:
        """Wall time (training + evaluation, as measured when each ran, so a cached run keeps its figures), tokens
        trained and peak memory of one run."""
        parts = [_read_json(self.run_dir(name, seed) / "train_cost.json"), _read_json(eval_dir / "eval_cost.json")]
        parts = [p for p in parts if p]
        peaks = [p["peak_memory_bytes"] for p in parts if p.get("peak_memory_bytes")]
        return {
            "wall_seconds": sum(p["wall_seconds"] for p in parts) if parts else None,
            "tokens_trained": next((p["tokens_trained"] for p in parts if "tokens_trained" in p), None),
            "peak_memory_bytes": max(peaks) if peaks else None,
            "peak_memory_kind": next((p["peak_memory_kind"] for p in parts if "peak_memory_kind" in p), None),
        }

    def items(self) -> dict[str, list[dict]]:
        """The eval sets' items, prompts rendered with the model's tokenizer (as training renders them)."""
        if self._items is None:
            from sftlab.data import eval_items
            from sftlab.models import load_tokenizer

            tok = load_tokenizer(self.model, trust_remote_code=self.cfg.trust_remote_code)
            self._items = {
                n: eval_items(d, tok, prompt_template=self.cfg.prompt_template)[: self.cfg.eval_limit]
                for n, d in self.plan.eval_data.items()
            }
        return self._items


def _examples(path: Path, n: int, splits: list[str]) -> list[dict]:
    """Up to ``n`` greedy generations, taken in turn from each eval set."""
    by_split: dict[str, list[dict]] = {s: [] for s in splits}
    with open(path, encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if r.get("kind", "greedy") == "greedy" and len(by_split.get(r["split"], [None] * n)) < n:
                by_split[r["split"]].append(
                    {
                        "split": r["split"],
                        "prompt": r["prompt"],
                        "completion": r["completion"],
                        "answer": r["reference"],
                        "correct": r["correct"],
                    }
                )
    rows = []
    for i in range(n):
        rows += [by_split[s][i] for s in splits if i < len(by_split[s])]
    return rows[:n]


def _reset_peak_memory() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()


def _peak_memory() -> dict:
    """GPU: the bytes torch allocated at most since the last reset; CPU: the process's max RSS so far."""
    import torch

    if torch.cuda.is_available():
        return {"peak_memory_bytes": int(torch.cuda.max_memory_allocated()), "peak_memory_kind": "cuda"}
    import resource
    import sys

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return {"peak_memory_bytes": int(rss if sys.platform == "darwin" else rss * 1024), "peak_memory_kind": "max_rss"}


def _write_json(path: Path, obj: dict) -> None:
    from sftlab.io import atomic_write_json

    atomic_write_json(path, obj)


def _read_json(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None
