"""The Animate page's kinds besides the latent walk: a family's own process
(row-by-row filling, DRAW's canvas, a ConvLSTM rollout, a diffusion model
denoising) and a morph between the artist's pictures (a VAE through its
reconstructions, a diffusion or flow model through inversion). Each panel holds
its settings and says what the preview should render; the page renders, plays
and exports every kind the same way."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QFileDialog, QGroupBox,
                               QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QPushButton,
                               QSpinBox, QVBoxLayout, QWidget)

KINDS = {"interpolate": "Latent walk", "process": "Process", "morph": "Morph between pictures"}
PATH_ROLE = Qt.ItemDataRole.UserRole
LABEL_ROLE = Qt.ItemDataRole.UserRole + 1
PICTURE_FILTER = "Pictures (*.png *.jpg *.jpeg *.webp *.bmp *.gif *.tif *.tiff);;All files (*)"


KINDS_TOOLTIP = ("Latent walk through seeds; the model's own process (filling in, drawing, "
                 "denoising, ...); or a morph between your own pictures")


def kind_combo() -> QComboBox:
    combo = QComboBox(objectName="animationKindCombo")
    for kind, text in KINDS.items():
        combo.addItem(text, kind)
    combo.setToolTip(KINDS_TOOLTIP)
    return combo


def set_kinds_available(combo: QComboBox, reasons: dict[str, str | None]) -> None:
    """Show only the kinds the run can make (hidden, not greyed: disabled too, so
    the keyboard skips them); the combo's tooltip says why the others are missing."""
    for kind, reason in reasons.items():
        row = combo.findData(kind)
        combo.model().item(row).setEnabled(reason is None)
        combo.view().setRowHidden(row, reason is not None)
    missing = [reason for reason in reasons.values() if reason]
    combo.setToolTip("\n".join([KINDS_TOOLTIP, *missing]))


class ProcessPanel(QGroupBox):
    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Process", parent)
        self.seed_spin = QSpinBox(objectName="processSeedSpin", minimum=0, maximum=2**31 - 1)
        self.seed_spin.setToolTip("The seed whose image is generated step by step")
        self.seed_spin.valueChanged.connect(self.changed)
        # Diffusion and flow models (PREDICTION): each step's guess of the finished picture.
        self.prediction_check = QCheckBox("Show the predicted picture at each step",
                                          objectName="processPredictionCheck")
        self.prediction_check.setToolTip("Each frame shows the finished picture the model "
                                         "predicts at that step, instead of the noisy picture "
                                         "it has so far")
        self.prediction_check.toggled.connect(self.changed)
        self.about = QLabel(wordWrap=True)
        row = QHBoxLayout()
        row.addWidget(QLabel("Seed"))
        row.addWidget(self.seed_spin, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.prediction_check)
        layout.addWidget(self.about)
        layout.addStretch(1)
        self.set_process(None)

    def set_process(self, name: str | None, having: str = "", predicts: bool = False) -> None:
        """Say what the process is (`name`), or that the run's model has none and
        which models do (`having`); offer the predicted picture when the model
        makes one (`predicts`)."""
        self.about.setText(f"Each frame is one step of the model's {name}." if name else
                           "This run's model has no process of its own"
                           + (f" ({having} do)." if having else "."))
        self.prediction_check.setVisible(predicts)

    @property
    def seed(self) -> int:
        return self.seed_spin.value()

    @property
    def shows(self) -> str | None:
        """What the frames show ("sample" or "prediction") for a model that
        predicts; None for the others (their process has one view)."""
        if self.prediction_check.isHidden():
            return None
        return "prediction" if self.prediction_check.isChecked() else "sample"


class MorphPanel(QGroupBox):
    """Two or more pictures to morph between, in order; drop files or add them."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Pictures to morph between", parent)
        self.picture_list = QListWidget(objectName="morphPictureList")
        self.picture_list.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
        self.picture_list.model().rowsMoved.connect(self.changed)
        self.picture_list.setToolTip("Drag to reorder; drop picture files here to add them")
        self.picture_list.itemSelectionChanged.connect(self._update_enabled)
        self.add_button = QPushButton("Add pictures…", objectName="morphAddButton")
        self.add_button.clicked.connect(self._choose)
        self.remove_button = QPushButton("Remove", objectName="morphRemoveButton")
        self.remove_button.clicked.connect(self.remove_selected)
        self.class_spin = QSpinBox(objectName="morphClassSpin", minimum=-1, maximum=9999, value=-1)
        self.class_spin.setSpecialValueText("no class")
        self.class_spin.setToolTip("Class of the pictures added next: conditional VAEs need one; "
                                   "a conditional diffusion or flow model is guided by it, or by "
                                   "none")
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        self.class_label = QLabel("Class")
        buttons.addWidget(self.class_label)
        buttons.addWidget(self.class_spin)
        layout = QVBoxLayout(self)
        layout.addWidget(self.picture_list, 1)
        layout.addLayout(buttons)
        self.setAcceptDrops(True)
        self._update_enabled()

    def set_classes(self, count: int) -> None:
        """A class picker only for a run that draws from classes (`count` > 0)."""
        self.class_spin.setMaximum(max(count - 1, 0) if count else 9999)
        for widget in (self.class_label, self.class_spin):
            widget.setVisible(count > 0)

    def add_pictures(self, paths: list[str | Path], label: int | None = None) -> None:
        if label is None and self.class_spin.value() >= 0:
            label = self.class_spin.value()
        for path in paths:
            path = Path(path)
            item = QListWidgetItem(path.name + (f"  ·  class {label}" if label is not None else ""))
            item.setData(PATH_ROLE, str(path))
            item.setData(LABEL_ROLE, label)
            item.setToolTip(str(path))
            self.picture_list.addItem(item)
        if paths:
            self.changed.emit()

    def remove_selected(self) -> None:
        for item in self.picture_list.selectedItems():
            self.picture_list.takeItem(self.picture_list.row(item))
        self.changed.emit()

    def pictures(self) -> tuple[list[str], list[int] | None]:
        """(paths in order, a class per picture or None when none has one)."""
        items = [self.picture_list.item(i) for i in range(self.picture_list.count())]
        paths = [item.data(PATH_ROLE) for item in items]
        labels = [item.data(LABEL_ROLE) for item in items]
        return paths, (None if all(label is None for label in labels) else labels)

    def _choose(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Pictures to morph between", str(Path.home()),
                                                PICTURE_FILTER)
        self.add_pictures(paths)

    def _update_enabled(self) -> None:
        self.remove_button.setEnabled(bool(self.picture_list.selectedItems()))

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt's name
        files = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if files:
            event.acceptProposedAction()
            self.add_pictures(files)
