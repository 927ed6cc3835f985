"""The rotating log file: Python logging and Qt's own messages end up in it."""
from __future__ import annotations

import logging

import pytest
from PySide6.QtCore import qInstallMessageHandler, qWarning

from desktop_app import app_logging


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)
    qInstallMessageHandler(None)


def test_log_file_gets_python_and_qt_messages(tmp_path, restore_logging):
    path = app_logging.configure_logging(tmp_path / "logs", crash_log=False)
    assert path == tmp_path / "logs" / "latent-atelier.log"
    logging.getLogger("latent_atelier.test").error("a failure for support")
    qWarning("a warning from Qt")
    for handler in logging.getLogger().handlers:
        handler.flush()
    text = path.read_text(encoding="utf-8")
    assert "starting; Python" in text
    assert "ERROR [MainThread] latent_atelier.test: a failure for support" in text
    assert "WARNING [MainThread] qt: a warning from Qt" in text


def test_configuring_twice_does_not_double_every_line(tmp_path, restore_logging):
    app_logging.configure_logging(tmp_path, crash_log=False)
    path = app_logging.configure_logging(tmp_path, crash_log=False)
    logging.getLogger("latent_atelier.test").warning("once")
    for handler in logging.getLogger().handlers:
        handler.flush()
    assert path.read_text(encoding="utf-8").count("once") == 1


def test_the_log_rotates(tmp_path, restore_logging, monkeypatch):
    monkeypatch.setattr(app_logging, "MAX_BYTES", 2_000)
    path = app_logging.configure_logging(tmp_path, crash_log=False)
    for i in range(100):
        logging.getLogger("latent_atelier.test").info("line %d of a long session", i)
    assert path.stat().st_size <= 2_000
    backups = sorted(p.name for p in tmp_path.glob("latent-atelier.log.*"))
    assert backups == [f"latent-atelier.log.{i}" for i in range(1, app_logging.BACKUPS + 1)]


def test_an_unwritable_log_folder_leaves_the_app_running(read_only_folder, restore_logging):
    assert app_logging.configure_logging(read_only_folder / "logs", crash_log=False) is None
    logging.getLogger("latent_atelier.test").error("still fine")   # no exception
