"""The Train page's live process view: a recurrent model's process (here DRAW's
canvas) arrives with each sample grid from the worker and loops in `processView`."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton

from desktop_app.widgets.process_view import HOLD_FRAMES, ProcessView


def test_process_view_loops_frames_and_holds_the_last(qtbot):
    view = ProcessView()
    qtbot.addWidget(view)
    view.show()
    frames = np.stack([np.full((4, 4, 1), 20 * t, np.uint8) for t in range(3)])
    view.set_frames(frames)
    assert view.playing and np.array_equal(view.image, frames[0])
    shown = set()
    for _ in range(3 + HOLD_FRAMES):
        view._advance()
        shown.add(int(view.image[0, 0, 0]))
    assert shown == {0, 20, 40}             # every frame, the last one held, then the start again
    assert view.position == 0
    view.clear()
    assert not view.playing and view.image is None


def test_training_a_recurrent_model_plays_its_process(qtbot, window):
    page = window.train_page
    page.model_combo.setCurrentIndex(page.model_combo.findData("draw"))
    page.batch_spin.setValue(8)
    page.steps_spin.setValue(2)
    page.device_combo.setCurrentIndex(page.device_combo.findData("cpu"))
    assert page.process_box.isHidden()
    button = window.findChild(QPushButton, "trainButton")
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    view = window.findChild(ProcessView, "processView")
    qtbot.waitUntil(lambda: view.frames is not None, timeout=60_000)
    qtbot.waitUntil(lambda: not window.worker.is_training, timeout=60_000)
    assert not page.process_box.isHidden() and "drawing" in page.process_box.title()
    assert view.frames.dtype == np.uint8 and len(view.frames) == 16   # T canvases of DRAW
    assert view.frames.shape[1:] == (28, 28, 1)
    assert view.playing
    first = view.position
    qtbot.waitUntil(lambda: view.position != first, timeout=5_000)   # it plays on its timer
