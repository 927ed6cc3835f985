"""Start-up: the main window at once, the engine imported off the GUI thread, then
the pages built in it."""
from __future__ import annotations

import subprocess
import sys

import pytest
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QLabel

from desktop_app import startup as startup_module
from desktop_app.main_window import OPENING_PAGE, PAGE_TITLES, MainWindow
from desktop_app.pages.train_page import TrainPage


def test_the_main_window_needs_no_torch_to_appear():
    code = ("import sys, desktop_app.app, desktop_app.main_window; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True).stdout.strip()
    assert out == "False"


def test_main_window_shows_at_once_then_gets_its_pages(qtbot):
    window = MainWindow(engine_loaded=False)
    qtbot.addWidget(window)
    window.show()
    tabs = window.tabs
    assert [tabs.tabText(i) for i in range(tabs.count())] == list(PAGE_TITLES)
    assert [tabs.isTabEnabled(i) for i in range(tabs.count())] == \
        [i == OPENING_PAGE for i in range(len(PAGE_TITLES))]
    assert tabs.currentIndex() == OPENING_PAGE and PAGE_TITLES[OPENING_PAGE] == "Train"
    assert window.findChild(QLabel, "engineLoadingLabel").isVisible()
    assert window.statusBar().currentMessage().startswith("Loading the engine")
    assert not window.findChild(QAction, "evaluateAction").isEnabled()
    assert not window.findChild(QAction, "runSelfTestAction").isEnabled()
    assert window.findChild(QAction, "aboutAction").isEnabled()   # works without the engine
    size = window.size()
    ready = []
    with qtbot.waitSignal(window.engineReady, timeout=60_000):
        startup_module.load_engine(window, lambda: ready.append(True))
    # The pages were built on the GUI thread after the import thread was joined.
    assert ready == [True] and window.ready and window.loader.isFinished()
    assert isinstance(tabs.widget(OPENING_PAGE), TrainPage) and tabs.count() == len(PAGE_TITLES)
    assert tabs.currentIndex() == OPENING_PAGE
    assert all(tabs.isTabEnabled(i) for i in range(tabs.count()))
    assert window.findChild(QAction, "evaluateAction").isEnabled()
    assert window.findChild(QAction, "runSelfTestAction").isEnabled()
    assert window.statusBar().currentMessage().startswith("Welcome.")   # a first launch
    assert window.size() == size and window.isVisible()


def test_an_engine_that_cannot_load_is_shown_not_a_dead_window(qtbot, monkeypatch, tmp_path):
    monkeypatch.setattr(startup_module, "ENGINE_MODULES", ("engine.no_such_module",))
    window = MainWindow(engine_loaded=False)
    qtbot.addWidget(window)
    window.errors.log_path = tmp_path / "app.log"
    window.show()
    startup_module.load_engine(window)
    qtbot.waitUntil(lambda: len(window.errors.history) == 1, timeout=30_000)
    assert "could not be loaded" in window.errors.history[0].message
    assert "no_such_module" in window.statusBar().currentMessage()
    assert "no_such_module" in window.findChild(QLabel, "engineLoadingLabel").text()
    assert not window.ready and window.isVisible()
    window.loader.wait()
    window.close()   # nothing runs yet, so closing closes
    assert not window.isVisible()


# A window closed (or the app quit) while the engine still loads: the import thread is
# joined, not destroyed running (issue 22, item 5: "QThread: Destroyed while thread ''
# is still running", then SIGABRT, rc 134).
CLOSE_EARLY = """
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from desktop_app import app
shown = app.MainWindow.show
def show(window):
    shown(window)
    QTimer.singleShot(300, window.close if sys.argv[1] == "close" else QApplication.quit)
app.MainWindow.show = show
sys.exit(app.main(["latent-atelier"]))
"""


@pytest.mark.parametrize("how", ["close", "quit"])
def test_closing_while_the_engine_loads_exits_cleanly(how):
    import os
    from pathlib import Path

    result = subprocess.run([sys.executable, "-c", CLOSE_EARLY, how], cwd=Path(__file__).parents[2],
                            capture_output=True, text=True, timeout=180,
                            env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert "QThread" not in result.stderr and "Traceback" not in result.stderr
