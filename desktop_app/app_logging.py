"""The app's log: a rotating file in the user's app-data folder, Qt's messages included.

Support asks for this file (Help > Open log folder shows it), so it records
start-up facts, every error the user was shown, uncaught exceptions from any
thread (via ErrorPresenter) and Qt's own warnings. A hard crash (a segfault in
a native library) cannot run Python handlers, so faulthandler writes the
Python stacks of that moment to crash.log beside it.
"""
from __future__ import annotations

import faulthandler
import logging
import platform
import sys
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import TextIO

from PySide6.QtCore import QtMsgType, qInstallMessageHandler

from engine import __version__

LOG_NAME = "latent-atelier.log"
CRASH_LOG_NAME = "crash.log"
MAX_BYTES = 1_000_000       # about ten thousand lines
BACKUPS = 4                 # latent-atelier.log.1 .. .4: a few sessions of history
FORMAT = "%(asctime)s %(levelname)s [%(threadName)s] %(name)s: %(message)s"

_QT_LEVELS = {
    QtMsgType.QtDebugMsg: logging.DEBUG,
    QtMsgType.QtInfoMsg: logging.INFO,
    QtMsgType.QtWarningMsg: logging.WARNING,
    QtMsgType.QtCriticalMsg: logging.ERROR,
    QtMsgType.QtFatalMsg: logging.CRITICAL,
}
_crash_file: TextIO | None = None   # kept open for faulthandler for the process' life


def configure_logging(log_dir: Path, level: int = logging.INFO,
                      crash_log: bool = True) -> Path | None:
    """Log to log_dir/latent-atelier.log (rotating) and to stderr when there is one.

    crash_log: also send faulthandler's output for hard crashes to crash.log
    (process-wide and kept open, so only the app itself turns it on).

    Returns the log file's path, or None when the folder cannot be written (a
    read-only home, say): the app still runs, logging to stderr only.
    """
    global _crash_file
    root = logging.getLogger()
    root.setLevel(level)
    for handler in list(root.handlers):
        if getattr(handler, "_atelier", False):
            root.removeHandler(handler)
            handler.close()
    # A windowed frozen app on Windows or macOS has no stderr at all.
    if sys.stderr is not None:
        _add(root, logging.StreamHandler(sys.stderr), logging.WARNING)
    path: Path | None = log_dir / LOG_NAME
    try:
        log_dir.mkdir(parents=True, exist_ok=True)
        _add(root, RotatingFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUPS,
                                       encoding="utf-8"), level)
        if crash_log and _crash_file is None:
            _crash_file = open(log_dir / CRASH_LOG_NAME, "a", encoding="utf-8")  # noqa: SIM115
            faulthandler.enable(_crash_file)
    except OSError as exc:
        logging.getLogger("latent_atelier").warning("cannot write the log in %s: %s", log_dir, exc)
        path = None
    qInstallMessageHandler(_qt_message)
    logging.getLogger("latent_atelier").info(
        "Latent Atelier %s starting; Python %s on %s %s%s; log %s", __version__,
        platform.python_version(), platform.system(), platform.machine(),
        " (frozen)" if getattr(sys, "frozen", False) else "", path)
    return path


def _add(root: logging.Logger, handler: logging.Handler, level: int) -> None:
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler._atelier = True  # type: ignore[attr-defined] - ours, replaced on reconfigure
    root.addHandler(handler)


def _qt_message(kind: QtMsgType, context: object, message: str) -> None:
    category = getattr(context, "category", None)
    prefix = f"{category}: " if category and category != "default" else ""
    logging.getLogger("qt").log(_QT_LEVELS.get(kind, logging.WARNING), "%s%s", prefix, message)
