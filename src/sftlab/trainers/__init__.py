"""Trainers: one config + trainer pair per method family, on TRL."""

from .run import TrainConfig, build_trainer, load_model_and_tokenizer, resolve_lab_defaults, run_train, save_final
from .irl import IRFTConfig, IRFTTrainer, IRLConfig, run_irl
from .sft import SFTLabConfig, SFTLabTrainer

__all__ = [
    "IRFTConfig", "IRFTTrainer", "IRLConfig", "run_irl", "SFTLabConfig", "SFTLabTrainer", "TrainConfig", "build_trainer", "load_model_and_tokenizer",
    "resolve_lab_defaults", "run_train", "save_final",
]
