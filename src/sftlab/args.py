"""Argument groups that several commands share: each option is defined and documented once, here.

A command's config inherits the groups it takes (``@dataclass class TrainConfig(RunArgs, LoraArgs, ModelArgs)``)
and adds its own options; the help text below is the ``--help`` of every command that inherits the field. A
command whose paper uses another default redeclares that one field, and its help says whose default it is.

- :class:`ModelArgs`: the model, whether its hub code may run, the prompt template;
- :class:`LoraArgs`: LoRA adapters (PEFT);
- :class:`RunArgs`: a training run's optimizer, precision and logging options, mapped onto any TRL config by
  :func:`sftlab.methods.trainer_args.trainer_args`.

Every command config validates itself when it is built (:class:`Validated`): its ``validate()`` raises
:class:`~sftlab.errors.SftlabError` with one line naming the flag (:func:`flag_error`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .config import help_meta as _h
from .errors import SftlabError


def flag_error(name: str, why: str) -> SftlabError:
    """One line naming the flag of field ``name``: ``--max-new-tokens: must be at least 1, got 0``."""
    return SftlabError(f"--{name.replace('_', '-')}: {why}")


class Validated:
    """A config that checks itself on construction (flags, recipe or code alike): ``__post_init__`` runs ``validate``."""

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        """Raise :func:`flag_error` for the first bad value; a subclass checks its own fields."""

    def require_positive(self, *names: str, minimum: int | float = 1) -> None:
        """Each of ``names`` is at least ``minimum``."""
        for name in names:
            if getattr(self, name) < minimum:
                raise flag_error(name, f"must be at least {minimum}, got {getattr(self, name)}")

    def require_non_negative(self, *names: str) -> None:
        for name in names:
            if getattr(self, name) < 0:
                raise flag_error(name, f"must be >= 0, got {getattr(self, name)}")


@dataclass
class ModelArgs(Validated):
    """The model a command starts from."""

    model: str | None = field(
        default=None, metadata=_h("Hugging Face model id or local path. Omitted: the embedded lab model.")
    )
    trust_remote_code: bool = field(default=False, metadata=_h("Allow model code from the hub (off unless you ask)."))
    prompt_template: str | None = field(
        default=None,
        metadata=_h(
            "Template with a {question} slot for reasoning records. Default: the tokenizer's chat template, else 'Question: ...\\nSolution:'."
        ),
    )


@dataclass
class LoraArgs(Validated):
    """LoRA adapters (PEFT) instead of full fine-tuning."""

    lora: bool = field(
        default=False,
        metadata=_h(
            "Train LoRA adapters (PEFT) instead of all weights; the saved model is merged (iterative methods: at the end of every iteration)."
        ),
    )
    lora_r: int = field(default=16, metadata=_h("LoRA rank."))
    lora_alpha: int = field(default=32, metadata=_h("LoRA alpha."))
    lora_dropout: float = field(default=0.05, metadata=_h("LoRA dropout."))
    lora_target_modules: str = field(
        default="all-linear", metadata=_h("Comma-separated module names for LoRA, or 'all-linear'.")
    )


@dataclass
class RunArgs(Validated):
    """A training run's optimizer, precision and logging. Defaults are ``sftlab train``'s (the DFT paper's)."""

    learning_rate: float = field(default=5e-5, metadata=_h("Peak learning rate."))
    lr_scheduler_type: str = field(default="cosine", metadata=_h("Learning-rate schedule (transformers names)."))
    weight_decay: float = field(default=0.0, metadata=_h("AdamW weight decay."))
    max_grad_norm: float = field(default=1.0, metadata=_h("Gradient clipping norm (0 disables)."))
    per_device_train_batch_size: int = field(
        default=8,
        metadata=_h(
            "Training examples per device per micro-batch (sequences; IRFT/SPIN and RFT's reward step: pairs)."
        ),
    )
    bf16: bool | None = field(
        default=None, metadata=_h("bf16 mixed precision. Default: on where a GPU supports it, off on CPU.")
    )
    gradient_checkpointing: bool = field(
        default=False, metadata=_h("Recompute activations in backward to save memory (slower).")
    )
    logging_steps: int = field(default=10, metadata=_h("Log every N optimizer steps."))
    seed: int = field(default=42, metadata=_h("Random seed (data subsets, sampling and training)."))
    report_to: str = field(
        default="none", metadata=_h("Experiment trackers (transformers names: none, wandb, tensorboard, ...).")
    )
    progress: bool = field(default=True, metadata=_h("Show progress bars."))
