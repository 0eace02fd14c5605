"""The three record formats: detection and validation of every row.

- ``prompt_completion``: ``{"prompt": str, "completion": str}``, or both given
  as message lists (TRL's conversational prompt-completion);
- ``messages``: ``{"messages": [{"role": ..., "content": ...}, ...]}``, with at
  least one assistant turn;
- ``reasoning``: ``{"question": str, "solution": str, "answer"?: str|int|float}``;
  a missing answer is extracted from the solution (``None`` when it cannot be).

A row's format is the one whose required fields it holds. Row 1 fixes the
format of the data set; every row must share it. Extra fields are kept.
"""

from __future__ import annotations

from dataclasses import dataclass

from sftlab.errors import DataError

REQUIRED = {
    "messages": ("messages",),
    "prompt_completion": ("prompt", "completion"),
    "reasoning": ("question", "solution"),
}
ROLES = ("system", "user", "assistant", "tool")


@dataclass
class SFTData:
    """Validated records of one data source.

    ``records`` keep every original field plus ``_row``: the 1-based line of a
    line-based file, or the 0-based row index of a table (``row_unit`` says
    which, for error messages).
    """

    source: str
    format: str
    records: list[dict]
    row_unit: str = "line"

    def error(self, record: dict, message: str, field: str | None = None) -> DataError:
        """A :class:`DataError` located at ``record``'s line or row."""
        return row_error(self.source, self.row_unit, record["_row"], message, field)


def row_error(source: str, unit: str, row: int, message: str, field: str | None = None) -> DataError:
    """``source:LINE: ...`` for line-based files, ``source: row N: ...`` for tables."""
    if unit == "line":
        return DataError(source, message, line=row, field=field)
    err = DataError(f"{source}: row {row}", message, field=field)
    err.path, err.line = source, row
    return err


def validate_rows(source: str, rows: list[tuple[int, object]], unit: str) -> SFTData:
    """Check every ``(row number, value)`` pair and return the records with ``_row`` added."""
    fmt, first_row = None, None
    records = []
    for row, value in rows:
        err = lambda message, field=None, row=row: row_error(source, unit, row, message, field)  # noqa: E731
        if not isinstance(value, dict):
            raise err(f"expected a JSON object, got {_type_name(value)}")
        if fmt is None:
            fmt, first_row = _detect(value, err), row
        elif not _complete(value, fmt):
            other = next((f for f in REQUIRED if _complete(value, f)), None)
            if other is not None:
                missing = next(k for k in REQUIRED[fmt] if value.get(k) is None)
                raise err(
                    f"missing: this row is {other} ({', '.join(REQUIRED[other])}) but {unit} {first_row} "
                    f"is {fmt} ({', '.join(REQUIRED[fmt])}); all rows must share one format (mixed schemas)",
                    missing,
                )
        record = dict(value)
        CHECKS[fmt](record, err)
        if fmt == "prompt_completion" and records:
            _check_same_kind(record, records[0], err, unit, first_row)
        record["_row"] = row
        records.append(record)
    return SFTData(source=source, format=fmt, records=records, row_unit=unit)


def _complete(row: dict, fmt: str) -> bool:
    return all(row.get(k) is not None for k in REQUIRED[fmt])


def _detect(row: dict, err) -> str:
    for fmt in REQUIRED:  # priority order: messages, prompt_completion, reasoning
        if _complete(row, fmt):
            return fmt
    for fmt, keys in REQUIRED.items():  # partial: the validator names the missing field
        if any(k in row for k in keys):
            return fmt
    found = ", ".join(sorted(row)) or "none"
    raise err(
        f"no known record format: expected prompt/completion, messages, or question/solution (fields found: {found})"
    )


def _require(record: dict, key: str, err, kinds=(str,), nonempty: bool = True):
    if key not in record:
        raise err("missing", key)
    value = record[key]
    if value is None:
        raise err("is null", key)
    if not isinstance(value, kinds) or isinstance(value, bool):
        expected = " or ".join(_KIND_NAMES[k] for k in kinds)
        raise err(f"expected {expected}, got {_type_name(value)} ({_short(value)})", key)
    if nonempty and isinstance(value, str) and not value.strip():
        raise err("is empty", key)
    return value


def _check_prompt_completion(record: dict, err) -> None:
    prompt = _require(record, "prompt", err, (str, list), nonempty=False)
    completion = _require(record, "completion", err, (str, list))
    if isinstance(prompt, list) != isinstance(completion, list):
        raise err("must be a message list when 'prompt' is one (and a string when it is a string)", "completion")
    if isinstance(prompt, list):
        _check_messages(prompt, err, "prompt")
        _check_messages(completion, err, "completion")
        if not any(m["role"] == "assistant" for m in completion):
            raise err("no assistant turn to train on", "completion")


def _check_messages_record(record: dict, err) -> None:
    messages = _require(record, "messages", err, (list,))
    _check_messages(messages, err, "messages")
    if not any(m["role"] == "assistant" for m in messages):
        raise err("no assistant turn to train on", "messages")


def _check_messages(messages: list, err, name: str) -> None:
    if not messages:
        raise err("is an empty list", name)
    for i, message in enumerate(messages):
        where = f"{name}[{i}]"
        if not isinstance(message, dict):
            raise err(f"expected an object with 'role' and 'content', got {_type_name(message)}", where)
        role = _require(message, "role", lambda m, f, where=where: err(m, f"{where}.{f}"))
        if role not in ROLES:
            raise err(f"unknown role '{role}' (allowed: {', '.join(ROLES)})", f"{where}.role")
        content_err = lambda m, f, where=where: err(m, f"{where}.{f}")  # noqa: E731
        if role == "assistant" and message.get("tool_calls"):  # a pure tool call may carry no text
            if message.get("content") is not None:
                _require(message, "content", content_err, nonempty=False)
            continue
        _require(message, "content", content_err, nonempty=role == "assistant")


def _check_reasoning(record: dict, err) -> None:
    _require(record, "question", err)
    solution = _require(record, "solution", err)
    if record.get("answer") is None:
        from sftlab.verify import extract_answer

        record["answer"] = extract_answer(solution, strict=True)  # a reference only from a stated answer
        return
    answer = _require(record, "answer", err, (str, int, float))
    record["answer"] = answer if isinstance(answer, str) else str(answer)


def _check_same_kind(record: dict, first: dict, err, unit: str, first_row: int) -> None:
    if isinstance(record["prompt"], list) != isinstance(first["prompt"], list):
        kind = "a message list" if isinstance(first["prompt"], list) else "a string"
        raise err(f"expected {kind} like {unit} {first_row} (mixed schemas)", "prompt")


CHECKS = {
    "prompt_completion": _check_prompt_completion,
    "messages": _check_messages_record,
    "reasoning": _check_reasoning,
}
_KIND_NAMES = {str: "a string", list: "a list", int: "an integer", float: "a number", dict: "an object"}


def _type_name(value) -> str:
    return {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        type(None): "null",
    }.get(type(value), type(value).__name__)


def _short(value, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
