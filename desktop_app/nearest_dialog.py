"""Is this tile a copy? A gallery tile beside its nearest training pictures.

Two rows: the training pictures nearest by the copy check's features and those
nearest by pixels, each labelled with both distances, and the engine's verdict
(engine.metrics.nearest_training). The search runs on the worker's thread; the
first time for a data set it computes the training pictures' features (with
progress), later it reads them from the cache. Closing the dialog stops it.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import shiboken6
from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QGroupBox, QHBoxLayout, QLabel,
                               QListView, QListWidget, QListWidgetItem, QProgressBar, QVBoxLayout,
                               QWidget)
from PySide6.QtGui import QIcon

from desktop_app.widgets.qimage import to_pixmap
from desktop_app.worker import EngineWorker, Job
from engine.metrics.evaluate import EvalProgress
from engine.metrics.nearest_training import format_distance, nearest_training_pictures

THUMB_PIXELS = 96


class NearestDialog(QDialog):
    def __init__(self, worker: EngineWorker, run_dir: Path, seed: int, image: np.ndarray,
                 parent: QWidget | None = None, k: int = 6) -> None:
        super().__init__(parent)
        self.setObjectName("nearestDialog")
        self.setWindowTitle(f"Nearest training pictures of seed {seed}")
        self.result = None    # engine.metrics.nearest_training.NearestTraining, once found
        tile = QLabel(objectName="nearestTile", alignment=Qt.AlignmentFlag.AlignCenter)
        tile.setPixmap(to_pixmap(image, max(1, THUMB_PIXELS // max(image.shape[:2]))))
        tile.setToolTip(f"Seed {seed}")
        self.verdict = QLabel(f"Looking for the training pictures nearest to seed {seed}…",
                              objectName="nearestVerdict", wordWrap=True)
        self.verdict.setTextFormat(Qt.TextFormat.PlainText)   # names come from the user's files
        self.progress = QProgressBar(objectName="nearestProgress", minimum=0, maximum=0)
        self.by_features = _row("nearestByFeatures")
        self.by_pixels = _row("nearestByPixels")
        self.yardstick = QLabel(objectName="nearestYardstick", wordWrap=True)
        self.yardstick.setTextFormat(Qt.TextFormat.PlainText)
        top = QHBoxLayout()
        top.addWidget(tile)
        column = QVBoxLayout()
        column.addWidget(self.verdict)
        column.addWidget(self.progress)
        top.addLayout(column, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        for title, row in (("Nearest by features (what the copy check compares)", self.by_features),
                           ("Nearest by pixels (exact and near-exact copies)", self.by_pixels)):
            box = QGroupBox(title)
            QVBoxLayout(box).addWidget(row)
            layout.addWidget(box)
        layout.addWidget(self.yardstick)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(820, 520)
        self.finished.connect(self._stop)
        picture = np.array(image)   # the dialog's own copy: the tile may be replaced meanwhile
        self.job: Job | None = worker.stream(
            "nearest", lambda control: nearest_training_pictures(run_dir, picture, k=k,
                                                                 control=control),
            "Could not find the nearest training pictures")
        self.job.yielded.connect(self._on_event)
        self.job.ended.connect(self._on_ended)

    def _on_event(self, event: object) -> None:
        if not shiboken6.isValid(self):
            return
        if isinstance(event, EvalProgress):
            self.progress.setRange(0, event.total)
            self.progress.setValue(event.done)
            self.verdict.setText(f"Computing the features of the training pictures "
                                 f"({event.done:,} of {event.total:,}; once per data set)…")
            return
        self.result = event
        found = event.pictures[0]
        base = event.base()
        _fill(self.by_features, found.by_features, base)
        _fill(self.by_pixels, found.by_pixels, base)
        self.verdict.setText(_capitalised(event.verdict(0)) + ".")
        lines = event.lines(["this tile"])
        self.yardstick.setText(lines[-1] if event.close is not None else
                               f"{event.searched:,} training pictures of {event.data} searched.")

    def _on_ended(self) -> None:
        self.job = None
        if shiboken6.isValid(self):
            self.progress.setRange(0, 1)
            self.progress.setValue(1)
            if self.result is None:
                self.verdict.setText("No result (see the message).")

    def _stop(self) -> None:
        if self.job is not None:
            self.job.control.stop()


def _row(name: str) -> QListWidget:
    row = QListWidget(objectName=name)
    row.setViewMode(QListView.ViewMode.IconMode)
    row.setIconSize(QSize(THUMB_PIXELS, THUMB_PIXELS))
    row.setMovement(QListView.Movement.Static)
    row.setResizeMode(QListView.ResizeMode.Adjust)
    row.setWrapping(False)
    row.setMinimumHeight(THUMB_PIXELS + 64)
    return row


def _fill(row: QListWidget, neighbours: tuple, base: str) -> None:
    row.clear()
    for n in neighbours:
        picture = n.picture
        name = _elided(n.label(base)) if n.name else f"#{n.index:,}"
        item = QListWidgetItem(QIcon(to_pixmap(picture, max(1, THUMB_PIXELS // picture.shape[0]))),
                               f"{name}\nfeatures {format_distance(n.feature_distance)}\n"
                               f"pixels {n.pixel_distance:.1f}")
        item.setToolTip(f"{n.name or n.label()}\nfeature distance {n.feature_distance:.4g}; "
                        f"pixel difference {n.pixel_distance:.2f} per value (0-255)")
        row.addItem(item)


def _elided(text: str, most: int = 18) -> str:
    name = os.path.basename(text) if os.sep in text else text
    return name if len(name) <= most else name[:most - 1] + "…"


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]
