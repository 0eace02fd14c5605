"""Options of ``sftlab train --method irft|spin|rft`` and their checks."""

from __future__ import annotations

from dataclasses import dataclass, field

from sftlab.args import LoraArgs, ModelArgs, RunArgs, flag_error
from sftlab.config import help_meta as _h
from sftlab.objectives.irl import LINKS

METHODS = ("irft", "spin", "rft")


CHUNKING = ("contiguous", "shuffled")


@dataclass
class IRLConfig(RunArgs, LoraArgs, ModelArgs):
    """Options of ``sftlab train --method irft|spin|rft``. Defaults follow arXiv 2405.17888 (7B: lr 5e-7, beta 0.1, T=5).

    The model, LoRA and run options are the shared groups of :mod:`sftlab.args`; redeclared here are the ones
    whose default is the paper's (learning rate, schedule, LoRA rank and alpha).
    """

    method: str = field(
        default="irft",
        metadata=_h(
            "irft: implicit reward, one chunk of the prompts per iteration; spin: implicit reward, the whole data set every iteration; rft: explicit reward model + RL.",
            choices=list(METHODS),
        ),
    )
    data: str | None = field(
        default=None,
        metadata=_h(
            "Demonstrations (SFT data): .jsonl/.json/.parquet, a folder or a hub id. Omitted: the lab's expert-style train split."
        ),
    )
    output_dir: str = field(default="outputs/irl", metadata=_h("Where iterations, checkpoints and metrics go."))
    iterations: int = field(
        default=5,
        metadata=_h(
            "Outer iterations T (IRFT/RFT: the prompts are cut into T chunks; SPIN: T passes over all of them)."
        ),
    )
    steps_per_iteration: int = field(
        default=0,
        metadata=_h(
            "Optimizer steps K per iteration (RFT: of the policy step). 0: --epochs-per-iteration passes over the iteration's pairs."
        ),
    )
    epochs_per_iteration: float = field(
        default=1.0, metadata=_h("Passes over the iteration's pairs when --steps-per-iteration is 0.")
    )
    chunking: str = field(
        default="contiguous",
        metadata=_h(
            "How IRFT/RFT cut the prompts into T chunks: contiguous slices in file order, or a seeded shuffle first.",
            choices=list(CHUNKING),
        ),
    )
    max_prompts: int = field(default=0, metadata=_h("Use a seeded subset of this many demonstrations (0: all)."))
    beta: float = field(
        default=0.1,
        metadata=_h(
            "IRFT/SPIN: scale of the implicit reward beta*log(pi/pi_t). RFT: KL coefficient of the policy step."
        ),
    )
    link: str = field(
        default="logistic",
        metadata=_h(
            "IRFT link l(z): logistic (SPIN's loss), hinge max(0, 1-z), or linear -z (the raw IRL gradient). SPIN always uses logistic.",
            choices=list(LINKS),
        ),
    )
    learning_rate: float = field(
        default=5e-7, metadata=_h("Peak learning rate of the policy (arXiv 2405.17888's 7B value; sftlab train: 5e-5).")
    )
    lr_scheduler_type: str = field(
        default="linear",
        metadata=_h(
            "Learning-rate schedule within an iteration (transformers names; here linear, in sftlab train cosine)."
        ),
    )
    warmup_ratio: float = field(default=0.1, metadata=_h("Fraction of each iteration's steps for linear warmup."))
    gradient_accumulation_steps: int = field(default=1, metadata=_h("Micro-batches per optimizer step."))
    max_length: int = field(
        default=1024, metadata=_h("Longest sequence in tokens (prompt + completion); longer ones are cut.")
    )
    n: int = field(
        default=1, metadata=_h("Generations per prompt per iteration (each makes one pair with the demonstration).")
    )
    temperature: float = field(default=1.0, metadata=_h("Sampling temperature of the generations (0: greedy)."))
    top_p: float = field(default=1.0, metadata=_h("Nucleus sampling threshold of the generations."))
    max_new_tokens: int = field(default=256, metadata=_h("Longest generation in tokens."))
    generation_batch_size: int = field(default=64, metadata=_h("Prompts per generation batch."))
    mix_previous: bool = field(
        default=False,
        metadata=_h("SPIN/IRFT: also train on the previous iteration's pairs (SPIN's iteration-1 recipe)."),
    )
    reward_model: str | None = field(
        default=None,
        metadata=_h(
            "RFT: model the reward model (a value head on a causal LM) starts from. Omitted: the starting policy."
        ),
    )
    reward_steps: int = field(
        default=0,
        metadata=_h("RFT: optimizer steps of the reward step per iteration (0: one pass over the iteration's pairs)."),
    )
    reward_learning_rate: float = field(default=1e-5, metadata=_h("RFT: learning rate of the reward model."))
    num_generations: int = field(
        default=4, metadata=_h("RFT: completions per prompt in the policy step (the GRPO group).")
    )
    heldout_fraction: float = field(
        default=0.1, metadata=_h("RFT: share of the prompts held out to score the reward model each iteration.")
    )
    lora_r: int = field(default=64, metadata=_h("LoRA rank (the IRFT scripts use 64)."))
    lora_alpha: int = field(default=16, metadata=_h("LoRA alpha (the IRFT scripts use 16)."))
    keep_checkpoints: bool = field(
        default=True,
        metadata=_h("Keep every iteration's model; off: delete an iteration's model once the next one is complete."),
    )

    def validate(self) -> None:
        super().validate()
        for name, allowed in (("method", METHODS), ("link", LINKS), ("chunking", CHUNKING)):
            if getattr(self, name) not in allowed:
                raise flag_error(name, f"must be one of {', '.join(allowed)}, got {getattr(self, name)!r}")
        self.require_positive("iterations", "n", "max_new_tokens", "per_device_train_batch_size", "generation_batch_size",
                              "num_generations", "gradient_accumulation_steps")  # fmt: skip
        self.require_non_negative("steps_per_iteration", "reward_steps", "max_prompts")
        if self.steps_per_iteration == 0 and self.epochs_per_iteration <= 0:
            raise flag_error("epochs_per_iteration", "must be > 0 when --steps-per-iteration is 0")
        for name in ("beta", "learning_rate"):
            if getattr(self, name) <= 0:
                raise flag_error(name, f"must be > 0, got {getattr(self, name)}")
        if self.method == "rft" and not 0.0 < self.heldout_fraction < 1.0:
            raise flag_error("heldout_fraction", f"must be in (0, 1), got {self.heldout_fraction}")
        if self.method == "rft" and self.temperature <= 0:
            raise flag_error("temperature", "RFT's policy step samples, so it must be > 0")
        if self.method == "spin" and self.link != "logistic":
            raise flag_error("link", "SPIN's loss is the logistic link; use --method irft for hinge or linear")
