"""The app's own settings file: window.ini in the app-data folder (QSettings'
INI format: readable, and not the registry on Windows, so it goes with the
rest of the user's data). A folder that cannot be written just means the
settings are not remembered."""
from __future__ import annotations

from PySide6.QtCore import QSettings

from desktop_app.app_paths import app_data_dir


def app_settings() -> QSettings:
    return QSettings(str(app_data_dir() / "window.ini"), QSettings.Format.IniFormat)
