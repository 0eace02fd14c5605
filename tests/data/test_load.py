"""Loading: every format from every local source, the accepted oddities, the hub path."""

from __future__ import annotations

import pytest

from sftlab.data import SFTData, load_sft_data
from sftlab.errors import DataError, SftlabError

PC = [
    {"prompt": "What is 2+3?", "completion": " 5", "split": "test"},
    {"prompt": "What is 3+4?", "completion": " 7", "split": "ood"},
]
MESSAGES = [
    {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "What is 2+3?"},
            {"role": "assistant", "content": "5"},
        ]
    },
    {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]},
]
REASONING = [
    {"question": "2+3?", "solution": "2+3=5. The answer is 5.", "answer": "5", "family": "add"},
    {"question": "3*4?", "solution": "3*4=12. The answer is 12.", "answer": "12", "family": "mul"},
]
CASES = {"prompt_completion": PC, "messages": MESSAGES, "reasoning": REASONING}
SOURCES = ["data.jsonl", "data.json", "data.parquet", "saved"]


@pytest.mark.parametrize("name", SOURCES)
@pytest.mark.parametrize("fmt", list(CASES))
def test_each_format_loads_from_each_source(tmp_path, writers, fmt, name):
    rows = CASES[fmt]
    path = writers[name](tmp_path / name, rows)
    data = load_sft_data(str(path))
    assert isinstance(data, SFTData)
    assert data.format == fmt and data.source == str(path)
    assert len(data.records) == len(rows)
    for record, row in zip(data.records, rows):
        # every original field kept (parquet may add nulls for absent struct keys)
        for key, value in row.items():
            if key == "messages":
                assert [(m["role"], m["content"]) for m in record[key]] == [(m["role"], m["content"]) for m in value]
            else:
                assert record[key] == value
    expected_rows = [1, 2] if name == "data.jsonl" else [0, 1]
    assert [r["_row"] for r in data.records] == expected_rows


def test_json_file_may_hold_json_lines(tmp_path, writers):
    path = writers["data.jsonl"](tmp_path / "lines.json", PC)
    data = load_sft_data(str(path))
    assert [r["_row"] for r in data.records] == [1, 2] and data.format == "prompt_completion"


def test_json_file_may_hold_one_pretty_printed_record(tmp_path):
    path = tmp_path / "one.json"
    path.write_text('{\n  "prompt": "p",\n  "completion": "c"\n}\n', encoding="utf-8")
    assert load_sft_data(str(path)).records == [{"prompt": "p", "completion": "c", "_row": 1}]


def test_accepted_oddities_bom_crlf_blank_lines_unicode_extra_fields(tmp_path):
    path = tmp_path / "odd.jsonl"
    lines = [
        '{"prompt": "Ünïcödé ☃ 你好?", "completion": " ответ 42", "id": 7, "meta": {"src": "x"}}',
        "",
        "   ",
        '{"prompt": "second", "completion": " two"}',
        "",
    ]
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode("utf-8"))
    data = load_sft_data(str(path))
    assert [r["_row"] for r in data.records] == [1, 4]
    first = data.records[0]
    assert first["prompt"] == "Ünïcödé ☃ 你好?" and first["completion"] == " ответ 42"
    assert first["id"] == 7 and first["meta"] == {"src": "x"}


def test_bom_in_json_array(tmp_path):
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf[\r\n" + b'{"prompt": "a", "completion": "b"}\r\n]\r\n')
    assert load_sft_data(str(path)).records == [{"prompt": "a", "completion": "b", "_row": 0}]


def test_reasoning_numeric_answer_is_stored_as_string(tmp_path, writers):
    rows = [{"question": "q", "solution": "s", "answer": 12}, {"question": "q", "solution": "s", "answer": 0.5}]
    data = load_sft_data(str(writers["data.jsonl"](tmp_path / "r.jsonl", rows)))
    assert [r["answer"] for r in data.records] == ["12", "0.5"]


def test_reasoning_answer_extracted_when_absent(tmp_path, writers, extract_answer):
    rows = [
        {"question": "q1", "solution": "3+4=7\n#### 7"},
        {"question": "q2", "solution": "so it is \\boxed{12}."},
        {"question": "q3", "solution": "no final answer stated here"},
        {"question": "q4", "solution": "The answer is 9.", "answer": None},
    ]
    data = load_sft_data(str(writers["data.jsonl"](tmp_path / "r.jsonl", rows)))
    assert [r["answer"] for r in data.records] == ["7", "12", None, "9"]


def test_saved_dataset_dict_split(tmp_path):
    import datasets

    datasets.DatasetDict(
        {"train": datasets.Dataset.from_list(PC), "test": datasets.Dataset.from_list(PC[:1])}
    ).save_to_disk(str(tmp_path / "dd"))
    assert len(load_sft_data(str(tmp_path / "dd")).records) == 2  # default: train
    assert len(load_sft_data(str(tmp_path / "dd"), split="test").records) == 1
    assert len(load_sft_data(f"{tmp_path / 'dd'}:test").records) == 1
    with pytest.raises(DataError, match=r"dd: no split 'valid' \(splits: train, test\); pick one as 'folder:split'"):
        load_sft_data(str(tmp_path / "dd"), split="valid")


def test_saved_dataset_dict_without_train_needs_split(tmp_path, writers):
    writers["saved"](tmp_path / "only_test", PC, split="test")
    with pytest.raises(DataError, match="no split 'train'"):
        load_sft_data(str(tmp_path / "only_test"))


def test_hub_id_goes_through_load_dataset(monkeypatch):
    import datasets

    calls = []

    def fake_load_dataset(name, split=None):
        calls.append((name, split))
        return datasets.Dataset.from_list(REASONING)

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    data = load_sft_data("org/math-set:test")
    assert calls == [("org/math-set", "test")]
    assert data.format == "reasoning" and data.row_unit == "row" and data.records[1]["_row"] == 1
    load_sft_data("org/math-set", split="validation")
    load_sft_data("math-set")
    assert calls[1:] == [("org/math-set", "validation"), ("math-set", "train")]


def test_hub_failure_is_one_clear_error(monkeypatch):
    import datasets

    def offline(name, split=None):
        raise ConnectionError("Couldn't reach 'org/missing' on the Hub (LocalEntryNotFoundError)\nmore detail")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(SftlabError) as info:
        load_sft_data("org/missing:train")
    message = str(info.value)
    assert message.startswith("org/missing:train: not a local file or folder, and loading it from the Hugging Face")
    assert "Couldn't reach" in message and "\n" not in message


def test_hub_loader_not_called_for_local_looking_paths(tmp_path, monkeypatch):
    import datasets

    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: pytest.fail("hub must not be queried"))
    for source in (str(tmp_path / "nope.jsonl"), "data/train.parquet", "./x", "a/b/c"):
        with pytest.raises(DataError, match=r": file not found$"):
            load_sft_data(source)
