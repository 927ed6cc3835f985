"""Drag and drop anywhere: a run folder or a model bundle dropped on the window
opens in the Gallery, an exported animation reopens its keyframes on the
Animate page, a folder of pictures loads on the Data page, and anything else
gets a clear line in the status bar. Dropped as a file manager drops them, with
no Qt warning logged."""
from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QWidget

from engine.runs.bundles import export_bundle
from engine.studio.animation import WalkRenderer
from engine.studio.exporters import ExportOptions, export_animation
from engine.studio.keyframes import Timeline
from engine.training import TrainConfig, train
from tests.engine.conftest import write_mnist_folder, write_pictures

PLATFORM_NOISE = ("This plugin does not support",)


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("drops")
    data = write_mnist_folder(base / "data", n_train=32, n_test=8)
    config = TrainConfig(model="dcgan", data=f"idx:{data}", image_size=28, width=8, batch_size=8,
                         steps=2, device="cpu", seed=0, report_seconds=0.0)
    run = base / "run"
    list(train(config, run))
    bundle = export_bundle(run, base / "shared" / "digits.atelier.safetensors")
    frames, provenance = WalkRenderer(run, device="cpu").render(
        Timeline.from_seeds([4, 9, 2], frames_between=2))
    walk = export_animation(frames, base / "walk.gif", "gif", ExportOptions(fps=8), provenance)
    pictures = write_pictures(base / "pictures")
    notes = base / "notes.txt"
    notes.write_text("not a picture")
    plain = base / "plain.png"
    Image.new("L", (28, 28), 200).save(plain)
    return {"run": run, "bundle": bundle, "walk": walk, "pictures": Path(pictures["bar"]).parent,
            "notes": notes, "plain": plain}


def drop(widget: QWidget, *paths: Path) -> bool:
    """Drag the files over the widget and release them there, as a person would."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    centre = widget.rect().center()
    with warnings.catch_warnings():   # PySide marks Qt 6's only QDragEnterEvent constructor deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        enter = QDragEnterEvent(centre, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                                Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, enter)
    if not enter.isAccepted():
        return False
    event = QDropEvent(QPointF(centre), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)
    return event.isAccepted()


def qt_warnings(qtlog) -> list[str]:
    return [r.message for r in qtlog.records if not r.message.startswith(PLATFORM_NOISE)]


def settled(qtbot, window) -> None:
    qtbot.waitUntil(lambda: not window.gallery_page._generating, timeout=30_000)


def test_a_run_folder_on_the_train_page_opens_in_the_gallery(qtbot, qtlog, window, made, tmp_path):
    run = Path(shutil.copytree(made["run"], tmp_path / "digits-run"))
    assert drop(window.train_page, run)
    assert window.tabs.currentWidget() is window.gallery_page
    assert window.gallery_page.run_dir == run and window.animate_page.run_dir == run
    settled(qtbot, window)
    assert qt_warnings(qtlog) == []


def test_a_bundle_on_the_data_page_opens_in_the_gallery_not_as_data(qtbot, qtlog, window, made):
    window.tabs.setCurrentWidget(window.data_page)
    assert drop(window.data_page, made["bundle"])
    assert window.tabs.currentWidget() is window.gallery_page
    assert window.gallery_page.run_dir == made["bundle"]
    assert "Model bundle: digits.atelier.safetensors" in window.gallery_page.run_label.text()
    settled(qtbot, window)
    assert qt_warnings(qtlog) == []


@pytest.mark.parametrize("page", ["remix_page", "gallery_page"])
def test_an_exported_gif_reopens_its_keyframes_on_the_animate_page(
        qtbot, qtlog, window, made, page):
    studio = window.animate_page
    window.tabs.setCurrentWidget(getattr(window, page))
    target = window.gallery_page.grid if page == "gallery_page" else window.remix_page
    assert drop(target, made["walk"])
    qtbot.waitUntil(lambda: [k.seed for k in studio.keyframes()] == [4, 9, 2], timeout=15_000)
    assert window.tabs.currentWidget() is studio
    assert studio.frames_between_spin.value() == 2 and studio.fps_spin.value() == 8
    # The export sits beside its run folder, not in it: Animate says which run it came from.
    assert "Opened walk.gif: 3 keyframes" in window.statusBar().currentMessage()
    assert qt_warnings(qtlog) == []


def test_a_folder_of_pictures_loads_on_the_data_page(qtbot, qtlog, window, made):
    assert drop(window.runs_page, made["pictures"])
    assert window.tabs.currentWidget() is window.data_page
    assert window.data_page.path_edit.text() == str(made["pictures"])
    qtbot.waitUntil(lambda: window.data_page.summary is not None, timeout=30_000)
    assert qt_warnings(qtlog) == []


def test_other_drops_say_what_the_window_takes(qtbot, qtlog, window, made):
    routed: list = []
    window.drops.routed.connect(routed.append)
    assert drop(window.train_page, made["notes"])
    assert window.tabs.currentWidget() is window.train_page
    message = window.statusBar().currentMessage()
    assert message.startswith("notes.txt is not a run folder, a model file (.atelier.safetensors)")
    # A picture without the app's metadata: read on the worker, then said.
    assert drop(window.train_page, made["plain"])
    qtbot.waitUntil(lambda: len(routed) == 2, timeout=15_000)
    message = window.statusBar().currentMessage()
    assert message.startswith("plain.png is a picture, not an animation: drop pictures on the "
                              "Remix page")
    assert window.tabs.currentWidget() is window.train_page
    assert window.gallery_page.run_dir is None and window.animate_page.run_dir is None
    assert qt_warnings(qtlog) == []
