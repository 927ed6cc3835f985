"""What a preset needs to know about a data set: plain facts (count, channels,
size, labels, sequences), read from a loaded set or the Data page's summary.

Families' preset hooks (engine.models) read these, so they live here, below
both the presets and the models."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.data.sources import ImageSet


@dataclass(frozen=True)
class DataFacts:
    """What a preset needs to know about a data set."""

    count: int
    channels: int
    size: int                 # side of the original pictures (the most common one)
    num_classes: int = 0
    sequences: bool = False

    @classmethod
    def of(cls, data: "ImageSet") -> "DataFacts":
        size = data.size
        report = data.report
        if report is not None and report.original_sizes:
            width, height, _ = report.original_sizes[0]
            size = min(width, height)
        return cls(count=len(data), channels=data.channels, size=size,
                   num_classes=data.num_classes, sequences=data.frames is not None)

    @classmethod
    def of_summary(cls, summary: Any) -> "DataFacts":
        """From an engine.data.summary.DataSummary (what the Data page shows)."""
        size = min(summary.size)
        if summary.original_sizes:
            width, height, _ = summary.original_sizes[0]
            size = min(width, height)
        return cls(count=summary.count, channels=summary.channels, size=size,
                   num_classes=len(summary.class_names), sequences=summary.frames is not None)

    def describe(self) -> str:
        colour = "colour" if self.channels == 3 else "greyscale"
        kind = "sequences" if self.sequences else "images"
        labels = f", {self.num_classes} classes" if self.num_classes else ""
        return f"{self.count:,} {colour} {kind} of {self.size} px{labels}"
