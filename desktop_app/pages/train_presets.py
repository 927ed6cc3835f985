"""The Train page's preset: settings chosen for the data and device
(engine.presets), put into the page's fields until the user changes them.

A field the user edits is theirs from then on: later presets (other data,
another device or model) leave it alone. Unticking "Use preset" puts the plain
defaults back into the fields the user has not changed.

The preset sees only the fields it reads and fills (PresetFields), not the page
that owns them, so this module and the Train page do not import each other.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QLabel, QSizePolicy, QSpinBox

from engine.runtime.device import resolve_device
from engine.errors import AtelierError
from engine.models import model_defaults
from engine.presets import KNOWN_FACTS, DataFacts, Preset, choose_preset
from engine.training import DEFAULT_STEPS, TrainConfig

# Fields a preset sets, and their plain defaults (learning rate: the model's own).
PLAIN_DEFAULTS = {"width": 32, "batch_size": TrainConfig().batch_size, "steps": DEFAULT_STEPS,
                  "minutes": 0.0, "precision": TrainConfig().precision}


@dataclass(frozen=True)
class PresetFields:
    """The Train page's fields a preset reads (data, device, model) and fills."""

    data: QComboBox
    device: QComboBox
    model: QComboBox
    image_size: QComboBox
    width: QSpinBox
    batch_size: QSpinBox
    learning_rate: QDoubleSpinBox
    steps: QSpinBox
    minutes: QDoubleSpinBox
    precision: QComboBox


class TrainPresets:
    def __init__(self, fields: PresetFields) -> None:
        self.fields = fields
        self.facts: dict[str, DataFacts] = dict(KNOWN_FACTS)
        self.user_set: set[str] = set()
        self.preset: Preset | None = None
        self._applying = False
        self.check = QCheckBox("Use preset", objectName="presetCheck", checked=True)
        self.check.setToolTip("Choose model, size, batch, learning rate, budget, augmentation and "
                              "EMA for the data and device; any field you change stays yours")
        self.label = QLabel(objectName="presetLabel", wordWrap=True)
        # A preset's name can take two lines; without this the form gave the label
        # one line's height and cut the rest off.
        self.label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.MinimumExpanding)
        self.check.toggled.connect(lambda _: self.apply())
        for name, signal in self._field_signals().items():
            signal.connect(lambda *_, field=name: self._edited(field))

    def _field_signals(self) -> dict[str, Any]:
        f = self.fields
        return {"model": f.model.currentIndexChanged,
                "image_size": f.image_size.currentIndexChanged,
                "width": f.width.valueChanged, "batch_size": f.batch_size.valueChanged,
                "learning_rate": f.learning_rate.valueChanged, "steps": f.steps.valueChanged,
                "minutes": f.minutes.valueChanged, "precision": f.precision.currentIndexChanged}

    @contextmanager
    def applying(self) -> Iterator[None]:
        """Changes made inside are the program's, not the user's."""
        before, self._applying = self._applying, True
        try:
            yield
        finally:
            self._applying = before

    def _edited(self, field: str) -> None:
        if not self._applying:
            self.user_set.add(field)

    def is_user_set(self, field: str) -> bool:
        return field in self.user_set

    def model_changed(self) -> None:
        """The model combo changed (by the user, or by a preset being applied)."""
        if not self._applying:
            self.apply()

    def data_chosen(self, spec: str, facts: DataFacts | None) -> None:
        if facts is not None:
            self.facts[spec] = facts
        self.apply()

    def model_settings(self) -> dict[str, Any]:
        """The preset's model settings (augmentation, EMA) for the run's config."""
        if self.preset is None or not self.check.isChecked():
            return {}
        return dict(self.preset.settings.get("model_settings", {}))

    def apply(self) -> None:
        """Choose the preset for the current data, device and (if the user chose
        one) model, and fill the fields the user has not changed."""
        f = self.fields
        spec = f.data.currentData()
        facts = self.facts.get(spec)
        if not self.check.isChecked() or facts is None:
            self.preset = None
            self.label.setText("Preset: off (plain defaults)" if not self.check.isChecked()
                               else "Preset: load this data on the Data page to get one")
            self.label.setToolTip("")
            self._fill(Preset("plain defaults"))
            return
        try:
            device = resolve_device(f.device.currentData() or "auto")
        except AtelierError:
            device = resolve_device("cpu")
        model = f.model.currentData() if "model" in self.user_set else None
        self.preset = choose_preset(facts, device, model=model)
        self._fill(self.preset)
        self.label.setText(self.preset.summary())
        self.label.setToolTip("\n".join(self.preset.applied({f: True for f in self.user_set}))
                              or "Every setting is yours")

    def _fill(self, preset: Preset) -> None:
        f = self.fields
        with self.applying():
            if "model" not in self.user_set and preset.value("model") is not None:
                index = f.model.findData(preset.value("model"))
                if index >= 0:
                    f.model.setCurrentIndex(index)
            values = {**PLAIN_DEFAULTS,
                      "learning_rate": model_defaults(f.model.currentData()).learning_rate,
                      **{k: v for k, v in preset.settings.items() if k != "model_settings"}}
            if "image_size" not in self.user_set and "image_size" in values:
                index = f.image_size.findData(values["image_size"])
                if index >= 0 and f.image_size.isEnabled():
                    f.image_size.setCurrentIndex(index)
            widgets = {"width": f.width, "batch_size": f.batch_size,
                       "learning_rate": f.learning_rate, "steps": f.steps, "minutes": f.minutes}
            for field, widget in widgets.items():
                if field not in self.user_set and field in values:
                    widget.setValue(values[field] or 0)
            if "precision" not in self.user_set:
                index = f.precision.findData(values["precision"])
                if index >= 0:
                    f.precision.setCurrentIndex(index)
