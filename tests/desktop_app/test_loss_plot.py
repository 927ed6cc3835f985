from __future__ import annotations

import math

import pytest

from desktop_app.widgets.loss_plot import LossPlot, ema


def test_ema_is_debiased_and_skips_nan():
    smoothed, _ = ema([1.0, float("nan"), 3.0], 0.5)
    assert smoothed[0] == 1.0           # no pull towards zero at the start
    assert smoothed[1] == 1.0           # NaN points hold the curve
    assert smoothed[2] == pytest.approx((0.5 * 0.5 * 1 + 0.5 * 3) / (0.5 * 0.5 + 0.5))


def test_incremental_smoothing_matches_recomputing(qtbot):
    plot = LossPlot()
    qtbot.addWidget(plot)
    plot.smoothing.setValue(80)
    for step, value in enumerate([4.0, 2.0, 8.0, 1.0, 3.0]):
        plot.add_point(step, {"generator": value, "discriminator": 1.0})
    incremental = list(plot._smoothed["generator"])
    plot.smoothing.setValue(79)
    plot.smoothing.setValue(80)  # recomputes every point from scratch
    assert plot._smoothed["generator"] == pytest.approx(incremental)
    plot.smoothing.setValue(0)
    assert plot._smoothed["generator"] == [4.0, 2.0, 8.0, 1.0, 3.0]
    assert not any(math.isnan(v) for v in plot._smoothed["discriminator"])


def test_gui_thread_collector_disables_and_restores_automatic_gc(qtbot):
    import gc

    from desktop_app.gui_gc import GuiThreadGarbageCollector

    assert gc.isenabled()
    collector = GuiThreadGarbageCollector(interval_ms=10)
    collector.start()
    try:
        assert not gc.isenabled()
        for _ in range(gc.get_threshold()[0] + 10):
            cycle = []
            cycle.append(cycle)
        qtbot.waitUntil(lambda: gc.get_count()[0] < gc.get_threshold()[0], timeout=2_000)
    finally:
        collector.stop()
    assert gc.isenabled()


def test_augment_p_gets_a_curve_on_its_own_axis_from_its_first_value(qtbot):
    plot = LossPlot()
    qtbot.addWidget(plot)
    plot.set_curves(("generator", "discriminator"))
    plot.add_point(1, {"generator": 1.0, "discriminator": 2.0})
    assert not plot.side_curves and not plot.plot.getPlotItem().getAxis("right").isVisible()
    plot.add_point(2, {"generator": 1.0, "discriminator": 2.0, "augment_p": 0.25})
    plot.add_point(3, {"generator": 1.0, "discriminator": 2.0, "augment_p": 0.5})
    assert set(plot.side_curves) == {"augment_p"}
    values = plot.side_values["augment_p"]
    assert math.isnan(values[0]) and values[1:] == [0.25, 0.5]   # unsmoothed, one per step
    assert "augment p" in plot.legend.text()
    axis = plot.plot.getPlotItem().getAxis("right")
    assert axis.labelText == "augment p"
    plot._redraw()
    xs, ys = plot.side_curves["augment_p"].getData()
    assert list(xs) == [1.0, 2.0, 3.0] and list(ys[1:]) == [0.25, 0.5]
    # A new run's curves start without it; it returns with its first value.
    plot.set_curves(("loss",))
    assert not plot.side_curves and "augment p" not in plot.legend.text()
    plot.add_point(1, {"loss": 0.5})
    assert not plot.side_values
