"""Train page: pick data and model, press Train, watch losses and samples live."""
from __future__ import annotations

import os
from typing import Any

from PySide6.QtCore import QEvent, QObject, QSize, Qt, QTimer, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QFrame, QGroupBox,
                               QHBoxLayout, QLabel, QProgressBar, QPushButton, QScrollArea, QSpinBox,
                               QSplitter, QVBoxLayout, QWidget)

from desktop_app.pages.train_presets import PresetFields, TrainPresets
from desktop_app.theme import set_tone
from desktop_app.worker import EngineWorker
from desktop_app.widgets.eval_plot import EvalPlot
from desktop_app.widgets.image_view import ImageView
from desktop_app.widgets.picture_panels import picture_widths
from desktop_app.widgets.process_view import ProcessView
from desktop_app.widgets.loss_plot import LossPlot
from engine.runtime.compilation import compile_unavailable
from engine.runtime.cpu_threads import default_threads
from engine.runtime.device import available_devices
from engine.errors import AtelierError, ConfigError
from engine.training.events import (Evaluated, Finished, Notice, Progress, RunStarted, Samples, Saved,
                           StateChanged)
from engine.runs.best import RANKED_METRICS, higher_is_better, metric_label, recorded_evaluations
from engine.metrics.during_training import DEFAULT_TRAINING_EVAL_SAMPLES, evaluation_summary
from engine.metrics.evaluate import EvalProgress
from engine.models import model_defaults, model_spec, model_specs, plotted_losses
from engine.runtime.precision import PRECISION_LABELS
from engine.presets import DataFacts
from engine.storage.sizes import format_seconds
from engine.training import DEFAULT_STEPS, TrainConfig

DATA_CHOICES = {"mnist": "MNIST digits (bundled)",
                "moving-mnist": "Moving MNIST (image sequences, for convlstm)"}
# Every size some model takes; a model's own are enabled when it is chosen.
IMAGE_SIZES = tuple(sorted({size for spec in model_specs() for size in spec.image_sizes}))
SETTINGS_WIDTH = 380   # the settings column at least, its scroll bar included
GRID_COLUMNS = 8       # the live grids: 8 x 8 samples, rows of 8 data images and reconstructions
PLOTS_SHARE = 0.3      # the plots keep at least this share of the row beside the pictures
PLOTS_MIN_WIDTH = 300  # and at least this many pixels


