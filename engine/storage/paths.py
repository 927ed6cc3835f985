"""Where user data (runs, settings) lives, without Qt.

Mirrors what QStandardPaths.AppDataLocation gives the GUI, so the CLI and the
app see the same runs. LATENT_ATELIER_HOME overrides it (tests, portable use).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

APP_NAME = "LatentAtelier"


def user_data_dir() -> Path:
    override = os.environ.get("LATENT_ATELIER_HOME")
    if override:
        return Path(override).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / APP_NAME


def default_runs_dir() -> Path:
    return user_data_dir() / "runs"


def logs_dir() -> Path:
    """Where the app writes its rotating log (and a crash log for hard faults)."""
    return user_data_dir() / "logs"
