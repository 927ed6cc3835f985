"""The animation studio: keyframes from gallery tiles, a live preview that plays
while you edit, and export to GIF, APNG, WebP, MP4, frames or a sprite sheet.

Every render, size estimate, export and file read runs on the engine worker;
this page only keeps plain data (the timeline, uint8 frames) and a timer.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QDoubleSpinBox,
                               QFileDialog, QFormLayout, QGroupBox, QHBoxLayout, QLabel,
                               QListWidget, QListWidgetItem, QMessageBox, QPushButton, QSpinBox,
                               QVBoxLayout, QWidget)

from desktop_app.current_run import save_folder
from desktop_app.widgets.image_view import ImageView
from desktop_app.widgets.qimage import to_pixmap
from desktop_app.worker import EngineWorker
from engine.errors import AtelierError
from engine.studio.exporters import FORMATS, ExportOptions, human_size
from engine.media.video_support import video_unavailable
from engine.studio.exporters.common import PALETTES
from engine.studio.exporters.memory import ExportMemory, advice, export_memory, fits_at_all, over_limit
from engine.studio.keyframes import EASINGS, INTERPOLATIONS, Keyframe, Timeline
from engine.runs.folders import is_run_dir

KEYFRAME_ROLE = Qt.ItemDataRole.UserRole
PREVIEW_JOB = "walk-preview"
ESTIMATE_JOB = "export-estimate"
EDIT_SETTLE_MS = 150      # wait for a burst of edits to end before rendering
ICON_PIXELS = 48
FILTERS = {"gif": "GIF animation (*.gif)", "apng": "Animated PNG (*.png)",
           "webp": "Animated WebP (*.webp)", "mp4": "MP4 video (*.mp4)",
           "frames": "Folder of PNG frames (*)", "sheet": "Sprite sheet PNG (*.png)"}


class AnimatePage(QWidget):
    status = Signal(str)
    error = Signal(str, str, str)
    exported = Signal(str)        # path written
    runChanged = Signal(object)   # the run now animated (a Path): the window's current run

    def __init__(self, worker: EngineWorker, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.worker = worker
        self.run_dir: Path | None = None
        self._renderer: Any = None            # engine.studio.animation.WalkRenderer, used on the worker only
        self.frames: np.ndarray | None = None  # the preview's frames, uint8 (T, H, W, C)
        self.provenance: dict[str, Any] = {}
        self.rendered: tuple[Path, dict[str, Any]] | None = None   # (run, timeline) of the frames
        self._frame = 0
        self._preview_busy = self._preview_dirty = False
        self._estimate_busy = self._estimate_dirty = False
        self.estimate: int | None = None
        self._stopped = False    # the window is closing: start no more work
        # The keyframes are the automatic start (the gallery's first seeds), not the
        # artist's: the first keyframe the artist adds replaces them.
        self._auto_keyframes = False
        self._build()
        self._settle = QTimer(self, singleShot=True, interval=EDIT_SETTLE_MS)
        self._settle.timeout.connect(self._render_preview)
        self._player = QTimer(self)
        self._player.timeout.connect(self._next_frame)
        self._show_kind_panels()
        self._update_enabled()

    # -- building ------------------------------------------------------------------
    def _build(self) -> None:
        self.run_label = QLabel("No run chosen. Pick tiles in the Gallery, open a run, or try a "
                                "trained model.",
                                objectName="animateRunLabel", wordWrap=True)
        # Run names and notes come from files (an export's metadata): never markup.
        self.run_label.setTextFormat(Qt.TextFormat.PlainText)
        self.open_run_button = QPushButton("Open run…", objectName="animateOpenRunButton")
        self.open_run_button.clicked.connect(self._choose_run)
        self.open_animation_button = QPushButton("Open animation…", objectName="openAnimationButton")
        self.open_animation_button.setToolTip("Read the keyframes back from an exported GIF, PNG, "
                                              "APNG, WebP, MP4 or frame folder")
        self.open_animation_button.clicked.connect(self._choose_animation)
        from desktop_app.starter_models import StarterButton
        # Something to animate before any training: a shipped model, its walk at once.
        self.starter_button = StarterButton("animateTryStarterButton")
        self.starter_button.chosen.connect(self.set_run)
        top = QHBoxLayout()
        top.addWidget(self.run_label, 1)
        top.addWidget(self.starter_button)
        top.addWidget(self.open_run_button)
        top.addWidget(self.open_animation_button)

        # Keyframes: drag to reorder, or use the arrows.
        self.keyframe_list = QListWidget(objectName="keyframeList")
        self.keyframe_list.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
        self.keyframe_list.setIconSize(QSize(ICON_PIXELS, ICON_PIXELS))
        self.keyframe_list.model().rowsMoved.connect(self._keyframes_edited)
        self.keyframe_list.itemSelectionChanged.connect(self._update_enabled)
        self.seed_spin = QSpinBox(objectName="keyframeSeedSpin", minimum=0, maximum=2**31 - 1)
        self.class_spin = QSpinBox(objectName="keyframeClassSpin", minimum=-1, maximum=9999, value=-1)
        self.class_spin.setSpecialValueText("no class")
        self.class_spin.setToolTip("The keyframe's class (shown for class-conditional runs only)")
        self.class_spin.setVisible(False)    # until a conditional run is open
        self.add_button = QPushButton("Add", objectName="addKeyframeButton")
        self.add_button.clicked.connect(lambda: self.add_keyframes(
            [self.seed_spin.value()], label=self.class_spin.value() if self.class_spin.value() >= 0 else None))
        self.remove_button = QPushButton("Remove", objectName="removeKeyframeButton")
        self.remove_button.clicked.connect(self.remove_selected)
        self.up_button = QPushButton("Up", objectName="keyframeUpButton")
        self.up_button.clicked.connect(lambda: self.move_selected(-1))
        self.down_button = QPushButton("Down", objectName="keyframeDownButton")
        self.down_button.clicked.connect(lambda: self.move_selected(1))
        add_row = QHBoxLayout()
        add_row.addWidget(QLabel("Seed"))
        add_row.addWidget(self.seed_spin, 1)
        add_row.addWidget(self.class_spin)
        add_row.addWidget(self.add_button)
        edit_row = QHBoxLayout()
        for button in (self.remove_button, self.up_button, self.down_button):
            edit_row.addWidget(button)

        self.frames_between_spin = QSpinBox(objectName="framesBetweenSpin", minimum=0, maximum=1000,
                                            value=24)
        self.ease_combo = QComboBox(objectName="easeCombo")
        for ease in EASINGS:
            self.ease_combo.addItem({"linear": "Linear", "in-out": "Ease in-out"}[ease], ease)
        self.interpolation_combo = QComboBox(objectName="interpolationCombo")
        for kind in INTERPOLATIONS:
            self.interpolation_combo.addItem({"slerp": "Spherical (Gaussian latents)",
                                              "lerp": "Straight line"}[kind], kind)
        self.loop_check = QCheckBox("Loop back to the first keyframe", objectName="loopCheck")
        for signal in (self.frames_between_spin.valueChanged, self.ease_combo.currentIndexChanged,
                       self.interpolation_combo.currentIndexChanged, self.loop_check.toggled):
            signal.connect(self._timeline_changed)

        self.keyframes_box = QGroupBox("Keyframes")
        kf = QVBoxLayout(self.keyframes_box)
        kf.addWidget(self.keyframe_list, 1)
        kf.addLayout(add_row)
        kf.addLayout(edit_row)
        # Timing serves the latent walk and the reconstruction morph alike.
        self.timing_box = QGroupBox("Timing")
        form = QFormLayout(self.timing_box)
        form.addRow("Frames between", self.frames_between_spin)
        form.addRow("Easing", self.ease_combo)
        form.addRow("Path", self.interpolation_combo)
        form.addRow(self.loop_check)
        left = self._build_kinds()

        # Preview.
        self.preview = ImageView("Add two or more keyframes to see the walk.")
        self.preview.setObjectName("animationPreview")
        self.play_button = QPushButton("Pause", objectName="playButton", checkable=True, checked=True)
        self.play_button.toggled.connect(self._play_toggled)
        self.fps_spin = QDoubleSpinBox(objectName="animationFpsSpin", minimum=0.5, maximum=50.0,
                                       value=24.0, decimals=1, suffix=" fps")
        self.fps_spin.valueChanged.connect(self._fps_changed)
        self.frame_label = QLabel(objectName="previewFrameLabel")
        self.message = QLabel(objectName="animateMessage", wordWrap=True)
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        play_row = QHBoxLayout()
        play_row.addWidget(self.play_button)
        play_row.addWidget(self.fps_spin)
        play_row.addWidget(self.frame_label, 1)

        # Export.
        self.format_combo = QComboBox(objectName="exportFormatCombo")
        for name, (description, _) in FORMATS.items():
            self.format_combo.addItem(description, name)
        self._disable_mp4_without_video()
        self.scale_spin = QSpinBox(objectName="exportScaleSpin", minimum=1, maximum=64, value=4, suffix=" x")
        self.scale_spin.setToolTip("Enlarge with crisp nearest-neighbour pixels")
        self.plays_spin = QSpinBox(objectName="exportPlaysSpin", minimum=0, maximum=65535, value=0)
        self.plays_spin.setSpecialValueText("forever")
        self.palette_combo = QComboBox(objectName="gifPaletteCombo")
        for palette in PALETTES:
            self.palette_combo.addItem({"per-frame": "One per frame", "global": "One for the clip"}[palette],
                                       palette)
        self.dither_check = QCheckBox("Dither colours", objectName="gifDitherCheck")
        self.estimate_label = QLabel(objectName="exportEstimateLabel", wordWrap=True)
        self.export_button = QPushButton("Export…", objectName="exportAnimationButton")
        self.export_button.clicked.connect(lambda: self.export_to(None))
        for signal in (self.format_combo.currentIndexChanged, self.scale_spin.valueChanged,
                       self.plays_spin.valueChanged, self.palette_combo.currentIndexChanged,
                       self.dither_check.toggled):
            signal.connect(self._export_options_changed)
        export_box = QGroupBox("Export")
        ef = QFormLayout(export_box)
        ef.addRow("Format", self.format_combo)
        ef.addRow("Scale", self.scale_spin)
        ef.addRow("Plays", self.plays_spin)
        ef.addRow("GIF palette", self.palette_combo)
        ef.addRow(self.dither_check)
        ef.addRow(self.estimate_label)
        ef.addRow(self.export_button)

        right = QVBoxLayout()
        right.addWidget(self.preview, 1)
        right.addLayout(play_row)
        right.addWidget(self.message)
        right.addWidget(export_box)
        body = QHBoxLayout()
        body.addLayout(left, 1)
        body.addLayout(right, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(body, 1)

    def stop(self) -> None:
        """Start no new renders or estimates (the window is closing): a job started
        now could outlive the worker that owns its thread."""
        self._stopped = True
        self._settle.stop()
        self._player.stop()

    def restart(self) -> None:
        """Undo stop() (closing was cancelled)."""
        self._stopped = False
        self._fps_changed()

    # -- the run and its keyframes ---------------------------------------------------
    def set_run(self, run_dir: str | Path) -> None:
        from engine.studio.animation import WalkRenderer

        run_dir = Path(run_dir)
        if self.run_dir == run_dir:
            return
        self.run_dir = run_dir
        self._renderer = WalkRenderer(run_dir)
        self.run_label.setText(f"Run: {run_dir}" if run_dir.is_dir()
                               else f"Model bundle: {run_dir.name}")
        self.starter_button.offer(False)
        self.sampler.set_run(self.worker, run_dir)
        self._run_kinds_changed()
        self._timeline_changed()
        self.runChanged.emit(run_dir)

    def follow_run(self, run_dir: str | Path, start: list[Keyframe]) -> None:
        """Animate the window's current run (opened on another page). The
        artist's keyframes stay, as Open run keeps them: the same seeds through
        this run's model. An automatic start, or none, becomes `start` (the
        gallery's first seeds), so that a walk plays at once."""
        run_dir = Path(run_dir)
        if self.run_dir != run_dir:
            if self._auto_keyframes:
                self.keyframe_list.clear()
            self.set_run(run_dir)
        if self.keyframe_list.count() == 0 and start:
            for keyframe in start:
                self._append(keyframe)
            self._auto_keyframes = True
            self._timeline_changed()

    def add_keyframes(self, seeds: list[int | Keyframe], run_dir: str | Path | None = None,
                      label: int | None = None) -> None:
        """Append keyframes (from the gallery: the tiles' run comes with them, and
        as Keyframes, each tile's class where the run is conditional)."""
        if run_dir is not None and (self.run_dir is None or Path(run_dir) != self.run_dir):
            if self.keyframe_list.count() and not self._auto_keyframes:
                self.status.emit("Keyframes of another run were cleared.")
            self.keyframe_list.clear()
            self.set_run(run_dir)
        if self._auto_keyframes:     # the artist's first keyframes replace the automatic start
            self.keyframe_list.clear()
        self._auto_keyframes = False
        for seed in seeds:
            self._append(seed if isinstance(seed, Keyframe) else Keyframe(int(seed), label))
        self.set_kind("interpolate")
        self._timeline_changed()

    def _append(self, keyframe: Keyframe) -> None:
        text = f"seed {keyframe.seed}" + (f"  ·  class {keyframe.label}" if keyframe.label is not None else "")
        item = QListWidgetItem(text)
        item.setData(KEYFRAME_ROLE, keyframe.to_dict())
        self.keyframe_list.addItem(item)

    def keyframes(self) -> list[Keyframe]:
        out = []
        for row in range(self.keyframe_list.count()):
            values = self.keyframe_list.item(row).data(KEYFRAME_ROLE)
            out.append(Keyframe(values["seed"], values.get("label")))
        return out

    def remove_selected(self) -> None:
        for item in self.keyframe_list.selectedItems():
            self.keyframe_list.takeItem(self.keyframe_list.row(item))
        self._keyframes_edited()

    def _keyframes_edited(self, *_: object) -> None:
        """The artist changed the keyframes: from now on they are theirs."""
        self._auto_keyframes = False
        self._timeline_changed()

    def move_selected(self, offset: int) -> None:
        row = self.keyframe_list.currentRow()
        target = row + offset
        if row < 0 or not 0 <= target < self.keyframe_list.count():
            return
        item = self.keyframe_list.takeItem(row)
        self.keyframe_list.insertItem(target, item)
        self.keyframe_list.setCurrentRow(target)
        self._keyframes_edited()

    def timeline(self) -> Timeline:
        """The timeline the controls describe (validated; raises ConfigError)."""
        timeline = Timeline(self.keyframes(), frames_between=self.frames_between_spin.value(),
                            ease=self.ease_combo.currentData(), loop=self.loop_check.isChecked(),
                            interpolation=self.interpolation_combo.currentData())
        timeline.validate()
        return timeline

    def set_timeline(self, timeline: Timeline) -> None:
        """Show a saved timeline in the controls (one render follows, not one per control)."""
        self._loading = True
        self._auto_keyframes = False
        try:
            self.keyframe_list.clear()
            for keyframe in timeline.keyframes:
                self._append(keyframe)
            self.frames_between_spin.setValue(timeline.frames_between)
            self.ease_combo.setCurrentIndex(self.ease_combo.findData(timeline.ease))
            self.interpolation_combo.setCurrentIndex(self.interpolation_combo.findData(timeline.interpolation))
            self.loop_check.setChecked(timeline.loop)
            self.set_kind("interpolate")
        finally:
            self._loading = False
        self._timeline_changed()

    _loading = False

    # -- live preview ------------------------------------------------------------------
    def _timeline_changed(self, *_: object) -> None:
        if self._loading:
            return
        self._update_enabled()
        self._settle.start()

    def is_preview_current(self) -> bool:
        try:
            wanted, _, _ = self._request()
        except AtelierError:
            return False
        return self.frames is not None and self.rendered == wanted and not self._preview_dirty

    def _render_preview(self) -> None:
        if self._stopped:
            return
        if self.run_dir is None:
            self.message.setText("Open a run, or pick tiles in the Gallery and press “Use as keyframe”.")
            return
        try:
            wanted, description, work = self._request()
        except AtelierError as exc:
            self.message.setText(str(exc))
            return
        if self._preview_busy:
            self._preview_dirty = True   # render again once the one in flight ends
            return
        self._preview_busy, self._preview_dirty = True, False
        self.message.setText(description)
        self.worker.submit(PREVIEW_JOB, lambda: (wanted, *work()), self._on_preview,
                           "Could not render the animation").ended.connect(self._on_preview_ended)

    def _on_preview(self, result: tuple[tuple, np.ndarray, dict]) -> None:
        wanted, frames, provenance = result
        self.frames, self.provenance, self.rendered = frames, provenance, wanted
        self._frame = 0
        if wanted[0] == "interpolate":
            positions = Timeline.from_dict(wanted[2]).keyframe_positions()
            scale = max(1, ICON_PIXELS // max(frames.shape[1], 1))
            for row, position in enumerate(positions[: self.keyframe_list.count()]):
                self.keyframe_list.item(row).setIcon(QIcon(to_pixmap(frames[position], scale)))
        self.message.setText(f"{len(frames)} frames of {frames.shape[2]} x {frames.shape[1]} pixels "
                             f"(step {provenance.get('step')})")
        self._show_frame()
        self._fps_changed()
        self._export_options_changed()

    def _on_preview_ended(self) -> None:
        self._preview_busy = False
        if self._preview_dirty:
            self._render_preview()
        self._update_enabled()

    def _on_estimate_ended(self) -> None:
        self._estimate_busy = False
        if self._estimate_dirty:
            self._estimate_dirty = False
            self._export_options_changed()
        self._update_enabled()

    def _play_toggled(self, playing: bool) -> None:
        self.play_button.setText("Pause" if playing else "Play")
        self._fps_changed()

    def _fps_changed(self, *_: object) -> None:
        self._player.setInterval(round(1000 / self.fps_spin.value()))
        if self.play_button.isChecked() and self.frames is not None and len(self.frames) > 1 \
                and not self._stopped:
            self._player.start()
        else:
            self._player.stop()
        self._export_options_changed()

    def _next_frame(self) -> None:
        if self.frames is None:
            return
        self._frame = (self._frame + 1) % len(self.frames)
        self._show_frame()

    def _show_frame(self) -> None:
        self.preview.set_image(self.frames[self._frame])
        self.frame_label.setText(f"frame {self._frame + 1} / {len(self.frames)}")

    # -- export ------------------------------------------------------------------------
    def export_options(self) -> ExportOptions:
        return ExportOptions(fps=self.fps_spin.value(), scale=self.scale_spin.value(),
                             plays=self.plays_spin.value(), palette=self.palette_combo.currentData(),
                             dither=self.dither_check.isChecked())

    def export_format(self) -> str:
        return self.format_combo.currentData()

    def _disable_mp4_without_video(self) -> None:
        """A build without video (or a source install lacking PyAV) greys MP4 out, saying why."""
        reason = video_unavailable()
        if reason is None:
            return
        index = self.format_combo.findData("mp4")
        item = self.format_combo.model().item(index)
        item.setEnabled(False)
        item.setText(f"{item.text()}: unavailable")
        item.setToolTip(reason[0].upper() + reason[1:] + ".")

    def _export_options_changed(self, *_: object) -> None:
        if self._stopped:
            return
        if self.frames is None:
            self.estimate_label.setText("")
            return
        if self._estimate_busy:
            self._estimate_dirty = True
            return
        self._estimate_busy = True
        from engine.studio.exporters import estimate_size

        frames, fmt, options = self.frames, self.export_format(), self.export_options()
        self.worker.submit(ESTIMATE_JOB, lambda: (fmt, options, estimate_size(frames, fmt, options)),
                           self._on_estimate, "Could not estimate the file size"
                           ).ended.connect(self._on_estimate_ended)

    def _on_estimate(self, result: tuple[str, ExportOptions, int]) -> None:
        fmt, options, size = result
        if fmt != self.export_format() or options != self.export_options() or self.frames is None:
            return  # a newer estimate is on its way
        self.estimate = size
        h, w = (d * options.scale for d in self.frames.shape[1:3])
        seconds = len(self.frames) / options.fps
        memory = self.export_memory(fmt, options)
        warning = over_limit(memory)
        self.estimate_label.setText(
            f"About {human_size(size)}: {len(self.frames)} frames of {w} x {h} pixels, "
            f"{seconds:.1f} s. Exporting needs {memory.describe()}"
            + (f". Too much: {advice(fmt)}." if warning else "."))

    def export_memory(self, fmt: str, options: ExportOptions) -> ExportMemory:
        """What exporting the previewed frames as `fmt` would hold in memory."""
        return export_memory(len(self.frames), self.frames.shape[1:], fmt, options)

    def export_to(self, path: str | Path | None, confirmed: bool = False) -> bool:
        """Export the previewed walk; asks for a file when path is None and before
        replacing one. Returns True when an export job was started."""
        if not self.is_preview_current():
            self.status.emit("Wait for the preview to finish rendering, then export.")
            return False
        fmt = self.export_format()
        if not self._memory_allows(fmt, self.export_options()):   # before any file is chosen
            return False
        if path is None:
            ending = FORMATS[fmt][1]
            stem = {"interpolate": "walk", "process": "process", "morph": "morph"}[self.kind()]
            suggested = str(save_folder(self.run_dir) / f"{stem}{ending}")
            path, _ = QFileDialog.getSaveFileName(self, "Export animation", suggested, FILTERS[fmt])
            if not path:
                return False
            confirmed = True   # the save dialog has asked about replacing already
            if ending and not path.lower().endswith(ending):
                path += ending
                confirmed = not Path(path).exists()
        path = Path(path).expanduser()
        if path.exists() and not confirmed and not self._confirm_replace(path):
            return False
        frames, options = self.frames, self.export_options()
        provenance = dict(self.provenance)
        from engine.studio.exporters import export_animation

        def work() -> tuple[str, int]:
            written = export_animation(frames, path, fmt, options, provenance)
            size = written.stat().st_size if written.is_file() else sum(
                p.stat().st_size for p in written.iterdir())
            return str(written), size

        self.export_button.setEnabled(False)
        self.status.emit(f"Exporting {len(frames)} frames to {path}…")
        self.worker.submit("export", work, self._on_exported,
                           "Export failed").ended.connect(self._update_enabled)
        return True

    def _memory_allows(self, fmt: str, options: ExportOptions) -> bool:
        """Refuse an export larger than the memory available (it would end the
        app, and any unsaved work with it); ask about one above the share
        (engine.studio.exporters.memory.MEMORY_SHARE) that other programs may need."""
        memory = self.export_memory(fmt, options)
        reason = over_limit(memory)
        if reason is None:
            return True
        if not fits_at_all(memory):
            self.status.emit(f"Not exported: {reason}; {advice(fmt)}.")
            return False
        if self._confirm_memory(f"{reason[0].upper()}{reason[1:]}. Export anyway?"):
            return True
        self.status.emit(f"Not exported; {advice(fmt)}.")
        return False

    def _confirm_memory(self, question: str) -> bool:
        box = QMessageBox(QMessageBox.Icon.Warning, "Export needs much memory", question,
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, self)
        box.setDefaultButton(QMessageBox.StandardButton.No)
        box.setObjectName("exportMemoryDialog")
        return box.exec() == QMessageBox.StandardButton.Yes

    def _confirm_replace(self, path: Path) -> bool:
        box = QMessageBox(QMessageBox.Icon.Question, "Replace file?",
                          f"{path.name} already exists. Replace it?",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, self)
        box.setObjectName("replaceExportDialog")
        return box.exec() == QMessageBox.StandardButton.Yes

    def _on_exported(self, result: tuple[str, int]) -> None:
        path, size = result
        self.status.emit(f"Exported {path} ({human_size(size)})")
        self.exported.emit(path)

    # -- opening ---------------------------------------------------------------------------
    def _choose_run(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a run folder",
                                                  str(self.run_dir.parent) if self.run_dir else "")
        if folder:
            self.open_run(folder)

    def open_run(self, folder: str | Path) -> bool:
        if not is_run_dir(folder):
            self.error.emit("Open run", f"{folder} is not a run folder (it has no config.json).", "")
            return False
        self.set_run(folder)
        return True

    def _choose_animation(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open an exported animation or tile", str(self.run_dir or Path.home()),
            "Exported images (*.gif *.png *.webp *.mp4);;All files (*)")
        if path:
            self.open_animation(path)

    def open_animation(self, path: str | Path) -> None:
        """Read what an exported file carries (on the worker) and show it: a walk's
        keyframes, a process's seed, or a morph's pictures when they are found."""
        from engine.studio.exporters.provenance import read_provenance, read_timeline

        path = Path(path)

        def work() -> tuple[str, Any, dict]:
            info = read_provenance(path)
            if info.get("kind") == "process":
                return str(path), "process", info
            if info.get("kind") == "morph":
                from engine.studio.morph import find_inputs
                return str(path), "morph", {**info, "found": find_inputs(path, info)}
            return (str(path), *read_timeline(path))

        self.worker.submit("read-keyframes", work, self._on_animation_read,
                           "Could not open the animation").ended.connect(self._update_enabled)

    def _on_animation_read(self, result: tuple[str, Any, dict]) -> None:
        path, timeline, info = result
        run_name = info.get("run")
        if self.run_dir is None:
            # An export saved inside its run folder (the default) finds its run.
            for folder in (Path(path).parent, Path(path).parent.parent):
                if folder.name == run_name and is_run_dir(folder):
                    self.set_run(folder)
                    break
        if isinstance(info.get("fps"), (int, float)) and 0.5 <= info["fps"] <= 50:
            self.fps_spin.setValue(float(info["fps"]))
        if isinstance(info.get("scale"), int) and 1 <= info["scale"] <= 64:
            self.scale_spin.setValue(info["scale"])
        self.sampler.choose(recorded_sampler(info))
        note = ""
        if run_name and self.run_dir is not None and self.run_dir.name != run_name:
            note = f" It was made from run {run_name}; open that run to re-render it exactly."
        if timeline == "process" or timeline == "morph":
            self.status.emit(self._restore_kind(timeline, Path(path).name, info) + note)
            return
        self.set_timeline(timeline)
        self.status.emit(f"Opened {Path(path).name}: {len(timeline.keyframes)} keyframes.{note}")

    def _restore_kind(self, kind: str, name: str, info: dict) -> str:
        """Show a process or morph export's settings; returns the status line."""
        if kind == "process":
            seeds = info.get("seeds") or [0]
            self.process_panel.seed_spin.setValue(int(seeds[0]))
            self.process_panel.prediction_check.setChecked(info.get("shows") == "prediction")
            self.set_kind("process")
            return f"Opened {name}: the model's {info.get('process', 'process')} for seed {seeds[0]}."
        found = info.get("found")
        if not found:
            return (f"Opened {name}: a morph of {', '.join(info.get('inputs', []))}; put those "
                    "pictures beside it (or add them) to re-render it.")
        settings = info.get("morph", {})
        self._loading = True
        try:
            self.morph_panel.picture_list.clear()
            for picture, label in zip(found, info.get("labels") or [None] * len(found)):
                self.morph_panel.add_pictures([picture], label)
            self.frames_between_spin.setValue(int(settings.get("frames_between", 24)))
            for combo, key in ((self.ease_combo, "ease"), (self.interpolation_combo, "interpolation")):
                if combo.findData(settings.get(key)) >= 0:
                    combo.setCurrentIndex(combo.findData(settings.get(key)))
            self.loop_check.setChecked(bool(settings.get("loop", False)))
            self.set_kind("morph")
        finally:
            self._loading = False
        self._timeline_changed()
        return f"Opened {name}: a morph of {len(found)} pictures."

    def _update_enabled(self) -> None:
        has_selection = bool(self.keyframe_list.selectedItems())
        self.remove_button.setEnabled(has_selection)
        self.up_button.setEnabled(has_selection)
        self.down_button.setEnabled(has_selection)
        self.export_button.setEnabled(self.frames is not None and self.run_dir is not None)

    # -- kinds: latent walk, the model's own process, reconstruction morph ---------------------
    def _build_kinds(self) -> QVBoxLayout:
        """The kind picker above the keyframes, process and morph panels (only the
        chosen kind's panel shows; timing serves the walk and the morph)."""
        from desktop_app.animation_kinds import MorphPanel, ProcessPanel, kind_combo
        from desktop_app.widgets.sampling_controls import SamplerControls

        self.kind_combo = kind_combo()
        # An iterative sampler's steps and guidance (diffusion, flow): every kind uses them.
        self.sampler = SamplerControls("animateStepsSpin", "animateGuidanceSpin")
        self.sampler.changed.connect(self._timeline_changed)
        self.sampler.ready.connect(self._timeline_changed)
        self.process_panel = ProcessPanel()
        self.morph_panel = MorphPanel()
        self.morph_panel.set_classes(0)    # a class picker only for a conditional run
        self.kind_combo.currentIndexChanged.connect(self._kind_changed)
        self.process_panel.changed.connect(self._timeline_changed)
        self.morph_panel.changed.connect(self._timeline_changed)
        self._morph_renderer = None    # engine.studio.morph.MorphRenderer, used on the worker only
        row = QHBoxLayout()
        row.addWidget(QLabel("Animation"))
        row.addWidget(self.kind_combo, 1)
        left = QVBoxLayout()
        left.addLayout(row)
        left.addWidget(self.sampler)
        for panel in (self.keyframes_box, self.process_panel, self.morph_panel):
            left.addWidget(panel, 1)
        left.addWidget(self.timing_box)
        return left

    def kind(self) -> str:
        return self.kind_combo.currentData()

    def set_kind(self, kind: str) -> None:
        self.kind_combo.setCurrentIndex(self.kind_combo.findData(kind))

    def set_sampler(self, settings: dict) -> None:
        """Use these steps and guidance (the gallery's tiles' own), so the frames
        match the tiles they came from."""
        self.sampler.choose(settings)

    def show_process(self, run_dir: str | Path, seed: int) -> None:
        """Render and play the run's own process for one seed (the gallery's Play process)."""
        self.set_run(run_dir)
        self.process_panel.seed_spin.setValue(int(seed))
        self.set_kind("process")
        self._timeline_changed()

    def _kind_changed(self, *_: object) -> None:
        self._show_kind_panels()
        self._timeline_changed()

    def _show_kind_panels(self) -> None:
        kind = self.kind()
        self.keyframes_box.setVisible(kind == "interpolate")
        self.process_panel.setVisible(kind == "process")
        self.morph_panel.setVisible(kind == "morph")
        self.timing_box.setVisible(kind != "process")
        self.preview.set_placeholder({
            "interpolate": "Add two or more keyframes to see the walk.",
            "process": "The model's process for the seed plays here.",
            "morph": "Add two or more pictures to see the morph."}[kind])

    def _run_kinds_changed(self) -> None:
        """Offer only the kinds and controls this run's model can make use of: the
        other kinds are hidden (the kind picker's tooltip says why), and so are the
        class pickers of an unconditional run."""
        from desktop_app.animation_kinds import set_kinds_available
        from desktop_app.run_capabilities import run_abilities
        from engine.models import find_model, model_specs
        from engine.studio.morph import MorphRenderer, morph_unavailable

        abilities = run_abilities(self.run_dir)
        name = abilities.model
        spec = find_model(name)
        process = spec.process_name if spec is not None else None
        names = [s.name for s in model_specs() if s.process_name]
        having = " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)
        from engine.models.base import PREDICTION
        self.process_panel.set_process(process, having,
                                       predicts=spec is not None and PREDICTION in spec.capabilities)
        morph_reason = morph_unavailable(self.run_dir)
        set_kinds_available(self.kind_combo, {
            "process": None if process else f"Process: {name or 'this model'} has no process "
                                            f"animation ({having} have one).",
            "morph": f"Morph: {morph_reason}" if morph_reason else None})
        self.class_spin.setMaximum(max(abilities.classes - 1, 0))
        self.class_spin.setVisible(abilities.classes > 0)
        self.morph_panel.set_classes(abilities.classes)
        self._morph_renderer = MorphRenderer(self.run_dir) if morph_reason is None else None
        if (self.kind() == "process" and not process) or (self.kind() == "morph" and morph_reason):
            self.set_kind("interpolate")

    def _timing(self) -> dict[str, Any]:
        return {"frames_between": self.frames_between_spin.value(),
                "ease": self.ease_combo.currentData(), "loop": self.loop_check.isChecked(),
                "interpolation": self.interpolation_combo.currentData()}

    def _request(self) -> tuple[tuple, str, Any]:
        """(what the preview shows, a message while it renders, the render work) for
        the chosen kind; a ConfigError says what is missing."""
        from engine.errors import ConfigError

        kind, run = self.kind(), self.run_dir
        if self.sampler.pending:
            raise ConfigError("Reading the run's sampler settings…")
        # An iterative sampler's steps and guidance (only those the run takes).
        sampler = self.sampler.settings()
        chosen = tuple(sorted(sampler.items()))
        if kind == "interpolate":
            timeline, renderer = self.timeline(), self._renderer
            return (("interpolate", run, timeline.to_dict(), chosen),
                    f"Rendering {timeline.frame_count()} frames…",
                    lambda: renderer.render(timeline, **sampler))
        if kind == "process":
            from engine.studio.animation import process_frames
            seed, shows = self.process_panel.seed, self.process_panel.shows
            return (("process", run, seed, shows, chosen),
                    f"Running the model's process for seed {seed}…",
                    lambda: process_frames(run, seed, shows=shows, **sampler))
        from engine.studio.morph import morph_timeline
        paths, labels = self.morph_panel.pictures()
        if len(paths) < 2:
            raise ConfigError("Add two or more pictures to morph between (drop files on the list, "
                              "or Add pictures…).")
        timing, renderer = self._timing(), self._morph_renderer
        if renderer is None:
            raise ConfigError(morph_reason(run))
        timeline = morph_timeline(len(paths), labels, **timing)   # checks the settings here
        return (("morph", run, tuple(paths), tuple(labels or ()), tuple(sorted(timing.items())),
                 chosen),
                f"Reading {len(paths)} pictures and rendering {timeline.frame_count()} frames…",
                lambda: renderer.render(paths, labels, **timing, **sampler))


def recorded_sampler(info: dict) -> dict[str, float]:
    """The sampler steps and guidance an export recorded (steps=, guidance=), the
    values read from a file kept only when they are numbers in range."""
    from engine.models.base import MAX_GUIDANCE, MAX_SAMPLER_STEPS

    steps, guidance = info.get("sampler_steps"), info.get("guidance")
    chosen: dict[str, float] = {}
    if isinstance(steps, int) and not isinstance(steps, bool) and 1 <= steps <= MAX_SAMPLER_STEPS:
        chosen["steps"] = steps
    if isinstance(guidance, (int, float)) and not isinstance(guidance, bool) \
            and 0 <= guidance <= MAX_GUIDANCE:
        chosen["guidance"] = float(guidance)
    return chosen


def morph_reason(run: Path | None) -> str:
    from engine.studio.morph import morph_unavailable
    return (morph_unavailable(run) if run is not None else None) or \
        "Open a run that can morph between pictures first."