class TrainPage(QWidget):
    status = Signal(str)                 # short messages for the status bar
    exportRequested = Signal()
    dataDetailsRequested = Signal()      # "see Data" in the data note: show the Data page

    def __init__(self, worker: EngineWorker, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.worker = worker
        self.last_progress: Progress | None = None
        self._build()
        worker.trainingEvent.connect(self._on_event)
        worker.busyChanged.connect(self._on_busy)
        self._on_busy(False)

    # -- layout ------------------------------------------------------------------
    def _build(self) -> None:
        self.data_combo = _combo("dataCombo", DATA_CHOICES)
        self.model_combo = _combo("modelCombo", {s.name: s.description for s in model_specs()})
        self.model_combo.setCurrentIndex(self.model_combo.findData("dcgan"))
        self.image_size_combo = _combo("imageSizeCombo", {s: f"{s} x {s}" for s in IMAGE_SIZES})
        self.width_spin = _spin("widthSpin", 4, 512, 32, "Base channel count of a convolutional "
                                "model (DCGAN: 64 at 64 x 64 is the pytorch/examples network)")
        self.batch_spin = _spin("batchSizeSpin", 2, 4096, 64, "Images per training step")
        self.lr_spin = QDoubleSpinBox(objectName="learningRateSpin", decimals=6, minimum=0.0,
                                      maximum=1.0, singleStep=0.0001, value=0.0002)
        self.lr_spin.setToolTip("Adam learning rate for both networks")
        self.steps_spin = _spin("stepsSpin", 0, 10_000_000, DEFAULT_STEPS,
                                "Training steps; 'no limit' to train by time only")
        self.steps_spin.setSpecialValueText("no limit")
        self.minutes_spin = QDoubleSpinBox(objectName="minutesSpin", decimals=1, minimum=0.0,
                                           maximum=100_000.0, value=0.0, suffix=" min")
        self.minutes_spin.setSpecialValueText("no limit")
        self.minutes_spin.setToolTip("Time budget; with a step budget too, the first reached ends the run")
        self.seed_spin = _spin("seedSpin", 0, 2**31 - 1, 0, "Same seed, same run (on the CPU)")
        self.autosave_spin = QDoubleSpinBox(objectName="autosaveSpin", decimals=1, minimum=0.1,
                                            maximum=1440.0, value=2.0, suffix=" min")
        self.autosave_spin.setToolTip("Save a checkpoint this often while training (also on "
                                      "pause, stop and close); a crash loses at most this much")
        self.keep_last_spin = _spin("keepLastSpin", 1, 100, 2, "Checkpoints to keep, newest first")
        self._build_evaluation_settings()
        devices = available_devices()
        self.device_combo = _combo("deviceCombo", {"auto": f"Automatic ({devices[0]})",
                                                   **{d: d.upper() for d in devices}})
        self.precision_combo = _combo("precisionCombo", PRECISION_LABELS)
        self.precision_combo.setToolTip(
            "Automatic: mixed precision on a GPU (bfloat16 where the GPU has it, else float16 "
            "with loss scaling), full float32 on the CPU.\nMixed precision trains faster on a "
            "GPU; weights and samples stay full precision.")
        self.compile_check = QCheckBox("Compile (torch.compile)", objectName="compileCheck")
        self.compile_check.setToolTip("Compile the networks: a slower start while compiling, "
                                      "faster steps on some machines. Falls back to normal "
                                      "training if it fails.")
        cores = os.cpu_count() or 1
        self.threads_spin = _spin("threadsSpin", 0, max(cores, default_threads()), 0,
                                  "CPU threads for the maths. Fewer keeps the computer "
                                  "responsive while a run trains in the background (work "
                                  "started meanwhile, such as gallery samples, uses as "
                                  "many); Automatic uses one per core.")
        self.threads_spin.setSpecialValueText(f"Automatic ({default_threads()})")
        self._compile_unavailable = compile_unavailable()
        if self._compile_unavailable is not None:
            self.compile_check.setToolTip(self._compile_unavailable[0].upper()
                                          + self._compile_unavailable[1:] + ".")

        # Settings chosen for the data and device until the user changes them.
        self.presets = TrainPresets(PresetFields(
            data=self.data_combo, device=self.device_combo, model=self.model_combo,
            image_size=self.image_size_combo, width=self.width_spin, batch_size=self.batch_spin,
            learning_rate=self.lr_spin, steps=self.steps_spin, minutes=self.minutes_spin,
            precision=self.precision_combo))
        self._build_data_note()
        run_form = _form([("Data", self.data_combo), ("", self.data_note), self.presets.check,
                          self.presets.label,   # the full width: a preset name can be long
                          ("Model", self.model_combo), ("Image size", self.image_size_combo),
                          ("Width", self.width_spin), ("Batch size", self.batch_spin),
                          ("Learning rate", self.lr_spin), ("Steps", self.steps_spin),
                          ("Time", self.minutes_spin), ("Seed", self.seed_spin)])
        hardware_form = _form([("Device", self.device_combo), ("Precision", self.precision_combo),
                               ("", self.compile_check), ("CPU threads", self.threads_spin)])
        saving_form = _form([("Autosave every", self.autosave_spin),
                             ("Keep checkpoints", self.keep_last_spin),
                             ("Evaluate every", self.eval_every_spin),
                             ("Evaluation samples", self.eval_samples_spin),
                             ("Keep best by", self.keep_best_combo)])
        settings_column = QVBoxLayout()
        settings_column.setContentsMargins(0, 0, 0, 0)
        for title, form in (("Settings", run_form), ("Hardware", hardware_form),
                            ("Checkpoints and evaluation", saving_form)):
            box = QGroupBox(title)
            box.setLayout(form)
            settings_column.addWidget(box)
        settings_column.addStretch(1)
        _align_labels(run_form, hardware_form, saving_form)
        self.settings_panel = QWidget(objectName="trainSettingsPanel")
        self.settings_panel.setLayout(settings_column)
        # The settings scroll on a short screen (a 768 px laptop); the buttons
        # below them stay in view. The column is as wide as the fields need
        # plus the scroll bar (_fit_settings_width), so no sideways scrolling
        # unless the window is narrower than that.
        self.settings_scroll = QScrollArea(objectName="trainSettingsScroll", widgetResizable=True)
        self.settings_scroll.setWidget(self.settings_panel)
        self.settings_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.settings_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.settings_scroll.setMinimumHeight(160)

        # Faults the run survived (a save the disk refused, a halved batch): shown
        # until the next run, without a modal dialog interrupting the training.
        self.notice_label = QLabel(objectName="noticeLabel", wordWrap=True)
        set_tone(self.notice_label, "warning")
        self.notice_label.hide()
        # Files of the data a folder could not use: a label of their own, so a later
        # notice does not hide them.
        self.skipped_label = QLabel(objectName="skippedFilesLabel", wordWrap=True)
        set_tone(self.skipped_label, "warning")
        self.skipped_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.skipped_label.hide()
        self.settings_error = QLabel(objectName="settingsError", wordWrap=True)
        set_tone(self.settings_error, "error")
        self.settings_error.hide()

        self.train_button = QPushButton("Train", objectName="trainButton")
        self.train_button.setDefault(True)
        self.train_button.setToolTip("Start a run with these settings (Ctrl+R)")
        self.pause_button = QPushButton("Pause", objectName="pauseButton")
        self.pause_button.setToolTip("Pause between steps, saving the run; Resume (or Ctrl+R) "
                                     "goes on")
        self.stop_button = QPushButton("Stop", objectName="stopButton")
        self.train_button.clicked.connect(self.start_training)
        self.pause_button.clicked.connect(self.toggle_pause)
        self.stop_button.clicked.connect(self.worker.stop)
        buttons = QHBoxLayout()
        for b in (self.train_button, self.pause_button, self.stop_button):
            buttons.addWidget(b)

        self.export_button = QPushButton("Export time-lapse GIF…", objectName="exportTimelapseButton")
        self.export_button.setEnabled(False)
        self.export_button.setToolTip("Export the run's samples over time as a looping GIF (Ctrl+E)")
        self.export_button.clicked.connect(self.exportRequested)
        self.run_label = QLabel("No run yet", objectName="runDirLabel", wordWrap=True)
        self.run_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        left = QVBoxLayout()
        left.setContentsMargins(0, 0, 0, 0)
        left.addWidget(self.settings_scroll, 1)
        left.addWidget(self.settings_error)
        left.addWidget(self.notice_label)
        left.addWidget(self.skipped_label)
        left.addLayout(buttons)
        left.addWidget(self.export_button)
        left.addWidget(self.run_label)
        self.settings_column = QWidget()
        self.settings_column.setLayout(left)
        self._fit_settings_width()

        self.progress = QProgressBar(objectName="trainProgress", minimum=0, maximum=1000, value=0)
        self.progress.setFormat("%p%")
        self.eta_label = QLabel("Press Train to start.", objectName="etaLabel")
        self.loss_plot = LossPlot()
        self.loss_plot.setObjectName("lossPlot")
        # Pictures enlarge by whole numbers only (crisp pixels); _fit_pictures
        # sizes their panels so that they can.
        self.sample_view = ImageView("Samples from fixed seeds appear here while training.",
                                     whole_steps=True, grid_columns=GRID_COLUMNS)
        self.sample_view.setObjectName("sampleGrid")
        self.reconstruction_view = ImageView("Data images and their reconstructions appear here.",
                                             whole_steps=True, grid_columns=GRID_COLUMNS)
        self.reconstruction_view.setObjectName("reconstructionGrid")
        self.process_view = ProcessView("The model's process appears here.", whole_steps=True)
        self.process_view.setObjectName("processView")

        self.views = views = QSplitter(Qt.Orientation.Horizontal)
        plot_box = QGroupBox("Losses")
        self.sample_box = sample_box = QGroupBox("Samples (seeds 0-63)")
        QVBoxLayout(plot_box).addWidget(self.loss_plot)
        QVBoxLayout(sample_box).addWidget(self.sample_view)
        # VAEs only: each row of data images is followed by its reconstructions.
        self.reconstruction_box = QGroupBox("Reconstructions (odd rows: data)")
        QVBoxLayout(self.reconstruction_box).addWidget(self.reconstruction_view)
        # Scores of the evaluations while training, beside the losses (shown once
        # a run evaluates).
        self.eval_plot = EvalPlot()
        self.eval_plot.setObjectName("evalPlot")
        self.eval_box = QGroupBox("Quality while training")
        QVBoxLayout(self.eval_box).addWidget(self.eval_plot)
        self.eval_box.hide()
        plots = QSplitter(Qt.Orientation.Vertical)   # the scores below the losses
        plots.addWidget(plot_box)
        plots.addWidget(self.eval_box)
        views.addWidget(plots)
        views.addWidget(sample_box)
        views.addWidget(self.reconstruction_box)
        self.reconstruction_box.hide()
        # Recurrent families: seed 0's process (rows filling in, canvas, rollout), looping.
        self.process_box = QGroupBox("Process (seed 0)")
        QVBoxLayout(self.process_box).addWidget(self.process_view)
        views.addWidget(self.process_box)
        self.process_box.hide()
        views.setSizes([500, 400])
        # The panels follow the pictures' whole-number sizes as the window
        # resizes, until the user moves a divider: then the sizes are theirs.
        self._fit_automatically = True
        views.splitterMoved.connect(self._user_moved_divider)
        self._refit = QTimer(self, singleShot=True, interval=0)
        self._refit.timeout.connect(self._fit_pictures)
        views.installEventFilter(self)

        right = QVBoxLayout()
        right.addWidget(self.progress)
        right.addWidget(self.eta_label)
        right.addWidget(views, 1)

        layout = QHBoxLayout(self)
        layout.addWidget(self.settings_column)
        layout.addLayout(right, 1)
        self.model_combo.currentIndexChanged.connect(self._on_model_changed)
        self._on_model_changed()
        self.image_size_combo.currentIndexChanged.connect(lambda _: self._refit.start())
        self.data_combo.currentIndexChanged.connect(lambda _: self.presets.apply())
        self.data_combo.currentIndexChanged.connect(lambda _: self._show_data_note())
        self.device_combo.currentIndexChanged.connect(lambda _: self.presets.apply())
        self.presets.apply()

    def _build_evaluation_settings(self) -> None:
        self.eval_every_spin = QDoubleSpinBox(objectName="evalEverySpin", decimals=1, minimum=0.0,
                                              maximum=1440.0, value=0.0, suffix=" min")
        self.eval_every_spin.setSpecialValueText("off")
        self.eval_every_spin.setToolTip(
            "Score the model (FD, KID, classes; a likelihood where the model has one) this "
            "often while training, and plot it beside the losses. Each evaluation takes a "
            "few seconds of training time and saves a checkpoint")
        self.eval_samples_spin = _spin("evalSamplesSpin", 100, 100_000, DEFAULT_TRAINING_EVAL_SAMPLES,
                                       "Generated images per evaluation while training; FD is "
                                       "labelled with this count (FD@2000) and comparable only "
                                       "at equal counts")
        # Filled per model from its spec's eval_metrics (_fill_keep_best).
        self.keep_best_combo = _combo("keepBestCombo", {None: "Off"})
        self.keep_best_combo.setToolTip("Also keep the checkpoint that scored best by this "
                                        "metric (needs evaluation while training)")

    def _on_model_changed(self) -> None:
        model = self.model_combo.currentData()
        spec = model_spec(model)
        with self.presets.applying():
            # Each family trains best at its own learning rate (GANs 2e-4; the MLP
            # VAEs 3e-3, which their cosine schedule decays over the budget).
            if not self.presets.is_user_set("learning_rate"):
                self.lr_spin.setValue(model_defaults(model).learning_rate)
            self.width_spin.setEnabled(spec.takes_width)
            if self.image_size_combo.currentData() not in spec.image_sizes:
                self.image_size_combo.setCurrentIndex(
                    self.image_size_combo.findData(spec.image_sizes[0]))
            self.image_size_combo.setEnabled(len(spec.image_sizes) > 1)
            sizes = self.image_size_combo.model()
            for i in range(self.image_size_combo.count()):
                sizes.item(i).setEnabled(self.image_size_combo.itemData(i) in spec.image_sizes)
            self._fill_keep_best(spec.eval_metrics)
        self.presets.model_changed()
        if not self.loss_plot.steps:
            # Before a run shows its losses, the legend names the chosen model's
            # (read again: the preset applied just above may have chosen another).
            self.loss_plot.set_curves(plotted_losses(self.model_combo.currentData()))

    def _fill_keep_best(self, metrics: tuple[str, ...]) -> None:
        """Offer the metrics that can score this model; a choice it keeps stays."""
        chosen = self.keep_best_combo.currentData()
        self.keep_best_combo.clear()
        self.keep_best_combo.addItem("Off", None)
        for name in metrics:
            if name in RANKED_METRICS:
                way = "highest" if higher_is_better(name) else "lowest"
                self.keep_best_combo.addItem(f"{_capitalised(metric_label(name))} ({way})", name)
        self.keep_best_combo.setCurrentIndex(max(0, self.keep_best_combo.findData(chosen)))

    # -- pictures in whole-number steps ------------------------------------------------
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if watched is self.views and event.type() in (QEvent.Type.Resize, QEvent.Type.Show):
            self._refit.start()    # once the layout has settled
        return False

    def _user_moved_divider(self, *_: object) -> None:
        self._fit_automatically = False

    def _picture_boxes(self) -> list[tuple[QGroupBox, ImageView, QSize]]:
        """The visible picture panels, their views and their pictures' sizes (the
        grid this run will draw before the first arrives)."""
        side = self.image_size_combo.currentData() or 28
        grid = GRID_COLUMNS * (side + 2) + 2     # engine.media.images.make_grid, padding 2
        boxes = []
        for box, view, default in ((self.sample_box, self.sample_view, QSize(grid, grid)),
                                   (self.reconstruction_box, self.reconstruction_view,
                                    QSize(grid, grid)),   # 4 rows of data, 4 of reconstructions
                                   (self.process_box, self.process_view, QSize(side, side))):
            if box.isHidden():
                continue
            image = view.image
            size = QSize(image.shape[1], image.shape[0]) if image is not None else default
            boxes.append((box, view, size))
        return boxes

    def _fit_pictures(self) -> None:
        """Give each picture panel the width of its picture at the largest
        whole-number scale the row allows, the plots the rest."""
        if not self._fit_automatically or not self.views.isVisible():
            return
        boxes = self._picture_boxes()
        if not boxes:
            return
        # A panel's frame, title and margins: its size hint less its picture's.
        box, view = boxes[0][0], boxes[0][1]
        chrome = box.sizeHint() - view.sizeHint()
        handles = self.views.handleWidth() * (self.views.count() - 1)
        row = self.views.width() - handles
        plots = max(PLOTS_MIN_WIDTH, int(row * PLOTS_SHARE))
        widths = picture_widths([size for _, _, size in boxes], row - plots,
                                self.views.height(), chrome)
        width_of = {id(b): w for (b, _, _), w in zip(boxes, widths)}
        # The plots (the splitter's first panel) take the rest; hidden panels none.
        sizes = [width_of.get(id(self.views.widget(i)), 0) for i in range(self.views.count())]
        sizes[0] = max(row - sum(widths), 0)
        self.views.setSizes(sizes)

    # -- what other pages and the window read ------------------------------------------
    def image_size(self) -> int:
        """The side in pixels the next run trains at."""
        return self.image_size_combo.currentData()

    def sample_grid_size(self) -> tuple[int, int]:
        """(width, height) of the live sample grid; (0, 0) before the first samples."""
        grid = self.sample_view.image
        return (grid.shape[1], grid.shape[0]) if grid is not None else (0, 0)

    def set_data(self, spec: str, label: str, facts: DataFacts | None = None,
                 note: str | None = None) -> None:
        """Train on `spec` (chosen on the Data page); it stays in the list. With
        `facts` (its size, colour, classes) the preset follows the data; `note` is
        the data doctor's line about it ("1,254 pictures; 6 skipped"), shown under it."""
        if note:
            self._data_notes[spec] = note
        else:
            self._data_notes.pop(spec, None)
        index = self.data_combo.findData(spec)
        if index < 0:
            self.data_combo.addItem(label, spec)
            index = self.data_combo.count() - 1
        with self.presets.applying():
            self.data_combo.setCurrentIndex(index)
        self.presets.data_chosen(spec, facts)
        self._show_data_note()

    def _build_data_note(self) -> None:
        self._data_notes: dict[str, str] = {}   # spec -> the data doctor's line
        self.data_note = QLabel(objectName="trainDataNote", wordWrap=True)
        self.data_note.setTextFormat(Qt.TextFormat.RichText)
        self.data_note.linkActivated.connect(lambda _: self.dataDetailsRequested.emit())
        self.data_note.hide()

    def _show_data_note(self) -> None:
        """The data doctor's line for the data chosen, with a link to the Data page."""
        import html

        note = self._data_notes.get(self.data_combo.currentData())
        self.data_note.setVisible(note is not None)
        if note is not None:
            self.data_note.setText(f"{html.escape(note)}: <a href=\"data\">see Data</a>")

    # -- actions -----------------------------------------------------------------
    def _fit_settings_width(self) -> None:
        """At least SETTINGS_WIDTH, wider when the fields need it (a larger font)."""
        bar = self.settings_scroll.verticalScrollBar().sizeHint().width()
        needed = self.settings_panel.minimumSizeHint().width() + bar
        self.settings_column.setFixedWidth(max(SETTINGS_WIDTH, needed))

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        super().changeEvent(event)
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange) \
                and hasattr(self, "settings_column"):
            self._fit_settings_width()

    def config(self) -> TrainConfig:
        """The settings as a TrainConfig; 'no limit' on both means the default budget."""
        steps = self.steps_spin.value() or None
        minutes = self.minutes_spin.value() or None
        model = self.model_combo.currentData()
        return TrainConfig(model=model, data=self.data_combo.currentData(),
                           image_size=self.image_size_combo.currentData(),
                           width=self.width_spin.value() if model_spec(model).takes_width else None,
                           batch_size=self.batch_spin.value(), learning_rate=self.lr_spin.value(),
                           steps=steps, minutes=minutes, seed=self.seed_spin.value(),
                           device=self.device_combo.currentData(),
                           precision=self.precision_combo.currentData(),
                           compile=self.compile_check.isChecked(),
                           threads=self.threads_spin.value() or None,
                           autosave_seconds=self.autosave_spin.value() * 60,
                           keep_last=self.keep_last_spin.value(),
                           eval_every_minutes=self.eval_every_spin.value() or None,
                           eval_samples=self.eval_samples_spin.value(),
                           keep_best=self.keep_best_combo.currentData(),
                           model_settings=self.presets.model_settings())

    def start_training(self) -> None:
        config = self.config()
        try:
            config.validate()  # cheap: settings only, nothing is built or written
        except ConfigError as exc:
            self.settings_error.setText(str(exc).capitalize())
            self.settings_error.show()
            return
        self.settings_error.hide()
        self.loss_plot.set_curves(plotted_losses(config.model))
        self.eval_plot.clear()
        self.eval_box.setVisible(config.evaluates)
        self.progress.setValue(0)
        self.eta_label.setText("Loading data and building the model…")
        self.worker.start_training(config)

    def train_or_resume(self) -> None:
        """Ctrl+R: resume the paused run, else start one (nothing while one trains)."""
        if self.worker.is_paused:
            self.worker.resume()
        elif self.worker.is_training:
            self.status.emit("A run is already training.")
        else:
            self.start_training()

    def resume_run(self, run_dir: str, **changes: Any) -> None:
        """Continue a saved run (from the Runs page or crash recovery); this page
        shows its progress as for a new run. `changes` (steps, device, precision,
        threads, compile) are passed to engine.training.resume."""
        self.settings_error.hide()
        self.loss_plot.clear()
        self.eval_plot.clear()
        self.eval_box.hide()     # shown again at the run's first evaluation
        self.last_progress = None
        self.progress.setValue(0)
        self.eta_label.setText("Loading data and restoring the run…")
        self.worker.resume_training(run_dir, **changes)

    def toggle_pause(self) -> None:
        if self.worker.is_paused:
            self.worker.resume()
        else:
            self.worker.pause()
            self.pause_button.setEnabled(False)  # until the run confirms it paused

    # -- engine events -------------------------------------------------------------
    def _on_event(self, event: object) -> None:
        if isinstance(event, RunStarted):
            self.run_label.setText(f"Run folder: {event.run_dir}")
            if event.start_step:
                self._show_earlier_evaluations(event.run_dir)
            self.notice_label.hide()
            self.skipped_label.hide()
            memory = ""
            if event.memory_estimate_bytes:
                memory = f", about {event.memory_estimate_bytes / 2**20:,.0f} MB"
            self.status.emit(f"Training {event.model} on {event.device.upper()} "
                             f"({event.parameters:,} parameters, {event.data_count:,} images"
                             f"{memory})")
        elif isinstance(event, Notice) and event.kind == "files-skipped":
            self.skipped_label.setText(event.message)
            self.skipped_label.show()
            self.status.emit(event.message)
        elif isinstance(event, Notice):
            self.notice_label.setText(event.message)
            self.notice_label.show()
            self.status.emit(event.message)
        elif isinstance(event, Progress):
            self.last_progress = event
            self.loss_plot.add_point(event.step, event.losses)
            self.progress.setValue(int(event.fraction * 1000))
            total = f"/{event.total_steps:,}" if event.total_steps else ""
            self.eta_label.setText(f"Step {event.step:,}{total} · {event.images_per_second:,.0f} images/s"
                                   f" · elapsed {format_seconds(event.elapsed_seconds)}"
                                   f" · ETA {format_seconds(event.eta_seconds)}")
        elif isinstance(event, EvalProgress):
            self.eta_label.setText(f"Evaluating the model ({event.stage}: {event.done:,} of "
                                   f"{event.total:,})… training continues after it")
        elif isinstance(event, Evaluated):
            self.eval_box.show()
            self.eval_plot.add_scores(event.step, event.scores, event.seconds)
            self.status.emit(f"Evaluated at step {event.step:,} in {event.seconds:.1f} s")
        elif isinstance(event, Samples):
            resized = self.sample_view.image is None \
                or self.sample_view.image.shape != event.grid.shape
            self.sample_view.set_image(event.grid)
            boxes = (self.reconstruction_box.isHidden(), self.process_box.isHidden())
            self.reconstruction_box.setVisible(event.reconstructions is not None)
            if event.reconstructions is not None:
                self.reconstruction_view.set_image(event.reconstructions)
            self.process_box.setVisible(event.process is not None)
            if event.process is not None:
                self.process_box.setTitle(f"Process: {event.process_name} (seed 0)")
                self.process_view.set_frames(event.process)
            else:
                self.process_view.clear()
            if resized or boxes != (self.reconstruction_box.isHidden(),
                                    self.process_box.isHidden()):
                self._refit.start()
            self.export_button.setEnabled(True)
        elif isinstance(event, StateChanged):
            paused = event.state == "paused"
            self.pause_button.setText("Resume" if paused else "Pause")
            self.pause_button.setEnabled(True)
            self.status.emit("Paused; the run is saved." if paused else "Training resumed.")
        elif isinstance(event, Saved) and event.step > 0:
            self.status.emit(f"Saved at step {event.step:,}.")
        elif isinstance(event, Finished):
            self.progress.setValue(1000 if event.reason != "stopped" else self.progress.value())
            self.status.emit(f"Training {event.reason} at step {event.step:,}; "
                             f"saved in {event.run_dir}")

    def _show_earlier_evaluations(self, run_dir: str) -> None:
        """A resumed run's plot starts with the scores it recorded while training."""
        self.eval_plot.clear()
        try:
            earlier = [r for r in recorded_evaluations(run_dir) if r.get("source") == "training"]
        except AtelierError:
            return   # an unreadable log: the plot fills from this session on
        for record in earlier:
            self.eval_plot.add_scores(int(record.get("step", 0)), evaluation_summary(record),
                                      float(record.get("seconds", 0.0)))
        self.eval_box.setVisible(bool(earlier))

    def _on_busy(self, busy: bool) -> None:
        for w in (self.data_combo, self.model_combo, self.batch_spin, self.lr_spin, self.steps_spin,
                  self.minutes_spin, self.seed_spin, self.device_combo, self.train_button,
                  self.autosave_spin, self.keep_last_spin, self.eval_every_spin,
                  self.eval_samples_spin, self.keep_best_combo, self.precision_combo,
                  self.threads_spin, self.presets.check):
            w.setEnabled(not busy)
        self.compile_check.setEnabled(not busy and self._compile_unavailable is None)
        spec = model_spec(self.model_combo.currentData())
        self.width_spin.setEnabled(not busy and spec.takes_width)
        self.image_size_combo.setEnabled(not busy and len(spec.image_sizes) > 1)
        self.pause_button.setEnabled(busy)
        self.stop_button.setEnabled(busy)
        self.pause_button.setText("Pause")
        if not busy and self.last_progress is None and self.eta_label.text().startswith("Loading"):
            self.eta_label.setText("Press Train to start.")


