"""Dragging one picture out of a grid preview (the Data page's first 64 images)
onto another page, e.g. the gallery's reconstruction view. The drag carries the
tile as image data at its own pixel size."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QMimeData, QObject, QPoint, Qt
from PySide6.QtGui import QDrag
from PySide6.QtWidgets import QApplication

from desktop_app.widgets.image_view import ImageView
from desktop_app.widgets.qimage import to_pixmap, to_qimage

BACKGROUND = 32   # engine.media.images.make_grid's padding colour: nothing to drag there


def grid_tile_at(grid: np.ndarray, x: int, y: int, columns: int, padding: int = 2
                 ) -> np.ndarray | None:
    """The tile of a make_grid picture (fixed column count) under pixel (x, y), or None
    on the padding or on an empty cell."""
    side = (grid.shape[1] - padding) // columns - padding
    if side < 1:
        return None
    col, dx = divmod(x - padding, side + padding)
    row, dy = divmod(y - padding, side + padding)
    if x < padding or y < padding or dx >= side or dy >= side or col >= columns:
        return None
    top, left = padding + row * (side + padding), padding + col * (side + padding)
    tile = grid[top:top + side, left:left + side]
    if tile.shape[:2] != (side, side) or (tile == BACKGROUND).all():
        return None
    return tile.copy()


class TileDragSource(QObject):
    """Event filter for an ImageView showing a grid: a press and a drag on a tile
    starts a drag of that tile."""

    def __init__(self, view: ImageView, columns: int) -> None:
        super().__init__(view)
        self.view, self.columns = view, columns
        self._pressed: QPoint | None = None
        view.installEventFilter(self)
        view.setToolTip("Drag a picture onto the Gallery's reconstruction view to see a VAE "
                        "encode and decode it")

    def tile_at(self, point: QPoint) -> np.ndarray | None:
        where = self.view.image_position(point)
        if where is None or self.view.image is None:
            return None
        return grid_tile_at(self.view.image, where[0], where[1], self.columns)

    def mime_data(self, tile: np.ndarray) -> QMimeData:
        mime = QMimeData()
        mime.setImageData(to_qimage(tile))
        return mime

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        kind = event.type()
        if kind == QEvent.Type.MouseButtonPress and event.button() == Qt.MouseButton.LeftButton:
            self._pressed = event.position().toPoint()
        elif kind == QEvent.Type.MouseButtonRelease:
            self._pressed = None
        elif kind == QEvent.Type.MouseMove and self._pressed is not None \
                and (event.position().toPoint() - self._pressed).manhattanLength() \
                >= QApplication.startDragDistance():
            tile = self.tile_at(self._pressed)
            self._pressed = None
            if tile is not None:
                drag = QDrag(self.view)
                drag.setMimeData(self.mime_data(tile))
                drag.setPixmap(to_pixmap(tile, max(1, 64 // max(tile.shape[0], 1))))
                drag.exec(Qt.DropAction.CopyAction)
                return True
        return False
