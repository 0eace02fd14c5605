"""Atomic outputs: whole or absent, nothing left behind on failure, and the permissions a plain open would give."""

from __future__ import annotations

import os
import stat

import pytest

from sftlab.io import atomic_dir, atomic_file, atomic_write_json, atomic_write_jsonl, default_mode, read_jsonl


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_files_and_folders_get_the_umask_permissions_not_the_temp_files(tmp_path, umask_022):
    atomic_write_json(tmp_path / "a.json", {"x": 1})
    with atomic_file(tmp_path / "b.bin", "wb") as f:
        f.write(b"\x00")
    with atomic_dir(tmp_path / "d") as d:
        (d / "f.txt").write_text("x")
    assert _mode(tmp_path / "a.json") == _mode(tmp_path / "b.bin") == 0o644 == default_mode()
    assert _mode(tmp_path / "d") == 0o755 == default_mode(directory=True)
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    assert _mode(plain) == _mode(tmp_path / "a.json")


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path):
    target = tmp_path / "rows.jsonl"
    atomic_write_jsonl(target, [{"a": 1}])
    with pytest.raises(RuntimeError):
        with atomic_file(target) as f:
            f.write('{"a": 2}\n')
            raise RuntimeError("interrupted")
    assert read_jsonl(target) == [{"a": 1}]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rows.jsonl"]


def test_a_failed_folder_leaves_the_old_folder(tmp_path):
    with atomic_dir(tmp_path / "d") as d:
        (d / "old").write_text("1")
    with pytest.raises(RuntimeError):
        with atomic_dir(tmp_path / "d") as d:
            (d / "new").write_text("2")
            raise RuntimeError("interrupted")
    assert [p.name for p in (tmp_path / "d").iterdir()] == ["old"]
    assert [p.name for p in tmp_path.iterdir()] == ["d"]
