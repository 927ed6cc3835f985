"""One current run for the whole window: the run (folder or model bundle) open in
the Gallery is the Animate page's run, and the Runs page marks it.

Pages never call each other about it: a page that opens a run tells this
object, and the main window makes the other pages follow its `changed` signal.
Setting the run it already holds does nothing, so following cannot loop.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QStandardPaths, Signal


class CurrentRun(QObject):
    changed = Signal(object)   # the new current run (a Path), or None while there is none

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._path: Path | None = None

    @property
    def path(self) -> Path | None:
        return self._path

    def set(self, path: str | Path | None) -> bool:
        """Make `path` the current run; True if that changed anything."""
        new = Path(path) if path is not None else None
        if new == self._path:
            return False
        self._path = new
        self.changed.emit(new)
        return True


def save_folder(run: Path | None) -> Path:
    """Where a save dialog for a run's pictures starts: the run's folder; for a
    model bundle (a file, perhaps one the app ships, read-only once installed)
    or no run, the user's Pictures folder, else their home."""
    if run is not None and run.is_dir():
        return run
    pictures = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.PicturesLocation)
    return Path(pictures) if pictures and Path(pictures).is_dir() else Path.home()
