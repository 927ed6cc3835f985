"""Data page: choose a data set, see what it holds and what was skipped, use it to train.

The source list comes from the engine's registry, so every data spec the CLI
accepts is here too. Loading runs on the worker's thread with a progress bar
and Cancel; this page only builds the spec and shows the plain-data results.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QFormLayout, QGroupBox,
                               QHBoxLayout, QHeaderView, QLabel, QLineEdit, QProgressBar,
                               QPushButton, QSplitter, QTabWidget, QTreeWidget, QTreeWidgetItem,
                               QVBoxLayout, QWidget)

from desktop_app.widgets.class_histogram import ClassHistogram
from desktop_app.widgets.image_view import ImageView
from desktop_app.worker import EngineWorker
from engine.data import registry
from engine.data.registry import LoadProgress
from engine.data.doctor import DoctorReport
from engine.data.summary import DataSummary, ScanCancelled

# Sources whose PATH is a file; the rest take a folder (a GIF for frames: too).
FILE_SOURCES = {"npz": "NumPy archives (*.npz)", "frames": "Animations and videos (*.gif *.mp4 "
                "*.webm *.mov *.avi);;All files (*)"}
FOLDER_KINDS = ("folder", "idx", "cifar10", "frames")


class DataPage(QWidget):
    status = Signal(str)
    useData = Signal(str, str)      # spec, a short label for the Train page's data list
    scanEnded = Signal()            # a load ended: done, cancelled or failed

    def __init__(self, worker: EngineWorker, image_size: Callable[[], int] = lambda: 64,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.worker = worker
        self._image_size = image_size
        self.summary: DataSummary | None = None
        self._scanned_spec: str | None = None   # the spec the summary shown describes
        self._pending_spec: str | None = None
        self._outcome: str | None = None         # of the last scan: "done", "cancelled"
        self.setAcceptDrops(True)
        self._build()
        self._on_source_changed()
        self._set_scanning(False)

    # -- layout ------------------------------------------------------------------------
    def _build(self) -> None:
        self.source_combo = QComboBox(objectName="dataSourceCombo")
        # Narrower than its longest entry (elided in the box, whole in the open
        # list), so it never squeezes the "Source" label beside it.
        self.source_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.source_combo.setMinimumContentsLength(16)
        for source in registry.sources():
            self.source_combo.addItem(f"{source.spec_form}: {source.description}", source.name)
            self.source_combo.setItemData(self.source_combo.count() - 1, source.description,
                                          Qt.ItemDataRole.ToolTipRole)
        self.path_edit = QLineEdit(objectName="dataPathEdit")
        self.path_edit.setPlaceholderText("Choose or drop a folder or file")
        self.browse_button = QPushButton("Browse…", objectName="dataBrowseButton")
        path_row = QHBoxLayout()
        path_row.addWidget(self.path_edit, 1)
        path_row.addWidget(self.browse_button)

        self.labels_check = QCheckBox("Class labels from sub-folder names",
                                      objectName="dataLabelsCheck")
        self.channels_combo = _combo("dataChannelsCombo", {"auto": "Automatic",
                                                           "1": "Greyscale", "3": "Colour (RGB)"})
        self.channels_combo.setItemData(0, "Greyscale when every picture is grey, else colour",
                                        Qt.ItemDataRole.ToolTipRole)
        self.fit_combo = _combo("dataFitCombo", {"crop": "Centre crop", "pad": "Pad (letterbox)",
                                                 "stretch": "Stretch"})
        self.background_combo = _combo("dataBackgroundCombo", {"white": "White", "black": "Black",
                                                               "grey": "Grey"})
        self.background_combo.setToolTip("Shown through transparent pixels and around padding")
        options = QFormLayout()
        options.addRow(self.labels_check)
        options.addRow("Channels", self.channels_combo)
        options.addRow("Make square by", self.fit_combo)
        options.addRow("Background", self.background_combo)
        self.options_box = QGroupBox("Picture options")
        self.options_box.setLayout(options)

        self.spec_label = QLabel(objectName="dataSpecLabel", wordWrap=True)
        self.spec_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.scan_button = QPushButton("Load and preview", objectName="dataScanButton")
        self.cancel_button = QPushButton("Cancel", objectName="dataCancelButton")
        self.use_button = QPushButton("Use for training", objectName="dataUseButton")
        buttons = QHBoxLayout()
        for b in (self.scan_button, self.cancel_button, self.use_button):
            buttons.addWidget(b)
        self.progress = QProgressBar(objectName="dataProgress", minimum=0, maximum=1, value=0)
        self.summary_label = QLabel("Choose a data set and press Load and preview.",
                                    objectName="dataSummaryLabel", wordWrap=True)
        self.summary_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        left = QVBoxLayout()
        form = QFormLayout()
        form.addRow("Source", self.source_combo)
        form.addRow("Path", path_row)
        left.addLayout(form)
        left.addWidget(self.options_box)
        left.addWidget(self.spec_label)
        left.addLayout(buttons)
        left.addWidget(self.progress)
        left.addWidget(self.summary_label)
        left.addStretch(1)
        left_widget = QWidget()
        left_widget.setLayout(left)
        left_widget.setMaximumWidth(420)

        self.preview = ImageView("The first 64 images appear here.", grid_columns=8)
        self.preview.setObjectName("dataPreviewGrid")
        from desktop_app.widgets.tile_drag import TileDragSource
        self.tile_drag = TileDragSource(self.preview, columns=8)   # the preview grid's 8 columns
        self.histogram = ClassHistogram()
        self.histogram.setObjectName("dataClassHistogram")
        self.skipped_list = QTreeWidget(objectName="dataSkippedList")
        self.skipped_list.setHeaderLabels(["Skipped file", "Reason"])
        self.skipped_list.setRootIsDecorated(False)
        self.skipped_list.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        self.skipped_list.setColumnWidth(0, 320)

        # The data doctor's findings (engine.data.doctor), each with its pictures.
        self.doctor_list = QTreeWidget(objectName="dataDoctorList")
        self.doctor_list.setHeaderLabels(["Finding", "Details"])
        self.doctor_list.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        self.doctor_list.setColumnWidth(0, 320)

        # Skipped files and the doctor's findings share one pane, as two tabs, so
        # the page keeps the height of a laptop screen.
        self.report_tabs = QTabWidget(objectName="dataReportTabs")
        self.report_tabs.addTab(self.skipped_list, "Skipped files")
        self.report_tabs.addTab(self.doctor_list, "Data doctor")

        right = QSplitter(Qt.Orientation.Vertical)
        for title, widget in (("Preview", self.preview), ("Images per class", self.histogram)):
            box = QGroupBox(title)
            QVBoxLayout(box).addWidget(widget)
            right.addWidget(box)
        right.addWidget(self.report_tabs)
        right.setSizes([420, 160, 180])

        layout = QHBoxLayout(self)
        layout.addWidget(left_widget)
        layout.addWidget(right, 1)

        self.source_combo.currentIndexChanged.connect(self._on_source_changed)
        for signal in (self.path_edit.textChanged, self.labels_check.toggled,
                       self.channels_combo.currentIndexChanged, self.fit_combo.currentIndexChanged,
                       self.background_combo.currentIndexChanged):
            signal.connect(self._update_spec)
        self.path_edit.returnPressed.connect(self.scan)
        self.browse_button.clicked.connect(self._browse)
        self.scan_button.clicked.connect(self.scan)
        self.cancel_button.clicked.connect(self.worker.cancel_scan)
        self.use_button.clicked.connect(self._use)

    # -- the spec ----------------------------------------------------------------------
    def _source(self) -> registry.DataSource:
        name = self.source_combo.currentData()
        return next(s for s in registry.sources() if s.name == name)

    def spec(self) -> str:
        """The data spec the controls describe, as the CLI would take it."""
        source = self._source()
        if not source.takes_path:
            return source.name
        spec = f"{source.name}:{self.path_edit.text().strip()}"
        if source.name != "folder":
            return spec
        options = []
        if self.labels_check.isChecked():
            options.append("labels=subfolders")
        for key, combo, default in (("channels", self.channels_combo, "auto"),
                                    ("fit", self.fit_combo, "crop"),
                                    ("background", self.background_combo, "white")):
            if combo.currentData() != default:
                options.append(f"{key}={combo.currentData()}")
        return spec + ("?" + "&".join(options) if options else "")

    def set_source(self, name: str, path: str = "") -> None:
        self.source_combo.setCurrentIndex(self.source_combo.findData(name))
        self.path_edit.setText(path)

    def _on_source_changed(self) -> None:
        source = self._source()
        for w in (self.path_edit, self.browse_button):
            w.setEnabled(source.takes_path)
        self.options_box.setEnabled(source.name == "folder")
        self._update_spec()

    def _update_spec(self) -> None:
        self.spec_label.setText(f"Data spec: <code>{self.spec()}</code>")
        self._update_enabled()

    def _update_enabled(self) -> None:
        scanning = self.worker.is_scanning
        ready = not self._source().takes_path or bool(self.path_edit.text().strip())
        self.scan_button.setEnabled(ready and not scanning)
        self.cancel_button.setEnabled(scanning)
        self.use_button.setEnabled(not scanning and self.summary is not None
                                   and self._scanned_spec == self.spec())

    def _browse(self) -> None:
        name = self._source().name
        start = self.path_edit.text().strip() or str(Path.home())
        if name in FILE_SOURCES:
            path, _ = QFileDialog.getOpenFileName(self, "Choose a data file", start,
                                                  FILE_SOURCES[name])
        else:
            path = QFileDialog.getExistingDirectory(self, "Choose a data folder", start)
        if path:
            self.path_edit.setText(path)
            self.scan()

    # -- drag and drop -------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt's name
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt's name
        paths = [Path(url.toLocalFile()) for url in event.mimeData().urls() if url.isLocalFile()]
        if not paths:
            return
        event.acceptProposedAction()
        self.open_path(paths[0])

    def open_path(self, path: Path) -> None:
        """Pick the source a dropped file or folder most likely is, then load it."""
        current = self._source().name
        if path.is_dir():
            name = current if current in FOLDER_KINDS else "folder"
        elif path.suffix.lower() == ".npz":
            name = "npz"
        elif current in FILE_SOURCES:
            name = current
        else:
            self.status.emit(f"{path.name}: drop a folder of pictures or a data file (.npz)")
            return
        self.set_source(name, str(path))
        self.scan()

    # -- loading ---------------------------------------------------------------------------
    def scan(self) -> None:
        if not self.scan_button.isEnabled():
            return
        spec = self.spec()
        job = self.worker.scan_data(spec, size=self._image_size())
        if job is not None:
            job.yielded.connect(self._on_scan_event)
            job.ended.connect(self._on_scan_ended)
            self._scanned_spec, self._pending_spec, self._outcome = None, spec, None
            self.progress.setRange(0, 0)   # busy until the first count arrives
            self.summary_label.setText(f"Loading {spec}…")
            self._set_scanning(True)

    def _on_scan_event(self, event: object) -> None:
        if isinstance(event, LoadProgress):
            if event.total:
                self.progress.setRange(0, event.total)
                self.progress.setValue(event.done)
                # "decoding" the pictures, then the data doctor "examining" them
                self.summary_label.setText(f"{event.stage.capitalize()} {event.done:,} of "
                                           f"{event.total:,} files…")
        elif isinstance(event, DataSummary):
            self._show(event)
        elif isinstance(event, ScanCancelled):
            self._outcome = "cancelled"
            self.summary_label.setText("Loading was cancelled.")
            self.status.emit("Loading the data was cancelled.")

    def _on_scan_ended(self) -> None:
        self._set_scanning(False)
        if self._outcome != "done":
            self.progress.setRange(0, 1)
            self.progress.setValue(0)
        if self._outcome is None:   # failed: the error dialog says why
            self.summary_label.setText("Could not load the data (see the message).")
        self.scanEnded.emit()

    def _set_scanning(self, scanning: bool) -> None:
        for w in (self.source_combo, self.options_box):
            w.setEnabled(not scanning and (w is not self.options_box
                                           or self._source().name == "folder"))
        self.path_edit.setEnabled(not scanning and self._source().takes_path)
        self.browse_button.setEnabled(not scanning and self._source().takes_path)
        self._update_enabled()
        if scanning:   # _update_enabled reads the worker, whose job may not be registered yet
            self.scan_button.setEnabled(False)
            self.cancel_button.setEnabled(True)
            self.use_button.setEnabled(False)

    def _show(self, summary: DataSummary) -> None:
        self.summary = summary
        self._outcome = "done"
        self._scanned_spec = self._pending_spec
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        self.preview.set_image(summary.preview)
        self.histogram.set_counts(summary.class_names, summary.class_counts)
        self.skipped_list.clear()
        self.skipped_list.addTopLevelItems([QTreeWidgetItem([s.path, s.reason])
                                            for s in summary.skipped])
        self._show_doctor(summary.doctor)
        self.report_tabs.setTabText(0, f"Skipped files ({len(summary.skipped):,})")
        findings = _findings(summary.doctor)
        self.report_tabs.setTabText(1, "Data doctor" + (f" ({findings})" if findings else ""))
        self.report_tabs.setCurrentIndex(1 if findings and not summary.skipped else 0)
        self.summary_label.setText("\n".join(_describe(summary)))
        self.status.emit(f"{summary.spec}: {summary.count:,} images loaded, "
                         f"{len(summary.skipped):,} skipped")

    def _show_doctor(self, report: DoctorReport | None) -> None:
        """The doctor's findings as a tree: each kind, each group, each picture."""
        self.doctor_list.clear()
        if report is None:
            self.doctor_list.addTopLevelItem(QTreeWidgetItem(
                ["Not examined", "the data doctor examines folders of pictures"]))
            return
        base = report.base()
        rows = []
        if report.duplicates:
            rows.append(_finding(f"Near-duplicates: {len(report.duplicates):,} groups",
                                 "the model sees these pictures more than once; keep one of each",
                                 [(f"{len(g.paths)} pictures", "identical hashes" if g.bits == 0
                                   else f"hashes {g.bits} of 64 bits apart",
                                   [(_short(p, base), "") for p in g.paths])
                                  for g in report.duplicates]))
        if report.small:
            rows.append(_finding(f"Much smaller than {report.size} px: {len(report.small):,}",
                                 "enlarged more than twice, they train as blur",
                                 [(_short(s.path, base), f"{s.width} x {s.height}, enlarged "
                                                         f"{s.scale:.1f}x", [])
                                  for s in report.small]))
        if report.shapes and (report.mixed_shapes or report.shapes[0].shape != "square"):
            rows.append(_finding(f"Shapes: {len(report.shapes)}" + (" (mixed)" if report.mixed_shapes
                                                                     else ""),
                                 f"what fit={report.fit} does to each (Make square by)",
                                 [(f"{g.shape}: {len(g.pictures):,}", g.fit,
                                   [(_short(p.path, base), f"{p.width} x {p.height}: {p.fit}")
                                    for p in g.pictures]) for g in report.shapes]))
        if not rows:
            rows.append(QTreeWidgetItem(["Nothing to report",
                                         "no near-duplicates, tiny pictures or mixed shapes"]))
        self.doctor_list.addTopLevelItems(rows)
        for item in rows:
            item.setExpanded(True)

    def data_note(self) -> str | None:
        """The Train page's line about the data last loaded ("1,254 pictures; 6
        skipped; ..."), or None when it was not a folder the doctor examined."""
        if self.summary is None or self.summary.doctor is None:
            return None
        return self.summary.doctor.headline()

    def _use(self) -> None:
        if self.summary is None or self._scanned_spec is None:
            return
        spec = self._scanned_spec
        path = self.path_edit.text().strip()
        label = f"{self._source().name}: {Path(path).name or path}" if path else spec
        self.useData.emit(spec, label)
        self.status.emit(f"Training will use {spec}")


