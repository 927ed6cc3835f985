"""`latent-atelier --self-test OUTDIR` from source (the frozen build: tests/packaging)."""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import qInstallMessageHandler

from desktop_app import app, app_logging


@pytest.fixture
def headless(qapp, monkeypatch):
    """Two self-test steps; leave the process' logging and crash handler as they were."""
    monkeypatch.setattr("engine.diagnostics.self_test.SELF_TEST_STEPS", 2)
    monkeypatch.setattr(app_logging, "_crash_file", object())  # faulthandler stays pytest's
    root = logging.getLogger()
    handlers, name, org = list(root.handlers), qapp.applicationName(), qapp.organizationName()
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    qInstallMessageHandler(None)
    qapp.setApplicationName(name)
    qapp.setOrganizationName(org)


def test_self_test_flag_trains_exports_and_exits_zero(headless, tmp_path, capsys,
                                                      private_user_data):
    code = app.main(["latent-atelier", "--self-test", str(tmp_path / "out")])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "window ready in" in printed and "self-test: passed" in printed
    assert (tmp_path / "out" / "timelapse.gif").exists()
    assert (tmp_path / "out" / "self-test.txt").read_text().splitlines()[1:3] == \
        printed.splitlines()[1:3]
    log = (private_user_data / "logs" / "latent-atelier.log").read_text()
    assert "self-test: passed" in log


def test_self_test_failure_exits_non_zero_with_the_reason(headless, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "run").write_text("in the way")
    assert app.main(["latent-atelier", "--self-test", str(out)]) == 1
    printed = capsys.readouterr().out
    assert "self-test FAILED: training failed:" in printed and "is a file" in printed
    assert "FAILED" in (out / "self-test.txt").read_text()


def test_unknown_arguments_are_left_for_qt():
    options, rest = app.parse_arguments(["--self-test", "x", "-platform", "offscreen"])
    assert options.self_test == "x" and rest == ["-platform", "offscreen"]
    assert options.open is None


def test_a_bare_argument_is_a_bundle_to_open():
    options, rest = app.parse_arguments(["-platform", "xcb", "/home/a/digits.atelier.safetensors"])
    assert options.open == "/home/a/digits.atelier.safetensors" and rest == ["-platform", "xcb"]


# SIGTERM or SIGHUP while the app trains (issue 22, item 4): the window closes as its
# close button does, so the run stops between steps and saves, and the app exits with
# 128 + the signal (engine.runtime.stop_signals).
TRAIN_THEN_WAIT = """
import sys
from desktop_app import app

shown = app.MainWindow.show
def show(window):
    shown(window)
    def ready():
        from engine.training.events import Progress
        from engine.training import TrainConfig
        told = []
        def event(e):
            if isinstance(e, Progress) and e.step >= 5 and not told:
                told.append(1)
                print("trained", e.step, flush=True)
        window.worker.trainingEvent.connect(event)
        window.worker.start_training(TrainConfig(
            model="dcgan", width=8, batch_size=8, steps=1_000_000, device="cpu",
            autosave_seconds=3600, report_seconds=0.1), sys.argv[1])
    window.engineReady.connect(ready)
app.MainWindow.show = show
sys.exit(app.main(["latent-atelier"]))
"""


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="SIGTERM and SIGHUP are POSIX")
@pytest.mark.parametrize("signum", ["SIGTERM", "SIGHUP"])
def test_a_terminating_signal_stops_and_saves_the_training_then_quits(tmp_path, signum):
    from engine.runs.checkpoints import read_manifest

    signum = getattr(signal, signum)
    run = tmp_path / "run"
    process = subprocess.Popen(
        [sys.executable, "-c", TRAIN_THEN_WAIT, str(run)], cwd=Path(__file__).parents[2],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    try:
        line = process.stdout.readline()
        assert line.startswith("trained"), process.stderr.read()[-2000:] if not line else line
        process.send_signal(signum)
        _, err = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 128 + signum, err[-2000:]
    manifest = read_manifest(run)
    assert manifest["step"] >= int(line.split()[1]) >= 5   # only the stop saved past step 0
    assert manifest["ended"] == "stopped"
    assert "QThread" not in err and "Traceback" not in err


def test_self_test_twice_into_the_same_folder_passes_both_times(headless, tmp_path, capsys):
    # Issue 22, item 12: the second run failed with a traceback ("already holds a run").
    out = tmp_path / "out"
    assert app.main(["latent-atelier", "--self-test", str(out)]) == 0
    capsys.readouterr()
    assert app.main(["latent-atelier", "--self-test", str(out)]) == 0
    captured = capsys.readouterr()
    assert "self-test: passed" in captured.out and "Traceback" not in captured.err


def test_a_failed_self_test_says_why_in_one_line_without_a_traceback(headless, tmp_path,
                                                                     capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "run").write_text("in the way")
    assert app.main(["latent-atelier", "--self-test", str(out)]) == 1
    assert "Traceback" not in capsys.readouterr().err
