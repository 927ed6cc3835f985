"""The one place errors are shown to the user."""
from __future__ import annotations

import logging
import sys
import threading
import traceback
from dataclasses import dataclass
from pathlib import Path

import shiboken6
from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import QMessageBox, QWidget

log = logging.getLogger("latent_atelier")


@dataclass(frozen=True)
class ShownError:
    title: str
    message: str
    details: str


class ErrorPresenter(QObject):
    """Shows errors in a non-blocking dialog and keeps a history (for tests and logs)."""

    shown = Signal(object)   # ShownError
    _report = Signal(str, str, str)

    def __init__(self, parent_widget: QWidget) -> None:
        super().__init__(parent_widget)
        self._parent = parent_widget
        self.history: list[ShownError] = []
        self.dialog: QMessageBox | None = None
        # Set by the app once its log file is open; dialogs then say where it is.
        self.log_path: Path | None = None
        # Signals make report() safe to call from any thread.
        self._report.connect(self._show)

    def report(self, title: str, message: str, details: str = "") -> None:
        self._report.emit(title, message, details)

    @Slot(str, str, str)
    def _show(self, title: str, message: str, details: str) -> None:
        error = ShownError(title, message, details)
        self.history.append(error)
        log.error("%s: %s\n%s", title, message, details)
        if self.dialog is not None and shiboken6.isValid(self.dialog):
            self.dialog.close()
        box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok,
                          self._parent)
        box.setObjectName("errorDialog")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        if details:
            box.setDetailedText(details)
        if self.log_path is not None:
            box.setInformativeText(f"This was written to the log: {self.log_path}")
        box.open()  # non-blocking: the app keeps running behind it
        self.dialog = box
        self.shown.emit(error)

    def install_hooks(self) -> None:
        """Route uncaught exceptions (GUI thread and Python threads) here too."""
        def hook(kind, value, tb) -> None:
            self.report("Unexpected error", f"{kind.__name__}: {value}",
                        "".join(traceback.format_exception(kind, value, tb)))
        sys.excepthook = hook
        threading.excepthook = lambda args: hook(args.exc_type, args.exc_value, args.exc_traceback)
