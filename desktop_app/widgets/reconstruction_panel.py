"""The gallery's reconstruction view for VAEs: drop a picture (a file from the file
manager, or a tile dragged from the Data page) or open one, and see it encoded
and decoded beside the original, with its -ELBO in nats.

The work runs on the engine worker (engine.studio.reconstruction); a picture the
engine refuses (not an image, huge, damaged) is explained in the panel itself,
so dropping one wrong file never interrupts with a dialog.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QComboBox, QFileDialog, QFrame, QGridLayout, QGroupBox, QHBoxLayout,
                               QLabel, QPushButton, QVBoxLayout, QWidget)

from desktop_app.widgets.image_view import ImageView
from desktop_app.widgets.qimage import from_qimage
from desktop_app.worker import EngineWorker
from engine.errors import AtelierError

JOB = "reconstruction"
PICTURE_FILTER = "Pictures (*.png *.jpg *.jpeg *.webp *.bmp *.gif *.tif *.tiff);;All files (*)"
ERROR_STYLE = "color: #c0392b;"


class DropArea(QFrame):
    """Accepts one picture: a local file, or image data (a tile from the Data page)."""

    droppedFiles = Signal(object)   # list of paths
    droppedImage = Signal(object)   # uint8 (H, W, C)

    def __init__(self, parent: QWidget | None = None, name: str = "reconstructionDrop",
                 text: str = "Drop a picture here (a file, or an image from the Data page)",
                 accessible: str = "Reconstruction drop area") -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self.setAcceptDrops(True)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setFrameShadow(QFrame.Shadow.Sunken)
        self.setMinimumHeight(56)
        self.label = QLabel(text, alignment=Qt.AlignmentFlag.AlignCenter, wordWrap=True)
        QVBoxLayout(self).addWidget(self.label)
        self.setAccessibleName(accessible)

    @staticmethod
    def _usable(mime) -> bool:
        return mime.hasImage() or any(url.isLocalFile() for url in mime.urls())

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if self.isEnabled() and self._usable(event.mimeData()):
            event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if self.isEnabled() and self._usable(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt's name
        mime = event.mimeData()
        files = [url.toLocalFile() for url in mime.urls() if url.isLocalFile()]
        if files:
            event.acceptProposedAction()
            self.droppedFiles.emit(files)
        elif mime.hasImage():
            event.acceptProposedAction()
            self.droppedImage.emit(from_qimage(mime.imageData()))


class ReconstructionPanel(QGroupBox):
    status = Signal(str)

    def __init__(self, worker: EngineWorker, parent: QWidget | None = None) -> None:
        super().__init__("Reconstruction", parent)
        self.setObjectName("reconstructionPanel")
        self.worker = worker
        self.run_dir: Path | None = None
        self._reconstructor: Any = None     # engine.studio.reconstruction.Reconstructor, worker only
        self._busy = False
        self._pending: tuple[str, Any] | None = None   # the latest request while one runs
        self.result: Any = None             # the last engine Reconstruction shown
        self.drop = DropArea()
        self.drop.droppedFiles.connect(self.reconstruct_files)
        self.drop.droppedImage.connect(self.reconstruct_image)
        self.open_button = QPushButton("Open image…", objectName="reconstructionOpenButton")
        self.open_button.setToolTip("Choose a picture to encode and decode (the same as dropping one)")
        self.open_button.clicked.connect(self._choose_file)
        self.class_label = QLabel("Class")
        self.class_combo = QComboBox(objectName="reconstructionClassCombo")
        self.class_combo.setToolTip("Conditional VAEs: the class the picture is encoded and decoded with")
        self.class_combo.currentIndexChanged.connect(self._class_changed)
        self.original_view = ImageView("")
        self.original_view.setObjectName("reconstructionOriginal")
        self.result_view = ImageView("")
        self.result_view.setObjectName("reconstructionResult")
        for view in (self.original_view, self.result_view):
            view.setMinimumSize(112, 112)
            view.setMaximumSize(224, 224)
        self.message = QLabel(objectName="reconstructionMessage", wordWrap=True)
        row = QHBoxLayout()
        row.addWidget(self.open_button)
        row.addWidget(self.class_label)
        row.addWidget(self.class_combo, 1)
        self.views = QWidget()     # hidden for models that cannot reconstruct
        views = QGridLayout(self.views)
        views.setContentsMargins(0, 0, 0, 0)
        views.addWidget(QLabel("Original", alignment=Qt.AlignmentFlag.AlignCenter), 0, 0)
        views.addWidget(QLabel("Reconstruction", alignment=Qt.AlignmentFlag.AlignCenter), 0, 1)
        views.addWidget(self.original_view, 1, 0)
        views.addWidget(self.result_view, 1, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.drop)
        layout.addLayout(row)
        layout.addWidget(self.message)
        layout.addWidget(self.views)
        layout.addStretch(1)
        self.set_run(None)

    # -- the run -----------------------------------------------------------------------
    def set_run(self, run_dir: str | Path | None, classes: int = 0) -> None:
        """Reconstruct with this run's VAE; other families disable the panel with the reason."""
        from engine.studio.reconstruction import Reconstructor, reconstruction_unavailable

        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.class_combo.blockSignals(True)
        self.class_combo.clear()
        for c in range(classes):
            self.class_combo.addItem(f"Class {c}", c)
        self.class_combo.blockSignals(False)
        self.class_combo.setVisible(classes > 0)
        self.class_label.setVisible(classes > 0)
        reason = "Open a VAE run to reconstruct pictures." if self.run_dir is None \
            else reconstruction_unavailable(self.run_dir)
        self.available = reason is None
        self.reason = reason
        self._reconstructor = Reconstructor(self.run_dir) if self.available else None
        for widget in (self.drop, self.open_button, self.class_combo):
            widget.setEnabled(self.available)
        self.views.setVisible(self.available)
        self.drop.label.setText("Drop a picture here (a file, or an image from the Data page)"
                                if self.available else "Reconstruction is for VAEs")
        self.original_view.clear()
        self.result_view.clear()
        self.result = None
        self._last: tuple[str, Any] | None = None
        self._say(reason or "Drop or open a picture: the VAE encodes it and decodes it again.")

    def labels(self) -> list[int] | None:
        chosen = self.class_combo.currentData()
        return None if chosen is None or not self.class_combo.count() else [int(chosen)]

    # -- requests --------------------------------------------------------------------------
    def _choose_file(self) -> None:
        start = str(self.run_dir.parent if self.run_dir else Path.home())
        path, _ = QFileDialog.getOpenFileName(self, "Open a picture to reconstruct", start,
                                              PICTURE_FILTER)
        if path:
            self.reconstruct_files([path])

    def reconstruct_files(self, paths: list[str]) -> None:
        if paths:
            if len(paths) > 1:
                self.status.emit(f"Reconstructing the first of {len(paths)} dropped files.")
            self._request(("file", str(paths[0])))

    def reconstruct_image(self, image: np.ndarray) -> None:
        self._request(("image", image))

    def _class_changed(self) -> None:
        if self._last is not None and not self._busy:
            self._request(self._last)

    def _request(self, request: tuple[str, Any]) -> None:
        if not self.available or self._reconstructor is None:
            self._say(self.reason or "Open a VAE run to reconstruct pictures.", error=True)
            return
        if self._busy:
            self._pending = request   # only the latest picture matters
            return
        self._busy = True
        self._last = request
        kind, value = request
        reconstructor, labels = self._reconstructor, self.labels()
        name = Path(value).name if kind == "file" else "the dropped image"
        self._say(f"Reconstructing {name}…")

        def work() -> tuple[str, Any]:
            try:
                result = (reconstructor.files([value], labels) if kind == "file"
                          else reconstructor.arrays([value], labels))
            except AtelierError as exc:     # a bad picture: said here, not in a dialog
                return name, exc
            return name, result

        self.worker.submit(JOB, work, self._on_result,
                           "Could not reconstruct the picture").ended.connect(self._on_job_ended)

    def _on_result(self, answer: tuple[str, Any]) -> None:
        name, result = answer
        if isinstance(result, AtelierError):
            self.result = None
            self.original_view.clear()     # never leave an earlier picture looking like this one's
            self.result_view.clear()
            self._say(str(result), error=True)
            return
        self.result = result
        self.original_view.set_image(result.originals[0])
        self.result_view.set_image(result.reconstructions[0])
        label = f", class {result.labels[0]}" if result.labels else ""
        self._say(f"{name}{label}: −ELBO {result.neg_elbo[0]:.1f} nats")
        self.status.emit(f"Reconstructed {name}: -ELBO {result.neg_elbo[0]:.1f} nats")

    def _on_job_ended(self) -> None:
        self._busy = False
        if self._pending is not None:
            request, self._pending = self._pending, None
            self._request(request)

    def _say(self, text: str, error: bool = False) -> None:
        self.message.setStyleSheet(ERROR_STYLE if error else "")
        self.message.setText(text)
