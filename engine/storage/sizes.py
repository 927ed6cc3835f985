"""Byte counts and durations as people read them, one format for every
message: files, exports, the memory a run or an export needs, and the elapsed
time and ETA that the CLI's progress bar and the Train page show."""
from __future__ import annotations


def human_size(count: float) -> str:
    """1536 -> "1.5 KB"; whole bytes below a KB, GB the largest unit."""
    for unit in ("bytes", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count} bytes"


def format_seconds(seconds: float | None) -> str:
    """75 -> "01:15", 3725 -> "1:02:05"; None (not known yet) -> "--:--"."""
    if seconds is None:
        return "--:--"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"
