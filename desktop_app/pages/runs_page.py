"""Runs page: every run in the user's runs folder, and what can be done with one.

Open (in the gallery), Resume (where it stopped, on the Train page, after a
dialog that offers a larger budget and the hardware settings), Start again (a
run that stopped before its first save, from step 0 with its settings), Rename,
Delete (to the system trash), Export a model bundle or an ONNX file
(engine.studio.onnx_export); and for the best
checkpoint by a chosen evaluation metric (engine.runs.best): open it, continue
it in a new run, or export it. The list comes
from engine.runs.index, which reads only small files and lists a broken folder
as "damaged" instead of failing.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QFile, QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QFileDialog, QHBoxLayout, QHeaderView,
                               QInputDialog, QLabel, QMessageBox, QPushButton, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from desktop_app.resume_dialog import ResumeDialog
from desktop_app.theme import tone_colour
from desktop_app.worker import EngineWorker
from engine.runs.bundles import BUNDLE_SUFFIX
from engine.errors import AtelierError
from engine.training.events import Evaluated, Finished, RunStarted
from engine.runs.best import (RANKED_METRICS, BestCheckpoint, best_checkpoint, metric_label,
                                 metrics_recorded, recorded_evaluations)
from engine.storage.paths import default_runs_dir, user_data_dir
from engine.runs.index import (DAMAGED, FINISHED, INTERRUPTED, NO_WEIGHTS, TRAINING, RunSummary,
                              format_losses, list_runs, rename_run)
from engine.runs.lock import is_training
from engine.metrics.memorisation import RecordedScore, latest_score
from engine.studio.onnx_export import ONNX_SUFFIX, missing_onnx_message, onnx_refusal

PATH_ROLE = Qt.ItemDataRole.UserRole
THUMB_PIXELS = 48
COLUMNS = ("Run", "Model", "Data", "Steps", "Last loss", "State", "Best", "Memorisation")
BEST_COLUMN = COLUMNS.index("Best")
# The State column's colours, as tones that follow the colour scheme (desktop_app.theme).
STATE_TONES = {INTERRUPTED: "warning", TRAINING: "info", DAMAGED: "error"}
TONE_ROLE = Qt.ItemDataRole.UserRole + 1



def _state_text(s: RunSummary) -> str:
    """The State cell: how a finished run ended, and why a damaged one is (in
    short: the whole reason is the cell's tooltip)."""
    if s.state == FINISHED and s.detail:
        return f"finished ({s.detail})"
    if s.state == DAMAGED and s.recoverable:
        return "damaged, resumable"
    if s.state == DAMAGED and s.detail:
        reason = s.detail if len(s.detail) <= 48 else s.detail[:47] + "…"
        return f"damaged: {reason}"
    return s.state

def _memorisation_item(score: RecordedScore | None, table: QTableWidget) -> QTableWidgetItem:
    """The Memorisation cell: the latest evaluation's memorisation score."""
    if score is None:
        item = QTableWidgetItem("")
        item.setToolTip("Not evaluated yet: Evaluate (or `latent-atelier-cli eval`) runs the "
                        "copy check")
        return item
    item = QTableWidgetItem(f"{score.score:.0%}")
    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    item.setToolTip(f"Memorisation score at step {score.step:,}: {score.score:.1%} of samples are "
                    "nearer to a training picture than the closest "
                    f"{score.quantile:.0%} of training pictures are to another one. About "
                    f"{score.quantile:.0%} for a model that makes new pictures, near 100% for a "
                    "copier (a gallery tile's Nearest training… shows what it is near).")
    if score.score > 2 * score.quantile + 0.05:
        item.setData(TONE_ROLE, "warning")   # well above what new pictures score
        item.setForeground(tone_colour(table, "warning"))
    return item


class RunsPage(QWidget):
    status = Signal(str)
    error = Signal(str, str, str)
    openRequested = Signal(str)      # show this run in the gallery
    resumeRequested = Signal(str, dict)   # continue this run on the Train page, with these changes
    bundleExported = Signal(str)     # a model bundle was written (its path)
    onnxExported = Signal(str)       # an ONNX file was written (its path)

    def __init__(self, worker: EngineWorker, folder: Path | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.worker = worker
        self.folder = folder
        self.summaries: dict[Path, RunSummary] = {}
        self.best: dict[Path, BestCheckpoint | None] = {}   # by the chosen metric
        self.copying: dict[Path, RecordedScore | None] = {}   # the latest memorisation score
        self.rename_dialog: QInputDialog | None = None
        self.delete_dialog: QMessageBox | None = None
        self.restart_dialog: QMessageBox | None = None
        self.resume_dialog: ResumeDialog | None = None
        self.current_run: Path | None = None   # the window's current run, marked in bold
        self._build()
        worker.trainingEvent.connect(self._on_training_event)
        worker.trainingStopped.connect(self.refresh)
        worker.busyChanged.connect(lambda _: self._update_enabled())
        self.bundleExported.connect(lambda path: self.status.emit(f"Exported model bundle {path}"))
        self.onnxExported.connect(lambda path: self.status.emit(f"Exported ONNX model {path}"))
        self.refresh()

    @property
    def runs_folder(self) -> Path:
        return self.folder if self.folder is not None else default_runs_dir()

    def _build(self) -> None:
        self.folder_label = QLabel(objectName="runsFolderLabel", wordWrap=True)
        self.folder_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.refresh_button = QPushButton("Refresh", objectName="runsRefreshButton")
        self.refresh_button.clicked.connect(self.refresh)
        self.metric_combo = QComboBox(objectName="runsMetricCombo")
        for name in RANKED_METRICS:
            self.metric_combo.addItem(metric_label(name), name)
        self.metric_combo.setToolTip("The evaluation metric the Best column and the best-checkpoint "
                                     "actions use")
        self.metric_combo.currentIndexChanged.connect(lambda _: self.refresh())
        top = QHBoxLayout()
        top.addWidget(self.folder_label, 1)
        top.addWidget(QLabel("Best by"))
        top.addWidget(self.metric_combo)
        top.addWidget(self.refresh_button)

        self.table = QTableWidget(0, len(COLUMNS), objectName="runsTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setIconSize(QSize(THUMB_PIXELS, THUMB_PIXELS))
        self.table.verticalHeader().setDefaultSectionSize(THUMB_PIXELS + 6)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._update_enabled)
        self.table.itemDoubleClicked.connect(lambda _: self.open_selected())

        self.open_button = QPushButton("Open in gallery", objectName="runOpenButton")
        self.resume_button = QPushButton("Resume", objectName="runResumeButton")
        self.rename_button = QPushButton("Rename…", objectName="runRenameButton")
        self.delete_button = QPushButton("Delete…", objectName="runDeleteButton")
        self.export_button = QPushButton("Export bundle…", objectName="runExportButton")
        self.resume_button.setToolTip("Continue the run exactly where its last checkpoint left it")
        self.restart_button = QPushButton("Start again…", objectName="runRestartButton")
        self.restart_button.setToolTip("Train a run that stopped before its first save again from "
                                       "step 0, with its settings, in its own folder")
        self.restart_button.clicked.connect(lambda: self.restart_selected())
        self.delete_button.setToolTip("Move the run folder to the system trash")
        self.export_button.setToolTip(f"Write the model as one shareable {BUNDLE_SUFFIX} file")
        self.open_button.clicked.connect(self.open_selected)
        self.resume_button.clicked.connect(lambda: self.resume_selected())
        self.rename_button.clicked.connect(lambda: self.rename_selected())
        self.delete_button.clicked.connect(lambda: self.delete_selected())
        self.export_button.clicked.connect(lambda: self.export_selected())
        self.export_onnx_button = QPushButton("Export ONNX…", objectName="runExportOnnxButton")
        self.export_onnx_button.clicked.connect(lambda: self.export_onnx_selected())
        actions = QHBoxLayout()
        for button in (self.open_button, self.resume_button, self.restart_button,
                       self.rename_button, self.delete_button, self.export_button,
                       self.export_onnx_button):
            actions.addWidget(button)
        actions.addStretch(1)
        self.open_best_button = QPushButton("Open best", objectName="runOpenBestButton")
        self.resume_best_button = QPushButton("Continue best…", objectName="runResumeBestButton")
        self.export_best_button = QPushButton("Export best…", objectName="runExportBestButton")
        self.open_best_button.setToolTip("Open the best checkpoint by the chosen metric in the gallery")
        self.resume_best_button.setToolTip("Continue training from the best checkpoint in a new run "
                                           "folder; this run stays as it is")
        self.export_best_button.setToolTip("Write the best checkpoint as a model bundle")
        self.open_best_button.clicked.connect(self.open_best)
        self.resume_best_button.clicked.connect(self.resume_best)
        self.export_best_button.clicked.connect(lambda: self.export_best())
        best_actions = QHBoxLayout()
        self.best_label = QLabel(objectName="runBestLabel", wordWrap=True)
        self.best_label.setTextFormat(Qt.TextFormat.PlainText)   # its text comes from metrics.jsonl
        best_actions.addWidget(self.best_label, 1)
        for button in (self.open_best_button, self.resume_best_button, self.export_best_button):
            best_actions.addWidget(button)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addLayout(actions)
        layout.addLayout(best_actions)

    # -- listing -----------------------------------------------------------------------
    def refresh(self) -> None:
        selected = self.selected_path()
        summaries = list_runs(self.runs_folder)
        self.summaries = {s.path: s for s in summaries}
        self._find_best(summaries)
        self.folder_label.setText(f"Runs in {self.runs_folder}" if summaries else
                                  f"No runs yet in {self.runs_folder}. Train one on the Train page.")
        self.table.setRowCount(0)
        self.table.setRowCount(len(summaries))
        for row, s in enumerate(summaries):
            self._fill_row(row, s)
            if s.path == selected:
                self.table.selectRow(row)
        self._update_enabled()

    def _fill_row(self, row: int, s: RunSummary) -> None:
        name = QTableWidgetItem(s.name)
        name.setData(PATH_ROLE, str(s.path))
        name.setToolTip(str(s.path))
        if s.thumbnail is not None:
            pixmap = QPixmap(str(s.thumbnail))
            if not pixmap.isNull():
                name.setIcon(QIcon(pixmap))
        state = QTableWidgetItem(_state_text(s))
        state.setToolTip(s.detail)
        if s.state in STATE_TONES:
            state.setData(TONE_ROLE, STATE_TONES[s.state])
            state.setForeground(tone_colour(self.table, STATE_TONES[s.state]))
        steps = QTableWidgetItem(f"{s.step:,}" if s.state != DAMAGED or s.recoverable else "")
        steps.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        best = self.best.get(s.path)
        best_item = QTableWidgetItem(best.describe() if best else "")
        if best is not None:
            best_item.setToolTip(f"{best.samples:,} samples, {best.features}; compared with "
                                 f"{best.compared} evaluation(s) at that count")
        cells = [name, QTableWidgetItem(s.model), QTableWidgetItem(s.data), steps,
                 QTableWidgetItem(format_losses(s.losses)), state, best_item,
                 _memorisation_item(self.copying.get(s.path), self.table)]
        for column, item in enumerate(cells):
            self.table.setItem(row, column, item)
        self._mark_current(row)

    def set_current(self, path: str | Path | None) -> None:
        """Mark the window's current run (the one open in the Gallery and Animate)."""
        self.current_run = Path(path).resolve() if path is not None else None
        for row in range(self.table.rowCount()):
            self._mark_current(row)

    def is_marked_current(self, row: int) -> bool:
        item = self.table.item(row, 0)
        return item is not None and item.font().bold()

    def _mark_current(self, row: int) -> None:
        name = self.table.item(row, 0)
        if name is None:
            return
        path = Path(name.data(PATH_ROLE))
        current = self.current_run is not None and path.resolve() == self.current_run
        for column in range(self.table.columnCount()):
            item = self.table.item(row, column)
            if item is not None:
                font = item.font()
                font.setBold(current)
                item.setFont(font)
        name.setToolTip(f"{path}\nThe current run: open in the Gallery and Animate"
                        if current else str(path))

    def _find_best(self, summaries: list[RunSummary]) -> None:
        """Each run's best checkpoint by the chosen metric; likelihood metrics the
        runs report join the metric list."""
        metric = self.metric_combo.currentData()
        self.best, self.copying, found = {}, {}, set()
        for s in summaries:
            if s.state == DAMAGED:
                continue
            try:
                records = recorded_evaluations(s.path)
                self.best[s.path] = best_checkpoint(s.path, metric, records)
                self.copying[s.path] = latest_score(records)
            except Exception:  # noqa: BLE001 - whatever one run's files hold, the others still list
                continue   # an unreadable metrics file: the run is still listed
            found.update(metrics_recorded(records))
        for name in sorted(found - set(RANKED_METRICS)):
            if self.metric_combo.findData(name) < 0:
                self.metric_combo.blockSignals(True)
                self.metric_combo.addItem(metric_label(name), name)
                self.metric_combo.blockSignals(False)
        self.table.horizontalHeaderItem(BEST_COLUMN).setText(
            f"Best {self.metric_combo.currentText()}")

    def _on_training_event(self, event: object) -> None:
        if isinstance(event, (RunStarted, Finished, Evaluated)):
            self.refresh()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.refresh()   # runs may have changed on disk (the CLI, another window)
        super().showEvent(event)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and hasattr(self, "table"):
            # The colour scheme changed: the states' colours follow it.
            for row in range(self.table.rowCount()):
                for column in range(self.table.columnCount()):
                    item = self.table.item(row, column)
                    if item is not None and item.data(TONE_ROLE):
                        item.setForeground(tone_colour(self.table, item.data(TONE_ROLE)))

    # -- selection -------------------------------------------------------------------------
    def selected_path(self) -> Path | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows:
            return None
        item = self.table.item(rows[0].row(), 0)
        return Path(item.data(PATH_ROLE)) if item is not None else None

    def select(self, path: str | Path) -> bool:
        for row in range(self.table.rowCount()):
            if Path(self.table.item(row, 0).data(PATH_ROLE)) == Path(path):
                self.table.selectRow(row)
                return True
        return False

    def selected(self) -> RunSummary | None:
        path = self.selected_path()
        return self.summaries.get(path) if path is not None else None

    def _update_enabled(self) -> None:
        s = self.selected()
        busy = s is not None and self._is_busy(s.path)
        self.open_button.setEnabled(s is not None and s.can_open)
        self.resume_button.setEnabled(s is not None and s.can_resume and not busy
                                      and not self.worker.is_training)
        self.restart_button.setEnabled(s is not None and not busy and not self.worker.is_training
                                       and self._never_saved(s))
        self.rename_button.setEnabled(s is not None and not busy)
        self.delete_button.setEnabled(s is not None and not busy)
        self.export_button.setEnabled(s is not None and s.can_open)
        self._update_onnx_button(s)
        best = self.selected_best()
        for button in (self.open_best_button, self.export_best_button):
            button.setEnabled(best is not None)
        self.resume_best_button.setEnabled(best is not None and not self.worker.is_training)
        if s is None:
            self.best_label.setText("")
        elif best is None:
            self.best_label.setText(f"Best by {self.metric_combo.currentText()}: "
                                    f"{self._why_no_best(s.path)}")
        else:
            self.best_label.setText(f"Best by {self.metric_combo.currentText()}: "
                                    f"{best.describe()}")

    @staticmethod
    def _never_saved(s: RunSummary) -> bool:
        """A run with nothing to resume. The list already looked for complete
        checkpoints (a run that has any is "damaged, resumable", never "no
        weights"); starting again re-checks the disk (checkpoints.clear_unsaved)."""
        return s.state == NO_WEIGHTS

    def _is_busy(self, path: Path) -> bool:
        """Trained right now, by this app (even before its lock is taken) or another process."""
        ours = self.worker.is_training and self.worker.current_run is not None \
            and Path(self.worker.current_run) == path
        return ours or is_training(path)

    # -- actions -----------------------------------------------------------------------------
    def open_selected(self) -> None:
        s = self.selected()
        if s is not None and s.can_open:
            self.openRequested.emit(str(s.path))

    def resume_selected(self) -> None:
        """Continue the selected run: the Continue training dialog (non-blocking)
        offers a larger step budget and the hardware settings, all as saved."""
        s = self.selected()
        if s is None or not s.can_resume:
            return
        if self._is_busy(s.path) or self.worker.is_training:
            self.error.emit("Resume", "A run is already training. Stop it first.", "")
            return
        dialog = ResumeDialog(s, self)
        dialog.accepted_changes.connect(self.resumeRequested.emit)
        dialog.finished.connect(dialog.deleteLater)
        self.resume_dialog = dialog
        dialog.open()

    def restart_selected(self, confirmed: bool = False) -> bool:
        """Train the selected run, which stopped before its first save, again
        from step 0 on the Train page, after a (non-blocking) confirmation."""
        s = self.selected()
        if s is None or not self._never_saved(s):
            return False
        if not confirmed:
            self.restart_dialog = self._ask(
                "Start again", f"“{s.name}” stopped before its first save, so it has nothing to "
                "resume. Train it again from step 0 with its settings? The sample grids and "
                "losses of the first attempt are replaced.", "restartRunDialog",
                QMessageBox.StandardButton.Yes, lambda: self._restart(s))
            return False
        return self._restart(s)

    def _ask(self, title: str, text: str, object_name: str,
             default: QMessageBox.StandardButton, on_yes) -> QMessageBox:
        """A non-blocking Yes/Cancel question that calls on_yes() on Yes."""
        box = QMessageBox(QMessageBox.Icon.Question, title, text,
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, self)
        box.setObjectName(object_name)
        box.setDefaultButton(default)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.accepted.connect(on_yes)
        box.open()
        return box

    def _restart(self, s: RunSummary) -> bool:
        if self._is_busy(s.path) or self.worker.is_training:
            self.error.emit("Start again", "A run is already training. Stop it first.", "")
            return False
        self.resumeRequested.emit(str(s.path), {"restart": True})
        return True

    def rename_selected(self, new_name: str | None = None) -> Path | None:
        """Rename the selected run's folder; with no name, ask for one (non-blocking)."""
        path = self.selected_path()
        if path is None:
            return None
        if new_name is None:
            dialog = QInputDialog(self)
            dialog.setObjectName("renameRunDialog")
            dialog.setWindowTitle("Rename run")
            dialog.setLabelText("New folder name:")
            dialog.setTextValue(path.name)
            dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            dialog.textValueSelected.connect(lambda text: self._rename(path, text))
            self.rename_dialog = dialog
            dialog.open()
            return None
        return self._rename(path, new_name)

    def _rename(self, path: Path, new_name: str) -> Path | None:
        if self._is_busy(path):
            self.error.emit("Rename", f"{path.name} is training right now; stop it before renaming.", "")
            return None
        try:
            renamed = rename_run(path, new_name)
        except AtelierError as exc:
            self.error.emit("Rename", str(exc), "")
            return None
        self.refresh()
        self.select(renamed)
        self.status.emit(f"Renamed {path.name} to {renamed.name}")
        return renamed

    def delete_selected(self, confirmed: bool = False) -> bool:
        """Move the selected run to the trash, after a (non-blocking) confirmation."""
        path = self.selected_path()
        if path is None:
            return False
        if not confirmed:
            self.delete_dialog = self._ask(
                "Delete run", f"Move the run “{path.name}” to the trash?", "deleteRunDialog",
                QMessageBox.StandardButton.Cancel, lambda: self._delete(path))
            return False
        return self._delete(path)

    def _delete(self, path: Path) -> bool:
        if self._is_busy(path):
            self.error.emit("Delete", f"{path.name} is training right now; stop it before deleting.", "")
            return False
        if not QFile.moveToTrash(str(path)):
            self.error.emit("Delete", f"Could not move {path} to the trash (this system or drive "
                            "may have none); nothing was deleted.", "")
            return False
        self.refresh()
        self.status.emit(f"Moved {path.name} to the trash")
        return True

    def _ask_bundle_path(self, title: str, name: str) -> str | None:
        """A save dialog for a model bundle; the chosen path, with the bundle
        suffix added when the user left it off, or None when cancelled."""
        out, _ = QFileDialog.getSaveFileName(self, title, str(Path.home() / name),
                                             f"Latent Atelier model bundle (*{BUNDLE_SUFFIX})")
        if not out:
            return None
        return out if out.endswith(".safetensors") else out + BUNDLE_SUFFIX

    def export_selected(self, out: str | Path | None = None) -> None:
        s = self.selected()
        if s is None or not s.can_open:
            return
        if out is None:
            out = self._ask_bundle_path("Export model bundle", f"{s.name}{BUNDLE_SUFFIX}")
            if out is None:
                return
        self.status.emit(f"Exporting {s.name}…")
        self.worker.export_bundle(s.path, out).returned.connect(self.bundleExported.emit)

    def _update_onnx_button(self, s: RunSummary | None) -> None:
        """Enabled for a run whose model can leave as ONNX; otherwise its tooltip
        says why not. Missing ONNX packages are explained on a click instead."""
        refusal = onnx_refusal(s.model) if s is not None and s.can_open else None
        self.export_onnx_button.setEnabled(s is not None and s.can_open and refusal is None)
        self.export_onnx_button.setToolTip(
            refusal or "Write the network that makes the pictures as an ONNX file, for other "
                       "tools and runtimes (the file's metadata says how to call it)")

    def export_onnx_selected(self, out: str | Path | None = None) -> None:
        """Write the selected run's picture-making network as an ONNX file on the
        worker thread; a model that cannot, or an installation without the ONNX
        packages, gets a message saying why and how to get them."""
        s = self.selected()
        if s is None or not s.can_open:
            return
        problem = onnx_refusal(s.model) or missing_onnx_message()
        if problem:
            self.error.emit("Export ONNX", problem, "")
            return
        if out is None:
            chosen, _ = QFileDialog.getSaveFileName(self, "Export ONNX model",
                                                    str(Path.home() / f"{s.name}{ONNX_SUFFIX}"),
                                                    f"ONNX model (*{ONNX_SUFFIX})")
            if not chosen:
                return
            out = chosen if chosen.lower().endswith(ONNX_SUFFIX) else chosen + ONNX_SUFFIX
        from engine.studio.onnx_export import export_onnx

        path, target = s.path, out
        self.status.emit(f"Exporting {s.name} to ONNX…")
        self.worker.submit("onnx", lambda: str(export_onnx(path, target).path),
                           self.onnxExported.emit, "ONNX export failed")

    # -- the best checkpoint by a metric ------------------------------------------------------
    def selected_best(self) -> BestCheckpoint | None:
        """The selected run's best checkpoint by the chosen metric, if it still has it."""
        s = self.selected()
        best = self.best.get(s.path) if s is not None and s.can_open else None
        return best if best is not None and best.available and best.checkpoint else None

    def _why_no_best(self, path: Path) -> str:
        best = self.best.get(path)
        if best is None:
            return "no evaluation yet (Run > Evaluate run…, or evaluate while training)"
        return f"{best.describe()}; train with Keep best by to keep it"

    def open_best(self) -> None:
        """Write the best checkpoint as a bundle in the app's cache, then open it in
        the gallery (which opens bundles), on the worker thread."""
        s, best = self.selected(), self.selected_best()
        if s is None or best is None:
            return
        from engine.runs.bundles import export_bundle

        out = user_data_dir() / "cache" / "best" / f"{s.name}-{best.checkpoint}{BUNDLE_SUFFIX}"
        path, checkpoint = s.path, best.checkpoint
        self.status.emit(f"Opening {s.name}'s best checkpoint (step {best.step:,})…")
        self.worker.submit("best-open", lambda: str(export_bundle(path, out, checkpoint)),
                           self.openRequested.emit, "Could not open the best checkpoint")

    def resume_best(self) -> None:
        """Continue the best checkpoint in a new run folder beside this one."""
        s, best = self.selected(), self.selected_best()
        if s is None or best is None:
            return
        if self.worker.is_training:
            self.error.emit("Continue best", "A run is already training. Stop it first.", "")
            return
        from engine.runs.fork import fork_best

        path, metric = s.path, best.metric

        def forked(new_path: str) -> None:
            self.refresh()
            self.select(new_path)
            self.status.emit(f"Continuing {Path(new_path).name} from {s.name}'s best checkpoint")
            self.resumeRequested.emit(new_path, {})

        self.worker.submit("best-fork", lambda: str(fork_best(path, metric)), forked,
                           "Could not continue the best checkpoint")

    def export_best(self, out: str | Path | None = None) -> None:
        s, best = self.selected(), self.selected_best()
        if s is None or best is None:
            return
        if out is None:
            out = self._ask_bundle_path("Export best checkpoint",
                                        f"{s.name}-best-{best.metric}{BUNDLE_SUFFIX}")
            if out is None:
                return
        from engine.runs.bundles import export_bundle

        path, checkpoint = s.path, best.checkpoint
        self.status.emit(f"Exporting {s.name}'s best checkpoint (step {best.step:,})…")
        self.worker.submit("bundle", lambda: str(export_bundle(path, out, checkpoint)),
                           self.bundleExported.emit, "Export failed")
