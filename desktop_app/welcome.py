"""The ways in, for someone who has just installed the app.

The window opens on the Train page with the bundled MNIST digits chosen, so
Train alone starts a first run. Beside the page tabs, "Use my own pictures…"
is always one click away: it asks for a folder and loads it on the Data page,
whose **Use for training** then trains on it. The Gallery and Animate pages
offer "Try a trained model" while no run is open (desktop_app.starter_models).
The first launch says all three in the status line.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFileDialog, QPushButton, QWidget

from desktop_app.app_settings import app_settings

SEEN_KEY = "welcome/shown"
WELCOME = ("Welcome. Press Train to train on the bundled digits, “Use my own pictures…” "
           "(top right) to start from yours, or try a trained model on the Gallery page.")


class OwnPicturesButton(QPushButton):
    """Asks for a folder of pictures; `chosen` carries it."""

    chosen = Signal(object)   # Path of the folder

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Use my own pictures…", parent)
        self.setObjectName("useOwnPicturesButton")
        self.setToolTip("Choose a folder of your pictures: the Data page loads it and shows what "
                        "it holds, then “Use for training” trains on it")
        self.clicked.connect(self.choose)

    def choose(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.window(), "Choose a folder of your pictures",
                                                  str(Path.home()))
        if folder:
            self.chosen.emit(Path(folder))


def first_launch() -> bool:
    """True the first time the app's pages are built for this user (then remembered;
    a settings folder that cannot be written just means the welcome shows again)."""
    settings = app_settings()
    if settings.value(SEEN_KEY, False, type=bool):
        return False
    settings.setValue(SEEN_KEY, True)
    settings.sync()
    return True
