"""A run's budget: when it ends, how far along it is, and how long it has left."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Budget:
    """Steps for the whole run and/or seconds for this session (the first
    reached wins), counted from where this session started."""

    total_steps: int | None
    seconds: float | None
    start_step: int = 0
    start_elapsed: float = 0.0

    def reason_to_end(self, step: int, elapsed: float, stopped: bool) -> str | None:
        if stopped:
            return "stopped"
        if self.total_steps is not None and step >= self.total_steps:
            return "completed"
        # A session trains at least one step, even when sampling and saving at
        # its start used up a tiny time budget on a busy machine.
        if self.seconds is not None and step > self.start_step and \
                elapsed - self.start_elapsed >= self.seconds:
            return "time budget reached"
        return None

    def spent(self, step: int, elapsed: float) -> float:
        """How much of the budget is spent, for the learning-rate schedule: by
        steps when the run has a step budget (exact on resume), else by this
        session's share of its time budget."""
        if self.total_steps:
            return step / self.total_steps
        if self.seconds:
            return (elapsed - self.start_elapsed) / self.seconds
        return 0.0

    def fraction_and_eta(self, step: int, elapsed: float, steps_per_second: float | None,
                         extra_seconds: Callable[[float], float] = lambda eta: 0.0
                         ) -> tuple[float, float | None]:
        """(fraction done, seconds left or None). `extra_seconds(eta)` is time the
        remaining steps bring besides training (evaluations still to come)."""
        fractions, etas = [], []
        if self.total_steps:
            fractions.append(step / self.total_steps)
            if steps_per_second:
                etas.append((self.total_steps - step) / steps_per_second)
        if etas:
            etas[0] += extra_seconds(etas[0])
        if self.seconds:
            this_session = elapsed - self.start_elapsed
            fractions.append(this_session / self.seconds)
            etas.append(self.seconds - this_session)
        return min(1.0, max(fractions)), (max(0.0, min(etas)) if etas else None)
