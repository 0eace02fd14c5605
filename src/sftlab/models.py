"""Loading a tokenizer from a hub id or a local folder, with a one-line error naming the path."""

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
