"""The main window: Data, Train, Gallery, Animate, Remix and Runs pages around one engine worker.

The window itself needs only Qt, so the app shows it at once with its menus and
page tabs and a status line while PyTorch is imported on a background thread
(desktop_app.startup); the pages, which all need the engine, are built in the
tabs once it is loaded. Built with `engine_loaded=True` (tests, tools), the
pages are built straight away.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QFont
from PySide6.QtWidgets import QLabel, QMainWindow, QMenu, QMessageBox, QTabWidget

from desktop_app.current_run import CurrentRun
from desktop_app.errors import ErrorPresenter
from desktop_app.help_menu import HelpMenu
from desktop_app.picture_actions import PictureActions
from desktop_app.run_actions import RunActions
from desktop_app.theme import ColourScheme, set_tone
from desktop_app.welcome import WELCOME, OwnPicturesButton, first_launch
from desktop_app.window_drops import WindowDrops
from desktop_app.window_state import restore_geometry, save_geometry

# How long closing waits for a running step and the final save before offering
# to quit without waiting.
CLOSE_TIMEOUT_MS = 30_000
# The tabs follow an artist's path: pictures in, training, the gallery, animation,
# remixing one picture; then the list of runs. The window opens on Train (the
# bundled digits are ready there); docs/UI.md gives the reasons.
PAGE_TITLES = ("Data", "Train", "Gallery", "Animate", "Remix", "Runs")
OPENING_PAGE = PAGE_TITLES.index("Train")


class MainWindow(QMainWindow):
    engineReady = Signal()   # the pages are built and the worker runs
    timelapseExported = Signal(str)   # a time-lapse GIF was written (its path)

    def __init__(self, engine_loaded: bool = True) -> None:
        super().__init__()
        self.setObjectName("mainWindow")
        self.setWindowTitle("Latent Atelier")
        restore_geometry(self)
        self.errors = ErrorPresenter(self)
        self.worker = None
        self.ready = False
        self.tabs = QTabWidget(objectName="pageTabs")
        self.setCentralWidget(self.tabs)
        # One click to the artist's own pictures, on every page (enabled with the engine).
        self.own_pictures_button = OwnPicturesButton()
        self.own_pictures_button.chosen.connect(self.open_own_pictures)
        self.tabs.setCornerWidget(self.own_pictures_button, Qt.Corner.TopRightCorner)
        self._closing = False
        self.closed_early = False   # closed while the engine was still loading
        self.timelapse_dialog = None
        self.evaluate_dialog = None
        self.recovery_dialog = None
        self.colour_scheme = ColourScheme(self)
        self.colour_scheme.add_menu(self.menuBar().addMenu("&View"))
        self.run_menu = run_menu = self.menuBar().addMenu("&Run")
        self.evaluate_action = run_menu.addAction("&Evaluate run…", self.open_evaluate)
        self.evaluate_action.setObjectName("evaluateAction")
        self.help_menu = HelpMenu(self)
        if engine_loaded:
            self.build_pages()
        else:
            self._show_loading()

    # -- start-up ----------------------------------------------------------------------
    def _show_loading(self) -> None:
        """Until the engine is loaded: the page tabs, the first saying what is happening;
        what needs the engine is disabled, the Help menu's log folder and About work."""
        self.loading_label = QLabel("Latent Atelier\n\nLoading the engine (PyTorch)…",
                                    objectName="engineLoadingLabel")
        font = QFont(self.loading_label.font())
        font.setPointSizeF(font.pointSizeF() * 1.6)
        self.loading_label.setFont(font)
        set_tone(self.loading_label, "muted")
        self.loading_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        for index, title in enumerate(PAGE_TITLES):
            widget = self.loading_label if index == OPENING_PAGE else QLabel()
            self.tabs.addTab(widget, title)
            self.tabs.setTabEnabled(index, index == OPENING_PAGE)
        self.tabs.setCurrentIndex(OPENING_PAGE)
        self.own_pictures_button.setEnabled(False)
        self.evaluate_action.setEnabled(False)
        self._loading_started = time.monotonic()
        self._loading_timer = QTimer(self, interval=250)
        self._loading_timer.timeout.connect(self._loading_tick)
        self._loading_timer.start()
        self._loading_tick()

    def _loading_tick(self) -> None:
        seconds = time.monotonic() - self._loading_started
        self.statusBar().showMessage(f"Loading the engine (PyTorch)… {seconds:.0f} s")

    def engine_failed(self, details: str) -> None:
        """The engine could not be imported: say so in the window and a dialog (and the log)."""
        self._loading_timer.stop()
        last = details.strip().splitlines()[-1] if details.strip() else "unknown error"
        self.loading_label.setText(f"Latent Atelier\n\nThe engine could not be loaded:\n{last}")
        self.statusBar().showMessage(f"The engine could not be loaded: {last}")
        self.errors.report("Latent Atelier cannot start",
                           f"The engine (PyTorch) could not be loaded: {last}", details)

    def build_pages(self) -> None:
        """Create the worker and the pages (they import the engine) in the tabs."""
        from desktop_app.pages.animate_page import AnimatePage
        from desktop_app.pages.data_page import DataPage
        from desktop_app.pages.gallery_page import GalleryPage
        from desktop_app.pages.remix_page import RemixPage
        from desktop_app.pages.runs_page import RunsPage
        from desktop_app.pages.train_page import TrainPage
        from desktop_app.worker import EngineWorker

        if self.ready:
            return
        if hasattr(self, "_loading_timer"):
            self._loading_timer.stop()
        self.worker = EngineWorker(self)
        self.worker.error.connect(self.errors.report)
        self.train_page = TrainPage(self.worker)
        self.gallery_page = GalleryPage(self.worker)
        self.animate_page = AnimatePage(self.worker)
        self.remix_page = RemixPage(self.worker)
        self.runs_page = RunsPage(self.worker)
        # Pictures are previewed at the size the Train page will train at.
        self.data_page = DataPage(self.worker,
                                  image_size=self.train_page.image_size)
        placeholders = [self.tabs.widget(i) for i in range(self.tabs.count())]
        self.tabs.clear()
        for widget in placeholders:
            widget.deleteLater()
        pages = (self.data_page, self.train_page, self.gallery_page, self.animate_page,
                 self.remix_page, self.runs_page)
        for page, title in zip(pages, PAGE_TITLES):
            self.tabs.addTab(page, title)
        self.tabs.setCurrentWidget(self.train_page)
        self.data_page.status.connect(self._show_status)
        self.data_page.useData.connect(self._use_data)
        self.train_page.dataDetailsRequested.connect(
            lambda: self.tabs.setCurrentWidget(self.data_page))
        for page in (self.train_page, self.gallery_page, self.animate_page, self.remix_page,
                     self.runs_page):
            page.status.connect(self._show_status)
        self.gallery_page.error.connect(self.errors.report)
        self.remix_page.error.connect(self.errors.report)
        self.animate_page.error.connect(self.errors.report)
        self.runs_page.error.connect(self.errors.report)
        self.gallery_page.keyframesChosen.connect(
            lambda run, seeds: self.animate_page.add_keyframes(seeds, run_dir=run))
        # One current run: the Gallery's is the Animate page's, and the Runs page marks it.
        self.current_run = CurrentRun(self)
        self.gallery_page.runChanged.connect(self.current_run.set)
        self.animate_page.runChanged.connect(self.current_run.set)
        self.current_run.changed.connect(self._follow_current_run)
        self.gallery_page.compareRequested.connect(self.compare_checkpoints)
        self.gallery_page.processRequested.connect(self.play_process)
        self.gallery_page.samplerChosen.connect(self.animate_page.set_sampler)
        self.runs_page.openRequested.connect(self.open_in_gallery)
        self.runs_page.resumeRequested.connect(self.resume_run)
        self.train_page.exportRequested.connect(self.export_timelapse)
        self.worker.trainingEvent.connect(self._on_training_event)
        self.timelapseExported.connect(lambda path: self._show_status(f"Exported {path}"))
        self.worker.idle.connect(self._close_if_asked)
        self.errors.shown.connect(self._cancel_close)
        self.help_menu.attach_worker(self.worker)
        self.run_actions = RunActions(self, self.run_menu)
        help_menu = self.menuBar().findChild(QMenu, "helpMenu")
        self.picture_actions = PictureActions(self, help_menu.menuAction() if help_menu else None)
        self.drops = WindowDrops(self)
        self.evaluate_action.setEnabled(True)
        self.own_pictures_button.setEnabled(True)
        self.ready = True
        self.statusBar().showMessage(WELCOME if first_launch()
                                     else "Ready. Choose settings and press Train.")
        QTimer.singleShot(0, self, self._offer_recovery)   # once the window is up
        self.engineReady.emit()

    def _show_status(self, text: str) -> None:
        self.statusBar().showMessage(text)

    def open_own_pictures(self, folder: Path) -> None:
        """Load a folder of the artist's pictures on the Data page (Use for training
        then trains on it)."""
        self.tabs.setCurrentWidget(self.data_page)
        self.data_page.open_path(folder)

    def _use_data(self, spec: str, label: str) -> None:
        from engine.presets import DataFacts

        summary = self.data_page.summary
        facts = DataFacts.of_summary(summary) if summary is not None else None
        self.train_page.set_data(spec, label, facts, note=self.data_page.data_note())
        self.tabs.setCurrentWidget(self.train_page)

    def _on_training_event(self, event: object) -> None:
        from engine.training.events import Finished, RunStarted, Saved

        # The gallery follows the run being trained once it has weights on disk.
        if isinstance(event, RunStarted):
            # A resumed run already has weights; a new one waits for its first save.
            self.gallery_page.set_run(event.run_dir if event.start_step else None)
        elif isinstance(event, (Saved, Finished)) and self.gallery_page.run_dir is None:
            self.gallery_page.set_run(event.run_dir)

    def _follow_current_run(self, run) -> None:
        """Every page shows the current run: the Gallery opens it when another page
        chose it (its first page is made once it is shown); Animate follows,
        starting a walk from the gallery's first seeds when it has no keyframes."""
        self.runs_page.set_current(run)
        if run is None:      # a new run without weights yet: the pages keep what they show
            return
        if self.gallery_page.run_dir != run:
            # Its first page is made when the Gallery is shown, not while the artist
            # works on another page (where the Animate page's walk needs the CPU).
            self.gallery_page.open_source(run, generate=False)
        self.animate_page.follow_run(run, self.gallery_page.first_keyframes())

    def play_process(self, run, seed: int) -> None:
        """The gallery's Play process: the Animate page renders and plays it."""
        self.tabs.setCurrentWidget(self.animate_page)
        self.animate_page.show_process(run, seed)

    def compare_checkpoints(self, run, seeds: list[int]) -> None:
        from desktop_app.compare_dialog import CompareDialog

        if run is None or not seeds:
            return
        # The gallery's sampler steps and guidance, so the rows match its tiles.
        dialog = CompareDialog(self.worker, run, seeds, self,
                               sampler=self.gallery_page.sampling.sampler.settings())
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.compare_dialog = dialog
        dialog.open()

    # -- runs ------------------------------------------------------------------------
    def open_in_gallery(self, source: str) -> None:
        self.tabs.setCurrentWidget(self.gallery_page)
        self.gallery_page.open_source(source)

    def resume_run(self, run_dir: str, changes: dict | None = None) -> None:
        """Continue a run on the Train page; `changes` as engine.training.resume takes them."""
        self.tabs.setCurrentWidget(self.train_page)
        self.train_page.resume_run(run_dir, **(changes or {}))

    def _offer_recovery(self) -> None:
        from desktop_app.recovery import offer_recovery

        def show_runs(run_dir: str) -> None:
            self.tabs.setCurrentWidget(self.runs_page)
            self.runs_page.select(run_dir)
        self.recovery_dialog = offer_recovery(self, self.resume_run, show_runs)

    # -- export ----------------------------------------------------------------------
    def export_timelapse(self) -> None:
        run = self.worker.current_run
        if run is None:
            return
        from desktop_app.timelapse_dialog import TimelapseDialog
        from engine.runs.folders import RunDir

        history = RunDir(run).sample_history()
        dialog = TimelapseDialog(run, len(history), self.train_page.sample_grid_size(), self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.timelapse_dialog = dialog
        dialog.accepted.connect(lambda: self.worker.export_timelapse(
            run, *dialog.choice()).returned.connect(self.timelapseExported.emit))
        dialog.open()

    # -- evaluation ------------------------------------------------------------------
    def open_evaluate(self) -> None:
        """The Evaluate dialog for the gallery's run, else the current run."""
        from desktop_app.evaluate_dialog import EvaluateDialog

        if not self.ready:
            return
        if self.evaluate_dialog is not None:
            self.evaluate_dialog.raise_()
            return
        run = self.gallery_page.run_dir or self.worker.current_run
        dialog = EvaluateDialog(self.worker, run, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.destroyed.connect(lambda: setattr(self, "evaluate_dialog", None))
        self.evaluate_dialog = dialog
        dialog.open()

    # -- closing -----------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        """Never leave a thread behind: stop every job between steps (training saves),
        keep the window up, saying so, and close for real once the worker is idle."""
        if not self.ready:
            loader = getattr(self, "loader", None)
            if loader is not None and loader.isRunning():
                # An import cannot be interrupted, and a QThread destroyed while it
                # runs aborts the process: say so, and close once the import is
                # done (desktop_app.startup builds no pages for a window closed
                # early). Hiding the window instead would not end the app: Qt
                # quits when the last *visible* window closes.
                event.ignore()
                if not self.closed_early:
                    self.closed_early = True
                    self.loading_label.setText("Latent Atelier\n\nClosing once the engine "
                                               "has loaded…")
                    self.statusBar().showMessage("Closing once the engine has loaded…")
                    self._loading_timer.stop()
                    loader.finished.connect(self.close)
                return
            save_geometry(self)
            super().closeEvent(event)   # nothing else runs before the engine is loaded
            return
        self.animate_page.stop()   # no new previews while (or after) closing
        if self.worker.running_jobs() == 0:
            save_geometry(self)
            super().closeEvent(event)
            return
        event.ignore()
        if not self._closing:
            self._closing = True
            self.worker.stop_all()
            self.centralWidget().setEnabled(False)
            self._show_status("Stopping and saving the run before closing…")
            QTimer.singleShot(CLOSE_TIMEOUT_MS, self._offer_quit_without_waiting)

    def _close_if_asked(self) -> None:
        if self._closing and self.worker.running_jobs() == 0:
            self.close()

    def _cancel_close(self, *_: object) -> None:
        # An error while stopping (say the final save failed) must stay on screen.
        if self._closing:
            self._closing = False
            self.animate_page.restart()
            self.centralWidget().setEnabled(True)
            self._show_status("Closing was cancelled because of an error.")

    def _offer_quit_without_waiting(self) -> None:
        if not self._closing or self.worker.running_jobs() == 0:
            return
        box = QMessageBox(QMessageBox.Icon.Question, "Still saving",
                          "Training is still finishing its current step. Quit now? The run "
                          "keeps its last saved checkpoint; only the steps since then are lost.",
                          QMessageBox.StandardButton.NoButton, self)
        box.setObjectName("quitWithoutWaitingDialog")
        wait = box.addButton("Keep waiting", QMessageBox.ButtonRole.RejectRole)
        box.addButton("Quit now", QMessageBox.ButtonRole.DestructiveRole)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        def decided(_button: object) -> None:
            if box.clickedButton() is wait:
                QTimer.singleShot(CLOSE_TIMEOUT_MS, self._offer_quit_without_waiting)
            else:
                # A thread stuck in a step cannot be stopped from outside; ending the
                # process is the only clean exit. Files are written atomically, so
                # the last checkpoint on disk is intact.
                save_geometry(self)
                os._exit(0)

        box.buttonClicked.connect(decided)
        box.open()
