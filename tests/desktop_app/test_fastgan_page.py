"""The few-shot GAN trains from the Train page on a folder of the user's own
pictures: its preset turns adaptive augmentation on, and p is plotted beside
the losses."""
from __future__ import annotations

import json

import numpy as np
from PIL import Image

from engine.presets import DataFacts
from tests.desktop_app.conftest import quick_settings


def _pictures(folder, count: int = 24):
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(count):
        picture = np.zeros((32, 32, 3), np.uint8)
        y, x = rng.integers(0, 24, size=2)
        picture[y:y + 8, x:x + 8] = rng.integers(64, 256, size=3)
        Image.fromarray(picture).save(folder / f"{i:02d}.png")
    return folder


def test_fastgan_trains_from_the_train_page_with_p_plotted(qtbot, window, tmp_path):
    page = quick_settings(window)
    folder = _pictures(tmp_path / "mine")
    page.set_data(f"folder:{folder}", "my pictures", DataFacts(24, 3, 32))
    page.model_combo.setCurrentIndex(page.model_combo.findData("fastgan"))
    sizes = page.image_size_combo.model()
    enabled = {page.image_size_combo.itemData(i): sizes.item(i).isEnabled()
               for i in range(page.image_size_combo.count())}
    assert enabled[256] and enabled[32]            # sizes only fastgan takes are offered
    assert page.image_size_combo.currentData() == 32
    page.width_spin.setValue(4)
    page.batch_spin.setValue(8)
    page.steps_spin.setValue(3)
    page.start_training()
    qtbot.waitUntil(lambda: not window.worker.is_training, timeout=120_000)
    run = window.worker.current_run
    config = json.loads((run / "config.json").read_text())
    assert config["model"] == "fastgan" and config["model_config"]["ada"] is True
    assert list(page.loss_plot.curves) == ["generator", "discriminator", "reconstruction"]
    assert "augment_p" in page.loss_plot.side_curves
    assert all(v == 0.0 for v in page.loss_plot.side_values["augment_p"])   # p starts at 0
    # Back on dcgan the sizes it cannot take are greyed out.
    page.model_combo.setCurrentIndex(page.model_combo.findData("dcgan"))
    assert not sizes.item(page.image_size_combo.findData(256)).isEnabled()
