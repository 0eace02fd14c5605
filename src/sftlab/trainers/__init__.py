"""Trainers: one config + trainer pair per method family, on TRL."""

from .run import TrainConfig, build_trainer, load_model_and_tokenizer, resolve_lab_defaults, run_train, save_final
from .sft import SFTLabConfig, SFTLabTrainer

__all__ = [
    "SFTLabConfig", "SFTLabTrainer", "TrainConfig", "build_trainer", "load_model_and_tokenizer",
    "resolve_lab_defaults", "run_train", "save_final",
]
