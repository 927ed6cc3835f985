"""Text from a file, made safe to show in a terminal.

An exported picture's metadata, a run's config.json or a folder name is written
by whoever made the file. Printed as it is, an escape sequence in it can move
the cursor, rewrite earlier lines, retitle the window or hide text, and a
bidirectional override can make a line read differently from what it holds.
Such characters are shown as visible escapes instead (ESC becomes "\\x1b").
"""
from __future__ import annotations

import re

# C0 controls but tab and newline, DEL, C1 controls, and the Unicode
# bidirectional embeddings, overrides and isolates.
_HIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_HIDDEN_OR_LINE_BREAK = re.compile(f"[\t\n{_HIDDEN.pattern[1:-1]}]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: object, one_line: bool = True) -> str:
    """`text` (str() of any value) with every control character escaped; with
    `one_line`, tabs and line breaks too, so a value cannot start a new line."""
    return (_HIDDEN_OR_LINE_BREAK if one_line else _HIDDEN).sub(_escape, str(text))


__all__ = ["printable"]
