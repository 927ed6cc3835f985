"""What a load used and what it left out, and why: shown by the GUI and the CLI."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any


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

    def skipped_record(self, limit: int = 10) -> dict[str, Any] | None:
        """For a run's config.json: how many files were skipped, and the first `limit`
        with their reasons (the whole list is `latent-atelier-cli data SPEC`'s); None
        when nothing was."""
        if not self.skipped:
            return None
        return {"count": len(self.skipped), "found": self.found,
                "first": [{"path": s.path, "reason": s.reason} for s in self.skipped[:limit]]}

    def skipped_line(self, shown: int = 3) -> str | None:
        """One line naming the count and the first `shown` skipped files with their
        reasons, for the start of training; None when nothing was skipped."""
        if not self.skipped:
            return None
        base = _shared_folder([s.path for s in self.skipped])
        first = "; ".join(f"{os.path.relpath(s.path, base) if base else s.path}: {s.reason}"
                          for s in self.skipped[:shown])
        more = len(self.skipped) - shown
        return (f"{len(self.skipped):,} of {self.found:,} file(s) in {self.source} were skipped "
                f"and are not trained on: {first}" + (f"; and {more:,} more" if more > 0 else "")
                + f" (latent-atelier-cli data {self.source} lists them all)")


def _shared_folder(paths: list[str]) -> str:
    """The folder all `paths` are in, so a line can say "cat/x.png", not the whole
    path each time; "" when they share none."""
    try:
        return os.path.commonpath([os.path.dirname(os.path.abspath(p)) for p in paths])
    except ValueError:   # different drives
        return ""
