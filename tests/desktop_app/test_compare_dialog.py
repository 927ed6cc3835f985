"""Compare checkpoints: for a diffusion or flow run the rendered rows use the
gallery's sampler steps and guidance, and the dialog's own controls render
them again; models without an iterative sampler show no such controls."""
from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QDoubleSpinBox, QSpinBox

from engine.studio.sampling import sample_run
from tests.desktop_app.test_diffusion_controls import (click, find, generated, open_in_gallery,
                                                       runs, type_into)

__all__ = ["runs"]   # the module's fixture: tiny ddpm, flow and dcgan runs


def newest_checkpoint(dialog) -> np.ndarray:
    return np.stack([row for row in dialog.rows if row.label.startswith("checkpoint")][-1].images)


def test_checkpoints_render_with_the_gallerys_steps_and_guidance_then_the_dialogs(
        qtbot, window, runs):
    gallery = open_in_gallery(qtbot, window, runs["ddpm"])
    type_into(qtbot, find(window, QSpinBox, "samplerStepsSpin"), "3")
    type_into(qtbot, find(window, QDoubleSpinBox, "guidanceSpin"), "1.5")
    gallery.count_spin.setValue(2)
    gallery.seed_spin.setValue(4)
    click(qtbot, window, "generateButton")
    generated(qtbot, gallery, 2)
    gallery.grid.item(0).setSelected(True)
    gallery.grid.item(1).setSelected(True)
    click(qtbot, window, "compareCheckpointsButton")
    dialog = window.compare_dialog
    qtbot.waitUntil(lambda: bool(dialog.rows), timeout=60_000)
    steps = find(dialog, QSpinBox, "compareStepsSpin")
    guidance = find(dialog, QDoubleSpinBox, "compareGuidanceSpin")
    assert steps.isVisibleTo(dialog) and guidance.isVisibleTo(dialog)
    assert (steps.value(), guidance.value()) == (3, 1.5)
    assert dialog.rendered_with == {"steps": 3, "guidance": 1.5}
    # The newest checkpoint is the run's model: its row is the gallery's tiles.
    np.testing.assert_array_equal(newest_checkpoint(dialog), np.stack(
        [gallery.images[4], gallery.images[5]]))
    assert "3 steps and guidance 1.5" in find(dialog, object, "compareStatus").text()

    type_into(qtbot, steps, "2")
    qtbot.waitUntil(lambda: dialog.rendered_with.get("steps") == 2, timeout=60_000)
    np.testing.assert_array_equal(newest_checkpoint(dialog), sample_run(
        runs["ddpm"], [4, 5], device="cpu", steps=2, guidance=1.5))
    dialog.close()


def test_a_model_without_an_iterative_sampler_shows_no_sampler_controls(qtbot, window, runs):
    from desktop_app.compare_dialog import CompareDialog

    dialog = CompareDialog(window.worker, runs["dcgan"], [1, 2], window)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: bool(dialog.rows), timeout=60_000)
    assert not find(dialog, QSpinBox, "compareStepsSpin").isVisibleTo(dialog)
    assert not find(dialog, QDoubleSpinBox, "compareGuidanceSpin").isVisibleTo(dialog)
    assert dialog.rendered_with == {}
    np.testing.assert_array_equal(newest_checkpoint(dialog),
                                  sample_run(runs["dcgan"], [1, 2], device="cpu"))
