"""The Train page fits a laptop screen: the settings scroll, the buttons stay in
view, and no control is cut off at the column's width."""
from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QPushButton, QScrollArea, QWidget


def test_a_768_pixel_screen_shows_every_setting_whole_and_the_train_button(qtbot, window):
    window.resize(1024, 600)          # a 1366 x 768 laptop less its panels
    qtbot.waitUntil(lambda: window.height() == 600)
    assert window.minimumSizeHint().height() <= 600
    scroll = window.findChild(QScrollArea, "trainSettingsScroll")
    panel = window.findChild(QWidget, "trainSettingsPanel")
    train = window.findChild(QPushButton, "trainButton")
    assert train.isVisible() and not train.visibleRegion().isEmpty()
    assert train.mapTo(window, train.rect().bottomLeft()).y() < window.height()
    # Everything fits sideways: the panel is no wider than the space beside the scroll bar.
    assert panel.minimumSizeHint().width() <= scroll.viewport().width()
    for name in ("dataCombo", "modelCombo", "precisionCombo", "compileCheck", "keepBestCombo",
                 "evalSamplesSpin"):
        control = panel.findChild(QWidget, name)
        assert control.width() >= control.minimumSizeHint().width(), name
        right = control.mapTo(panel, control.rect().topRight()).x()
        assert right <= scroll.viewport().width(), name
    # The last setting can be scrolled to.
    keep_best = panel.findChild(QComboBox, "keepBestCombo")
    scroll.ensureWidgetVisible(keep_best)
    qtbot.waitUntil(lambda: not keep_best.visibleRegion().isEmpty())


def test_a_long_data_set_name_does_not_widen_the_column(qtbot, window):
    combo = window.findChild(QComboBox, "dataCombo")
    panel = window.findChild(QWidget, "trainSettingsPanel")
    before = panel.minimumSizeHint().width()
    combo.addItem("My sketchbook scans of birds, flowers and harbour boats, 2024 (512 images)",
                  "sketchbook")
    combo.setCurrentIndex(combo.count() - 1)
    assert panel.minimumSizeHint().width() == before     # the name elides in the closed box
    assert before <= window.findChild(QScrollArea, "trainSettingsScroll").viewport().width()


def test_a_larger_font_widens_the_column_instead_of_clipping_fields(qtbot, window):
    from PySide6.QtGui import QFont

    window.resize(1280, 900)
    page = window.train_page
    scroll = window.findChild(QScrollArea, "trainSettingsScroll")
    panel = window.findChild(QWidget, "trainSettingsPanel")
    narrow = scroll.width()
    font = QFont(page.font())
    font.setPointSizeF(page.font().pointSizeF() * 1.6)     # e.g. 9 pt -> 14.4 pt
    page.setFont(font)
    qtbot.waitUntil(lambda: scroll.width() > narrow)
    qtbot.waitUntil(lambda: panel.minimumSizeHint().width() <= scroll.viewport().width())
    assert not scroll.horizontalScrollBar().isVisible()


def test_at_the_first_start_size_every_setting_shows_without_scrolling(qtbot, window):
    from desktop_app.window_state import PREFERRED_SIZE

    window.resize(*PREFERRED_SIZE)     # what a 1920 x 1080 screen gets the first time
    qtbot.waitUntil(lambda: (window.width(), window.height()) == PREFERRED_SIZE)
    scroll = window.findChild(QScrollArea, "trainSettingsScroll")
    panel = window.findChild(QWidget, "trainSettingsPanel")
    qtbot.waitUntil(lambda: not scroll.verticalScrollBar().isVisible())
    assert panel.sizeHint().height() <= scroll.viewport().height()
