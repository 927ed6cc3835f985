"""The Evaluate dialog: score a run's current checkpoint on the worker thread,
with progress and cancel, and show the numbers it records in the run's metrics."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (QDialog, QFileDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit,
                               QPlainTextEdit, QProgressBar, QPushButton, QSpinBox, QWidget)

from desktop_app.worker import EngineWorker, Job
from engine.metrics.evaluate import (DEFAULT_SAMPLES, EvalConfig, EvalFinished, EvalProgress,
                                     evaluations, format_result)
from engine.runs.folders import is_run_dir

STAGE_NAMES = {"reference": "Features of the real test images",
               "samples": "Generating and scoring samples",
               "likelihood": "Test-set likelihood"}


class EvaluateDialog(QDialog):
    def __init__(self, worker: EngineWorker, run_dir: Path | None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("evaluateDialog")
        self.setWindowTitle("Evaluate run")
        self.worker = worker
        self.result: dict | None = None
        self.run_edit = QLineEdit(str(run_dir) if run_dir else "", objectName="evaluateRunEdit")
        browse = QPushButton("Browse…", objectName="evaluateBrowseButton")
        browse.clicked.connect(self._browse)
        run_row = QHBoxLayout()
        run_row.addWidget(self.run_edit, 1)
        run_row.addWidget(browse)
        self.samples_spin = QSpinBox(objectName="evaluateSamplesSpin", minimum=100, maximum=100_000,
                                     singleStep=1000, value=DEFAULT_SAMPLES)
        self.samples_spin.setToolTip("Generated images scored. FD depends on this count: "
                                     "compare FD only at equal counts (10,000 is the default).")
        self.stage_label = QLabel("Scores the run's last checkpoint; the result is saved in "
                                  "its metrics.", objectName="evaluateStageLabel", wordWrap=True)
        self.progress = QProgressBar(objectName="evaluateProgress", minimum=0, maximum=1000)
        self.results = QPlainTextEdit(objectName="evaluateResults", readOnly=True)
        self.results.setMinimumSize(560, 160)
        self.start_button = QPushButton("Evaluate", objectName="evaluateStartButton")
        self.cancel_button = QPushButton("Cancel", objectName="evaluateCancelButton")
        self.close_button = QPushButton("Close", objectName="evaluateCloseButton")
        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.worker.cancel_evaluation)
        self.close_button.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for button in (self.start_button, self.cancel_button, self.close_button):
            buttons.addWidget(button)
        form = QFormLayout(self)
        form.addRow("Run", run_row)
        form.addRow("Samples", self.samples_spin)
        form.addRow(self.stage_label)
        form.addRow(self.progress)
        form.addRow(self.results)
        form.addRow(buttons)
        if worker.evaluation is not None:   # opened again while one runs: follow it
            self._follow(worker.evaluation)
        self._show_previous()
        self._set_running(worker.is_evaluating)

    def _browse(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Choose a run folder", self.run_edit.text())
        if path:
            self.run_edit.setText(path)
            self._show_previous()

    def _run(self) -> Path | None:
        text = self.run_edit.text().strip()
        return Path(text).expanduser() if text else None

    def _show_previous(self) -> None:
        run = self._run()
        if run is not None and is_run_dir(run):
            try:
                previous = evaluations(run)
            except Exception:  # noqa: BLE001 - an unreadable log just shows nothing
                previous = []
            if previous:
                self.results.setPlainText("Last recorded evaluation:\n" + format_result(previous[-1]))

    def start(self) -> None:
        run = self._run()
        if run is None or not is_run_dir(run):
            self.stage_label.setText("Choose a run folder (one with a config.json).")
            return
        self.result = None
        self.progress.setValue(0)
        self.results.clear()
        job = self.worker.evaluate(run, EvalConfig(samples=self.samples_spin.value()))
        if job is not None:
            self._follow(job)
            self.stage_label.setText("Loading the run…")
            self._set_running(True)

    def _follow(self, job: Job) -> None:
        job.yielded.connect(self._on_event)
        job.ended.connect(self._on_ended)

    def _set_running(self, running: bool) -> None:
        self.start_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.samples_spin.setEnabled(not running)
        self.run_edit.setEnabled(not running)

    def _on_event(self, event: object) -> None:
        if isinstance(event, EvalProgress):
            self.stage_label.setText(f"{STAGE_NAMES.get(event.stage, event.stage)}: "
                                     f"{event.done:,} of {event.total:,}")
            self.progress.setValue(int(1000 * event.done / max(event.total, 1)))
        elif isinstance(event, EvalFinished):
            if event.result is None:
                self.stage_label.setText("Cancelled; nothing was recorded.")
            else:
                self.result = event.result
                self.progress.setValue(1000)
                self.stage_label.setText("Done; saved in the run's metrics.")
                self.results.setPlainText(format_result(event.result))

    def _on_ended(self) -> None:
        self._set_running(False)
        if self.result is None and not self.stage_label.text().startswith("Cancelled"):
            self.stage_label.setText("The evaluation did not finish (see the error message).")

    def reject(self) -> None:
        # Closing the dialog stops a running evaluation; nothing half-done is saved.
        self.worker.cancel_evaluation()
        super().reject()
