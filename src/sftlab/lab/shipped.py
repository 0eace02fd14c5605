"""The lab builds that ship with sftlab: each one's pretrained base model (0.86M parameters, 3.4 MB), its lab.json,
and artifacts derived from that model (DART's lab mapper initialization), so that a first ``sftlab demo`` starts at
once instead of pretraining for minutes. Three configs ship: the default one, and the two variants that demo
entries build (the no-prior lab of DART's ablation, ``expert_prior_fraction=0``, and RL's careless lab,
``careless_fraction=0.6``).

What ships is exactly what :func:`sftlab.lab.build_lab` produced for the config (seed 0, one torch thread), less
the data: the splits are generated again from the seed at install (a few seconds) and checked byte for byte against
the hashes recorded at build time. Installing is refused, and the lab is built from the seed instead, when no build
ships for the config or the regenerated data differ (the task generator changed). ``sftlab lab build --force``
always builds from the seed; a slow test rebuilds the default config and compares it with its shipped copy.
``scripts/ship_lab.py`` writes this folder.

Layout of ``sftlab/lab/shipped/``, one folder per config's key::

    <key>/lab.json            the build's lab.json, plus data_sha256 {split: sha256 of data/<split>.jsonl}
    <key>/model/              the base model checkpoint and tokenizer
    <key>/artifacts/<name>/   artifacts derived from that base model (e.g. dart-mapper-<settings key>/), copied on
                              request by :func:`shipped_artifact`
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from sftlab.io import atomic_dir, atomic_write_json, atomic_write_jsonl, file_sha256

from .config import LabConfig
from .tasks import SPLITS, generate_splits

SHIPPED = Path(__file__).parent / "shipped"
SOURCE = "shipped"  # lab.json's "source" for an install of a shipped copy (a build from the seed has none)
MODEL_FILES = ("config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")


def shipped_dir(cfg: LabConfig | str | None = None) -> Path:
    """Where the shipped build of ``cfg`` (a config or its key; default: the default config) lies, if it ships."""
    key = cfg if isinstance(cfg, str) else (cfg or LabConfig()).key()
    return SHIPPED / key


def shipped_keys() -> list[str]:
    """The keys of the configs whose build ships with this installation."""
    return sorted(p.name for p in SHIPPED.iterdir() if (p / "lab.json").is_file()) if SHIPPED.is_dir() else []


def shipped_info(cfg: LabConfig | str | None = None) -> dict | None:
    """The shipped build's lab.json for ``cfg`` (default: the default config), or None when it does not ship."""
    path = shipped_dir(cfg) / "lab.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def install_shipped(cfg: LabConfig, out: Path, say: Callable[[str], None]) -> bool:
    """Write the shipped build for ``cfg`` into the lab folder ``out``; False (and nothing to rely on in ``out``)
    when no build ships for ``cfg`` or the regenerated data differ from the shipped build's."""
    info = shipped_info(cfg)
    if info is None or info.get("config") != cfg.to_dict():
        return False
    splits = generate_splits(cfg)
    for split in SPLITS:
        atomic_write_jsonl(out / "data" / f"{split}.jsonl", splits[split])
    got = {split: file_sha256(out / "data" / f"{split}.jsonl") for split in SPLITS}
    if got != info.get("data_sha256"):
        changed = sorted(s for s in SPLITS if got[s] != info.get("data_sha256", {}).get(s))
        say(f"sftlab lab: the shipped build does not match this version's data ({', '.join(changed)}); building")
        return False
    (out / "model").mkdir(parents=True, exist_ok=True)
    for name in MODEL_FILES:
        shutil.copyfile(shipped_dir(cfg) / "model" / name, out / "model" / name)
    installed = {
        **info,
        "key": cfg.key(),
        "source": SOURCE,
        "installed": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    atomic_write_json(out / "lab.json", installed)
    say(f"sftlab lab: installed the shipped build (built {info.get('created')}; `sftlab lab build --force` rebuilds)")
    return True


def shipped_artifact(lab, name: str, dest: Path) -> bool:
    """Copy the shipped artifact ``name`` (derived from the base model of ``lab``'s config) to ``dest`` when ``lab``
    is an install of that shipped build (same weights, by hash) and the artifact ships; True if copied. ``dest``
    appears whole or not at all."""
    home = shipped_dir(str(lab.info.get("key", "")))
    src = home / "artifacts" / name
    if lab.info.get("source") != SOURCE or not src.is_dir():
        return False
    if file_sha256(Path(lab.model_dir) / "model.safetensors") != file_sha256(home / "model" / "model.safetensors"):
        return False
    with atomic_dir(dest) as tmp:
        for f in src.iterdir():
            shutil.copyfile(f, Path(tmp) / f.name)
    return True
