"""The animation studio, driven through its controls: keyframes from gallery tiles,
live preview, export in every format, reopening an export; gallery extras."""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QComboBox, QPushButton

from engine.studio.exporters.provenance import read_provenance


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    """A tiny finished dcgan run (4 steps, a sample grid every step)."""
    from engine.training import TrainConfig, train
    from tests.engine.conftest import write_mnist_folder

    data = write_mnist_folder(tmp_path_factory.mktemp("idx"))
    out = tmp_path_factory.mktemp("runs") / "tiny-run"
    config = TrainConfig(model="dcgan", data=f"idx:{data}", image_size=28, width=8, batch_size=8,
                         steps=4, sample_every=1, device="cpu", seed=0, report_seconds=0.0)
    for _ in train(config, out, None):
        pass
    return out


@pytest.fixture
def run(tiny_run, tmp_path) -> Path:
    return Path(shutil.copytree(tiny_run, tmp_path / "tiny-run"))


def click(qtbot, window, name: str) -> None:
    button = window.findChild(QPushButton, name)
    assert button is not None, f"no button named {name}"
    assert button.isEnabled(), f"{name} is disabled"
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def gallery_with_tiles(qtbot, window, run, first=1, count=4):
    gallery = window.gallery_page
    window.tabs.setCurrentWidget(gallery)
    gallery.set_run(run)
    gallery.seed_spin.setValue(first)
    gallery.count_spin.setValue(count)
    click(qtbot, window, "generateButton")
    qtbot.waitUntil(lambda: gallery.grid.count() == count, timeout=30_000)
    qtbot.waitUntil(gallery.generate_button.isEnabled, timeout=10_000)
    return gallery


def select(gallery, rows):
    gallery.grid.clearSelection()
    for row in rows:
        gallery.grid.item(row).setSelected(True)


def preview_ready(studio):
    return studio.is_preview_current() and not studio._preview_busy


def read_frames(path):
    with Image.open(path) as picture:
        frames = []
        for i in range(picture.n_frames):
            picture.seek(i)
            frames.append(np.asarray(picture.convert("L")))
        return frames, dict(picture.info)


def test_walk_from_gallery_tiles_previews_and_exports_every_format(qtbot, window, run, tmp_path):
    gallery = gallery_with_tiles(qtbot, window, run)
    select(gallery, [0, 2])                       # seeds 1 and 3
    click(qtbot, window, "useAsKeyframeButton")
    studio = window.animate_page
    window.tabs.setCurrentWidget(studio)
    assert [k.seed for k in studio.keyframes()] == [1, 3]
    assert studio.run_dir == run

    studio.frames_between_spin.setValue(3)
    qtbot.mouseClick(studio.loop_check, Qt.MouseButton.LeftButton)
    assert studio.loop_check.isChecked()
    qtbot.waitUntil(lambda: preview_ready(studio), timeout=30_000)
    assert studio.frames.shape == (8, 28, 28, 1)     # 2 keyframes, 3 between, looping
    np.testing.assert_array_equal(studio.frames[0], gallery.images[1])   # the tile itself
    np.testing.assert_array_equal(studio.frames[4], gallery.images[3])

    # The preview plays while the page is open.
    seen = {studio._frame}
    qtbot.waitUntil(lambda: seen.add(studio._frame) or len(seen) >= 3, timeout=5_000)
    assert studio.preview.image is not None

    studio.scale_spin.setValue(2)
    expected = {"gif": "walk.gif", "apng": "walk.png", "webp": "walk.webp", "mp4": "walk.mp4",
                "frames": "walk-frames", "sheet": "sheet.png"}
    for fmt, name in expected.items():
        studio.format_combo.setCurrentIndex(studio.format_combo.findData(fmt))
        qtbot.waitUntil(lambda: "About" in studio.estimate_label.text(), timeout=10_000)
        target = tmp_path / name
        assert studio.export_to(target)
        qtbot.waitUntil(lambda: target.exists() and studio.export_button.isEnabled(), timeout=30_000)
        info = read_provenance(target)
        assert info["seeds"] == [1, 3] and info["format"] == fmt and info["run"] == run.name
        assert info["timeline"]["loop"] is True and info["timeline"]["frames_between"] == 3
        if fmt in ("gif", "apng", "webp"):
            frames, meta = read_frames(target)
            assert len(frames) == 8 and frames[0].shape == (56, 56)
            assert meta.get("loop") == 0
            np.testing.assert_array_equal(frames[4][::2, ::2], studio.frames[4][:, :, 0])
        elif fmt == "frames":
            assert len(list(target.iterdir())) == 8
        elif fmt == "sheet":
            with Image.open(target) as sheet:
                assert sheet.size == (3 * 56, 3 * 56)
        else:
            assert target.stat().st_size > 0

    # Reopen the GIF with different settings showing: the keyframes come back.
    studio.keyframe_list.clear()
    studio.frames_between_spin.setValue(9)
    studio.loop_check.setChecked(False)
    studio.open_animation(tmp_path / "walk.gif")
    qtbot.waitUntil(lambda: [k.seed for k in studio.keyframes()] == [1, 3], timeout=10_000)
    assert studio.frames_between_spin.value() == 3 and studio.loop_check.isChecked()
    qtbot.waitUntil(lambda: preview_ready(studio) and len(studio.frames) == 8, timeout=30_000)
    previous, _ = read_frames(tmp_path / "walk.png")
    for a, b in zip(previous, studio.frames):          # the same frames, re-rendered
        np.testing.assert_array_equal(a[::2, ::2], b[:, :, 0])


