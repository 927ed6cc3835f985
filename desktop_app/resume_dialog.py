"""Continue training: the step budget and the hardware settings a resumed run may change.

Opened by the Runs page's Resume. Every field starts at what the run was
saved with, so Continue alone resumes it exactly as before; a device this
computer lacks starts at Automatic. Only what the user changed is passed on
(engine.training.resume records each change in the run's history).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFormLayout,
                               QLabel, QSpinBox, QVBoxLayout, QWidget)

from engine.runtime.compilation import compile_unavailable
from engine.runtime.cpu_threads import default_threads
from engine.runtime.device import available_devices, device_usable
from engine.errors import AtelierError
from engine.runtime.precision import PRECISION_LABELS
from engine.runs.index import RunSummary
from engine.runs.folders import RunDir


class ResumeDialog(QDialog):
    """Non-blocking: `accepted_changes` carries (run folder, the settings to change)."""

    accepted_changes = Signal(str, dict)

    def __init__(self, summary: RunSummary, parent: QWidget | None = None) -> None:
        super().__init__(parent, objectName="resumeDialog")
        self.setWindowTitle("Continue training")
        self.setMinimumWidth(380)
        self.summary = summary
        self.saved = _saved_settings(summary.path)
        completed = summary.detail == "completed"

        intro = (f"“{summary.name}” completed {summary.saved_step:,} steps. Train it up to this "
                 "many steps in total:" if completed else
                 f"“{summary.name}” stopped at step {summary.saved_step:,}. It goes on from there.")
        self.intro = QLabel(intro, objectName="resumeIntroLabel", wordWrap=True)
        self.steps_spin = QSpinBox(objectName="resumeStepsSpin", maximum=2**31 - 1)
        self.steps_spin.setGroupSeparatorShown(True)
        if completed:   # a larger budget is needed, or there is nothing to train
            self.steps_spin.setMinimum(summary.saved_step + 1)
            self.steps_spin.setValue(2 * max(summary.saved_step, 1))
        else:
            self.steps_spin.setMinimum(summary.saved_step)
            self.steps_spin.setSpecialValueText("its own budget")
            self.steps_spin.setValue(summary.saved_step)
        self.steps_spin.setToolTip("The run's total step count, not a number of further steps")

        devices = available_devices()
        self.device_combo = QComboBox(objectName="resumeDeviceCombo")
        self.device_combo.addItem(f"Automatic ({devices[0]})", "auto")
        for device in devices:
            self.device_combo.addItem(device.upper(), device)
        saved_device = self.saved.get("device", "auto")
        if self.device_combo.findData(saved_device) < 0 and device_usable(saved_device):
            self.device_combo.addItem(saved_device, saved_device)    # e.g. cuda:1
        self.device_combo.setCurrentIndex(max(0, self.device_combo.findData(saved_device)))
        self.precision_combo = QComboBox(objectName="resumePrecisionCombo")
        for value, label in PRECISION_LABELS.items():
            self.precision_combo.addItem(label, value)
        self.precision_combo.setCurrentIndex(
            max(0, self.precision_combo.findData(self.saved.get("precision", "auto"))))
        self.threads_spin = QSpinBox(objectName="resumeThreadsSpin", minimum=0,
                                     maximum=max(os.cpu_count() or 1, default_threads()))
        self.threads_spin.setSpecialValueText(f"Automatic ({default_threads()})")
        self.threads_spin.setValue(min(int(self.saved.get("threads") or 0),
                                       self.threads_spin.maximum()))
        self.compile_check = QCheckBox("Compile (torch.compile)", objectName="resumeCompileCheck")
        unavailable = compile_unavailable()
        self.compile_check.setChecked(bool(self.saved.get("compile")) and unavailable is None)
        if unavailable is not None:
            self.compile_check.setEnabled(False)
            self.compile_check.setToolTip(unavailable[0].upper() + unavailable[1:] + ".")

        form = QFormLayout()
        form.addRow("Total steps", self.steps_spin)
        form.addRow("Device", self.device_combo)
        form.addRow("Precision", self.precision_combo)
        form.addRow("", self.compile_check)
        form.addRow("CPU threads", self.threads_spin)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.continue_button = buttons.addButton("Continue", QDialogButtonBox.ButtonRole.AcceptRole)
        self.continue_button.setObjectName("resumeContinueButton")
        self.continue_button.setDefault(True)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addLayout(form)
        layout.addWidget(buttons)

    def changes(self) -> dict[str, Any]:
        """The settings to change, as engine.training.resume takes them."""
        changes: dict[str, Any] = {}
        if self.steps_spin.value() != self.steps_spin.minimum() or \
                self.summary.detail == "completed":
            changes["steps"] = self.steps_spin.value()
        chosen = {"device": self.device_combo.currentData(),
                  "precision": self.precision_combo.currentData(),
                  "threads": self.threads_spin.value(),
                  "compile": self.compile_check.isChecked()}
        was = {"device": self.saved.get("device", "auto"),
               "precision": self.saved.get("precision", "auto"),
               "threads": int(self.saved.get("threads") or 0),
               "compile": bool(self.saved.get("compile"))}
        changes.update({k: v for k, v in chosen.items() if v != was[k]})
        return changes

    def accept(self) -> None:
        super().accept()
        self.accepted_changes.emit(str(self.summary.path), self.changes())


def _saved_settings(path: Path) -> dict[str, Any]:
    """The run's saved training settings; empty when they cannot be read (the
    resume itself then reports what is wrong)."""
    try:
        return dict(RunDir(path).read_config().get("train", {}))
    except (AtelierError, OSError, ValueError):
        return {}
