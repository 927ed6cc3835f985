"""Side by side: the same seeds from each kept checkpoint and from the run's
sample history, oldest first, so you can see what training changed.

For a model with an iterative sampler (diffusion, flow: STEPS and GUIDANCE in
its spec's capabilities) the checkpoints are rendered with the sampler steps
and guidance the dialog shows: the gallery's when it opens (so the rows match
its tiles), and rendered again when they change. The sample-history rows are
pictures saved while training, with the run's own settings."""
from __future__ import annotations

from pathlib import Path

import shiboken6
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QGridLayout, QLabel, QScrollArea,
                               QVBoxLayout, QWidget)

from desktop_app.widgets.qimage import to_pixmap
from desktop_app.widgets.sampling_controls import SamplerControls
from desktop_app.worker import EngineWorker

CELL_PIXELS = 84
RERENDER_MS = 400   # a burst of spin-box steps renders once, after it


class CompareDialog(QDialog):
    def __init__(self, worker: EngineWorker, run_dir: Path, seeds: list[int],
                 parent: QWidget | None = None, sampler: dict | None = None) -> None:
        """`sampler`: steps= and guidance= to start from (the gallery's), for a
        run whose model takes them; the run's own defaults otherwise."""
        super().__init__(parent)
        self.setObjectName("compareDialog")
        self.setWindowTitle(f"Compare seeds across {run_dir.name}")
        self.worker, self.run_dir, self.seeds = worker, Path(run_dir), seeds
        self.rows: list = []   # engine.studio.gallery.ComparisonRow, once loaded
        self.rendered_with: dict = {}   # the sampler settings the rows were rendered with
        self._generation = 0   # renders still running for older settings are dropped
        self.status = QLabel(objectName="compareStatus", wordWrap=True)
        self.sampler = SamplerControls("compareStepsSpin", "compareGuidanceSpin")
        self.table = QWidget(objectName="compareTable")
        self.grid = QGridLayout(self.table)
        scroll = QScrollArea()
        scroll.setWidget(self.table)
        scroll.setWidgetResizable(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        # Enter in a spin box sets its value; it must not close the dialog (Escape does).
        for button in buttons.buttons():
            button.setAutoDefault(False)
            button.setDefault(False)
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addWidget(self.sampler)
        layout.addWidget(scroll, 1)
        layout.addWidget(buttons)
        self.resize(760, 560)
        self._rerender = QTimer(self, singleShot=True, interval=RERENDER_MS)
        self._rerender.timeout.connect(self.render)
        # Controls only for a model that takes them; render once its settings are known.
        self.sampler.set_run(worker, self.run_dir)
        self.sampler.choose(sampler or {})
        self.sampler.changed.connect(self._rerender.start)
        if self.sampler.pending:
            self.status.setText("Reading the run's sampler settings…")
            self.sampler.ready.connect(self.render, Qt.ConnectionType.SingleShotConnection)
        else:
            self.render()

    def render(self) -> None:
        """Render the checkpoints' rows with the settings shown (on the worker)."""
        from engine.studio.gallery import compare_seeds

        self._generation += 1
        generation, settings = self._generation, self.sampler.settings()
        run_dir, seeds = self.run_dir, self.seeds
        self.status.setText(f"Rendering seeds {', '.join(map(str, seeds))} from each checkpoint"
                            f"{_described(settings)}…")
        self.worker.submit("compare", lambda: compare_seeds(run_dir, seeds, **settings),
                           lambda rows: self._show(rows, generation, settings),
                           "Could not compare checkpoints")

    def _show(self, rows: list, generation: int = 0, settings: dict | None = None) -> None:
        if not shiboken6.isValid(self) or generation != self._generation:
            return  # closed, or the settings changed while these rendered
        self.rows, self.rendered_with = rows, dict(settings or {})
        while self.grid.count():
            item = self.grid.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
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
        grids = (" and sample grids (saved while training, with the run's own sampler settings)"
                 if self.rendered_with else " and sample grids (saved while training)")
        self.status.setText(f"{len(rows)} rows: kept checkpoints (rendered"
                            f"{_described(self.rendered_with)}){grids}, oldest first.")


def _described(settings: dict) -> str:
    """" with 20 steps and guidance 2" for the sampler settings given; "" for none."""
    parts = ([f"{settings['steps']} steps"] if "steps" in settings else []) \
        + ([f"guidance {settings['guidance']:g}"] if "guidance" in settings else [])
    return f" with {' and '.join(parts)}" if parts else ""
