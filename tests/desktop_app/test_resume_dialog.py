"""The Continue training dialog starts at the run's saved settings and passes on only changes."""
from __future__ import annotations

import json
import sys

from engine.runs.index import FINISHED, INTERRUPTED, RunSummary


def saved_run(tmp_path, **train):
    run = tmp_path / "run"
    run.mkdir()
    settings = {"model": "dcgan", "device": "auto", "precision": "auto", "compile": False,
                "threads": None, **train}
    (run / "config.json").write_text(json.dumps({"model": "dcgan", "model_config": {},
                                                 "train": settings}))
    return run


def dialog_for(qtbot, run, detail="stopped", saved_step=3):
    from desktop_app.resume_dialog import ResumeDialog

    state = FINISHED if detail == "completed" else INTERRUPTED
    dialog = ResumeDialog(RunSummary(path=run, state=state, detail=detail,
                                     saved_step=saved_step))
    qtbot.addWidget(dialog)
    return dialog


def test_an_interrupted_run_keeps_its_budget_and_settings_unless_changed(qtbot, tmp_path):
    dialog = dialog_for(qtbot, saved_run(tmp_path, precision="bf16", threads=1))
    assert dialog.steps_spin.text() == "its own budget"
    assert dialog.precision_combo.currentData() == "bf16"
    assert dialog.threads_spin.value() == 1
    assert dialog.changes() == {}
    dialog.threads_spin.setValue(0)               # lift the limit
    assert dialog.changes() == {"threads": 0}


def test_a_device_this_computer_lacks_starts_at_automatic(qtbot, tmp_path):
    dialog = dialog_for(qtbot, saved_run(tmp_path, device="cuda:99"))
    assert dialog.device_combo.currentData() == "auto"
    assert dialog.changes() == {"device": "auto"}


def test_the_installed_app_unticks_and_greys_out_compile(qtbot, tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    dialog = dialog_for(qtbot, saved_run(tmp_path, compile=True))
    assert not dialog.compile_check.isEnabled() and not dialog.compile_check.isChecked()
    assert "installed app cannot compile" in dialog.compile_check.toolTip()
    assert dialog.changes() == {"compile": False}


def test_an_unreadable_config_still_opens_the_dialog(qtbot, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text("{not json")
    dialog = dialog_for(qtbot, run, detail="completed", saved_step=10)
    assert dialog.steps_spin.value() == 20 and dialog.changes()["steps"] == 20
