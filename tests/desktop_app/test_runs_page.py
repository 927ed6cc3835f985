"""The Runs page, crash recovery on launch and opening model bundles, driven by objectName."""
from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import (QComboBox, QDialog, QInputDialog, QLabel, QMessageBox, QPushButton, QSpinBox,
                               QTableWidget)

from engine.storage.paths import default_runs_dir
from engine.runs.index import FINISHED, summarize
from engine.runs.lock import RunLock
from engine.training import TrainConfig, train

from tests.engine.conftest import write_mnist_folder


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> str:
    return f"idx:{write_mnist_folder(tmp_path_factory.mktemp('gui-idx'))}"


@pytest.fixture(scope="session")
def finished_template(tiny_data, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gui-runs") / "template"
    list(train(_config(tiny_data, steps=3), out))
    return out


def _config(data: str, steps: int) -> TrainConfig:
    return TrainConfig(model="dcgan", data=data, image_size=28, width=8, batch_size=8, steps=steps,
                       device="cpu", seed=0, report_seconds=0.0, sample_every=1)


def cut_short(data: str, out: Path, steps: int = 12) -> Path:
    """A run 'killed' right after its first checkpoint: the event generator is
    closed after the first Saved event, so the run never records an end."""
    events = train(_config(data, steps), out)
    for event in events:
        if type(event).__name__ == "Saved":
            break
    events.close()
    return out


@pytest.fixture
def finished_run(finished_template) -> Path:
    return Path(shutil.copytree(finished_template, default_runs_dir() / "digits"))


def click(qtbot, parent, name: str) -> None:
    button = parent.findChild(QPushButton, name)
    assert button is not None, f"no button named {name}"
    assert button.isEnabled(), f"{name} is disabled"
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def runs_tab(window):
    window.tabs.setCurrentWidget(window.runs_page)
    return window.runs_page


def select(page, name: str) -> None:
    assert page.select(page.runs_folder / name), f"{name} not listed"


# -- listing ----------------------------------------------------------------------------
def test_runs_are_listed_with_thumbnail_and_state_and_broken_ones_as_damaged(
        qtbot, finished_run, request):
    (default_runs_dir() / "broken").mkdir()
    (default_runs_dir() / "broken" / "config.json").write_text("{cut")
    window = request.getfixturevalue("window")
    page = runs_tab(window)
    table = window.findChild(QTableWidget, "runsTable")
    rows = {table.item(r, 0).text(): r for r in range(table.rowCount())}
    assert set(rows) == {"digits", "broken"}
    row = rows["digits"]
    assert not table.item(row, 0).icon().isNull(), "thumbnail shown"
    assert table.item(row, 1).text() == "dcgan" and table.item(row, 3).text() == "3"
    assert "generator" in table.item(row, 4).text()
    assert table.item(row, 5).text().startswith("finished")
    assert table.item(rows["broken"], 5).text().startswith("damaged: config.json")
    select(page, "broken")
    assert not page.open_button.isEnabled() and not page.resume_button.isEnabled()
    assert page.delete_button.isEnabled()
    qtbot.wait(100)   # the offer is made once the event loop runs
    assert window.recovery_dialog is None, "a finished run is never offered for recovery"


def test_open_shows_the_run_in_the_gallery(qtbot, finished_run, request):
    window = request.getfixturevalue("window")
    page = runs_tab(window)
    select(page, "digits")
    click(qtbot, window, "runOpenButton")
    assert window.tabs.currentWidget() is window.gallery_page
    qtbot.waitUntil(lambda: window.gallery_page.grid.count() == 32, timeout=60_000)
    assert window.gallery_page.run_dir == finished_run


def test_rename_through_its_dialog(qtbot, finished_run, request):
    window = request.getfixturevalue("window")
    page = runs_tab(window)
    select(page, "digits")
    click(qtbot, window, "runRenameButton")
    dialog = window.findChild(QInputDialog, "renameRunDialog")
    assert dialog is not None and dialog.textValue() == "digits"
    dialog.setTextValue("digits-best")
    dialog.accept()
    qtbot.waitUntil(lambda: (default_runs_dir() / "digits-best").is_dir(), timeout=5_000)
    assert not finished_run.exists()
    assert page.selected_path() == default_runs_dir() / "digits-best"


def test_delete_moves_to_the_trash_after_confirmation(qtbot, finished_run, request, tmp_path,
                                                      monkeypatch):
    data_home = tmp_path / "xdg-data"
    data_home.mkdir()
    monkeypatch.setenv("XDG_DATA_HOME", str(data_home))   # a private trash
    window = request.getfixturevalue("window")
    page = runs_tab(window)
    select(page, "digits")
    click(qtbot, window, "runDeleteButton")
    box = window.findChild(QMessageBox, "deleteRunDialog")
    assert box is not None and "digits" in box.text()
    qtbot.mouseClick(box.button(QMessageBox.StandardButton.Yes), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not finished_run.exists(), timeout=5_000)
    assert (data_home / "Trash" / "files" / "digits" / "config.json").is_file()
    assert page.table.rowCount() == 0


def test_rename_and_delete_are_refused_while_the_run_trains(qtbot, finished_run, request):
    window = request.getfixturevalue("window")
    page = runs_tab(window)
    with RunLock(finished_run):   # as another process training it would
        page.refresh()
        select(page, "digits")
        assert not page.rename_button.isEnabled() and not page.delete_button.isEnabled()
        assert page.rename_selected("elsewhere") is None
        assert page.delete_selected(confirmed=True) is False
        qtbot.waitUntil(lambda: len(window.errors.history) >= 2, timeout=5_000)
        assert all("training right now" in e.message for e in window.errors.history)
        assert finished_run.exists()


def test_delete_reports_a_missing_trash_and_keeps_the_run(qtbot, finished_run, request, tmp_path,
                                                          monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "no-such-folder"))
    window = request.getfixturevalue("window")
    page = runs_tab(window)
    select(page, "digits")
    if page.delete_selected(confirmed=True):
        pytest.skip("this system found a trash anyway")
    qtbot.waitUntil(lambda: bool(window.errors.history), timeout=5_000)
    assert "nothing was deleted" in window.errors.history[-1].message and finished_run.exists()


