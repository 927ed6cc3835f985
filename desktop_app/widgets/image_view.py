"""A picture that fills its space and stays crisp: nearest-neighbour scaling."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSize, Qt
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

    def sizeHint(self) -> QSize:
        return QSize(360, 360)

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        if self._pixmap is None:
            painter.setPen(self.palette().placeholderText().color())
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                             self._placeholder)
            return
        # Fill the space, keeping the aspect ratio; the painter's default
        # (no smoothing) keeps pixels crisp. A whole-number scale is used when it
        # fills at least 85% of the space, so every source pixel is the same size.
        pw, ph = self._pixmap.width(), self._pixmap.height()
        fit = min(self.width() / pw, self.height() / ph)
        scale = int(fit) if fit >= 1 and int(fit) >= 0.85 * fit else fit
        w, h = int(pw * scale), int(ph * scale)
        target = self.rect().adjusted((self.width() - w) // 2, (self.height() - h) // 2, 0, 0)
        target.setSize(QSize(w, h))
        painter.drawPixmap(target, self._pixmap)
