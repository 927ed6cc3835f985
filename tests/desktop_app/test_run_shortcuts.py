"""Keyboard: Ctrl+R trains or resumes, Ctrl+E exports; each shortcut is in its
menu item and in docs/UI.md."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence

from tests.desktop_app.conftest import quick_settings

UI_DOC = Path(__file__).parents[2] / "docs" / "UI.md"


def press(qtbot, window, key: Qt.Key) -> None:
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=2_000)
    qtbot.keyClick(window.tabs.currentWidget(), key, Qt.KeyboardModifier.ControlModifier)


def test_shortcuts_are_in_their_menu_items_and_the_docs(window):
    doc = UI_DOC.read_text()
    run_menu = window.run_menu
    for name, keys in (("trainOrResumeAction", "Ctrl+R"), ("exportAction", "Ctrl+E")):
        action = window.findChild(QAction, name)
        assert action is not None and action in run_menu.actions(), name
        assert action.shortcut() == QKeySequence(keys), name
        assert f"`{name}`" in doc and keys in doc, name


def test_ctrl_r_trains_then_resumes_a_paused_run(qtbot, window):
    page = quick_settings(window, steps=1_000_000)
    window.tabs.setCurrentWidget(window.gallery_page)   # it works from any page
    press(qtbot, window, Qt.Key.Key_R)
    assert window.tabs.currentWidget() is page
    qtbot.waitUntil(lambda: page.last_progress is not None, timeout=30_000)
    page.toggle_pause()
    qtbot.waitUntil(lambda: page.pause_button.text() == "Resume", timeout=30_000)
    paused_at = page.last_progress.step
    press(qtbot, window, Qt.Key.Key_R)
    qtbot.waitUntil(lambda: page.last_progress.step > paused_at, timeout=30_000)
    assert page.pause_button.text() == "Pause"
    window.worker.stop()
    qtbot.waitUntil(lambda: not window.worker.is_training, timeout=30_000)


def test_ctrl_e_exports_the_time_lapse_or_says_why_not(qtbot, window):
    press(qtbot, window, Qt.Key.Key_E)
    assert window.timelapse_dialog is None
    assert "Nothing to export yet" in window.statusBar().currentMessage()
    quick_settings(window, steps=4)
    window.train_page.start_training()
    qtbot.waitUntil(lambda: not window.worker.is_training, timeout=60_000)
    press(qtbot, window, Qt.Key.Key_E)
    qtbot.waitUntil(lambda: window.timelapse_dialog is not None
                    and window.timelapse_dialog.isVisible(), timeout=5_000)
    window.timelapse_dialog.reject()


def test_ctrl_e_on_the_animate_page_is_its_export(window):
    action = window.findChild(QAction, "exportAction")
    window.tabs.setCurrentWidget(window.animate_page)
    window.run_actions._name_export()
    assert "animation" in action.text()
    window.tabs.setCurrentWidget(window.train_page)
    assert "time-lapse" in action.text()


def test_ctrl_e_on_the_remix_page_exports_the_flipbook(qtbot, window):
    action = window.findChild(QAction, "exportAction")
    window.tabs.setCurrentWidget(window.remix_page)
    window.run_actions._name_export()
    assert "flip-book" in action.text()
    action.trigger()     # nothing made yet: the page says why, no time-lapse dialog
    assert window.timelapse_dialog is None
    assert "needs at least two pictures" in window.remix_page.message.text()
