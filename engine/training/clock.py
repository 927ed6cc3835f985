"""The run's clock: training time since the run began, pauses left out."""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class RunClock:
    """Seconds since the run started, pauses excluded. Sampling, saving and
    evaluating count: a time budget is wall-clock time the user waits. A resumed
    run starts at the elapsed time its checkpoint recorded."""

    def __init__(self, start_elapsed: float = 0.0,
                 now: Callable[[], float] = time.perf_counter) -> None:
        self._now = now
        self._started = now() - start_elapsed
        self._paused_seconds = 0.0

    @property
    def elapsed(self) -> float:
        return self._now() - self._started - self._paused_seconds

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Time spent inside does not count as training time."""
        paused_at = self._now()
        try:
            yield
        finally:
            self._paused_seconds += self._now() - paused_at
