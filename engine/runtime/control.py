"""A small, thread-safe token to pause, resume or stop long engine work between steps."""
from __future__ import annotations

import threading


class RunControl:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()

    def pause(self) -> None:
        with self._lock:
            if not self._stop.is_set():  # a stopped run must never block in pause
                self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def stop(self) -> None:
        with self._lock:
            self._stop.set()
            self._running.set()  # wake a paused run so it can finish and save

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def wait_while_paused(self, timeout: float | None = None) -> bool:
        """Block while paused; True once running (or stopped) again."""
        return self._running.wait(timeout)
