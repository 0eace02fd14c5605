"""Read a data source into plain rows, each located by its line or row.

Sources: a local ``.jsonl`` file, a ``.json`` file (an array of objects, or
JSON lines), a ``.parquet`` file, a folder written by ``datasets``'
``save_to_disk`` (``folder[:split]``), or a hub id ``name[:split]``. Rows from line-based files are
numbered by their 1-based line; rows from tables (JSON arrays, parquet,
datasets) by their 0-based index, as ``datasets`` indexes them.
:func:`load_sft_data` then validates every row (:mod:`sftlab.data.formats`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from sftlab.errors import DataError, SftlabError

from .formats import SFTData, validate_rows

LOCAL_SUFFIXES = (".jsonl", ".json", ".parquet")
# "name", "org/name", optionally ":split" (a split may carry a slice, "train[:100]").
_HUB_ID = re.compile(r"^[\w.-]+(/[\w.-]+)?(:\S+)?$")


def load_sft_data(source: str, *, split: str | None = None) -> SFTData:
    """Load ``source``, detect its record format and validate every row.

    ``split`` picks a split of a saved ``DatasetDict`` or of a hub data set
    (default ``"train"``); a ``:split`` suffix on the source (``"saved_dir:test"``,
    ``"org/name:test"``) wins over it.
    Raises :class:`~sftlab.errors.DataError` (file, line or row, field) on the
    first bad row, and :class:`~sftlab.errors.SftlabError` when the source
    cannot be read at all.
    """
    source = str(source)
    path = Path(source).expanduser()
    folder, _, folder_split = source.rpartition(":")
    if not path.exists() and folder and folder_split and Path(folder).expanduser().is_dir():
        path, split = Path(folder).expanduser(), folder_split  # "saved_dir:split"
    if path.is_dir():
        rows, unit = _read_saved_dataset(path, source, split), "row"
    elif path.is_file():
        rows, unit = _read_file(path, source)
    elif _looks_like_path(source) or not _HUB_ID.match(source):
        raise DataError(source, "file not found")
    else:
        rows, unit = _read_hub(source, split), "row"
    if not rows:
        raise DataError(source, "no records (the data set is empty)")
    return validate_rows(source, rows, unit)


def _looks_like_path(source: str) -> bool:
    return (
        source.lower().endswith(LOCAL_SUFFIXES)
        or source.startswith((".", "/", "~"))
        or "\\" in source
        or Path(source).is_absolute()
    )


def _read_file(path: Path, source: str) -> tuple[list[tuple[int, object]], str]:
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return _read_parquet(path, source), "row"
    if suffix not in (".jsonl", ".json"):
        raise DataError(source, f"unsupported file type '{suffix or path.name}' (use .jsonl, .json or .parquet)")
    data = path.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):  # UTF-8 BOM
        data = data[3:]
    if suffix == ".json" and data.lstrip().startswith(b"["):
        return _read_json_array(data, source), "row"
    if suffix == ".json":  # one record, possibly spread over several lines
        try:
            record = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            pass  # JSON lines, or an error the line reader locates
        else:
            return [(1, record)], "line"
    return _read_json_lines(data, source), "line"


def _read_json_lines(data: bytes, source: str) -> list[tuple[int, object]]:
    rows = []
    for lineno, raw in enumerate(data.split(b"\n"), start=1):
        text = _decode(raw, source, lineno)
        if not text.strip():  # blank lines (and a trailing newline) are fine
            continue
        try:
            rows.append((lineno, json.loads(text)))
        except json.JSONDecodeError as e:
            raise DataError(source, f"not valid JSON ({e.msg} at column {e.colno})", line=lineno) from None
    return rows


def _read_json_array(data: bytes, source: str) -> list[tuple[int, object]]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise DataError(source, f"not valid UTF-8 (byte 0x{data[e.start]:02x})", line=line) from None
    try:
        array = json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(source, f"not valid JSON ({e.msg} at column {e.colno})", line=e.lineno) from None
    return list(enumerate(array))


def _decode(raw: bytes, source: str, lineno: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataError(
            source, f"not valid UTF-8 (byte 0x{raw[e.start]:02x} at column {e.start + 1})", line=lineno
        ) from None


def _read_parquet(path: Path, source: str) -> list[tuple[int, object]]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as e:  # pyarrow raises several kinds for a damaged file
        raise DataError(source, f"not a readable parquet file ({e})") from None
    return list(enumerate(table.to_pylist()))


def _read_saved_dataset(path: Path, source: str, split: str | None) -> list[tuple[int, object]]:
    import datasets

    if not any((path / name).is_file() for name in ("dataset_dict.json", "state.json")):
        raise DataError(source, "folder is not a data set written by datasets' save_to_disk")
    try:
        ds = datasets.load_from_disk(str(path))
    except Exception as e:
        raise DataError(source, f"cannot load the saved data set ({e})") from None
    if isinstance(ds, datasets.DatasetDict):
        name = split or "train"
        if name not in ds:
            raise DataError(source, f"no split '{name}' (splits: {', '.join(ds)}); pick one as 'folder:split'")
        ds = ds[name]
    return list(enumerate(ds.to_list()))


def _read_hub(source: str, split: str | None) -> list[tuple[int, object]]:
    import datasets

    name, _, id_split = source.partition(":")
    split = id_split or split or "train"
    try:
        ds = datasets.load_dataset(name, split=split)
    except Exception as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise SftlabError(
            f"{source}: not a local file or folder, and loading it from the Hugging Face hub failed ({reason})"
        ) from None
    return list(enumerate(ds.to_list()))
