"""The training loop, written once for every model family.

It composes small parts, each with one job: the run's clock and budget, the
loss meter, the report/grid/autosave cadence, the fault guard and evaluation
while training. What it adds is their order: a step, then whatever is due.
"""
from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Iterator

import torch

from engine.runtime.control import RunControl
from engine.runtime.cpu_threads import cpu_threads
from engine.training.events import (Finished, Notice, Progress, RunStarted, Samples, Saved, StateChanged,
                           TrainingEvent)
from engine.runs.best import higher_is_better
from engine.metrics.during_training import evaluation_summary
from engine.runs.lock import RunLock
from engine.runs.folders import RunDir
from engine.training.schedule import apply_schedule
from engine.training.budget import Budget
from engine.training.cadence import Cadence
from engine.training.clock import RunClock
from engine.training.fault_guard import FaultGuard
from engine.training.live_evaluation import LiveEvaluation
from engine.training.loss_meter import LossMeter
from engine.training.session import SAMPLE_SEEDS, TrainingSession


class TrainingLoop:
    """Trains one session into its run directory, from `start_step` (a resumed
    run: with the elapsed time and last evaluation its checkpoint recorded)."""

    def __init__(self, session: TrainingSession, run: RunDir, control: RunControl,
                 start_step: int = 0, start_elapsed: float = 0.0,
                 last_eval_elapsed: float = 0.0, start_notices: list[Notice] | None = None
                 ) -> None:
        config = session.config
        self.session, self.run_dir, self.control = session, run, control
        self._start_notices = list(start_notices or [])   # told right after RunStarted
        self.step = start_step
        self._last_progress: Progress | None = None   # the last report, to end the bar full
        self.clock = RunClock(start_elapsed)
        self.budget = Budget(*config.budget(), start_step=start_step, start_elapsed=start_elapsed)
        self.losses = LossMeter()
        self.cadence = Cadence(config.report_seconds, config.sample_every, config.autosave_seconds)
        self.guard = FaultGuard(session, run, last_saved_step=start_step)
        self.evaluation = LiveEvaluation(run, config.model, config.data, config.eval_samples,
                                         config.eval_every_minutes, config.eval_every_steps,
                                         last_eval_elapsed)
        self._lr_schedule = config.resolved_lr_schedule()

    @property
    def elapsed(self) -> float:
        return self.clock.elapsed

    def run(self) -> Iterator[TrainingEvent]:
        # Held while training, so the app can tell a live run from one that a
        # crash cut short, and no two processes train the same run.
        with RunLock(self.run_dir.path), cpu_threads(self.session.config.threads):
            yield from self._run()

    def _run(self) -> Iterator[TrainingEvent]:
        s = self.session
        yield RunStarted(run_dir=str(self.run_dir.path), model=s.config.model, device=str(s.device),
                         total_steps=self.budget.total_steps,
                         time_budget_seconds=self.budget.seconds,
                         parameters=s.model.parameter_count(), data_count=len(s.data),
                         start_step=self.step,
                         memory_estimate_bytes=s.memory_estimate.total_bytes)
        yield from self._start_notices
        yield from self._compile_notice()
        yield self._samples()
        if self.step == 0:
            yield self._save()  # the gallery can sample the run from its first second
        while True:
            if self.control.paused and not self.control.stopped:
                yield from self._pause()
            reason = self._reason_to_end()
            spent = self.budget.spent(self.step, self.elapsed)
            if s.distributed is not None:
                # Rank 0's decision, with its clock's place in the schedule, for
                # every process: they wait for it while this one writes or evaluates.
                s.distributed.tell(self.step, spent, end=reason is not None)
            if reason:
                break
            apply_schedule(list(s.model.optimizers().values()), self._lr_schedule, spent)
            s.begin_step(self.step)
            try:
                losses = s.step()
            except torch.OutOfMemoryError:
                yield self.guard.halve_batch(self.step)
                continue
            self.guard.watch(losses, self.step + 1)
            self.losses.add(losses, s.model.precision.counted())
            self.step += 1
            yield from self._compile_notice()
            if self._reason_to_end() not in (None, "stopped"):
                continue  # the budget is spent: end now, without a report mid-way
            if self.cadence.report_due(self.elapsed):
                yield from self._writing(self._progress)
            if self.cadence.sample_due(self.step, self.elapsed):
                yield from self._writing(self._samples)
            if self.cadence.save_due(self.elapsed):
                yield from self._writing_save()
            if self.evaluation.due(self.step, self.elapsed):
                yield from self._evaluate()
        if self.losses.count:
            yield self._progress()
        elif reason != "stopped" and self._last_progress is not None \
                and self._last_progress.fraction < 1.0:
            # The report just before the budget ran out was the last one; the
            # bar still ends full, with its losses (metrics.jsonl has them once).
            yield dataclasses.replace(self._last_progress, fraction=1.0, eta_seconds=0.0,
                                      elapsed_seconds=self.elapsed)
        if self.cadence.sampled_step != self.step:
            yield self._samples()  # the time-lapse always ends on the final state
        if reason != "stopped" and self.evaluation.due(self.step, self.elapsed):
            yield from self._evaluate(ended=reason)   # scores the final weights, then saves
        else:
            yield self._save(ended=reason)
        yield Finished(step=self.step, reason=reason, run_dir=str(self.run_dir.path),
                       elapsed_seconds=self.elapsed)

    def _reason_to_end(self) -> str | None:
        return self.budget.reason_to_end(self.step, self.elapsed, self.control.stopped)

    def _compile_notice(self) -> Iterator[TrainingEvent]:
        message = self.session.compile_failure()
        if message:
            yield Notice(self.step, "compile-failed", message)

    def _writing(self, write) -> Iterator[TrainingEvent]:
        yield from self.guard.while_writing(write, self.step)

    def _writing_save(self) -> Iterator[TrainingEvent]:
        # A refused save waits one interval before trying again, not one step.
        yield from self.guard.while_writing(self._save, self.step,
                                            save_refused=lambda: self.cadence.saved(self.elapsed))

    def _pause(self) -> Iterator[TrainingEvent]:
        yield from self._writing_save()
        yield StateChanged("paused", self.step)
        with self.clock.paused():
            self.control.wait_while_paused()
        if not self.control.stopped:
            yield StateChanged("running", self.step)

    def _progress(self) -> Progress:
        self.guard.check()
        means = self.losses.means()
        if not all(math.isfinite(v) for v in means.values()):
            self.guard.diverged(self.step)  # a family that reports no per-step losses
        elapsed = self.elapsed
        rate = self.cadence.window_rate(self.step, elapsed)
        images_per_second = rate * self.session.batcher.batch_size * self.session.processes
        fraction, eta = self.budget.fraction_and_eta(
            self.step, elapsed, self.cadence.steps_per_second,
            lambda eta: self.evaluation.seconds_to_come(self.step, self.budget.total_steps, eta))
        self.run_dir.append_metrics({"step": self.step, "elapsed": round(elapsed, 3),
                                     "images_per_second": round(images_per_second, 2), **means})
        self.losses.reported(means)
        self.cadence.reported(self.step, elapsed)
        self._last_progress = Progress(step=self.step, total_steps=self.budget.total_steps,
                                       fraction=fraction, losses=means,
                                       images_per_second=images_per_second,
                                       elapsed_seconds=elapsed, eta_seconds=eta)
        return self._last_progress

    def _samples(self) -> Samples:
        self.guard.check()
        self.cadence.sampling(self.step, self.elapsed)
        started = time.perf_counter()
        grid = self.session.sample_grid()
        self.cadence.grid_seconds = time.perf_counter() - started
        tile = self.session.config.image_size + 2  # make_grid's default padding
        self.run_dir.save_sample_grid(self.step, grid, {
            "model": self.session.config.model, "step": self.step, "seeds": list(SAMPLE_SEEDS)},
            tile=tile)
        return Samples(step=self.step, grid=grid, seeds=SAMPLE_SEEDS,
                       reconstructions=self.session.reconstruction_grid(),
                       process=self.session.process_animation(),
                       process_name=self.session.model.process_name)

    def _save(self, ended: str | None = None) -> Saved:
        self.guard.check()
        self.guard.check_weights(self.step)
        data_tensors, data_counters = self.session.batcher.state()
        config = self.session.config
        score, best_options = None, {}
        evaluation = self.evaluation.take_unsaved()
        trainer_json = {"elapsed": self.elapsed, "data": data_counters,
                        "last_eval_elapsed": self.evaluation.schedule.last_elapsed}
        if evaluation is not None:
            # The checkpoint remembers the scores of exactly these weights.
            trainer_json["evaluation"] = evaluation_summary(evaluation)
        latest = self.losses.latest
        if config.keep_best and config.keep_best in latest:
            score = (config.keep_best, latest[config.keep_best])
        elif evaluation is not None and isinstance(evaluation.get(config.keep_best), (int, float)):
            score = (config.keep_best, float(evaluation[config.keep_best]))
            best_options = {"higher_is_better": higher_is_better(config.keep_best),
                            "score_label": f"{evaluation['features']}@{evaluation['samples']}"}
        self.run_dir.save_checkpoint(config.model, self.session.model, self.step,
                                     data_tensors, trainer_json,
                                     keep_last=config.keep_last, score=score, ended=ended,
                                     **best_options)
        self.cadence.saved(self.elapsed)
        self.guard.last_saved_step = self.step
        self.evaluation.scored_save = evaluation is not None
        return Saved(step=self.step, run_dir=str(self.run_dir.path))

    def _evaluate(self, ended: str | None = None) -> Iterator[TrainingEvent]:
        """Score the live model, save a checkpoint of exactly these weights with
        their scores, record them in metrics.jsonl and emit Evaluated. Its time
        counts in the elapsed time and time budget, not in the reported training
        images/s. With `ended`, the save is the run's final one."""
        self.guard.check()
        result, seconds = yield from self.evaluation.score(self.session.model, self.step,
                                                           self.control, self.clock)
        self.cadence.leave_out(seconds)
        if result is None:
            if ended is not None:
                yield self._save(ended=ended)
            return
        if ended is not None:
            yield self._save(ended=ended)   # the final save: its failure ends the run
        else:
            yield from self._writing_save()
        yield self.evaluation.recorded(result, seconds)
