"""The dialog for exporting a run's training time-lapse as a GIF."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QDoubleSpinBox, QFileDialog, QFormLayout,
                               QHBoxLayout, QLabel, QLineEdit, QPushButton, QSpinBox, QWidget)


class TimelapseDialog(QDialog):
    def __init__(self, run_dir: Path, frames: int, frame_size: tuple[int, int],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("timelapseDialog")
        self.setWindowTitle("Export time-lapse GIF")
        self.frames, self.frame_size = frames, frame_size
        self.path_edit = QLineEdit(str(run_dir / "timelapse.gif"), objectName="timelapsePathEdit")
        browse = QPushButton("Browse…", objectName="timelapseBrowseButton")
        browse.clicked.connect(self._browse)
        path_row = QHBoxLayout()
        path_row.addWidget(self.path_edit, 1)
        path_row.addWidget(browse)
        self.fps_spin = QDoubleSpinBox(objectName="timelapseFpsSpin", minimum=0.5, maximum=50.0,
                                       value=10.0, decimals=1, suffix=" fps")
        self.scale_spin = QSpinBox(objectName="timelapseScaleSpin", minimum=1, maximum=8, value=2,
                                   suffix=" x")
        self.tiles_edit = QLineEdit(objectName="timelapseTilesEdit")
        self.tiles_edit.setPlaceholderText("whole grid")
        self.tiles_edit.setToolTip("Only these tiles of the 8 x 8 grid (0-63, which are also their "
                                   "seeds), e.g. 0, 9, 12; empty for the whole grid")
        self.summary = QLabel(objectName="timelapseSummary")
        self.fps_spin.valueChanged.connect(self._update_summary)
        self.scale_spin.valueChanged.connect(self._update_summary)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self._accept_if_valid)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("File", path_row)
        form.addRow("Frame rate", self.fps_spin)
        form.addRow("Scale", self.scale_spin)
        form.addRow("Tiles", self.tiles_edit)
        form.addRow(self.summary)
        form.addRow(self.buttons)
        self._update_summary()

    def _browse(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save time-lapse", self.path_edit.text(),
                                              "GIF animation (*.gif)")
        if path:
            self.path_edit.setText(path if path.lower().endswith(".gif") else path + ".gif")

    def _update_summary(self) -> None:
        w, h = (d * self.scale_spin.value() for d in self.frame_size)
        seconds = self.frames / self.fps_spin.value()
        self.summary.setText(f"{self.frames} frames of {w} x {h} pixels, {seconds:.1f} s, looping")

    def _accept_if_valid(self) -> None:
        if not self.path_edit.text().strip():
            self.summary.setText("Choose a file to save to.")
            return
        try:
            self.tiles()
        except ValueError as exc:
            self.summary.setText(str(exc))
            return
        self.accept()

    def tiles(self) -> list[int] | None:
        """The chosen tiles, or None for the whole grid; ValueError says what is wrong."""
        text = self.tiles_edit.text().replace(" ", "").strip(",")
        if not text:
            return None
        try:
            tiles = [int(part) for part in text.split(",")]
        except ValueError:
            raise ValueError("Tiles: whole numbers from 0 to 63, separated by commas.") from None
        if not all(0 <= t <= 63 for t in tiles):
            raise ValueError("Tiles: whole numbers from 0 to 63, separated by commas.")
        return tiles

    def choice(self) -> tuple[Path, float, int, list[int] | None]:
        return (Path(self.path_edit.text().strip()).expanduser(), self.fps_spin.value(),
                self.scale_spin.value(), self.tiles())
