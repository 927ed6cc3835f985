"""Gallery page: generate images from a run's generator, each tile labelled with its seed."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (QAbstractItemView, QFileDialog, QHBoxLayout, QLabel, QListView,
                               QListWidget, QListWidgetItem, QPushButton, QSpinBox, QVBoxLayout,
                               QWidget)

from desktop_app.current_run import save_folder
from desktop_app.worker import EngineWorker
from desktop_app.widgets.qimage import to_qimage
from engine.runs.bundles import BUNDLE_SUFFIX, inspect_bundle
from desktop_app.widgets.sampling_controls import SamplingControls
from engine.errors import AtelierError
from engine.studio.export import save_png
from engine.runs.folders import is_run_dir
from engine.studio.sampling import run_classes, run_supports_truncation

SEED_ROLE = Qt.ItemDataRole.UserRole
TILE_PIXELS = 112


class GalleryPage(QWidget):
    status = Signal(str)
    error = Signal(str, str, str)
    keyframesChosen = Signal(object, object)   # (run folder, Keyframes) for the animation studio
    processRequested = Signal(object, int)      # (run folder, seed): play the model's own process
    samplerChosen = Signal(object)   # {steps=, guidance=} of the tiles, sent after the two above
    compareRequested = Signal(object, object)  # (run folder, seeds) to compare across checkpoints
    runChanged = Signal(object)   # the run now shown (a Path), or None: the window's current run
    filesDropped = Signal(object)  # files dropped on the tiles (Paths): the window decides what they are

    def __init__(self, worker: EngineWorker, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.worker = worker
        self.run_dir: Path | None = None
        self.images: dict[int, np.ndarray] = {}   # seed -> uint8 image shown in a tile
        self.favourites: list[int] = []             # the run's favourite seeds
        self.classes = 0                           # a conditional run's class count
        self._request: tuple[list[int] | None, float] = (None, 1.0)  # labels, temperature
        self.tile_classes: dict[int, int] = {}      # seed -> class of its tile (conditional)
        self.variation_records: dict[int, dict] = {}   # seed -> provenance of a variation tile
        self._truncation: float | None = None      # of the tiles shown (GANs; None: off)
        self._sampler: dict = {}                   # steps=, guidance= of the tiles shown
        self.variation_page = None                 # VariationPage the tiles show, or None: samples
        self._incoming_variations = None           # the VariationPage being made
        self._generate_waiting = False             # generate once the sampler settings are in
        self._build()
        self._build_zoom()
        self._build_reconstruction()
        self._build_variations()
        self._build_process()
        self._build_nearest()
        self._generating = False
        self._show_by_capability()
        self._update_enabled()

    def _build(self) -> None:
        self.run_label = QLabel("No run chosen. Train one, open a run folder or a model bundle "
                                "(or drop one here), or try a trained model.",
                                objectName="galleryRunLabel", wordWrap=True)
        self.open_button = QPushButton("Open run…", objectName="openRunButton")
        self.open_button.clicked.connect(self._choose_run)
        self.open_bundle_button = QPushButton("Open model file…", objectName="openBundleButton")
        self.open_bundle_button.setToolTip(f"Open a model bundle ({BUNDLE_SUFFIX}) someone shared")
        self.open_bundle_button.clicked.connect(self._choose_bundle)
        self.setAcceptDrops(True)
        from desktop_app.starter_models import StarterButton
        self.starter_button = StarterButton("tryStarterButton")
        self.starter_button.chosen.connect(self.open_source)
        top = QHBoxLayout()
        top.addWidget(self.run_label, 1)
        top.addWidget(self.starter_button)
        top.addWidget(self.open_button)
        top.addWidget(self.open_bundle_button)

        self.count_spin = QSpinBox(objectName="galleryCountSpin", minimum=1, maximum=256, value=32)
        self.seed_spin = QSpinBox(objectName="gallerySeedSpin", minimum=0, maximum=2**31 - 1, value=0)
        self.seed_spin.setToolTip("Tile i shows the image of seed (first seed + i)")
        self.generate_button = QPushButton("Generate", objectName="generateButton")
        self.next_button = QPushButton("Next page", objectName="nextPageButton")
        self.generate_button.clicked.connect(self.generate)
        self.next_button.clicked.connect(self.next_page)
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Images"))
        controls.addWidget(self.count_spin)
        controls.addWidget(QLabel("First seed"))
        controls.addWidget(self.seed_spin)
        controls.addWidget(self.generate_button)
        controls.addWidget(self.next_button)
        self.sampling = SamplingControls()
        self.sampling.sampler.ready.connect(self._on_sampler_ready)
        controls.addWidget(self.sampling)
        controls.addStretch(1)

        self.grid = QListWidget(objectName="galleryGrid")
        self.grid.setViewMode(QListView.ViewMode.IconMode)
        self.grid.setIconSize(QSize(TILE_PIXELS, TILE_PIXELS))
        self.grid.setResizeMode(QListView.ResizeMode.Adjust)
        self.grid.setMovement(QListView.Movement.Static)
        self.grid.setSpacing(6)
        self.grid.setUniformItemSizes(True)
        self.grid.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.grid.itemSelectionChanged.connect(self._update_enabled)
        self.grid.itemDoubleClicked.connect(lambda _: self.save_selected())

        self.scale_spin = QSpinBox(objectName="tileScaleSpin", minimum=1, maximum=32, value=8,
                                   suffix=" x")
        self.scale_spin.setToolTip("Enlarge the saved PNG with crisp, nearest-neighbour pixels")
        self.save_button = QPushButton("Save tile as PNG…", objectName="saveTileButton")
        self.save_button.clicked.connect(self.save_selected)
        self.keyframe_button = QPushButton("Use as keyframe", objectName="useAsKeyframeButton")
        self.keyframe_button.setToolTip("Add the selected tiles, in order, to the Animate page's keyframes")
        self.keyframe_button.clicked.connect(self.use_as_keyframes)
        self.favourite_button = QPushButton("★ Favourite", objectName="favouriteButton")
        self.favourite_button.setToolTip("Mark the selected tiles as favourites (or unmark them)")
        self.favourite_button.clicked.connect(self.toggle_favourites)
        self.show_favourites_button = QPushButton("Show favourites", objectName="showFavouritesButton")
        self.show_favourites_button.clicked.connect(self.show_favourites)
        self.compare_button = QPushButton("Compare checkpoints…", objectName="compareCheckpointsButton")
        self.compare_button.setToolTip("The selected seeds from each kept checkpoint and the sample history")
        self.compare_button.clicked.connect(
            lambda: self.compareRequested.emit(self.run_dir, self.selected_seeds()[:16]))
        self.copy_button = QPushButton("Copy", objectName="copyTileButton")
        self.copy_button.setToolTip("Copy the selected tile, enlarged, to the clipboard")
        self.copy_button.clicked.connect(self.copy_selected)
        bottom = QHBoxLayout()
        for button in (self.keyframe_button, self.favourite_button, self.show_favourites_button,
                       self.compare_button, self.copy_button):
            bottom.addWidget(button)
        bottom.addStretch(1)
        bottom.addWidget(QLabel("Scale"))
        bottom.addWidget(self.scale_spin)
        bottom.addWidget(self.save_button)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(controls)
        self.grid_row = QHBoxLayout()      # the tiles, and beside them the reconstruction view
        self.grid_row.addWidget(self.grid, 1)
        layout.addLayout(self.grid_row, 1)
        layout.addLayout(bottom)
        self.controls_row, self.bottom_row = controls, bottom

    # -- run -------------------------------------------------------------------------
    def set_run(self, run_dir: str | Path | None) -> None:
        """Sample from this run; None while a new run has no saved weights yet."""
        run_changed = (Path(run_dir) if run_dir is not None else None) != self.run_dir
        self.run_dir = Path(run_dir) if run_dir is not None else None
        if run_changed:
            self.variation_page = None
        try:
            self.classes = run_classes(self.run_dir) if self.run_dir is not None else 0
        except AtelierError:
            self.classes = 0   # not readable yet; generating reports any real problem
        self.sampling.set_classes(self.classes)
        self.reconstruction.set_run(self.run_dir, self.classes)
        self._process_name = self._run_process_name()
        try:
            truncation = self.run_dir is not None and run_supports_truncation(self.run_dir)
        except AtelierError:
            truncation = False
        self.sampling.set_truncation_mode(truncation)
        self.variations.set_run(self.run_dir)
        self._offer_sampler(run_changed)
        self._show_by_capability()
        self.run_label.setText(f"Run: {self.run_dir}" if self.run_dir is not None
                               else "Waiting for the new run's first checkpoint…")
        self.starter_button.offer(self.run_dir is None)
        self.favourites = []
        if self.run_dir is not None and self.run_dir.is_dir():   # a bundle keeps no favourites
            from engine.studio.gallery import read_favourites
            run = self.run_dir
            self.worker.submit("favourites", lambda: (run, read_favourites(run)),
                               self._on_favourites, "Could not read favourites")
        self._update_enabled()
        if run_changed:
            self.runChanged.emit(self.run_dir)

    def _show_by_capability(self) -> None:
        """Only what the run's model can do shows: the reconstruction view for a
        model that reconstructs (VAEs), variations for one that varies pictures
        (the panel hides itself otherwise), Play process for one with a process.
        The run's name says in its tooltip what this model lacks."""
        from desktop_app.run_capabilities import missing_line, run_abilities
        from engine.models.base import PROCESS, RECONSTRUCT

        self.abilities = run_abilities(self.run_dir)
        self.sampling.setVisible(self.run_dir is not None)   # no model, nothing to tune
        self.reconstruction.setVisible(self.abilities.can(RECONSTRUCT))
        self.process_button.setVisible(self.abilities.can(PROCESS))
        self.run_label.setToolTip(missing_line(self.abilities))

    def first_keyframes(self, count: int = 4) -> list:
        """Keyframes for the first `count` seeds of the page (each with the class its
        tile has, or will have, for a conditional run): where a walk starts when the
        Animate page has none yet."""
        from engine.studio.keyframes import Keyframe

        first = self.seed_spin.value()
        seeds = list(range(first, first + count))
        labels = self.sampling.labels_for(seeds)
        if labels is None and self.classes:
            labels = [seed % self.classes for seed in seeds]
        return [Keyframe(seed, labels[i] if labels else None) for i, seed in enumerate(seeds)]

    def open_source(self, source: str | Path, generate: bool = True) -> bool:
        """Show a run folder or a model bundle file and generate its first page
        (with generate=False, once the page is next shown: a run chosen on another
        page costs nothing until the gallery is looked at).

        A bundle is fully checked first (header, sizes, shapes; a pickle is
        refused unread), so a bad file is reported here and never reaches sampling.
        """
        path = Path(source)
        if path.is_dir():
            if not is_run_dir(path):
                self.error.emit("Open run", f"{path} is not a run folder (it has no config.json).", "")
                return False
            label = f"Run: {path}"
        else:
            try:
                info = inspect_bundle(path)
            except AtelierError as exc:
                self.error.emit("Open model file", str(exc), "")
                return False
            label = f"Model bundle: {path.name} ({info.model}, step {info.step:,}, from run {info.source_run})"
        self.set_run(path)
        self.run_label.setText(label)
        if generate or self.isVisible():
            self.generate()
        else:
            self._page_due = True
        return True

    _page_due = False   # generate the first page of the run once the page is shown

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if self._page_due and self.run_dir is not None:
            self.generate()

    def _choose_bundle(self) -> None:
        start = str(self.run_dir.parent) if self.run_dir else ""
        path, _ = QFileDialog.getOpenFileName(
            self, "Open a model file", start,
            f"Model bundles (*{BUNDLE_SUFFIX} *.safetensors);;All files (*)")
        if path:
            self.open_source(path)

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt's name
        paths = [Path(url.toLocalFile()) for url in event.mimeData().urls() if url.isLocalFile()]
        if not paths:
            return
        event.acceptProposedAction()
        if paths[0].is_dir() or paths[0].suffix == ".safetensors":   # a run or a bundle
            self.open_source(paths[0])
        else:
            # An exported animation reopens on the Animate page, a picture comes back
            # to use_picture: the window reads which it is (desktop_app.window_drops).
            self.filesDropped.emit(paths)

    def use_picture(self, path: str | Path) -> None:
        """A picture dropped on the page: for variations where the model makes them,
        else for the reconstruction view; a model with neither says so."""
        if self.variations.available:
            self.variations.vary_files([str(path)])
        elif self.reconstruction.available:
            self.reconstruction.reconstruct_files([str(path)])
        else:
            self._say_no_picture_use(Path(path).name)

    def _say_no_picture_use(self, name: str) -> None:
        from desktop_app.run_capabilities import missing_line

        why = missing_line(self.abilities) or "This run's model cannot use a picture."
        self.status.emit(f"{name} not used: {why} Drop pictures to remix on the Remix page, "
                         "or a folder to train on on the Data page.")

    def _choose_run(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a run folder",
                                                  str(self.run_dir.parent) if self.run_dir else "")
        if folder:
            self.open_source(folder)

    # -- generating ------------------------------------------------------------------
    def generate(self) -> None:
        if self.run_dir is None or self._generating or self.variations.busy:
            return
        self._page_due = False
        if self.sampling.sampler.pending:   # the run's steps and guidance are on their way
            self._generate_waiting = True
            return
        first, count = self.seed_spin.value(), self.count_spin.value()
        self.status.emit(f"Generating {count} images from seed {first}…")
        self._generating = True
        self._update_enabled()
        seeds = list(range(first, first + count))
        self._choose_settings(seeds)
        self._generate(seeds)

    def next_page(self) -> None:
        """The next seeds: of samples, or of variations when the tiles show those."""
        self.seed_spin.setValue(self.seed_spin.value() + self.count_spin.value())
        if self.variation_page is not None:
            self.variations.vary_again()
        else:
            self.generate()

    def _choose_settings(self, seeds: list[int]) -> None:
        """Fix the settings of the page about to be made (its tiles' provenance)."""
        self._request = (self.sampling.labels_for(seeds), self.sampling.temperature)
        self._truncation = self.sampling.truncation
        self._sampler = self.sampling.sampler.settings()

    def _generate(self, seeds: list[int]) -> None:
        job = self.worker.generate(self.run_dir, seeds, *self._request, truncation=self._truncation,
                                   **self._sampler)
        job.returned.connect(lambda result: self._on_samples(*result))
        job.ended.connect(self._on_generation_ended)

    def _on_samples(self, seeds: list[int], images: np.ndarray) -> None:
        self._clear_tiles()
        self.variation_page = None
        labels, temperature = self._request
        how = (f"truncation {self._truncation:.2f}" if self._truncation is not None
               else f"temperature {temperature:.2f}")
        how += "".join(f", {name} {value:g}" for name, value in self._sampler.items())
        for i, (seed, image) in enumerate(zip(seeds, images)):
            if self.classes:
                self.tile_classes[seed] = labels[i] if labels else seed % self.classes
            self._add_tile(seed, image, how)
        self.status.emit(f"Generated {len(seeds)} images (seeds {seeds[0]}–{seeds[-1]}).")

    def _clear_tiles(self) -> None:
        self.grid.clear()
        self.images = {}
        self.tile_classes = {}
        self.variation_records = {}

    def _add_tile(self, seed: int, image: np.ndarray, how: str) -> None:
        self.images[seed] = image
        text = self._tile_text(seed)
        item = QListWidgetItem(self.zoom.icon(image), text)
        item.setData(SEED_ROLE, seed)
        item.setToolTip(f"{text.capitalize()}, {how}: double-click to save as PNG")
        self.grid.addItem(item)

    def _tile_text(self, seed: int) -> str:
        text = f"★ seed {seed}" if seed in self.favourites else f"seed {seed}"
        if seed in self.tile_classes:
            text += f" · class {self.tile_classes[seed]}"
        return text

    # -- keyframes, favourites, clipboard -------------------------------------------------
    def selected_seeds(self) -> list[int]:
        """Seeds of the selected tiles, in grid order."""
        return [self.grid.item(row).data(SEED_ROLE) for row in range(self.grid.count())
                if self.grid.item(row).isSelected()]

    def use_as_keyframes(self) -> None:
        from engine.studio.keyframes import Keyframe

        seeds = self.selected_seeds()
        if seeds and self.run_dir is not None:
            # Each tile's class comes along, so the walk passes through the very tiles.
            self.keyframesChosen.emit(self.run_dir, [Keyframe(s, self.tile_classes.get(s))
                                                     for s in seeds])
            self.samplerChosen.emit(dict(self._sampler))
            self.status.emit(f"Added seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))} "
                             "as keyframes on the Animate page.")

    def toggle_favourites(self) -> None:
        from engine.studio.gallery import set_favourite

        seeds, run = self.selected_seeds(), self.run_dir
        if not seeds or run is None:
            return
        favourite = not all(s in self.favourites for s in seeds)
        self.worker.submit("favourites", lambda: (run, set_favourite(run, seeds, favourite)),
                           self._on_favourites, "Could not save favourites")

    def _on_favourites(self, result: tuple[Path, list[int]]) -> None:
        run, favourites = result
        if run != self.run_dir:
            return
        self.favourites = favourites
        for row in range(self.grid.count()):
            item = self.grid.item(row)
            item.setText(self._tile_text(item.data(SEED_ROLE)))
        self._update_enabled()

    def show_favourites(self) -> None:
        if self.run_dir is None or self._generating or self.variations.busy or not self.favourites:
            return
        self.status.emit(f"Generating {len(self.favourites)} favourites…")
        self._generating = True
        self._update_enabled()
        seeds = list(self.favourites)
        self._choose_settings(seeds)
        self._generate(seeds)

    def copy_selected(self) -> bool:
        seed = self.selected_seed()
        if seed is None:
            return False
        from engine.media.images import upscale_nearest
        QGuiApplication.clipboard().setImage(to_qimage(upscale_nearest(self.images[seed],
                                                                       self.scale_spin.value())))
        self.status.emit(f"Copied seed {seed} to the clipboard.")
        return True

    # -- saving ----------------------------------------------------------------------
    def selected_seed(self) -> int | None:
        seeds = self.selected_seeds()
        return seeds[0] if seeds else None

    def save_selected(self, path: str | None = None) -> Path | None:
        seed = self.selected_seed()
        if seed is None:
            return None
        if path is None:
            suggested = str(save_folder(self.run_dir) / f"seed_{seed}.png")
            path, _ = QFileDialog.getSaveFileName(self, "Save tile", suggested, "PNG image (*.png)")
            if not path:
                return None
        try:
            written = save_png(self.images[seed], path, scale=self.scale_spin.value(),
                               provenance=self._provenance(seed))
        except AtelierError as exc:
            self.error.emit("Save tile", str(exc), "")
            return None
        self.status.emit(f"Saved seed {seed} to {written}")
        return written

    def _provenance(self, seed: int) -> dict:
        """What remakes the tile: run, seed, temperature or truncation, an iterative
        sampler's steps and guidance, (conditional) class; for a variation, its
        picture and strength instead of the temperature."""
        if self.variation_page is not None and seed in self.variation_records:
            return dict(self.variation_records[seed])   # the engine's own record of it
        _, temperature = self._request
        record = {"run": self.run_dir.name if self.run_dir else None, "seed": seed,
                  "temperature": temperature}
        if self._truncation is not None:
            record["truncation"] = self._truncation
        # Named as the engine's exports name them (engine.studio.sampling.sampler_provenance).
        if "steps" in self._sampler:
            record["sampler_steps"] = self._sampler["steps"]
        if "guidance" in self._sampler:
            record["guidance"] = self._sampler["guidance"]
        if seed in self.tile_classes:
            record["class"] = self.tile_classes[seed]
        return record

    def _on_generation_ended(self) -> None:
        self._generating = False
        self._update_enabled()
        self.variations.resume_pending()

    def _update_enabled(self) -> None:
        # One generation at a time, so a later page is never overwritten by an earlier one.
        ready = self.run_dir is not None and not self._generating and not self.variations.busy
        self.generate_button.setEnabled(ready)
        self.next_button.setEnabled(ready)
        selected = self.selected_seed() is not None
        self.save_button.setEnabled(selected)
        self.copy_button.setEnabled(selected)
        self.keyframe_button.setEnabled(selected and self.run_dir is not None)
        # Favourites and checkpoints belong to a run folder; a bundle file has neither.
        is_run = self.run_dir is not None and self.run_dir.is_dir()
        for button in (self.favourite_button, self.compare_button):
            button.setEnabled(selected and is_run)
        self.show_favourites_button.setEnabled(ready and bool(self.favourites))
        self.process_button.setEnabled(selected and self._process_name is not None)
        self.nearest_action.setEnabled(selected and self.run_dir is not None)

    # -- zoom, reconstruction and process: each in its own widget -------------------------
    def _build_zoom(self) -> None:
        from desktop_app.widgets.gallery_zoom import GalleryZoom

        # self.images is replaced with each page, so look it up at call time.
        self.zoom = GalleryZoom(self.grid, lambda seed: self.images.get(seed), SEED_ROLE)
        self.controls_row.insertWidget(self.controls_row.count() - 1, self.zoom)

    def _build_reconstruction(self) -> None:
        from desktop_app.widgets.reconstruction_panel import ReconstructionPanel

        self.reconstruction = ReconstructionPanel(self.worker)
        self.reconstruction.setMaximumWidth(340)
        self.reconstruction.status.connect(self.status)
        self.grid_row.addWidget(self.reconstruction)

    def _build_process(self) -> None:
        self._process_name: str | None = None
        self.process_button = QPushButton("Play process", objectName="playProcessButton")
        self.process_button.setToolTip("The model's own process (row-by-row filling, a canvas, a "
                                       "rollout, denoising): play the selected tile's on the "
                                       "Animate page")
        self.process_button.clicked.connect(self.play_process)
        self.bottom_row.insertWidget(self.bottom_row.count() - 4, self.process_button)

    def _run_process_name(self) -> str | None:
        """The run's own process ("filling in", "drawing", ...), None if its family has none."""
        from engine.models import find_model
        from engine.studio.reconstruction import source_model

        if self.run_dir is None:
            return None
        try:
            name, _ = source_model(self.run_dir)
        except AtelierError:
            return None
        spec = find_model(name)
        return spec.process_name if spec is not None else None

    def play_process(self) -> None:
        seed = self.selected_seed()
        if seed is not None and self.run_dir is not None and self._process_name is not None:
            self.processRequested.emit(self.run_dir, seed)
            self.samplerChosen.emit(dict(self._sampler))
            self.status.emit(f"Playing the {self._process_name} process of seed {seed} on the "
                             "Animate page.")

    def _build_nearest(self) -> None:
        """Is a tile a copy? Its nearest training pictures, from a button and the
        tiles' context menu (desktop_app.nearest_dialog)."""
        from PySide6.QtGui import QAction

        self.nearest_action = QAction("Nearest training pictures…", self,
                                      objectName="nearestTrainingAction")
        self.nearest_action.setToolTip("The training pictures nearest to the selected tile, by "
                                       "features and by pixels: is it a copy?")
        self.nearest_action.triggered.connect(lambda: self.show_nearest())
        self.nearest_button = QPushButton("Nearest training…", objectName="nearestTrainingButton")
        self.nearest_button.setToolTip(self.nearest_action.toolTip())
        self.nearest_button.clicked.connect(self.nearest_action.trigger)
        self.nearest_action.changed.connect(
            lambda: self.nearest_button.setEnabled(self.nearest_action.isEnabled()))
        self.bottom_row.insertWidget(self.bottom_row.indexOf(self.copy_button) + 1,
                                     self.nearest_button)
        self.grid.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self.grid.addAction(self.nearest_action)

    def show_nearest(self):
        """Open the dialog for the selected tile; it, or None without one."""
        from desktop_app.nearest_dialog import NearestDialog

        seed = self.selected_seed()
        if seed is None or self.run_dir is None:
            return None
        dialog = NearestDialog(self.worker, self.run_dir, seed, self.images[seed], self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        return dialog

    # -- iterative samplers: steps and guidance; variations of a picture ----------------------
    def _offer_sampler(self, run_changed: bool) -> None:
        """Steps and guidance for a run whose model has an iterative sampler (guidance
        for class-conditional runs only), starting at the run's own values; hidden
        for other models. The same run keeps the values chosen."""
        if run_changed or self.run_dir is None:
            self.sampling.sampler.set_run(self.worker, self.run_dir)

    def _on_sampler_ready(self) -> None:
        """The run's own steps and guidance are in: make what waited for them."""
        if self._generate_waiting:
            self._generate_waiting = False
            self.generate()
        self.variations.resume_pending()

    def _build_variations(self) -> None:
        from desktop_app.widgets.variation_panel import VariationPanel

        self.variations = VariationPanel(self.worker, self._variation_request)
        self.variations.setMaximumWidth(340)
        self.variations.status.connect(self.status)
        self.variations.started.connect(self._on_variations_started)
        self.variations.madeSome.connect(self._on_variations)
        self.variations.busyChanged.connect(lambda _: self._update_enabled())
        self.grid_row.addWidget(self.variations)

    def _variation_request(self, picture: str, strength: float):
        """The page of variations to make now: this page's seeds, the chosen class
        ("By seed": no class) and sampler; None while samples are being generated."""
        from desktop_app.widgets.variation_panel import VariationPage

        if self._generating or self.run_dir is None or self.sampling.sampler.pending:
            return None
        first, count = self.seed_spin.value(), self.count_spin.value()
        seeds = list(range(first, first + count))
        return VariationPage(picture, strength, seeds, self.sampling.labels_for(seeds),
                             self.sampling.sampler.settings())

    def _on_variations_started(self, page) -> None:
        self._incoming_variations = page
        self.status.emit(f"Making {len(page.seeds)} variations of {page.name}…")

    def _on_variations(self, variations) -> None:
        """Tiles for engine Variations of the next few seeds of the page."""
        # The tiles shown stay until the first variations arrive (a refused picture
        # leaves them as they were).
        page = self._incoming_variations
        if page is not self.variation_page:
            self._clear_tiles()
            self.variation_page = page
            self._sampler = dict(page.sampler)
        how = f"variation of {page.name} at strength {page.strength:.2f}"
        how += "".join(f", {name} {value:g}" for name, value in page.sampler.items())
        for i, (seed, image) in enumerate(zip(variations.seeds, variations.images)):
            record = variations.tile_provenance(i)
            self.variation_records[seed] = record
            if "label" in record:
                self.tile_classes[seed] = record["label"]
            self._add_tile(seed, image, how)
