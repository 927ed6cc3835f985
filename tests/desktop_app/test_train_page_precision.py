"""The Train page's precision, compile and CPU-thread settings reach the run."""
from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtWidgets import QCheckBox, QComboBox, QSpinBox

from engine.runtime.precision import PRECISION_CHOICES

from tests.desktop_app.conftest import quick_settings
from tests.desktop_app.test_main_window import click, finished_run


def test_precision_and_compile_controls_reach_the_run(qtbot, window, monkeypatch):
    import torch

    def refuse(*args, **kwargs):   # a machine without a working compiler
        raise RuntimeError("no C++ compiler found")

    monkeypatch.setattr(torch, "compile", refuse)
    page = quick_settings(window, steps=2)
    combo = window.findChild(QComboBox, "precisionCombo")
    check = window.findChild(QCheckBox, "compileCheck")
    assert [combo.itemData(i) for i in range(combo.count())] == list(PRECISION_CHOICES)
    assert combo.currentData() == "auto" and not check.isChecked()
    threads = window.findChild(QSpinBox, "threadsSpin")
    assert threads.value() == 0 and threads.text().startswith("Automatic (")
    combo.setCurrentIndex(combo.findData("bf16"))
    check.setChecked(True)
    threads.setValue(1)
    click(qtbot, window, "trainButton")
    assert not combo.isEnabled() and not check.isEnabled()   # fixed while training
    assert not threads.isEnabled()
    run = finished_run(qtbot, window)
    config = json.loads((run / "config.json").read_text())
    assert config["train"]["precision"] == "bf16" and config["precision"] == "bf16"
    assert config["train"]["compile"] is True and config["train"]["threads"] == 1
    # The failed compilation is a notice on the page; the run still finished.
    label = page.notice_label
    assert not label.isHidden() and "torch.compile failed" in label.text()
    assert combo.isEnabled() and check.isEnabled()


def test_the_controls_are_documented():
    doc = (Path(__file__).parents[2] / "docs" / "UI.md").read_text()
    assert "`precisionCombo`" in doc and "`compileCheck`" in doc and "`threadsSpin`" in doc



def test_the_installed_app_greys_out_compile_and_says_why(qtbot, window, monkeypatch):
    import sys

    from desktop_app.pages.train_page import TrainPage

    monkeypatch.setattr(sys, "frozen", True, raising=False)
    page = TrainPage(window.worker)
    qtbot.addWidget(page)
    check = page.findChild(QCheckBox, "compileCheck")
    assert not check.isEnabled() and not check.isChecked()
    assert "installed app cannot compile" in check.toolTip()
    page._on_busy(False)     # the end of a run enables the settings again, but not this one
    assert not check.isEnabled()
    assert window.findChild(QCheckBox, "compileCheck").isEnabled()   # from source it works
