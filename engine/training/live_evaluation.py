"""Evaluation while training: when it is due, scoring the live model, and
recording the scores with the checkpoint of exactly those weights."""
from __future__ import annotations

import time
from collections.abc import Generator
from typing import Any

from engine.runs import checkpoints
from engine.runtime.control import RunControl
from engine.errors import AtelierError, RunDirError
from engine.training.events import Evaluated, Notice, TrainingEvent
from engine.metrics.during_training import EvalSchedule, TrainingEvaluator, evaluation_summary
from engine.metrics.evaluate import EvalFinished
from engine.models.base import GenerativeModel
from engine.runs.folders import RunDir
from engine.training.clock import RunClock


class LiveEvaluation:
    """One session's evaluations (engine.metrics.during_training). A pause or
    stop cuts one short; a paused one is done again after the pause. A failed
    one turns evaluation off for the rest of the session."""

    def __init__(self, run_dir: RunDir, model: str, data: str, samples: int,
                 every_minutes: float | None, every_steps: int | None,
                 last_elapsed: float = 0.0) -> None:
        self.run_dir = run_dir
        self._model, self._data, self._samples = model, data, samples
        self.schedule = EvalSchedule(every_minutes, every_steps, last_elapsed)
        self._evaluator: TrainingEvaluator | None = None   # loaded at the first evaluation
        self.pending = False          # cut short by a pause: do it again after
        self.seconds = 0.0            # how long the last evaluation took
        self.unsaved: dict[str, Any] | None = None   # scores the next save keeps with its weights
        self.scored_save = False      # the last save kept scored weights

    def due(self, step: int, elapsed: float) -> bool:
        return self.schedule.enabled and (self.pending or self.schedule.due(step, elapsed))

    def seconds_to_come(self, step: int, total_steps: int | None, eta: float) -> float:
        """Evaluations still to come take about as long as the last one."""
        if not self.seconds:
            return 0.0
        return self.seconds * self.schedule.evaluations_left(step, total_steps, eta)

    def take_unsaved(self) -> dict[str, Any] | None:
        """The scores for the weights being saved now (None: unscored weights)."""
        scores, self.unsaved = self.unsaved, None
        return scores

    def score(self, model: GenerativeModel, step: int, control: RunControl, clock: RunClock
              ) -> Generator[TrainingEvent, None, tuple[dict[str, Any] | None, float]]:
        """Score the live model, yielding its progress events (the app shows that it
        is evaluating); returns (result, seconds). The result, None when a pause or
        stop cut it short or it failed, is also kept as `unsaved` for the next save."""
        if self._evaluator is None:
            self._evaluator = TrainingEvaluator(self.run_dir, self._model, self._data,
                                                self._samples)
        started = time.perf_counter()
        finished = None
        try:
            for event in self._evaluator.evaluate(model, step, control):
                if isinstance(event, EvalFinished):
                    finished = event
                else:
                    yield event   # EvalProgress
        except AtelierError as exc:
            self.schedule = EvalSchedule()   # off for the rest of this session
            yield Notice(step, "eval-failed",
                         f"Evaluation while training is off for this session: {exc}")
            finished = None
        seconds = time.perf_counter() - started
        if finished is None or finished.result is None:
            self.pending = not control.stopped
            return None, seconds
        self.pending = False
        self.seconds = seconds
        self.schedule.done(clock.elapsed)
        result = {**finished.result, "step": step, "elapsed": round(clock.elapsed, 3),
                  "seconds": round(seconds, 3)}
        self.unsaved = result
        self.scored_save = False
        return result, seconds

    def recorded(self, result: dict[str, Any], seconds: float) -> Evaluated:
        """After the save that followed `score`: the scores go to metrics.jsonl with
        the checkpoint that keeps their weights (None if that save failed)."""
        self.unsaved = None
        checkpoint = None
        if self.scored_save:
            checkpoint = (checkpoints.read_manifest(self.run_dir.path) or {}).get("checkpoint")
        result["checkpoint"] = checkpoint
        try:
            self.run_dir.append_metrics(result)
        except RunDirError:
            pass  # the failed save has told the user; the scores still reach the GUI
        return Evaluated(step=result["step"], scores=evaluation_summary(result),
                         seconds=seconds, checkpoint=checkpoint)
