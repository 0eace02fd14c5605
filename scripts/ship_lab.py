"""Write the lab builds that ship with sftlab (``src/sftlab/lab/shipped/<key>/``; see ``sftlab.lab.shipped``).

For each config: build it from the seed on one torch thread (or reuse a build from the seed already in --cache-dir),
then copy its lab.json (plus the SHA-256 of each data split), its model and tokenizer, and the artifacts derived
from that model which the demo would otherwise train (DART's lab mapper initialization for the default and no-prior
labs) into the package. A maintainer's tool: run it when the task generator, the lab model or the pretraining
change, then run the slow test ``tests/lab/test_shipped.py`` and commit the folder.

    python scripts/ship_lab.py --cache-dir /tmp/ship-cache/lab        # default, no-prior, careless
    python scripts/ship_lab.py --configs careless                     # builds in $SFTLAB_CACHE/lab
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import torch

from sftlab.experiments.entries.dart import noprior_config
from sftlab.experiments.entries.rl import careless_config
from sftlab.io import atomic_dir, file_sha256
from sftlab.lab import LabConfig, build_lab
from sftlab.lab.model import default_cache_dir
from sftlab.lab.shipped import MODEL_FILES, SOURCE, shipped_dir
from sftlab.lab.tasks import SPLITS

CONFIGS = {
    "default": (lambda: LabConfig(), True),
    "no-prior": (lambda: noprior_config(LabConfig().to_dict()), True),
    "careless": (lambda: careless_config(LabConfig().to_dict()), False),
}  # name -> (config, ships DART's lab mapper initialization)
ARTIFACT_FILES = (*MODEL_FILES, "train_summary.json")
INFO_DROP = ("source", "installed")  # an install's own fields, not the build's


def ship(name: str, cache_dir: Path) -> Path:
    make, with_mapper = CONFIGS[name]
    cfg = make()
    art = build_lab(cfg, cache_dir=cache_dir, progress=True, threads=1, shipped=False)
    if art.info.get("source") == SOURCE:
        sys.exit(f"ship_lab: {art.root} is an install of a shipped copy; use a cache with a build from the seed")
    artifacts = {}
    if with_mapper:
        from sftlab.methods.dart.lab_mapper import ensure_lab_mapper

        torch.set_num_threads(1)
        mapper = ensure_lab_mapper(art)
        artifacts[mapper.name.removeprefix(f"{art.root.name}-")] = mapper
    info = {k: v for k, v in art.info.items() if k not in INFO_DROP}
    info["data_sha256"] = {split: file_sha256(art.data[split]) for split in SPLITS}
    dest = shipped_dir(cfg)
    with atomic_dir(dest) as tmp:
        tmp = Path(tmp)
        (tmp / "lab.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
        (tmp / "model").mkdir()
        for f in MODEL_FILES:
            shutil.copyfile(art.model_dir / f, tmp / "model" / f)
        for artifact, src in artifacts.items():
            (tmp / "artifacts" / artifact).mkdir(parents=True)
            for f in ARTIFACT_FILES:
                shutil.copyfile(src / f, tmp / "artifacts" / artifact / f)
    acc = info.get("base_accuracy", {})
    print(f"ship_lab: {name} ({cfg.key()}) -> {dest}; base accuracy {acc}; artifacts {sorted(artifacts) or 'none'}")
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", default=",".join(CONFIGS), help=f"comma-separated, of {', '.join(CONFIGS)}")
    parser.add_argument(
        "--cache-dir",
        help="the labs' folder, as `sftlab lab build --cache-dir` (default $SFTLAB_CACHE/lab); a build from the seed "
        "already there is reused",
    )
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.configs.split(",") if n.strip()]
    unknown = sorted(set(names) - set(CONFIGS))
    if unknown:
        parser.error(f"unknown configs {unknown}; choose from {', '.join(CONFIGS)}")
    cache = Path(args.cache_dir) if args.cache_dir else default_cache_dir()
    for name in names:
        ship(name, cache)
    return 0


if __name__ == "__main__":
    sys.exit(main())
