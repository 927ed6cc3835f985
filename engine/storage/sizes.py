"""Byte counts as people read them, one format for every message: files,
exports and the memory a run or an export needs."""
from __future__ import annotations


def human_size(count: float) -> str:
    """1536 -> "1.5 KB"; whole bytes below a KB, GB the largest unit."""
    for unit in ("bytes", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count} bytes"
