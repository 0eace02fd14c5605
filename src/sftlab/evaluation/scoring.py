"""Score a model on verifiable prompts: greedy accuracy, avg@k and pass@k, per split."""

from __future__ import annotations

import math
from dataclasses import asdict, replace
from pathlib import Path

from tqdm.auto import tqdm

from sftlab.data import encode_prompts
from sftlab.errors import SftlabError
from sftlab.generation import SamplingConfig, generate
from sftlab.io import atomic_write_json, atomic_write_jsonl
from sftlab.verify import answers_match, extract_answer

# Fields of a generation row; an item's own fields with these names are not copied.
_ROW_KEYS = ("split", "index", "kind", "sample", "prompt", "completion", "extracted", "reference", "correct")


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from ``n`` samples of which ``c`` are correct.

    Chen et al. 2021, "Evaluating Large Language Models Trained on Code"
    (arXiv 2107.03374): ``1 - C(n - c, k) / C(n, k)``, computed as a product
    for numerical stability. With ``n == k`` it is 1 when any sample is correct.

    >>> pass_at_k(4, 1, 2)  # 1 - C(3,2)/C(4,2) = 1 - 3/6
    0.5
    """
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n (got n={n}, c={c}, k={k})")
    if n - c < k:
        return 1.0
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


def evaluate(
    model,
    tokenizer,
    items_by_split: dict[str, list[dict]],
    *,
    sampling: SamplingConfig | None = None,
    k: int = 1,
    mode: str = "math",
    output_dir: str | None = None,
    progress: bool = True,
    extra: dict | None = None,
    strict: bool = False,
    timeout: float | None = None,
) -> dict:
    """Greedy accuracy per split and, when ``k > 1``, avg@k and pass@k from k samples per prompt.

    ``items_by_split`` maps a split name to items, each a dict with ``prompt``
    (the rendered prompt) and ``answer`` (the reference, or None: the item is
    skipped and counted in ``n_skipped``); other fields are kept in the
    generation log. Greedy decoding ignores ``sampling``'s temperature and n;
    the k samples use its temperature (1.0 when it is 0). avg@k is the mean
    correctness over all samples, pass@k the unbiased estimator with n = k.

    Returns ``{"splits": {split: {"accuracy", "n", "n_correct", "n_skipped",
    "n_no_answer", "n_truncated", "avg@K", "pass@K"}}, "k": k, "mode": mode, "sampling": {...},
    "context": tokens or None}`` (``sampling``: the greedy settings when k == 1, the samples' otherwise)
    (``K`` is the value of k; those two keys only when k > 1; ``accuracy`` is None
    for a split with nothing to score). With ``output_dir``, writes
    ``generations.jsonl`` (one line per generation with its verdict) and
    ``metrics.json`` (the returned dict), each atomically. ``extra`` (e.g. the
    model and data names) is added to the returned dict. ``strict``: read only
    stated final answers (default lenient, see :mod:`sftlab.verify`);
    ``timeout``: seconds per answer comparison. Prompts longer than the
    model's context minus ``max_new_tokens`` are cut from the left and
    counted (``n_truncated``).
    """
    sampling = sampling or SamplingConfig()
    if k < 1:
        raise SftlabError(f"k must be at least 1 (got {k})")
    if mode not in ("exact", "math"):
        raise SftlabError(f"unknown verification mode '{mode}' (use exact or math)")
    greedy_cfg = replace(sampling, temperature=0.0, n=1)
    sample_cfg = replace(sampling, n=k, temperature=sampling.temperature or 1.0)
    context = _context(model)

    scored = [
        (split, index, item)
        for split, items in items_by_split.items()
        for index, item in enumerate(items)
        if item.get("answer") is not None
    ]
    prompts = [item["prompt"] for _, _, item in scored]
    prompts, truncated = _fit_context(prompts, tokenizer, context, sampling.max_new_tokens)
    greedy = generate(model, tokenizer, prompts, greedy_cfg, progress=progress)
    sampled = generate(model, tokenizer, prompts, sample_cfg, progress=progress) if k > 1 else None

    rows, verdicts = [], {split: {"greedy": [], "sampled": []} for split in items_by_split}
    for j, (split, index, item) in enumerate(
        tqdm(scored, desc="verifying", unit="item", disable=not progress or not scored)
    ):
        runs = [("greedy", 0, greedy[j][0])] + [
            ("sample", s, text) for s, text in enumerate(sampled[j] if sampled else [])
        ]
        sample_verdicts = []
        for kind, s, completion in runs:
            extracted = extract_answer(completion, strict=strict)  # lenient by default: scored on what it wrote
            correct = answers_match(extracted, item["answer"], mode=mode, timeout=timeout)
            rows.append(_row(split, index, item, kind, s, completion, extracted, correct))
            if kind == "greedy":
                verdicts[split]["greedy"].append((correct, extracted is not None))
            else:
                sample_verdicts.append(correct)
        if sampled:
            verdicts[split]["sampled"].append(sample_verdicts)
        verdicts[split]["truncated"] = verdicts[split].get("truncated", 0) + truncated[j]

    result = {
        "splits": {split: _split_metrics(v, len(items_by_split[split]), k) for split, v in verdicts.items()},
        "k": k,
        "mode": mode,
        # the settings actually used: greedy decoding alone when k == 1, the k samples' settings otherwise
        "sampling": asdict(sample_cfg if k > 1 else greedy_cfg),
        "context": context,
        **(extra or {}),
    }
    if output_dir is not None:
        out = Path(output_dir)
        atomic_write_jsonl(out / "generations.jsonl", rows)
        atomic_write_json(out / "metrics.json", result)
    return result


def _context(model) -> int | None:
    """The model's context in tokens (``max_position_embeddings``), or None when it states none."""
    config = getattr(model, "config", None)
    config = getattr(config, "text_config", None) or config
    value = getattr(config, "max_position_embeddings", None)
    return value if isinstance(value, int) and value > 0 else None


def _fit_context(
    prompts: list[str], tokenizer, context: int | None, max_new_tokens: int
) -> tuple[list[str], list[bool]]:
    """Prompts cut from the left so that prompt + ``max_new_tokens`` fits the context; which ones were cut.

    The end of a prompt (the question and the cue to answer) matters most, so
    the beginning (e.g. few-shot examples) goes first.
    """
    if context is None or tokenizer is None or not prompts:
        return prompts, [False] * len(prompts)
    room = context - max_new_tokens
    if room < 1:
        raise SftlabError(
            f"--max-new-tokens {max_new_tokens} leaves no room for a prompt in the model's context ({context})"
        )
    ids = encode_prompts(prompts, tokenizer)
    cut = [len(x) > room for x in ids]
    if not any(cut):
        return prompts, cut
    # a few tokens of margin: generation re-encodes the text (and adds the BOS back), which can merge differently
    keep = max(room - 4, 1)
    fitted = [tokenizer.decode(x[-keep:], skip_special_tokens=True) if c else p for p, x, c in zip(prompts, ids, cut)]
    return fitted, cut


def _row(split, index, item, kind, sample, completion, extracted, correct) -> dict:
    extra = {key: value for key, value in item.items() if key not in _ROW_KEYS and key not in ("prompt", "answer")}
    return {
        "split": split,
        "index": index,
        **extra,
        "kind": kind,
        "sample": sample,
        "prompt": item["prompt"],
        "completion": completion,
        "extracted": extracted,
        "reference": item["answer"],
        "correct": correct,
    }


def _split_metrics(verdicts: dict, n_items: int, k: int) -> dict:
    greedy = verdicts["greedy"]
    n = len(greedy)
    n_correct = sum(correct for correct, _ in greedy)
    metrics = {
        "accuracy": n_correct / n if n else None,
        "n": n,
        "n_correct": n_correct,
        "n_skipped": n_items - n,
        "n_no_answer": sum(not found for _, found in greedy),
        "n_truncated": verdicts.get("truncated", 0),
    }
    if k > 1:
        samples = verdicts["sampled"]
        metrics[f"avg@{k}"] = sum(sum(s) / k for s in samples) / n if n else None
        metrics[f"pass@{k}"] = sum(pass_at_k(k, sum(s), k) for s in samples) / n if n else None
    return metrics