def open_resume_dialog(qtbot, request) -> tuple:
    """The window and the Continue training dialog of the finished run "digits"."""
    window = request.getfixturevalue("window")
    select(runs_tab(window), "digits")
    click(qtbot, window, "runResumeButton")
    return window, window.findChild(QDialog, "resumeDialog")


def test_resume_a_completed_run_asks_for_a_larger_budget(qtbot, finished_run, request):
    window, dialog = open_resume_dialog(qtbot, request)
    steps = dialog.findChild(QSpinBox, "resumeStepsSpin")
    assert steps.value() == 6 and steps.minimum() == 4
    assert "3 steps" in dialog.findChild(QLabel, "resumeIntroLabel").text()
    assert dialog.changes() == {"steps": 6}          # hardware as saved: nothing else changes
    qtbot.mouseClick(dialog.findChild(QPushButton, "resumeContinueButton"),
                     Qt.MouseButton.LeftButton)
    assert window.tabs.currentWidget() is window.train_page
    qtbot.waitUntil(lambda: not window.worker.is_training and window.train_page.last_progress
                    is not None, timeout=120_000)
    assert window.train_page.last_progress.step == 6 and not window.errors.history
    s = summarize(finished_run)
    assert (s.state, s.detail, s.saved_step) == (FINISHED, "completed", 6)


