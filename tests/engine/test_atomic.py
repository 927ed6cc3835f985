"""engine.storage.atomic: a failed write never leaves a half-written file or a temp file."""
from __future__ import annotations

import json

import pytest

from engine.storage.atomic import atomic_write, atomic_write_bytes, atomic_write_json


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


# -- only a regular file (or nothing) is ever replaced (issue 22, item 6) ---------------
def _special_files(tmp_path):
    """(name, path) of each kind of non-regular file this machine lets us make."""
    import os
    import socket
    import stat

    made = []
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    made.append(("named pipe", fifo))
    folder = tmp_path / "folder"
    folder.mkdir()
    made.append(("folder", folder))
    sock_path = tmp_path / "sock"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(sock_path))
    sock.close()
    made.append(("socket", sock_path))
    link = tmp_path / "link-to-pipe"
    link.symlink_to(fifo)
    made.append(("named pipe", link))
    try:   # like /dev/null; only root may make one
        node = tmp_path / "null"
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))
        made.append(("character device", node))
    except (PermissionError, OSError):
        pass
    return made


def test_a_device_fifo_socket_folder_or_link_to_one_is_never_replaced(tmp_path):
    import stat

    from engine.storage.atomic import NotARegularFile

    for kind, path in _special_files(tmp_path):
        before = path.lstat()
        with pytest.raises(NotARegularFile) as caught:
            atomic_write_bytes(path, b"\x89PNG not for a device")
        # One line naming the file and what it is, for the callers' "cannot write" message.
        assert caught.value.filename == str(path) and kind in caught.value.strerror
        after = path.lstat()
        assert (after.st_ino, stat.S_IFMT(after.st_mode)) == (before.st_ino,
                                                               stat.S_IFMT(before.st_mode))
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_refused_target_is_refused_before_the_write_runs(tmp_path):
    import os

    from engine.storage.atomic import NotARegularFile

    os.mkfifo(tmp_path / "pipe")
    called = []
    with pytest.raises(NotARegularFile):
        atomic_write(tmp_path / "pipe", called.append)
    assert called == []   # no costly encode for a write that cannot land


def test_a_link_to_a_regular_file_and_a_dangling_link_are_still_written(tmp_path):
    (tmp_path / "real.txt").write_text("old")
    (tmp_path / "link.txt").symlink_to(tmp_path / "real.txt")
    atomic_write_bytes(tmp_path / "link.txt", b"new")
    assert (tmp_path / "link.txt").read_bytes() == b"new"
    (tmp_path / "dangling.txt").symlink_to(tmp_path / "nowhere")
    atomic_write_bytes(tmp_path / "dangling.txt", b"x")
    assert (tmp_path / "dangling.txt").read_bytes() == b"x"
