"""The Runs page's ONNX export: beside the bundle, on the worker thread; refused
with the family's reason, and explained when the onnx packages are missing."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton

from engine.storage.paths import default_runs_dir
from engine.studio import onnx_export
from engine.training import TrainConfig, train

from tests.engine.conftest import write_mnist_folder


@pytest.fixture(scope="module")
def templates(tmp_path_factory) -> dict[str, Path]:
    """A finished three-step dcgan run, and the same folder saying it is a
    row-lstm run: the page decides from the model's name in config.json alone
    (training a real row-lstm would spend half a minute drawing its samples)."""
    data = f"idx:{write_mnist_folder(tmp_path_factory.mktemp('onnx-gui-idx'))}"
    folder = tmp_path_factory.mktemp("onnx-gui-runs")
    config = TrainConfig(model="dcgan", data=data, image_size=28, width=8, batch_size=8,
                         steps=3, device="cpu", seed=0, report_seconds=0.0, sample_every=3)
    list(train(config, folder / "dcgan"))
    relabelled = Path(shutil.copytree(folder / "dcgan", folder / "row-lstm"))
    settings = json.loads((relabelled / "config.json").read_text())
    (relabelled / "config.json").write_text(json.dumps({**settings, "model": "row-lstm"}))
    return {"dcgan": folder / "dcgan", "row-lstm": relabelled}


def runs_page(window, templates, *names: str):
    for name in names:
        shutil.copytree(templates[name], default_runs_dir() / name)
    window.tabs.setCurrentWidget(window.runs_page)
    page = window.runs_page
    page.refresh()
    return page


def onnx_button(window) -> QPushButton:
    button = window.findChild(QPushButton, "runExportOnnxButton")
    assert button is not None, "no button named runExportOnnxButton"
    return button


def test_the_runs_page_exports_onnx_beside_the_bundle(qtbot, window, templates, tmp_path):
    pytest.importorskip("onnxscript")
    onnx = pytest.importorskip("onnx")
    page = runs_page(window, templates, "dcgan")
    assert page.select(page.runs_folder / "dcgan")
    button = onnx_button(window)
    assert button.isEnabled() and button.text() == "Export ONNX…"
    assert button.parentWidget() is window.findChild(QPushButton, "runExportButton").parentWidget()
    out = tmp_path / "digits.onnx"
    with qtbot.waitSignal(page.onnxExported, timeout=120_000) as exported:
        page.export_onnx_selected(out)
    assert exported.args == [str(out)]
    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert meta["model"] == "dcgan" and meta["source_run"] == "dcgan"
    assert str(out) in window.statusBar().currentMessage()
    assert not window.errors.history


def test_a_family_without_onnx_has_the_button_greyed_out_with_its_reason(window, templates):
    page = runs_page(window, templates, "row-lstm")
    assert page.select(page.runs_folder / "row-lstm")
    button = onnx_button(window)
    assert not button.isEnabled()
    assert "row-lstm cannot be exported to ONNX" in button.toolTip()


def test_missing_onnx_packages_are_explained_on_a_click(qtbot, window, templates, monkeypatch):
    real = onnx_export.importlib.util.find_spec
    monkeypatch.setattr(onnx_export.importlib.util, "find_spec",
                        lambda name, *a: None if name in ("onnx", "onnxscript") else real(name, *a))
    page = runs_page(window, templates, "dcgan")
    assert page.select(page.runs_folder / "dcgan")
    qtbot.mouseClick(onnx_button(window), Qt.MouseButton.LeftButton)   # no file dialog first
    qtbot.waitUntil(lambda: bool(window.errors.history), timeout=5_000)
    shown = window.errors.history[-1]
    assert shown.title == "Export ONNX" and onnx_export.INSTALL_HINT in shown.message
