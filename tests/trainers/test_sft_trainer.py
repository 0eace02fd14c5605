"""SFTLabTrainer: reference agreement, gradient-accumulation invariance, a real training run."""

from __future__ import annotations

import pytest
import torch
from datasets import Dataset
from trl import SFTConfig, SFTTrainer

from sftlab.objectives import full_logits_reference
from sftlab.trainers.sft import SFTLabConfig, SFTLabTrainer
from tiny import make_model, make_tokenizer

TOK = make_tokenizer()
V = len(TOK)


def _dataset(n=8, seed=0, vocab=None):
    vocab = vocab or V
    g = torch.Generator().manual_seed(seed)
    rows = []
    for i in range(n):
        p, c = 3 + i % 4, 4 + (i * 3) % 5
        ids = torch.randint(4, vocab, (p + c,), generator=g).tolist()
        rows.append({"input_ids": ids, "completion_mask": [0] * p + [1] * c})
    return Dataset.from_list(rows)


def _args(tmp_path, cls=SFTLabConfig, **kw):
    base = dict(
        output_dir=str(tmp_path),
        per_device_train_batch_size=8,
        gradient_accumulation_steps=1,
        max_steps=1,
        learning_rate=1e-2,
        lr_scheduler_type="constant",
        warmup_steps=0,
        bf16=False,
        activation_checkpointing=False,
        report_to="none",
        save_strategy="no",
        logging_steps=1,
        seed=0,
        dataloader_drop_last=False,
        optim="sgd",
        max_grad_norm=0.0,
        use_cpu=True,
        shuffle_dataset=False,
    )
    base.update(kw)
    return cls(**base)


def _batch(trainer, ds):
    # TRL turns completion_mask into labels while preparing the data set: collate the prepared rows.
    prepared = trainer.train_dataset
    batch = trainer.data_collator([prepared[i] for i in range(len(prepared))])
    return {k: v for k, v in batch.items()}


@pytest.mark.parametrize("path", ["trl", "cpu"])
@pytest.mark.parametrize("objective", ["nll", "dft", "power", "asft"])
def test_fused_loss_and_grads_match_full_logits(tmp_path, objective, path):
    """The trainer's loss (TRL's fused head + tiled KL, or the CPU path) equals full logits, gradients too."""
    model = make_model(V, seed=1)
    ds = _dataset()
    trainer = SFTLabTrainer(
        model=model,
        args=_args(tmp_path, objective=objective, alpha=0.5, kl_coef=0.3, fused_loss=path),
        train_dataset=ds,
        processing_class=TOK,
    )
    if objective == "asft":  # a reference that differs from the policy, so the KL is not zero
        with torch.no_grad():
            for p in trainer.ref_model.parameters():
                p.add_(0.05 * torch.randn_like(p))
    batch = _batch(trainer, ds)
    model.train()
    loss = trainer.compute_loss(model, dict(batch))
    loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()

    ref_logits = None
    if objective == "asft":
        with torch.no_grad():
            ref_logits = trainer.ref_model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    full = full_logits_reference(logits, batch["labels"], objective, alpha=0.5, ref_logits=ref_logits, kl_coef=0.3)
    full.backward()
    assert loss.item() == pytest.approx(full.item(), abs=1e-5)
    for n, p in model.named_parameters():
        assert torch.allclose(grads[n], p.grad, atol=1e-5), n
    logged = trainer._metrics["train"]
    assert logged["nll"] and logged["mean_token_accuracy"]
    if objective == "asft":
        assert logged["kl"][-1] > 0


