"""Gallery zoom: a slider (and Ctrl+wheel over the tiles) that sets the tile size.
Tiles are enlarged by a whole number with nearest-neighbour pixels, so every
model pixel stays a crisp square at any zoom."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QEvent, QObject, QSize, Qt
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QHBoxLayout, QLabel, QListWidget, QSlider, QWidget

from desktop_app.widgets.qimage import to_pixmap

MIN_PIXELS, MAX_PIXELS, DEFAULT_PIXELS = 32, 512, 112
WHEEL_STEP = 16      # pixels per notch of Ctrl+wheel


class GalleryZoom(QWidget):
    """Owns `galleryZoomSlider`; `icon(image)` makes a tile at the current zoom."""

    def __init__(self, grid: QListWidget, image_of: Callable[[object], np.ndarray | None],
                 role: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.grid, self.image_of, self.role = grid, image_of, role
        self.slider = QSlider(Qt.Orientation.Horizontal, objectName="galleryZoomSlider",
                              minimum=MIN_PIXELS, maximum=MAX_PIXELS, value=DEFAULT_PIXELS)
        self.slider.setSingleStep(WHEEL_STEP)
        self.slider.setPageStep(4 * WHEEL_STEP)
        self.slider.setMaximumWidth(160)
        self.slider.setToolTip("Tile size (Ctrl+wheel over the tiles); pixels stay crisp")
        self.slider.valueChanged.connect(self.apply)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Zoom"))
        layout.addWidget(self.slider)
        grid.viewport().installEventFilter(self)

    @property
    def tile_pixels(self) -> int:
        return self.slider.value()

    def scale_for(self, image: np.ndarray) -> int:
        """The whole-number enlargement closest to the zoom (at least 1)."""
        return max(1, round(self.tile_pixels / max(image.shape[0], image.shape[1], 1)))

    def icon(self, image: np.ndarray) -> QIcon:
        """The tile's icon at the current zoom; the grid's icon size follows it
        exactly, so Qt never resamples (and blurs) the pixmap."""
        scale = self.scale_for(image)
        self.grid.setIconSize(QSize(image.shape[1] * scale, image.shape[0] * scale))
        return QIcon(to_pixmap(image, scale))

    def apply(self) -> None:
        """Redraw every tile at the current zoom."""
        for row in range(self.grid.count()):
            item = self.grid.item(row)
            image = self.image_of(item.data(self.role))
            if image is not None:
                item.setIcon(self.icon(image))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.Wheel \
                and event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            notches = event.angleDelta().y() / 120
            if notches:
                self.slider.setValue(self.slider.value() + round(notches * WHEEL_STEP) or
                                     (WHEEL_STEP if notches > 0 else -WHEEL_STEP))
            return True    # Ctrl+wheel zooms; it never scrolls
        return False
