"""The one builder of TRL configs: :func:`trainer_args` maps a command's :class:`~sftlab.args.RunArgs` onto any
TRL config class (``SFTConfig``, ``DPOConfig``, ``GRPOConfig``, ``RewardConfig`` and their subclasses).

The rules every sftlab trainer shares live here, once:

- device: ``use_cpu`` where no GPU is present; ``dataloader_num_workers=0`` (the data sets are tokenized in
  memory, so worker processes only add start-up time and fork a process holding the model);
- precision: bf16 by :func:`sftlab.models.use_bf16` (the user's ``--bf16`` / ``--no-bf16``, else on where the
  GPU supports it), the same rule the model loader follows;
- gradient checkpointing: off unless asked (TRL's configs turn it on by default), set through transformers 5's
  name for it, ``activation_checkpointing`` (the old name warns);
- warmup: a ``warmup_ratio`` given as a method field becomes transformers 5's fractional ``warmup_steps``.
"""

from __future__ import annotations

from sftlab.args import RunArgs
from sftlab.models import use_bf16


def trainer_args(config_cls, run: RunArgs, *, output_dir, **method_fields):
    """``config_cls(...)`` from ``run``'s shared options, then ``method_fields`` (which win, e.g. a per-iteration seed).

    ``method_fields`` may hold ``warmup_ratio``: it is passed on as ``warmup_steps=float(warmup_ratio)``.
    """
    import torch

    fields = {
        "output_dir": str(output_dir), "learning_rate": run.learning_rate, "lr_scheduler_type": run.lr_scheduler_type,
        "weight_decay": run.weight_decay, "max_grad_norm": run.max_grad_norm,
        "per_device_train_batch_size": run.per_device_train_batch_size, "bf16": use_bf16(run.bf16),
        "activation_checkpointing": run.gradient_checkpointing, "logging_steps": run.logging_steps, "seed": run.seed,
        "report_to": run.report_to, "disable_tqdm": not run.progress, "use_cpu": not torch.cuda.is_available(),
        "dataloader_num_workers": 0,
    }  # fmt: skip
    if "warmup_ratio" in method_fields:
        method_fields["warmup_steps"] = float(method_fields.pop("warmup_ratio"))
    fields.update(method_fields)
    return config_cls(**fields)
