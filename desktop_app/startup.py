"""A window at once, the engine later: start-up without staring at nothing.

Importing PyTorch takes seconds (far longer on a busy machine or a cold disk),
and the main window's pages need it. So the app first shows a light window with
the app's name and a status line, imports the engine on a background thread
while that window stays responsive, and then builds the real main window in
its place. This is the one thread outside desktop_app.worker: the worker
module itself imports the engine, so it cannot be what imports it.
"""
from __future__ import annotations

import importlib
import os
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, QThread, QTimer, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow

from desktop_app.errors import ErrorPresenter

# Set to make the app print when each window is up and responsive, then quit
# (benchmarks/startup_time.py times those lines from outside the process).
PROBE_ENV = "LATENT_ATELIER_STARTUP_PROBE"

# Heavy, Qt-free modules the main window's pages import (torch above all).
ENGINE_MODULES = ("torch", "engine.training", "engine.models", "engine.sampling",
                  "engine.export", "engine.runs")


class EngineImport(QThread):
    """Imports ENGINE_MODULES; `done` carries "" or the failure's traceback."""

    done = Signal(str)

    def run(self) -> None:
        try:
            for name in ENGINE_MODULES:
                importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a broken install is reported in the window
            self.done.emit(traceback.format_exc())
        else:
            self.done.emit("")


class StartupWindow(QMainWindow):
    """What the user sees while the engine loads: the name, a status line, the time."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("startupWindow")
        self.setWindowTitle("Latent Atelier")
        self.resize(1180, 720)
        label = QLabel("Latent Atelier", objectName="startupLabel")
        font = QFont(label.font())
        font.setPointSizeF(font.pointSizeF() * 2.5)
        label.setFont(font)
        label.setStyleSheet("color: palette(mid);")
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setCentralWidget(label)
        self._started = time.monotonic()
        self._timer = QTimer(self, interval=250)
        self._timer.timeout.connect(self._tick)
        self._timer.start()
        self._tick()
        self.errors = ErrorPresenter(self)

    def _tick(self) -> None:
        seconds = time.monotonic() - self._started
        self.statusBar().showMessage(f"Loading the engine (PyTorch)… {seconds:.0f} s")

    def failed(self, details: str) -> None:
        self._timer.stop()
        last = details.strip().splitlines()[-1] if details.strip() else "unknown error"
        self.statusBar().showMessage(f"The engine could not be loaded: {last}")
        self.errors.report("Latent Atelier cannot start",
                           f"The engine (PyTorch) could not be loaded: {last}", details)


def start_with_engine(on_ready: Callable[[], QMainWindow],
                      log_path: Path | None = None) -> StartupWindow:
    """Show the startup window now; once the engine is imported, call on_ready()
    (which builds the main window) and put its window where this one was."""
    startup = StartupWindow()
    startup.errors.log_path = log_path
    loader = EngineImport(startup)

    def loaded(details: str) -> None:
        loader.wait()
        if details:
            startup.failed(details)
            return
        window = on_ready()
        window.setGeometry(startup.geometry())
        if startup.isMaximized():
            window.showMaximized()
        else:
            window.show()
        startup.close()
        startup.deleteLater()
        if probing:
            # A zero-delay timer fires once the event loop runs again: the window responds.
            QTimer.singleShot(0, lambda: (_probe("main window responsive"),
                                          QApplication.instance().quit()))

    loader.done.connect(loaded)
    probing = bool(os.environ.get(PROBE_ENV))
    startup.show()
    if probing:
        QTimer.singleShot(0, lambda: _probe("startup window responsive"))
    # The import starts once the event loop has run (and drawn the window): a
    # thread importing torch holds the GIL for long stretches, which otherwise
    # delayed the first window by a few hundred milliseconds.
    QTimer.singleShot(0, startup, loader.start)
    startup.loader = loader  # type: ignore[attr-defined] - kept alive with the window
    return startup


def _probe(what: str) -> None:
    print(f"startup-probe: {what}", flush=True)
