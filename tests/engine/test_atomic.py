"""engine.atomic: a failed write never leaves a half-written file or a temp file."""
from __future__ import annotations

import json

import pytest

from engine.atomic import atomic_write, atomic_write_bytes, atomic_write_json


def test_writes_the_file_and_no_temp(tmp_path):
    target = tmp_path / "out.bin"
    atomic_write(target, lambda tmp: tmp.write_bytes(b"hello"))
    assert target.read_bytes() == b"hello"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_the_write_goes_to_a_temp_file_in_the_same_folder(tmp_path):
    seen = []

    def write(tmp):
        seen.append(tmp)
        tmp.write_bytes(b"x")

    atomic_write(tmp_path / "a.txt", write)
    assert seen[0].parent == tmp_path and seen[0].name != "a.txt"
    assert seen[0].name.startswith(".a.txt.") and seen[0].name.endswith(".tmp")


@pytest.mark.parametrize("error", [RuntimeError("boom"), OSError("disk full"), KeyboardInterrupt()])
def test_failure_keeps_the_old_file_and_removes_the_temp(tmp_path, error):
    target = tmp_path / "config.json"
    target.write_text("old contents")

    def write(tmp):
        tmp.write_text("half of the new con")
        raise error

    with pytest.raises(type(error)):
        atomic_write(target, write)
    assert target.read_text() == "old contents"
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]


def test_failure_before_writing_anything_creates_nothing(tmp_path):
    def write(tmp):
        raise ValueError("bad value")

    with pytest.raises(ValueError):
        atomic_write(tmp_path / "new.txt", write)
    assert list(tmp_path.iterdir()) == []


def test_missing_folder_raises_and_leaves_nothing(tmp_path):
    with pytest.raises(FileNotFoundError):
        atomic_write_bytes(tmp_path / "missing" / "x.bin", b"data")
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_bytes_overwrites(tmp_path):
    target = tmp_path / "x.bin"
    atomic_write_bytes(target, b"one")
    atomic_write_bytes(target, b"two")
    assert target.read_bytes() == b"two"


def test_atomic_write_json(tmp_path):
    target = tmp_path / "x.json"
    atomic_write_json(str(target), {"b": 1, "a": [1, 2]})
    text = target.read_text()
    assert text.endswith("\n") and text.index('"a"') < text.index('"b"')
    assert json.loads(text) == {"a": [1, 2], "b": 1}


def test_unserialisable_json_keeps_the_old_file(tmp_path):
    target = tmp_path / "x.json"
    atomic_write_json(target, {"ok": True})
    with pytest.raises(TypeError):
        atomic_write_json(target, {"bad": object()})
    assert json.loads(target.read_text()) == {"ok": True}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_written_files_get_normal_permissions(tmp_path):
    import os
    old_umask = os.umask(0o022)
    try:
        atomic_write_bytes(tmp_path / "new.png", b"x")
        existing = tmp_path / "shared.png"
        existing.write_bytes(b"old")
        existing.chmod(0o644)
        atomic_write_bytes(existing, b"new")
    finally:
        os.umask(old_umask)
    assert (tmp_path / "new.png").stat().st_mode & 0o777 == 0o644
    assert existing.stat().st_mode & 0o777 == 0o644
