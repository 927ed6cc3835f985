"""A small looping player for a model's process animation (rows filling in, a
canvas being drawn, a sequence continued), shown on the Train page.

The frames arrive ready-made from the worker thread (plain uint8 arrays, with
each sample grid), so playing them is only swapping pixmaps on a timer: the
GUI thread never runs the model.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSize, QTimer
from PySide6.QtWidgets import QWidget

from desktop_app.widgets.image_view import ImageView

FRAME_MS = 120        # about 8 frames a second
HOLD_FRAMES = 8       # the finished picture stays up this many frame times before the loop restarts


class ProcessView(ImageView):
    def __init__(self, placeholder: str = "", parent: QWidget | None = None,
                 whole_steps: bool = False) -> None:
        super().__init__(placeholder, parent, whole_steps=whole_steps)
        self.setMinimumSize(96, 96)
        self.frames: np.ndarray | None = None   # (T, H, W, C) uint8
        self.position = 0
        self._timer = QTimer(self, interval=FRAME_MS)
        self._timer.timeout.connect(self._advance)

    def set_frames(self, frames: np.ndarray) -> None:
        """Play these frames in a loop from the start (replacing the previous ones)."""
        self.frames = frames
        self.position = 0
        self.set_image(frames[0])
        if not self._timer.isActive():
            self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    @property
    def playing(self) -> bool:
        return self._timer.isActive()

    def _advance(self) -> None:
        if self.frames is None or not self.isVisible():
            return
        self.position = (self.position + 1) % (len(self.frames) + HOLD_FRAMES)
        self.set_image(self.frames[min(self.position, len(self.frames) - 1)])

    def clear(self) -> None:
        self.stop()
        self.frames = None
        super().clear()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(180, 180)
