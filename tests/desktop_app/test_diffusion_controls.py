"""Diffusion and flow runs in the app, driven as a user would: the gallery's
sampler steps and guidance (shown only for models that take them), tiles
reproducible from seed, steps and guidance; variations of a picture at a
strength; walks, the denoising process and a morph between two real pictures
on the Animate page, each with the steps and guidance chosen."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QAbstractSpinBox, QCheckBox, QComboBox, QDoubleSpinBox,
                               QPushButton, QSlider, QSpinBox, QWidget)

from engine.studio.animation import process_frames, walk_frames
from engine.studio.keyframes import Keyframe, Timeline
from engine.studio.morph import morph_frames
from engine.studio.exporters.provenance import read_provenance
from engine.studio.sampling import sample_run
from engine.studio.variation import vary_picture
from engine.training import TrainConfig, train
from tests.desktop_app.test_gallery_reconstruction import drop, files
from tests.engine.conftest import write_mnist_folder, write_pictures

# A U-Net small enough to train and sample in a moment on a CPU.
TINY_UNET = {"depth": 2, "blocks": 1, "sample_steps": 2}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("diffusion-runs")
    data = write_mnist_folder(base / "data", n_train=32, n_test=8)

    def tiny(name: str, model: str, width: int = 8, **settings) -> Path:
        config = TrainConfig(model=model, data=f"idx:{data}", batch_size=8, steps=2,
                             device="cpu", sample_every=1000, report_seconds=0.0, width=width,
                             model_settings=settings)
        list(train(config, base / name))
        return base / name

    return {"ddpm": tiny("ddpm", "ddpm", **TINY_UNET),   # class-conditional: the data has labels
            "flow": tiny("flow", "flow", **TINY_UNET, conditional=False),
            "dcgan": tiny("dcgan", "dcgan"),
            "pictures": write_pictures(base / "pictures")}


def find(window, kind, name: str):
    widget = window.findChild(kind, name)
    assert widget is not None, name
    return widget


def type_into(qtbot, box: QAbstractSpinBox, text: str) -> None:
    """Select the box's text and type a new value, then Enter."""
    box.setFocus()
    box.selectAll()
    qtbot.keyClicks(box, text)
    qtbot.keyClick(box, Qt.Key.Key_Return)


def click(qtbot, window, name: str) -> None:
    button = find(window, QPushButton, name)
    assert button.isEnabled(), name
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def open_in_gallery(qtbot, window, run: Path):
    gallery = window.gallery_page
    window.tabs.setCurrentWidget(gallery)
    gallery.set_run(run)
    qtbot.waitUntil(lambda: not gallery.sampling.sampler.pending, timeout=30_000)
    return gallery


def generated(qtbot, gallery, count: int) -> None:
    qtbot.waitUntil(lambda: gallery.grid.count() == count and not gallery._generating,
                    timeout=60_000)


def tiles(gallery) -> np.ndarray:
    return np.stack([gallery.images[gallery.grid.item(i).data(Qt.ItemDataRole.UserRole)]
                     for i in range(gallery.grid.count())])


def test_steps_and_guidance_make_tiles_that_come_again_from_seed_steps_and_guidance(
        qtbot, window, runs, tmp_path):
    gallery = open_in_gallery(qtbot, window, runs["ddpm"])
    steps, guidance = find(window, QSpinBox, "samplerStepsSpin"), find(window, QDoubleSpinBox,
                                                                         "guidanceSpin")
    # Shown for a class-conditional diffusion run, starting at the run's own values.
    assert steps.isVisibleTo(gallery) and guidance.isVisibleTo(gallery)
    assert steps.value() == 2 and guidance.value() == 2.0
    type_into(qtbot, steps, "3")
    type_into(qtbot, guidance, "1.5")
    assert gallery.sampling.sampler.settings() == {"steps": 3, "guidance": 1.5}
    gallery.count_spin.setValue(4)
    gallery.seed_spin.setValue(5)
    click(qtbot, window, "generateButton")
    generated(qtbot, gallery, 4)
    first = tiles(gallery)
    expected = sample_run(runs["ddpm"], [5, 6, 7, 8], device="cpu", steps=3, guidance=1.5)
    np.testing.assert_array_equal(first, expected)
    assert "steps 3, guidance 1.5" in gallery.grid.item(0).toolTip()

    # The same seed, steps and guidance: the same tiles; other steps: other tiles.
    click(qtbot, window, "generateButton")
    generated(qtbot, gallery, 4)
    np.testing.assert_array_equal(tiles(gallery), first)
    type_into(qtbot, steps, "4")
    click(qtbot, window, "generateButton")
    qtbot.waitUntil(lambda: not gallery._generating and not np.array_equal(tiles(gallery), first),
                    timeout=60_000)

    # A saved tile records what remakes it.
    gallery.grid.item(1).setSelected(True)
    saved = gallery.save_selected(str(tmp_path / "tile.png"))
    record = read_provenance(saved)
    assert record["seed"] == 6 and record["sampler_steps"] == 4 and record["guidance"] == 1.5
    assert record["class"] == 6   # by seed: seed mod the classes


