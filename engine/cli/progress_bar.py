"""A one-line text progress bar for the CLI."""
from __future__ import annotations

from typing import TextIO

from engine.storage.sizes import format_seconds
from engine.training.events import Progress


class ProgressBar:
    def __init__(self, stream: TextIO, width: int = 30) -> None:
        self.stream, self.width = stream, width
        self.interactive = stream.isatty()
        self._last_percent = -1

    def update(self, event: Progress) -> None:
        filled = int(event.fraction * self.width)
        losses = " ".join(f"{k} {v:.3f}" for k, v in event.losses.items() if not k.startswith("D("))
        line = (f"[{'#' * filled}{'.' * (self.width - filled)}] {event.fraction:4.0%} "
                f"step {event.step} | {losses} | {event.images_per_second:.0f} img/s "
                f"| ETA {format_seconds(event.eta_seconds)}")
        if self.interactive:
            self.stream.write("\r" + line)
        elif int(event.fraction * 10) != self._last_percent:  # logs: a line every 10%
            self._last_percent = int(event.fraction * 10)
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.interactive:
            self.stream.write("\n")
            self.stream.flush()
