"""Scores of the evaluations made while training, beside the loss curves: one
metric at a time (FD by default), chosen from those the run has reported."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from desktop_app.widgets.plot_style import style_plot
from engine.runs.best import higher_is_better, is_eval_metric, metric_label

PEN = "#59a14f"


class EvalPlot(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.steps: list[int] = []
        self.scores: list[dict] = []
        self.plot = pg.PlotWidget(background=None)
        self.plot.setObjectName("evalPlotWidget")
        self.plot.setLabel("bottom", "step")
        self.curve = self.plot.plot([], [], pen=pg.mkPen(PEN, width=2), symbol="o",
                                    symbolSize=6, symbolBrush=PEN)
        self.metric_combo = QComboBox(objectName="evalMetricCombo")
        self.metric_combo.setToolTip("The score to plot; every score is in the run's metrics.jsonl")
        self.metric_combo.currentIndexChanged.connect(self._redraw)
        self.latest_label = QLabel("No evaluation yet.", objectName="evalLatestLabel",
                                   wordWrap=True)
        row = QHBoxLayout()
        row.addWidget(QLabel("Metric"))
        row.addWidget(self.metric_combo, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot, 1)
        layout.addLayout(row)
        layout.addWidget(self.latest_label)
        style_plot(self.plot, self.palette(), font=self.font())

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        super().changeEvent(event)
        # The colour scheme or the desktop font changed.
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.FontChange):
            style_plot(self.plot, self.palette(), font=self.font())

    def clear(self) -> None:
        self.steps.clear()
        self.scores.clear()
        self.metric_combo.clear()
        self.latest_label.setText("No evaluation yet.")
        self._redraw()

    @property
    def metric(self) -> str | None:
        return self.metric_combo.currentData()

    def add_scores(self, step: int, scores: dict, seconds: float) -> None:
        self.steps.append(step)
        self.scores.append(scores)
        for name, value in scores.items():
            if is_eval_metric(name) and isinstance(value, (int, float)) \
                    and self.metric_combo.findData(name) < 0:
                self.metric_combo.addItem(metric_label(name, scores), name)
        shown = [f"{metric_label(n, scores)} {scores[n]:.4g}"
                 for n in ("fd", "kid", "next_frame_mse_per_frame", "next_frame_ssim")
                 if isinstance(scores.get(n), (int, float))]
        self.latest_label.setText(f"Step {step:,}: {', '.join(shown) or 'scored'} "
                                  f"({scores.get('samples', 0):,} samples, {seconds:.1f} s)")
        self._redraw()

    def _redraw(self, *_: object) -> None:
        name = self.metric
        if name is None:
            self.curve.setData([], [])
            return
        pairs = [(s, r[name]) for s, r in zip(self.steps, self.scores)
                 if isinstance(r.get(name), (int, float))]
        x = np.asarray([p[0] for p in pairs], dtype=float)
        y = np.asarray([p[1] for p in pairs], dtype=float)
        self.curve.setData(x, y)
        better = "higher" if higher_is_better(name) else "lower"
        self.plot.setLabel("left", f"{self.metric_combo.currentText()} ({better} is better)")
