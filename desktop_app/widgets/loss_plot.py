"""Live loss curves (pyqtgraph), redrawn at most ten times a second.

The legend is a row of labels above the plot rather than a box inside it, so
it never covers a curve (the curves fill the whole plot as its range follows
them), and it is read as ordinary text in either colour scheme. A value from 0
to 1 that a run reports beside its losses (adaptive augmentation's p) gets a
dashed curve on an axis of its own on the right.
"""
from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt, QTimer
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

from desktop_app.widgets.plot_style import style_plot

# Curves users care about; other logged values (D(x), ...) stay in metrics.jsonl.
CURVES = {"generator": "#e4572e", "discriminator": "#4c9be8"}
PALETTE = ("#e4572e", "#4c9be8", "#59a14f", "#b07aa1", "#f1a340")
# Values from 0 to 1 worth a curve beside the losses, on their own axis on the
# right: adaptive augmentation's probability p (engine/models/common/ada.py).
# Any model may report one, so a curve appears with the first point that has it.
SIDE_CURVES = {"augment_p": ("augment p", "#9c755f")}


def ema_step(state: tuple[float, float], value: float, smoothing: float) -> tuple[float, float]:
    """One step of an exponential moving average kept as (sum, weight), so the
    value is sum / weight: debiased at the start, like TensorBoard's. NaNs are skipped."""
    acc, weight = state
    if np.isfinite(value):
        acc = smoothing * acc + (1 - smoothing) * value
        weight = smoothing * weight + (1 - smoothing)
    return acc, weight


def ema(values: list[float], smoothing: float) -> tuple[list[float], tuple[float, float]]:
    """The smoothed curve of `values` and the state after its last point."""
    out, state = [], (0.0, 0.0)
    for v in values:
        state = ema_step(state, v, smoothing)
        out.append(state[0] / state[1] if state[1] else v)
    return out, state


