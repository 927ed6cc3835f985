"""The GUI's user-data folders, from QStandardPaths, agreeing with engine.storage.paths.

Qt's AppDataLocation is <platform data folder>/<organisation>/<application>.
The app sets its application name to engine.storage.paths.APP_NAME and leaves the
organisation empty, so Qt gives exactly the folder the Qt-free engine computes
(~/.local/share/LatentAtelier, %APPDATA%/LatentAtelier, ~/Library/Application
Support/LatentAtelier) and the app and the CLI see the same runs and logs.
"""
from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QStandardPaths

from engine.storage.paths import APP_NAME

DISPLAY_NAME = "Latent Atelier"


def set_application_identity(app: QCoreApplication) -> None:
    """Names that decide QStandardPaths' folders; call before anything asks for one."""
    app.setApplicationName(APP_NAME)
    app.setOrganizationName("")
    if hasattr(app, "setApplicationDisplayName"):   # QGuiApplication and up
        app.setApplicationDisplayName(DISPLAY_NAME)


def app_data_dir() -> Path:
    override = os.environ.get("LATENT_ATELIER_HOME")
    if override:
        return Path(override).expanduser()
    location = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(location)


def logs_dir() -> Path:
    return app_data_dir() / "logs"


def self_test_dir() -> Path:
    return app_data_dir() / "self-test"
