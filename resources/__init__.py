"""Bundled, read-only files the app ships with (MNIST, icons).

Everything is reached through `resource_path`, which works both from a source
checkout and from an installed or frozen app.
"""
from __future__ import annotations

import sys
from pathlib import Path


def resource_path(*parts: str) -> Path:
    """Absolute path of a bundled resource, e.g. resource_path("data", "mnist")."""
    # PyInstaller unpacks data next to the executable and sets sys._MEIPASS.
    frozen_root = getattr(sys, "_MEIPASS", None)
    base = Path(frozen_root) / "resources" if frozen_root else Path(__file__).resolve().parent
    return base.joinpath(*parts)
