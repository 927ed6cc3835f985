"""A picture that fills its space and stays crisp: nearest-neighbour scaling.

A view can enlarge only by whole numbers (`whole_steps`), so every model pixel
is the same square of screen pixels, and it re-scales as its panel resizes. A
view told that its picture is a grid of tiles (`grid_columns`, as
engine.media.images.make_grid draws them) shows the grid's frame lines and
empty cells in the colour scheme's own backdrop rather than the dark grey they
are saved with.
"""
from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QEvent, QPoint, QRect, QSize, Qt
from PySide6.QtGui import QPainter, QPalette, QPixmap
from PySide6.QtWidgets import QSizePolicy, QWidget

from desktop_app.widgets.qimage import to_pixmap

GRID_BACKGROUND = 32   # engine.media.images.make_grid's frame colour
GRID_PADDING = 2       # and its frame width


def fit_scale(picture: QSize, space: QSize, whole_steps: bool) -> float:
    """The enlargement that fits `picture` in `space` keeping its aspect ratio.
    With whole_steps, a whole number whenever the picture fits at least once
    (crisp pixels); otherwise a whole number only when it fills at least 85% of
    the space. A picture larger than the space is shrunk to fit either way."""
    if picture.width() < 1 or picture.height() < 1:
        return 1.0
    fit = min(space.width() / picture.width(), space.height() / picture.height())
    if fit < 1:
        return max(fit, 0.0)
    whole = math.floor(fit)
    return float(whole) if whole_steps or whole >= 0.85 * fit else fit


def grid_frame_mask(shape: tuple[int, ...], columns: int,
                    padding: int = GRID_PADDING) -> np.ndarray | None:
    """(H, W) bool: the frame lines of a make_grid picture with `columns`
    columns of square tiles; None if the picture is not such a grid."""
    height, width = shape[:2]
    side = (width - padding) // columns - padding
    if side < 1 or columns * (side + padding) + padding != width \
            or (height - padding) % (side + padding):
        return None
    mask = np.zeros((height, width), dtype=bool)
    for start in range(0, height, side + padding):
        mask[start:start + padding] = True
    for start in range(0, width, side + padding):
        mask[:, start:start + padding] = True
    return mask


class ImageView(QWidget):
    def __init__(self, placeholder: str = "", parent: QWidget | None = None,
                 whole_steps: bool = False, grid_columns: int | None = None) -> None:
        super().__init__(parent)
        self._pixmap: QPixmap | None = None
        self._placeholder = placeholder
        self.whole_steps = whole_steps
        self.grid_columns = grid_columns
        self.image: np.ndarray | None = None   # the last picture shown, for tests and export
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(160, 160)

    def set_image(self, image: np.ndarray) -> None:
        self.image = image
        self._pixmap = to_pixmap(self._framed(image))
        self.update()

    def _framed(self, image: np.ndarray) -> np.ndarray:
        """The picture as shown: a grid's frame and empty cells in the backdrop colour."""
        if self.grid_columns is None:
            return image
        mask = grid_frame_mask(image.shape, self.grid_columns)
        if mask is None:
            return image
        side = (image.shape[1] - GRID_PADDING) // self.grid_columns - GRID_PADDING
        step = side + GRID_PADDING
        mask = mask.copy()
        for top in range(GRID_PADDING, image.shape[0] - side + 1, step):
            for left in range(GRID_PADDING, image.shape[1] - side + 1, step):
                cell = image[top:top + side, left:left + side]
                if (cell == GRID_BACKGROUND).all():
                    mask[top:top + side, left:left + side] = True
        backdrop = self.palette().color(QPalette.ColorRole.Base)
        framed = np.repeat(image, 3, axis=2) if image.shape[2] == 1 else image.copy()
        framed[mask] = (backdrop.red(), backdrop.green(), backdrop.blue())
        return framed

    def set_placeholder(self, text: str) -> None:
        self._placeholder = text
        self.update()

    def clear(self) -> None:
        """Back to the placeholder text."""
        self.image = None
        self._pixmap = None
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(360, 360)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and self.image is not None \
                and self.grid_columns is not None:
            self._pixmap = to_pixmap(self._framed(self.image))   # the scheme's frame colour
            self.update()

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        if self._pixmap is None:
            painter.setPen(self.palette().placeholderText().color())
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                             self._placeholder)
            return
        # The painter's default (no smoothing) keeps pixels crisp.
        painter.drawPixmap(self.image_rect(), self._pixmap)

    def scale(self) -> float:
        """The enlargement the picture is drawn at now (1.0 without a picture)."""
        if self._pixmap is None:
            return 1.0
        return fit_scale(self._pixmap.size(), self.size(), self.whole_steps)

    def image_rect(self) -> QRect:
        """Where the picture is drawn: filling the space, keeping the aspect ratio,
        centred; see fit_scale for when the scale is a whole number."""
        if self._pixmap is None:
            return QRect()
        scale = self.scale()
        w, h = int(self._pixmap.width() * scale), int(self._pixmap.height() * scale)
        target = self.rect().adjusted((self.width() - w) // 2, (self.height() - h) // 2, 0, 0)
        target.setSize(QSize(w, h))
        return target

    def image_position(self, point: QPoint) -> tuple[int, int] | None:
        """The picture's pixel (x, y) under a point of the widget, or None outside it."""
        target = self.image_rect()
        if self.image is None or not target.contains(point) or target.width() < 1:
            return None
        h, w = self.image.shape[:2]
        x = (point.x() - target.x()) * w // target.width()
        y = (point.y() - target.y()) * h // target.height()
        return min(max(x, 0), w - 1), min(max(y, 0), h - 1)
