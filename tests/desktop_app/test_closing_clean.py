"""Closing is always clean: at any moment (the engine loading, a data scan, an
export, an evaluation, training) the window closes with no Qt warning, no
thread still running and no half-written file left behind.

Qt's messages are captured with pytest-qt's `qtlog`. "QThread: Destroyed while
thread is still running" is fatal in Qt 6 (the process aborts), so besides an
empty log each test asserts the condition that prevents it: once the window is
gone, no engine thread runs.
"""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
from PIL import Image

from desktop_app.worker import live_job_names
from engine.runs.checkpoints import ended_cleanly
from engine.runs.folders import RunDir
from tests.desktop_app.conftest import quick_settings
from tests.engine import messy_images as messy
from tests.engine.conftest import write_mnist_folder

# The offscreen platform's own notice, not the app's: it says nothing about closing.
PLATFORM_NOISE = ("This plugin does not support",)


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory) -> Path:
    """A finished tiny run with a few sample grids, trained once for the module."""
    from engine.training import TrainConfig, train

    data = write_mnist_folder(tmp_path_factory.mktemp("close-data"))
    out = tmp_path_factory.mktemp("close-runs") / "run"
    config = TrainConfig(model="dcgan", data=f"idx:{data}", image_size=28, width=8, batch_size=8,
                         steps=6, device="cpu", seed=0, report_seconds=0.0)
    list(train(config, out))
    return out


@pytest.fixture
def run(trained_run, tmp_path) -> Path:
    return Path(shutil.copytree(trained_run, tmp_path / "run"))


def qt_warnings(qtlog) -> list[str]:
    return [record.message for record in qtlog.records
            if not record.message.startswith(PLATFORM_NOISE)]


def half_written(*folders: Path) -> list[Path]:
    """Temporary files of an atomic write (engine.storage.atomic) left behind."""
    return [p for folder in folders if folder.exists() for p in folder.rglob(".*.tmp")]


def close_and_wait(qtbot, window, timeout_ms: int = 60_000) -> float:
    """Close as a user does; the seconds until the window was gone."""
    started = time.monotonic()
    window.close()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=timeout_ms)
    assert not live_job_names(), f"threads still running: {live_job_names()}"
    assert window.worker.running_jobs() == 0
    return time.monotonic() - started


def test_closing_while_the_engine_loads(qtbot, qtlog, tmp_path, monkeypatch):
    from desktop_app import startup
    from desktop_app.main_window import MainWindow

    # An engine that takes a while to import, however warm this process already is.
    (tmp_path / "slow_engine_for_test.py").write_text("import time\ntime.sleep(1.5)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(startup, "ENGINE_MODULES", ("slow_engine_for_test",))
    window = MainWindow(engine_loaded=False)
    window.show()
    qtbot.waitExposed(window)
    loader = startup.load_engine(window)
    qtbot.waitUntil(loader.isRunning, timeout=5_000)
    window.close()
    assert window.isVisible() and "Closing once" in window.statusBar().currentMessage()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=120_000)   # once loaded
    assert loader.isFinished()
    qtbot.wait(50)
    assert not window.ready, "pages were built for a window the user had closed"
    window.deleteLater()                     # the thread has ended: destroying it is safe
    qtbot.wait(50)
    assert qt_warnings(qtlog) == []


def test_closing_during_a_data_scan(qtbot, qtlog, window, tmp_path, private_user_data):
    root = tmp_path / "big"
    source = messy.plain(root / "0000.png", size=(800, 800)).read_bytes()
    for i in range(1, 600):
        (root / f"{i:04d}.png").write_bytes(source)
    page = window.data_page
    page.set_source("folder", str(root))
    page.scan()
    qtbot.waitUntil(lambda: page.progress.value() > 0, timeout=30_000)
    assert window.worker.is_scanning
    assert close_and_wait(qtbot, window) < 3.0      # a scan stops between files
    assert qt_warnings(qtlog) == []
    assert half_written(private_user_data, root) == []


def test_closing_during_a_time_lapse_export(qtbot, qtlog, window, run, tmp_path, monkeypatch):
    import engine.studio.export as export

    writing = []
    real_save_gif = export.save_gif

    def slow_save_gif(*args, **kwargs):   # a long export, so the close lands inside it
        writing.append(True)
        time.sleep(1.0)
        return real_save_gif(*args, **kwargs)

    monkeypatch.setattr(export, "save_gif", slow_save_gif)
    out = tmp_path / "lapse.gif"
    window.worker.export_timelapse(run, out, fps=5, scale=1)
    qtbot.waitUntil(lambda: bool(writing), timeout=10_000)
    close_and_wait(qtbot, window)
    # The export finished before the window went: the whole GIF, nothing half-written.
    with Image.open(out) as gif:
        assert gif.n_frames == len(RunDir(run).sample_history())
    assert half_written(tmp_path, run) == []
    assert qt_warnings(qtlog) == []


def test_closing_during_a_bundle_export(qtbot, qtlog, window, run, tmp_path, monkeypatch):
    import engine.runs.bundles as bundles

    writing = []
    real_export = bundles.export_bundle

    def slow_export(*args, **kwargs):
        writing.append(True)
        time.sleep(1.0)
        return real_export(*args, **kwargs)

    monkeypatch.setattr(bundles, "export_bundle", slow_export)
    out = tmp_path / "model.atelier.safetensors"
    window.worker.export_bundle(run, out)
    qtbot.waitUntil(lambda: bool(writing), timeout=10_000)
    close_and_wait(qtbot, window)
    assert out.exists() and out.stat().st_size > 0
    assert half_written(tmp_path, run) == []
    assert qt_warnings(qtlog) == []


def test_closing_during_an_evaluation(qtbot, qtlog, window, run):
    from engine.metrics.evaluate import evaluations

    before = len(evaluations(run))
    window.gallery_page.set_run(run)
    window.findChild(object, "evaluateAction").trigger()
    dialog = window.evaluate_dialog
    dialog.samples_spin.setValue(100_000)
    dialog.start()
    qtbot.waitUntil(lambda: "samples" in dialog.stage_label.text().lower(), timeout=60_000)
    assert window.worker.is_evaluating
    assert close_and_wait(qtbot, window) < 10.0    # it stops between batches
    assert len(evaluations(run)) == before          # nothing half-recorded
    assert half_written(run) == []
    assert qt_warnings(qtlog) == []


def test_closing_during_training(qtbot, qtlog, window):
    page = quick_settings(window, steps=1_000_000)
    page.start_training()
    qtbot.waitUntil(lambda: page.last_progress is not None, timeout=30_000)
    run = window.worker.current_run
    assert close_and_wait(qtbot, window) < 5.0
    assert ended_cleanly(run)
    last = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["step"] >= page.last_progress.step
    assert half_written(run) == []
    assert qt_warnings(qtlog) == []


def test_closing_while_the_gallery_samples(qtbot, qtlog, window, run):
    window.worker.generate(run, list(range(256)))
    close_and_wait(qtbot, window)
    assert qt_warnings(qtlog) == []