def test_resume_can_change_precision_and_threads_and_they_reach_the_run(qtbot, finished_run,
                                                                       request):
    import json

    window, dialog = open_resume_dialog(qtbot, request)
    precision = dialog.findChild(QComboBox, "resumePrecisionCombo")
    assert precision.currentData() == "auto"            # as the run was saved
    precision.setCurrentIndex(precision.findData("bf16"))
    dialog.findChild(QSpinBox, "resumeThreadsSpin").setValue(1)
    dialog.findChild(QSpinBox, "resumeStepsSpin").setValue(5)
    assert dialog.changes() == {"steps": 5, "precision": "bf16", "threads": 1}
    qtbot.mouseClick(dialog.findChild(QPushButton, "resumeContinueButton"),
                     Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.worker.is_training and window.train_page.last_progress
                    is not None, timeout=120_000)
    assert window.train_page.last_progress.step == 5 and not window.errors.history
    config = json.loads((finished_run / "config.json").read_text())
    assert config["train"]["precision"] == "bf16" and config["train"]["threads"] == 1
    assert config["history"][-1]["changes"] == {"steps": 5, "precision": "bf16", "threads": 1}


def test_cancelling_the_resume_dialog_starts_nothing(qtbot, finished_run, request):
    window, dialog = open_resume_dialog(qtbot, request)
    dialog.reject()
    qtbot.wait(200)
    assert not window.worker.is_training and window.tabs.currentWidget() is window.runs_page


# -- bundles in the gallery ----------------------------------------------------------------
def test_export_bundle_then_open_it_by_dropping_it_on_the_gallery(qtbot, finished_run, request,
                                                                  tmp_path):
    window = request.getfixturevalue("window")
    page = runs_tab(window)
    select(page, "digits")
    out = tmp_path / "shared.atelier.safetensors"
    with qtbot.waitSignal(window.runs_page.bundleExported, timeout=60_000):
        page.export_selected(out)
    assert out.is_file()

    gallery = window.gallery_page
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(out))])
    drop = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    gallery.dropEvent(drop)
    qtbot.waitUntil(lambda: gallery.grid.count() == 32, timeout=60_000)
    assert gallery.run_dir == out and "Model bundle" in gallery.run_label.text()
    gallery.grid.item(0).setSelected(True)
    assert gallery.save_button.isEnabled() and gallery.keyframe_button.isEnabled()
    assert not gallery.favourite_button.isEnabled(), "favourites belong to run folders"
    qtbot.wait(200)
    assert not window.errors.history


class Hostile:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize("name", ["model.pt", "model.ckpt", "looks-safe.atelier.safetensors"])
def test_gallery_refuses_a_hostile_pickle_without_running_it(qtbot, window, tmp_path, name):
    marker = tmp_path / "PWNED"
    path = tmp_path / name
    if name.endswith(".pt"):
        import torch
        torch.save({"weights": Hostile(marker)}, path)
    else:
        path.write_bytes(pickle.dumps(Hostile(marker)))
    assert window.gallery_page.open_source(path) is False
    qtbot.waitUntil(lambda: bool(window.errors.history), timeout=5_000)
    assert "can run code" in window.errors.history[-1].message
    assert window.gallery_page.run_dir is None and window.gallery_page.grid.count() == 0
    assert not marker.exists()


# -- crash recovery on launch -------------------------------------------------------------
def test_a_run_cut_short_is_offered_and_resumes_on_the_train_page(qtbot, tiny_data, request,
                                                                  finished_run):
    cut = cut_short(tiny_data, default_runs_dir() / "cut-short")
    window = request.getfixturevalue("window")
    qtbot.waitUntil(lambda: window.recovery_dialog is not None, timeout=5_000)
    box = window.findChild(QMessageBox, "recoverRunDialog")
    assert box is not None and box.isVisible() and "cut-short" in box.text()
    assert "digits" not in box.text()
    click(qtbot, box, "recoverResumeButton")
    assert window.tabs.currentWidget() is window.train_page
    page = window.train_page
    qtbot.waitUntil(lambda: not window.worker.is_training and page.last_progress is not None,
                    timeout=120_000)
    assert page.last_progress.step == 12 and page.progress.value() == 1000
    assert not window.errors.history
    assert summarize(cut).state == FINISHED
    runs = window.runs_page
    states = {runs.table.item(r, 0).text(): runs.table.item(r, 5).text()
              for r in range(runs.table.rowCount())}
    assert states["cut-short"].startswith("finished"), "the list refreshed when the run ended"


