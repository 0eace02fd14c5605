"""The one model and tokenizer loader, with one dtype and device policy for every command.

``load_causal_lm(path, purpose)``:

- ``purpose="train"``: float32 weights, or bf16 weights where bf16 training is on and a GPU is
  present (``--bf16`` defaults to on where the GPU supports it); left on the CPU, because the trainer
  (accelerate) places it on its device.
- ``purpose="infer"`` (generation) and ``purpose="score"`` (log-likelihoods, hidden states): bf16 on a
  GPU that supports it, float32 elsewhere (bf16 matmuls are slow on CPUs); moved to the device that
  accelerate assigns to this process (``cuda:<local rank>`` under ``accelerate launch``, else the
  only GPU, else the CPU) and put in eval mode.

``load_reward_model(path)``: a one-output sequence classifier (RFT's reward model), placed as for training.

Errors loading a model or a tokenizer are one line naming the path (:class:`SftlabError`).

:func:`check_max_length` reads the model's context from its config alone (no weights).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

from .errors import SftlabError

PURPOSES = ("train", "infer", "score")


@dataclass(frozen=True)
class Placement:
    """Where and in which dtype a model goes: ``device`` a torch device string, ``bf16`` the weights' dtype."""

    device: str
    bf16: bool


def bf16_supported() -> bool:
    """Whether this process has a GPU with bf16 support (never on CPU)."""
    import torch

    return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())


def use_bf16(requested: bool | None) -> bool:
    """Training precision: the user's ``--bf16`` / ``--no-bf16``, else on where the GPU supports it."""
    return bf16_supported() if requested is None else bool(requested)


def process_device() -> str:
    """The device accelerate assigns to this process: ``cuda:<local rank>``, ``cuda``, ``mps`` or ``cpu``."""
    from accelerate import PartialState

    return str(PartialState().device)


def placement(purpose: str, *, bf16: bool | None = None) -> Placement:
    """The policy: where a model for ``purpose`` goes and whether its weights are bf16."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown purpose {purpose!r} (use one of {PURPOSES})")
    if purpose == "train":  # the trainer moves it; bf16 weights only on a GPU (on CPU bf16 means autocast)
        import torch

        return Placement(device="cpu", bf16=use_bf16(bf16) and torch.cuda.is_available())
    return Placement(device=process_device(), bf16=bf16_supported() if bf16 is None else (bf16 and bf16_supported()))


def check_local(path: str) -> None:
    """A path that names a local folder (``./x``, ``/x``, ``~/x``, ``a/b/c``) must exist: one line otherwise."""
    local = Path(path).expanduser()
    if not local.exists() and (path.startswith((".", "/", "~")) or local.is_absolute() or path.count("/") > 1):
        raise SftlabError(f"{path}: model folder not found")


def load_tokenizer(path: str, trust_remote_code: bool = False):
    """``AutoTokenizer.from_pretrained(path)``; a tokenizer without a pad token pads with its EOS token."""
    from transformers import AutoTokenizer

    check_local(str(path))
    try:
        tok = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as e:
        raise SftlabError(f"{path}: cannot load the tokenizer ({str(e).splitlines()[0]})") from None
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def load_causal_lm(
    path: str, purpose: str = "infer", *, bf16: bool | None = None, trust_remote_code: bool = False, quiet: bool = False
):
    """The causal LM at ``path`` (hub id or folder) placed by :func:`placement` for ``purpose``."""
    from transformers import AutoModelForCausalLM

    where = placement(purpose, bf16=bf16)
    model = _from_pretrained(
        AutoModelForCausalLM, path, where, "the model", quiet=quiet, trust_remote_code=trust_remote_code
    )
    if purpose == "train":
        return model
    return model.to(where.device).eval()


def load_reward_model(path: str, *, bf16: bool | None = None, trust_remote_code: bool = False, quiet: bool = False):
    """A one-output sequence classifier on the backbone at ``path``, for training (placed as purpose "train").

    A causal LM's head is dropped and a new value head added (TRL's warning about it is silenced: expected);
    a saved reward model loads whole.
    """
    from transformers import AutoModelForSequenceClassification
    from trl.trainer.reward_trainer import suppress_seqcls_warning

    with suppress_seqcls_warning():
        return _from_pretrained(
            AutoModelForSequenceClassification,
            path,
            placement("train", bf16=bf16),
            "a reward model",
            quiet=quiet,
            trust_remote_code=trust_remote_code,
            num_labels=1,
        )


def _from_pretrained(auto_class, path: str, where: Placement, what: str, *, quiet: bool, **kwargs):
    """``auto_class.from_pretrained`` in the dtype of ``where``; a failure is one line naming the path."""
    import torch

    check_local(str(path))
    with transformers_bars_off(quiet):
        try:
            return auto_class.from_pretrained(
                str(path), dtype=torch.bfloat16 if where.bf16 else torch.float32, **kwargs
            )
        except (OSError, ValueError) as e:
            raise SftlabError(f"{path}: cannot load {what} ({str(e).splitlines()[0]})") from None


def load_model_and_tokenizer(
    path: str, purpose: str = "infer", *, bf16: bool | None = None, trust_remote_code: bool = False, quiet: bool = False
):
    """:func:`load_causal_lm` and :func:`load_tokenizer` for the same path (the model first: a folder without
    weights is reported as such, not as a tokenizer problem)."""
    model = load_causal_lm(path, purpose, bf16=bf16, trust_remote_code=trust_remote_code, quiet=quiet)
    return model, load_tokenizer(path, trust_remote_code=trust_remote_code)


def lora_config(lora: bool, r: int, alpha: int, dropout: float, target_modules: str, task_type: str = "CAUSAL_LM"):
    """A PEFT ``LoraConfig`` (None when ``lora`` is off); ``target_modules`` is 'all-linear' or comma-separated."""
    if not lora:
        return None
    from peft import LoraConfig

    targets = target_modules if target_modules == "all-linear" else [t.strip() for t in target_modules.split(",")]
    return LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, task_type=task_type, target_modules=targets)


@contextlib.contextmanager
def transformers_bars_off(enabled: bool):
    """Hide transformers' own progress bars (loading and saving weights) while ``enabled``; as they were after."""
    if not enabled:
        yield
        return
    from transformers.utils import logging as hf_logging

    was = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was:
            hf_logging.enable_progress_bar()


def context_length(path: str, trust_remote_code: bool = False) -> int | None:
    """The model's context (``max_position_embeddings`` of its config, read without loading weights), or None.

    None when the config states no limit or cannot be read here (the model
    loader reports a bad path later, with its own message).
    """
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(path, trust_remote_code=trust_remote_code)
    except (OSError, ValueError):
        return None
    config = getattr(config, "text_config", None) or config
    value = getattr(config, "max_position_embeddings", None)
    return int(value) if isinstance(value, int) and value > 0 else None


def check_max_length(
    path: str,
    max_length: int | None,
    *,
    default: int = 1024,
    flag: str = "--max-length",
    trust_remote_code: bool = False,
) -> int:
    """``max_length`` checked against the model's context; None: ``default``, or the context when it is smaller.

    A value given above the context is a one-line :class:`SftlabError` naming both numbers.
    """
    context = context_length(path, trust_remote_code)
    if max_length is None:
        return min(default, context) if context else default
    if context is not None and max_length > context:
        raise SftlabError(f"{flag} {max_length} exceeds the context of {path} (max_position_embeddings {context})")
    return max_length
