"""The evaluation plot beside the loss curves: any reported score can be plotted,
next-frame scores of sequence models included."""
from __future__ import annotations

from desktop_app.widgets.eval_plot import EvalPlot


def test_next_frame_scores_are_plotted_and_lower_mse_is_better(qtbot):
    plot = EvalPlot()
    qtbot.addWidget(plot)
    plot.add_scores(100, {"fd": 80.0, "next_frame_mse_per_frame": 146.6,
                          "next_frame_ssim": 0.11, "samples": 500}, 9.5)
    plot.add_scores(200, {"fd": 70.0, "next_frame_mse_per_frame": 134.9,
                          "next_frame_ssim": 0.28, "samples": 500}, 9.1)
    names = [plot.metric_combo.itemData(i) for i in range(plot.metric_combo.count())]
    assert "next_frame_mse_per_frame" in names and "next_frame_ssim" in names
    assert "next-frame MSE 134.9" in plot.latest_label.text()
    plot.metric_combo.setCurrentIndex(names.index("next_frame_mse_per_frame"))
    x, y = plot.curve.getData()
    assert list(x) == [100, 200] and list(y) == [146.6, 134.9]
    assert "lower is better" in plot.plot.getPlotItem().getAxis("left").labelText
    plot.metric_combo.setCurrentIndex(names.index("next_frame_ssim"))
    assert "higher is better" in plot.plot.getPlotItem().getAxis("left").labelText
