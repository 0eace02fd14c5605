"""Options of ``sftlab adapt`` (RL-trained mapper + synthesis) and ``sftlab dart`` (adapt, then fine-tune).

The reward's weights come from :class:`~sftlab.methods.dart.rewards.RewardConfig`,
which :class:`AdaptConfig` extends, so every weight is a flag too. DART's
paper (arXiv 2605.26924) is not reachable here: the defaults are sftlab's
(GRPO settings after DeepSeekMath, arXiv 2402.03300, and TRL), see docs/dart.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sftlab.args import ModelArgs, flag_error
from sftlab.config import help_meta as _h
from sftlab.data.answers import ANSWER_SUFFIX_HELP, ANSWER_SUFFIXES
from sftlab.objectives import OBJECTIVES

from .prompt import DEFAULT_MAPPER_TEMPLATE, check_template
from .rewards import PENALTIES, RewardConfig


@dataclass
class _AdaptOptions(ModelArgs):
    """Everything of ``sftlab adapt`` but the reward (listed first in ``--help``), on the model options of
    :class:`~sftlab.args.ModelArgs` (``--model`` and ``--prompt-template`` redeclared: they are the target's)."""

    method: str = field(
        default="dart",
        metadata=_h(
            "How the data is adapted: dart (GRPO-trained mapper, best of n by DART's reward), or the no-RL baselines sdft (the target rewrites, kept if correct) and grape (most target-likely correct candidate from the initial mapper and the target).",
            choices=["dart", "sdft", "grape"],
        ),
    )
    model: str | None = field(
        default=None,
        metadata=_h(
            "Target model: the one the data is adapted to (and later fine-tuned). Hub id or local path. Omitted: the lab model."
        ),
    )
    mapper: str | None = field(
        default=None,
        metadata=_h(
            "Mapper model that rewrites solutions. Omitted: a copy of the target (on the lab: the lab's mapper initialization, built once and cached)."
        ),
    )
    data: str | None = field(
        default=None,
        metadata=_h(
            "SFT data in the reasoning format (question, solution, answer): .jsonl/.json/.parquet, a save_to_disk folder or a hub id. Omitted: the lab's expert-style train split."
        ),
    )
    output_dir: str = field(
        default="outputs/adapt",
        metadata=_h("Where the trained mapper, the shards, adapted.jsonl and manifest.json go."),
    )
    max_examples: int = field(default=0, metadata=_h("Adapt only the first N records (0: all)."))
    answer_suffix: str = field(default="auto", metadata=_h(ANSWER_SUFFIX_HELP, choices=list(ANSWER_SUFFIXES)))
    mapper_template: str = field(
        default=DEFAULT_MAPPER_TEMPLATE,
        metadata=_h(
            "Mapper prompt with {question} and {solution} slots; sent as a user turn when the mapper has a chat template."
        ),
    )
    prompt_template: str | None = field(
        default=None,
        metadata=_h(
            "Target prompt template with a {question} slot (as in sftlab train). Default: the target's chat template, else 'Question: ...\\nSolution:'."
        ),
    )
    # -- RL (GRPO through TRL) --------------------------------------------------------------
    rl_steps: int = field(
        default=200, metadata=_h("GRPO policy updates of the mapper (0: skip RL and use the mapper as is).")
    )
    group_size: int = field(
        default=8, metadata=_h("Rewrites sampled per example in one GRPO group (TRL's num_generations).")
    )
    prompts_per_step: int = field(
        default=4, metadata=_h("Examples per GRPO step; the step's batch is prompts_per_step x group_size rewrites.")
    )
    kl_beta: float = field(
        default=0.04,
        metadata=_h(
            "KL coefficient to the initial mapper (DeepSeekMath's GRPO uses 0.04; 0 skips the reference model)."
        ),
    )
    rl_learning_rate: float = field(default=1e-6, metadata=_h("GRPO learning rate (DeepSeekMath / TRL default 1e-6)."))
    temperature: float = field(default=1.0, metadata=_h("Sampling temperature of the mapper in RL and synthesis."))
    max_completion_length: int = field(default=256, metadata=_h("Longest rewrite in tokens (RL and synthesis)."))
    save_steps: int = field(
        default=50,
        metadata=_h("Save a GRPO checkpoint every N steps (an interrupted RL stage resumes from the last one)."),
    )
    use_vllm: bool = field(
        default=False,
        metadata=_h("Generate GRPO rollouts with vLLM (colocated; GPU and the [vllm] extra only). Ignored on CPU."),
    )
    # -- synthesis --------------------------------------------------------------------------
    n_samples: int = field(
        default=4, metadata=_h("Rewrites sampled per example at synthesis; the one with the highest reward is kept.")
    )
    max_penalty: float = field(
        default=0.5,
        metadata=_h(
            "Fall back to the original when the best rewrite has any penalty above this (penalties are in [0, 1])."
        ),
    )
    min_alignment: float = field(
        default=0.0,
        metadata=_h(
            "Fall back to the original when the best rewrite's alignment is below this (0: it must be at least as likely under the target as the original)."
        ),
    )
    shard_size: int = field(
        default=256,
        metadata=_h("Examples per synthesis shard; each shard is written atomically and skipped on resume."),
    )
    generation_batch_size: int = field(default=32, metadata=_h("Prompts per generation batch at synthesis."))
    scoring_batch_size: int = field(
        default=32, metadata=_h("Sequences per forward pass when the target scores solutions.")
    )
    # -- run --------------------------------------------------------------------------------
    seed: int = field(default=0, metadata=_h("Random seed (GRPO, sampling)."))
    progress: bool = field(default=True, metadata=_h("Show progress bars."))


@dataclass
class AdaptConfig(RewardConfig, _AdaptOptions):
    """Options of ``sftlab adapt``: train a mapper with GRPO, then rewrite every example (best of n, with fallback).

    The reward's weights (:class:`~sftlab.methods.dart.rewards.RewardConfig`) come after the other options.
    """

    METHODS = ("dart", "sdft", "grape")  # ``sftlab dart`` adds direct_rl

    def validate(self) -> None:
        super().validate()
        if self.method not in self.METHODS:
            raise flag_error("method", f"must be one of {', '.join(self.METHODS)}, got {self.method!r}")
        check_template(self.mapper_template)
        self.require_positive(
            "group_size",
            "prompts_per_step",
            "n_samples",
            "shard_size",
            "generation_batch_size",
            "scoring_batch_size",
            "max_completion_length",
            "save_steps",
        )
        if self.group_size < 2 and self.rl_steps > 0:
            raise flag_error("group_size", f"GRPO needs at least 2 rewrites per group, got {self.group_size}")
        self.require_non_negative("rl_steps", "max_examples")
        if self.temperature <= 0:
            raise flag_error("temperature", f"must be > 0 (rewrites are sampled), got {self.temperature}")
        if self.alignment_clip <= 0:
            raise flag_error("alignment_clip", f"must be > 0, got {self.alignment_clip}")
        for name in [f"{p}_weight" for p in PENALTIES] + ["alignment_weight", "gate_margin"]:
            if getattr(self, name) < 0:
                raise flag_error(name, f"weights must be >= 0, got {getattr(self, name)}")
        if self.verify_mode not in ("math", "exact"):
            raise flag_error("verify_mode", f"must be math or exact, got {self.verify_mode!r}")


@dataclass
class DartConfig(AdaptConfig):
    """Options of ``sftlab dart``: ``sftlab adapt``, then ``sftlab train`` on the adapted data."""

    METHODS = ("dart", "sdft", "grape", "direct_rl")

    method: str = field(
        default="dart",
        metadata=_h(
            "dart, sdft or grape: adapt the data that way (see sftlab adapt), then fine-tune on it; direct_rl: no adaptation, GRPO on the target itself with the correctness reward for --rl-steps updates (DART's ablation).",
            choices=["dart", "sdft", "grape", "direct_rl"],
        ),
    )
    output_dir: str = field(
        default="outputs/dart",
        metadata=_h("Where adapt/ (the adapted data) and train/ (the fine-tuned target) go; policy/ for direct_rl."),
    )
    objective: str = field(
        default="nll", metadata=_h("Fine-tuning objective on the adapted data.", choices=list(OBJECTIVES))
    )
    train_max_steps: int = field(default=-1, metadata=_h("Fine-tuning optimizer steps (-1: run --train-epochs)."))
    train_epochs: float = field(default=1.0, metadata=_h("Fine-tuning epochs over the adapted data."))
    train_learning_rate: float = field(
        default=5e-5, metadata=_h("Fine-tuning peak learning rate (sftlab train's default).")
    )
    train_batch_size: int = field(default=8, metadata=_h("Fine-tuning sequences per device per step."))
    max_length: int | None = field(
        default=None,
        metadata=_h(
            "Fine-tuning: longest sequence in tokens (prompt + completion), at most the target's context. Omitted: 1024, or the context when smaller."
        ),
    )
    lora: bool = field(
        default=False, metadata=_h("Fine-tune LoRA adapters instead of all weights (merged at the end).")
    )
