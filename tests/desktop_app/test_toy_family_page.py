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
