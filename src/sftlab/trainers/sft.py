"""Token-reweighted SFT on TRL's SFTTrainer: ``objective = nll | dft | power | asft``.

:class:`SFTLabTrainer` overrides one hook, ``compute_loss``: it takes the
per-token log-probabilities from TRL's fused LM head (no full logits), applies
the pure objective from :mod:`sftlab.objectives`, and reduces with the shared
:func:`~sftlab.objectives.aggregate`. It logs the plain NLL, token accuracy and
entropy beside the objective from the same pass (and the KL for ASFT).
Everything else (data collation, packing, PEFT, accelerate, checkpoints) is
TRL's and transformers'.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import torch
from torch.distributed.tensor import DTensor
from trl import SFTConfig, SFTTrainer

from ..objectives import KL_DIRECTIONS, OBJECTIVES, aggregate, chunked_kl, per_token_loss


@dataclass
class SFTLabConfig(SFTConfig):
    """TRL's SFTConfig plus the objective. Defaults for the objective follow the papers."""

    objective: str = field(
        default="nll",
        metadata={"help": "Per-token objective: nll (plain SFT), dft (arXiv 2508.05629), power (-sg(p^alpha) log p), "
                  "asft (DFT + KL anchor, arXiv 2509.23753).", "choices": list(OBJECTIVES)},
    )
    alpha: float = field(default=1.0, metadata={"help": "Exponent of the 'power' objective (0 = nll, 1 = dft)."})
    kl_coef: float = field(default=0.1, metadata={"help": "ASFT: weight lambda of the KL anchor (ASFT's scripts use 0.1)."})
    kl_direction: str = field(
        default="forward",
        metadata={"help": "ASFT: 'forward' = KL(pi_ref || pi_theta), 'reverse' = KL(pi_theta || pi_ref).",
                  "choices": list(KL_DIRECTIONS)},
    )

    # TRL's default (None) ignores a pre-tokenized data set's completion_mask and trains on the prompt too.
    completion_only_loss: bool | None = field(
        default=True, metadata={"help": "Compute the loss on completion tokens only (the data's completion_mask)."}
    )

    def __post_init__(self):
        super().__post_init__()
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, got {self.objective!r}")
        if self.kl_direction not in KL_DIRECTIONS:
            raise ValueError(f"kl_direction must be one of {tuple(KL_DIRECTIONS)}, got {self.kl_direction!r}")


