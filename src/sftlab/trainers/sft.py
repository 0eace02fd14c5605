"""Token-reweighted SFT on TRL's SFTTrainer: ``objective = nll | dft | power | asft``.

:class:`SFTLabTrainer` overrides one hook, ``compute_loss``: it takes the
per-token log-probabilities from TRL's fused LM head (no full logits), applies
the pure objective from :mod:`sftlab.objectives`, and reduces with the shared
:func:`~sftlab.objectives.aggregate`. On a single CPU process it uses
:mod:`sftlab.objectives.fused_cpu` instead, which forms the gradients in the
forward pass (same values, fewer matmuls; ``fused_loss`` picks). It logs the plain NLL, token accuracy and
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

from sftlab.objectives import KL_DIRECTIONS, OBJECTIVES, aggregate, chunked_kl, per_token_loss
from sftlab.objectives.fused_cpu import fused_objective_loss


@dataclass
class SFTLabConfig(SFTConfig):
    """TRL's SFTConfig plus the objective. Defaults for the objective follow the papers."""

    objective: str = field(
        default="nll",
        metadata={
            "help": "Per-token objective: nll (plain SFT), dft (arXiv 2508.05629), power (-sg(p^alpha) log p), "
            "asft (DFT + KL anchor, arXiv 2509.23753).",
            "choices": list(OBJECTIVES),
        },
    )
    alpha: float = field(default=1.0, metadata={"help": "Exponent of the 'power' objective (0 = nll, 1 = dft)."})
    kl_coef: float = field(
        default=0.1, metadata={"help": "ASFT: weight lambda of the KL anchor (ASFT's scripts use 0.1)."}
    )
    kl_direction: str = field(
        default="forward",
        metadata={
            "help": "ASFT: 'forward' = KL(pi_ref || pi_theta), 'reverse' = KL(pi_theta || pi_ref).",
            "choices": list(KL_DIRECTIONS),
        },
    )

    # TRL's default (None) ignores a pre-tokenized data set's completion_mask and trains on the prompt too.
    completion_only_loss: bool | None = field(
        default=True, metadata={"help": "Compute the loss on completion tokens only (the data's completion_mask)."}
    )

    fused_loss: str = field(
        default="auto",
        metadata={
            "help": "LM head + loss without full logits: 'trl' = TRL's fused head (tiles recomputed in "
            "backward; any device), 'cpu' = sftlab's single-process CPU path (gradients formed in forward), "
            "'auto' = cpu where it applies, else trl.",
            "choices": ["auto", "trl", "cpu"],
        },
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
        if self._use_cpu_path(policy):
            loss, sums = self._cpu_fused_loss(policy, inputs, num_items_in_batch)
            outputs = None
        else:
            loss, sums, outputs = self._trl_fused_loss(model, policy, inputs, num_items_in_batch)
        # As in Trainer.compute_loss: num_items_in_batch counts every rank's tokens and DDP averages gradients.
        if args.average_tokens_across_devices and num_items_in_batch is not None:
            loss = loss * (self.accelerator.num_processes // self.get_tp_size())
        self._log_token_metrics(mode, sums, inputs)
        return (loss, outputs) if return_outputs else loss

    def _trl_fused_loss(self, model, policy, inputs, num_items_in_batch):
        """Per-token log-probs from TRL's fused LM head, then the pure objective."""
        args = self.args
        kl, captured, hook = None, {}, None
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
            head, ref_head = policy.get_output_embeddings(), self._ref_head(policy)
            kl_valid = chunked_kl(
                hidden.to(head.weight.dtype),
                _full(head.weight),
                ref_hidden.to(ref_head.weight.dtype),
                _full(ref_head.weight),
                bias=_full(head.bias),
                ref_bias=_full(ref_head.bias),
                direction=args.kl_direction,
            )
            kl = outputs.log_probs.new_zeros(mask.shape).masked_scatter(mask, kl_valid.to(outputs.log_probs.dtype))
        per_token = per_token_loss(args.objective, outputs.log_probs, alpha=args.alpha, kl=kl, kl_coef=args.kl_coef)
        loss = aggregate(per_token, mask, num_items_in_batch)
        sums = {
            "n": mask.sum(),
            "nll": (-outputs.log_probs.detach()).sum(),
            "correct": outputs.is_top1.sum(),
            "entropy": None if outputs.entropy is None else outputs.entropy.detach().sum(),
            "kl": None if kl is None else kl.detach().sum(),
        }
        return loss, sums, outputs

    def _cpu_fused_loss(self, policy, inputs, num_items_in_batch):
        """Backbone, then :func:`~sftlab.objectives.fused_cpu.fused_objective_loss` on the scored positions."""
        args = self.args
        backbone_inputs = {k: v for k, v in inputs.items() if k != "labels"}
        hidden = policy.base_model(**backbone_inputs).last_hidden_state[:, :-1]  # (B, T-1, H)
        targets = inputs["labels"][:, 1:]  # (B, T-1)
        mask = targets != -100
        head = policy.get_output_embeddings()
        ref_hidden = ref_head = None
        if args.objective == "asft":
            ref_hidden = self._ref_hidden_states(inputs)[:, :-1][mask]
            ref_head = self._ref_head(policy)
        loss, stats = fused_objective_loss(
            hidden[mask],
            head.weight,
            targets[mask],
            args.objective,
            bias=head.bias,
            alpha=args.alpha,
            kl_coef=args.kl_coef,
            ref_hidden=ref_hidden,
            ref_weight=None if ref_head is None else ref_head.weight,
            ref_bias=None if ref_head is None else ref_head.bias,
            normalizer=mask.sum() if num_items_in_batch is None else num_items_in_batch,
        )
        sums = {
            "n": mask.sum(),
            "nll": stats[0],
            "correct": stats[1],
            "entropy": stats[2],
            "kl": stats[3] if args.objective == "asft" else None,
        }
        return loss, sums

    def _use_cpu_path(self, policy) -> bool:
        """Whether the single-process CPU path applies (else TRL's fused head, valid everywhere)."""
        choice = self.args.fused_loss
        if choice == "trl":
            return False
        from peft.tuners.tuners_utils import BaseTunerLayer

        reasons = []
        if self.accelerator.device.type != "cpu":
            reasons.append("not on the CPU")
        if self.accelerator.num_processes != 1 or self.is_fsdp_enabled or self.is_deepspeed_enabled:
            reasons.append("several processes or sharded parameters")
        if isinstance(policy.get_output_embeddings(), BaseTunerLayer):
            reasons.append("an adapter on the LM head")
        if has_scaled_logits(policy.config):
            reasons.append("scaled or soft-capped logits")
        if self.args.objective == "asft" and self.args.kl_direction != "forward":
            reasons.append("reverse KL")
        from peft import PeftModel, PromptLearningConfig

        wrapped = self.accelerator.unwrap_model(self.model)
        if isinstance(wrapped, PeftModel) and any(
            isinstance(c, PromptLearningConfig) for c in wrapped.peft_config.values()
        ):
            reasons.append("prompt-learning adapters (virtual tokens live in PeftModel.forward)")
        if reasons and choice == "cpu":
            raise ValueError(f"fused_loss='cpu' does not apply here: {', '.join(reasons)}")
        return not reasons

    def _ref_head(self, policy):
        return (policy if self.ref_model is None else _causal_lm(self.ref_model)).get_output_embeddings()

    def _log_token_metrics(self, mode, sums, inputs):
        gather = self.accelerator.gather_for_metrics
        n = gather(sums["n"].detach().reshape(1)).sum().clamp(min=1)
        m = self._metrics[mode]
        for key, name in (("nll", "nll"), ("correct", "mean_token_accuracy"), ("entropy", "entropy"), ("kl", "kl")):
            if sums[key] is not None:
                value = sums[key].detach().to(n.device).float().reshape(1)
                m[name].append((gather(value).sum() / n).item())
        if mode == "train":
            if "attention_mask" in inputs:
                tokens = gather(inputs["attention_mask"].sum()).sum().item()
            else:  # padding-free batches carry position_ids instead
                tokens = gather(torch.tensor(inputs["position_ids"].size(1), device=n.device)).sum().item()
            self._total_train_tokens += tokens // self._tp_size
        m["num_tokens"] = [self._total_train_tokens]


SCALED_LOGIT_ATTRS = (
    "final_logit_softcapping",
    "logit_scale",
    "output_multiplier",
    "lm_head_multiplier",
    "logits_scaling",
)


def has_scaled_logits(model_config) -> bool:
    """Whether the model scales or soft-caps its logits (the CPU fused path computes plain ``h @ W.T``)."""
    text_config = model_config.get_text_config()
    return any(getattr(text_config, a, None) not in (None, 1.0) for a in SCALED_LOGIT_ATTRS)


def _causal_lm(model):
    """The transformers causal LM inside a PEFT wrapper (or the model itself)."""
    from peft import PeftModel

    return model.get_base_model() if isinstance(model, PeftModel) else model


def _full(t):
    """FSDP2 shards parameters as DTensors; the tiled kernels need plain tensors."""
    if t is None:
        return None
    return t.full_tensor() if isinstance(t, DTensor) else t
