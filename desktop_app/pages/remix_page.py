"""Remix page: new pictures from one picture, with no model and no training
(engine.studio.remix, patch nearest neighbours).

Drop a picture (a file, or a tile dragged from the Data page) or open one;
choose the size, how far the pictures may stray (diversity) and whether they
tile; Generate makes a page of variations, one per seed, on the worker
thread, the tiles filling in as they come, with progress and Cancel. A tile
can be saved as PNG (with its provenance), copied, marked as a favourite,
checked as a tile repeated 2 x 2, and the chosen tiles exported as a
flip-book (their cross-fade, as GIF, APNG, WebP or MP4).

A size that would take minutes or gigabytes asks first (with the estimate);
one beyond the free memory is refused. A picture the engine refuses is
explained on the page itself, never in a dialog.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QGuiApplication, QIcon
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QDoubleSpinBox, QFileDialog,
                               QFormLayout, QHBoxLayout, QLabel, QListView, QListWidget,
                               QListWidgetItem, QMessageBox, QProgressBar, QPushButton, QSpinBox,
                               QVBoxLayout, QWidget)

from desktop_app.theme import set_tone
from desktop_app.widgets.image_view import ImageView
from desktop_app.widgets.qimage import to_pixmap, to_qimage
from desktop_app.widgets.reconstruction_panel import PICTURE_FILTER, DropArea
from desktop_app.worker import EngineWorker
from engine.errors import AtelierError
from engine.studio.gpnn import GpnnSettings
from engine.studio.remix import (MAX_SIDE, RemixProgress, SourcePicture, Variation, assess_size,
                                 default_size, load_source)

SEED_ROLE = Qt.ItemDataRole.UserRole
TILE_PIXELS = 128
FLIPBOOK_FILTER = ("GIF animation (*.gif);;Animated PNG (*.png);;Animated WebP (*.webp);;"
                   "MP4 video (*.mp4)")
FLIPBOOK_FPS = 8.0


class RemixPage(QWidget):
    status = Signal(str)
    error = Signal(str, str, str)
    flipbookExported = Signal(str)      # the path of a flip-book written

    def __init__(self, worker: EngineWorker, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.worker = worker
        self.source: SourcePicture | None = None
        self.images: dict[int, np.ndarray] = {}      # seed -> the variation shown in its tile
        self.records: dict[int, dict] = {}           # seed -> its provenance
        self.favourites: set[int] = set()            # of this source
        self.job: Any = None                         # the generation running, if any
        self._loading = False
        self._build_controls()
        self._build_tiles()
        layout = QHBoxLayout(self)
        layout.addWidget(self.controls)
        layout.addLayout(self.tiles_column, 1)
        self._update()

    # -- building -------------------------------------------------------------------
    def _build_controls(self) -> None:
        self.controls = QWidget()
        self.controls.setMaximumWidth(320)
        self.drop = DropArea(name="remixDrop", text="Drop a picture here (a file, or a tile "
                             "dragged from the Data page)", accessible="Remix drop area")
        self.drop.droppedFiles.connect(lambda paths: self.open_picture(paths[0]))
        self.drop.droppedImage.connect(self.open_pixels)
        self.open_button = QPushButton("Open picture…", objectName="remixOpenButton")
        self.open_button.clicked.connect(self._choose_file)
        self.source_view = ImageView("No picture yet")
        self.source_view.setObjectName("remixSource")
        self.source_view.setMinimumSize(112, 112)
        self.source_view.setMaximumSize(300, 220)
        self.source_label = QLabel(objectName="remixSourceLabel", wordWrap=True)
        self.source_label.setTextFormat(Qt.TextFormat.PlainText)   # file names are never markup
        self.width_spin = QSpinBox(objectName="remixWidthSpin", minimum=14, maximum=MAX_SIDE,
                                   value=256, suffix=" px")
        self.height_spin = QSpinBox(objectName="remixHeightSpin", minimum=14, maximum=MAX_SIDE,
                                    value=256, suffix=" px")
        self.same_size_button = QPushButton("Picture's shape", objectName="remixSourceSizeButton")
        self.same_size_button.setToolTip("The picture's own width and height (longer side at most "
                                         "256); another shape rearranges its content to fit")
        self.same_size_button.clicked.connect(self._use_source_size)
        self.diversity_spin = QDoubleSpinBox(objectName="remixDiversitySpin", minimum=0.0,
                                             maximum=3.0, singleStep=0.05, decimals=2,
                                             value=GpnnSettings().diversity)
        self.diversity_spin.setToolTip("How far the pictures stray from the source: the noise "
                                       "they start from (0: the source's layout, only fitted "
                                       "to the size)")
        self.tile_check = QCheckBox("Seamless tile", objectName="remixTileCheck")
        self.tile_check.setToolTip("The picture wraps round, so copies side by side show no seam")
        self.count_spin = QSpinBox(objectName="remixCountSpin", minimum=1, maximum=64, value=8)
        self.seed_spin = QSpinBox(objectName="remixSeedSpin", minimum=0, maximum=2**31 - 1)
        self.seed_spin.setToolTip("Tile i is the picture of seed (first seed + i)")
        for spin in (self.width_spin, self.height_spin, self.diversity_spin):
            spin.valueChanged.connect(self._update)
        self.tile_check.toggled.connect(self._update)
        form = QFormLayout()
        form.addRow("Width", self.width_spin)
        form.addRow("Height", self.height_spin)
        form.addRow("", self.same_size_button)
        form.addRow("Diversity", self.diversity_spin)
        form.addRow("", self.tile_check)
        form.addRow("Pictures", self.count_spin)
        form.addRow("First seed", self.seed_spin)
        self.estimate_label = QLabel(objectName="remixEstimateLabel", wordWrap=True)
        self.generate_button = QPushButton("Generate", objectName="remixGenerateButton")
        self.generate_button.clicked.connect(self.generate)
        self.cancel_button = QPushButton("Cancel", objectName="remixCancelButton")
        self.cancel_button.clicked.connect(self.cancel)
        self.progress = QProgressBar(objectName="remixProgress", textVisible=True)
        self.progress.setRange(0, 1000)
        self.progress.hide()
        self.message = QLabel(objectName="remixMessage", wordWrap=True)
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        buttons = QHBoxLayout()
        buttons.addWidget(self.generate_button)
        buttons.addWidget(self.cancel_button)
        column = QVBoxLayout(self.controls)
        for widget in (self.drop, self.open_button, self.source_view, self.source_label):
            column.addWidget(widget)
        column.addLayout(form)
        column.addWidget(self.estimate_label)
        column.addLayout(buttons)
        column.addWidget(self.progress)
        column.addWidget(self.message)
        column.addStretch(1)

    def _build_tiles(self) -> None:
        self.grid = QListWidget(objectName="remixGrid")
        self.grid.setViewMode(QListView.ViewMode.IconMode)
        self.grid.setIconSize(QSize(TILE_PIXELS, TILE_PIXELS))
        self.grid.setResizeMode(QListView.ResizeMode.Adjust)
        self.grid.setMovement(QListView.Movement.Static)
        self.grid.setSpacing(6)
        self.grid.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.grid.itemSelectionChanged.connect(self._show_selected)
        self.grid.itemDoubleClicked.connect(lambda _: self.save_selected())
        self.preview = ImageView("Select a picture to see it here", whole_steps=True)
        self.preview.setObjectName("remixPreview")
        self.repeat_button = QPushButton("Repeat 2×2", objectName="remixRepeatButton",
                                         checkable=True)
        self.repeat_button.setToolTip("Show the selected picture four times, side by side, to "
                                      "check that it tiles without a seam")
        self.repeat_button.toggled.connect(self._show_selected)
        self.next_button = QPushButton("Next page", objectName="remixNextButton")
        self.next_button.clicked.connect(self.next_page)
        self.favourite_button = QPushButton("★ Favourite", objectName="remixFavouriteButton")
        self.favourite_button.setToolTip("Mark the selected pictures as favourites (or unmark them); "
                                         "favourites are the flip-book's keyframes when fewer than "
                                         "two pictures are selected")
        self.favourite_button.clicked.connect(self.toggle_favourites)
        self.copy_button = QPushButton("Copy", objectName="remixCopyButton")
        self.copy_button.clicked.connect(self.copy_selected)
        self.save_button = QPushButton("Save PNG…", objectName="remixSaveButton")
        self.save_button.clicked.connect(lambda: self.save_selected())
        self.crossfade_spin = QSpinBox(objectName="remixCrossfadeSpin", minimum=0, maximum=30,
                                       value=4)
        self.crossfade_spin.setToolTip("Blended frames between one picture and the next")
        self.flipbook_button = QPushButton("Export flip-book…", objectName="remixFlipbookButton")
        self.flipbook_button.setToolTip("The selected pictures (else the favourites, else the "
                                        "whole page) as keyframes of a looping animation, "
                                        "cross-faded")
        self.flipbook_button.clicked.connect(lambda: self.export_flipbook())
        row = QHBoxLayout()
        row.addWidget(self.grid, 3)
        row.addWidget(self.preview, 2)
        bottom = QHBoxLayout()
        for widget in (self.next_button, self.favourite_button, self.copy_button,
                       self.save_button, self.repeat_button):
            bottom.addWidget(widget)
        bottom.addStretch(1)
        bottom.addWidget(QLabel("Cross-fade"))
        bottom.addWidget(self.crossfade_spin)
        bottom.addWidget(self.flipbook_button)
        self.tiles_column = QVBoxLayout()
        self.tiles_column.addLayout(row, 1)
        self.tiles_column.addLayout(bottom)

    # -- the source -------------------------------------------------------------------
    def _choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a picture to remix", str(Path.home()),
                                              PICTURE_FILTER)
        if path:
            self.open_picture(path)

    def open_picture(self, path: str | Path) -> None:
        """Load a picture file on the worker thread; a refused one is said here."""
        self._load(lambda: load_source(path), Path(path).name)

    def open_pixels(self, pixels: np.ndarray) -> None:
        """Pixels dragged in (a tile from the Data page)."""
        self._load(lambda: load_source(pixels), "the dropped picture")

    def _load(self, load: Any, name: str) -> None:
        def work() -> SourcePicture | AtelierError:
            try:
                return load()
            except AtelierError as exc:    # a bad picture: said on the page, not in a dialog
                return exc

        self._loading = True
        self._say(f"Opening {name}…")
        job = self.worker.submit("remix-source", work, self._on_source, "Could not open the picture")
        job.ended.connect(self._on_loaded)
        self._update()

    def _on_loaded(self) -> None:
        self._loading = False
        self._update()

    def _on_source(self, result: SourcePicture | AtelierError) -> None:
        if isinstance(result, AtelierError):
            self._say(str(result), error=True)
            return
        self.source = result
        self.favourites = set()
        self.source_view.set_image(result.pixels)
        w, h = result.original_size
        self.source_label.setText(f"{result.name}: {w} x {h} pixels"
                                  + ("" if result.size == (w, h) else
                                     f" (used at {result.size[0]} x {result.size[1]})"))
        self._use_source_size()
        self._say("Choose a size and press Generate.")
        self.status.emit(f"Opened {result.name} for remixing.")

    def _use_source_size(self) -> None:
        if self.source is not None:
            w, h = default_size(self.source)
            self.width_spin.setValue(w)
            self.height_spin.setValue(h)

    # -- generating ----------------------------------------------------------------------
    @property
    def size(self) -> tuple[int, int]:
        return self.width_spin.value(), self.height_spin.value()

    def settings(self) -> GpnnSettings:
        return dataclasses.replace(GpnnSettings(), diversity=round(self.diversity_spin.value(), 4))

    def generate(self, confirmed: bool = False) -> bool:
        """Make a page of variations; False when nothing started (no picture, busy,
        refused, or a slow size not confirmed)."""
        if self.source is None or self.job is not None or self._loading:
            return False
        try:
            check = assess_size(self.source, self.size, self.settings(), self.tile_check.isChecked())
        except AtelierError as exc:
            self._say(str(exc), error=True)
            return False
        if check.refusal is not None:
            self._say(check.refusal, error=True)
            return False
        if check.confirm is not None and not confirmed and not self._confirm(check.confirm):
            return False
        first, count = self.seed_spin.value(), self.count_spin.value()
        seeds = list(range(first, first + count))
        self._clear_tiles()
        self.job = self.worker.remix(self.source, seeds, self.size, self.tile_check.isChecked(),
                                     self.settings(), allow_slow=check.confirm is not None)
        self.job.yielded.connect(self._on_event)
        self.job.ended.connect(self._on_ended)
        self.progress.setValue(0)
        self.progress.setFormat(f"0 of {count}")
        self.progress.show()
        self._say(f"Making {count} pictures of {self.size[0]} x {self.size[1]} "
                  f"({check.estimate.describe()})…")
        self._update()
        return True

    def _confirm(self, reason: str) -> bool:
        box = QMessageBox(QMessageBox.Icon.Question, "Remix a large size",
                          f"{reason}.\n\nMake it anyway?",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, self)
        box.setDefaultButton(QMessageBox.StandardButton.No)
        box.setObjectName("remixConfirmDialog")
        return box.exec() == QMessageBox.StandardButton.Yes

    def next_page(self) -> None:
        self.seed_spin.setValue(self.seed_spin.value() + self.count_spin.value())
        self.generate()

    def cancel(self) -> None:
        if self.job is not None:
            self.job.control.stop()
            self._say("Cancelling…")

    def _on_event(self, event: RemixProgress | Variation) -> None:
        if isinstance(event, RemixProgress):
            self.progress.setValue(round(event.fraction * 1000))
            self.progress.setFormat(f"{event.picture} of {event.pictures}")
            return
        self.images[event.seed] = event.image
        self.records[event.seed] = event.provenance
        item = QListWidgetItem(self._icon(event.image), self._tile_text(event.seed))
        item.setData(SEED_ROLE, event.seed)
        item.setToolTip(f"Seed {event.seed}: {event.seconds:.1f} s, "
                        f"{event.moved_share:.0%} of its patches moved; double-click to save")
        self.grid.addItem(item)
        self.progress.setFormat(f"{len(self.images)} of {self.count_spin.value()}")

    def _on_ended(self) -> None:
        stopped = self.job is not None and self.job.control.stopped
        self.job = None
        self.progress.hide()
        made = len(self.images)
        if stopped:
            self._say(f"Cancelled after {made} picture{'s' if made != 1 else ''}.")
        elif made:
            seeds = sorted(self.images)
            self._say(f"{made} pictures of {self.size[0]} x {self.size[1]} (seeds "
                      f"{seeds[0]}–{seeds[-1]}).")
            self.status.emit(f"Made {made} remixes of {self.source.name if self.source else ''}.")
        self._update()

    def _icon(self, image: np.ndarray) -> QIcon:
        scale = max(1, TILE_PIXELS // max(image.shape[:2]))
        return QIcon(to_pixmap(image, scale))

    def _clear_tiles(self) -> None:
        self.grid.clear()
        self.images, self.records = {}, {}
        self.preview.clear()

    # -- the tiles ---------------------------------------------------------------------------
    def _tile_text(self, seed: int) -> str:
        return f"★ seed {seed}" if seed in self.favourites else f"seed {seed}"

    def selected_seeds(self) -> list[int]:
        return [self.grid.item(row).data(SEED_ROLE) for row in range(self.grid.count())
                if self.grid.item(row).isSelected()]

    def _show_selected(self) -> None:
        seeds = self.selected_seeds()
        if not seeds:
            self.preview.clear()
        else:
            image = self.images[seeds[0]]
            self.preview.set_image(np.tile(image, (2, 2, 1)) if self.repeat_button.isChecked()
                                   else image)
        self._update()

    def toggle_favourites(self) -> None:
        seeds = self.selected_seeds()
        if not seeds:
            return
        if all(s in self.favourites for s in seeds):
            self.favourites -= set(seeds)
        else:
            self.favourites |= set(seeds)
        for row in range(self.grid.count()):
            item = self.grid.item(row)
            item.setText(self._tile_text(item.data(SEED_ROLE)))

    def copy_selected(self) -> bool:
        seeds = self.selected_seeds()
        if not seeds:
            return False
        QGuiApplication.clipboard().setImage(to_qimage(self.images[seeds[0]]))
        self.status.emit(f"Copied seed {seeds[0]} to the clipboard.")
        return True

    def save_selected(self, path: str | None = None) -> Path | None:
        from engine.studio.export import save_png

        seeds = self.selected_seeds()
        if not seeds or self.source is None:
            return None
        seed = seeds[0]
        if path is None:
            stem = Path(self.source.name).stem
            path, _ = QFileDialog.getSaveFileName(self, "Save picture",
                                                  str(Path.home() / f"{stem}_remix_{seed}.png"),
                                                  "PNG image (*.png)")
            if not path:
                return None
        try:
            written = save_png(self.images[seed], path, 1, self.records[seed])
        except AtelierError as exc:
            self.error.emit("Save picture", str(exc), "")
            return None
        self.status.emit(f"Saved seed {seed} to {written}")
        return written

    def keyframe_seeds(self) -> list[int]:
        """The flip-book's keyframes: the selected tiles (two or more), else the
        favourites, else every tile of the page, in grid order."""
        order = [self.grid.item(row).data(SEED_ROLE) for row in range(self.grid.count())]
        selected = self.selected_seeds()
        if len(selected) >= 2:
            return selected
        favourites = [s for s in order if s in self.favourites]
        return favourites if len(favourites) >= 2 else order

    def export_flipbook(self, path: str | None = None) -> bool:
        """Write the keyframes, cross-faded, as an animation (on the worker)."""
        from engine.studio.exporters import ExportOptions, export_animation, format_for_path
        from engine.studio.exporters.memory import advice, export_memory, over_limit
        from engine.studio.remix import crossfade_length, keyframe_flipbook

        seeds = self.keyframe_seeds()
        if len(seeds) < 2 or self.source is None:
            self._say("A flip-book needs at least two pictures: generate a page first.", error=True)
            return False
        if path is None:
            stem = Path(self.source.name).stem
            path, _ = QFileDialog.getSaveFileName(self, "Export flip-book",
                                                  str(Path.home() / f"{stem}_flipbook.gif"),
                                                  FLIPBOOK_FILTER)
            if not path:
                return False
        try:
            fmt = format_for_path(path)
        except AtelierError as exc:
            self._say(str(exc), error=True)
            return False
        images = [self.images[s] for s in seeds]
        between = self.crossfade_spin.value()
        # Refused before any frame is made: past the memory available it would
        # end the app (the Animate page and the CLI check the same way).
        memory = export_memory(crossfade_length(len(images), between, loop=True),
                               images[0].shape, fmt, ExportOptions(fps=FLIPBOOK_FPS))
        reason = over_limit(memory)
        if reason is not None:
            self._say(f"Not exported: {reason}; {advice(fmt)}.", error=True)
            return False
        # The pictures' own record (source, settings, size), with every keyframe's seed.
        record = {k: v for k, v in self.records[seeds[0]].items() if k != "seed"}
        record.update(kind="flipbook", seeds=seeds,
                      flipbook={"mode": "keyframes", "crossfade": between, "loop": True})

        def work() -> str:
            frames = keyframe_flipbook(images, between, loop=True)
            return str(export_animation(frames, path, fmt, ExportOptions(fps=FLIPBOOK_FPS), record))

        def written(result: str) -> None:
            self._say(f"Exported the flip-book of seeds {', '.join(map(str, seeds))} to {result}.")
            self.flipbookExported.emit(result)

        self.worker.submit("remix-flipbook", work, written, "Could not export the flip-book")
        return True

    # -- state ---------------------------------------------------------------------------
    def _update(self) -> None:
        idle = self.job is None and not self._loading
        has_source = self.source is not None
        self.generate_button.setEnabled(idle and has_source)
        self.next_button.setEnabled(idle and has_source and bool(self.images))
        self.cancel_button.setEnabled(self.job is not None)
        for widget in (self.drop, self.open_button):
            widget.setEnabled(idle)
        selected = bool(self.selected_seeds())
        for button in (self.save_button, self.copy_button, self.favourite_button):
            button.setEnabled(selected)
        self.flipbook_button.setEnabled(idle and len(self.images) >= 2)
        self._show_estimate()

    def _show_estimate(self) -> None:
        if self.source is None:
            self.estimate_label.setText("")
            return
        try:
            check = assess_size(self.source, self.size, self.settings(), self.tile_check.isChecked())
        except AtelierError as exc:
            self.estimate_label.setText(str(exc))
            set_tone(self.estimate_label, "error")
            return
        described = check.estimate.describe()
        text = described[0].upper() + described[1:]
        if check.refusal is not None:
            text, tone = check.refusal, "error"
        elif check.confirm is not None:
            text, tone = f"{text}: Generate asks first.", "warning"
        else:
            tone = "muted"
        self.estimate_label.setText(text)
        set_tone(self.estimate_label, tone)

    def _say(self, text: str, error: bool = False) -> None:
        self.message.setText(text)
        set_tone(self.message, "error" if error else None)

    def stop(self) -> None:
        """Closing: cancel the generation (the worker waits for it)."""
        self.cancel()