class SFTLabTrainer(SFTTrainer):
    """SFTTrainer whose loss is an sftlab objective (the only overridden hook is ``compute_loss``).

    ``ref_model``: the frozen anchor for ASFT. When omitted, a frozen copy of the
    initial model is used, or, for a PEFT model, the same model with its adapters
    disabled (no second copy in memory).
    """

    def __init__(self, *args, ref_model=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.ref_model = None
        if self.args.objective == "asft":
            self.ref_model = self._prepare_ref_model(ref_model)

    # -- ASFT reference --------------------------------------------------------------
    def _prepare_ref_model(self, ref_model):
        from peft import PeftModel

        if ref_model is None and isinstance(self.model, PeftModel):
            return None  # adapters disabled at loss time
        if ref_model is None:
            ref_model = copy.deepcopy(self.accelerator.unwrap_model(self.model))
            # The fused-head patch is an instance attribute whose closure calls the *policy's* forward.
            ref_model.__dict__.pop("forward", None)
        ref_model.eval().requires_grad_(False)
        if self.is_deepspeed_enabled:
            from trl.models.utils import prepare_deepspeed

            return prepare_deepspeed(ref_model, self.accelerator)
        if self.is_fsdp_enabled:
            from trl.models.utils import prepare_fsdp

            return prepare_fsdp(ref_model, self.accelerator)
        return ref_model.to(self.accelerator.device)

    def _ref_hidden_states(self, inputs) -> torch.Tensor:
        """Final hidden states of the reference, (B, T, H), without its LM head."""
        keys = ("input_ids", "attention_mask", "position_ids")
        kwargs = {k: inputs[k] for k in keys if k in inputs}
        with torch.no_grad():
            if self.ref_model is not None:
                return _causal_lm(self.ref_model).base_model(**kwargs, use_cache=False).last_hidden_state
            model = self.accelerator.unwrap_model(self.model)
            with model.disable_adapter():
                return _causal_lm(model).base_model(**kwargs, use_cache=False).last_hidden_state

    # -- the loss ----------------------------------------------------------------------
    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        args = self.args
        mode = "train" if self.model.training else "eval"
        inputs["use_cache"] = False
        policy = _causal_lm(self.accelerator.unwrap_model(model))

        kl, captured = None, {}
        hook = None
        if args.objective == "asft":
            # The fused forward runs the backbone and keeps only log-probs; grab the backbone output on the way.
            hook = policy.base_model.register_forward_hook(
                lambda _m, _i, out: captured.__setitem__("hidden", out.last_hidden_state)
            )
        try:
            outputs = model(**inputs, fused_lm_head=True)  # log_probs (B, T-1), zero where not scored
        finally:
            if hook is not None:
                hook.remove()
        mask = outputs.label_mask  # (B, T-1)

        if args.objective == "asft":
            hidden = captured["hidden"][:, :-1][mask]  # (N, H)
            ref_hidden = self._ref_hidden_states(inputs)[:, :-1][mask]  # (N, H_ref)
            ref_head = (policy if self.ref_model is None else _causal_lm(self.ref_model)).get_output_embeddings()
            head = policy.get_output_embeddings()
            kl_valid = chunked_kl(
                hidden.to(head.weight.dtype), _full(head.weight), ref_hidden.to(ref_head.weight.dtype),
                _full(ref_head.weight), bias=_full(head.bias), ref_bias=_full(ref_head.bias),
                direction=args.kl_direction,
            )
            kl = outputs.log_probs.new_zeros(mask.shape).masked_scatter(mask, kl_valid.to(outputs.log_probs.dtype))

        per_token = per_token_loss(args.objective, outputs.log_probs, alpha=args.alpha, kl=kl, kl_coef=args.kl_coef)
        loss = aggregate(per_token, mask, num_items_in_batch)
        # As in Trainer.compute_loss: num_items_in_batch counts every rank's tokens and DDP averages gradients.
        if args.average_tokens_across_devices and num_items_in_batch is not None:
            loss = loss * (self.accelerator.num_processes // self.get_tp_size())

        self._log_token_metrics(mode, outputs, mask, kl, inputs)
        return (loss, outputs) if return_outputs else loss

    def _log_token_metrics(self, mode, outputs, mask, kl, inputs):
        gather = self.accelerator.gather_for_metrics
        n = gather(mask.sum()).sum().clamp(min=1)
        m = self._metrics[mode]
        m["nll"].append((gather((-outputs.log_probs.detach()).sum()).sum() / n).item())
        m["mean_token_accuracy"].append((gather(outputs.is_top1.sum()).sum() / n).item())
        if outputs.entropy is not None:
            m["entropy"].append((gather(outputs.entropy.detach().sum()).sum() / n).item())
        if kl is not None:
            m["kl"].append((gather(kl.detach().sum()).sum() / n).item())
        if mode == "train":
            if "attention_mask" in inputs:
                tokens = gather(inputs["attention_mask"].sum()).sum().item()
            else:  # padding-free batches carry position_ids instead
                tokens = gather(torch.tensor(inputs["position_ids"].size(1), device=mask.device)).sum().item()
            self._total_train_tokens += tokens // self._tp_size
        m["num_tokens"] = [self._total_train_tokens]


def _causal_lm(model):
    """The transformers causal LM inside a PEFT wrapper (or the model itself)."""
    from peft import PeftModel

    return model.get_base_model() if isinstance(model, PeftModel) else model


def _full(t):
    """FSDP2 shards parameters as DTensors; the tiled kernels need plain tensors."""
    if t is None:
        return None
    return t.full_tensor() if isinstance(t, DTensor) else t


