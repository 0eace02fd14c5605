"""User-facing errors.

The CLI prints ``str(error)`` as one line and exits with status 2, with no
traceback. Anything else that escapes is a bug and keeps its traceback.
"""

from __future__ import annotations


class SftlabError(Exception):
    """An error caused by the user's input or environment, explained in one line."""

    exit_code = 2


class DataError(SftlabError):
    """Bad input data, located by file, line (or row) and field.

    >>> str(DataError("d.jsonl", "must be a non-empty string", line=3, field="completion"))
    "d.jsonl:3: field 'completion': must be a non-empty string"
    """

    def __init__(self, path: str, message: str, *, line: int | None = None, field: str | None = None):
        self.path, self.line, self.field, self.message = str(path), line, field, message
        where = self.path if line is None else f"{self.path}:{line}"
        what = f"field '{field}': " if field else ""
        super().__init__(f"{where}: {what}{message}")
