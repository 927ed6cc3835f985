"""The one place that runs engine work off the GUI thread.

Each job is a plain Python callable run on its own QThread. It hands back
plain-data results (engine events, numpy arrays, paths) through queued
signals, so no tensor, module or Qt object crosses threads, and the GUI
thread never waits on the engine. Every failure, a generic RuntimeError such
as torch's out-of-memory included, reaches the single `error` signal.
"""
from __future__ import annotations

import traceback
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QDeadlineTimer, QObject, QThread, Signal, Slot

from engine.control import RunControl
from engine.errors import AtelierError
from engine.events import Finished, RunStarted
from engine.training import TrainConfig, resume, train


# Every job ever started, weakly: lets tests prove none is left running.
_ALL_JOBS: "weakref.WeakSet[_Job]" = weakref.WeakSet()


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


class _Job(QThread):
    """Runs `work(control)`; emits each item it yields (streaming) or its result.

    The job object itself lives in the GUI thread, so its slots below run
    there (queued), and the callbacks they call never touch the job's thread.
    """

    item = Signal(object)
    failed = Signal(str, str)      # message for a person, technical details

    def __init__(self, name: str, work: Callable[[RunControl], Any], parent: QObject,
                 on_item: Callable[[Any], None], on_error: Callable[[str, str], None],
                 on_done: Callable[["_Job"], None], streaming: bool = False) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self.control = RunControl()
        self._work = work
        self._streaming = streaming
        self._on_item, self._on_error, self._on_done = on_item, on_error, on_done
        self.item.connect(self._deliver_item)
        self.failed.connect(self._deliver_error)
        self.finished.connect(self._deliver_done)

    @Slot(object)
    def _deliver_item(self, value: object) -> None:
        self._on_item(value)

    @Slot(str, str)
    def _deliver_error(self, message: str, details: str) -> None:
        self._on_error(message, details)

    @Slot()
    def _deliver_done(self) -> None:
        self._on_done(self)

    def run(self) -> None:
        try:
            result = self._work(self.control)
            if self._streaming:
                for value in result:
                    self.item.emit(value)
            else:
                self.item.emit(result)
        except AtelierError as exc:
            self.failed.emit(str(exc), "")
        except MemoryError:
            self.failed.emit("Out of memory. Try a smaller batch size or image size.",
                             traceback.format_exc())
        except Exception as exc:  # noqa: BLE001 - every failure must reach the user
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            if "out of memory" in message.lower():
                message = f"The device ran out of memory ({message}). Try a smaller batch size."
            self.failed.emit(message, traceback.format_exc())


