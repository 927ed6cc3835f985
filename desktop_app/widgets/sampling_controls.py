"""Gallery sampling controls: the class of a conditional model's tiles, the
latent temperature (VAEs and others) or the truncation (GANs). Together with
the seed they fix a tile's image."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSlider, QWidget

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