def test_show_runs_selects_the_interrupted_run(qtbot, tiny_data, request):
    cut_short(tiny_data, default_runs_dir() / "cut-short")
    window = request.getfixturevalue("window")
    qtbot.waitUntil(lambda: window.recovery_dialog is not None, timeout=5_000)
    click(qtbot, window.recovery_dialog, "recoverShowRunsButton")
    assert window.tabs.currentWidget() is window.runs_page
    assert window.runs_page.selected_path() == default_runs_dir() / "cut-short"
    assert window.runs_page.selected().state == "interrupted"
    assert window.runs_page.resume_button.isEnabled()
    assert not window.worker.is_training


def test_a_run_being_trained_elsewhere_is_not_offered(qtbot, tiny_data, request):
    cut = cut_short(tiny_data, default_runs_dir() / "cut-short")
    with RunLock(cut):
        window = request.getfixturevalue("window")
        qtbot.wait(200)
        assert window.recovery_dialog is None
        assert window.findChild(QMessageBox, "recoverRunDialog") is None


def test_runs_controls_have_documented_object_names(qtbot, window):
    doc = (Path(__file__).parents[2] / "docs" / "UI.md").read_text()
    for name in ["runsTable", "runsRefreshButton", "runsFolderLabel", "runOpenButton",
                 "runResumeButton", "runRenameButton", "runDeleteButton", "runExportButton",
                 "openBundleButton"]:
        assert window.findChild(object, name) is not None, name
        assert f"`{name}`" in doc, f"{name} missing from docs/UI.md"
    for name in ["renameRunDialog", "deleteRunDialog", "resumeDialog", "resumeStepsSpin",
                 "resumeDeviceCombo", "resumePrecisionCombo", "resumeThreadsSpin",
                 "resumeCompileCheck", "resumeContinueButton", "recoverRunDialog", "recoverResumeButton",
                 "recoverShowRunsButton", "recoverLaterButton"]:
        assert f"`{name}`" in doc, f"{name} missing from docs/UI.md"


# -- hostile run folders (issue 22, item 7) ---------------------------------------------
@pytest.mark.timeout(120)   # a FIFO opened for reading would hang the start-up forever
def test_the_app_starts_and_lists_runs_past_hostile_run_folders(qtbot, tiny_data, finished_template,
                                                                request):
    from tests.engine.hostile_runs import hostile_runs

    made = hostile_runs(finished_template, default_runs_dir(), name="digits")
    cut_short(tiny_data, default_runs_dir() / "cut-short")
    window = request.getfixturevalue("window")
    qtbot.waitUntil(lambda: window.recovery_dialog is not None, timeout=5_000)
    assert "cut-short" in window.recovery_dialog.text(), "recovery still offered past hostile runs"
    page = runs_tab(window)
    table = window.findChild(QTableWidget, "runsTable")
    states = {table.item(r, 0).text(): table.item(r, 5) for r in range(table.rowCount())}
    assert set(states) == set(made) | {"cut-short"}
    assert states["digits"].text().startswith("finished")
    for name in ("deep-config.json", "deep-manifest.json", "fifo-config.json",
                 "fifo-manifest.json", "fifo-metrics.jsonl"):
        # A bad manifest beside complete weights is the one damage Resume recovers.
        expected = "damaged, resumable" if "manifest" in name else "damaged: "
        assert states[name].text().startswith(expected), name
        assert states[name].toolTip().startswith(name.split("-", 1)[1] + ": ")
    select(page, "fifo-metrics.jsonl")
    assert not page.resume_button.isEnabled() and page.delete_button.isEnabled()
    select(page, "digits")
    assert page.open_button.isEnabled()


