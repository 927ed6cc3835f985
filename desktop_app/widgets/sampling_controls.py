"""Gallery sampling controls: the class of a conditional model's tiles and the
latent temperature. Together with the seed they fix a tile's image."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSlider, QWidget

BY_SEED = -1                 # class picker value: each tile's class is its seed mod classes
TEMPERATURE_STEPS = 100      # slider units per 1.0 of temperature


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
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.class_label)
        layout.addWidget(self.class_combo)
        layout.addWidget(QLabel("Temperature"))
        layout.addWidget(self.temperature_slider)
        layout.addWidget(self.temperature_value)
        self.set_classes(0)
        self._show_temperature()

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
        return self.temperature_slider.value() / TEMPERATURE_STEPS

    def _show_temperature(self) -> None:
        self.temperature_value.setText(f"{self.temperature:.2f}")
