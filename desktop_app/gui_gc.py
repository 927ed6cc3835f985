"""Cyclic garbage collection on the GUI thread only.

Python's cycle collector runs in whichever thread happens to allocate. If that
is an engine thread and the garbage holds Qt widgets (a closed window's menus,
say), Qt destroys widgets off the GUI thread, which deadlocks or crashes. So
while the app runs, automatic collection is off and a GUI-thread timer collects
instead, with the same generation thresholds Python would use.
"""
from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer


class GuiThreadGarbageCollector(QObject):
    def __init__(self, interval_ms: int = 1000, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thresholds = gc.get_threshold()
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.collect_if_due)
        self._was_enabled = gc.isenabled()

    def start(self) -> None:
        self._was_enabled = gc.isenabled()
        gc.disable()
        self._timer.start()

    def stop(self) -> None:
        """Collect everything now (on this, the GUI thread) and hand back to Python."""
        self._timer.stop()
        gc.collect()
        if self._was_enabled:
            gc.enable()

    def collect_if_due(self) -> None:
        counts = gc.get_count()
        for generation in (2, 1, 0):  # the oldest due generation includes the younger ones
            if counts[generation] > self._thresholds[generation]:
                gc.collect(generation)
                return
