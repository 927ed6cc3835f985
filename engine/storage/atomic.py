"""Writing files so that a crash mid-write never leaves a half-written file.

Each write goes to a temporary file in the same folder, is flushed and
fsynced, then renamed over the target (rename is atomic on one file system).
"""
from __future__ import annotations

import errno
import functools
import json
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


class NotARegularFile(OSError):
    """The target exists and is not a regular file (a device, FIFO, socket or
    folder, or a link to one): replacing it would destroy something that is no
    file of ours, so it is refused. An OSError, so every caller that reports
    `cannot write PATH: REASON` already turns it into one line."""


_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
          (stat.S_ISSOCK, "a socket"))


def check_replaceable(path: str | Path) -> None:
    """Raise NotARegularFile unless `path` is a regular file (or a link to one)
    or does not exist yet."""
    try:
        mode = os.stat(path).st_mode   # follows links: a link to /dev/full is refused too
    except FileNotFoundError:
        return   # nothing there (or a dangling link): the rename creates the file
    if stat.S_ISREG(mode):
        return
    kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
    raise NotARegularFile(errno.EEXIST, f"it is {kind}, not a regular file; "
                          "choose a file name to write to", str(path))


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> None:
    """Call write(tmp_path), then move tmp_path over path atomically.

    Only a regular file (or nothing) is ever replaced: see check_replaceable."""
    path = Path(path)
    check_replaceable(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        # mkstemp makes owner-only files; give the result the mode a plain
        # open() would (or the mode of the file it replaces).
        os.chmod(tmp, path.stat().st_mode & 0o7777 if path.exists() else 0o666 & ~_umask())
        check_replaceable(path)   # again: the write may have taken long enough for a swap
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@functools.lru_cache(maxsize=1)
def _umask() -> int:
    # The only way to read the umask is to set it; do it once, at first use.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    atomic_write(path, lambda tmp: tmp.write_bytes(data))


def atomic_write_json(path: str | Path, value: Any) -> None:
    atomic_write_bytes(path, (json.dumps(value, indent=2, sort_keys=True) + "\n").encode())
