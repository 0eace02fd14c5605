"""Numbers for the report: per-split summaries over seeds, machine facts, and how figures are printed."""

from __future__ import annotations

import os
import platform
import statistics
from importlib import metadata


def summarize_runs(runs: list[dict], splits: list[str]) -> dict:
    """The ``summary`` block of a method: accuracy mean, std, seed count and 95% interval per split.

    ``std`` is the sample standard deviation (ddof=1) when at least two runs have
    the split, else 0.0. ``ci95`` is the two-sided 95% Student-t interval of the
    mean over seeds, ``mean ± t(0.975, n-1) · std / sqrt(n)`` with n the number of
    seeds (:func:`t_interval`), clipped to [0, 1]; None with fewer than two seeds.
    Runs without an accuracy for a split are left out of it; a split no run has
    gets ``{"mean": None, "std": None, "n_seeds": 0, "ci95": None}``.

    >>> summarize_runs([{"accuracy": {"t": 0.4}}, {"accuracy": {"t": 0.5}}], ["t"])["t"]["n_seeds"]
    2
    """
    out = {}
    for split in splits:
        values = [float(r["accuracy"][split]) for r in runs if r.get("accuracy", {}).get(split) is not None]
        if not values:
            out[split] = {"mean": None, "std": None, "n_seeds": 0, "ci95": None}
            continue
        std = statistics.stdev(values) if len(values) >= 2 else 0.0
        interval = t_interval(values)
        ci95 = None if interval is None else [max(0.0, interval[0]), min(1.0, interval[1])]
        out[split] = {"mean": statistics.fmean(values), "std": std, "n_seeds": len(values), "ci95": ci95}
    return out


def t_interval(values: list[float], level: float = 0.95) -> tuple[float, float] | None:
    """The two-sided Student-t confidence interval of the mean of ``values`` (None with fewer than two).

    ``mean ± t(1 - (1 - level) / 2, n - 1) · s / sqrt(n)``, s the sample std (ddof=1). With 2 seeds
    t(0.975, 1) = 12.71, so the interval is wide: that is what two seeds can say.

    >>> [round(x, 3) for x in t_interval([0.4, 0.5])]
    [-0.185, 1.085]
    """
    if len(values) < 2:
        return None
    from scipy.stats import t

    n, mean = len(values), statistics.fmean(values)
    half = float(t.ppf(1 - (1 - level) / 2, n - 1)) * statistics.stdev(values) / n**0.5
    return mean - half, mean + half


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


def format_interval(summary: dict | None) -> str:
    """``{"ci95": [0.38, 0.47]}`` -> ``"[38.0, 47.0]"`` (percent); none -> ``""``."""
    ci = (summary or {}).get("ci95")
    return f"[{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]" if ci else ""


def format_bytes(n: float | None) -> str:
    """``1.5e9`` -> ``"1.4 GiB"``; none -> ``"–"``."""
    if not n:
        return "–"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return "–"  # pragma: no cover


def format_count(n: float | None) -> str:
    """``12345678`` -> ``"12.3M"``; none -> ``"–"``."""
    if not n:
        return "–"
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= div:
            return f"{n / div:.1f}{suffix}"
    return f"{n:.0f}"


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
