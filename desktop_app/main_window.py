"""The main window: Train and Gallery pages around one engine worker."""
from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QMainWindow, QTabWidget

from desktop_app.errors import ErrorPresenter
from desktop_app.pages.gallery_page import GalleryPage
from desktop_app.pages.train_page import TrainPage
from desktop_app.timelapse_dialog import TimelapseDialog
from desktop_app.worker import EngineWorker
from engine.events import Finished, RunStarted, Saved

# How long closing waits for a running step to finish and the run to save.
CLOSE_TIMEOUT_MS = 60_000


class MainWindow(QMainWindow):
    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("mainWindow")
        self.setWindowTitle("Latent Atelier")
        self.resize(1180, 720)
        self.errors = ErrorPresenter(self)
        self.worker = EngineWorker(self)
        self.worker.error.connect(self.errors.report)

        self.train_page = TrainPage(self.worker)
        self.gallery_page = GalleryPage(self.worker)
        self.tabs = QTabWidget(objectName="pageTabs")
        self.tabs.addTab(self.train_page, "Train")
        self.tabs.addTab(self.gallery_page, "Gallery")
        self.setCentralWidget(self.tabs)

        for page in (self.train_page, self.gallery_page):
            page.status.connect(self._show_status)
        self.gallery_page.error.connect(self.errors.report)
        self.train_page.exportRequested.connect(self.export_timelapse)
        self.worker.trainingEvent.connect(self._on_training_event)
        self.worker.exportFinished.connect(lambda path: self._show_status(f"Exported {path}"))
        self.worker.trainingStopped.connect(self._close_if_asked)
        self._closing = False
        self.timelapse_dialog: TimelapseDialog | None = None
        self.statusBar().showMessage("Ready. Choose settings and press Train.")

    def _show_status(self, text: str) -> None:
        self.statusBar().showMessage(text)

    def _on_training_event(self, event: object) -> None:
        # The gallery follows the run being trained once it has weights on disk.
        if isinstance(event, RunStarted):
            self.gallery_page.run_dir = None
        if isinstance(event, (Saved, Finished)):
            if self.gallery_page.run_dir is None or self.worker.current_run == self.gallery_page.run_dir:
                self.gallery_page.set_run(event.run_dir)

    # -- export ----------------------------------------------------------------------
    def export_timelapse(self) -> None:
        run = self.worker.current_run
        if run is None:
            return
        from engine.runs import RunDir

        history = RunDir(run).sample_history()
        grid = self.train_page.sample_view.image
        size = (grid.shape[1], grid.shape[0]) if grid is not None else (0, 0)
        dialog = TimelapseDialog(run, len(history), size, self)
        self.timelapse_dialog = dialog
        dialog.accepted.connect(lambda: self.worker.export_timelapse(run, *dialog.choice()))
        dialog.open()

    # -- closing -----------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        if self.worker.is_training:
            # Stop between steps, let the run save, then close for real.
            if not self._closing:
                self._closing = True
                self.worker.stop()
                self.setEnabled(False)
                self._show_status("Stopping training and saving the run…")
                QTimer.singleShot(CLOSE_TIMEOUT_MS, self._force_close)
            event.ignore()
            return
        self.worker.shutdown(CLOSE_TIMEOUT_MS)
        super().closeEvent(event)

    def _close_if_asked(self) -> None:
        if self._closing:
            self.close()

    def _force_close(self) -> None:
        if self._closing and self.isVisible():
            self.worker.shutdown(CLOSE_TIMEOUT_MS)
            self._closing = False
            self.worker.stop()
            super().close()
