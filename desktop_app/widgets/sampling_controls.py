"""Gallery sampling controls: the class of a conditional model's tiles, the
latent temperature (VAEs and others) or the truncation (GANs), and for an
iterative sampler (diffusion, flow) its steps and guidance. Together with the
seed they fix a tile's image."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QHBoxLayout, QLabel, QSlider, QSpinBox,
                               QWidget)

from desktop_app.worker import EngineWorker
from engine.errors import AtelierError
from engine.models.base import GUIDANCE, MAX_GUIDANCE, MAX_SAMPLER_STEPS, STEPS, SamplerSettings

BY_SEED = -1                 # class picker value: each tile's class is its seed mod classes
TEMPERATURE_STEPS = 100      # slider units per 1.0 of temperature
TRUNCATION_STEPS = 100       # slider units per 1.0 of truncation threshold
TRUNCATION_OFF = 210         # the slider's right end: no truncation (the model as trained)


class SamplingControls(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.class_label = QLabel("Class")
        self.class_combo = QComboBox(objectName="galleryClassCombo")
        self.class_combo.setToolTip("Conditional models: the class every tile is drawn from")
        self.temperature_slider = QSlider(Qt.Orientation.Horizontal, objectName="temperatureSlider",
                                          minimum=10, maximum=200, value=TEMPERATURE_STEPS)
        self.temperature_slider.setToolTip("Latent temperature: below 1 gives more typical, "
                                           "less varied images; 1 samples the model as trained")
        self.temperature_slider.setMaximumWidth(160)
        self.temperature_value = QLabel(objectName="temperatureLabel")
        self.temperature_slider.valueChanged.connect(self._show_temperature)
        self.temperature_title = QLabel("Temperature")
        # GANs: the truncation trick instead (engine.models.common.truncation).
        self.truncation_title = QLabel("Truncation")
        self.truncation_slider = QSlider(Qt.Orientation.Horizontal, objectName="truncationSlider",
                                         minimum=10, maximum=TRUNCATION_OFF, value=TRUNCATION_OFF)
        self.truncation_slider.setToolTip("Truncation: latent values beyond this are drawn again; "
                                          "lower gives more typical, less varied images; the right "
                                          "end is off (the model as trained)")
        self.truncation_slider.setMaximumWidth(160)
        self.truncation_value = QLabel(objectName="truncationLabel")
        self.truncation_slider.valueChanged.connect(self._show_truncation)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.class_label)
        layout.addWidget(self.class_combo)
        layout.addWidget(self.temperature_title)
        layout.addWidget(self.temperature_slider)
        layout.addWidget(self.temperature_value)
        layout.addWidget(self.truncation_title)
        layout.addWidget(self.truncation_slider)
        layout.addWidget(self.truncation_value)
        self.sampler = SamplerControls("samplerStepsSpin", "guidanceSpin")
        layout.addWidget(self.sampler)
        self.set_classes(0)
        self.set_truncation_mode(False)
        self._show_temperature()
        self._show_truncation()

    def set_truncation_mode(self, truncation: bool) -> None:
        """GANs get the truncation slider; other families the temperature slider."""
        self.uses_truncation = truncation
        for w in (self.temperature_title, self.temperature_slider, self.temperature_value):
            w.setVisible(not truncation)
        for w in (self.truncation_title, self.truncation_slider, self.truncation_value):
            w.setVisible(truncation)

    def set_classes(self, count: int) -> None:
        """Offer `count` classes (0: an unconditional model, the picker hides)."""
        self.class_combo.clear()
        self.class_combo.addItem("By seed", BY_SEED)
        for c in range(count):
            self.class_combo.addItem(f"Class {c}", c)
        self.class_combo.setVisible(count > 0)
        self.class_label.setVisible(count > 0)

    def labels_for(self, seeds: list[int]) -> list[int] | None:
        """Every tile's class when one is picked; None leaves it to the seed."""
        chosen = self.class_combo.currentData()
        if chosen is None or chosen == BY_SEED:
            return None
        return [int(chosen)] * len(seeds)

    @property
    def temperature(self) -> float:
        """The temperature for the next tiles (1.0 while the truncation slider is shown)."""
        if self.uses_truncation:
            return 1.0
        return self.temperature_slider.value() / TEMPERATURE_STEPS

    @property
    def truncation(self) -> float | None:
        """The truncation threshold for the next tiles; None: off (or not a GAN)."""
        value = self.truncation_slider.value()
        if not self.uses_truncation or value >= TRUNCATION_OFF:
            return None
        return value / TRUNCATION_STEPS

    def _show_truncation(self) -> None:
        value = self.truncation_slider.value()
        self.truncation_value.setText("off" if value >= TRUNCATION_OFF
                                      else f"{value / TRUNCATION_STEPS:.2f}")

    def _show_temperature(self) -> None:
        self.temperature_value.setText(f"{self.temperature:.2f}")


