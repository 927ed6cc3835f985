"""The one place that runs engine work off the GUI thread.

Each job is a plain Python callable run on its own QThread. It hands back
plain-data results (engine events, numpy arrays, paths) through queued
signals, so no tensor, module or Qt object crosses threads, and the GUI
thread never waits on the engine. Every request returns its Job, whose own
signals carry that request's results and its end to whoever asked. Every
failure, a generic RuntimeError such as torch's out-of-memory included, also
reaches the worker's single `error` signal (the error dialog).
"""
from __future__ import annotations

import traceback
import weakref
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QDeadlineTimer, QObject, QThread, Signal, Slot

from engine.runtime.control import RunControl
from engine.errors import AtelierError
from engine.training.events import Finished, RunStarted
from engine.training import TrainConfig, resume, train


# Every job ever started, weakly: lets tests prove none is left running.
_ALL_JOBS: "weakref.WeakSet[Job]" = weakref.WeakSet()


def live_job_names() -> list[str]:
    """Names of engine jobs whose threads are still running, in any worker."""
    names = []
    for job in list(_ALL_JOBS):
        try:
            if job.isRunning():
                names.append(job.objectName())
        except RuntimeError:  # the C++ side is already deleted: not running
            continue
    return names


class Job(QThread):
    """One request to the engine: runs `work(control)` on its own thread and
    reports through its own signals (superqt's WorkerBase pattern), so whoever
    asked connects to this job and no one matches job names.

    The job object itself lives in the GUI thread: the thread only emits the
    private signals below, which are delivered (queued) to this object's slots,
    and these emit the public signals on the GUI thread, in this order:
    `yielded` for each item of a streaming job or `returned` with a plain job's
    result, or `errored`; then `ended`, whatever the outcome.
    """

    yielded = Signal(object)       # each item a streaming job yields
    returned = Signal(object)      # a plain job's result
    errored = Signal(str, str)     # message for a person, technical details
    ended = Signal()               # done, stopped or failed; after all the above

    _item = Signal(object)         # from the job's thread
    _failure = Signal(str, str)    # from the job's thread

    def __init__(self, name: str, work: Callable[[RunControl], Any], parent: QObject,
                 streaming: bool = False) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self.control = RunControl()
        self._work = work
        self._streaming = streaming
        self._release: Callable[[Job], None] = lambda job: None
        self._item.connect(self._deliver_item)
        self._failure.connect(self._deliver_failure)
        self.finished.connect(self._deliver_end)

    @Slot(object)
    def _deliver_item(self, value: object) -> None:
        (self.yielded if self._streaming else self.returned).emit(value)

    @Slot(str, str)
    def _deliver_failure(self, message: str, details: str) -> None:
        self.errored.emit(message, details)

    @Slot()
    def _deliver_end(self) -> None:
        self.ended.emit()
        self._release(self)   # the worker's bookkeeping, once every listener knows

    def run(self) -> None:
        try:
            result = self._work(self.control)
            if self._streaming:
                for value in result:
                    self._item.emit(value)
            else:
                self._item.emit(result)
        except AtelierError as exc:
            self._failure.emit(str(exc), "")
        except MemoryError:
            self._failure.emit("Out of memory. Try a smaller batch size or image size.",
                               traceback.format_exc())
        except Exception as exc:  # noqa: BLE001 - every failure must reach the user
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            if "out of memory" in message.lower():
                message = f"The device ran out of memory ({message}). Try a smaller batch size."
            self._failure.emit(message, traceback.format_exc())