def test_models_without_an_iterative_sampler_hide_its_controls(qtbot, window, runs):
    gallery = open_in_gallery(qtbot, window, runs["dcgan"])
    for name in ("samplerStepsSpin", "guidanceSpin", "varyStrengthSlider", "varyOpenButton"):
        assert not find(window, QWidget, name).isVisibleTo(gallery), name
    assert not find(window, QWidget, "variationPanel").isVisibleTo(gallery)
    assert gallery.sampling.sampler.settings() == {}
    # An unconditional flow run takes steps but no guidance (there is no class to steer to).
    gallery = open_in_gallery(qtbot, window, runs["flow"])
    assert find(window, QSpinBox, "samplerStepsSpin").isVisibleTo(gallery)
    assert not find(window, QDoubleSpinBox, "guidanceSpin").isVisibleTo(gallery)
    assert find(window, QWidget, "variationPanel").isVisibleTo(gallery)
    # The variations take the reconstruction view's place beside the tiles.
    assert not gallery.reconstruction.isVisibleTo(gallery)
    # Back to the GAN: hidden again, and it has no reconstruction view either.
    gallery = open_in_gallery(qtbot, window, runs["dcgan"])
    assert not find(window, QWidget, "samplerStepsSpin").isVisibleTo(gallery)
    assert not gallery.reconstruction.isVisibleTo(gallery)


def test_the_strength_slider_and_a_dropped_picture_make_a_page_of_variations(
        qtbot, window, runs, tmp_path):
    gallery = open_in_gallery(qtbot, window, runs["flow"])
    panel = gallery.variations
    gallery.count_spin.setValue(10)     # more than one engine call: the progress bar moves
    gallery.seed_spin.setValue(3)
    slider = find(window, QSlider, "varyStrengthSlider")
    assert slider.value() == 50 and find(window, QWidget, "varyStrengthLabel").text() == "0.50"
    picture = runs["pictures"]["square"]
    progress: list[int] = []
    panel.progress.valueChanged.connect(progress.append)
    assert drop(find(window, QWidget, "varyDrop"), files(picture))
    qtbot.waitUntil(lambda: not panel.busy and gallery.grid.count() == 10, timeout=60_000)
    seeds = list(range(3, 13))
    expected = vary_picture(runs["flow"], picture, 0.5, seeds, device="cpu", steps=2)
    np.testing.assert_array_equal(tiles(gallery), expected)
    assert 8 in progress and progress[-1] == 10
    assert "square.png" in panel.message.text() and "0.50" in panel.message.text()

    # The keyboard moves the strength; once it rests the page is made again.
    slider.setFocus()
    for _ in range(2):
        qtbot.keyClick(slider, Qt.Key.Key_PageUp)   # +0.10 each
    assert find(window, QWidget, "varyStrengthLabel").text() == "0.70"
    qtbot.waitUntil(lambda: not panel.busy and panel.page is not None
                    and panel.page.strength == 0.7 and gallery.grid.count() == 10,
                    timeout=60_000)
    again = vary_picture(runs["flow"], picture, 0.7, seeds, device="cpu", steps=2)
    np.testing.assert_array_equal(tiles(gallery), again)
    assert not np.array_equal(again, expected)

    # The usual tile actions: save (with what remakes the variation), copy.
    gallery.grid.item(0).setSelected(True)
    record = read_provenance(gallery.save_selected(str(tmp_path / "variation.png")))
    assert record["seed"] == 3 and record["kind"] == "variation" and record["run"] == "flow"
    assert record["input"] == "square.png" and record["strength"] == 0.7
    assert record["sampler_steps"] == 2 and "guidance" not in record
    assert gallery.copy_selected()
    # Next page: the next seeds, still varying the picture.
    click(qtbot, window, "nextPageButton")
    qtbot.waitUntil(lambda: not panel.busy and gallery.grid.item(0) is not None
                    and gallery.grid.item(0).data(Qt.ItemDataRole.UserRole) == 13
                    and gallery.grid.count() == 10, timeout=60_000)