class SamplerControls(QWidget):
    """Steps and classifier-free guidance of an iterative sampler (diffusion,
    flow). Each shows only for a run whose model takes it (hidden, not greyed:
    a GAN has no sampler steps; guidance only for a class-conditional run),
    starting at the run's own values.

    Those values come from building the run's model, which takes a moment, so
    they are read on the worker: `pending` holds until they arrive, then `ready`
    fires; callers wait for it before sampling, so every picture records the
    steps and guidance it was really made with."""

    changed = Signal()
    ready = Signal()

    def __init__(self, steps_name: str, guidance_name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.steps_title = QLabel("Steps")
        self.steps_spin = QSpinBox(objectName=steps_name, minimum=1, maximum=MAX_SAMPLER_STEPS,
                                   value=20)
        self.steps_spin.setToolTip("Sampler steps from noise to picture: fewer are faster and "
                                   "coarser. The same seed, steps and guidance give the same "
                                   "picture")
        self.steps_spin.setAccelerated(True)
        self.guidance_title = QLabel("Guidance")
        self.guidance_spin = QDoubleSpinBox(objectName=guidance_name, minimum=0.0,
                                            maximum=MAX_GUIDANCE, singleStep=0.5, decimals=1,
                                            value=1.0)
        self.guidance_spin.setToolTip("Classifier-free guidance: 0 ignores the class, 1 is the "
                                      "model as trained, higher holds closer to the class with "
                                      "less variety")
        for title, box in ((self.steps_title, self.steps_spin),
                           (self.guidance_title, self.guidance_spin)):
            title.setBuddy(box)
        self.steps_spin.valueChanged.connect(self.changed)
        self.guidance_spin.valueChanged.connect(self.changed)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in (self.steps_title, self.steps_spin, self.guidance_title, self.guidance_spin):
            layout.addWidget(widget)
        self.run_dir: Path | None = None
        self.pending = False
        self._chosen: dict = {}      # values chosen elsewhere while the run's own were read
        self._offer(False, False)

    def set_run(self, worker: EngineWorker, run_dir: Path | None) -> None:
        """Show the controls the run's model takes, and fill them with its own
        steps and guidance (read on the worker; `ready` follows)."""
        from engine.studio.sampling import run_sampling_defaults, run_sampling_options

        self.run_dir = run_dir
        self._chosen = {}
        try:
            options = run_sampling_options(run_dir) if run_dir is not None else ()
        except AtelierError:
            options = ()   # not readable yet; sampling reports any real problem
        self._offer(STEPS in options, GUIDANCE in options)
        self.pending = self.uses_steps or self.uses_guidance
        if not self.pending:
            self.ready.emit()
            return
        worker.submit("sampler-defaults", lambda: (run_dir, run_sampling_defaults(run_dir)),
                      self._on_defaults, "Could not read the run's sampler settings"
                      ).ended.connect(lambda: self._defaults_ended(run_dir))

    def _on_defaults(self, result: tuple[Path, SamplerSettings | None]) -> None:
        run_dir, settings = result
        if run_dir != self.run_dir or settings is None:
            return
        self.blockSignals(True)     # the run's own values, not a choice to react to
        try:
            self.steps_spin.setValue(settings.steps)
            self.guidance_spin.setValue(settings.guidance)
            self._apply(self._chosen)
        finally:
            self.blockSignals(False)

    def choose(self, settings: dict) -> None:
        """Show these values (steps=, guidance=; another page's choice) instead of
        the run's own, also when those are still being read."""
        if self.pending:
            self._chosen = dict(settings)
        else:
            self._apply(settings)

    def _apply(self, settings: dict) -> None:
        if self.uses_steps and settings.get("steps") is not None:
            self.steps_spin.setValue(int(settings["steps"]))
        if self.uses_guidance and settings.get("guidance") is not None:
            self.guidance_spin.setValue(float(settings["guidance"]))

    def _defaults_ended(self, run_dir: Path | None) -> None:
        # Also after a failure: the controls then keep their values, and sampling says
        # what is wrong with the run.
        if run_dir == self.run_dir and self.pending:
            self.pending = False
            self.ready.emit()

    def _offer(self, steps: bool, guidance: bool) -> None:
        self.uses_steps, self.uses_guidance = steps, guidance
        for shown, widgets in ((steps, (self.steps_title, self.steps_spin)),
                               (guidance, (self.guidance_title, self.guidance_spin))):
            for widget in widgets:
                widget.setVisible(shown)
        self.setVisible(steps or guidance)

    @property
    def steps(self) -> int | None:
        """The chosen sampler steps; None when the run's model has none."""
        return self.steps_spin.value() if self.uses_steps else None

    @property
    def guidance(self) -> float | None:
        """The chosen guidance scale; None when the run takes none."""
        return round(self.guidance_spin.value(), 1) if self.uses_guidance else None

    def settings(self) -> dict[str, float]:
        """The chosen values as keyword arguments (steps=, guidance=), only those shown."""
        return {name: value for name, value in (("steps", self.steps), ("guidance", self.guidance))
                if value is not None}
