#!/usr/bin/env python3
"""Time from launching the app to a first exported GIF, as a new user gets there.

    QT_QPA_PLATFORM=offscreen python benchmarks/first_gif.py [--repeats 3] [--train-first]
                                                             [--starter flow]

Each run starts the app in a fresh process with an empty user folder (a first
launch: no runs, no settings), the way `latent-atelier` does: the window
first, the engine imported on a background thread, then the pages. It then
makes the clicks a newcomer makes, each as soon as the window allows it:

    1. the Animate tab
    2. "Try a trained model" (the shipped model that draws the cleanest digits;
       the Gallery opens it too, and a walk through its first four seeds starts)
    3. Ctrl+E once the walk plays, and a file name in the save dialog
       (the dialog is answered at once: a person's typing is not timed)

and stamps the moment each step's result is there, ending when the GIF is
written. --train-first presses Train on the Train page first (the bundled
digits, the default model) and goes on once the run reports its first steps,
so the GIF is made while a run trains; --starter NAME picks that shipped model from the button's arrow
instead of the one its click opens. The times are seconds from starting the process; the script prints
each run and the medians. A person's reading and pointing come on top.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MARKS = ("window shown", "pages ready", "walk playing", "gif written")
OPTIONAL_MARKS = ("run training",)


def one_session(out: Path, train_first: bool, starter: str) -> None:
    """In the child process: start the app as app.main does and make the clicks."""
    sys.path.insert(0, str(ROOT))
    from PySide6.QtCore import QPoint, Qt, QTimer
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication, QFileDialog, QPushButton, QToolButton

    from desktop_app.app_paths import set_application_identity
    from desktop_app.gui_gc import GuiThreadGarbageCollector
    from desktop_app.main_window import MainWindow
    from desktop_app.refcount_guard import pin_singletons
    from desktop_app.startup import load_engine

    def mark(what: str) -> None:
        print(json.dumps({"mark": what, "time": time.time()}), flush=True)

    pin_singletons()    # as app.main does, before any Qt call
    app = QApplication([sys.argv[0]])
    set_application_identity(app)
    # As the app: Python's garbage is collected on the GUI thread only.
    collector = GuiThreadGarbageCollector(parent=app)
    collector.start()
    window = MainWindow(engine_loaded=False)
    window.show()
    mark("window shown")
    gif = out / "first.gif"
    # The save dialog answered with a name, as a person types one and presses Enter.
    QFileDialog.getSaveFileName = lambda *args, **kwargs: (str(gif), "")

    def when(condition, then, every_ms: int = 20) -> None:
        timer = QTimer(window, interval=every_ms)

        def check() -> None:
            if condition():
                timer.stop()
                then()
        timer.timeout.connect(check)
        timer.start()

    def ready() -> None:
        mark("pages ready")
        if train_first:     # Train, then on once the run reports its first steps
            QTest.mouseClick(window.findChild(QPushButton, "trainButton"), Qt.MouseButton.LeftButton)
            when(lambda: window.train_page.last_progress is not None, try_a_model)
        else:
            try_a_model()

    def try_a_model() -> None:
        if train_first:
            mark("run training")
        tabs = window.tabs
        bar = tabs.tabBar()
        QTest.mouseClick(bar, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                         bar.tabRect(tabs.indexOf(window.animate_page)).center())
        studio = window.animate_page
        button = window.findChild(QToolButton, "animateTryStarterButton")
        if starter:      # from the arrow's menu
            [action] = [a for a in button.menu().actions() if starter in a.toolTip()]
            action.trigger()
        else:            # the button's own part, left of its menu arrow
            QTest.mouseClick(button, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                             QPoint(button.width() // 3, button.height() // 2))
        when(lambda: studio.is_preview_current() and studio._player.isActive(), export)

    def export() -> None:
        mark("walk playing")
        window.activateWindow()     # keys go to the active window
        when(window.isActiveWindow, press_ctrl_e)

    def press_ctrl_e() -> None:
        QTest.keyClick(window.animate_page, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
        when(lambda: gif.is_file() and window.animate_page.export_button.isEnabled(), done)

    def done() -> None:
        mark("gif written")
        if train_first:
            page = window.train_page
            print(json.dumps({"still training": window.worker.is_training,
                              "run's step": page.last_progress.step}), flush=True)
        window.worker.stop_all()    # a run trained meanwhile stops and saves
        window.close()

    load_engine(window, ready)
    app.exec()
    window.loader.wait()


def one_run(extra: list[str]) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="first-gif-") as home:
        env = {**os.environ, "LATENT_ATELIER_HOME": home}
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
        started = time.time()
        process = subprocess.Popen([sys.executable, __file__, "--session", home, *extra], cwd=ROOT,
                                   env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                   text=True)
        result: dict[str, float] = {}
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("{"):
                stamp = json.loads(line)
                if "mark" in stamp:
                    result[stamp["mark"]] = round(stamp["time"] - started, 2)
                else:
                    result.update(stamp)
        process.wait(timeout=600)
        gif = Path(home) / "first.gif"
        if not set(MARKS) <= set(result) or not gif.is_file():
            raise SystemExit(f"the session exited {process.returncode} after {sorted(result)}")
        result["gif bytes"] = gif.stat().st_size
        return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--train-first", action="store_true",
                        help="press Train first: the GIF is made while a run trains")
    parser.add_argument("--starter", default="",
                        help="pick the shipped model of this family from the button's arrow")
    parser.add_argument("--session", type=Path, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.session is not None:
        one_session(options.session, options.train_first, options.starter)
        return 0
    extra = (["--train-first"] if options.train_first else []) + \
        (["--starter", options.starter] if options.starter else [])
    runs = []
    for i in range(options.repeats):
        runs.append(one_run(extra))
        print(f"run {i + 1}: " + ", ".join(f"{k} {v}" for k, v in runs[-1].items()), flush=True)
    marks = [m for m in (*MARKS[:2], *OPTIONAL_MARKS, *MARKS[2:]) if m in runs[0]]
    medians = {mark: statistics.median(r[mark] for r in runs) for mark in marks}
    print("median: " + ", ".join(f"{k} {v:.1f} s" for k, v in medians.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