class EngineWorker(QObject):
    """Starts engine jobs and keeps what is shared between pages: the training
    run (one at a time, followed by several pages), failures for the error
    dialog, and whether anything runs. Every request returns its Job; the one
    who asked connects to the job's own signals for its results and its end."""

    trainingEvent = Signal(object)        # engine.training.events.*
    trainingStopped = Signal()            # the training thread has ended, whatever the reason
    busyChanged = Signal(bool)            # a training run started or ended
    error = Signal(str, str, str)         # title, message, details: any job's failure
    idle = Signal()                       # no job is running any more

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._jobs: set[Job] = set()
        self._training: Job | None = None
        self._evaluation: Job | None = None
        self._scan: Job | None = None
        self.current_run: Path | None = None

    # -- training ---------------------------------------------------------------
    @property
    def is_training(self) -> bool:
        return self._training is not None

    @property
    def is_paused(self) -> bool:
        return self._training is not None and self._training.control.paused

    def start_training(self, config: TrainConfig, out: str | Path | None = None) -> bool:
        if self._training is not None:
            self.error.emit("Training", "A run is already training. Stop it first.", "")
            return False
        self._start_training(lambda control: train(config, out, control), "Training failed")
        return True

    def resume_training(self, run_dir: str | Path, **changes: Any) -> bool:
        """Continue a saved run exactly where it stopped (engine.training.resume);
        `changes` are the settings a resume may change, e.g. steps=TOTAL."""
        if self._training is not None:
            self.error.emit("Resume", "A run is already training. Stop it first.", "")
            return False
        self._start_training(lambda control: resume(run_dir, control, **changes), "Resume failed")
        return True

    def _start_training(self, work: Callable[[RunControl], Any], error_title: str) -> None:
        job = self._start("training", work, error_title, streaming=True)
        job.yielded.connect(self._on_training_event)
        job.ended.connect(self._on_training_ended)
        self._training = job
        self.busyChanged.emit(True)

    def pause(self) -> None:
        if self._training is not None:
            self._training.control.pause()

    def resume(self) -> None:
        if self._training is not None:
            self._training.control.resume()

    def stop(self) -> None:
        if self._training is not None:
            self._training.control.stop()

    def _on_training_event(self, event: object) -> None:
        if isinstance(event, RunStarted):
            self.current_run = Path(event.run_dir)
        self.trainingEvent.emit(event)
        if isinstance(event, Finished):
            self.current_run = Path(event.run_dir)

    def _on_training_ended(self) -> None:
        self._training = None
        self.busyChanged.emit(False)
        self.trainingStopped.emit()

    # -- short jobs ------------------------------------------------------------
    def generate(self, run_dir: str | Path, seeds: list[int], labels: list[int] | None = None,
                 temperature: float = 1.0, truncation: float | None = None,
                 steps: int | None = None, guidance: float | None = None) -> Job:
        """Sample the run's images for `seeds`; the job returns (seeds, uint8 images (N, H, W, C)).
        `steps` and `guidance` (an iterative sampler's; None: the run's own) are passed
        only when given, as `truncation` is."""
        from engine.studio.sampling import sample_run

        options = {k: v for k, v in (("truncation", truncation), ("steps", steps),
                                     ("guidance", guidance)) if v is not None}
        return self._start("sampling", lambda _: (seeds, sample_run(run_dir, seeds, labels=labels,
                                                                    temperature=temperature,
                                                                    **options)),
                           "Could not generate images")

    def export_timelapse(self, run_dir: str | Path, path: str | Path, fps: float, scale: int,
                         tiles: list[int] | None = None) -> Job:
        """Write the run's time-lapse GIF; the job returns the path written."""
        from engine.studio.animation import timelapse_frames
        from engine.studio.export import save_gif

        def work(_: RunControl) -> str:
            steps, frames = timelapse_frames(run_dir, tiles=tiles)
            save_gif(frames, path, fps=fps, scale=scale,
                     provenance={"kind": "timelapse", "run": Path(run_dir).name, "steps": steps,
                                 **({"tiles": tiles} if tiles else {})})
            return str(path)

        return self._start("export", work, "Export failed")

    def submit(self, name: str, work: Callable[[], Any],
               on_result: Callable[[Any], None] | None = None,
               error_title: str = "Failed") -> Job:
        """Run `work()` (engine calls returning plain data) on its own thread; its
        result reaches `on_result` (and the job's `returned`) on the GUI thread, a
        failure the error dialog, and the job's `ended` follows either way."""
        job = self._start(name, lambda _: work(), error_title)
        if on_result is not None:
            job.returned.connect(on_result)
        return job

    def stream(self, name: str, work: Callable[[RunControl], Iterable[Any]],
               error_title: str = "Failed") -> Job:
        """Run `work(control)` on its own thread and deliver each item it yields to
        the job's `yielded` on the GUI thread (partial results, progress); `work`
        should end early once `control.stopped`. A failure reaches the error dialog."""
        return self._start(name, work, error_title, streaming=True)

    def remix(self, source: Any, seeds: list[int], size: tuple[int, int], tile: bool,
              settings: Any, allow_slow: bool = False) -> Job:
        """New pictures from one picture (engine.studio.remix.variations): the job
        yields RemixProgress events and a Variation per seed; job.control.stop()
        ends it between rounds of patch matching, within a second."""
        from engine.studio.remix import variations

        return self._start("remix", lambda control: variations(
            source, seeds, size, tile, settings, control=control, allow_slow=allow_slow),
            "Could not remix the picture", streaming=True)

    def export_bundle(self, run_dir: str | Path, path: str | Path) -> Job:
        """Write the run's model bundle; the job returns the path written."""
        from engine.runs.bundles import export_bundle

        return self._start("bundle", lambda _: str(export_bundle(run_dir, path)), "Export failed")

    # -- data ------------------------------------------------------------------------
    @property
    def is_scanning(self) -> bool:
        return self._scan is not None

    def scan_data(self, spec: str, size: int, cache: bool = True) -> Job | None:
        """Load a data spec on a thread; the job yields progress then a DataSummary
        (or ScanCancelled: cancel_scan() stops it between files). One scan at a
        time: None, with a message, while another runs."""
        from engine.data.summary import scan

        if self._scan is not None:
            self.error.emit("Data", "A data set is already loading. Cancel it first.", "")
            return None
        job = self._start("data-scan",
                          lambda control: scan(spec, size=size, cache=cache,
                                               cancel=lambda: control.stopped),
                          "Could not load the data", streaming=True)
        job.ended.connect(lambda: setattr(self, "_scan", None))
        self._scan = job
        return job

    def cancel_scan(self) -> None:
        if self._scan is not None:
            self._scan.control.stop()

    # -- evaluation ------------------------------------------------------------------
    def evaluate(self, run_dir: str | Path, config: Any) -> Job | None:
        """Score a run's checkpoint (engine.metrics.evaluate); the job yields
        EvalProgress then EvalFinished. One evaluation at a time: None, with a
        message, while another runs."""
        from engine.metrics.evaluate import evaluate_run

        if self._evaluation is not None:
            self.error.emit("Evaluate", "An evaluation is already running.", "")
            return None
        job = self._start("evaluation", lambda control: evaluate_run(run_dir, config, control),
                          "Evaluation failed", streaming=True)
        job.ended.connect(lambda: setattr(self, "_evaluation", None))
        self._evaluation = job
        return job

    def cancel_evaluation(self) -> None:
        if self._evaluation is not None:
            self._evaluation.control.stop()

    @property
    def evaluation(self) -> Job | None:
        """The running evaluation, for a dialog opened while it runs."""
        return self._evaluation

    @property
    def is_evaluating(self) -> bool:
        return self._evaluation is not None

    # -- lifetime ----------------------------------------------------------------
    def _start(self, name: str, work: Callable[[RunControl], Any], error_title: str,
               streaming: bool = False) -> Job:
        job = Job(name, work, self, streaming)
        job.errored.connect(lambda message, details: self.error.emit(error_title, message, details))
        job._release = self._release
        self._jobs.add(job)
        _ALL_JOBS.add(job)
        job.start()
        return job

    def _release(self, job: Job) -> None:
        self._jobs.discard(job)
        job.deleteLater()
        if not self._jobs:
            self.idle.emit()

    def running_jobs(self) -> int:
        return sum(1 for job in self._jobs if job.isRunning())

    def stop_all(self) -> None:
        """Ask every job to stop between steps (training saves first); returns at once."""
        for job in list(self._jobs):
            job.control.stop()

    def shutdown(self, timeout_ms: int = 30000) -> bool:
        """stop_all(), then wait; True if every job ended within the timeout."""
        self.stop_all()
        deadline = QDeadlineTimer(timeout_ms)
        return all(job.wait(deadline) for job in list(self._jobs))
