"""A picture that fills its space and stays crisp: nearest-neighbour scaling."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, QRect, QSize, Qt
from PySide6.QtGui import QPainter, QPixmap
from PySide6.QtWidgets import QSizePolicy, QWidget

from desktop_app.widgets.qimage import to_pixmap


class ImageView(QWidget):
    def __init__(self, placeholder: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._pixmap: QPixmap | None = None
        self._placeholder = placeholder
        self.image: np.ndarray | None = None   # the last picture shown, for tests and export
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(160, 160)

    def set_image(self, image: np.ndarray) -> None:
        self.image = image
        self._pixmap = to_pixmap(image)
        self.update()

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

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        if self._pixmap is None:
            painter.setPen(self.palette().placeholderText().color())
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                             self._placeholder)
            return
        # The painter's default (no smoothing) keeps pixels crisp.
        painter.drawPixmap(self.image_rect(), self._pixmap)

    def image_rect(self) -> QRect:
        """Where the picture is drawn: filling the space, keeping the aspect ratio.
        A whole-number scale is used when it fills at least 85% of the space, so
        every source pixel is the same size."""
        if self._pixmap is None:
            return QRect()
        pw, ph = self._pixmap.width(), self._pixmap.height()
        fit = min(self.width() / pw, self.height() / ph)
        scale = int(fit) if fit >= 1 and int(fit) >= 0.85 * fit else fit
        w, h = int(pw * scale), int(ph * scale)
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
