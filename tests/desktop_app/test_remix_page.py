"""The Remix page: a picture dropped or opened, a page of variations made on the
worker with progress and cancel, tiles saved, copied, favoured, repeated 2 x 2
and exported as a flip-book; slow sizes ask first, bad pictures are said on
the page."""
from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QLabel, QMessageBox, QWidget

from engine.studio import remix
from engine.studio.exporters.provenance import read_provenance
from engine.studio.gpnn import GpnnSettings
from engine.studio.remix import Variation, load_source, variations
from tests.desktop_app.test_gallery_reconstruction import drop, files


@pytest.fixture(autouse=True)
def one_thread():
    """Small pictures: one thread never waits for a core another job holds
    (jobs started now inherit it)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def page(qtbot):
    from desktop_app.pages.remix_page import RemixPage
    from desktop_app.worker import EngineWorker, live_job_names

    worker = EngineWorker()
    widget = RemixPage(worker)
    qtbot.addWidget(widget)
    widget.resize(1000, 700)
    widget.show()
    qtbot.waitExposed(widget)
    yield widget
    worker.stop_all()
    assert worker.shutdown(10_000)
    qtbot.waitUntil(lambda: not live_job_names(), timeout=5_000)


def blobs(width: int = 48, height: int = 40, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width]
    picture = np.full((height, width, 3), 90, np.uint8)
    for _ in range(14):
        cy, cx, r = rng.uniform(0, height), rng.uniform(0, width), rng.uniform(2, 7)
        picture[((ys - cy) ** 2 + (xs - cx) ** 2) < r * r] = rng.integers(0, 256, 3)
    return picture


@pytest.fixture
def picture(tmp_path):
    path = tmp_path / "pebbles.png"
    Image.fromarray(blobs()).save(path)
    return path


def opened(qtbot, page, picture) -> None:
    assert drop(page.findChild(QWidget, "remixDrop"), files(picture))
    qtbot.waitUntil(lambda: page.source is not None and not page._loading, timeout=10_000)


def generated(qtbot, page, count: int) -> None:
    page.count_spin.setValue(count)
    qtbot.mouseClick(page.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.job is None and page.grid.count() == count, timeout=30_000)


def select(page, *rows: int) -> None:
    page.grid.clearSelection()
    for row in rows:
        page.grid.item(row).setSelected(True)


def test_a_dropped_picture_sets_the_size_and_the_estimate(qtbot, page, picture):
    assert not page.generate_button.isEnabled()
    opened(qtbot, page, picture)
    assert page.width_spin.value() == 48 and page.height_spin.value() == 40
    assert "pebbles.png: 48 x 40 pixels" in page.source_label.text()
    assert "per picture on cpu" in page.estimate_label.text()
    np.testing.assert_array_equal(page.source_view.image, blobs())
    assert page.generate_button.isEnabled()


def test_generate_makes_the_seeds_tiles_as_the_engine_does(qtbot, page, picture):
    opened(qtbot, page, picture)
    page.seed_spin.setValue(5)
    page.diversity_spin.setValue(1.0)
    generated(qtbot, page, 3)
    assert [page.grid.item(i).text() for i in range(3)] == ["seed 5", "seed 6", "seed 7"]
    settings = GpnnSettings(diversity=1.0)
    expected = [e for e in variations(load_source(picture), [6], settings=settings)
                if isinstance(e, Variation)][0]
    np.testing.assert_array_equal(page.images[6], expected.image)
    assert "3 pictures of 48 x 40 (seeds 5–7)" in page.message.text()
    qtbot.mouseClick(page.next_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.job is None and page.grid.count() == 3, timeout=30_000)
    assert page.grid.item(0).text() == "seed 8"


def test_a_tile_repeats_2x2_and_saves_and_copies_with_its_record(qtbot, page, picture, tmp_path):
    opened(qtbot, page, picture)
    page.tile_check.setChecked(True)
    page.width_spin.setValue(40)
    generated(qtbot, page, 1)
    select(page, 0)
    image = page.images[0]
    np.testing.assert_array_equal(page.preview.image, image)
    qtbot.mouseClick(page.repeat_button, Qt.MouseButton.LeftButton)
    np.testing.assert_array_equal(page.preview.image, np.tile(image, (2, 2, 1)))
    written = page.save_selected(str(tmp_path / "tile.png"))
    np.testing.assert_array_equal(np.asarray(Image.open(written)), image)
    record = read_provenance(written)
    assert record["tile"] is True and record["seed"] == 0 and record["size"] == [40, 40]
    assert page.copy_selected()
    assert QGuiApplication.clipboard().image().width() == 40


def test_favourites_become_the_flipbook_keyframes(qtbot, page, picture, tmp_path):
    opened(qtbot, page, picture)
    generated(qtbot, page, 4)
    select(page, 1, 3)
    qtbot.mouseClick(page.favourite_button, Qt.MouseButton.LeftButton)
    assert page.grid.item(1).text() == "★ seed 1" and page.grid.item(0).text() == "seed 0"
    select(page, 0)
    assert page.keyframe_seeds() == [1, 3]          # one selected: the favourites
    select(page, 0, 2)
    assert page.keyframe_seeds() == [0, 2]          # two selected: those
    page.crossfade_spin.setValue(2)
    out = tmp_path / "book.gif"
    assert page.export_flipbook(str(out))
    qtbot.waitUntil(lambda: "Exported the flip-book" in page.message.text(), timeout=10_000)
    record = read_provenance(out)
    assert record["kind"] == "flipbook" and record["seeds"] == [0, 2]
    assert record["flipbook"]["crossfade"] == 2
    with Image.open(out) as gif:
        assert gif.size == (48, 40) and gif.n_frames >= 2


def test_a_flipbook_beyond_memory_is_refused_before_any_frame(qtbot, page, picture, tmp_path,
                                                              monkeypatch):
    opened(qtbot, page, picture)
    generated(qtbot, page, 2)
    monkeypatch.setattr("engine.studio.exporters.memory.available_ram", lambda: 1024)
    out = tmp_path / "book.gif"
    assert not page.export_flipbook(str(out))
    assert page.message.text().startswith("Not exported: the export needs")
    assert not out.exists()


def test_cancel_stops_within_a_second(qtbot, page, tmp_path):
    path = tmp_path / "big.png"
    Image.fromarray(np.tile(blobs(64, 64), (4, 4, 1))).save(path)
    opened(qtbot, page, path)
    page.count_spin.setValue(4)
    assert page.generate()
    qtbot.waitUntil(lambda: page.progress.value() > 0, timeout=20_000)
    assert page.cancel_button.isEnabled()
    started = time.perf_counter()
    qtbot.mouseClick(page.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.job is None, timeout=5_000)
    assert time.perf_counter() - started < 1.0
    assert page.message.text().startswith("Cancelled after")
    assert page.generate_button.isEnabled()


def test_a_slow_size_asks_first(qtbot, page, picture, monkeypatch):
    opened(qtbot, page, picture)
    monkeypatch.setattr(remix, "LIMIT_SECONDS", 1e-6)
    page.width_spin.setValue(64)
    assert "Generate asks first" in page.estimate_label.text()
    asked: list[QMessageBox] = []

    def answer(reply):
        def exec_(box) -> int:
            asked.append((box.objectName(), box.text()))
            return reply
        return exec_

    monkeypatch.setattr(QMessageBox, "exec", answer(QMessageBox.StandardButton.No))
    assert not page.generate() and page.job is None
    assert asked[0][0] == "remixConfirmDialog" and "would take" in asked[0][1]
    monkeypatch.setattr(QMessageBox, "exec", answer(QMessageBox.StandardButton.Yes))
    page.count_spin.setValue(1)
    assert page.generate()
    qtbot.waitUntil(lambda: page.job is None and page.grid.count() == 1, timeout=30_000)


def test_a_size_beyond_memory_is_refused_on_the_page(qtbot, page, picture, monkeypatch):
    opened(qtbot, page, picture)
    monkeypatch.setattr(remix, "available_memory", lambda device: 2**20)
    page.width_spin.setValue(50)
    assert "free on cpu" in page.estimate_label.text()
    assert not page.generate() and "free on cpu" in page.message.text()


def test_a_bad_picture_is_said_on_the_page_not_in_a_dialog(qtbot, page, picture, tmp_path):
    bad = tmp_path / "notes.png"
    bad.write_text("not a picture")
    errors: list = []
    page.worker.error.connect(lambda *e: errors.append(e))
    assert drop(page.findChild(QWidget, "remixDrop"), files(bad))
    qtbot.waitUntil(lambda: not page._loading, timeout=10_000)
    assert page.message.text().startswith("notes.png: not a picture")
    assert page.source is None and not errors
    opened(qtbot, page, picture)          # and a good one still opens afterwards
    assert page.source.name == "pebbles.png"


def test_a_data_page_tile_dropped_as_pixels_opens(qtbot, page):
    page.open_pixels(np.dstack([blobs(32, 32), np.full((32, 32), 255, np.uint8)]))
    qtbot.waitUntil(lambda: page.source is not None, timeout=10_000)
    assert page.source.size == (32, 32) and page.width_spin.value() == 32


def test_the_window_has_the_remix_tab_and_its_documented_controls(window):
    from pathlib import Path

    from desktop_app.pages.remix_page import RemixPage

    doc = (Path(__file__).parents[2] / "docs" / "UI.md").read_text()
    titles = [window.tabs.tabText(i) for i in range(window.tabs.count())]
    assert "Remix" in titles
    assert isinstance(window.tabs.widget(titles.index("Remix")), RemixPage)
    for name in ("remixDrop", "remixOpenButton", "remixSource", "remixWidthSpin",
                 "remixHeightSpin", "remixDiversitySpin", "remixTileCheck", "remixCountSpin",
                 "remixSeedSpin", "remixGenerateButton", "remixCancelButton", "remixProgress",
                 "remixGrid", "remixPreview", "remixSaveButton", "remixCopyButton",
                 "remixFavouriteButton", "remixRepeatButton", "remixFlipbookButton",
                 "remixCrossfadeSpin", "remixNextButton", "remixEstimateLabel", "remixMessage",
                 "remixSourceLabel", "remixSourceSizeButton"):
        assert window.findChild(QWidget, name) is not None, name
        assert f"`{name}`" in doc, f"{name} missing from docs/UI.md"
    assert isinstance(window.findChild(QWidget, "remixMessage"), QLabel)
    assert "`remixConfirmDialog`" in doc
