"""What a load used and what it left out, and why: shown by the GUI and the CLI."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SkippedFile:
    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass(frozen=True)
class LoadReport:
    """`found` candidate files (or records); `skipped` those not used, each with
    its reason; `original_sizes` the most common (width, height, count) of the
    pictures before decoding; `from_cache` when the decoded set came from the
    cache; `seconds` the whole load."""

    source: str
    found: int
    skipped: tuple[SkippedFile, ...] = ()
    original_sizes: tuple[tuple[int, int, int], ...] = ()
    from_cache: bool = False
    seconds: float = 0.0

    @property
    def loaded(self) -> int:
        return self.found - len(self.skipped)
