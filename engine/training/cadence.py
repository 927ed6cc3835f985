"""When the trainer reports, draws a sample grid and autosaves."""
from __future__ import annotations

import math

# A sample grid costs at most about this share of a run's time when grids come
# by time (no sample_every).
GRID_TIME_SHARE = 0.1


def seconds_between_grids(elapsed: float, grid_seconds: float) -> float:
    """Training time from one sample grid to the next when no step interval is set.

    Every 2 s at first, then every 5% of the elapsed time, so a time-lapse
    dwells on the early changes and an hour-long run has about 120 frames; but
    never so often that grids take more than GRID_TIME_SHARE of the time: a
    slow sampler's 64-image grid (row-lstm draws pixel row by pixel row) took
    most of a short run before.
    """
    return max(2.0, 0.05 * elapsed, grid_seconds / GRID_TIME_SHARE)


class Cadence:
    """The report window, the last grid and the last save, and what is due next.

    Reports come at most every `report_seconds`; grids every `sample_every`
    steps, or by time (seconds_between_grids); autosaves every
    `autosave_seconds` (0: every step). Evaluations keep their own schedule
    (engine.metrics.during_training.EvalSchedule).
    """

    def __init__(self, report_seconds: float, sample_every: int | None,
                 autosave_seconds: float) -> None:
        self.report_seconds = report_seconds
        self.sample_every = sample_every
        self.autosave_seconds = autosave_seconds
        self.window_start = (0, 0.0)          # (step, elapsed) at the last report
        self.steps_per_second: float | None = None   # smoothed over the reports
        self.last_sample = (-1, -math.inf)    # (step, elapsed) of the last grid
        self.grid_seconds = 0.0               # how long the last grid took to draw
        self.last_save_at = 0.0

    def report_due(self, elapsed: float) -> bool:
        return elapsed - self.window_start[1] >= self.report_seconds

    def window_rate(self, step: int, elapsed: float) -> float:
        """Steps per second since the last report; also updates the smoothed
        rate, which keeps the ETA from jumping with every short window."""
        start_step, start_time = self.window_start
        rate = (step - start_step) / max(elapsed - start_time, 1e-9)
        previous = self.steps_per_second
        self.steps_per_second = rate if previous is None else 0.8 * previous + 0.2 * rate
        return rate

    def reported(self, step: int, elapsed: float) -> None:
        self.window_start = (step, elapsed)

    def leave_out(self, seconds: float) -> None:
        """Keep time that was not training (an evaluation) out of the rate."""
        self.window_start = (self.window_start[0], self.window_start[1] + seconds)

    def sample_due(self, step: int, elapsed: float) -> bool:
        if self.sample_every is not None:
            return step % self.sample_every == 0
        return elapsed - self.last_sample[1] >= seconds_between_grids(elapsed, self.grid_seconds)

    def sampling(self, step: int, elapsed: float) -> None:
        """A grid is drawn now (before drawing: a failed write is not retried every step)."""
        self.last_sample = (step, elapsed)

    @property
    def sampled_step(self) -> int:
        return self.last_sample[0]

    def save_due(self, elapsed: float) -> bool:
        return elapsed - self.last_save_at >= self.autosave_seconds

    def saved(self, elapsed: float) -> None:
        """A save happened, or failed and waits one interval before trying again."""
        self.last_save_at = elapsed