def test_a_refused_picture_is_explained_in_the_panel_and_keeps_the_tiles(qtbot, window, runs):
    gallery = open_in_gallery(qtbot, window, runs["flow"])
    gallery.count_spin.setValue(2)
    click(qtbot, window, "generateButton")
    generated(qtbot, gallery, 2)
    before = tiles(gallery)
    errors: list = []
    window.errors.shown.connect(errors.append)
    panel = gallery.variations
    panel.vary_files([str(runs["pictures"]["text"])])
    qtbot.waitUntil(lambda: not panel.busy and "notes.png" in panel.message.text(), timeout=30_000)
    assert "not a picture" in panel.message.text() and not errors
    np.testing.assert_array_equal(tiles(gallery), before)


def test_walks_and_the_process_use_the_gallerys_steps_and_guidance(qtbot, window, runs,
                                                                    tmp_path):
    gallery = open_in_gallery(qtbot, window, runs["ddpm"])
    type_into(qtbot, find(window, QSpinBox, "samplerStepsSpin"), "3")
    gallery.count_spin.setValue(3)
    gallery.seed_spin.setValue(0)
    click(qtbot, window, "generateButton")
    generated(qtbot, gallery, 3)
    gallery.grid.item(0).setSelected(True)
    gallery.grid.item(2).setSelected(True)
    click(qtbot, window, "useAsKeyframeButton")
    studio = window.animate_page
    steps = find(window, QSpinBox, "animateStepsSpin")
    qtbot.waitUntil(lambda: not studio.sampler.pending and steps.value() == 3, timeout=30_000)
    assert find(window, QDoubleSpinBox, "animateGuidanceSpin").value() == 2.0
    studio.frames_between_spin.setValue(2)
    qtbot.waitUntil(lambda: studio.is_preview_current() and not studio._preview_busy,
                    timeout=60_000)
    # The walk's keyframes are the very tiles, made with the gallery's 3 steps.
    np.testing.assert_array_equal(studio.frames[0], gallery.images[0])
    np.testing.assert_array_equal(studio.frames[3], gallery.images[2])
    # Each keyframe keeps its tile's class (seed mod 10 here).
    assert [(k.seed, k.label) for k in studio.keyframes()] == [(0, 0), (2, 2)]
    timeline = Timeline([Keyframe(0, 0), Keyframe(2, 2)], frames_between=2)
    frames, info = walk_frames(runs["ddpm"], timeline, device="cpu", steps=3)
    np.testing.assert_array_equal(studio.frames, frames)
    assert studio.provenance["sampler_steps"] == 3
    # An export remembers them: opening it sets the steps back.
    path = tmp_path / "walk.gif"
    assert studio.export_to(path)
    qtbot.waitUntil(lambda: path.exists() and studio.export_button.isEnabled(), timeout=30_000)
    type_into(qtbot, steps, "5")
    studio.open_animation(path)
    qtbot.waitUntil(lambda: steps.value() == 3, timeout=30_000)

    # Play process on a tile: the denoising, ending on that tile, one frame per step.
    window.tabs.setCurrentWidget(gallery)
    gallery.grid.clearSelection()
    gallery.grid.item(1).setSelected(True)
    click(qtbot, window, "playProcessButton")
    assert window.tabs.currentWidget() is studio and studio.kind() == "process"
    qtbot.waitUntil(lambda: studio.is_preview_current() and not studio._preview_busy,
                    timeout=60_000)
    assert len(studio.frames) == 4     # the noise, then 3 steps
    np.testing.assert_array_equal(studio.frames[-1], gallery.images[1])
    expected, _ = process_frames(runs["ddpm"], 1, device="cpu", steps=3)
    np.testing.assert_array_equal(studio.frames, expected)


def test_the_process_can_show_the_predicted_picture_at_each_step(qtbot, window, runs, tmp_path):
    studio = window.animate_page
    window.tabs.setCurrentWidget(studio)
    assert studio.open_run(runs["flow"])
    studio.set_kind("process")
    qtbot.waitUntil(lambda: not studio.sampler.pending, timeout=30_000)
    check = find(window, QCheckBox, "processPredictionCheck")
    assert check.isVisibleTo(studio) and not check.isChecked()
    type_into(qtbot, find(window, QSpinBox, "animateStepsSpin"), "3")
    studio.process_panel.seed_spin.setValue(2)
    qtbot.waitUntil(lambda: studio.is_preview_current() and not studio._preview_busy,
                    timeout=60_000)
    noisy = studio.frames
    check.setChecked(True)
    qtbot.waitUntil(lambda: studio.is_preview_current() and not studio._preview_busy
                    and not np.array_equal(studio.frames, noisy), timeout=60_000)
    expected, _ = process_frames(runs["flow"], 2, device="cpu", steps=3, shows="prediction")
    np.testing.assert_array_equal(studio.frames, expected)
    # Exported like every animation; opening the export restores the view.
    path = tmp_path / "guess.gif"
    assert studio.export_to(path)
    qtbot.waitUntil(lambda: path.exists() and studio.export_button.isEnabled(), timeout=30_000)
    assert read_provenance(path)["shows"] == "prediction"
    check.setChecked(False)
    studio.open_animation(path)
    qtbot.waitUntil(lambda: check.isChecked(), timeout=30_000)
    # A model whose process has one view: no such control.
    studio.open_run(runs["dcgan"])
    assert check.isHidden()


