"""Numbers for the report: per-split summaries over seeds, machine facts, and how figures are printed."""

from __future__ import annotations

import os
import platform
import statistics
from importlib import metadata


def summarize_runs(runs: list[dict], splits: list[str]) -> dict:
    """The ``summary`` block of a method: accuracy mean, std and seed count per split.

    ``std`` is the sample standard deviation (ddof=1) when at least two runs have
    the split, else 0.0. Runs without an accuracy for a split are left out of it;
    a split no run has gets ``{"mean": None, "std": None, "n_seeds": 0}``.

    >>> summarize_runs([{"accuracy": {"t": 0.4}}, {"accuracy": {"t": 0.5}}], ["t"])["t"]["n_seeds"]
    2
    """
    out = {}
    for split in splits:
        values = [float(r["accuracy"][split]) for r in runs if r.get("accuracy", {}).get(split) is not None]
        if not values:
            out[split] = {"mean": None, "std": None, "n_seeds": 0}
            continue
        std = statistics.stdev(values) if len(values) >= 2 else 0.0
        out[split] = {"mean": statistics.fmean(values), "std": std, "n_seeds": len(values)}
    return out


def machine_info() -> dict:
    """Facts about this machine for a report header: CPU model, cores, GPU, library versions."""
    info = {"cpu": _cpu_model(), "cores": os.cpu_count(), "gpu": None, "gpu_count": 0}
    try:
        import torch

        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
            info["gpu_count"] = torch.cuda.device_count()
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    for package in ("torch", "transformers", "trl"):
        try:
            info[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            info[package] = None
    info["python"] = platform.python_version()
    info["platform"] = platform.platform(terse=True)
    return info


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def format_accuracy(summary: dict | None) -> str:
    """``{"mean": 0.425, "std": 0.035}`` -> ``"42.5 ± 3.5"`` (percent); a missing value -> ``"–"``."""
    if not summary or summary.get("mean") is None:
        return "–"
    return f"{100 * summary['mean']:.1f} ± {100 * (summary.get('std') or 0.0):.1f}"


def format_seconds(seconds: float | None) -> str:
    """Training time as people read it: ``"–"``, ``"42 s"``, ``"3.5 min"``, ``"1.2 h"``."""
    if not seconds:
        return "–"
    if seconds < 100:
        return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"
    if seconds < 6000:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def format_machine(machine: dict | None) -> str:
    """One line: ``"AMD EPYC 7B13 · 2 cores · no GPU · torch 2.13.0"``."""
    if not machine:
        return "unknown machine"
    parts = [str(machine["cpu"])] if machine.get("cpu") else []
    if machine.get("cores"):
        parts.append(f"{machine['cores']} cores")
    gpu = machine.get("gpu")
    count = machine.get("gpu_count") or 1
    parts.append(f"{count} x {gpu}" if gpu and count > 1 else (gpu or "no GPU"))
    parts += [f"{p} {machine[p]}" for p in ("torch", "transformers", "trl") if machine.get(p)]
    return " · ".join(parts)
