"""Loading a tokenizer from a hub id or a local folder, with a one-line error naming the path; the model's context."""

from __future__ import annotations

from .errors import SftlabError


def load_tokenizer(path: str, trust_remote_code: bool = False):
    """``AutoTokenizer.from_pretrained(path)``; a tokenizer without a pad token pads with its EOS token."""
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as e:
        raise SftlabError(f"{path}: cannot load the tokenizer ({str(e).splitlines()[0]})") from None
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


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
    path: str, max_length: int | None, *, default: int = 1024, flag: str = "--max-length", trust_remote_code: bool = False
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