def _describe(summary: DataSummary) -> list[str]:
    kind = f"sequences of {summary.frames} frames" if summary.frames else "images"
    colour = {1: "greyscale", 3: "colour (RGB)"}.get(summary.channels, f"{summary.channels} ch")
    lines = [f"{summary.count:,} {kind}, {summary.size[1]} x {summary.size[0]}, {colour}"]
    if summary.skipped:
        lines.append(f"{len(summary.skipped):,} of {summary.found:,} files skipped (listed below)")
    if summary.class_names:
        lines.append(f"{len(summary.class_names)} classes")
    if summary.original_sizes:
        w, h, n = summary.original_sizes[0]
        lines.append(f"Most common original size: {w} x {h} ({n:,} images)")
    lines.append("From the cache" if summary.from_cache else f"Loaded in {summary.seconds:.1f} s")
    if summary.doctor is not None:
        lines.append(f"Data doctor at {summary.doctor.size} px: {summary.doctor.headline()}")
    return lines


def _findings(report: DoctorReport | None) -> str:
    """The doctor's findings in a few words, for its tab: "2 duplicate groups, 1 tiny"."""
    if report is None:
        return ""
    parts = [f"{len(report.duplicates)} duplicate group{'s' if len(report.duplicates) > 1 else ''}"
             if report.duplicates else "", f"{len(report.small)} tiny" if report.small else "",
             "mixed shapes" if report.mixed_shapes else ""]
    return ", ".join(p for p in parts if p)


def _finding(title: str, details: str, children: list) -> QTreeWidgetItem:
    """A tree item with (title, details, grandchildren) children."""
    item = QTreeWidgetItem([title, details])
    for text, detail, grandchildren in children:
        child = QTreeWidgetItem([text, detail])
        child.addChildren([QTreeWidgetItem([t, d]) for t, d in grandchildren])
        item.addChild(child)
    return item


def _short(path: str, base: str) -> str:
    return os.path.relpath(path, base) if base else path


def _combo(name: str, choices: dict[str, str]) -> QComboBox:
    combo = QComboBox(objectName=name)
    for value, label in choices.items():
        combo.addItem(label, value)
    return combo
