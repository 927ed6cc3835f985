"""Only what the model can do shows: panels, controls and menu items follow the
model spec's declared capabilities, hidden (not greyed) otherwise, with one
tooltip line where hiding would leave the artist wondering. A GAN and a VAE,
each opened as a person opens a run, with no Qt warning logged."""
from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QComboBox, QMenu, QWidget

from engine.training import TrainConfig, train
from tests.engine.conftest import write_mnist_folder

PLATFORM_NOISE = ("This plugin does not support",)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("capabilities")
    data = write_mnist_folder(base / "data", n_train=32, n_test=8)
    made = {}
    for model, extra in (("dcgan", {"width": 8}), ("mlp-vae", {}), ("cvae", {})):
        config = TrainConfig(model=model, data=f"idx:{data}", image_size=28, batch_size=8, steps=2,
                             device="cpu", seed=0, report_seconds=0.0, **extra)
        list(train(config, base / model))
        made[model] = base / model
    return made


def shown(window, page: QWidget, name: str) -> bool:
    widget = window.findChild(QWidget, name)
    assert widget is not None, name
    return widget.isVisibleTo(page)


def menu_items(window) -> list[str]:
    """The Gallery menu's items a person sees (hidden ones are not listed)."""
    menu = window.menuBar().findChild(QMenu, "galleryMenu")
    menu.aboutToShow.emit()
    return [a.objectName() for a in menu.actions() if a.isVisible() and not a.isSeparator()]


def qt_warnings(qtlog) -> list[str]:
    return [r.message for r in qtlog.records if not r.message.startswith(PLATFORM_NOISE)]


def test_a_gan_shows_no_reconstruction_process_or_class_pickers(qtbot, qtlog, window, runs):
    gallery, studio = window.gallery_page, window.animate_page
    window.tabs.setCurrentWidget(gallery)
    gallery.open_source(runs["dcgan"])
    for name in ("reconstructionPanel", "variationPanel", "playProcessButton",
                 "galleryClassCombo", "temperatureSlider", "samplerStepsSpin"):
        assert not shown(window, gallery, name), name
    assert shown(window, gallery, "truncationSlider")     # a GAN's own sampling control
    tooltip = window.findChild(QWidget, "galleryRunLabel").toolTip()
    assert tooltip.startswith("dcgan has no reconstructions (") and "process animation" in tooltip
    assert tooltip.count("\n") == 0                        # one line
    assert menu_items(window) == ["generateAction", "useAsKeyframeAction"]

    window.tabs.setCurrentWidget(studio)
    assert studio.run_dir == runs["dcgan"]                 # the current run
    kinds = window.findChild(QComboBox, "animationKindCombo")
    offered = [kinds.itemData(row) for row in range(kinds.count()) if not kinds.view().isRowHidden(row)]
    assert offered == ["interpolate"]
    assert "has no process animation" in kinds.toolTip() and "needs a VAE" in kinds.toolTip()
    for name in ("keyframeClassSpin", "animateStepsSpin", "animateGuidanceSpin"):
        assert not shown(window, studio, name), name
    qtbot.waitUntil(lambda: not gallery._generating, timeout=30_000)
    assert qt_warnings(qtlog) == []


def test_a_vae_shows_its_reconstruction_view_and_morphs(qtbot, qtlog, window, runs):
    gallery, studio = window.gallery_page, window.animate_page
    window.tabs.setCurrentWidget(gallery)
    gallery.open_source(runs["mlp-vae"])
    assert shown(window, gallery, "reconstructionPanel")
    assert shown(window, gallery, "reconstructionDrop")
    assert shown(window, gallery, "temperatureSlider")
    for name in ("variationPanel", "playProcessButton", "truncationSlider", "galleryClassCombo"):
        assert not shown(window, gallery, name), name
    tooltip = window.findChild(QWidget, "galleryRunLabel").toolTip()
    assert "reconstructions" not in tooltip and "variations of a picture" in tooltip
    assert menu_items(window) == ["generateAction", "useAsKeyframeAction", "reconstructAction"]
    assert not window.findChild(QAction, "varyAction").isVisible()

    window.tabs.setCurrentWidget(studio)
    kinds = window.findChild(QComboBox, "animationKindCombo")
    offered = [kinds.itemData(row) for row in range(kinds.count()) if not kinds.view().isRowHidden(row)]
    assert offered == ["interpolate", "morph"]
    assert not shown(window, studio, "keyframeClassSpin")
    kinds.setCurrentIndex(kinds.findData("morph"))
    assert not shown(window, studio, "morphClassSpin")     # unconditional: no class to pick

    # A conditional VAE: the class pickers come back, limited to its classes.
    gallery.open_source(runs["cvae"])
    window.tabs.setCurrentWidget(gallery)
    assert shown(window, gallery, "galleryClassCombo")
    window.tabs.setCurrentWidget(studio)
    assert shown(window, studio, "morphClassSpin")
    kinds.setCurrentIndex(kinds.findData("interpolate"))
    assert shown(window, studio, "keyframeClassSpin")
    assert studio.class_spin.maximum() == 9
    qtbot.waitUntil(lambda: not gallery._generating, timeout=30_000)
    assert qt_warnings(qtlog) == []
