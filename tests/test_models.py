"""Loading a tokenizer: a missing one is a one-line error naming the path; a missing pad token becomes EOS."""

from __future__ import annotations

import pytest

from sftlab.errors import SftlabError
from sftlab.models import load_tokenizer
from tiny import char_tokenizer


def test_missing_tokenizer_is_one_error_naming_the_path(tmp_path):
    missing = tmp_path / "no-model"
    missing.mkdir()
    with pytest.raises(SftlabError) as e:
        load_tokenizer(str(missing))
    assert str(missing) in str(e.value) and "cannot load the tokenizer" in str(e.value)
    assert "\n" not in str(e.value)


def test_a_tokenizer_without_pad_pads_with_eos(tmp_path):
    tok = char_tokenizer()
    assert tok.pad_token is None
    tok.save_pretrained(tmp_path)
    loaded = load_tokenizer(str(tmp_path))
    assert loaded.pad_token == loaded.eos_token == "</s>"
