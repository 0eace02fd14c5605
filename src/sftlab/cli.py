"""``sftlab <command>``: parse flags, dispatch, and turn user errors into one line + exit code 2.

Each command is a config dataclass (its fields are the flags, their docs the
help) and a ``run_*`` function. Imports are lazy so ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings

from . import __version__
from .config import add_dataclass_args, build_config
from .errors import SftlabError

# command -> (module, config class, run function, one-line help)
COMMANDS = {
    "train": (
        "sftlab.methods.sft",
        "TrainConfig",
        "run_train",
        "Fine-tune a causal LM with an SFT objective (nll, dft, power, asft).",
    ),
    "eval": (
        "sftlab.methods.eval",
        "EvalConfig",
        "run_eval",
        "Evaluate a model: greedy accuracy, avg@k / pass@k, per split.",
    ),
    "adapt": (
        "sftlab.methods.dart",
        "AdaptConfig",
        "run_adapt",
        "DART step 1: train a mapper with RL and rewrite SFT data into the target's own distribution.",
    ),
    "dart": (
        "sftlab.methods.dart",
        "DartConfig",
        "run_dart",
        "DART end to end: adapt the data (RL mapper), then fine-tune the target on it.",
    ),
    "demo": (
        "sftlab.experiments.runner",
        "DemoConfig",
        "run_demo",
        "Run the methods on the embedded lab and write a report.",
    ),
    "compare": (
        "sftlab.experiments.compare",
        "CompareConfig",
        "run_compare",
        "Compare methods (base, SFT, DFT, ASFT, S2L and random subsets, DART, IRFT, SPIN, RFT, NFT, direct RL, "
        "distill) on your model, training set and eval sets, over seeds; one report.",
    ),
    "select": (
        "sftlab.methods.s2l",
        "SelectConfig",
        "run_select",
        "Select training data (S2L: cluster a small proxy's loss trajectories).",
    ),
    "landscape": (
        "sftlab.methods.landscape",
        "LandscapeConfig",
        "run_landscape",
        "Per-layer geometry of hidden states (intrinsic dimension, density peaks, ARI).",
    ),
    "distill": (
        "sftlab.methods.distill",
        "DistillConfig",
        "run_distill",
        "Self-distillation: generate, filter (cheapest first), fine-tune, repeat.",
    ),
}
# `sftlab train --method M`: methods other than plain token-level SFT take their own options.
TRAIN_METHODS = {
    "irft": ("sftlab.methods.irl", "IRLConfig", "run_irl"),
    "spin": ("sftlab.methods.irl", "IRLConfig", "run_irl"),
    "rft": ("sftlab.methods.irl", "IRLConfig", "run_irl"),
    "nft": ("sftlab.methods.nft", "NFTTrainConfig", "run_nft"),
}
LAB_ACTIONS = {
    "build": "Build (or reuse) the lab model and data; the default config installs the build that ships with sftlab "
    "(seconds), --force builds from the seed (minutes)",
    "info": "Describe the lab: config, files, base accuracy.",
}


def _load(module: str, name: str):
    """``module.name``; an import error is a bug in sftlab and propagates (a command never silently vanishes)."""
    return getattr(importlib.import_module(module), name)


def _train_method(argv: list[str]) -> str | None:
    """The value of ``--method`` in a ``train`` command line, if any."""
    if not argv or argv[0] != "train":
        return None
    for i, arg in enumerate(argv):
        if arg == "--method" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--method="):
            return arg.split("=", 1)[1]
    return None


def _command_spec(name: str, argv: list[str]):
    module, cfg_name, run_name, help_text = COMMANDS[name]
    method = _train_method(argv) if name == "train" else None
    if method in TRAIN_METHODS:
        module, cfg_name, run_name = TRAIN_METHODS[method]
    return module, cfg_name, run_name, help_text


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sftlab",
        description="Post-training beyond plain SFT. With no --model/--data, commands use the embedded lab.",
    )
    parser.add_argument("--version", action="version", version=f"sftlab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module, cfg_name, _run, help_text = _command_spec(name, argv or [])
        cfg_cls = _load(module, cfg_name)
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--config", metavar="RECIPE.yaml", help="YAML recipe with option: value defaults (flags win).")
        if name == "train" and cfg_name == "TrainConfig":
            p.add_argument(
                "--method",
                choices=["sft", *TRAIN_METHODS],
                default="sft",
                help="sft: token-level objectives (--objective); irft, spin, rft: inverse RL from "
                "demonstrations (arXiv 2405.17888; `sftlab train --method irft --help` lists their options); "
                "nft: negative-aware fine-tuning on verified samples (arXiv 2505.18116; "
                "`sftlab train --method nft --help`).",
            )
        add_dataclass_args(p, cfg_cls)
    lab_cls = _load("sftlab.lab", "LabConfig")
    p = sub.add_parser(
        "lab", help="Build or describe the embedded lab.", description="Build or describe the embedded lab."
    )
    p.add_argument("action", choices=list(LAB_ACTIONS), help="; ".join(f"{k}: {v}" for k, v in LAB_ACTIONS.items()))
    p.add_argument("--config", metavar="RECIPE.yaml", help="YAML recipe for the lab config.")
    p.add_argument(
        "--cache-dir", default=None, help="Where lab builds are cached (default: $SFTLAB_CACHE or ~/.cache/sftlab/lab)."
    )
    p.add_argument(
        "--force", action="store_true", help="Build from the seed even if a build is cached or ships with sftlab."
    )
    add_dataclass_args(p, lab_cls)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # TRL's generation helper (trl.models.utils) reads the model's old gradient-checkpointing name at every sampling
    # step; the FutureWarning is not the user's to act on
    warnings.filterwarnings("ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning)
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 0
    try:
        if args.command == "lab":
            return _run_lab(args)
        module, cfg_name, run_name, _ = _command_spec(args.command, argv)
        cfg = build_config(_load(module, cfg_name), args, getattr(args, "config", None))
        getattr(importlib.import_module(module), run_name)(cfg)
        return 0
    except SftlabError as e:
        print(f"sftlab {args.command}: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print(f"sftlab {args.command}: interrupted", file=sys.stderr)
        return 130


def _run_lab(args) -> int:
    import json

    from .lab import LabConfig, build_lab, lab_info

    cfg = build_config(LabConfig, args, args.config)
    if args.action == "build":
        art = build_lab(cfg, cache_dir=args.cache_dir, force=args.force)
        print(f"sftlab lab: model at {art.model_dir}")
        print(json.dumps(art.info.get("base_accuracy", {}), indent=2))
    else:
        print(json.dumps(lab_info(cfg, cache_dir=args.cache_dir), indent=2, default=str))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
