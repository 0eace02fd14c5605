"""``sftlab adapt`` (GRPO on the mapper, then synthesis of the adapted data) and ``sftlab dart`` (adapt, then fine-tune).

On disk (``output_dir`` of ``sftlab adapt``)::

    config.json
    rl/            GRPO checkpoints (an interrupted RL stage resumes from the last one)
    mapper/        the RL-trained mapper; rl_summary.json inside marks the stage done
    shards/        synthesis shards (see :mod:`sftlab.methods.dart.synthesis`)
    adapted.jsonl  the adapted data set: the input's records, solution rewritten, "dart" provenance
    manifest.json

``sftlab dart`` puts that under ``output_dir/adapt`` and the fine-tuned target
under ``output_dir/train`` (``sftlab train``'s layout).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import asdict
from pathlib import Path

from sftlab.errors import SftlabError
from sftlab.io import atomic_write_json
from sftlab.methods.grpo import adapt_grpo_args, load_done, rl_curve, run_direct_rl, run_grpo
from sftlab.models import load_model_and_tokenizer
from sftlab.trainers.rewards import grpo_prompt

from .baselines import SYNTHESIS_METHODS, grape_sources, sdft_sources
from .config import AdaptConfig, DartConfig
from .likelihood import TargetScorer
from .prompt import mapper_prompt, scaffold_for
from .rl import DartReward
from .synthesis import CandidateSource, synthesize


def run_adapt(cfg: AdaptConfig) -> dict:
    """Adapt the data set to the target; returns a summary. Every stage resumes from what is on disk.

    ``method="dart"``: train the mapper with GRPO, then best-of-n synthesis by
    DART's reward with fallback. ``sdft`` / ``grape``: the no-RL baselines of
    :mod:`sftlab.methods.dart.baselines`. Summary keys: ``output_dir``, ``data``
    (adapted.jsonl), ``manifest``, ``mapper`` (path or None), ``rl`` (steps,
    seconds, rewrites, per-step curve; None without RL).
    """
    out = Path(cfg.output_dir)
    target_path, data_source = resolve_target(cfg)
    mapper_path = resolve_mapper(cfg, target_path) if cfg.method in ("dart", "grape") else None
    records = load_reasoning(data_source, cfg.max_examples, cfg.answer_suffix)
    atomic_write_json(out / "config.json", {**asdict(cfg), "resolved": {"model": target_path, "mapper": mapper_path,
                                                                        "data": data_source}})  # fmt: skip
    target, target_tok = load_model_and_tokenizer(target_path, "infer", trust_remote_code=cfg.trust_remote_code)
    scorer = TargetScorer(target, target_tok, prompt_template=cfg.prompt_template, batch_size=cfg.scoring_batch_size)
    scaffold = scaffold_for(cfg.mapper_template, cfg.prompt_template)

    rl, trained = None, mapper_path
    if cfg.method == "dart":
        rl = train_mapper(cfg, mapper_path, records, scorer, scaffold, out)
        trained = str(out / "mapper") if rl is not None else mapper_path
    if cfg.method == "sdft":
        sources = sdft_sources(cfg, target, target_tok)
    else:
        mapper, mapper_tok = load_model_and_tokenizer(trained, "infer", trust_remote_code=cfg.trust_remote_code)
        if cfg.method == "dart":
            sources = [
                CandidateSource(
                    "mapper",
                    mapper,
                    mapper_tok,
                    n=cfg.n_samples,
                    prompt=lambda r: mapper_prompt(r["question"], r["solution"], cfg.mapper_template, mapper_tok),
                )
            ]
        else:
            sources = grape_sources(cfg, mapper, mapper_tok, target, target_tok)
    manifest = synthesize(records, sources, scorer, cfg, out, select=SYNTHESIS_METHODS[cfg.method], scaffold=scaffold,
                          progress=cfg.progress, info={"method": cfg.method, "source": data_source,
                                                       "target": target_path, "mapper": trained,
                                                       "mapper_init": mapper_path})  # fmt: skip
    summary = {
        "output_dir": str(out),
        "data": str(out / "adapted.jsonl"),
        "manifest": manifest,
        "mapper": trained,
        "rl": _rl_brief(rl),
    }
    _print(cfg.method, manifest, rl)
    return summary


def run_dart(cfg: DartConfig) -> dict:
    """Adapt into ``output_dir/adapt``, then ``sftlab train`` on the adapted data into ``output_dir/train``.

    ``method="direct_rl"`` instead trains the target itself with GRPO and the
    correctness reward (``output_dir/policy``), for ``rl_steps`` updates.
    Each stage resumes: a finished one is skipped, an interrupted one continues
    (RL and training from their last checkpoint, synthesis from its shards).
    """
    from sftlab.methods.sft import TrainConfig, run_train
    from sftlab.models import check_max_length

    out = Path(cfg.output_dir)
    target_path, data_source = resolve_target(cfg)
    check_max_length(target_path, cfg.max_length, trust_remote_code=cfg.trust_remote_code)  # before any data or RL
    if cfg.method == "direct_rl":
        rl = run_direct_rl(cfg, target_path, load_reasoning(data_source, cfg.max_examples, cfg.answer_suffix), out)
        return {"output_dir": str(out), "model": str(out / "policy"), "method": "direct_rl", "rl": _rl_brief(rl)}
    adapt = run_adapt(dataclasses.replace(cfg, output_dir=str(out / "adapt")))
    train_cfg = TrainConfig(
        model=target_path, data=adapt["data"], output_dir=str(out / "train"), objective=cfg.objective,
        max_steps=cfg.train_max_steps, num_train_epochs=cfg.train_epochs, learning_rate=cfg.train_learning_rate,
        per_device_train_batch_size=cfg.train_batch_size, max_length=cfg.max_length, lora=cfg.lora, seed=cfg.seed,
        prompt_template=cfg.prompt_template, trust_remote_code=cfg.trust_remote_code, progress=cfg.progress,
        answer_suffix=cfg.answer_suffix, resume=True,
    )  # fmt: skip
    done = out / "train" / "train_summary.json"
    train = json.loads(done.read_text(encoding="utf-8")) if done.is_file() else run_train(train_cfg)
    return {
        "output_dir": str(out),
        "model": str(out / "train"),
        "method": cfg.method,
        "adapt": adapt,
        "train": {k: v for k, v in train.items() if k != "config"},
    }


# -- pieces ---------------------------------------------------------------------------------


def resolve_target(cfg: AdaptConfig) -> tuple[str, str]:
    """(target path, data source), with the lab's defaults for what is not given."""
    from sftlab.methods.lab_defaults import resolve_lab_defaults

    return resolve_lab_defaults(cfg.model, cfg.data)


