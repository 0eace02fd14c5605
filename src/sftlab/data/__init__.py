"""Data layer: load, validate, tokenize and render SFT data.

>>> data = load_sft_data("train.jsonl")                       # doctest: +SKIP
>>> dataset, stats = tokenize_sft(data, tokenizer, max_length=1024)  # doctest: +SKIP

See docs/data.md for the formats, the accepted sources and the errors.
"""

from .answers import ANSWER_SUFFIX_HELP, ANSWER_SUFFIXES, apply_answer_check, check_final_answers
from .formats import SFTData
from .items import eval_items
from .load import load_sft_data
from .templates import completion_text, render_prompt
from .tokenize import encode_prompts, render_chat, tokenize_sft

__all__ = [
    "ANSWER_SUFFIXES",
    "ANSWER_SUFFIX_HELP",
    "apply_answer_check",
    "check_final_answers",
    "SFTData",
    "completion_text",
    "encode_prompts",
    "eval_items",
    "load_sft_data",
    "render_chat",
    "render_prompt",
    "tokenize_sft",
]
