"""IRL from demonstrations: IRFT and SPIN (implicit reward), RFT (explicit reward, in :mod:`.rft`).

IRFT is Algorithm 2 of Li et al., "Getting More Juice Out of the SFT Data"
(NeurIPS 2024, https://arxiv.org/abs/2405.17888): the SFT prompts are cut into
T chunks; iteration t samples y~ from the current policy pi_t for its chunk,
then takes K optimizer steps on the pairwise loss of :mod:`sftlab.objectives.irl`
(demonstration y vs generation y~, reference pi_t frozen). SPIN
(https://arxiv.org/abs/2401.01335) is the same loop with the logistic link and
every iteration regenerating the whole data set (one IRFT stage per pass),
optionally training on the previous iteration's pairs too.

:class:`IRFTTrainer` is TRL's DPOTrainer with two hooks changed:
``_compute_loss`` (the link: DPO has sigmoid and hinge but no linear link, and
its loss is computed inline) and ``_prepare_dataset`` (pairs arrive tokenized
the way sftlab tokenizes SFT data, BOS once and EOS after each completion).
The reference is the iteration's starting model; its log-probabilities are
precomputed once per iteration (``precompute_ref_log_probs``), so no second
copy of the model is held. Batching, PEFT, accelerate and logging are TRL's.

On disk (written atomically; an interrupted run resumes at its iteration)::

    output_dir/
      config.json
      iter-<t>/generations.jsonl   prompt, chosen (demonstration), rejected (generation)
      iter-<t>/model/              the policy after iteration t (a standard checkpoint)
      iter-<t>/metrics.json        written last: marks the iteration complete
      irl_summary.json             every iteration's metrics and the final model's path
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from sftlab.console import quiet
from sftlab.io import atomic_write_json, read_jsonl
from sftlab.models import load_tokenizer
from sftlab.objectives.irl import pair_metrics
from sftlab.trainers.irft import IRFTTrainer

from .common import (
    demo_subset,
    finish_run,
    generate_pairs,
    irft_args,
    is_done,
    iteration_chunks,
    load_demonstrations,
    load_policy,
    lora_config,
    mean_generation_tokens,
    read_json,
    sample_accuracy,
    start_run,
    steps_for,
    tokenize_pairs,
)
from .config import IRLConfig


def run_irl(cfg: IRLConfig) -> dict:
    """Run (or resume) IRFT, SPIN or RFT; returns the summary also written to ``output_dir/irl_summary.json``."""
    with quiet(not cfg.progress):
        if cfg.method == "rft":
            from sftlab.methods.irl.rft import run_rft

            return run_rft(cfg)
        return run_implicit(cfg)


def run_implicit(cfg: IRLConfig) -> dict:
    """IRFT or SPIN: the iterations of Algorithm 2."""
    from sftlab.methods.sft import resolve_lab_defaults

    model_path, source = resolve_lab_defaults(cfg.model, cfg.data)
    tok = load_tokenizer(model_path, cfg.trust_remote_code)
    demos = load_demonstrations(source, tok, cfg.prompt_template)  # every row checked before any model is loaded
    chunks = iteration_chunks(demo_subset(len(demos), cfg), cfg)
    out = Path(cfg.output_dir)
    start_run(out, cfg)

    iterations, current, t0 = [], model_path, time.time()
    for t in range(1, cfg.iterations + 1):
        idir = out / f"iter-{t}"
        if is_done(idir):
            metrics = read_json(idir / "metrics.json")
        else:
            print(f"sftlab {cfg.method}: iteration {t}/{cfg.iterations} from {current}")
            previous = out / f"iter-{t - 1}" / "generations.jsonl" if (cfg.mix_previous and t > 1) else None
            metrics = run_iteration(cfg, t, current, [demos[i] for i in chunks[t - 1]], idir, previous)
            atomic_write_json(idir / "metrics.json", metrics)  # last: marks the iteration complete
            if not cfg.keep_checkpoints and t > 1:
                shutil.rmtree(out / f"iter-{t - 1}" / "model", ignore_errors=True)
        iterations.append(metrics)
        current = str(idir / "model")
    return finish_run(cfg, out, model_path, source, iterations, time.time() - t0)


def run_iteration(cfg: IRLConfig, t: int, start: str, demos: list[dict], idir: Path, previous: Path | None) -> dict:
    """Generate for this iteration's prompts, train K steps against the frozen start, save; returns metrics."""
    from sftlab.methods.sft import save_final

    model, tok, bf16 = load_policy(start, cfg)
    timing = {}
    t0 = time.time()
    pairs = generate_pairs(cfg, model, tok, demos, idir / "generations.jsonl", seed=cfg.seed + t)
    timing["generation_seconds"] = time.time() - t0
    train_pairs = pairs + (read_jsonl(previous) if previous is not None and previous.exists() else [])
    dataset = tokenize_pairs(train_pairs, tok)

    steps = steps_for(cfg, len(dataset))
    trainer = IRFTTrainer(
        model=model, args=irft_args(cfg, idir / "trainer", steps, seed=cfg.seed + t),
        train_dataset=dataset, processing_class=tok, peft_config=lora_config(cfg),
    )  # fmt: skip
    t0 = time.time()
    trainer.train()
    timing["train_seconds"] = time.time() - t0
    scores = trainer.score_pairs()
    save_final(trainer, tok, idir / "model", merge_lora=cfg.lora)
    shutil.rmtree(idir / "trainer", ignore_errors=True)

    stats = pair_metrics(
        scores["chosen"], scores["rejected"], scores["ref_chosen"], scores["ref_rejected"], beta=cfg.beta
    )
    return {
        "iteration": t, "start_model": start, "n_prompts": len(demos), "n_pairs": len(trainer.train_dataset),
        "n_mixed_previous": len(train_pairs) - len(pairs), "steps": trainer.state.global_step,
        **stats, "sample_accuracy": sample_accuracy(pairs), "generation_tokens": mean_generation_tokens(pairs, tok),
        "timing": timing, "log_history": trainer.state.log_history,
    }  # fmt: skip
