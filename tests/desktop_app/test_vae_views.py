"""The VAE views: live reconstructions on the Train page; class picker and
temperature in the gallery, each tile reproducible from seed, class and temperature."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton

from engine.studio.sampling import sample_run
from engine.training import TrainConfig, train
from tests.engine.conftest import write_mnist_folder


def click(qtbot, window, name: str) -> None:
    button = window.findChild(QPushButton, name)
    assert button is not None and button.isEnabled(), name
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def test_a_vae_trains_with_its_own_learning_rate_and_shows_reconstructions(qtbot, window):
    page = window.train_page
    page.model_combo.setCurrentIndex(page.model_combo.findData("mlp-vae"))
    assert page.lr_spin.value() == pytest.approx(3e-3)
    assert not page.width_spin.isEnabled() and not page.image_size_combo.isEnabled()
    page.model_combo.setCurrentIndex(page.model_combo.findData("conv-vae"))
    assert page.width_spin.isEnabled()
    page.model_combo.setCurrentIndex(page.model_combo.findData("mlp-vae"))
    page.batch_spin.setValue(16)
    page.steps_spin.setValue(5)
    page.device_combo.setCurrentIndex(page.device_combo.findData("cpu"))
    click(qtbot, window, "trainButton")
    qtbot.waitUntil(lambda: page.reconstruction_view.image is not None, timeout=60_000)
    qtbot.waitUntil(lambda: not window.worker.is_training, timeout=60_000)
    assert not page.reconstruction_box.isHidden()
    grid = page.reconstruction_view.image
    assert grid.dtype == np.uint8 and grid.shape == page.sample_view.image.shape
    assert "reconstruction" in page.loss_plot.values and "KL" in page.loss_plot.values


@pytest.fixture
def conditional_run(tmp_path):
    data = write_mnist_folder(tmp_path / "data", n_train=32, n_test=8)
    config = TrainConfig(model="cvae", data=f"idx:{data}", batch_size=8, steps=2, device="cpu")
    list(train(config, tmp_path / "run"))
    return tmp_path / "run"


def test_gallery_class_picker_and_temperature(qtbot, window, conditional_run):
    gallery = window.gallery_page
    gallery.set_run(conditional_run)
    controls = gallery.sampling
    assert controls.class_combo.isVisibleTo(gallery) and controls.class_combo.count() == 11
    controls.class_combo.setCurrentIndex(controls.class_combo.findData(3))
    controls.temperature_slider.setValue(50)
    assert controls.temperature == 0.5 and controls.temperature_value.text() == "0.50"
    gallery.count_spin.setValue(4)
    gallery.seed_spin.setValue(0)
    gallery.generate()
    qtbot.waitUntil(lambda: gallery.grid.count() == 4 and not gallery._generating, timeout=30_000)
    assert [gallery.grid.item(i).text() for i in range(4)] == \
        [f"seed {s} · class 3" for s in range(4)]
    expected = sample_run(conditional_run, [0, 1, 2, 3], device="cpu", labels=[3] * 4,
                          temperature=0.5)
    np.testing.assert_array_equal(np.stack([gallery.images[s] for s in range(4)]), expected)
    assert gallery._provenance(2) == {"run": "run", "seed": 2, "temperature": 0.5, "class": 3}


def test_gallery_hides_the_class_picker_for_unconditional_runs(window, tmp_path):
    data = write_mnist_folder(tmp_path / "data", n_train=16, n_test=8)
    list(train(TrainConfig(model="mlp-vae", data=f"idx:{data}", batch_size=8, steps=1,
                           device="cpu"), tmp_path / "run"))
    window.gallery_page.set_run(tmp_path / "run")
    assert not window.gallery_page.sampling.class_combo.isVisibleTo(window.gallery_page)
    assert window.gallery_page.sampling.labels_for([1, 2]) is None


def test_the_new_controls_are_documented(window):
    from pathlib import Path

    doc = (Path(__file__).parents[2] / "docs" / "UI.md").read_text()
    for name in ["reconstructionGrid", "galleryClassCombo", "temperatureSlider", "temperatureLabel"]:
        assert window.findChild(object, name) is not None, name
        assert f"`{name}`" in doc, f"{name} missing from docs/UI.md"
