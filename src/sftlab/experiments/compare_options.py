"""The options of ``sftlab compare`` (:class:`CompareConfig`); what they decide is checked in :mod:`.compare_plan`."""

from __future__ import annotations

from dataclasses import dataclass, field

from sftlab.config import help_meta as _h

DEFAULT_METHODS = "base,sft,dft,asft"


@dataclass
class CompareConfig:
    """Options of ``sftlab compare``."""

    model: str | None = field(
        default=None, metadata=_h("Hugging Face model id or local path: the starting model of every method.")
    )
    data: str | None = field(
        default=None,
        metadata=_h(
            "Training set: .jsonl/.json/.parquet, a save_to_disk folder, or a hub id 'name[:split]' (the formats of sftlab train)."
        ),
    )
    eval: list[str] = field(
        default_factory=list,
        metadata=_h(
            "An eval set as NAME=PATH (e.g. in-domain=test.jsonl, ood=other.jsonl); give the flag once per set. Every record needs a reference answer."
        ),
    )
    methods: str = field(
        default=DEFAULT_METHODS, metadata=_h("Comma-separated methods to compare (see docs/compare.md).")
    )
    seeds: int = field(
        default=2, metadata=_h("Training seeds per method (0, 1, ...); the base model is evaluated once.")
    )
    set: list[str] = field(
        default_factory=list,
        metadata=_h(
            "Change one setting of a method's recipe: METHOD.FIELD=VALUE (e.g. dft.learning_rate=5e-5), or *.FIELD=VALUE for every trained method that has the field."
        ),
    )
    output_dir: str = field(
        default="outputs/compare", metadata=_h("Where runs, report.html, metrics.json and summary.md go.")
    )
    recipes_dir: str | None = field(
        default=None,
        metadata=_h(
            "Folder of the methods' recipes (<method>.yaml). Default: the configs/ folder of the sftlab checkout, else ./configs."
        ),
    )
    prompt_template: str | None = field(
        default=None,
        metadata=_h(
            "Template with a {question} slot for reasoning records, for training and evaluation alike. Default: the tokenizer's chat template, else 'Question: ...\\nSolution:'."
        ),
    )
    trust_remote_code: bool = field(default=False, metadata=_h("Allow model code from the hub (off unless you ask)."))
    max_new_tokens: int = field(default=256, metadata=_h("Generation budget per eval problem."))
    eval_limit: int | None = field(
        default=None, metadata=_h("Evaluate at most this many problems per eval set (the first ones).")
    )
    eval_batch_size: int = field(default=64, metadata=_h("Prompts per generation batch."))
    mode: str = field(
        default="math",
        metadata=_h(
            "Answer comparison: exact (normalized strings) or math (math-verify equivalence).",
            choices=["exact", "math"],
        ),
    )
    label_field: str | None = field(
        default=None,
        metadata=_h(
            "The landscape method's labels: comma-separated fields of the first --eval set's records that its density peaks are compared with (ARI), e.g. topic,answer."
        ),
    )
    proxy_model: str | None = field(
        default=None,
        metadata=_h(
            "S2L's proxy, needed by s2l and random-subset: a small causal LM (hub id or local path) fine-tuned on --data with configs/select_s2l.yaml's proxy settings, whose per-record loss trajectories S2L clusters. --model itself is accepted (slower; the paper's proxy is far smaller than the target)."
        ),
    )
    mapper_model: str | None = field(
        default=None,
        metadata=_h(
            "DART's initial mapper (hub id or local path), trained with GRPO to rewrite --data's solutions into --model's own style. Default: --model itself, as sftlab dart does."
        ),
    )
    examples: int = field(default=3, metadata=_h("Example generations per method shown in the report."))
    fresh: bool = field(default=False, metadata=_h("Ignore cached runs in --output-dir and run everything again."))
    workers: int | None = field(
        default=None,
        metadata=_h(
            "Processes that run runs at once (the seeds of a method, and methods that do not start from another's runs), each run on 1 torch thread whatever this number, so the results do not depend on it; every worker loads its own copy of the model (on one GPU: --workers 1 if two copies do not fit). Default: the cores not busy with other work (1 on a GPU machine)."
        ),
    )
    verbose: bool = field(
        default=False,
        metadata=_h(
            "Show the methods' own output, third-party progress bars and weight-loading messages (default: one live view; the rest goes to console.log in --output-dir)."
        ),
    )
