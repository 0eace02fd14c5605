"""The lab's one config: task generation, tokenizer, model and pretraining.

Every field is documented where it is defined; that text is also the
``sftlab lab build --help`` text. The cache key of a built lab is a hash of
these fields and sftlab's version, so changing any of them builds a new lab.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field

from sftlab.errors import SftlabError


def _help(text: str, **extra) -> dict:
    return {"help": text, **extra}


@dataclass
class LabConfig:
    # -- tasks ---------------------------------------------------------------
    seed: int = field(default=0, metadata=_help("Seed for task generation and model initialization."))
    pretrain_size: int = field(default=30000, metadata=_help("Problems in the 'pretrain' split (base families)."))
    train_size: int = field(default=2000, metadata=_help("Problems in the 'train' split (expert-style SFT data)."))
    test_id_size: int = field(default=400, metadata=_help("Problems in the in-domain test split 'test_id'."))
    test_ood_size: int = field(
        default=400, metadata=_help("Problems in the out-of-distribution test split 'test_ood'.")
    )
    base_families: str = field(
        default="shopping,travel,savings,sharing",
        metadata=_help("Comma-separated families the base model is pretrained on (native style)."),
    )
    new_families: str = field(
        default="ages",
        metadata=_help("Comma-separated families that appear only in the SFT data and tests, never in pretraining."),
    )
    min_steps: int = field(default=2, metadata=_help("Fewest arithmetic steps in an in-domain problem."))
    max_steps: int = field(default=3, metadata=_help("Most arithmetic steps in an in-domain problem."))
    operand_max: int = field(
        default=20, metadata=_help("Largest operand in an in-domain problem (operands start at 1).")
    )
    value_max: int = field(default=50, metadata=_help("Largest intermediate or final value in an in-domain problem."))
    ood_shifts: str = field(
        default="steps,wording,numbers",
        metadata=_help(
            "Comma-separated shifts mixed evenly into 'test_ood': steps (one more step), "
            "wording (held-out phrasings), numbers (larger operands and values)."
        ),
    )
    ood_operand_max: int = field(default=40, metadata=_help("Largest operand under the 'numbers' shift."))
    ood_value_max: int = field(default=99, metadata=_help("Largest value under the 'numbers' shift."))
    expert_prior_fraction: float = field(
        default=0.05,
        metadata=_help(
            "Share of pretraining problems written in the expert style (base families only). "
            "0.0 gives a base model that never saw the expert style."
        ),
    )
    careless_fraction: float = field(
        default=0.0,
        metadata=_help(
            "Share of native-style pretraining solutions that skip the last step and state the value before it "
            "(a careless solver). Above 0.5 the base model's greedy answer skips it while its samples still carry "
            "the full chain: the regime of RL on the lab (docs/lab.md). 0.0 (default) leaves the lab unchanged."
        ),
    )
    # -- tokenizer and model -------------------------------------------------
    vocab_size: int = field(default=512, metadata=_help("BPE vocabulary size (digits are always single tokens)."))
    hidden_size: int = field(default=128, metadata=_help("Model width."))
    num_layers: int = field(default=4, metadata=_help("Number of transformer layers."))
    num_heads: int = field(default=4, metadata=_help("Attention heads per layer."))
    intermediate_size: int = field(default=344, metadata=_help("MLP width."))
    max_length: int = field(default=256, metadata=_help("Longest training sequence in tokens; longer ones are cut."))
    # -- pretraining ---------------------------------------------------------
    pretrain_steps: int = field(
        default=1400, metadata=_help("Optimizer steps of pretraining (fixed, so builds are reproducible).")
    )
    batch_size: int = field(default=16, metadata=_help("Sequences per pretraining step."))
    lr: float = field(default=3e-3, metadata=_help("Peak AdamW learning rate (cosine decay after warmup)."))
    warmup_steps: int = field(default=100, metadata=_help("Linear warmup steps."))
    weight_decay: float = field(default=0.01, metadata=_help("AdamW weight decay."))
    # -- base-model evaluation ----------------------------------------------
    eval_size: int = field(
        default=400, metadata=_help("Problems per split scored for the base model's accuracy (0 skips it).")
    )
    max_new_tokens: int = field(default=160, metadata=_help("Generation limit when scoring the base model."))

    def __post_init__(self):
        for name in ("pretrain_size", "train_size", "test_id_size", "test_ood_size", "pretrain_steps", "batch_size"):
            if getattr(self, name) < 1:
                raise SftlabError(f"lab config: field '{name}': must be at least 1, got {getattr(self, name)}")
        if not 1 <= self.min_steps <= self.max_steps:
            raise SftlabError(
                f"lab config: field 'min_steps': need 1 <= min_steps <= max_steps, got {self.min_steps}, {self.max_steps}"
            )
        for name in ("expert_prior_fraction", "careless_fraction"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise SftlabError(f"lab config: field '{name}': must be in [0, 1], got {getattr(self, name)}")
        if self.hidden_size % self.num_heads:
            raise SftlabError(f"lab config: field 'num_heads': must divide hidden_size {self.hidden_size}")
        from .tasks import FAMILIES, SHIFTS  # local import: tasks imports nothing from here

        for name in ("base_families", "new_families"):
            unknown = [f for f in _split(getattr(self, name)) if f not in FAMILIES]
            if unknown:
                raise SftlabError(
                    f"lab config: field '{name}': unknown family {unknown[0]!r} (known: {', '.join(FAMILIES)})"
                )
        if not self.base_list:
            raise SftlabError("lab config: field 'base_families': needs at least one family")
        bad = [s for s in self.shift_list if s not in SHIFTS]
        if bad:
            raise SftlabError(f"lab config: field 'ood_shifts': unknown shift {bad[0]!r} (known: {', '.join(SHIFTS)})")

    # -- derived -------------------------------------------------------------
    @property
    def base_list(self) -> list[str]:
        return _split(self.base_families)

    @property
    def train_families(self) -> list[str]:
        """Families of the SFT data and the tests: the base families plus the new ones."""
        return self.base_list + [f for f in _split(self.new_families) if f not in self.base_list]

    @property
    def shift_list(self) -> list[str]:
        return _split(self.ood_shifts)

    def to_dict(self) -> dict:
        """Every field, except those added after the shipped build while they keep their default (so its key and
        recorded config, and every lab built before them, stay valid)."""
        out = dataclasses.asdict(self)
        for name, default in _LATER_FIELDS.items():
            if out[name] == default:
                del out[name]
        return out

    def key(self) -> str:
        """Cache key: hash of every field and sftlab's version."""
        from sftlab import __version__

        blob = json.dumps({"config": self.to_dict(), "sftlab": __version__}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    @classmethod
    def tiny(cls, **overrides) -> LabConfig:
        """A reduced lab for tests (about 15 s on 2 cores): small splits, a 2-layer
        32-wide model, 300 steps. It learns the native format, not the arithmetic."""
        values = dict(
            pretrain_size=3000,
            train_size=200,
            test_id_size=100,
            test_ood_size=90,
            vocab_size=320,
            hidden_size=32,
            num_layers=2,
            num_heads=2,
            intermediate_size=64,
            max_length=160,
            pretrain_steps=300,
            batch_size=16,
            lr=1e-2,
            warmup_steps=20,
            eval_size=60,
            max_new_tokens=64,
        )
        values.update(overrides)
        return cls(**values)


_LATER_FIELDS = {"careless_fraction": 0.0}  # field -> its default: left out of to_dict() (and key()) at the default


def _split(text: str) -> list[str]:
    return [t.strip() for t in str(text).split(",") if t.strip()]