def resolve_mapper(cfg: AdaptConfig, target_path: str) -> str:
    """The initial mapper: ``--mapper``; else on the lab (no ``--model``) the lab's mapper initialization
    (built once, cached beside the lab); else the target itself."""
    if cfg.mapper is not None:
        return cfg.mapper
    if cfg.model is None:
        from .lab_mapper import ensure_lab_mapper

        return str(ensure_lab_mapper(mapper_template=cfg.mapper_template, progress=cfg.progress))
    return target_path


def load_reasoning(source: str, max_examples: int = 0, answer_suffix: str = "auto") -> list[dict]:
    """Records of a reasoning data set (question, solution, answer), the first ``max_examples`` when > 0.

    Solutions that state no final answer are counted and, with
    ``answer_suffix="auto"``, closed with ``The answer is X.``
    (:func:`sftlab.data.check_final_answers`).
    """
    from sftlab.data import apply_answer_check, load_sft_data

    data = load_sft_data(source)
    if data.format != "reasoning":
        raise SftlabError(
            f"{source}: DART rewrites reasoning records (question, solution, answer); this data is {data.format}"
        )
    if max_examples:
        data.records = data.records[:max_examples]
    apply_answer_check(data, source, answer_suffix)
    records = data.records
    for r in records:
        if r.get("answer") is not None:
            r["answer"] = str(r["answer"])
    return records


def train_mapper(cfg: AdaptConfig, mapper_path: str, records: list[dict], scorer, scaffold: list[str], out: Path):
    """GRPO on the mapper with DART's reward; None when ``rl_steps`` is 0. Skipped when ``out/mapper`` is done."""
    if cfg.rl_steps == 0:
        return None
    done = load_done(out / "mapper")
    if done is not None:
        return done
    from datasets import Dataset

    mapper, mapper_tok = load_model_and_tokenizer(mapper_path, "train", trust_remote_code=cfg.trust_remote_code)
    lp_original = scorer.logprobs([r["question"] for r in records], [r["solution"] for r in records])
    dataset = Dataset.from_list([
        {"prompt": grpo_prompt(mapper_prompt(r["question"], r["solution"], cfg.mapper_template), mapper_tok),
         "question": r["question"], "solution": r["solution"], "answer": r.get("answer"), "lp_original": float(lp)}
        for r, lp in zip(records, lp_original)
    ])  # fmt: skip
    args = adapt_grpo_args(cfg, out / "rl")
    return run_grpo(mapper, mapper_tok, dataset, [DartReward(scorer, cfg, scaffold)], args, out / "mapper")


def _rl_brief(rl: dict | None) -> dict | None:
    if rl is None:
        return None
    return {
        "steps": rl["steps"],
        "train_seconds": rl["train_seconds"],
        "rewrites": rl["rewrites"],
        "curve": rl_curve(rl["log_history"]),
    }


def _print(method: str, manifest: dict, rl: dict | None) -> None:
    m = manifest
    msg = f"sftlab adapt ({method}): {m['n']} examples, {m['n_rewritten']} rewritten, {m['n_fallback']} fell back"
    if m["mean_lp_original"] is not None:
        msg += f"; target log-likelihood per token {m['mean_lp_original']:.3f} -> {m['mean_lp_adapted']:.3f}"
    if rl is not None:
        msg += f"; RL {rl['steps']} steps in {rl['train_seconds']:.0f} s"
    print(msg)
