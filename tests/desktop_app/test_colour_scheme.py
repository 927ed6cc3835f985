"""Light and dark: View > Colour scheme switches the whole window, plots and
picture frames included, follows the system while on System, and is remembered."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QLabel

from desktop_app.theme import Scheme, TONES, is_dark, saved_scheme, set_tone
from engine.training.events import Samples


def window_colour(widget) -> tuple[int, int, int]:
    colour = widget.palette().color(QPalette.ColorRole.Window)
    return colour.red(), colour.green(), colour.blue()


def plot_background(plot) -> float:
    return plot.backgroundBrush().color().lightnessF()


def choose(qtbot, window, name: str) -> None:
    action = window.findChild(QAction, name)
    assert action is not None and action.isCheckable(), name
    action.trigger()
    qtbot.wait(20)   # palette changes reach the widgets through the event loop


@pytest.fixture
def light_again(qapp):
    yield
    # Later tests in this process start from the platform's own palette.
    QApplication.setPalette(QPalette())


def test_view_menu_switches_everything_between_dark_and_light(qtbot, window, light_again):
    train, data = window.train_page, window.data_page
    assert window.colour_scheme.choice is Scheme.SYSTEM
    assert window.findChild(QAction, "schemeSystemAction").isChecked()
    assert not is_dark(window.palette())     # offscreen has no system scheme: light

    choose(qtbot, window, "schemeDarkAction")
    assert window.findChild(QAction, "schemeDarkAction").isChecked()
    assert is_dark(window.palette()) and is_dark(train.palette()) and is_dark(data.palette())
    for plot in (train.loss_plot.plot, train.eval_plot.plot, data.histogram.plot):
        assert plot_background(plot) < 0.3, plot.objectName()
    axis = train.loss_plot.plot.getPlotItem().getAxis("bottom")
    assert axis.textPen().color().lightnessF() > 0.7     # tick labels light on dark

    choose(qtbot, window, "schemeLightAction")
    assert not is_dark(window.palette())
    for plot in (train.loss_plot.plot, train.eval_plot.plot, data.histogram.plot):
        assert plot_background(plot) > 0.8, plot.objectName()
    assert axis.textPen().color().lightnessF() < 0.3


def test_the_class_histogram_is_not_a_black_box_before_anything_is_loaded(window):
    histogram = window.data_page.histogram
    assert histogram.counts == ()
    assert plot_background(histogram.plot) > 0.8            # the light window's own
    assert "Load data" in histogram.plot.getPlotItem().titleLabel.text


def test_the_choice_is_remembered_for_the_next_launch(qtbot, window, light_again):
    from desktop_app.main_window import MainWindow

    choose(qtbot, window, "schemeDarkAction")
    assert saved_scheme() is Scheme.DARK
    again = MainWindow(engine_loaded=False)
    qtbot.addWidget(again)
    assert again.colour_scheme.choice is Scheme.DARK
    assert again.findChild(QAction, "schemeDarkAction").isChecked()
    assert again.colour_scheme.dark and is_dark(QApplication.palette())


def test_a_nonsense_setting_falls_back_to_system(private_user_data):
    from desktop_app.app_settings import app_settings
    from desktop_app.theme import SETTINGS_KEY

    settings = app_settings()
    settings.setValue(SETTINGS_KEY, "purple")
    settings.sync()
    assert saved_scheme() is Scheme.SYSTEM


def test_on_system_the_app_follows_the_platform_scheme(qtbot, window, light_again):
    hints = QGuiApplication.styleHints()
    hints.colorSchemeChanged.emit(Qt.ColorScheme.Dark)   # the desktop switched to dark
    qtbot.wait(20)
    assert window.colour_scheme.dark and is_dark(window.train_page.palette())
    hints.colorSchemeChanged.emit(Qt.ColorScheme.Light)
    qtbot.wait(20)
    assert not window.colour_scheme.dark and not is_dark(window.palette())
    # A fixed choice ignores the desktop.
    choose(qtbot, window, "schemeLightAction")
    hints.colorSchemeChanged.emit(Qt.ColorScheme.Dark)
    qtbot.wait(20)
    assert not window.colour_scheme.dark


def test_warning_and_error_labels_stay_readable_in_both_schemes(qtbot, window, light_again):
    label = window.findChild(QLabel, "settingsError")
    assert label.palette().color(QPalette.ColorRole.WindowText).name() == TONES[False]["error"]
    choose(qtbot, window, "schemeDarkAction")
    assert label.palette().color(QPalette.ColorRole.WindowText).name() == TONES[True]["error"]
    for dark in (False, True):
        from desktop_app.theme import own_palette

        window_bg = own_palette(dark).color(QPalette.ColorRole.Window)
        for tone, colour in TONES[dark].items():
            assert contrast(colour, window_bg.name()) >= 4.5, (dark, tone)
    with pytest.raises(ValueError, match="unknown tone"):
        set_tone(label, "loud")


def test_grid_frames_follow_the_scheme(qtbot, window, light_again):
    view = window.train_page.sample_view
    grid = np.full((8 * 30 + 2, 8 * 30 + 2, 1), 32, dtype=np.uint8)   # make_grid's frame: 32
    for r in range(8):
        for c in range(8):
            grid[2 + 30 * r:30 * r + 30, 2 + 30 * c:30 * c + 30] = 200
    window.train_page._on_event(Samples(step=1, grid=grid))
    frame = view._pixmap.toImage().pixelColor(0, 0)
    assert frame.lightnessF() > 0.8                         # light frame in the light scheme
    assert view._pixmap.toImage().pixelColor(5, 5).red() == 200   # the picture itself unchanged
    choose(qtbot, window, "schemeDarkAction")
    assert view._pixmap.toImage().pixelColor(0, 0).lightnessF() < 0.3
    assert view.image is grid                                # what export and tests read: as saved


def contrast(foreground: str, background: str) -> float:
    """WCAG contrast ratio of two #rrggbb colours."""
    def luminance(colour: str) -> float:
        channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    high, low = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (high + 0.05) / (low + 0.05)
