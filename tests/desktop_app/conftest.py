from __future__ import annotations

import pytest


@pytest.fixture
def window(qtbot):
    """The real main window, shown offscreen; stopped and joined afterwards."""
    from desktop_app.gui_gc import GuiThreadGarbageCollector
    from desktop_app.main_window import MainWindow
    from desktop_app.worker import live_job_names

    collector = GuiThreadGarbageCollector()  # as the app does: never collect Qt garbage off-thread
    collector.start()
    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.worker.stop()
    assert w.worker.shutdown(30_000), "engine jobs did not stop within 30 s"
    qtbot.waitUntil(lambda: not live_job_names(), timeout=5_000)
    w.close()
    w.deleteLater()
    qtbot.wait(10)
    collector.stop()


def quick_settings(window, steps: int = 30, width: int = 8, batch: int = 16, minutes: float = 0.0):
    """Settings a person would type for a quick CPU run: a small DCGAN."""
    page = window.train_page
    page.model_combo.setCurrentIndex(page.model_combo.findData("dcgan"))
    page.image_size_combo.setCurrentIndex(page.image_size_combo.findData(28))
    page.width_spin.setValue(width)
    page.batch_spin.setValue(batch)
    page.steps_spin.setValue(steps)
    page.minutes_spin.setValue(minutes)
    page.seed_spin.setValue(3)
    page.device_combo.setCurrentIndex(page.device_combo.findData("cpu"))
    return page
