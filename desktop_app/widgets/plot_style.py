"""pyqtgraph plots in the colours of the widget's palette, so they follow the
light or dark scheme (pyqtgraph's own default is a black box with grey axes,
whatever the window around it looks like)."""
from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPalette

# Grid lines are the axis colour at this opacity: visible, never louder than the curves.
GRID_ALPHA = 0.2


def plot_colours(palette: QPalette) -> tuple[QColor, QColor]:
    """(background, foreground) of a plot in this palette: the base colour that
    text fields use, and the text colour on it."""
    return palette.color(QPalette.ColorRole.Base), palette.color(QPalette.ColorRole.Text)


def style_plot(plot: pg.PlotWidget, palette: QPalette, grid_x: bool = True,
               font: QFont | None = None) -> None:
    """Background, axes, tick labels, axis labels and title in the palette's
    colours; grid lines across (and, with grid_x, along) the plot. Tick labels
    in `font` (the widget's: the desktop font), so they grow with it and the
    axes make room for them rather than clipping them."""
    background, foreground = plot_colours(palette)
    font = QFont(font if font is not None else plot.font())
    plot.setBackground(background)
    item = plot.getPlotItem()
    for name in ("left", "bottom", "right", "top"):
        axis = item.getAxis(name)
        axis.setPen(pg.mkPen(foreground))
        axis.setTextPen(pg.mkPen(foreground))
        axis.setStyle(tickFont=font)
        if name in ("bottom", "top"):
            # pyqtgraph sizes the axis to the tick labels' ink, which leaves out
            # the part below the baseline (the "_" of "0_circle" was cut off):
            # the font's whole line height instead.
            axis.setStyle(autoExpandTextSpace=False,
                          tickTextHeight=QFontMetrics(font).height() + 2)
        # The axis label is rich text with its own colour, set when it was made.
        if axis.labelText or axis.labelUnits:
            axis.setLabel(axis.labelText, axis.labelUnits, color=foreground.name(),
                          **{"font-size": f"{font.pointSizeF():g}pt"})
    item.showGrid(x=grid_x, y=True, alpha=GRID_ALPHA)
    if item.titleLabel.text:
        item.titleLabel.setText(item.titleLabel.text, color=foreground.name(),
                                size=f"{font.pointSizeF():g}pt")
