"""uint8 numpy pictures -> Qt images."""
from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage, QPixmap


def to_qimage(image: np.ndarray) -> QImage:
    """uint8 (H, W, 1|3) -> a QImage that owns a copy of the pixels."""
    image = np.ascontiguousarray(image)
    h, w, c = image.shape
    fmt = QImage.Format.Format_Grayscale8 if c == 1 else QImage.Format.Format_RGB888
    # .copy() detaches the QImage from the numpy buffer, which may be freed.
    return QImage(image.data, w, h, w * c, fmt).copy()


def to_pixmap(image: np.ndarray, scale: int = 1) -> QPixmap:
    from engine.media.images import upscale_nearest

    return QPixmap.fromImage(to_qimage(upscale_nearest(image, scale)))


def from_qimage(image: QImage) -> np.ndarray:
    """A QImage (a picture dragged or pasted in) -> a fresh uint8 (H, W, 1|4) array:
    greyscale stays one channel, anything else becomes RGBA."""
    grey = image.format() in (QImage.Format.Format_Grayscale8, QImage.Format.Format_Grayscale16,
                              QImage.Format.Format_Mono, QImage.Format.Format_MonoLSB)
    converted = image.convertToFormat(QImage.Format.Format_Grayscale8 if grey
                                      else QImage.Format.Format_RGBA8888)
    channels = 1 if grey else 4
    w, h = converted.width(), converted.height()
    row = np.frombuffer(converted.constBits(), dtype=np.uint8, count=converted.bytesPerLine() * h)
    pixels = row.reshape(h, converted.bytesPerLine())[:, :w * channels]
    return pixels.reshape(h, w, channels).copy()
