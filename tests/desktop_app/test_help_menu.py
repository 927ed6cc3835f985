"""Help menu: log folder, self-test, About; uncaught errors name the log."""
from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMessageBox

from desktop_app import help_menu


def action(window, name: str) -> QAction:
    found = window.findChild(QAction, name)
    assert found is not None, f"no action named {name}"
    return found


def test_help_actions_have_documented_object_names(window):
    doc = (Path(__file__).parents[2] / "docs" / "UI.md").read_text()
    for name in ["helpMenu", "openLogFolderAction", "runSelfTestAction", "aboutAction",
                 "selfTestDialog", "aboutDialog"]:
        assert f"`{name}`" in doc, f"{name} missing from docs/UI.md"
    menu = window.menuBar().findChild(object, "helpMenu")
    assert [a.objectName() for a in menu.actions() if a.objectName()] == [
        "openLogFolderAction", "runSelfTestAction", "aboutAction"]


def test_open_log_folder_creates_and_opens_the_apps_log_folder(window, monkeypatch,
                                                              private_user_data):
    opened = []
    monkeypatch.setattr(help_menu, "open_folder", lambda path: opened.append(path) or True)
    action(window, "openLogFolderAction").trigger()
    assert opened == [private_user_data / "logs"] and opened[0].is_dir()
    assert window.errors.history == []


def test_open_log_folder_says_where_the_log_is_when_no_file_manager_starts(qtbot, window,
                                                                          monkeypatch):
    monkeypatch.setattr(help_menu, "open_folder", lambda path: False)
    action(window, "openLogFolderAction").trigger()
    qtbot.waitUntil(lambda: len(window.errors.history) == 1)
    assert "No file manager" in window.errors.history[0].message
    assert str(Path("logs")) in window.errors.history[0].message


def test_run_self_test_reports_in_a_dialog(qtbot, window, monkeypatch, private_user_data):
    monkeypatch.setattr("engine.diagnostics.self_test.SELF_TEST_STEPS", 2)
    run_test = action(window, "runSelfTestAction")
    run_test.trigger()
    assert not run_test.isEnabled()   # one self-test at a time
    qtbot.waitUntil(lambda: window.findChild(QMessageBox, "selfTestDialog") is not None,
                    timeout=60_000)
    text = window.findChild(QMessageBox, "selfTestDialog").text()
    assert "self-test: passed" in text and "network connections attempted: 0" in text
    qtbot.waitUntil(run_test.isEnabled)
    outs = list((private_user_data / "self-test").iterdir())
    assert len(outs) == 1 and (outs[0] / "timelapse.gif").exists()
    assert window.errors.history == []


def test_about_names_the_data_and_log_folders(window, private_user_data):
    action(window, "aboutAction").trigger()
    box = window.findChild(QMessageBox, "aboutDialog")
    assert str(private_user_data / "logs") in box.text()


@pytest.fixture
def restore_hooks():
    saved = sys.excepthook, threading.excepthook
    yield
    sys.excepthook, threading.excepthook = saved


def test_an_uncaught_error_in_any_thread_is_shown_with_the_log_path(qtbot, window, tmp_path,
                                                                   restore_hooks):
    window.errors.log_path = tmp_path / "latent-atelier.log"
    window.errors.install_hooks()

    def fail() -> None:
        raise ValueError("something nobody expected")

    thread = threading.Thread(target=fail, name="background")
    thread.start()
    thread.join()
    qtbot.waitUntil(lambda: len(window.errors.history) == 1)
    shown = window.errors.history[0]
    assert shown.message == "ValueError: something nobody expected"
    assert "Traceback" in shown.details
    dialog = window.findChild(QMessageBox, "errorDialog")
    assert str(tmp_path / "latent-atelier.log") in dialog.informativeText()
