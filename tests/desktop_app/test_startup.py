"""Start-up: a window at once, the engine imported off the GUI thread, then the main window."""
from __future__ import annotations

import shiboken6
from PySide6.QtWidgets import QLabel, QMainWindow

from desktop_app import startup as startup_module


def test_startup_window_shows_at_once_then_gives_way_to_the_main_window(qtbot):
    built = []

    def main_window() -> QMainWindow:
        window = QMainWindow()
        window.setObjectName("stand-in main window")
        qtbot.addWidget(window)
        built.append(window)
        return window

    startup = startup_module.start_with_engine(main_window)
    assert startup.isVisible() and startup.objectName() == "startupWindow"
    assert startup.findChild(QLabel, "startupLabel") is not None
    assert startup.statusBar().currentMessage().startswith("Loading the engine")
    size = startup.size()
    # The main window is built only after the import thread has been joined.
    qtbot.waitUntil(lambda: len(built) == 1 and built[0].isVisible(), timeout=30_000)
    assert built[0].size() == size
    qtbot.waitUntil(lambda: not shiboken6.isValid(startup))   # closed and deleted


def test_an_engine_that_cannot_load_is_shown_not_a_dead_window(qtbot, monkeypatch, tmp_path):
    monkeypatch.setattr(startup_module, "ENGINE_MODULES", ("engine.no_such_module",))
    built = []
    startup = startup_module.start_with_engine(lambda: built.append(1), tmp_path / "app.log")
    qtbot.addWidget(startup)
    qtbot.waitUntil(lambda: len(startup.errors.history) == 1, timeout=30_000)
    assert "could not be loaded" in startup.errors.history[0].message
    assert "no_such_module" in startup.statusBar().currentMessage()
    assert built == [] and startup.isVisible()
    startup.loader.wait()