def test_reorder_remove_and_settings_change_the_walk(qtbot, window, run):
    studio = window.animate_page
    window.tabs.setCurrentWidget(studio)
    assert studio.open_run(run)
    for seed in (5, 6, 7):
        studio.seed_spin.setValue(seed)
        click(qtbot, window, "addKeyframeButton")
    assert [k.seed for k in studio.keyframes()] == [5, 6, 7]
    studio.keyframe_list.setCurrentRow(2)
    click(qtbot, window, "keyframeUpButton")
    assert [k.seed for k in studio.keyframes()] == [5, 7, 6]
    click(qtbot, window, "removeKeyframeButton")
    assert [k.seed for k in studio.keyframes()] == [5, 6]
    studio.frames_between_spin.setValue(2)
    studio.ease_combo.setCurrentIndex(studio.ease_combo.findData("in-out"))
    qtbot.waitUntil(lambda: preview_ready(studio), timeout=30_000)
    assert len(studio.frames) == 4
    assert studio.timeline().ease == "in-out"
    assert "4 frames" in studio.message.text()


def test_one_keyframe_says_what_is_missing(qtbot, window, run):
    studio = window.animate_page
    studio.open_run(run)
    studio.add_keyframes([4])
    qtbot.waitUntil(lambda: "between 2 and 256 keyframes" in studio.message.text(), timeout=5_000)
    assert not studio.is_preview_current()


def test_export_refuses_to_replace_without_confirmation(qtbot, window, run, tmp_path, monkeypatch):
    studio = window.animate_page
    studio.open_run(run)
    studio.add_keyframes([1, 2])
    studio.frames_between_spin.setValue(1)
    qtbot.waitUntil(lambda: preview_ready(studio), timeout=30_000)
    target = tmp_path / "keep.gif"
    target.write_bytes(b"precious")
    asked = []
    monkeypatch.setattr(studio, "_confirm_replace", lambda path: asked.append(path) or False)
    assert not studio.export_to(target)
    assert asked == [target] and target.read_bytes() == b"precious"
    monkeypatch.setattr(studio, "_confirm_replace", lambda path: True)
    assert studio.export_to(target)
    qtbot.waitUntil(lambda: target.read_bytes()[:3] == b"GIF", timeout=30_000)


