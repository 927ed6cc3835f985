"""One current run: the run open in the Gallery is the Animate page's and the
reverse; with no keyframes yet a walk starts from the gallery's first four
seeds and plays; the Runs page marks the current run. Driven by clicks, with
no Qt warning logged."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton

from engine.storage.paths import default_runs_dir
from engine.training import TrainConfig, train
from tests.engine.conftest import write_mnist_folder

PLATFORM_NOISE = ("This plugin does not support",)


@pytest.fixture(scope="module")
def templates(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("current-run")
    data = write_mnist_folder(base / "data", n_train=32, n_test=8)
    runs = {}
    for name, seed in (("first", 0), ("second", 1)):
        config = TrainConfig(model="dcgan", data=f"idx:{data}", image_size=28, width=8,
                             batch_size=8, steps=2, device="cpu", seed=seed, report_seconds=0.0)
        list(train(config, base / name))
        runs[name] = base / name
    return runs


@pytest.fixture
def runs(templates) -> dict[str, Path]:
    """Both runs in the user's runs folder, where the Runs page lists them."""
    return {name: Path(shutil.copytree(path, default_runs_dir() / name))
            for name, path in templates.items()}


def qt_warnings(qtlog) -> list[str]:
    return [r.message for r in qtlog.records if not r.message.startswith(PLATFORM_NOISE)]


def click(qtbot, window, name: str) -> None:
    button = window.findChild(QPushButton, name)
    assert button is not None and button.isEnabled(), name
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def marked(window) -> list[str]:
    page = window.runs_page
    return [page.table.item(row, 0).text() for row in range(page.table.rowCount())
            if page.is_marked_current(row)]


def test_the_gallery_run_is_animated_at_once_and_marked_on_the_runs_page(
        qtbot, qtlog, window, runs):
    # Open a run from the Runs page, as a person does.
    page = window.runs_page
    window.tabs.setCurrentWidget(page)
    assert page.select(runs["first"])
    assert marked(window) == []
    click(qtbot, window, "runOpenButton")
    gallery, studio = window.gallery_page, window.animate_page
    assert window.tabs.currentWidget() is gallery and gallery.run_dir == runs["first"]
    assert window.current_run.path == runs["first"]

    # Animate already has that run and a walk through the gallery's first four seeds.
    assert studio.run_dir == runs["first"]
    assert [k.seed for k in studio.keyframes()] == [0, 1, 2, 3]
    window.tabs.setCurrentWidget(studio)
    qtbot.waitUntil(lambda: studio.is_preview_current() and not studio._preview_busy,
                    timeout=30_000)
    assert len(studio.frames) == 3 * studio.frames_between_spin.value() + 4
    shown = {studio._frame}
    qtbot.waitUntil(lambda: shown.add(studio._frame) or len(shown) >= 3, timeout=5_000)

    # The Runs page marks it.
    window.tabs.setCurrentWidget(page)
    assert marked(window) == ["first"]

    # Choosing tiles replaces the automatic start: the walk is the artist's now.
    window.tabs.setCurrentWidget(gallery)
    qtbot.waitUntil(lambda: gallery.grid.count() == gallery.count_spin.value()
                    and not gallery._generating, timeout=30_000)
    gallery.grid.item(5).setSelected(True)
    gallery.grid.item(7).setSelected(True)
    click(qtbot, window, "useAsKeyframeButton")
    assert [k.seed for k in studio.keyframes()] == [5, 7]
    assert qt_warnings(qtlog) == []


def test_a_run_opened_on_the_animate_page_opens_in_the_gallery(qtbot, qtlog, window, runs):
    gallery, studio = window.gallery_page, window.animate_page
    gallery.open_source(runs["first"])
    qtbot.waitUntil(lambda: not gallery._generating, timeout=30_000)
    studio.add_keyframes([9, 8])          # the artist's own walk through the first run

    window.tabs.setCurrentWidget(studio)
    assert studio.open_run(runs["second"])
    # The gallery follows; it makes the second run's first page once it is shown.
    assert gallery.run_dir == runs["second"]
    assert not gallery._generating
    window.tabs.setCurrentWidget(gallery)
    qtbot.waitUntil(lambda: gallery.grid.count() == gallery.count_spin.value()
                    and not gallery._generating, timeout=30_000)
    window.tabs.setCurrentWidget(studio)
    # The artist's keyframes stay: the same seeds, through the second run's model.
    assert [k.seed for k in studio.keyframes()] == [9, 8]
    qtbot.waitUntil(lambda: studio.is_preview_current() and not studio._preview_busy,
                    timeout=30_000)
    assert studio.provenance["run"] == "second"
    window.tabs.setCurrentWidget(window.runs_page)
    assert marked(window) == ["second"]
    # Opening the first run in the gallery again: Animate follows with the same walk.
    gallery.open_source(runs["first"])
    assert studio.run_dir == runs["first"] and [k.seed for k in studio.keyframes()] == [9, 8]
    assert marked(window) == ["first"]
    qtbot.waitUntil(lambda: not gallery._generating, timeout=30_000)
    assert qt_warnings(qtlog) == []
