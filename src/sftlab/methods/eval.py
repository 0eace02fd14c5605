"""``sftlab eval``: load a model and data (or the lab's), evaluate, write the results."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sftlab.args import ModelArgs, flag_error
from sftlab.config import help_meta as _h
from sftlab.evaluation import evaluate, format_table
from sftlab.generation import SamplingConfig
from sftlab.models import load_model_and_tokenizer


@dataclass
class EvalConfig(ModelArgs):
    """Options of ``sftlab eval``: the model options (:class:`~sftlab.args.ModelArgs`) and the evaluation's."""

    data: str | None = field(
        default=None,
        metadata=_h(
            "Evaluation data: .jsonl/.json/.parquet, a save_to_disk folder, or a hub id 'name[:split]'. "
            "Records with a 'split' field are scored per split, others as split 'eval'. Omitted: the lab's test splits."
        ),
    )
    output_dir: str = field(default="outputs/eval", metadata=_h("Where generations.jsonl and metrics.json go."))
    k: int = field(default=1, metadata=_h("Samples per prompt for avg@k and pass@k (1: greedy accuracy only)."))
    max_new_tokens: int = field(default=256, metadata=_h("Maximum tokens generated per completion."))
    temperature: float = field(
        default=1.0, metadata=_h("Sampling temperature of the k samples (greedy accuracy always uses 0).")
    )
    top_p: float = field(default=1.0, metadata=_h("Nucleus sampling threshold of the k samples."))
    batch_size: int = field(default=64, metadata=_h("Prompts per generation batch."))
    mode: str = field(
        default="math",
        metadata=_h(
            "Answer comparison: exact (normalized strings) or math (numbers, text and math-verify equivalence).",
            choices=["exact", "math"],
        ),
    )
    strict: bool = field(
        default=False,
        metadata=_h(
            "Read only stated final answers (\\boxed{}, 'The answer is', ####). Default: lenient, a completion without one is scored on its last answer-like expression (as math-verify does)."
        ),
    )
    verify_timeout: float | None = field(
        default=None,
        metadata=_h(
            "Seconds one answer comparison may take before it counts as wrong. Omitted: $SFTLAB_VERIFY_TIMEOUT, else 1."
        ),
    )
    prompt_template: str | None = field(
        default=None,
        metadata=_h(
            "Template with a {question} slot for reasoning records. Default: the tokenizer's chat template, else 'Question: ...\\nSolution:'."
        ),
    )
    limit: int | None = field(default=None, metadata=_h("Evaluate at most this many items per split (the first ones)."))
    seed: int = field(default=0, metadata=_h("Random seed of the k samples."))
    progress: bool = field(default=True, metadata=_h("Show progress bars."))

    def validate(self) -> None:
        super().validate()
        self.require_positive("k", "max_new_tokens", "batch_size")
        if self.limit is not None and self.limit < 1:
            raise flag_error("limit", f"must be at least 1, got {self.limit}")
        if self.mode not in ("exact", "math"):
            raise flag_error("mode", f"must be exact or math, got {self.mode!r}")
        if self.verify_timeout is not None and self.verify_timeout <= 0:
            raise flag_error("verify_timeout", f"must be > 0, got {self.verify_timeout}")


def run_eval(cfg: EvalConfig) -> dict:
    """Evaluate ``cfg.model`` on ``cfg.data``, write the results to ``cfg.output_dir``, print a table, return the metrics.

    A missing ``--model`` or ``--data`` is filled from the embedded lab:
    the lab's eval setup (:func:`sftlab.methods.lab_defaults.eval_setup`) gives ``(model_path, {split: data_source})``.
    """
    model_path, sources = cfg.model, {"eval": cfg.data} if cfg.data else None
    if model_path is None or sources is None:
        from sftlab.methods.lab_defaults import eval_setup

        lab_model, lab_sources = eval_setup()
        model_path, sources = model_path or lab_model, sources or dict(lab_sources)

    from sftlab.data import eval_items, load_sft_data
    from sftlab.models import check_max_length

    # the config only (cheap), before any data: --max-new-tokens alone must fit; longer prompts are cut at generation
    check_max_length(
        model_path,
        cfg.max_new_tokens + 1,
        flag="--max-new-tokens (+ 1 prompt token)",
        trust_remote_code=cfg.trust_remote_code,
    )
    datasets = {name: load_sft_data(str(src)) for name, src in sources.items()}  # validated before loading the model
    model, tokenizer = load_model_and_tokenizer(model_path, "infer", trust_remote_code=cfg.trust_remote_code)
    items_by_split: dict[str, list[dict]] = defaultdict(list)
    for name, data in datasets.items():
        for item in eval_items(data, tokenizer, prompt_template=cfg.prompt_template):
            split = item.get("split") if cfg.data else name
            items_by_split[str(split) if split is not None else name].append(item)
    if cfg.limit is not None:
        items_by_split = {split: items[: cfg.limit] for split, items in items_by_split.items()}

    sampling = SamplingConfig(
        max_new_tokens=cfg.max_new_tokens,
        temperature=cfg.temperature,
        top_p=cfg.top_p,
        batch_size=cfg.batch_size,
        seed=cfg.seed,
    )
    provenance = {"model": str(model_path), "data": {name: str(src) for name, src in sources.items()}}
    metrics = evaluate(
        model,
        tokenizer,
        dict(items_by_split),
        sampling=sampling,
        k=cfg.k,
        mode=cfg.mode,
        output_dir=cfg.output_dir,
        progress=cfg.progress,
        extra=provenance,
        strict=cfg.strict,
        timeout=cfg.verify_timeout,
    )
    print(format_table(metrics))
    print(f"sftlab: wrote {cfg.output_dir}/metrics.json and {cfg.output_dir}/generations.jsonl")
    return metrics
