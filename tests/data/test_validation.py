"""Every kind of bad input gets one DataError naming the file, the line (or row) and the field."""

from __future__ import annotations

import json

import pytest

from sftlab.data import load_sft_data
from sftlab.errors import DataError, SftlabError

GOOD_PC = {"prompt": "p", "completion": "c"}
GOOD_MSG = {"messages": [{"role": "user", "content": "u"}, {"role": "assistant", "content": "a"}]}
GOOD_REASONING = {"question": "q", "solution": "s", "answer": "1"}


def load_error(path) -> str:
    with pytest.raises(DataError) as info:
        load_sft_data(str(path))
    message = str(info.value)
    assert "\n" not in message and message.startswith(str(path))
    return message


def lines_file(tmp_path, *lines: str, name="bad.jsonl"):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def jsonl_with(tmp_path, bad: dict, good: dict = GOOD_PC):
    """Two good rows, then ``bad`` on line 3."""
    return lines_file(tmp_path, json.dumps(good), json.dumps(good), json.dumps(bad))


@pytest.mark.parametrize(
    ("bad", "good", "expected"),
    [
        ({"prompt": "p"}, GOOD_PC, ":3: field 'completion': missing"),
        ({"prompt": "p", "completion": None}, GOOD_PC, ":3: field 'completion': is null"),
        ({"prompt": None, "completion": "c"}, GOOD_PC, ":3: field 'prompt': is null"),
        ({"prompt": "p", "completion": ""}, GOOD_PC, ":3: field 'completion': is empty"),
        ({"prompt": "p", "completion": " \t\n "}, GOOD_PC, ":3: field 'completion': is empty"),
        (
            {"prompt": "p", "completion": 42},
            GOOD_PC,
            ":3: field 'completion': expected a string or a list, got an integer (42)",
        ),
        (
            {"prompt": ["p"], "completion": "c"},
            GOOD_PC,
            ":3: field 'completion': must be a message list when 'prompt' is one",
        ),
        ({"question": "q", "solution": "   "}, GOOD_REASONING, ":3: field 'solution': is empty"),
        ({"question": "q"}, GOOD_REASONING, ":3: field 'solution': missing"),
        (
            {"question": 7, "solution": "s"},
            GOOD_REASONING,
            ":3: field 'question': expected a string, got an integer (7)",
        ),
        (
            {"question": "q", "solution": "s", "answer": True},
            GOOD_REASONING,
            ":3: field 'answer': expected a string or an integer or a number, got a boolean",
        ),
        (
            {"question": "q", "solution": "s", "answer": [1]},
            GOOD_REASONING,
            ":3: field 'answer': expected a string or an integer or a number, got a list",
        ),
        (
            {"messages": [{"role": "user", "content": "u"}, {"role": "bot", "content": "a"}]},
            GOOD_MSG,
            ":3: field 'messages[1].role': unknown role 'bot' (allowed: system, user, assistant, tool)",
        ),
        (
            {"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]},
            GOOD_MSG,
            ":3: field 'messages': no assistant turn to train on",
        ),
        ({"messages": []}, GOOD_MSG, ":3: field 'messages': is an empty list"),
        ({"messages": "hello"}, GOOD_MSG, ":3: field 'messages': expected a list, got a string"),
        (
            {"messages": [{"role": "user"}, {"role": "assistant", "content": "a"}]},
            GOOD_MSG,
            ":3: field 'messages[0].content': missing",
        ),
        ({"messages": [{"content": "u"}]}, GOOD_MSG, ":3: field 'messages[0].role': missing"),
        (
            {"messages": [{"role": "user", "content": "u"}, {"role": "assistant", "content": " "}]},
            GOOD_MSG,
            ":3: field 'messages[1].content': is empty",
        ),
        (
            {"messages": [{"role": "user", "content": "u"}, {"role": "assistant", "content": 5}]},
            GOOD_MSG,
            ":3: field 'messages[1].content': expected a string, got an integer",
        ),
        (
            {"messages": ["hi", {"role": "assistant", "content": "a"}]},
            GOOD_MSG,
            ":3: field 'messages[0]': expected an object with 'role' and 'content', got a string",
        ),
        (["not", "an", "object"], GOOD_PC, ":3: expected a JSON object, got a list"),
        ({"text": "plain"}, GOOD_PC, ":3: field 'prompt': missing"),
    ],
)
def test_bad_row_names_file_line_and_field(tmp_path, bad, good, expected):
    path = jsonl_with(tmp_path, bad, good)
    assert expected in load_error(path)


def test_malformed_json_line(tmp_path):
    path = lines_file(tmp_path, json.dumps(GOOD_PC), '{"prompt": "p", "completion": "c"', json.dumps(GOOD_PC))
    assert load_error(path).startswith(f"{path}:2: not valid JSON (Expecting ',' delimiter")


def test_malformed_json_array_names_line(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('[\n{"prompt": "p", "completion": "c"},\n{"prompt": "p" "completion": "c"}\n]\n', encoding="utf-8")
    assert load_error(path).startswith(f"{path}:3: not valid JSON")


def test_invalid_utf8_names_line(tmp_path):
    path = tmp_path / "bytes.jsonl"
    path.write_bytes(b'{"prompt": "p", "completion": "c"}\n{"prompt": "p\xff\xfe", "completion": "c"}\n')
    assert load_error(path) == f"{path}:2: not valid UTF-8 (byte 0xff at column 14)"


def test_invalid_utf8_in_json_array_names_line(tmp_path):
    path = tmp_path / "bytes.json"
    path.write_bytes(b'[\n{"prompt": "p", "completion": "c"},\n{"prompt": "\xc3(", "completion": "c"}\n]')
    assert load_error(path) == f"{path}:3: not valid UTF-8 (byte 0xc3)"


def test_mixed_schemas(tmp_path):
    path = jsonl_with(tmp_path, GOOD_REASONING)
    message = load_error(path)
    assert message.startswith(f"{path}:3: field 'prompt': missing: this row is reasoning (question, solution)")
    assert "line 1 is prompt_completion" in message and "mixed schemas" in message


def test_mixed_plain_and_conversational_prompts(tmp_path):
    conv = {"prompt": [{"role": "user", "content": "u"}], "completion": [{"role": "assistant", "content": "a"}]}
    path = lines_file(tmp_path, json.dumps(GOOD_PC), json.dumps(conv))
    assert "bad.jsonl:2: field 'prompt': expected a string like line 1 (mixed schemas)" in load_error(path)


def test_mixed_schemas_in_parquet_with_union_columns(tmp_path, writers):
    rows = [
        {**GOOD_PC, "question": None, "solution": None},
        {"prompt": None, "completion": None, "question": "q", "solution": "s"},
    ]
    path = writers["data.parquet"](tmp_path / "mixed.parquet", rows)
    assert load_error(path).startswith(f"{path}: row 1: field 'prompt': missing: this row is reasoning")


def test_unknown_record_format(tmp_path):
    path = lines_file(tmp_path, json.dumps({"text": "hi", "label": 1}))
    assert load_error(path) == (
        f"{path}:1: no known record format: expected prompt/completion, messages, or question/solution "
        "(fields found: label, text)"
    )


@pytest.mark.parametrize("content", [b"", b"\n\n  \r\n", b"\xef\xbb\xbf"])
def test_empty_file(tmp_path, content):
    path = tmp_path / "empty.jsonl"
    path.write_bytes(content)
    assert load_error(path) == f"{path}: no records (the data set is empty)"


def test_empty_json_array(tmp_path, writers):
    assert load_error(writers["data.json"](tmp_path / "e.json", [])).endswith(": no records (the data set is empty)")


def test_missing_path(tmp_path):
    path = tmp_path / "missing.jsonl"
    assert load_error(path) == f"{path}: file not found"


def test_unsupported_file_type(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("prompt,completion\np,c\n")
    assert load_error(path) == f"{path}: unsupported file type '.csv' (use .jsonl, .json or .parquet)"


def test_folder_that_is_not_a_saved_dataset(tmp_path):
    assert load_error(tmp_path) == f"{tmp_path}: folder is not a data set written by datasets' save_to_disk"


def test_damaged_parquet(tmp_path):
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"PAR1 definitely not parquet")
    assert load_error(path).startswith(f"{path}: not a readable parquet file")


@pytest.mark.parametrize("name", ["data.json", "data.parquet", "saved"])
def test_table_sources_name_the_row(tmp_path, writers, name):
    rows = [GOOD_PC, GOOD_PC, {"prompt": "p", "completion": "  "}]
    path = writers[name](tmp_path / name, rows)
    with pytest.raises(DataError) as info:
        load_sft_data(str(path))
    assert str(info.value) == f"{path}: row 2: field 'completion': is empty"
    assert (info.value.path, info.value.line, info.value.field) == (str(path), 2, "completion")


def test_data_errors_are_sftlab_errors(tmp_path):
    with pytest.raises(SftlabError):
        load_sft_data(str(tmp_path / "nope.jsonl"))
