"""Measures how long the GUI event loop goes without running (its worst stall).

A timer asks to fire every `interval_ms`; any gap beyond that is time the
event loop could not respond to the user. Used by tests and benchmarks.
"""
from __future__ import annotations

import time

from PySide6.QtCore import QObject, Qt, QTimer


class StallProbe(QObject):
    def __init__(self, interval_ms: int = 10, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.interval_ms = interval_ms
        self.gaps_ms: list[float] = []
        self._last: float | None = None
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)

    def start(self) -> None:
        self.gaps_ms.clear()
        self._last = time.perf_counter()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def _tick(self) -> None:
        now = time.perf_counter()
        if self._last is not None:
            self.gaps_ms.append((now - self._last) * 1000)
        self._last = now

    @property
    def worst_stall_ms(self) -> float:
        """Longest time between ticks beyond the timer's own interval."""
        return max((g - self.interval_ms for g in self.gaps_ms), default=0.0)

    def percentile_ms(self, q: float) -> float:
        if not self.gaps_ms:
            return 0.0
        ordered = sorted(self.gaps_ms)
        return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]
