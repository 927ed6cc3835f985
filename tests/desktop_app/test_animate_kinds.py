"""The Animate page's other kinds, driven by their controls: a row-lstm's and a
DRAW model's own process (from the page and from a gallery tile) and a VAE's
reconstruction morph, previewed and exported through the same exporters."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QPushButton, QSpinBox, QWidget

from engine.studio.animation import process_frames
from engine.studio.exporters.provenance import read_provenance
from engine.studio.morph import morph_frames
from engine.training import TrainConfig, train
from tests.engine.conftest import write_mnist_folder, write_pictures


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("kinds-runs")
    data = write_mnist_folder(base / "data", n_train=32, n_test=8)

    def tiny(name: str, model: str, **settings) -> Path:
        config = TrainConfig(**{**dict(model=model, data=f"idx:{data}", batch_size=8, steps=2,
                                       device="cpu", sample_every=1000, report_seconds=0.0),
                                **settings})
        list(train(config, base / name))
        return base / name

    return {"row-lstm": tiny("row", "row-lstm", image_size=8, width=8),
            "draw": tiny("draw", "draw", image_size=8, width=8),
            "vae": tiny("vae", "mlp-vae"), "dcgan": tiny("dcgan", "dcgan", width=8),
            "pictures": write_pictures(base / "pictures")}


def click(qtbot, window, name: str) -> None:
    button = window.findChild(QPushButton, name)
    assert button is not None and button.isEnabled(), name
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def choose(combo: QComboBox, data: str) -> None:
    index = combo.findData(data)
    assert combo.model().item(index).isEnabled(), f"{data} is greyed out"
    combo.setCurrentIndex(index)


def ready(studio) -> bool:
    return studio.is_preview_current() and not studio._preview_busy


def export(qtbot, studio, path: Path, fmt: str = "gif") -> dict:
    studio.format_combo.setCurrentIndex(studio.format_combo.findData(fmt))
    assert studio.export_to(path)
    qtbot.waitUntil(lambda: path.exists() and studio.export_button.isEnabled(), timeout=30_000)
    return read_provenance(path)


@pytest.mark.parametrize("model,steps,process", [("row-lstm", 8, "filling in"),
                                                 ("draw", None, "drawing")])
def test_process_previews_and_exports_from_the_animate_page(qtbot, window, runs, tmp_path, model,
                                                            steps, process):
    studio = window.animate_page
    window.tabs.setCurrentWidget(studio)
    assert studio.open_run(runs[model])
    kinds = window.findChild(QComboBox, "animationKindCombo")
    choose(kinds, "process")
    assert studio.process_panel.isVisibleTo(studio) and not studio.keyframes_box.isVisibleTo(studio)
    assert not studio.timing_box.isVisibleTo(studio)
    window.findChild(QSpinBox, "processSeedSpin").setValue(5)
    qtbot.waitUntil(lambda: ready(studio), timeout=60_000)
    expected, _ = process_frames(runs[model], 5, device="cpu")
    np.testing.assert_array_equal(studio.frames, expected)
    if steps is not None:
        assert len(studio.frames) == steps     # one frame per row of the 8 x 8 image
    # It plays in the window.
    seen = {studio._frame}
    qtbot.waitUntil(lambda: seen.add(studio._frame) or len(seen) >= 3, timeout=5_000)
    studio.scale_spin.setValue(2)
    out = tmp_path / "process.gif"
    info = export(qtbot, studio, out)
    assert info["kind"] == "process" and info["process"] == process and info["seeds"] == [5]
    assert info["format"] == "gif" and info["run"] == runs[model].name
    with Image.open(out) as gif:
        assert gif.size == (16, 16) and gif.n_frames <= len(expected)
        gif.seek(gif.n_frames - 1)
        np.testing.assert_array_equal(np.asarray(gif.convert("L"))[::2, ::2], expected[-1, :, :, 0])


def test_the_gallery_plays_the_process_of_a_selected_tile(qtbot, window, runs, tmp_path):
    gallery = window.gallery_page
    window.tabs.setCurrentWidget(gallery)
    gallery.set_run(runs["row-lstm"])
    gallery.seed_spin.setValue(10)
    gallery.count_spin.setValue(3)
    click(qtbot, window, "generateButton")
    qtbot.waitUntil(lambda: gallery.grid.count() == 3 and not gallery._generating, timeout=60_000)
    assert not window.findChild(QPushButton, "playProcessButton").isEnabled()   # nothing selected
    gallery.grid.item(1).setSelected(True)                                     # seed 11
    click(qtbot, window, "playProcessButton")
    studio = window.animate_page
    assert window.tabs.currentWidget() is studio and studio.kind() == "process"
    qtbot.waitUntil(lambda: ready(studio), timeout=60_000)
    # The process ends on the very tile the gallery shows.
    np.testing.assert_array_equal(studio.frames[-1], gallery.images[11])
    info = export(qtbot, studio, tmp_path / "tile-process.webp", "webp")
    assert info["seeds"] == [11] and info["kind"] == "process"


def test_families_without_a_process_or_an_encoder_hide_those_kinds(window, runs):
    studio = window.animate_page
    gallery = window.gallery_page
    gallery.set_run(runs["dcgan"])
    assert not window.findChild(QPushButton, "playProcessButton").isVisibleTo(gallery)
    studio.open_run(runs["dcgan"])
    kinds = window.findChild(QComboBox, "animationKindCombo")
    for kind, reason in (("process", "no process animation"), ("morph", "needs a VAE")):
        row = kinds.findData(kind)
        assert kinds.view().isRowHidden(row) and not kinds.model().item(row).isEnabled()
        assert reason in kinds.toolTip()
    studio.open_run(runs["row-lstm"])
    assert not kinds.view().isRowHidden(kinds.findData("process"))
    assert kinds.view().isRowHidden(kinds.findData("morph"))
    assert "no process animation" not in kinds.toolTip()


def test_reconstruction_morph_previews_and_exports_from_the_animate_page(qtbot, window, runs, tmp_path):
    studio = window.animate_page
    window.tabs.setCurrentWidget(studio)
    assert studio.open_run(runs["vae"])
    choose(window.findChild(QComboBox, "animationKindCombo"), "morph")
    assert studio.morph_panel.isVisibleTo(studio) and studio.timing_box.isVisibleTo(studio)
    assert "two or more pictures" in studio.message.text() or not studio.message.text()
    pictures = runs["pictures"]
    studio.morph_panel.add_pictures([pictures["bar"], pictures["square"], pictures["rgba"]])
    studio.frames_between_spin.setValue(3)
    qtbot.mouseClick(studio.loop_check, Qt.MouseButton.LeftButton)
    studio.ease_combo.setCurrentIndex(studio.ease_combo.findData("in-out"))
    studio.interpolation_combo.setCurrentIndex(studio.interpolation_combo.findData("lerp"))
    qtbot.waitUntil(lambda: ready(studio), timeout=60_000)
    assert studio.frames.shape == (12, 28, 28, 1)
    expected, _ = morph_frames(runs["vae"], [pictures["bar"], pictures["square"], pictures["rgba"]],
                               device="cpu", frames_between=3, loop=True, ease="in-out",
                               interpolation="lerp")
    np.testing.assert_array_equal(studio.frames, expected)

    # Reordering the pictures re-renders: the morph now starts on the square.
    studio.morph_panel.picture_list.setCurrentRow(1)
    moved = studio.morph_panel.picture_list.takeItem(1)
    studio.morph_panel.picture_list.insertItem(0, moved)
    studio.morph_panel.changed.emit()
    qtbot.waitUntil(lambda: ready(studio) and studio.provenance["inputs"][0] == "square.png",
                    timeout=60_000)
    studio.scale_spin.setValue(2)
    out = tmp_path / "morph.gif"
    info = export(qtbot, studio, out)
    assert info["kind"] == "morph" and info["inputs"] == ["square.png", "bar.jpg", "rgba.png"]
    assert info["morph"] == {"frames_between": 3, "ease": "in-out", "loop": True,
                             "interpolation": "lerp"} and info["format"] == "gif"
    with Image.open(out) as gif:
        assert gif.size == (56, 56) and gif.info.get("loop") == 0

    # Removing a picture leaves two: still a morph; removing another says what is missing.
    studio.morph_panel.picture_list.setCurrentRow(2)
    click(qtbot, window, "morphRemoveButton")
    qtbot.waitUntil(lambda: ready(studio), timeout=60_000)
    assert len(studio.frames) == 8
    studio.morph_panel.picture_list.setCurrentRow(1)
    click(qtbot, window, "morphRemoveButton")
    qtbot.waitUntil(lambda: "two or more pictures" in studio.message.text(), timeout=10_000)
    assert not studio.is_preview_current()


def test_a_bad_picture_in_a_morph_is_reported_clearly(qtbot, window, runs):
    studio = window.animate_page
    studio.open_run(runs["vae"])
    studio.set_kind("morph")
    shown: list = []
    window.errors.shown.connect(shown.append)
    studio.morph_panel.add_pictures([runs["pictures"]["square"], runs["pictures"]["empty"]])
    qtbot.waitUntil(lambda: bool(shown), timeout=30_000)
    assert "empty.png" in shown[0].message and "empty file" in shown[0].message


def test_picture_files_dropped_on_the_morph_list_are_added(window, runs):
    from tests.desktop_app.test_gallery_reconstruction import drop, files

    studio = window.animate_page
    studio.open_run(runs["vae"])
    studio.set_kind("morph")
    target = window.findChild(QWidget, "morphPictureList").viewport()
    assert drop(target, files(runs["pictures"]["square"], runs["pictures"]["bar"]))
    paths, labels = studio.morph_panel.pictures()
    assert [Path(p).name for p in paths] == ["square.png", "bar.jpg"] and labels is None


def test_opening_process_and_morph_exports_restores_them(qtbot, window, runs, tmp_path):
    import shutil

    studio = window.animate_page
    studio.open_run(runs["row-lstm"])
    studio.set_kind("process")
    studio.process_panel.seed_spin.setValue(4)
    qtbot.waitUntil(lambda: ready(studio), timeout=60_000)
    process_gif = tmp_path / "process.gif"
    export(qtbot, studio, process_gif)
    studio.process_panel.seed_spin.setValue(0)
    studio.set_kind("interpolate")
    studio.open_animation(process_gif)
    qtbot.waitUntil(lambda: studio.kind() == "process" and studio.process_panel.seed == 4,
                    timeout=10_000)

    # A morph comes back when its pictures lie beside it, unchanged.
    studio.open_run(runs["vae"])
    studio.set_kind("morph")
    for name in ("square", "bar"):
        shutil.copy(runs["pictures"][name], tmp_path)
    studio.morph_panel.add_pictures([tmp_path / "square.png", tmp_path / "bar.jpg"])
    studio.frames_between_spin.setValue(2)
    qtbot.waitUntil(lambda: ready(studio), timeout=60_000)
    rendered = studio.frames.copy()
    morph_gif = tmp_path / "morph.gif"
    export(qtbot, studio, morph_gif)
    studio.morph_panel.picture_list.clear()
    studio.frames_between_spin.setValue(5)
    studio.set_kind("interpolate")
    studio.open_animation(morph_gif)
    qtbot.waitUntil(lambda: studio.kind() == "morph" and ready(studio), timeout=60_000)
    assert studio.frames_between_spin.value() == 2
    np.testing.assert_array_equal(studio.frames, rendered)
    # Changed pictures are not taken for the originals.
    (tmp_path / "bar.jpg").write_bytes(runs["pictures"]["rgba"].read_bytes())
    studio.morph_panel.picture_list.clear()
    messages: list = []
    studio.status.connect(messages.append)
    studio.open_animation(morph_gif)
    qtbot.waitUntil(lambda: bool(messages), timeout=10_000)
    assert "put those pictures beside it" in messages[-1]
    assert studio.morph_panel.picture_list.count() == 0
