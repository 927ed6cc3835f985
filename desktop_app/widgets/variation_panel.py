"""The gallery's variations view for models that can vary a picture (diffusion,
flow: SDEdit): drop or open a picture, choose a strength, and the gallery shows
a page of variations of it, one per seed, made on the worker thread a few at a
time, so a progress bar moves and the tiles fill in as they come.

The panel shows only for a run whose model declares the capability; a GAN never
sees it (hidden, not greyed). A picture the engine refuses (not an image, huge,
damaged) is explained in the panel itself, never in a dialog.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (QFileDialog, QGroupBox, QHBoxLayout, QLabel, QProgressBar,
                               QPushButton, QSlider, QVBoxLayout, QWidget)

from desktop_app.widgets.image_view import ImageView
from desktop_app.widgets.reconstruction_panel import ERROR_STYLE, PICTURE_FILTER, DropArea
from desktop_app.worker import EngineWorker
from engine.errors import AtelierError

STRENGTH_STEPS = 100      # slider units per 1.0 of strength
DEFAULT_STRENGTH = 0.5
CHUNK = 8                 # variations per engine call: the progress bar's step
SETTLE_MS = 300           # a dragged slider makes the page again once it rests


@dataclass(frozen=True, eq=False)
class VariationPage:
    """The page of variations to make: a picture (a file, or pixels dragged from
    the Data page), the strength, one seed per tile and the sampler settings."""

    picture: str | np.ndarray
    strength: float
    seeds: list[int]
    labels: list[int] | None = None   # a conditional run's class per tile (None: no class)
    sampler: dict[str, Any] = field(default_factory=dict)   # steps=, guidance=

    @property
    def name(self) -> str:
        return "the dropped image" if isinstance(self.picture, np.ndarray) \
            else Path(self.picture).name


class VariationPanel(QGroupBox):
    """Asks the gallery (`page_request`) for the page to make (seeds, classes,
    sampler settings) and hands the variations back as they come."""

    status = Signal(str)
    started = Signal(object)            # the VariationPage about to be made
    madeSome = Signal(object)           # engine Variations of the next few seeds
    busyChanged = Signal(bool)

    def __init__(self, worker: EngineWorker,
                 page_request: Callable[[str | np.ndarray, float], VariationPage | None],
                 parent: QWidget | None = None) -> None:
        super().__init__("Variations", parent)
        self.setObjectName("variationPanel")
        self.worker = worker
        self._page_request = page_request
        self.run_dir: Path | None = None
        self.available = False
        self.picture: str | np.ndarray | None = None   # the picture varied last
        self.page: VariationPage | None = None
        self.busy = False
        self._pending = False                # make the page again once the job in flight ends
        self._maker: Any = None              # engine.studio.variation.VariationMaker, worker only
        self._done = 0                       # variations of the page made so far
        self.drop = DropArea(name="varyDrop", text="Drop a picture here to make variations of it",
                             accessible="Variations drop area")
        self.drop.droppedFiles.connect(self.vary_files)
        self.drop.droppedImage.connect(self.vary_image)
        self.open_button = QPushButton("Vary a picture…", objectName="varyOpenButton")
        self.open_button.setToolTip("Choose a picture: the gallery shows variations of it, one "
                                    "per seed (the same as dropping one here)")
        self.open_button.clicked.connect(self._choose_file)
        self.strength_slider = QSlider(Qt.Orientation.Horizontal, objectName="varyStrengthSlider",
                                       minimum=1, maximum=STRENGTH_STEPS,
                                       value=round(DEFAULT_STRENGTH * STRENGTH_STEPS))
        self.strength_slider.setToolTip("How far each variation may move from the picture: low "
                                        "keeps it nearly as it is, 1 ignores it")
        self.strength_value = QLabel(objectName="varyStrengthLabel")
        self.strength_slider.valueChanged.connect(self._strength_changed)
        title = QLabel("Strength")
        title.setBuddy(self.strength_slider)
        self.original_view = ImageView("")
        self.original_view.setObjectName("varyOriginal")
        self.original_view.setMinimumSize(112, 112)
        self.original_view.setMaximumSize(224, 224)
        self.original_view.setToolTip("The picture as the model sees it")
        self.original_view.hide()
        self.progress = QProgressBar(objectName="varyProgress", textVisible=True)
        self.progress.setFormat("%v of %m variations")
        self.progress.hide()
        self.message = QLabel(objectName="varyMessage", wordWrap=True)
        self.message.setTextFormat(Qt.TextFormat.PlainText)   # file names are never markup
        strength = QHBoxLayout()
        strength.addWidget(title)
        strength.addWidget(self.strength_slider, 1)
        strength.addWidget(self.strength_value)
        layout = QVBoxLayout(self)
        layout.addWidget(self.drop)
        layout.addWidget(self.open_button)
        layout.addLayout(strength)
        layout.addWidget(self.progress)
        layout.addWidget(self.message)
        layout.addWidget(self.original_view, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(1)
        self._settle = QTimer(self, singleShot=True, interval=SETTLE_MS)
        self._settle.timeout.connect(self.vary_again)
        self._show_strength()
        self.setVisible(False)

    # -- the run -----------------------------------------------------------------------
    def set_run(self, run_dir: str | Path | None) -> None:
        """Vary with this run's model; the panel hides unless the model can."""
        from engine.studio.variation import VariationMaker, variation_unavailable

        run = Path(run_dir) if run_dir is not None else None
        if run != self.run_dir:
            self.picture, self.page, self._pending = None, None, False
            self.original_view.clear()
            self.original_view.hide()
        self.run_dir = run
        self.available = run is not None and variation_unavailable(run) is None
        # One maker per run keeps the model between pages (and reloads it after a new
        # checkpoint), so moving the slider again does not load the model again.
        if not self.available:
            self._maker = None
        elif self._maker is None or self._maker.source != run:
            self._maker = VariationMaker(run)
        self.setVisible(self.available)
        if self.page is None:
            self._say("Drop or open a picture: the gallery shows variations of it, one per seed.")

    @property
    def strength(self) -> float:
        return self.strength_slider.value() / STRENGTH_STEPS

    # -- requests --------------------------------------------------------------------------
    def _choose_file(self) -> None:
        start = str(Path(self.picture).parent if isinstance(self.picture, str) else
                    self.run_dir.parent if self.run_dir else Path.home())
        path, _ = QFileDialog.getOpenFileName(self, "Vary a picture", start, PICTURE_FILTER)
        if path:
            self.vary_files([path])

    def vary_files(self, paths: list[str]) -> None:
        if not paths:
            return
        if len(paths) > 1:
            self.status.emit(f"Varying the first of {len(paths)} dropped files.")
        self.picture = str(paths[0])
        self.vary_again()

    def vary_image(self, image: np.ndarray) -> None:
        """Image data (a tile dragged from the Data page)."""
        self.picture = image
        self.vary_again()

    def _strength_changed(self) -> None:
        self._show_strength()
        if self.picture is not None:
            self._settle.start()

    def vary_again(self) -> None:
        """Make the page with the current picture, strength and gallery settings."""
        if not self.available or self.picture is None:
            return
        if self.busy:
            self._pending = True    # only the latest settings matter
            return
        page = self._page_request(self.picture, self.strength)
        if page is None:            # the gallery is busy: resume_pending() when it is done
            self._pending = True
            return
        self._start(page)

    def resume_pending(self) -> None:
        """The gallery finished its own work: make a page that waited for it."""
        if self._pending and not self.busy:
            self._pending = False
            self.vary_again()

    def _start(self, page: VariationPage) -> None:
        maker = self._maker
        self.page, self.busy, self._pending, self._done = page, True, False, 0
        self.busyChanged.emit(True)
        self.started.emit(page)
        self.progress.setRange(0, len(page.seeds))
        self.progress.setValue(0)
        self.progress.show()
        self._say(f"Varying {page.name} at strength {page.strength:.2f}…")

        def work(control: Any) -> Iterator[Any]:
            for i in range(0, len(page.seeds), CHUNK):
                if control.stopped:
                    return
                labels = None if page.labels is None else page.labels[i:i + CHUNK]
                try:
                    yield maker.vary(page.picture, page.strength, page.seeds[i:i + CHUNK],
                                     labels, **page.sampler)
                except AtelierError as exc:   # a bad picture: said here, not in a dialog
                    yield exc
                    return

        job = self.worker.stream("variations", work, "Could not vary the picture")
        job.yielded.connect(lambda item: self._on_chunk(page, item))
        job.ended.connect(self._on_job_ended)

    def _on_chunk(self, page: VariationPage, variations: Any) -> None:
        if isinstance(variations, AtelierError):
            self.page = None
            self.original_view.clear()     # never leave an earlier picture looking like this one's
            self.original_view.hide()
            self._say(str(variations), error=True)
            return
        if self._done == 0:
            self.original_view.set_image(variations.original)
            self.original_view.show()
        self._done += len(variations.seeds)
        self.progress.setValue(self._done)
        self.madeSome.emit(variations)
        if self._done == len(page.seeds):
            self._say(f"{page.name} at strength {page.strength:.2f}: {self._done} variations "
                      f"(seeds {page.seeds[0]}–{page.seeds[-1]}).")
            self.status.emit(f"Made {self._done} variations of {page.name}.")

    def _on_job_ended(self) -> None:
        self.busy = False
        self.progress.hide()
        self.busyChanged.emit(False)
        if self._pending:
            self._pending = False
            self.vary_again()

    def _show_strength(self) -> None:
        self.strength_value.setText(f"{self.strength:.2f}")

    def _say(self, text: str, error: bool = False) -> None:
        self.message.setStyleSheet(ERROR_STYLE if error else "")
        self.message.setText(text)
