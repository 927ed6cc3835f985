"""The main window reopens where and as large as the user left it.

Kept in the app's settings file (desktop_app.app_settings). The first time,
or when the saved state is unreadable or from a screen that is gone, the
window takes a size that fits the screen it opens on.
"""
from __future__ import annotations

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QWidget

from desktop_app.app_settings import app_settings

KEY = "mainWindow/geometry"
PREFERRED_SIZE = (1280, 900)     # the whole Train page without scrolling
SCREEN_SHARE = 0.9               # at most this much of the screen the first time


def restore_geometry(window: QWidget) -> bool:
    """Put `window` where it was last closed; else size it for the screen. True if restored."""
    saved = app_settings().value(KEY)
    if saved is not None:
        try:
            if window.restoreGeometry(saved):
                return True
        except TypeError:   # not a geometry at all (a hand-edited file)
            pass
    screen = window.screen() or QGuiApplication.primaryScreen()
    width, height = PREFERRED_SIZE
    if screen is not None:
        available = screen.availableGeometry()
        width = min(width, int(available.width() * SCREEN_SHARE))
        height = min(height, int(available.height() * SCREEN_SHARE))
    window.resize(width, height)
    return False


def save_geometry(window: QWidget) -> None:
    """Remember where `window` is; a folder that cannot be written just means no memory."""
    settings = app_settings()
    settings.setValue(KEY, window.saveGeometry())
    settings.sync()
