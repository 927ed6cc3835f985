"""Drag and drop anywhere on the main window.

    a run folder or a model bundle (.atelier.safetensors)  -> opened in the Gallery
    an exported animation (GIF, APNG, WebP, MP4, frames)   -> its keyframes reopened on
                                                              the Animate page, through
                                                              the provenance it carries
    a folder of pictures, or an .npz data file             -> loaded on the Data page
    anything else                                          -> the status line says what
                                                              the window takes

Widgets made for pictures keep their own drops (the Gallery's reconstruction
and variation views, the Remix page's picture, the morph list, the Data page),
except that a run folder or a bundle dropped on the Data page still opens in
the Gallery. The Gallery's tiles pass every file dropped on them here, so an
exported animation dropped there reopens in Animate, while a plain picture
goes to the Gallery's picture view.

Whether a file is an animation is read from its metadata on the worker thread
(a video's comment needs PyAV); folders and names are checked on the GUI
thread, which reads no file for them.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QMainWindow

# Kinds of export that carry keyframes (or a process seed, or a morph's pictures)
# the Animate page can reopen.
ANIMATION_KINDS = frozenset({"interpolate", "process", "morph"})
VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov"})
EXPORT_SUFFIXES = frozenset({".gif", ".png", ".apng", ".webp"}) | VIDEO_SUFFIXES
WHAT_THE_WINDOW_TAKES = ("a run folder, a model file (.atelier.safetensors), an animation "
                         "exported by the app (GIF, APNG, WebP, MP4) or a folder of pictures")

# What a dropped path is.
RUN, BUNDLE, ANIMATION, PICTURE, DATA, OTHER = ("run", "bundle", "animation", "picture", "data",
                                                "other")


@dataclass(frozen=True)
class Dropped:
    kind: str
    path: Path
    message: str = ""     # for OTHER (and a picture dropped where none is taken): why not


def dropped_paths(event: QDragEnterEvent | QDropEvent) -> list[Path]:
    return [Path(url.toLocalFile()) for url in event.mimeData().urls() if url.isLocalFile()]


def classify_at_once(path: Path) -> Dropped | None:
    """What the path is, from its name and folder alone (no file read); None when
    its metadata must be read (classify_file, on the worker)."""
    from engine.runs.bundles import BUNDLE_SUFFIX
    from engine.runs.folders import is_run_dir

    if path.is_dir():
        if is_run_dir(path):
            return Dropped(RUN, path)
        if any(path.glob("frame_*.png")):     # an exported frame folder
            return None
        return Dropped(DATA, path)
    if path.name.endswith(BUNDLE_SUFFIX) or path.suffix == ".safetensors":
        return Dropped(BUNDLE, path)
    if path.suffix.lower() == ".npz":
        return Dropped(DATA, path)
    if path.suffix.lower() in EXPORT_SUFFIXES:
        return None
    from engine.data.decode import IMAGE_SUFFIXES
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return Dropped(PICTURE, path, f"{path.name} is a picture, not an animation")
    return Dropped(OTHER, path, f"{path.name} is not {WHAT_THE_WINDOW_TAKES}.")


def classify_file(path: Path) -> Dropped:
    """What an image, video or frame folder is, from the provenance it carries
    (engine.studio.exporters.provenance): an animation the Animate page reopens,
    another export that has no keyframes (the reason), or a plain picture."""
    from engine.errors import DataError
    from engine.studio.exporters.provenance import read_provenance, read_timeline

    try:
        info = read_provenance(path)
    except DataError as exc:
        if "carries no Latent Atelier metadata" in str(exc) and path.suffix.lower() \
                not in VIDEO_SUFFIXES and not path.is_dir():
            return Dropped(PICTURE, path, f"{path.name} is a picture, not an animation")
        return Dropped(OTHER, path, f"{exc}. The window takes {WHAT_THE_WINDOW_TAKES}.")
    if "timeline" in info or info.get("kind") in ANIMATION_KINDS:
        return Dropped(ANIMATION, path)
    if info.get("kind") is None and not path.is_dir():
        return Dropped(PICTURE, path, f"{path.name} is a still picture, not an animation")
    try:
        read_timeline(path)
    except DataError as exc:      # a time-lapse, a flip-book: no keyframes to reopen
        return Dropped(OTHER, path, str(exc))
    return Dropped(ANIMATION, path)


class WindowDrops(QObject):
    """Event filter for the main window (and the pages whose own drops it routes):
    takes the drops no widget took and opens each where it belongs. `window`
    has the pages, a worker and a status bar."""

    routed = Signal(object)    # the Dropped acted on (tests, status)

    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self.window = window
        window.setAcceptDrops(True)
        window.installEventFilter(self)
        # The Data page takes folders as data; a run folder or a bundle still opens
        # in the Gallery.
        window.data_page.installEventFilter(self)
        window.gallery_page.filesDropped.connect(lambda paths: self.open(paths, "gallery"))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        kind = event.type()
        if kind not in (QEvent.Type.DragEnter, QEvent.Type.DragMove, QEvent.Type.Drop):
            return False
        paths = dropped_paths(event)
        if not paths:
            return False
        if watched is not self.window:
            known = classify_at_once(paths[0])
            if known is None or known.kind not in (RUN, BUNDLE):
                return False     # the page's own drop
        if kind == QEvent.Type.Drop:
            event.acceptProposedAction()
            self.open(paths, "window")
        else:
            event.acceptProposedAction()
        return True

    def open(self, paths: list[Path], origin: str) -> None:
        """Open the first dropped path where it belongs; `origin` "gallery" sends a
        plain picture to the Gallery's picture view."""
        if not paths:
            return
        path = Path(paths[0])
        if len(paths) > 1:
            self.window.statusBar().showMessage(f"Opening {path.name}, the first of "
                                                f"{len(paths)} dropped.")
        known = classify_at_once(path)
        if known is not None:
            self._act(known, origin)
            return
        self.window.worker.submit("classify-drop", lambda: classify_file(path),
                                  lambda dropped: self._act(dropped, origin),
                                  "Could not read the dropped file")

    def _act(self, dropped: Dropped, origin: str) -> None:
        window = self.window
        if dropped.kind in (RUN, BUNDLE):
            window.open_in_gallery(str(dropped.path))
        elif dropped.kind == ANIMATION:
            window.tabs.setCurrentWidget(window.animate_page)
            window.animate_page.open_animation(dropped.path)
        elif dropped.kind == DATA:
            window.tabs.setCurrentWidget(window.data_page)
            window.data_page.open_path(dropped.path)
        elif dropped.kind == PICTURE and origin == "gallery":
            window.gallery_page.use_picture(dropped.path)
        elif dropped.kind == PICTURE:
            window.statusBar().showMessage(
                f"{dropped.message}: drop pictures on the Remix page or the Gallery's picture "
                "view, or a folder of them on the Data page.")
        else:
            window.statusBar().showMessage(dropped.message)
        self.routed.emit(dropped)
