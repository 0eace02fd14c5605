"""The embedded lab: synthetic reasoning tasks and a tiny base model, built once and cached.

With no ``--model``/``--data``, sftlab commands run on the lab (docs/lab.md):

>>> from sftlab.lab import LabConfig, ensure_lab
>>> lab = ensure_lab()                 # doctest: +SKIP  (builds on first use, a few minutes on 2 cores)
>>> lab.model_dir, lab.data["train"]   # doctest: +SKIP

``LabConfig(expert_prior_fraction=0.0)`` builds the variant whose base model
never saw the expert solution style.
"""

from .config import LabConfig
from .model import LabArtifacts, build_lab, default_cache_dir, default_eval_setup, ensure_lab, lab_info, lab_root
from .tasks import (
    FAMILIES,
    OPS,
    SHIFTS,
    SPLITS,
    Family,
    Problem,
    expert_solution,
    generate_splits,
    make_problem,
    make_record,
    native_solution,
    parse_expert_steps,
)
from .tokenizer import train_tokenizer

__all__ = [
    "LabConfig",
    "LabArtifacts",
    "build_lab",
    "ensure_lab",
    "lab_info",
    "lab_root",
    "default_cache_dir",
    "default_eval_setup",
    "FAMILIES",
    "OPS",
    "SHIFTS",
    "SPLITS",
    "Family",
    "Problem",
    "make_problem",
    "native_solution",
    "parse_expert_steps",
    "expert_solution",
    "make_record",
    "generate_splits",
    "train_tokenizer",
]
