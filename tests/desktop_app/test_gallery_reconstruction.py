"""The gallery's reconstruction view for VAEs (drop a file or a Data page tile,
or Open image...), its zoom, and dragging a tile out of the Data page preview."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QWheelEvent
from PySide6.QtWidgets import QApplication, QPushButton, QWidget

from engine.media.images import make_grid, upscale_nearest
from engine.studio.reconstruction import reconstruct_files
from engine.training import TrainConfig, train
from tests.engine.conftest import write_mnist_folder, write_pictures


def tiny(out: Path, data: Path, model: str, **settings) -> Path:
    config = TrainConfig(**{**dict(model=model, data=f"idx:{data}", batch_size=8, steps=2,
                                   device="cpu", sample_every=1000, report_seconds=0.0), **settings})
    list(train(config, out))
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("gallery-runs")
    data = write_mnist_folder(base / "data", n_train=32, n_test=8)
    return {"vae": tiny(base / "vae", data, "mlp-vae"), "cvae": tiny(base / "cvae", data, "cvae"),
            "dcgan": tiny(base / "dcgan", data, "dcgan", width=8),
            "pictures": write_pictures(base / "pictures")}


def drop(widget: QWidget, mime: QMimeData) -> bool:
    """Drag `mime` onto the widget and release it there, as a person would."""
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


def files(*paths: Path) -> QMimeData:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    return mime


def shown(panel) -> bool:
    return not panel._busy and panel.message.text() and "Reconstructing" not in panel.message.text()


def test_dropping_a_file_shows_it_encoded_and_decoded_with_its_elbo(qtbot, window, runs):
    gallery, pictures = window.gallery_page, runs["pictures"]
    window.tabs.setCurrentWidget(gallery)
    gallery.set_run(runs["vae"])
    panel = gallery.reconstruction
    drop_area = window.findChild(QWidget, "reconstructionDrop")
    assert drop_area.isEnabled() and not panel.class_combo.isVisibleTo(gallery)
    assert panel.views.isVisibleTo(gallery)
    assert drop(drop_area, files(pictures["bar"]))
    qtbot.waitUntil(lambda: panel.result is not None and shown(panel), timeout=30_000)
    expected = reconstruct_files(runs["vae"], [pictures["bar"]], device="cpu")
    np.testing.assert_array_equal(panel.original_view.image, expected.originals[0])
    np.testing.assert_array_equal(panel.result_view.image, expected.reconstructions[0])
    assert f"−ELBO {expected.neg_elbo[0]:.1f} nats" in panel.message.text()
    assert "bar.jpg" in panel.message.text()

    # A file that is not a picture: a clear line in the panel, no dialog, old pair cleared.
    errors: list = []
    window.errors.shown.connect(errors.append)
    assert drop(drop_area, files(pictures["text"]))
    qtbot.waitUntil(lambda: shown(panel) and "notes.png" in panel.message.text(), timeout=30_000)
    assert "not a picture" in panel.message.text() and "c0392b" in panel.message.styleSheet()
    assert panel.result is None and panel.original_view.image is None and not errors
    assert drop(drop_area, files(pictures["truncated"]))
    qtbot.waitUntil(lambda: shown(panel) and "truncated.png" in panel.message.text(),
                    timeout=30_000)
    assert "damaged or truncated" in panel.message.text()


def test_open_image_button_does_the_same_for_keyboard_users(qtbot, window, runs, monkeypatch):
    from desktop_app.widgets import reconstruction_panel

    gallery = window.gallery_page
    gallery.set_run(runs["vae"])
    square = runs["pictures"]["square"]
    monkeypatch.setattr(reconstruction_panel.QFileDialog, "getOpenFileName",
                        lambda *a, **k: (str(square), ""))
    button = window.findChild(QPushButton, "reconstructionOpenButton")
    button.setFocus()
    qtbot.keyClick(button, Qt.Key.Key_Space)
    panel = gallery.reconstruction
    qtbot.waitUntil(lambda: panel.result is not None and shown(panel), timeout=30_000)
    assert "square.png" in panel.message.text()


def test_conditional_vaes_reconstruct_with_the_chosen_class(qtbot, window, runs):
    gallery = window.gallery_page
    gallery.set_run(runs["cvae"])
    panel = gallery.reconstruction
    combo = window.findChild(QWidget, "reconstructionClassCombo")
    assert combo.isVisibleTo(gallery) and combo.count() == 10
    combo.setCurrentIndex(combo.findData(3))
    panel.reconstruct_files([str(runs["pictures"]["square"])])
    qtbot.waitUntil(lambda: panel.result is not None and shown(panel), timeout=30_000)
    assert panel.result.labels == (3,) and "class 3" in panel.message.text()
    first = panel.result.reconstructions[0].copy()
    combo.setCurrentIndex(combo.findData(7))      # the same picture again, with class 7
    qtbot.waitUntil(lambda: panel.result is not None and panel.result.labels == (7,)
                    and shown(panel), timeout=30_000)
    expected = reconstruct_files(runs["cvae"], [runs["pictures"]["square"]], labels=[7],
                                 device="cpu")
    np.testing.assert_array_equal(panel.result.reconstructions[0], expected.reconstructions[0])
    assert not np.array_equal(first, expected.reconstructions[0])


def test_models_that_are_not_vaes_hide_the_view_and_say_why(qtbot, window, runs):
    gallery = window.gallery_page
    window.tabs.setCurrentWidget(gallery)
    gallery.set_run(runs["dcgan"])
    panel = gallery.reconstruction
    assert not panel.isVisibleTo(gallery)
    assert not window.findChild(QWidget, "reconstructionDrop").isVisibleTo(gallery)
    assert "reconstructions (mlp-vae" in window.findChild(QWidget, "galleryRunLabel").toolTip()
    # A picture dropped on the page anyway is not opened as a model: the status line says why.
    errors: list = []
    window.errors.shown.connect(errors.append)
    assert drop(gallery.grid, files(runs["pictures"]["square"]))
    qtbot.waitUntil(lambda: "square.png not used" in window.statusBar().currentMessage(),
                    timeout=15_000)
    assert "dcgan has no reconstructions" in window.statusBar().currentMessage()
    assert not errors and gallery.run_dir == runs["dcgan"]


def test_a_tile_dragged_from_the_data_page_is_reconstructed(qtbot, window, runs):
    data_page = window.data_page
    rng = np.random.default_rng(0)
    tiles = rng.integers(40, 255, (12, 28, 28, 1), dtype=np.uint8)
    data_page.preview.resize(600, 600)
    data_page.preview.set_image(make_grid(tiles, columns=8))
    source = data_page.tile_drag
    # Tile 9 sits in row 1, column 1 of the 8-column grid.
    rect = data_page.preview.image_rect()
    grid_h, grid_w = data_page.preview.image.shape[:2]
    x = rect.x() + (2 + 30 + 14) * rect.width() // grid_w
    y = rect.y() + (2 + 30 + 14) * rect.height() // grid_h
    np.testing.assert_array_equal(source.tile_at(QPoint(x, y)), tiles[9])
    assert source.tile_at(QPoint(rect.x() + 1, rect.y() + 1)) is None   # the padding
    gallery = window.gallery_page
    gallery.set_run(runs["vae"])
    assert drop(window.findChild(QWidget, "reconstructionDrop"), source.mime_data(tiles[9]))
    panel = gallery.reconstruction
    qtbot.waitUntil(lambda: panel.result is not None and shown(panel), timeout=30_000)
    np.testing.assert_array_equal(panel.original_view.image, tiles[9])
    assert "dropped image" in panel.message.text()


def test_zoom_slider_and_ctrl_wheel_scale_tiles_with_crisp_pixels(qtbot, window, runs):
    gallery = window.gallery_page
    window.tabs.setCurrentWidget(gallery)
    gallery.set_run(runs["vae"])
    gallery.count_spin.setValue(4)
    gallery.generate()
    qtbot.waitUntil(lambda: gallery.grid.count() == 4 and not gallery._generating, timeout=30_000)
    slider = window.findChild(QWidget, "galleryZoomSlider")
    slider.setValue(200)                                  # 28 px tiles -> 7 x
    assert gallery.grid.iconSize().width() == 196
    item = gallery.grid.item(1)
    seed = item.data(Qt.ItemDataRole.UserRole)
    image = item.icon().pixmap(gallery.grid.iconSize()).toImage()
    from desktop_app.widgets.qimage import from_qimage
    shown_pixels = from_qimage(image)[..., 0]    # a grey tile, stored by the pixmap as RGB(A)
    np.testing.assert_array_equal(shown_pixels, upscale_nearest(gallery.images[seed], 7)[..., 0])
    before = slider.value()
    viewport = gallery.grid.viewport()
    wheel = QWheelEvent(QPointF(10, 10), QPointF(viewport.mapToGlobal(QPoint(10, 10))), QPoint(0, 0),
                        QPoint(0, 120), Qt.MouseButton.NoButton, Qt.KeyboardModifier.ControlModifier,
                        Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(viewport, wheel)
    assert slider.value() > before
    assert gallery.grid.iconSize().width() == 28 * round(slider.value() / 28)
    # New pages come at the chosen zoom too.
    gallery.next_page()
    qtbot.waitUntil(lambda: not gallery._generating, timeout=30_000)
    assert gallery.grid.iconSize().width() == 28 * round(slider.value() / 28)


def test_the_new_controls_are_documented(window):
    doc = (Path(__file__).parents[2] / "docs" / "UI.md").read_text()
    for name in ["reconstructionPanel", "reconstructionDrop", "reconstructionOpenButton",
                 "reconstructionClassCombo", "reconstructionOriginal", "reconstructionResult",
                 "reconstructionMessage", "galleryZoomSlider", "playProcessButton",
                 "animationKindCombo", "processSeedSpin", "morphPictureList", "morphAddButton",
                 "morphRemoveButton", "morphClassSpin"]:
        assert window.findChild(object, name) is not None, name
        assert f"`{name}`" in doc, f"{name} missing from docs/UI.md"
