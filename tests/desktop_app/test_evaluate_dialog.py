"""Run > Evaluate: scores a run on the worker thread, shows them, can be cancelled."""
from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton

from engine.metrics.evaluate import evaluations
from tests.engine.conftest import write_mnist_folder


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    from engine.training import TrainConfig, train

    data = write_mnist_folder(tmp_path_factory.mktemp("eval-data"))
    out = tmp_path_factory.mktemp("eval-runs") / "run"
    config = TrainConfig(model="dcgan", data=f"idx:{data}", image_size=28, width=8, batch_size=8,
                         steps=2, device="cpu", seed=0, report_seconds=0.0)
    list(train(config, out))
    return out


def open_dialog(qtbot, window, run: Path):
    window.gallery_page.set_run(run)
    window.findChild(object, "evaluateAction").trigger()
    dialog = window.evaluate_dialog
    assert dialog is not None and dialog.run_edit.text() == str(run)
    return dialog


def click(qtbot, dialog, name: str) -> None:
    button = dialog.findChild(QPushButton, name)
    assert button is not None and button.isEnabled(), name
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def test_evaluate_shows_and_records_the_scores(qtbot, window, tiny_run, tmp_path):
    import shutil
    run = Path(shutil.copytree(tiny_run, tmp_path / "run"))
    dialog = open_dialog(qtbot, window, run)
    dialog.samples_spin.setValue(100)
    click(qtbot, dialog, "evaluateStartButton")
    assert dialog.cancel_button.isEnabled() and not dialog.start_button.isEnabled()
    qtbot.waitUntil(lambda: dialog.result is not None, timeout=60_000)
    qtbot.waitUntil(lambda: dialog.start_button.isEnabled(), timeout=10_000)
    assert "FD@100" in dialog.results.toPlainText()
    assert dialog.progress.value() == 1000
    assert evaluations(run)[-1]["fd"] == dialog.result["fd"]


def test_cancel_stops_between_batches_and_records_nothing(qtbot, window, tiny_run, tmp_path):
    import shutil
    run = Path(shutil.copytree(tiny_run, tmp_path / "run"))
    dialog = open_dialog(qtbot, window, run)
    dialog.samples_spin.setValue(100_000)
    click(qtbot, dialog, "evaluateStartButton")
    qtbot.waitUntil(lambda: "samples" in dialog.stage_label.text().lower(), timeout=60_000)
    click(qtbot, dialog, "evaluateCancelButton")
    qtbot.waitUntil(lambda: dialog.start_button.isEnabled(), timeout=30_000)
    assert dialog.stage_label.text().startswith("Cancelled")
    assert evaluations(run) == []


def test_a_folder_that_is_not_a_run_is_explained(qtbot, window, tmp_path):
    dialog = open_dialog(qtbot, window, tmp_path)
    click(qtbot, dialog, "evaluateStartButton")
    assert "run folder" in dialog.stage_label.text()
    assert not window.worker.is_evaluating


def test_dialog_controls_have_documented_object_names(qtbot, window, tmp_path):
    doc = (Path(__file__).parents[2] / "docs" / "UI.md").read_text()
    dialog = open_dialog(qtbot, window, tmp_path)
    for name in ["evaluateDialog", "evaluateRunEdit", "evaluateBrowseButton", "evaluateSamplesSpin",
                 "evaluateStartButton", "evaluateCancelButton", "evaluateCloseButton",
                 "evaluateStageLabel", "evaluateProgress", "evaluateResults"]:
        assert dialog.objectName() == name or dialog.findChild(object, name) is not None, name
        assert f"`{name}`" in doc, f"{name} missing from docs/UI.md"
    assert "`evaluateAction`" in doc
