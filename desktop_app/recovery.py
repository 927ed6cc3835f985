"""Crash recovery on launch: offer to resume a run that a crash cut short.

A run counts when its manifest says it never ended, no process is training it
(engine.runs.lock) and it has a checkpoint (engine.runs.index.interrupted_runs).
A run that ended cleanly, stopped, completed or out of time, is never offered.
The offer is one non-blocking dialog: Resume the most recent such run, show
the Runs page, or not now.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

from engine.runs.index import RunSummary, interrupted_runs


def offer_recovery(parent: QWidget, on_resume: Callable[[str], None],
                   on_show_runs: Callable[[str], None],
                   folder: Path | None = None) -> QMessageBox | None:
    """Open the recovery dialog if some run was cut short; returns it (or None)."""
    runs = interrupted_runs(folder)
    if not runs:
        return None
    latest = runs[0]
    box = QMessageBox(QMessageBox.Icon.Question, "Resume an interrupted run?",
                      _message(latest, len(runs) - 1), QMessageBox.StandardButton.NoButton, parent)
    box.setObjectName("recoverRunDialog")
    # The run's name and model come from its folder and files: never read as markup.
    box.setTextFormat(Qt.TextFormat.PlainText)
    resume = box.addButton("Resume", QMessageBox.ButtonRole.AcceptRole)
    resume.setObjectName("recoverResumeButton")
    show = box.addButton("Show runs", QMessageBox.ButtonRole.ActionRole)
    show.setObjectName("recoverShowRunsButton")
    later = box.addButton("Not now", QMessageBox.ButtonRole.RejectRole)
    later.setObjectName("recoverLaterButton")
    box.setDefaultButton(resume)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

    def decided(button: object) -> None:
        if button is resume:
            on_resume(str(latest.path))
        elif button is show:
            on_show_runs(str(latest.path))

    box.buttonClicked.connect(decided)
    box.open()   # non-blocking: the window is usable behind it
    return box


def _message(run: RunSummary, others: int) -> str:
    text = (f"The run “{run.name}” ({run.model}) did not finish: the app or the computer "
            f"stopped while it was training. Resume it from its last checkpoint at step "
            f"{run.saved_step:,}? At most the steps since that checkpoint are lost.")
    if others:
        text += f"\n\n{others} other run{'s' if others > 1 else ''} also stopped this way; see the Runs page."
    return text