def test_a_morph_between_two_pictures_through_inversion(qtbot, window, runs):
    studio = window.animate_page
    window.tabs.setCurrentWidget(studio)
    assert studio.open_run(runs["flow"])
    kinds = find(window, QComboBox, "animationKindCombo")
    morph = kinds.findData("morph")
    assert kinds.model().item(morph).isEnabled()
    kinds.setCurrentIndex(morph)
    qtbot.waitUntil(lambda: not studio.sampler.pending, timeout=30_000)
    pictures = runs["pictures"]
    studio.morph_panel.add_pictures([pictures["square"], pictures["bar"]])
    type_into(qtbot, find(window, QSpinBox, "animateStepsSpin"), "3")
    studio.frames_between_spin.setValue(2)
    qtbot.waitUntil(lambda: studio.is_preview_current() and not studio._preview_busy,
                    timeout=60_000)
    timing = studio._timing()
    expected, info = morph_frames(runs["flow"], [pictures["square"], pictures["bar"]],
                                  device="cpu", steps=3, **timing)
    np.testing.assert_array_equal(studio.frames, expected)
    assert len(studio.frames) == 4
    assert studio.provenance["keyframes_from"] == "inversion"
    assert studio.provenance["sampler_steps"] == 3
    # A GAN cannot morph pictures: the kind is hidden, the picker's tooltip says why.
    studio.open_run(runs["dcgan"])
    assert kinds.view().isRowHidden(morph) and not kinds.model().item(morph).isEnabled()
    assert "needs a VAE" in kinds.toolTip()
    assert not find(window, QSpinBox, "animateStepsSpin").isVisibleTo(studio)


def test_the_new_controls_are_documented():
    doc = (Path(__file__).parents[2] / "docs" / "UI.md").read_text()
    for name in ("samplerStepsSpin", "guidanceSpin", "variationPanel", "varyDrop", "varyOpenButton",
                 "varyStrengthSlider", "varyStrengthLabel", "varyProgress", "varyMessage", "varyOriginal",
                 "animateStepsSpin", "animateGuidanceSpin", "processPredictionCheck",
                 "compareStepsSpin", "compareGuidanceSpin"):
        assert f"`{name}`" in doc, name


@pytest.mark.slow   # two live grids of 64 pictures, 20 sampler steps each: about a minute on 2 cores
def test_the_train_page_plays_the_denoising_while_the_gui_never_waits(qtbot, window):
    """Live grids and the process are drawn on the training thread: the event loop
    keeps running while a diffusion run samples its grids."""
    from desktop_app.responsiveness import StallProbe
    from tests.desktop_app.conftest import quick_settings

    page = window.train_page
    page.model_combo.setCurrentIndex(page.model_combo.findData("ddpm"))
    quick_settings(window, steps=3, width=8, batch=8)      # a dcgan's quick settings...
    page.model_combo.setCurrentIndex(page.model_combo.findData("ddpm"))   # ...for a ddpm
    assert page.config().model == "ddpm" and page.config().steps == 3
    probe = StallProbe(interval_ms=10)
    probe.start()
    click(qtbot, window, "trainButton")
    qtbot.waitUntil(lambda: not window.worker.is_training, timeout=120_000)
    probe.stop()
    assert page.process_box.isVisibleTo(page) and "denoising" in page.process_box.title()
    assert len(page.process_view.frames) == 21      # the noise, then the run's 20 steps
    assert page.sample_view.image is not None
    # Generous for a loaded machine: a grid that took seconds must not show here.
    print(f"worst stall {probe.worst_stall_ms:.0f} ms, 99th percentile gap "
          f"{probe.percentile_ms(99):.0f} ms over {len(probe.gaps_ms)} ticks")
    assert probe.worst_stall_ms < 500, f"GUI stalled for {probe.worst_stall_ms:.0f} ms"
