"""The Train page's preset: choosing data fills the fields and the preset line;
any field the user changes stays theirs; the gallery offers truncation for GANs."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtWidgets import QCheckBox, QLabel

from engine.presets import DataFacts
from engine.studio.sampling import sample_run
from engine.training import TrainConfig, train
from tests.engine.conftest import write_mnist_folder

COLOUR = DataFacts(count=500, channels=3, size=32)


def test_choosing_data_updates_the_preset_line_and_the_fields(window):
    page = window.train_page
    label = window.findChild(QLabel, "presetLabel")
    page.device_combo.setCurrentIndex(page.device_combo.findData("cpu"))
    # The bundled MNIST at start, on a CPU: flow, which measured better there.
    assert label.text().startswith("Preset: flow for 60,000 greyscale")
    assert page.model_combo.currentData() == "flow" and page.batch_spin.value() == 64
    assert page.config().model_settings["guidance"] == 2.0
    page.set_data("folder:/pictures", "folder: pictures", COLOUR)
    # A small colour set on a CPU: the few-shot GAN with adaptive augmentation.
    assert label.text().startswith("Preset: fastgan for a small set")
    assert page.model_combo.currentData() == "fastgan"
    assert page.image_size_combo.currentData() == 32
    assert page.batch_spin.value() == 16 and page.minutes_spin.value() > 0
    config = page.config()
    assert set(config.model_settings["augment"].split(",")) == {"translation", "cutout", "color"}
    assert config.model_settings["ada"] is True
    config.validate()


def test_a_value_the_user_changes_wins_and_the_preset_can_be_turned_off(window):
    page = window.train_page
    page.device_combo.setCurrentIndex(page.device_combo.findData("cpu"))
    page.batch_spin.setValue(48)                   # the user's own
    page.set_data("folder:/pictures", "folder: pictures", COLOUR)
    assert page.batch_spin.value() == 48 and page.steps_spin.value() == 2500
    page.set_data("mnist", "MNIST digits (bundled)")
    assert page.batch_spin.value() == 48 and page.model_combo.currentData() == "flow"
    page.set_data("folder:/pictures", "folder: pictures")   # its facts are remembered
    assert page.presets.label.text().startswith("Preset: fastgan for a small set")
    check = window.findChild(QCheckBox, "presetCheck")
    check.setChecked(False)
    assert page.config().model_settings == {} and "off" in page.presets.label.text()
    assert page.steps_spin.value() == 2000 and page.minutes_spin.value() == 0


@pytest.mark.parametrize("has_bfloat16", [True, False])
def test_a_preset_precision_fills_the_combo_until_the_user_picks_one(window, monkeypatch,
                                                                     has_bfloat16):
    from engine.models.common import denoiser_presets
    monkeypatch.setattr(denoiser_presets, "cpu_has_bfloat16", lambda: has_bfloat16)
    page = window.train_page
    page.device_combo.setCurrentIndex(page.device_combo.findData("cpu"))
    page.model_combo.setCurrentIndex(page.model_combo.findData("flow"))
    expected = "bf16" if has_bfloat16 else "auto"
    assert page.precision_combo.currentData() == expected
    assert page.config().precision == expected
    page.model_combo.setCurrentIndex(page.model_combo.findData("dcgan"))
    assert page.precision_combo.currentData() == "auto"    # the GAN preset says nothing
    page.precision_combo.setCurrentIndex(page.precision_combo.findData("fp32"))
    page.model_combo.setCurrentIndex(page.model_combo.findData("flow"))
    assert page.config().precision == "fp32"                # the user's choice stays


@pytest.fixture
def gan_run(tmp_path):
    data = write_mnist_folder(tmp_path / "data", n_train=16, n_test=8)
    list(train(TrainConfig(model="dcgan", data=f"idx:{data}", width=8, batch_size=8, steps=1,
                           device="cpu"), tmp_path / "run"))
    return tmp_path / "run"


def test_gallery_offers_truncation_for_gans(qtbot, window, gan_run):
    gallery = window.gallery_page
    gallery.set_run(gan_run)
    controls = gallery.sampling
    assert controls.truncation_slider.isVisibleTo(gallery)
    assert not controls.temperature_slider.isVisibleTo(gallery)
    assert controls.truncation is None and controls.truncation_value.text() == "off"
    controls.truncation_slider.setValue(70)
    assert controls.truncation == 0.7 and controls.truncation_value.text() == "0.70"
    gallery.count_spin.setValue(3)
    gallery.generate()
    qtbot.waitUntil(lambda: gallery.grid.count() == 3 and not gallery._generating, timeout=30_000)
    expected = sample_run(gan_run, [0, 1, 2], device="cpu", truncation=0.7)
    np.testing.assert_array_equal(np.stack([gallery.images[s] for s in range(3)]), expected)
    assert gallery._provenance(1)["truncation"] == 0.7


def test_the_preset_and_truncation_controls_are_documented():
    from pathlib import Path
    ui = (Path(__file__).resolve().parents[2] / "docs" / "UI.md").read_text()
    for name in ("presetLabel", "presetCheck", "truncationSlider", "truncationLabel"):
        assert f"`{name}`" in ui, name