class LossPlot(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.steps: list[int] = []
        self.values: dict[str, list[float]] = {name: [] for name in CURVES}
        # Smoothed curves are kept up to date point by point, so a redraw costs
        # the same after an hour as after a minute.
        self._smoothed: dict[str, list[float]] = {name: [] for name in CURVES}
        self._ema_state = {name: (0.0, 0.0) for name in CURVES}
        # Side curves (SIDE_CURVES) by name: their raw values, one per step.
        self.side_values: dict[str, list[float]] = {}
        self.side_curves: dict[str, pg.PlotDataItem] = {}
        self._side_view: pg.ViewBox | None = None
        self._dirty = False

        self.plot = pg.PlotWidget(background=None)
        self.plot.setObjectName("lossPlotWidget")
        self.plot.setLabel("bottom", "step")
        self.plot.setLabel("left", "loss")
        self.legend = QLabel(objectName="lossLegend")
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.legend.setWordWrap(True)
        self.curves: dict[str, pg.PlotDataItem] = {}
        self._make_curves(CURVES)

        self.smoothing = QSlider(Qt.Orientation.Horizontal)
        self.smoothing.setObjectName("smoothingSlider")
        self.smoothing.setRange(0, 99)
        self.smoothing.setValue(60)
        self.smoothing.setToolTip("Smoothing of the curves (exponential moving average)")
        self.smoothing.valueChanged.connect(self._resmooth)

        row = QHBoxLayout()
        row.addWidget(QLabel("Smoothing"))
        row.addWidget(self.smoothing)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.legend)
        layout.addWidget(self.plot, 1)
        layout.addLayout(row)

        self._timer = QTimer(self)
        self._timer.setInterval(100)
        self._timer.timeout.connect(self._redraw)
        self._timer.start()
        style_plot(self.plot, self.palette(), font=self.font())

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        super().changeEvent(event)
        # The colour scheme or the desktop font changed.
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.FontChange):
            style_plot(self.plot, self.palette(), font=self.font())

    def _make_curves(self, colours: dict[str, str]) -> None:
        for curve in self.curves.values():
            self.plot.removeItem(curve)
        self.curves = {name: self.plot.plot([], [], name=name, pen=pg.mkPen(colour, width=2))
                       for name, colour in colours.items()}
        self._update_legend()

    def _update_legend(self) -> None:
        entries = [(name, pen.color().name()) for name, pen in
                   ((n, c.opts["pen"]) for n, c in self.curves.items())]
        entries += [(SIDE_CURVES[name][0] + " (right)", SIDE_CURVES[name][1])
                    for name in self.side_curves]
        self.legend.setText("&nbsp;&nbsp;&nbsp;".join(
            f'<span style="color:{colour}">&#9473;&#9473;</span>&nbsp;{html.escape(name)}'
            for name, colour in entries))

    def _add_side_curve(self, name: str) -> None:
        """A curve of `name` on the right axis (0 to 1), the axis made on first need."""
        item = self.plot.getPlotItem()
        if self._side_view is None:
            self._side_view = pg.ViewBox(enableMouse=False)
            item.scene().addItem(self._side_view)
            item.getAxis("right").linkToView(self._side_view)
            self._side_view.setXLink(item)
            self._side_view.setYRange(0, 1, padding=0.02)
            item.vb.sigResized.connect(self._fit_side_view)
        label, colour = SIDE_CURVES[name]
        item.showAxis("right")
        item.getAxis("right").setLabel(label)
        style_plot(self.plot, self.palette(), font=self.font())
        curve = pg.PlotDataItem([], [], pen=pg.mkPen(colour, width=2, style=Qt.PenStyle.DashLine))
        self._side_view.addItem(curve)
        self.side_curves[name] = curve
        # Steps before its first value have none.
        self.side_values[name] = [float("nan")] * max(len(self.steps) - 1, 0)
        self._fit_side_view()
        self._update_legend()

    def _fit_side_view(self) -> None:
        if self._side_view is not None:
            self._side_view.setGeometry(self.plot.getPlotItem().vb.sceneBoundingRect())

    def _remove_side_curves(self) -> None:
        if self._side_view is not None:
            for curve in self.side_curves.values():
                self._side_view.removeItem(curve)
            self.plot.getPlotItem().hideAxis("right")
        self.side_curves, self.side_values = {}, {}
        self._update_legend()

    def clear(self) -> None:
        self.steps.clear()
        for name in self.curves:
            self.values[name].clear()
        for values in self.side_values.values():
            values.clear()
        self._resmooth()

    def set_curves(self, names: tuple[str, ...] | list[str]) -> None:
        """Plot these losses from now on (a model family's own, e.g. a VAE's
        loss, reconstruction and KL); clears the plot."""
        if list(names) == list(self.curves):
            self.clear()
            return
        self._remove_side_curves()   # a side curve comes back with its first value
        self._make_curves({name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)})
        self.values = {name: [] for name in names}
        self._smoothed = {name: [] for name in names}
        self._ema_state = {name: (0.0, 0.0) for name in names}
        self.steps.clear()
        self._dirty = True

    def add_point(self, step: int, losses: dict[str, float]) -> None:
        self.steps.append(step)
        smoothing = self.smoothing.value() / 100
        for name, values in self.values.items():
            value = float(losses.get(name, float("nan")))
            values.append(value)
            acc, weight = self._ema_state[name] = ema_step(self._ema_state[name], value, smoothing)
            self._smoothed[name].append(acc / weight if weight else value)
        for name in SIDE_CURVES:
            if name in losses and name not in self.side_curves:
                self._add_side_curve(name)
        for name, values in self.side_values.items():
            values.append(float(losses.get(name, float("nan"))))
        self._dirty = True

    def _resmooth(self, *_: object) -> None:
        smoothing = self.smoothing.value() / 100
        for name, values in self.values.items():
            self._smoothed[name], self._ema_state[name] = ema(values, smoothing)
        self._dirty = True

    def _redraw(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        x = np.asarray(self.steps, dtype=float)
        for name, curve in self.curves.items():
            curve.setData(x, np.asarray(self._smoothed[name], dtype=float))
        # Side curves unsmoothed: p moves in small steps already.
        for name, curve in self.side_curves.items():
            curve.setData(x, np.asarray(self.side_values[name], dtype=float), connect="finite")

