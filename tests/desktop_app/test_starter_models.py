"""Something to play with before any training: the shipped models, "Try a trained
model" on the Gallery and Animate pages, and a first GIF from a first launch
in a few clicks. No Qt warning logged."""
from __future__ import annotations

import importlib.util
import json
import sys
import tomllib
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QToolButton

from engine.runs.bundles import BUNDLE_SUFFIX, inspect_bundle
from engine.storage.safetensors_file import read_header
from engine.studio.exporters.provenance import read_provenance
from engine.training import TrainConfig, train
from tests.engine.conftest import write_mnist_folder

ROOT = Path(__file__).parents[2]
PLATFORM_NOISE = ("This plugin does not support",)


def load_tool():
    spec = importlib.util.spec_from_file_location("make_starter_bundles",
                                                  ROOT / "tools" / "make_starter_bundles.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module      # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def starter_dir(tmp_path_factory) -> Path:
    """Two tiny starters written the way the tool writes them, the VAE scoring better."""
    tool = load_tool()
    base = tmp_path_factory.mktemp("starters")
    data = write_mnist_folder(base / "data", n_train=32, n_test=8)
    out = base / "starter"
    for model, fd, extra in (("dcgan", 300.0, {"width": 8}), ("mlp-vae", 120.0, {})):
        run = base / model
        list(train(TrainConfig(model=model, data=f"idx:{data}", image_size=28, batch_size=8,
                               steps=2, device="cpu", seed=0, report_seconds=0.0, **extra), run))
        starter = tool.Starter(f"tiny-{model}", f"Tiny {model}", {"model": model, "steps": 2})
        tool.write_bundle(starter, run, {"fd": fd, "fd_label": "FD@50", "samples": 50}, out, 1.0,
                          starter.settings)
    return out


@pytest.fixture
def starters(starter_dir, monkeypatch) -> Path:
    from desktop_app import starter_models

    monkeypatch.setattr(starter_models, "starter_folder", lambda: starter_dir)
    return starter_dir


def test_the_tool_writes_bundles_with_their_scores(starter_dir):
    path = starter_dir / f"tiny-dcgan{BUNDLE_SUFFIX}"
    assert inspect_bundle(path).model == "dcgan"           # an ordinary, checked bundle
    meta = read_header(path).metadata
    assert json.loads(meta["evaluation"])["fd"] == 300.0
    about = json.loads(meta["starter"])
    assert about["title"] == "Tiny dcgan" and about["settings"]["steps"] == 2


def test_try_a_trained_model_on_animate_then_export_a_gif(qtbot, qtlog, starters, window,
                                                          tmp_path, monkeypatch):
    studio, gallery = window.animate_page, window.gallery_page
    window.tabs.setCurrentWidget(studio)
    button = window.findChild(QToolButton, "animateTryStarterButton")
    assert button.isVisible()
    titles = [action.text() for action in button.menu().actions()]
    assert titles == ["Tiny mlp-vae", "Tiny dcgan"]           # best first (lowest FD)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)

    best = starters / f"tiny-mlp-vae{BUNDLE_SUFFIX}"
    assert studio.run_dir == best and gallery.run_dir == best   # one current run
    assert not button.isVisible()
    assert [k.seed for k in studio.keyframes()] == [0, 1, 2, 3]
    qtbot.waitUntil(lambda: studio.is_preview_current() and not studio._preview_busy,
                    timeout=60_000)
    assert studio._player.isActive()

    # Ctrl+E, a name typed in the save dialog: the GIF.
    target = tmp_path / "first.gif"
    offered = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        lambda parent, title, suggested, *rest: offered.append(suggested)
                        or (str(target), ""))
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=2_000)
    qtbot.keyClick(studio, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: target.is_file() and studio.export_button.isEnabled(),
                    timeout=60_000)
    info = read_provenance(target)
    assert info["seeds"] == [0, 1, 2, 3] and info["model"] == "mlp-vae"
    # The save dialog never starts inside the shipped model's folder (read-only once installed).
    assert not offered[0].startswith(str(starters))
    qtbot.waitUntil(lambda: not gallery._generating, timeout=30_000)
    assert [r.message for r in qtlog.records if not r.message.startswith(PLATFORM_NOISE)] == []


def test_the_gallery_offers_them_while_no_run_is_open(qtbot, starters, window):
    gallery = window.gallery_page
    window.tabs.setCurrentWidget(gallery)
    button = window.findChild(QToolButton, "tryStarterButton")
    assert button.isVisible()
    button.menu().actions()[1].trigger()                      # the other one, from the arrow
    assert gallery.run_dir == starters / f"tiny-dcgan{BUNDLE_SUFFIX}"
    assert not button.isVisible()
    qtbot.waitUntil(lambda: gallery.grid.count() == gallery.count_spin.value()
                    and not gallery._generating, timeout=30_000)


def test_the_shipped_models_are_small_scored_and_packaged():
    from desktop_app.starter_models import starter_folder, starter_models

    shipped = starter_models()
    assert len(shipped) == 3 and starter_folder() == ROOT / "resources" / "starter"
    assert sum(s.path.stat().st_size for s in shipped) < 8_000_000       # a few MB in all
    for starter in shipped:
        info = inspect_bundle(starter.path)
        assert info.data.get("spec") == "mnist", starter.path.name
        assert starter.fd is not None and starter.fd_label.startswith("FD@2000")
    # On a GPU the best first; on a CPU the one-pass models first (a flow walk is slow there).
    assert [s.fd for s in starter_models(gpu=True)] == sorted(s.fd for s in shipped)
    on_cpu = starter_models(gpu=False)
    assert [s.iterative for s in on_cpu] == sorted(s.iterative for s in on_cpu)
    assert not on_cpu[0].iterative and on_cpu[-1].model == "flow"
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "starter/*.safetensors" in pyproject["tool"]["setuptools"]["package-data"]["resources"]
    assert "_bundled_resources" in (ROOT / "packaging" / "latent_atelier.spec").read_text()
