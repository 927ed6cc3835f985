"""Reading JSON that a person, a sync tool or an attacker may have written.

Python's json module recurses once per nesting level, so a file nested a few
thousand deep raises RecursionError (and one nested just under the limit can
raise it later, in whatever code walks the value). Everything the app reads
from disk or from a file's metadata goes through here instead: nesting and size
are bounded, only regular files are opened (a FIFO would block forever, a
device could be endless), and every failure is a ValueError or OSError subclass
whose message names what is wrong, so callers keep their existing handlers.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

# Deeper than anything the app writes (config.json is about 4 levels deep),
# far below Python's recursion limit.
MAX_DEPTH = 64
# config.json with a long history, manifest.json, trainer.json: a few kB each.
MAX_FILE_BYTES = 16 * 1024 * 1024

# The characters that change nesting, or start/end a string or an escape.
_STRUCTURE = re.compile(r'[\[\]{}"\\]')


class JsonTooDeepError(ValueError):
    """Nested deeper than MAX_DEPTH."""


class NotARegularFileError(OSError):
    """A FIFO, device, socket or folder where a file was expected."""


class FolderNotFileError(NotARegularFileError, IsADirectoryError):
    """A folder where a file was expected (both kinds of error, for either handler)."""


@contextlib.contextmanager
def open_regular(path: str | Path) -> Iterator[tuple[BinaryIO, os.stat_result]]:
    """A regular file opened for binary reading, with its stat.

    Opened without blocking, so a FIFO or a device in a file's place is refused
    at once (NotARegularFileError; FolderNotFileError for a folder) instead of
    hanging the caller. FileNotFoundError passes through.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise FolderNotFileError("a folder")
        if not stat.S_ISREG(info.st_mode):
            raise NotARegularFileError("not a regular file")
        with os.fdopen(fd, "rb", closefd=False) as f:
            yield f, info
    finally:
        os.close(fd)


def is_whole_number(value: object) -> bool:
    """An int that is not a bool: JSON's true is a Python int too, and a step,
    seed or count of `true` must be refused, not read as 1."""
    return isinstance(value, int) and not isinstance(value, bool)


def nesting_depth(text: str | bytes) -> int:
    """The deepest nesting of [ and { in JSON text, outside strings."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    depth = deepest = 0
    in_string = False
    escaped_at = -1   # inside a string, a backslash escapes the one character after it
    for match in _STRUCTURE.finditer(text):
        char, at = match.group(), match.start()
        if in_string:
            if at == escaped_at:
                continue
            if char == "\\":
                escaped_at = at + 1
            elif char == '"':
                in_string = False
            continue
        if char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def loads(text: str | bytes, max_depth: int = MAX_DEPTH) -> Any:
    """json.loads, refusing nesting deeper than `max_depth` before parsing."""
    depth = nesting_depth(text)
    if depth > max_depth:
        raise JsonTooDeepError(f"nested {depth} levels deep (at most {max_depth} allowed)")
    try:
        return json.loads(text)
    except RecursionError:   # unreachable with a sane max_depth; kept as a guard
        raise JsonTooDeepError("nested too deeply") from None


def read_regular_bytes(path: str | Path, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of a regular file of at most `max_bytes`.

    Opened without blocking, so a FIFO or a device in a file's place is refused
    at once instead of hanging the caller. FileNotFoundError passes through.
    """
    with open_regular(path) as (f, info):
        if info.st_size > max_bytes:
            raise OSError(f"{info.st_size:,} bytes, more than the {max_bytes:,} allowed")
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise OSError(f"more than the {max_bytes:,} bytes allowed")
    return data


def read_text(path: str | Path, max_bytes: int = MAX_FILE_BYTES) -> str:
    """A regular file's UTF-8 text (see read_regular_bytes); bad UTF-8 is a ValueError."""
    return read_regular_bytes(path, max_bytes).decode("utf-8")


def read_json(path: str | Path, max_bytes: int = MAX_FILE_BYTES,
              max_depth: int = MAX_DEPTH) -> Any:
    """The JSON value of a regular file, bounded in size and depth.

    Raises FileNotFoundError, OSError (unreadable, not a regular file, too large)
    or ValueError (not UTF-8, not JSON, too deep); the caller names the file.
    """
    return loads(read_text(path, max_bytes), max_depth)


__all__ = ["MAX_DEPTH", "MAX_FILE_BYTES", "JsonTooDeepError", "NotARegularFileError",
           "loads", "nesting_depth", "read_json", "read_regular_bytes", "read_text"]