class EngineWorker(QObject):
    trainingEvent = Signal(object)        # engine.events.*
    trainingStopped = Signal()            # the training thread has ended, whatever the reason
    samplesReady = Signal(object, object)  # (seeds list, uint8 images (N, H, W, C))
    exportFinished = Signal(str)          # path written
    bundleExported = Signal(str)          # model bundle written (path)
    evaluationEvent = Signal(object)      # engine.metrics.evaluate.EvalProgress / EvalFinished
    evaluationEnded = Signal()            # an evaluation ended: done, stopped or failed
    error = Signal(str, str, str)         # title, message, details
    busyChanged = Signal(bool)            # a training run started or ended
    generationEnded = Signal()            # a gallery generation ended, done or failed
    idle = Signal()                       # no job is running any more
    jobEnded = Signal(str)                # a job of this name ended, done or failed
    dataScanEvent = Signal(object)        # engine.data LoadProgress, DataSummary or ScanCancelled
    dataScanEnded = Signal()              # a data scan ended: done, cancelled or failed

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._jobs: set[_Job] = set()
        self._training: _Job | None = None
        self._evaluation: _Job | None = None
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
        self._training = self._start("training", lambda control: train(config, out, control),
                                     self._on_training_event, "Training failed", streaming=True)
        self.busyChanged.emit(True)
        return True

    def resume_training(self, run_dir: str | Path, **changes: Any) -> bool:
        """Continue a saved run exactly where it stopped (engine.training.resume);
        `changes` are the settings a resume may change, e.g. steps=TOTAL."""
        if self._training is not None:
            self.error.emit("Resume", "A run is already training. Stop it first.", "")
            return False
        self._training = self._start("training", lambda control: resume(run_dir, control, **changes),
                                     self._on_training_event, "Resume failed", streaming=True)
        self.busyChanged.emit(True)
        return True

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


    # -- short jobs ------------------------------------------------------------
    def generate(self, run_dir: str | Path, seeds: list[int], labels: list[int] | None = None,
                 temperature: float = 1.0, truncation: float | None = None) -> None:
        from engine.sampling import sample_run

        self._start("sampling", lambda _: (seeds, sample_run(run_dir, seeds, labels=labels,
                                                             temperature=temperature,
                                                             truncation=truncation)),
                    lambda result: self.samplesReady.emit(*result), "Could not generate images")

    def export_timelapse(self, run_dir: str | Path, path: str | Path, fps: float, scale: int,
                         tiles: list[int] | None = None) -> None:
        from engine.animation import timelapse_frames
        from engine.export import save_gif

        def work(_: RunControl) -> str:
            steps, frames = timelapse_frames(run_dir, tiles=tiles)
            save_gif(frames, path, fps=fps, scale=scale,
                     provenance={"kind": "timelapse", "run": Path(run_dir).name, "steps": steps,
                                 **({"tiles": tiles} if tiles else {})})
            return str(path)

        self._start("export", work, self.exportFinished.emit, "Export failed")

    def submit(self, name: str, work: Callable[[], Any], on_result: Callable[[Any], None],
               error_title: str) -> None:
        """Run `work()` (engine calls returning plain data) on its own thread; its
        result reaches `on_result` on the GUI thread, a failure the error signal,
        and jobEnded(name) follows either way."""
        self._start(name, lambda _: work(), on_result, error_title)

    def export_bundle(self, run_dir: str | Path, path: str | Path) -> None:
        from engine.bundles import export_bundle

        self._start("bundle", lambda _: str(export_bundle(run_dir, path)),
                    self.bundleExported.emit, "Export failed")

    # -- data ------------------------------------------------------------------------
    @property
    def is_scanning(self) -> bool:
        return any(job.objectName() == "data-scan" for job in self._jobs)

    def scan_data(self, spec: str, size: int, cache: bool = True) -> bool:
        """Load a data spec on a thread, streaming progress then a DataSummary;
        cancel_scan() stops it between files. One scan at a time."""
        from engine.data.summary import scan

        if self.is_scanning:
            self.error.emit("Data", "A data set is already loading. Cancel it first.", "")
            return False
        self._start("data-scan",
                    lambda control: scan(spec, size=size, cache=cache,
                                         cancel=lambda: control.stopped),
                    self.dataScanEvent.emit, "Could not load the data", streaming=True)
        return True

    def cancel_scan(self) -> None:
        for job in list(self._jobs):
            if job.objectName() == "data-scan":
                job.control.stop()

    # -- evaluation ------------------------------------------------------------------
    def evaluate(self, run_dir: str | Path, config: Any) -> bool:
        """Score a run's checkpoint (engine.metrics.evaluate), one evaluation at a time."""
        from engine.metrics.evaluate import evaluate_run

        if self._evaluation is not None:
            self.error.emit("Evaluate", "An evaluation is already running.", "")
            return False
        self._evaluation = self._start(
            "evaluation", lambda control: evaluate_run(run_dir, config, control),
            self.evaluationEvent.emit, "Evaluation failed", streaming=True)
        return True

    def cancel_evaluation(self) -> None:
        if self._evaluation is not None:
            self._evaluation.control.stop()

    @property
    def is_evaluating(self) -> bool:
        return self._evaluation is not None

    # -- lifetime ----------------------------------------------------------------
    def _start(self, name: str, work: Callable[[RunControl], Any],
               on_item: Callable[[Any], None], error_title: str, streaming: bool = False) -> _Job:
        job = _Job(name, work, self, on_item,
                   lambda message, details: self.error.emit(error_title, message, details),
                   self._job_done, streaming)
        self._jobs.add(job)
        _ALL_JOBS.add(job)
        job.start()
        return job

    def _job_done(self, job: _Job) -> None:
        self._jobs.discard(job)
        job.deleteLater()
        if job is self._training:
            self._training = None
            self.busyChanged.emit(False)
            self.trainingStopped.emit()
        if job.objectName() == "sampling":
            self.generationEnded.emit()
        if job is self._evaluation:
            self._evaluation = None
            self.evaluationEnded.emit()
        self.jobEnded.emit(job.objectName())
        if job.objectName() == "data-scan":
            self.dataScanEnded.emit()
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
