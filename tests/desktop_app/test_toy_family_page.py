"""The Train page lists a family registered from one file (tests/engine/toy_family.py)
with the controls its spec asks for."""
from __future__ import annotations

import pytest

from engine.models.registry import register_model, unregister_model
from tests.engine.toy_family import TOY


@pytest.fixture
def toy():
    register_model(TOY)
    yield TOY
    unregister_model(TOY.name)


def test_train_page_lists_the_toy_with_its_controls(toy, window):
    page = window.train_page
    index = page.model_combo.findData("toy")
    assert index >= 0 and page.model_combo.itemText(index) == toy.description
    page.model_combo.setCurrentIndex(page.model_combo.findData("dcgan"))
    page.image_size_combo.setCurrentIndex(page.image_size_combo.findData(64))
    assert page.width_spin.isEnabled() and page.image_size_combo.isEnabled()
    page.model_combo.setCurrentIndex(index)
    # Not convolutional: no width, and its one size.
    assert not page.width_spin.isEnabled() and not page.image_size_combo.isEnabled()
    assert page.image_size_combo.currentData() == 28
    assert page.config().model == "toy" and page.config().width is None


def test_gallery_generates_tiles_of_a_toy_run(toy, qtbot, window, tmp_path):
    from engine.training import TrainConfig, train

    run = tmp_path / "toy-run"
    list(train(TrainConfig(model="toy", data="mnist", batch_size=8, steps=2, device="cpu",
                           seed=0, report_seconds=0.0), run))
    gallery = window.gallery_page
    window.tabs.setCurrentWidget(gallery)
    gallery.set_run(run)
    gallery.count_spin.setValue(4)
    gallery.seed_spin.setValue(3)
    qtbot.waitUntil(gallery.generate_button.isEnabled, timeout=10_000)
    gallery.generate_button.click()
    qtbot.waitUntil(lambda: gallery.grid.count() == 4, timeout=30_000)
    assert [gallery.grid.item(i).text() for i in range(4)] == [f"seed {s}" for s in range(3, 7)]
    assert gallery.images[3].shape == (28, 28, 1)
    # The toy offers a temperature and no truncation: the gallery shows that control.
    assert not gallery.sampling.uses_truncation