def test_export_to_an_unwritable_place_reports_an_error(qtbot, window, run, tmp_path):
    studio = window.animate_page
    studio.open_run(run)
    studio.add_keyframes([1, 2])
    studio.frames_between_spin.setValue(1)
    qtbot.waitUntil(lambda: preview_ready(studio), timeout=30_000)
    (tmp_path / "file").write_text("x")
    shown = []
    window.errors.shown.connect(shown.append)
    with qtbot.waitSignal(window.worker.error, timeout=30_000) as signal:
        studio.export_to(tmp_path / "file" / "walk.gif")
    assert "cannot write" in signal.args[1]
    qtbot.waitUntil(studio.export_button.isEnabled, timeout=5_000)


def test_gallery_favourites_copy_and_compare(qtbot, window, run):
    gallery = gallery_with_tiles(qtbot, window, run, first=60, count=6)
    select(gallery, [1, 3])                            # seeds 61 and 63
    click(qtbot, window, "favouriteButton")
    qtbot.waitUntil(lambda: gallery.favourites == [61, 63], timeout=10_000)
    assert gallery.grid.item(1).text() == "★ seed 61"
    assert json.loads((run / "favourites.json").read_text())["seeds"] == [61, 63]

    click(qtbot, window, "showFavouritesButton")
    qtbot.waitUntil(lambda: gallery.grid.count() == 2, timeout=30_000)
    assert [gallery.grid.item(i).text() for i in range(2)] == ["★ seed 61", "★ seed 63"]

    select(gallery, [0])
    gallery.scale_spin.setValue(3)
    click(qtbot, window, "copyTileButton")
    image = QGuiApplication.clipboard().image()
    assert (image.width(), image.height()) == (84, 84)

    select(gallery, [0, 1])
    click(qtbot, window, "compareCheckpointsButton")
    dialog = window.compare_dialog
    qtbot.waitUntil(lambda: bool(dialog.rows), timeout=30_000)
    labels = [row.label for row in dialog.rows]
    assert any(label.startswith("checkpoint") for label in labels)
    assert any(label.startswith("sample grid") for label in labels)
    dialog.close()


def test_studio_controls_have_documented_object_names(window):
    doc = (Path(__file__).parents[2] / "docs" / "UI.md").read_text()
    for name in ["animateRunLabel", "animateOpenRunButton", "openAnimationButton", "keyframeList",
                 "keyframeSeedSpin", "keyframeClassSpin", "addKeyframeButton", "removeKeyframeButton",
                 "keyframeUpButton", "keyframeDownButton", "framesBetweenSpin", "easeCombo",
                 "interpolationCombo", "loopCheck", "animationPreview", "playButton",
                 "animationFpsSpin", "previewFrameLabel", "animateMessage", "exportFormatCombo",
                 "exportScaleSpin", "exportPlaysSpin", "gifPaletteCombo", "gifDitherCheck",
                 "exportEstimateLabel", "exportAnimationButton", "useAsKeyframeButton",
                 "favouriteButton", "showFavouritesButton", "compareCheckpointsButton",
                 "copyTileButton"]:
        assert window.findChild(object, name) is not None, name
        assert f"`{name}`" in doc, f"{name} missing from docs/UI.md"
    for name in ["compareDialog", "compareStatus", "compareTable", "replaceExportDialog"]:
        assert f"`{name}`" in doc, name


def test_timelapse_dialog_exports_chosen_tiles(qtbot, window, run, tmp_path):
    from PySide6.QtWidgets import QDialogButtonBox

    window.worker.current_run = run
    window.export_timelapse()
    dialog = window.timelapse_dialog
    qtbot.waitUntil(dialog.isVisible)
    out = tmp_path / "tile9.gif"
    dialog.path_edit.setText(str(out))
    dialog.scale_spin.setValue(2)
    save = dialog.buttons.button(QDialogButtonBox.StandardButton.Save)
    dialog.tiles_edit.setText("9, x")
    qtbot.mouseClick(save, Qt.MouseButton.LeftButton)
    assert dialog.isVisible() and "0 to 63" in dialog.summary.text()
    dialog.tiles_edit.setText("9")
    with qtbot.waitSignal(window.timelapseExported, timeout=30_000):
        qtbot.mouseClick(save, Qt.MouseButton.LeftButton)
    frames, _ = read_frames(out)
    assert frames[0].shape == (56, 56) and len(frames) == 5
    assert read_provenance(out)["tiles"] == [9]


