"""The data doctor on the Data page and the Train page, a gallery tile's nearest
training pictures, and the Runs page's memorisation score, driven by objectName."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (QComboBox, QDialog, QLabel, QLineEdit, QListWidget, QPushButton,
                               QTableWidget, QTabWidget, QTreeWidget)

from engine.data import load_data
from engine.runs.folders import RunDir
from engine.storage.paths import default_runs_dir
from engine.training import TrainConfig, train
from tests.engine.conftest import write_mnist_folder


def find(window, kind, name):
    widget = window.findChild(kind, name)
    assert widget is not None, name
    return widget


def doctor_folder(root: Path) -> Path:
    """Six distinct pictures, one planted copy, one tiny picture, one wide one and
    a file that is not a picture."""
    root.mkdir(parents=True)
    rng = np.random.default_rng(3)
    for name, size in [(f"p{i}.png", (64, 64)) for i in range(6)] + [("tiny.png", (8, 8)),
                                                                     ("wide.png", (128, 64))]:
        field = rng.integers(0, 256, (5, 5, 3), dtype=np.uint8)
        Image.fromarray(field).resize(size, Image.Resampling.BICUBIC).save(root / name)
    shutil.copy(root / "p2.png", root / "p2 copy.png")
    (root / "notes.txt").write_text("not a picture")
    return root


def tree_texts(tree: QTreeWidget) -> list[str]:
    texts = []

    def walk(item, depth):
        texts.append("  " * depth + " | ".join(item.text(c) for c in range(2)))
        for i in range(item.childCount()):
            walk(item.child(i), depth + 1)

    for i in range(tree.topLevelItemCount()):
        walk(tree.topLevelItem(i), 0)
    return texts


def test_the_data_page_reports_the_doctor_and_the_train_page_points_to_it(window, qtbot, tmp_path):
    root = doctor_folder(tmp_path / "mine")
    window.tabs.setCurrentWidget(window.data_page)
    source = find(window, QComboBox, "dataSourceCombo")
    source.setCurrentIndex(source.findData("folder"))
    find(window, QLineEdit, "dataPathEdit").setText(str(root))
    with qtbot.waitSignal(window.data_page.scanEnded, timeout=30_000):
        qtbot.mouseClick(find(window, QPushButton, "dataScanButton"), Qt.MouseButton.LeftButton)
    size = window.train_page.image_size()
    summary = find(window, QLabel, "dataSummaryLabel").text()
    assert f"Data doctor at {size} px: 9 pictures; 1 skipped; 1 group of near-duplicates" in summary
    tabs = find(window, QTabWidget, "dataReportTabs")
    assert tabs.tabText(0) == "Skipped files (1)" and tabs.currentIndex() == 0
    assert tabs.tabText(1) == "Data doctor (1 duplicate group, 1 tiny, mixed shapes)"
    texts = tree_texts(find(window, QTreeWidget, "dataDoctorList"))
    assert "Near-duplicates: 1 groups | the model sees these pictures more than once; keep one " \
           "of each" in texts
    assert "    p2 copy.png | " in texts and "    p2.png | " in texts
    assert f"  tiny.png | 8 x 8, enlarged {size / 8:.1f}x" in texts
    assert any(t.startswith("  2:1 landscape: 1 | centre crop keeps 50%") for t in texts)
    assert any(t.startswith("    wide.png | 128 x 64: centre crop keeps 50%") for t in texts)

    qtbot.mouseClick(find(window, QPushButton, "dataUseButton"), Qt.MouseButton.LeftButton)
    assert window.tabs.currentWidget() is window.train_page
    note = find(window, QLabel, "trainDataNote")
    assert note.isVisible() and note.text().startswith("9 pictures; 1 skipped; 1 group of")
    assert note.text().endswith(': <a href="data">see Data</a>')
    note.linkActivated.emit("data")                       # the link a person clicks
    assert window.tabs.currentWidget() is window.data_page
    combo = find(window, QComboBox, "dataCombo")
    combo.setCurrentIndex(combo.findData("mnist"))        # other data: no note
    assert not note.isVisible()


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("copy-check")
    data = write_mnist_folder(base / "data", n_train=32, n_test=8)
    out = base / "run"
    list(train(TrainConfig(model="dcgan", data=f"idx:{data}", image_size=28, width=8,
                           batch_size=8, steps=2, device="cpu", sample_every=1000,
                           report_seconds=0.0), out))
    return out


def test_a_tile_that_is_a_training_picture_is_shown_as_an_exact_copy(window, qtbot, digits_run):
    page = window.gallery_page
    window.tabs.setCurrentWidget(page)
    page.count_spin.setValue(4)
    assert page.open_source(digits_run)
    qtbot.waitUntil(lambda: page.grid.count() == 4 and page.generate_button.isEnabled(),
                    timeout=60_000)
    action = find(window, QAction, "nearestTrainingAction")
    button = find(window, QPushButton, "nearestTrainingButton")
    assert not action.isEnabled() and not button.isEnabled()        # no tile selected
    assert action in page.grid.actions()                              # the tiles' context menu
    spec = RunDir(digits_run).read_config()["data"]["spec"]
    planted = load_data(spec, "train", size=28).images[7].transpose(1, 2, 0)
    seed = page.grid.item(1).data(Qt.ItemDataRole.UserRole)
    page.images[seed] = planted                                       # the tile is a copy
    page.grid.item(1).setSelected(True)
    assert action.isEnabled() and button.isEnabled()
    action.trigger()
    dialog = find(window, QDialog, "nearestDialog")
    verdict = find(dialog, QLabel, "nearestVerdict")
    qtbot.waitUntil(lambda: dialog.result is not None and dialog.job is None, timeout=60_000)
    assert verdict.text().startswith("An exact copy of training picture #")
    by_pixels = find(dialog, QListWidget, "nearestByPixels")
    by_features = find(dialog, QListWidget, "nearestByFeatures")
    assert by_pixels.count() == by_features.count() == 6
    assert "pixels 0.0" in by_pixels.item(0).text() and "features 0" in by_pixels.item(0).text()
    assert "closest 5%" in find(dialog, QLabel, "nearestYardstick").text()
    dialog.close()


def test_the_runs_page_shows_the_latest_memorisation_score(window, digits_run):
    run = Path(shutil.copytree(digits_run, default_runs_dir() / "copier"))
    RunDir(run).append_metrics({"kind": "evaluation", "step": 2, "fd": 4.0, "samples": 20,
                                "features": "x", "fd_label": "FD@20", "checkpoint": None,
                                "memorisation_score": 0.8, "memorisation_score_quantile": 0.05})
    page = window.runs_page
    window.tabs.setCurrentWidget(page)
    page.refresh()
    table = find(window, QTableWidget, "runsTable")
    column = [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())
              ].index("Memorisation")
    row = next(r for r in range(table.rowCount()) if table.item(r, 0).text() == "copier")
    cell = table.item(row, column)
    assert cell.text() == "80%" and "at step 2" in cell.toolTip() and "copier" in cell.toolTip()
