"""The main window at once, the engine later: start-up without staring at nothing.

Importing PyTorch takes seconds (far longer on a busy machine or a cold disk),
and the main window's pages need it. So the app shows the main window with its
menus, page tabs and a status line first, imports the engine on a background
thread while that window stays responsive, and then builds the pages in it.
This is the one thread outside desktop_app.worker: the worker module itself
imports the engine, so it cannot be what imports it.
"""
from __future__ import annotations

import importlib
import os
import traceback
from collections.abc import Callable

from PySide6.QtCore import QThread, QTimer, Signal
from PySide6.QtWidgets import QApplication, QMainWindow

# Set to make the app print when each window is up and responsive, then quit
# (benchmarks/startup_time.py times those lines from outside the process).
PROBE_ENV = "LATENT_ATELIER_STARTUP_PROBE"

# Heavy, Qt-free modules the main window's pages import (torch above all).
ENGINE_MODULES = ("torch", "engine.training", "engine.models", "engine.studio.sampling",
                  "engine.studio.export", "engine.runs.folders")


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


def load_engine(window: QMainWindow, on_ready: Callable[[], None] | None = None) -> EngineImport:
    """Import the engine off the GUI thread for a window already on screen; then,
    on the GUI thread, window.build_pages() and on_ready(), or
    window.engine_failed(traceback) if the import failed."""
    loader = EngineImport(window)
    probing = bool(os.environ.get(PROBE_ENV))

    def loaded(details: str) -> None:
        loader.wait()
        if getattr(window, "closed_early", False):
            return   # closed while loading: it closes now, with nothing to build
        if details:
            window.engine_failed(details)
            return
        window.build_pages()
        if on_ready is not None:
            on_ready()
        if probing:
            # A zero-delay timer fires once the event loop runs again: the pages respond.
            QTimer.singleShot(0, lambda: (_probe("engine ready, pages responsive"),
                                          QApplication.instance().quit()))

    loader.done.connect(loaded)
    if probing:
        QTimer.singleShot(0, lambda: _probe("main window responsive"))
    # The import starts once the event loop has run (and drawn the window): a
    # thread importing torch holds the GIL for long stretches, which otherwise
    # delayed the first paint by a few hundred milliseconds.
    QTimer.singleShot(0, window, loader.start)
    window.loader = loader  # type: ignore[attr-defined] - kept alive with the window
    return loader


def _probe(what: str) -> None:
    print(f"startup-probe: {what}", flush=True)