def test_dft_equals_trl_dft(tmp_path):
    """Same model, same batch: sftlab's DFT loss equals TRL's SFTTrainer(loss_type='dft')."""
    ds = _dataset()
    ours = SFTLabTrainer(
        model=make_model(V, seed=2),
        args=_args(tmp_path / "a", objective="dft", fused_loss="trl"),
        train_dataset=ds,
        processing_class=TOK,
    )
    cpu = SFTLabTrainer(
        model=make_model(V, seed=2),
        args=_args(tmp_path / "d", objective="dft", fused_loss="cpu"),
        train_dataset=ds,
        processing_class=TOK,
    )
    trl = SFTTrainer(
        model=make_model(V, seed=2),
        args=_args(tmp_path / "b", cls=SFTConfig, loss_type="dft"),
        train_dataset=ds,
        processing_class=TOK,
    )
    batch = _batch(ours, ds)
    a = ours.compute_loss(ours.model, dict(batch))
    b = trl.compute_loss(trl.model, dict(batch))
    assert a.item() == pytest.approx(b.item(), abs=1e-6)
    assert cpu.compute_loss(cpu.model, dict(batch)).item() == pytest.approx(b.item(), abs=1e-6)
    # and DFT differs from NLL on the same batch (the test can fail)
    nll = SFTLabTrainer(
        model=make_model(V, seed=2), args=_args(tmp_path / "c", objective="nll"), train_dataset=ds, processing_class=TOK
    )
    assert abs(nll.compute_loss(nll.model, dict(batch)).item() - a.item()) > 1e-2


@pytest.mark.parametrize("path", ["trl", "cpu"])
@pytest.mark.parametrize("objective", ["nll", "dft"])
def test_batch_8x1_equals_batch_1x8_accumulation(tmp_path, objective, path):
    """One optimizer step on batch 8 equals one step of batch 1 x 8 accumulation steps (SGD, same data)."""
    ds = _dataset(n=8)
    # DFT's gradient is the NLL gradient times p ~ 1/V on a random model: give it a larger step to measure.
    lr = {"nll": 1e-2, "dft": 3.0}[objective]
    m1, m2 = make_model(V, seed=3), make_model(V, seed=3)
    SFTLabTrainer(
        model=m1,
        args=_args(tmp_path / "a", objective=objective, learning_rate=lr, fused_loss=path),
        train_dataset=ds,
        processing_class=TOK,
    ).train()
    SFTLabTrainer(
        model=m2,
        args=_args(
            tmp_path / "b",
            objective=objective,
            learning_rate=lr,
            fused_loss=path,
            per_device_train_batch_size=1,
            gradient_accumulation_steps=8,
        ),
        train_dataset=ds,
        processing_class=TOK,
    ).train()
    m0 = make_model(V, seed=3)
    moved = max((p - q).abs().max().item() for p, q in zip(m1.parameters(), m0.parameters()))
    assert moved > 1e-4  # the step did something
    for (n, p), q in zip(m1.named_parameters(), m2.parameters()):
        assert torch.allclose(p, q, atol=1e-6), n


def test_prompt_tokens_are_not_trained_on(tmp_path):
    """The completion_mask of a pre-tokenized record becomes the labels: prompt positions are -100."""
    ds = Dataset.from_list([{"input_ids": [1, 5, 6, 7, 8, 2], "completion_mask": [0, 0, 0, 0, 1, 1]}])
    trainer = SFTLabTrainer(model=make_model(V), args=_args(tmp_path), train_dataset=ds, processing_class=TOK)
    labels = trainer.data_collator([trainer.train_dataset[0]])["labels"].tolist()
    assert labels == [[-100, -100, -100, -100, 8, 2]]


def test_the_consoles_step_reporter_reaches_a_trainer_built_meanwhile(tmp_path):
    """The live view learns each run's steps through transformers' DEFAULT_CALLBACKS (sftlab.console.step_callback):
    a trainer built inside the context reports every step, and the list is as it was after it."""
    import transformers.trainer as hf_trainer

    from sftlab.console import step_callback

    before = list(hf_trainer.DEFAULT_CALLBACKS)
    steps = []
    with step_callback(lambda step, total: steps.append((step, total))):
        trainer = SFTLabTrainer(
            model=make_model(V, seed=1),
            args=_args(tmp_path, max_steps=3),
            train_dataset=_dataset(),
            processing_class=TOK,
        )
        trainer.train()
    assert steps == [(0, 3), (1, 3), (2, 3), (3, 3)]
    assert hf_trainer.DEFAULT_CALLBACKS == before
