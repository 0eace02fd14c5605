"""The lab tokenizer: a small byte-level BPE with one token per digit.

Single-digit tokens make multi-digit arithmetic learnable for a tiny model
(every number is spelled the same way wherever it appears). The tokenizer has
BOS/EOS/PAD tokens, adds BOS in front of every text like Llama tokenizers, and
has no chat template, so prompts use the plain ``Question: ...\\nSolution:``
template of :func:`sftlab.data.templates.render_prompt`.
"""

from __future__ import annotations

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

PAD, BOS, EOS = "<pad>", "<s>", "</s>"


def train_tokenizer(texts, vocab_size: int = 512, model_max_length: int = 1024) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE of ``vocab_size`` tokens on ``texts``.

    The alphabet is printable ASCII and newline (the lab's text is ASCII; a full
    byte alphabet would cost 15-20% longer sequences). Other text is normalized
    first: accents are stripped (``ë`` -> ``e``) and any other non-ASCII
    character becomes ``?``, so nothing is dropped silently.
    """
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.Sequence(
        [normalizers.NFKD(), normalizers.StripAccents(), normalizers.Replace(Regex(r"[^\x00-\x7F]"), "?")]
    )
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), byte_level])
    tok.decoder = decoders.ByteLevel()
    alphabet = sorted({byte_level.pre_tokenize_str(ch)[0][0] for ch in [chr(c) for c in range(32, 127)] + ["\n"]})
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=[PAD, BOS, EOS], initial_alphabet=alphabet, show_progress=False
    )
    tok.train_from_iterator(texts, trainer=trainer)
    tok.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B", special_tokens=[(BOS, tok.token_to_id(BOS))]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=BOS, eos_token=EOS, pad_token=PAD, model_max_length=model_max_length
    )
