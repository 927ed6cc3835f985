"""Images per class as a bar chart (pyqtgraph), class names along the bottom,
in the colours of the window (light or dark), with a word of what it will show
before any data is loaded."""
from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QVBoxLayout, QWidget

from desktop_app.widgets.plot_style import plot_colours, style_plot

# Beyond this many classes the names would overlap; every n-th one is labelled.
MAX_LABELS = 20
EMPTY_TITLE = "Load data to see how many images each class has"
NO_LABELS_TITLE = "no class labels"


class ClassHistogram(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = pg.PlotWidget(background=None)
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.setLabel("left", "images")
        self._bars: pg.BarGraphItem | None = None
        self.counts: tuple[int, ...] = ()
        self.names: tuple[str, ...] = ()
        self.title = EMPTY_TITLE
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)
        self.setMinimumHeight(140)
        self._restyle()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        super().changeEvent(event)
        # The colour scheme or the desktop font changed.
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.FontChange):
            self._restyle()

    def _restyle(self) -> None:
        style_plot(self.plot, self.palette(), grid_x=False, font=self.font())   # no lines through bars
        self._set_title(self.title)

    def _set_title(self, title: str | None) -> None:
        self.title = title
        foreground = plot_colours(self.palette())[1]
        self.plot.setTitle(title, color=foreground.name(), size=f"{self.font().pointSizeF():g}pt")

    def set_counts(self, names: tuple[str, ...], counts: tuple[int, ...]) -> None:
        self.names, self.counts = tuple(names), tuple(counts)
        if self._bars is not None:
            self.plot.removeItem(self._bars)
            self._bars = None
        axis = self.plot.getAxis("bottom")
        if not counts:
            axis.setTicks([[]])
            self._set_title(NO_LABELS_TITLE)
            return
        self._set_title(None)
        self._bars = pg.BarGraphItem(x=list(range(len(counts))), height=list(counts), width=0.8,
                                     brush="#4c9be8")
        self.plot.addItem(self._bars)
        every = max(1, -(-len(names) // MAX_LABELS))   # ceil: at most MAX_LABELS names
        axis.setTicks([[(i, name) for i, name in enumerate(names) if i % every == 0]])
        self.plot.setXRange(-0.6, len(counts) - 0.4, padding=0)
        self.plot.setYRange(0, max(counts) * 1.05 or 1, padding=0)
