"""IRFT's trainer: TRL's DPOTrainer with the IRL link of :mod:`sftlab.objectives.irl` (arXiv 2405.17888).

:class:`IRFTTrainer` is TRL's DPOTrainer with two hooks changed:
``_compute_loss`` (the link: DPO has sigmoid and hinge but no linear link, and
its loss is computed inline) and ``_prepare_dataset`` (pairs arrive tokenized
the way sftlab tokenizes SFT data, BOS once and EOS after each completion).
The reference is the iteration's starting model; its log-probabilities are
precomputed once per iteration (``precompute_ref_log_probs``), so no second
copy of the model is held. Batching, PEFT, accelerate and logging are TRL's.
The iteration loop around it (IRFT, SPIN, RFT) is :mod:`sftlab.methods.irl`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from trl import DPOConfig, DPOTrainer

from sftlab.objectives.irl import LINKS, irl_pair_loss, pair_metrics

_NON_MODEL_KEYS = {"completion_mask", "ref_chosen_logps", "ref_rejected_logps"}


@dataclass
class IRFTConfig(DPOConfig):
    """TRL's DPOConfig plus the IRFT link (``beta`` is DPO's: the implicit-reward scale)."""

    link: str = field(default="logistic", metadata={"help": "Link l(z) of the pairwise loss.", "choices": list(LINKS)})
    precompute_ref_log_probs: bool = field(
        default=True, metadata={"help": "Score every pair with the reference once, before training (pi_t is frozen)."}
    )

    def __post_init__(self):
        super().__post_init__()
        if self.link not in LINKS:
            raise ValueError(f"link must be one of {LINKS}, got {self.link!r}")


class IRFTTrainer(DPOTrainer):
    """DPOTrainer whose loss is ``l(z)`` of :func:`~sftlab.objectives.irl.irl_pair_loss`.

    Pass the pairs tokenized (``prompt_ids``, ``chosen_ids``, ``rejected_ids``;
    see :func:`tokenize_pairs`), or as DPO's ``prompt``/``chosen``/``rejected``
    text. With ``precompute_ref_log_probs`` (the default) and no ``ref_model``,
    the reference is the model as passed in, i.e. the iteration's start.
    """

    def _prepare_dataset(self, dataset, processing_class, args, dataset_name):
        if {"prompt_ids", "chosen_ids", "rejected_ids"} <= set(dataset.column_names):
            if args.max_length is not None:  # as DPO: a prompt that fills max_length leaves nothing to learn from
                dataset = dataset.filter(lambda ex: len(ex["prompt_ids"]) < args.max_length)
            return dataset
        return super()._prepare_dataset(dataset, processing_class, args, dataset_name)

    def _sequence_logps(self, model, inputs) -> torch.Tensor:
        """Summed completion log-probabilities, ``(2B,)``: chosen rows first, then rejected.

        Not :mod:`sftlab.generation.scoring`: the loss needs gradients through these values, and the service is
        forward-only (``inference_mode``) and tokenizes text itself rather than taking the trainer's batches.
        """
        model_kwargs = {k: v for k, v in inputs.items() if k not in _NON_MODEL_KEYS}
        model_kwargs["use_cache"] = False
        completion_mask = inputs["completion_mask"]
        labels = inputs["input_ids"].masked_fill(completion_mask == 0, -100)
        outputs = model(**model_kwargs, labels=labels, fused_lm_head=True)  # log_probs (2B, T-1), 0 off completions
        return outputs.log_probs[:, -(completion_mask.size(1) - 1) :].sum(dim=1)

    def _reference_logps(self, inputs) -> tuple[torch.Tensor, torch.Tensor]:
        if self.precompute_ref_logps:
            return inputs["ref_chosen_logps"], inputs["ref_rejected_logps"]
        # TRL's reference pass: the ref model, or for PEFT the policy with its adapters disabled.
        return self.compute_ref_log_probs(self.ref_model if self.ref_model is not None else self.model, inputs)

    def _compute_loss(self, model, inputs, return_outputs):
        mode = "train" if self.model.training else "eval"
        chosen, rejected = self._sequence_logps(model, inputs).chunk(2)  # batch is [chosen; rejected]
        ref_chosen, ref_rejected = self._reference_logps(inputs)
        losses = irl_pair_loss(chosen, rejected, ref_chosen, ref_rejected, beta=self.beta, link=self.args.link)
        loss = losses.mean()

        gather = self.accelerator.gather_for_metrics
        with torch.no_grad():
            stats = pair_metrics(gather(chosen.detach()), gather(rejected.detach()), gather(ref_chosen),
                                 gather(ref_rejected), beta=self.beta)  # fmt: skip
            chosen_mask, _ = inputs["completion_mask"][:, 1:].chunk(2)
            n_tokens = gather(chosen_mask.sum()).sum().clamp(min=1)
        m = self._metrics[mode]
        m["rewards/accuracies"].append(stats["reward_accuracy"])
        m["rewards/margins"].append(stats["reward_margin"])
        m["logp_gap"].append(stats["logp_gap"])
        m["nll"].append((-gather(chosen.detach()).sum() / n_tokens).item())  # per-token NLL of the demonstrations
        if mode == "train":
            self._total_train_tokens += gather(inputs["attention_mask"].sum()).sum().item() // self._tp_size
        m["num_tokens"] = [self._total_train_tokens]
        if not return_outputs:
            return loss
        with torch.no_grad():  # as DPOTrainer: the fused head built no logits, so compute them for whoever asked
            outputs = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"], use_cache=False)
        return loss, outputs

    @torch.no_grad()
    def score_pairs(self) -> dict[str, torch.Tensor]:
        """Policy and reference log-probabilities of every training pair, in data set order.

        Computed by :meth:`_sequence_logps` on the trainer's own collated batches (not by the scoring service), so
        they are exactly the sums, with TRL's reference pass, that the loss compares.
        """
        from torch.utils.data import DataLoader

        model = self.model
        was_training = model.training
        model.eval()
        loader = DataLoader(self.train_dataset, batch_size=self.args.per_device_train_batch_size,
                            collate_fn=self.data_collator, shuffle=False)  # fmt: skip
        out = {"chosen": [], "rejected": [], "ref_chosen": [], "ref_rejected": []}
        try:
            for batch in loader:
                batch = self._prepare_inputs(batch)
                c, r = self._sequence_logps(model, batch).chunk(2)
                rc, rr = self._reference_logps(batch)
                for k, v in zip(out, (c, r, rc, rr)):
                    out[k].append(v.float().cpu())
        finally:
            model.train(was_training)
        return {k: torch.cat(v) for k, v in out.items()}
