"""A first launch: the Train page on the bundled digits, the tabs in the order
of an artist's work, a welcome that names the ways in, and "Use my own
pictures…" one click away on every page. No Qt warning logged."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QPushButton

from desktop_app.main_window import PAGE_TITLES
from tests.engine.conftest import write_pictures

UI_DOC = Path(__file__).parents[2] / "docs" / "UI.md"
PLATFORM_NOISE = ("This plugin does not support",)


def test_the_first_launch_opens_on_train_and_welcomes(qtlog, window):
    tabs = window.tabs
    assert [tabs.tabText(i) for i in range(tabs.count())] == \
        ["Data", "Train", "Gallery", "Animate", "Remix", "Runs"] == list(PAGE_TITLES)
    assert tabs.currentWidget() is window.train_page
    assert window.train_page.data_combo.currentData() == "mnist"
    message = window.statusBar().currentMessage()
    assert message.startswith("Welcome.") and "Use my own pictures" in message
    # The next launch is a plain "Ready".
    from desktop_app.welcome import first_launch
    assert not first_launch()
    assert [r.message for r in qtlog.records if not r.message.startswith(PLATFORM_NOISE)] == []


def test_my_own_pictures_is_one_click_from_any_page(qtbot, qtlog, window, tmp_path, monkeypatch):
    folder = Path(write_pictures(tmp_path / "my pictures")["square"]).parent
    asked = []
    monkeypatch.setattr(QFileDialog, "getExistingDirectory",
                        lambda *args, **kwargs: asked.append(args) or str(folder))
    button = window.findChild(QPushButton, "useOwnPicturesButton")
    for page in (window.gallery_page, window.runs_page):
        window.tabs.setCurrentWidget(page)
        assert button.isVisible() and button.isEnabled()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert len(asked) == 1
    data = window.data_page
    assert window.tabs.currentWidget() is data and data.path_edit.text() == str(folder)
    qtbot.waitUntil(lambda: data.summary is not None, timeout=30_000)
    # "Use for training" is then the one step to train on them.
    use = window.findChild(QPushButton, "dataUseButton")
    qtbot.waitUntil(use.isEnabled, timeout=5_000)
    qtbot.mouseClick(use, Qt.MouseButton.LeftButton)
    assert window.tabs.currentWidget() is window.train_page
    assert window.train_page.data_combo.currentData().startswith("folder:")
    assert [r.message for r in qtlog.records if not r.message.startswith(PLATFORM_NOISE)] == []


def test_the_tab_order_and_first_launch_are_decided_in_the_docs():
    doc = UI_DOC.read_text()
    assert "## The order of the pages, and a first launch" in doc
    assert "`useOwnPicturesButton`" in doc
