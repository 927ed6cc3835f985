"""Keyboard: Ctrl+G generates, the arrows move between gallery tiles, Enter uses
the tile as a keyframe, Space plays and pauses the preview; each shortcut is in
its menu item and in docs/UI.md. Pressed as a person presses them, with no Qt
warning logged."""
from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QPushButton

from engine.training import TrainConfig, train
from tests.engine.conftest import write_mnist_folder

UI_DOC = Path(__file__).parents[2] / "docs" / "UI.md"
PLATFORM_NOISE = ("This plugin does not support",)


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("shortcuts")
    data = write_mnist_folder(base / "data", n_train=32, n_test=8)
    config = TrainConfig(model="dcgan", data=f"idx:{data}", image_size=28, width=8, batch_size=8,
                         steps=2, device="cpu", seed=0, report_seconds=0.0)
    list(train(config, base / "run"))
    return base / "run"


def qt_warnings(qtlog) -> list[str]:
    return [r.message for r in qtlog.records if not r.message.startswith(PLATFORM_NOISE)]


def activate(qtbot, window) -> None:
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=2_000)


def test_each_shortcut_is_in_its_menu_item_and_the_docs(window):
    doc = UI_DOC.read_text()
    for menu_name, action_name, keys in (("galleryMenu", "generateAction", "Ctrl+G"),
                                         ("galleryMenu", "useAsKeyframeAction", "Return"),
                                         ("animateMenu", "playPauseAction", "Space")):
        menu = window.menuBar().findChild(QMenu, menu_name)
        action = window.findChild(QAction, action_name)
        assert menu is not None and action in menu.actions(), action_name
        assert action.shortcut() == QKeySequence(keys), action_name
        assert f"`{action_name}`" in doc and f"**{keys.replace('Return', 'Enter')}**" in doc


def test_ctrl_g_arrows_and_enter_make_keyframes_from_tiles(qtbot, qtlog, window, run):
    gallery, studio = window.gallery_page, window.animate_page
    gallery.set_run(run)
    gallery.count_spin.setValue(6)
    activate(qtbot, window)
    # Ctrl+G from the Train page: the Gallery shows and generates.
    assert window.tabs.currentWidget() is window.train_page
    qtbot.keyClick(window.train_page, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
    assert window.tabs.currentWidget() is gallery
    qtbot.waitUntil(lambda: gallery.grid.count() == 6 and not gallery._generating, timeout=30_000)
    qtbot.waitUntil(gallery.grid.hasFocus, timeout=2_000)

    # The arrows move between the tiles; Enter uses the one reached.
    qtbot.keyClick(gallery.grid, Qt.Key.Key_Right)
    qtbot.keyClick(gallery.grid, Qt.Key.Key_Right)
    assert gallery.selected_seeds() == [1]
    qtbot.keyClick(gallery.grid, Qt.Key.Key_Return)
    assert [k.seed for k in studio.keyframes()] == [1]       # it replaced the automatic start
    qtbot.keyClick(gallery.grid, Qt.Key.Key_Right)
    qtbot.keyClick(gallery.grid, Qt.Key.Key_Right)
    qtbot.keyClick(gallery.grid, Qt.Key.Key_Enter)            # the keypad's Enter too
    assert [k.seed for k in studio.keyframes()] == [1, 3]
    assert "Added seed 3 as keyframes" in window.statusBar().currentMessage()
    assert qt_warnings(qtlog) == []


def test_space_plays_and_pauses_the_preview(qtbot, qtlog, window, run):
    studio = window.animate_page
    window.tabs.setCurrentWidget(studio)
    studio.open_run(run)
    studio.add_keyframes([1, 2])
    studio.frames_between_spin.setValue(4)
    qtbot.waitUntil(lambda: studio.is_preview_current() and not studio._preview_busy,
                    timeout=30_000)
    activate(qtbot, window)
    # A mouse click on a button leaves the keyboard where it was.
    qtbot.mouseClick(window.findChild(QPushButton, "addKeyframeButton"), Qt.MouseButton.LeftButton)
    assert not window.findChild(QPushButton, "addKeyframeButton").hasFocus()
    assert [k.seed for k in studio.keyframes()] == [1, 2, 0]
    qtbot.waitUntil(lambda: studio.is_preview_current() and not studio._preview_busy,
                    timeout=30_000)
    assert studio._player.isActive() and studio.play_button.isChecked()
    qtbot.keyClick(studio, Qt.Key.Key_Space)
    assert not studio.play_button.isChecked() and not studio._player.isActive()
    frame = studio._frame
    qtbot.wait(200)
    assert studio._frame == frame                             # paused
    qtbot.keyClick(studio, Qt.Key.Key_Space)
    assert studio.play_button.isChecked() and studio._player.isActive()

    # A button the keyboard moved to keeps Space for itself.
    add = window.findChild(QPushButton, "addKeyframeButton")
    add.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.waitUntil(add.hasFocus, timeout=2_000)
    count = studio.keyframe_list.count()
    qtbot.keyClick(add, Qt.Key.Key_Space)
    assert studio.keyframe_list.count() == count + 1 and studio.play_button.isChecked()

    # On another page Space is not the preview's.
    window.tabs.setCurrentWidget(window.gallery_page)
    assert not window.findChild(QAction, "playPauseAction").isEnabled()
    assert qt_warnings(qtlog) == []
