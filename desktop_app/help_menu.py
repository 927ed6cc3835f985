"""The Help menu: the log folder, the self-test and About, for support."""
from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QUrl
from PySide6.QtGui import QAction, QDesktopServices
from PySide6.QtWidgets import QMainWindow, QMessageBox

from desktop_app.app_paths import DISPLAY_NAME, app_data_dir, logs_dir, self_test_dir
from engine import __version__


SELF_TEST_JOB = "self-test"


def open_folder(path: Path) -> bool:
    """Show a folder in the platform's file manager; False if none could be started."""
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))


class HelpMenu(QObject):
    """Adds Help to a MainWindow (which has .errors and a status bar); Run self-test
    works once the window's engine worker is attached."""

    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.worker = None          # attach_worker(): once the engine is loaded
        self.errors = window.errors
        self.report_dialog: QMessageBox | None = None
        menu = window.menuBar().addMenu("&Help")
        menu.setObjectName("helpMenu")
        self.open_logs_action = self._action(menu, "Open log folder", "openLogFolderAction",
                                             self.open_log_folder)
        self.self_test_action = self._action(menu, "Run self-test", "runSelfTestAction",
                                             self.run_self_test)
        menu.addSeparator()
        self.about_action = self._action(menu, f"About {DISPLAY_NAME}", "aboutAction", self.about)
        self.self_test_action.setEnabled(False)   # it trains: it needs the engine's worker

    def attach_worker(self, worker) -> None:
        self.worker = worker
        self.self_test_action.setEnabled(True)

    def _action(self, menu, text: str, name: str, slot) -> QAction:
        action = QAction(text, self.window)
        action.setObjectName(name)
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def open_log_folder(self) -> None:
        folder = logs_dir()
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self.errors.report("Log folder", f"Cannot create the log folder {folder}: "
                                             f"{exc.strerror or exc}")
            return
        if not open_folder(folder):
            self.errors.report("Log folder", f"No file manager could be started. The log is "
                                             f"in {folder}")

    def run_self_test(self) -> None:
        from engine.diagnostics.self_test import run_self_test

        # A fresh folder per run, so an earlier self-test never makes this one fail.
        out = self_test_dir() / time.strftime("%Y%m%d-%H%M%S")
        suffix = 1
        while out.exists():
            suffix += 1
            out = out.with_name(f"{time.strftime('%Y%m%d-%H%M%S')}-{suffix}")
        self.self_test_action.setEnabled(False)
        self.window.statusBar().showMessage(f"Running the self-test in {out}…")
        job = self.worker.submit(SELF_TEST_JOB, lambda: run_self_test(out).lines(),
                                 self._show_report, "Self-test failed")
        job.ended.connect(self._self_test_ended)

    def _self_test_ended(self) -> None:
        # Passed or failed (a failure went to the error dialog): it can run again.
        self.self_test_action.setEnabled(True)

    def _show_report(self, lines: list[str]) -> None:
        self.window.statusBar().showMessage(lines[0] if lines else "Self-test finished")
        box = QMessageBox(QMessageBox.Icon.Information, "Self-test", "\n".join(lines),
                          QMessageBox.StandardButton.Ok, self.window)
        box.setObjectName("selfTestDialog")
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self.report_dialog = box

    def about(self) -> None:
        box = QMessageBox(QMessageBox.Icon.NoIcon, f"About {DISPLAY_NAME}",
                          f"{DISPLAY_NAME} {__version__}\n\nAn offline studio for training and "
                          f"sampling generative image models.\n\nYour runs and settings: "
                          f"{app_data_dir()}\nLog: {logs_dir()}",
                          QMessageBox.StandardButton.Ok, self.window)
        box.setObjectName("aboutDialog")
        box.setIconPixmap(self.window.windowIcon().pixmap(64, 64))
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self.report_dialog = box