# -- a run killed during its first save (issue 22, item 12) -----------------------------
def killed_in_first_save(template: Path, out: Path) -> Path:
    """What a kill during the first save leaves: no manifest, and a checkpoint
    folder without its trainer files."""
    from tests.engine.test_checkpoint_recovery import killed_in_first_save as cut_in_first_save

    return cut_in_first_save(Path(shutil.copytree(template, out)))


def test_a_run_stopped_before_its_first_save_can_be_started_again(qtbot, finished_template,
                                                                   finished_run, request):
    run = killed_in_first_save(finished_template, default_runs_dir() / "first-save")
    window = request.getfixturevalue("window")
    page = runs_tab(window)
    select(page, "digits")
    assert not page.restart_button.isEnabled()          # a finished run resumes instead
    select(page, "first-save")
    assert page.selected().state == "no weights" and not page.resume_button.isEnabled()
    click(qtbot, window, "runRestartButton")
    box = window.findChild(QMessageBox, "restartRunDialog")
    assert box is not None and box.isVisible() and "first-save" in box.text()
    qtbot.mouseClick(box.button(QMessageBox.StandardButton.Yes), Qt.MouseButton.LeftButton)
    assert window.tabs.currentWidget() is window.train_page
    qtbot.waitUntil(lambda: not window.worker.is_training and window.train_page.last_progress
                    is not None, timeout=120_000)
    assert window.train_page.last_progress.step == 3 and not window.errors.history
    s = summarize(run)
    assert (s.state, s.saved_step) == (FINISHED, 3)
    assert "`runRestartButton`" in (Path(__file__).parents[2] / "docs" / "UI.md").read_text()


def test_start_again_is_not_offered_for_a_run_that_lost_only_its_manifest(qtbot, finished_run,
                                                                          window):
    (finished_run / "manifest.json").unlink()   # its weights are still there: resume recovers
    page = runs_tab(window)
    page.refresh()
    select(page, "digits")
    assert not page.restart_button.isEnabled()
    assert not page.restart_selected(confirmed=True)
    assert (finished_run / "checkpoints").is_dir() and not window.worker.is_training


def test_the_recovery_offer_shows_a_run_name_as_plain_text(qtbot, tiny_data, tmp_path):
    from PySide6.QtWidgets import QWidget

    from desktop_app.recovery import offer_recovery

    cut_short(tiny_data, tmp_path / "runs" / "<b>cut<img src='x.png'>")
    parent = QWidget()
    qtbot.addWidget(parent)
    box = offer_recovery(parent, lambda _: None, lambda _: None, folder=tmp_path / "runs")
    assert box is not None and box.textFormat() == Qt.TextFormat.PlainText
    assert "“<b>cut<img src='x.png'>”" in box.text()
    box.close()


def test_the_state_cell_says_why_a_run_is_damaged_and_whether_it_resumes(tmp_path):
    from desktop_app.pages.runs_page import _state_text
    from engine.runs.index import DAMAGED, RunSummary

    recoverable = RunSummary(tmp_path, DAMAGED, "manifest.json is missing; Resume recovers it "
                             "from step 4", recoverable=True)
    assert _state_text(recoverable) == "damaged, resumable"
    deep = RunSummary(tmp_path, DAMAGED, "config.json: unreadable (nested 5000 levels deep (at "
                      "most 64 allowed))")
    text = _state_text(deep)
    assert text.startswith("damaged: config.json: unreadable") and len(text) <= 60


def test_labels_that_show_text_from_files_never_render_it_as_markup(request):
    from PySide6.QtWidgets import QLabel

    window = request.getfixturevalue("window")
    for name in ("runBestLabel", "animateRunLabel", "animateMessage"):
        label = window.findChild(QLabel, name)
        assert label is not None and label.textFormat() == Qt.TextFormat.PlainText, name