def _align_labels(*forms: QFormLayout) -> None:
    """One label width for all the forms, so fields line up from box to box."""
    labels = [item.widget() for form in forms for row in range(form.rowCount())
              if (item := form.itemAt(row, QFormLayout.ItemRole.LabelRole)) is not None
              and isinstance(item.widget(), QLabel)]
    width = max(label.sizeHint().width() for label in labels)
    for label in labels:
        label.setMinimumWidth(width)


def _form(rows: list) -> QFormLayout:
    """A form of (label, field) rows; a bare widget takes the full width."""
    form = QFormLayout()
    for row in rows:
        if isinstance(row, tuple):
            form.addRow(*row)
        else:
            form.addRow(row)
    return form


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def _combo(name: str, choices: dict) -> QComboBox:
    combo = QComboBox(objectName=name)
    # Narrower than its longest item (a long data-set name elides in the box;
    # the open list still shows it whole), so the settings column keeps its width.
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(12)
    for value, label in choices.items():
        combo.addItem(label, value)
    return combo


def _spin(name: str, low: int, high: int, value: int, tip: str) -> QSpinBox:
    spin = QSpinBox(objectName=name, minimum=low, maximum=high, value=value)
    spin.setToolTip(tip)
    spin.setGroupSeparatorShown(True)
    return spin
