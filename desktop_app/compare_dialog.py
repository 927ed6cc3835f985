"""Side by side: the same seeds from each kept checkpoint and from the run's
sample history, oldest first, so you can see what training changed."""
from __future__ import annotations

from pathlib import Path

import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QGridLayout, QLabel, QScrollArea,
                               QVBoxLayout, QWidget)

from desktop_app.widgets.qimage import to_pixmap
from desktop_app.worker import EngineWorker

CELL_PIXELS = 84


class CompareDialog(QDialog):
    def __init__(self, worker: EngineWorker, run_dir: Path, seeds: list[int],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("compareDialog")
        self.setWindowTitle(f"Compare seeds across {run_dir.name}")
        self.rows: list = []   # engine.studio.gallery.ComparisonRow, once loaded
        self.status = QLabel(f"Rendering seeds {', '.join(map(str, seeds))} from each checkpoint…",
                             objectName="compareStatus", wordWrap=True)
        self.table = QWidget(objectName="compareTable")
        self.grid = QGridLayout(self.table)
        scroll = QScrollArea()
        scroll.setWidget(self.table)
        scroll.setWidgetResizable(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addWidget(scroll, 1)
        layout.addWidget(buttons)
        self.resize(760, 560)
        self.seeds = seeds
        from engine.studio.gallery import compare_seeds
        worker.submit("compare", lambda: compare_seeds(run_dir, seeds), self._show,
                      "Could not compare checkpoints")

    def _show(self, rows: list) -> None:
        if not shiboken6.isValid(self):
            return  # closed before the comparison was ready
        self.rows = rows
        for column, seed in enumerate(self.seeds, start=1):
            self.grid.addWidget(QLabel(f"seed {seed}", alignment=Qt.AlignmentFlag.AlignCenter), 0, column)
        for r, row in enumerate(rows, start=1):
            self.grid.addWidget(QLabel(row.label), r, 0)
            for column, image in enumerate(row.images, start=1):
                cell = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
                if image is None:
                    cell.setText("—")
                    cell.setToolTip("Sample grids hold seeds 0-63 only")
                else:
                    cell.setPixmap(to_pixmap(image, max(1, CELL_PIXELS // image.shape[0])))
                self.grid.addWidget(cell, r, column)
        self.status.setText(f"{len(rows)} rows: kept checkpoints (rendered) and sample grids "
                            "(saved while training), oldest first.")
