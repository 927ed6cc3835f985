"""The main window reopens where the user left it, and fits the screen the first time."""
from __future__ import annotations

from PySide6.QtCore import QSettings

from desktop_app.app_paths import app_data_dir
from desktop_app.window_state import KEY, PREFERRED_SIZE, restore_geometry, save_geometry


def test_first_start_fits_the_screen(qtbot):
    from PySide6.QtWidgets import QWidget

    widget = QWidget()
    qtbot.addWidget(widget)
    assert not (app_data_dir() / "window.ini").exists()
    assert restore_geometry(widget) is False
    available = widget.screen().availableGeometry()
    assert widget.width() == min(PREFERRED_SIZE[0], int(available.width() * 0.9))
    assert widget.height() == min(PREFERRED_SIZE[1], int(available.height() * 0.9))


def test_closing_the_window_remembers_its_size_for_the_next_start(qtbot):
    from desktop_app.main_window import MainWindow

    first = MainWindow(engine_loaded=False)
    qtbot.addWidget(first)
    first.show()
    first.resize(700, 500)
    qtbot.waitUntil(lambda: first.size().width() == 700)
    first.close()
    assert (app_data_dir() / "window.ini").exists()
    second = MainWindow(engine_loaded=False)
    qtbot.addWidget(second)
    assert (second.width(), second.height()) == (700, 500)


def test_an_unreadable_saved_state_falls_back_to_the_first_start_size(qtbot):
    from PySide6.QtWidgets import QWidget

    app_data_dir().mkdir(parents=True, exist_ok=True)
    settings = QSettings(str(app_data_dir() / "window.ini"), QSettings.Format.IniFormat)
    settings.setValue(KEY, "not a geometry")
    settings.sync()
    widget = QWidget()
    qtbot.addWidget(widget)
    assert restore_geometry(widget) is False
    assert widget.width() > 0 and widget.height() > 0
    save_geometry(widget)      # and the next close writes a good one over it
    assert restore_geometry(widget) is True


def test_an_unwritable_data_folder_does_not_stop_the_close(qtbot, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QWidget

    blocker = tmp_path / "file-not-folder"
    blocker.write_text("x")
    monkeypatch.setenv("LATENT_ATELIER_HOME", str(blocker / "home"))
    widget = QWidget()
    qtbot.addWidget(widget)
    save_geometry(widget)     # no exception: the window just will not remember
    assert restore_geometry(widget) is False
