"""Images per class as a bar chart (pyqtgraph), class names along the bottom."""
from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtWidgets import QVBoxLayout, QWidget

# Beyond this many classes the names would overlap; every n-th one is labelled.
MAX_LABELS = 20


class ClassHistogram(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = pg.PlotWidget()
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.setLabel("left", "images")
        self._bars: pg.BarGraphItem | None = None
        self.counts: tuple[int, ...] = ()
        self.names: tuple[str, ...] = ()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)
        self.setMinimumHeight(140)

    def set_counts(self, names: tuple[str, ...], counts: tuple[int, ...]) -> None:
        self.names, self.counts = tuple(names), tuple(counts)
        if self._bars is not None:
            self.plot.removeItem(self._bars)
            self._bars = None
        axis = self.plot.getAxis("bottom")
        if not counts:
            axis.setTicks([[]])
            self.plot.setTitle("no class labels")
            return
        self.plot.setTitle(None)
        self._bars = pg.BarGraphItem(x=list(range(len(counts))), height=list(counts), width=0.8,
                                     brush="#4c9be8")
        self.plot.addItem(self._bars)
        every = max(1, -(-len(names) // MAX_LABELS))   # ceil: at most MAX_LABELS names
        axis.setTicks([[(i, name) for i, name in enumerate(names) if i % every == 0]])
        self.plot.setXRange(-0.6, len(counts) - 0.4, padding=0)
        self.plot.setYRange(0, max(counts) * 1.05 or 1, padding=0)
