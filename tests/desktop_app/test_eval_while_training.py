"""Evaluation while training in the app: the Train page's settings, the scores
plotted beside the losses, and the Runs page's best checkpoint by a metric,
opened, exported and continued. Driven by objectName."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QPushButton, QSpinBox, QTableWidget

from engine.runs.checkpoints import read_manifest
from engine.runs.best import best_checkpoint
from engine.storage.paths import default_runs_dir
from engine.training import TrainConfig, train

from tests.engine.conftest import write_mnist_folder


@pytest.fixture(scope="session")
def eval_data(tmp_path_factory) -> str:
    return f"idx:{write_mnist_folder(tmp_path_factory.mktemp('eval-idx'))}"


def _config(data: str, **changes) -> TrainConfig:
    values = dict(model="dcgan", data=data, image_size=28, width=8, batch_size=8, steps=6,
                  device="cpu", seed=0, report_seconds=0.0, eval_every_steps=2, eval_samples=16,
                  keep_last=1, keep_best="fd")
    return TrainConfig(**{**values, **changes})


@pytest.fixture(scope="session")
def scored_template(eval_data, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("eval-runs") / "template"
    list(train(_config(eval_data), out))
    return out


def test_train_page_settings_become_the_run_config(window):
    page = window.train_page
    spin = window.findChild(QDoubleSpinBox, "evalEverySpin")
    samples = window.findChild(QSpinBox, "evalSamplesSpin")
    keep = window.findChild(QComboBox, "keepBestCombo")
    assert spin.specialValueText() == "off" and samples.value() == 2000
    assert page.config().eval_every_minutes is None and not page.config().evaluates
    spin.setValue(5)
    samples.setValue(1000)
    keep.setCurrentIndex(keep.findData("fd"))
    config = page.config()
    assert (config.eval_every_minutes, config.eval_samples, config.keep_best) == (5, 1000, "fd")
    spin.setValue(0)
    page.start_training()   # keep best by FD without evaluation: refused, on the page
    assert page.settings_error.isVisible() and "needs evaluation" in page.settings_error.text()
    assert not window.worker.is_training


def test_keep_best_offers_the_metrics_of_the_chosen_model(window):
    from engine.models import model_specs

    keep = window.findChild(QComboBox, "keepBestCombo")
    models = window.findChild(QComboBox, "modelCombo")
    offered = {}
    for spec in model_specs():
        models.setCurrentIndex(models.findData(spec.name))
        offered[spec.name] = [keep.itemData(i) for i in range(keep.count())]
        assert offered[spec.name][0] is None                       # "Off" first
        assert set(offered[spec.name][1:]) <= set(spec.eval_metrics)
    assert len({tuple(v) for v in offered.values()}) > 1          # it does follow the model
    # A choice the next model also offers stays chosen.
    models.setCurrentIndex(models.findData("dcgan"))
    keep.setCurrentIndex(keep.findData("kid"))
    models.setCurrentIndex(models.findData("mlp-vae"))
    assert keep.currentData() == "kid"


def test_scores_are_plotted_beside_the_losses_while_training(qtbot, window, eval_data, tmp_path):
    page = window.train_page
    plot = window.findChild(type(page.eval_plot), "evalPlot")
    assert plot is page.eval_plot and not page.eval_box.isVisible()
    evaluating = []
    window.worker.trainingEvent.connect(
        lambda e: evaluating.append(page.eta_label.text()) if type(e).__name__ == "EvalProgress"
        else None)
    window.worker.start_training(_config(eval_data), tmp_path / "run")
    qtbot.waitUntil(lambda: not window.worker.is_training and len(plot.steps) == 3,
                    timeout=120_000)
    assert plot.steps == [2, 4, 6] and page.eval_box.isVisible()
    assert evaluating and all(t.startswith("Evaluating the model") for t in evaluating)
    assert plot.metric == "fd"
    x, y = plot.curve.getData()
    assert list(x) == [2, 4, 6] and list(y) == [s["fd"] for s in plot.scores]
    combo = window.findChild(QComboBox, "evalMetricCombo")
    assert combo.itemText(0) == "FD@16"
    combo.setCurrentIndex(combo.findData("kid"))
    assert list(plot.curve.getData()[1]) == [s["kid"] for s in plot.scores]
    assert "Step 6" in plot.latest_label.text() and "16 samples" in plot.latest_label.text()
    assert not window.errors.history


def _runs_page(window, name: str):
    page = window.runs_page
    window.tabs.setCurrentWidget(page)
    page.refresh()
    assert page.select(page.runs_folder / name)
    return page


def test_runs_page_shows_best_by_the_chosen_metric_and_opens_it(qtbot, window, scored_template,
                                                               tmp_path):
    run = Path(shutil.copytree(scored_template, default_runs_dir() / "scored"))
    page = _runs_page(window, "scored")
    table = window.findChild(QTableWidget, "runsTable")
    best = best_checkpoint(run, "fd")
    column = next(c for c in range(table.columnCount())
                  if table.horizontalHeaderItem(c).text().startswith("Best "))
    assert table.horizontalHeaderItem(column).text() == "Best FD"
    assert table.item(0, column).text() == best.describe()
    assert "FD@16" in page.best_label.text()
    combo = window.findChild(QComboBox, "runsMetricCombo")
    combo.setCurrentIndex(combo.findData("class_coverage"))
    assert table.horizontalHeaderItem(column).text() == "Best class coverage"
    combo.setCurrentIndex(combo.findData("fd"))
    page.select(run)

    out = tmp_path / "best.atelier.safetensors"
    with qtbot.waitSignal(window.runs_page.bundleExported, timeout=60_000):
        page.export_best(out)
    from engine.runs.bundles import inspect_bundle
    assert inspect_bundle(out).step == best.step

    window.findChild(QPushButton, "runOpenBestButton").click()
    gallery = window.gallery_page
    qtbot.waitUntil(lambda: gallery.run_dir is not None and gallery.grid.count() > 0,
                    timeout=60_000)
    assert window.tabs.currentWidget() is gallery
    assert f"step {best.step:,}" in gallery.run_label.text()
    assert not window.errors.history


def test_continue_best_trains_a_new_run_from_it(qtbot, window, scored_template):
    run = Path(shutil.copytree(scored_template, default_runs_dir() / "scored"))
    best = best_checkpoint(run, "fd")
    _runs_page(window, "scored")     # selects the run
    before = read_manifest(run)
    window.findChild(QPushButton, "runResumeBestButton").click()
    qtbot.waitUntil(lambda: window.worker.is_training, timeout=30_000)
    assert window.tabs.currentWidget() is window.train_page
    qtbot.waitUntil(lambda: not window.worker.is_training, timeout=120_000)
    forked = run.with_name(f"scored-from-step{best.step}")
    assert read_manifest(forked)["step"] == 6 and read_manifest(run) == before
    assert not window.errors.history


def test_runs_without_evaluations_say_how_to_get_one(window, scored_template, eval_data):
    list(train(_config(eval_data, eval_every_steps=None, keep_best=None, steps=2),
               default_runs_dir() / "plain"))
    page = _runs_page(window, "plain")
    assert "no evaluation yet" in page.best_label.text()
    assert not page.open_best_button.isEnabled() and not page.export_best_button.isEnabled()


def test_a_resumed_run_shows_its_earlier_scores_then_new_ones(qtbot, window, scored_template):
    run = Path(shutil.copytree(scored_template, default_runs_dir() / "scored"))
    page = window.train_page
    window.worker.resume_training(run, steps=8)
    qtbot.waitUntil(lambda: not window.worker.is_training and 8 in page.eval_plot.steps,
                    timeout=120_000)
    assert page.eval_plot.steps == [2, 4, 6, 8] and page.eval_box.isVisible()
    assert not window.errors.history