def test_a_closing_window_starts_no_new_previews(qtbot, window, run):
    studio = window.animate_page
    studio.open_run(run)
    studio.add_keyframes([1, 2])
    studio.frames_between_spin.setValue(1)
    qtbot.waitUntil(lambda: preview_ready(studio), timeout=30_000)
    studio.stop()
    studio.frames_between_spin.setValue(5)
    qtbot.wait(3 * 150)
    assert not studio._preview_busy and len(studio.frames) == 3
    studio.restart()
    studio.frames_between_spin.setValue(4)
    qtbot.waitUntil(lambda: preview_ready(studio) and len(studio.frames) == 6, timeout=30_000)


def test_without_video_mp4_is_greyed_out_with_the_reason(qtbot, window, monkeypatch):
    from desktop_app.pages.animate_page import AnimatePage

    monkeypatch.setitem(sys.modules, "av", None)      # as in a build made --without-video
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    page = AnimatePage(window.worker)
    qtbot.addWidget(page)
    combo = page.findChild(QComboBox, "exportFormatCombo")
    item = combo.model().item(combo.findData("mp4"))
    assert not item.isEnabled() and item.text().endswith("unavailable")
    assert item.toolTip().startswith("This build of Latent Atelier leaves out video")
    assert all(combo.model().item(i).isEnabled() for i in range(combo.count())
               if combo.itemData(i) != "mp4")
    # With video, as in the window built before: MP4 is there to choose.
    main_combo = window.findChild(QComboBox, "exportFormatCombo")
    assert main_combo.model().item(main_combo.findData("mp4")).isEnabled()


# -- memory (issue 22, item 9) ------------------------------------------------------------
def _previewed_walk(qtbot, studio, run):
    studio.open_run(run)
    studio.add_keyframes([1, 2])
    studio.frames_between_spin.setValue(1)
    qtbot.waitUntil(lambda: preview_ready(studio), timeout=30_000)


def test_export_above_the_memory_share_asks_first(qtbot, window, run, tmp_path, monkeypatch):
    studio = window.animate_page
    _previewed_walk(qtbot, studio, run)
    need = studio.export_memory("gif", studio.export_options()).total_bytes
    # More than half of what is available, but not more than all of it: ask.
    monkeypatch.setattr("engine.studio.exporters.memory.available_ram", lambda: int(need * 1.5))
    asked, statuses = [], []
    studio.status.connect(statuses.append)
    monkeypatch.setattr(studio, "_confirm_memory", lambda question: asked.append(question) or False)
    target = tmp_path / "walk.gif"
    assert not studio.export_to(target)
    assert len(asked) == 1 and "more than 50% of the" in asked[0] and asked[0].endswith("Export anyway?")
    assert not target.exists() and "Not exported" in statuses[-1]
    monkeypatch.setattr(studio, "_confirm_memory", lambda question: True)
    assert studio.export_to(target)
    qtbot.waitUntil(lambda: target.exists() and target.read_bytes()[:3] == b"GIF", timeout=30_000)
    qtbot.waitUntil(studio.export_button.isEnabled, timeout=5_000)


def test_export_above_all_available_memory_is_refused(qtbot, window, run, tmp_path, monkeypatch):
    studio = window.animate_page
    _previewed_walk(qtbot, studio, run)
    monkeypatch.setattr("engine.studio.exporters.memory.available_ram", lambda: 1024)
    monkeypatch.setattr(studio, "_confirm_memory", lambda question: pytest.fail("asked"))
    statuses = []
    studio.status.connect(statuses.append)
    target = tmp_path / "walk.png"
    studio.format_combo.setCurrentIndex(studio.format_combo.findData("sheet"))
    assert not studio.export_to(target)
    assert not target.exists()
    assert statuses[-1].startswith("Not exported: the export needs about")
    assert "as sheet" in statuses[-1] and "lower the scale" in statuses[-1]
    # The estimate shown beside the button says so before anyone presses it.
    qtbot.waitUntil(lambda: "Too much" in studio.estimate_label.text(), timeout=30_000)
    assert "of memory" in studio.estimate_label.text()
