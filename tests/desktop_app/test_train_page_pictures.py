"""The Train page's live pictures fill their panels in whole-number steps and
follow the window's size; the loss legend never covers the curves."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSize
from PySide6.QtWidgets import QLabel

from desktop_app.widgets.image_view import fit_scale, grid_frame_mask
from desktop_app.widgets.picture_panels import picture_widths
from engine.media.images import make_grid
from engine.models import plotted_losses
from engine.training.events import Samples


def live_grid(side: int = 28) -> np.ndarray:
    tiles = np.random.default_rng(0).integers(0, 255, (64, side, side, 1), dtype=np.uint8)
    return make_grid(tiles, columns=8)


def drawn_scale(view) -> float:
    return view.image_rect().width() / view.image.shape[1]


def settle(qtbot, window, size: tuple[int, int]) -> None:
    window.resize(*size)
    qtbot.waitUntil(lambda: (window.width(), window.height()) == size)
    qtbot.wait(50)   # the panels are fitted once the layout has settled


def test_the_sample_grid_grows_and_shrinks_by_whole_numbers_with_the_window(qtbot, window):
    page = window.train_page
    page._on_event(Samples(step=1, grid=live_grid()))
    scales = {}
    for size in ((1024, 600), (1366, 768), (1920, 1080), (1280, 900)):
        settle(qtbot, window, size)
        scale = drawn_scale(page.sample_view)
        assert scale == int(scale) and scale >= 1, (size, scale)
        # The panel is sized for the picture: not even one more whole step would fit.
        view = page.sample_view
        assert view.width() < view.image.shape[1] * (scale + 1) \
            or view.height() < view.image.shape[0] * (scale + 1), size
        scales[size] = scale
    # The picture uses the room it is given (issue: 224 px in a panel 3x that size).
    assert scales[(1920, 1080)] >= 3 and scales[(1366, 768)] >= 2
    assert scales[(1920, 1080)] > scales[(1024, 600)]
    # The loss plot keeps a fair share of the row beside it.
    assert page.loss_plot.width() >= 300


def test_a_divider_the_user_moved_stays_where_they_put_it(qtbot, window):
    page = window.train_page
    page._on_event(Samples(step=1, grid=live_grid()))
    settle(qtbot, window, (1366, 768))
    page.views.moveSplitter(450, 1)
    page._user_moved_divider()   # what a drag of the handle reports
    sizes = page.views.sizes()
    settle(qtbot, window, (1400, 800))
    assert abs(page.views.sizes()[0] - sizes[0]) < 60   # stretched, not re-fitted
    scale = drawn_scale(page.sample_view)
    assert scale >= 1 and scale == int(scale)            # still crisp


def test_the_process_view_scales_by_whole_numbers_beside_the_grid(qtbot, window):
    page = window.train_page
    frames = np.random.default_rng(1).integers(0, 255, (5, 28, 28, 1), dtype=np.uint8)
    page._on_event(Samples(step=1, grid=live_grid(), process=frames, process_name="filling in"))
    settle(qtbot, window, (1600, 900))
    for view in (page.sample_view, page.process_view):
        assert view.isVisible()
        scale = drawn_scale(view)
        assert scale == int(scale) and scale >= 1, view.objectName()
    assert drawn_scale(page.process_view) >= 4         # a 28 px frame is not left tiny


def test_fit_scale_rules():
    picture = QSize(226, 226)
    assert fit_scale(picture, QSize(600, 700), whole_steps=True) == 2
    assert fit_scale(picture, QSize(600, 700), whole_steps=False) == 600 / 226   # under 85%
    assert fit_scale(picture, QSize(100, 700), whole_steps=True) == 100 / 226   # shrinks to fit
    assert fit_scale(QSize(0, 0), QSize(100, 100), whole_steps=True) == 1.0


def test_picture_widths_give_the_row_to_whole_number_sizes():
    chrome = QSize(20, 30)
    # One 226 px grid in 1000 x 700: 670 px high inside the chrome, so 2x (3x is 678).
    assert picture_widths([QSize(226, 226)], 1000, 700, chrome) == [226 * 2 + 20]
    assert picture_widths([QSize(226, 226)], 1000, 1000, chrome) == [226 * 4 + 20]
    # Too narrow for 2x: 1x.
    assert picture_widths([QSize(226, 226)], 400, 1000, chrome) == [226 + 20]
    # Two pictures side by side: the grid at 2x and a 28 px process frame as
    # large as the rest of the row allows (18x: 504 px, within the 670 px height).
    widths = picture_widths([QSize(226, 226), QSize(28, 28)], 1000, 700, chrome)
    assert widths == [226 * 2 + 20, 28 * 18 + 20]
    assert picture_widths([], 1000, 700, chrome) == []


def test_grid_frame_mask_finds_make_grid_frames_only():
    grid = live_grid()
    mask = grid_frame_mask(grid.shape, 8)
    assert mask is not None and mask[0].all() and mask[:, 1].all() and not mask[5, 5]
    assert (grid[mask] == 32).all()
    assert grid_frame_mask((100, 101, 1), 8) is None


def test_the_loss_legend_is_beside_the_plot_not_over_the_curves(window):
    plot = window.train_page.loss_plot
    legend = window.findChild(QLabel, "lossLegend")
    assert legend is not None and legend.isVisible()
    # Before any run, the legend names the losses of the model chosen on the page,
    # from the first launch on (where the preset chooses it).
    page = window.train_page
    assert page.loss_plot.curves.keys() == set(plotted_losses(page.model_combo.currentData()))
    page.model_combo.setCurrentIndex(page.model_combo.findData("dcgan"))
    assert "generator" in legend.text() and "discriminator" in legend.text()
    page.model_combo.setCurrentIndex(page.model_combo.findData("conv-vae"))
    assert "reconstruction" in legend.text() and "generator" not in legend.text()
    page.model_combo.setCurrentIndex(page.model_combo.findData("dcgan"))
    assert plot.plot.getPlotItem().legend is None       # nothing drawn inside the plot
    assert legend.geometry().bottom() < plot.plot.geometry().top()
    plot.set_curves(("loss", "reconstruction", "kl"))
    assert "reconstruction" in legend.text() and "generator" not in legend.text()
