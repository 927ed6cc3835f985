"""Trained models the app ships, to play with before any training of one's own
(resources/starter, made by tools/make_starter_bundles.py).

Each is an ordinary model bundle whose metadata also says what it is
("starter": its title and how it was trained) and how good it is
("evaluation": FD and KID against the MNIST test set on the shipped
evaluator). "Try a trained model" opens the first; its arrow lists them all.

The order: on a computer without a GPU, models that make a picture in one
pass (a GAN, a VAE) come before those with an iterative sampler (diffusion,
flow), whose latent walk takes tens of seconds on a CPU, all the more while a
training run shares it; within each, the lowest FD first. With a GPU, the
lowest FD first.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QToolButton, QWidget

from resources import resource_path

STARTER_KEY = "starter"          # the metadata keys tools/make_starter_bundles.py writes
EVALUATION_KEY = "evaluation"


@dataclass(frozen=True)
class Starter:
    path: Path
    title: str
    model: str
    fd: float | None = None
    fd_label: str = "FD"
    iterative: bool = False      # an iterative sampler (many network passes a picture)

    def describe(self) -> str:
        """One line for a menu item's tooltip."""
        score = f"; {self.fd_label.split(' ')[0]} {self.fd:.1f} on the digits (lower is " \
                "closer to real ones)" if self.fd is not None else ""
        slow = "; an iterative sampler, so its pictures and walks take longer on a CPU" \
            if self.iterative else ""
        return f"{self.title}: a {self.model} model trained on the bundled MNIST digits{score}{slow}"


def starter_folder() -> Path:
    return resource_path("starter")


def starter_models(folder: Path | None = None, gpu: bool | None = None) -> list[Starter]:
    """The shipped models in the order offered (above); a file that is not a
    readable bundle is left out (opening one reports the problem, listing never
    does). `gpu`: whether sampling runs on a GPU (None: whether this computer has one)."""
    from engine.errors import AtelierError
    from engine.models import find_model
    from engine.models.base import STEPS
    from engine.runs.bundles import BUNDLE_SUFFIX
    from engine.runtime.device import resolve_device
    from engine.storage.safetensors_file import read_header

    folder = folder if folder is not None else starter_folder()
    found = []
    for path in sorted(folder.glob(f"*{BUNDLE_SUFFIX}")) if folder.is_dir() else []:
        try:
            meta = read_header(path).metadata
            about = json.loads(meta.get(STARTER_KEY) or "{}")
            scores = json.loads(meta.get(EVALUATION_KEY) or "{}")
        except (AtelierError, OSError, ValueError):
            continue
        fd = scores.get("fd") if isinstance(scores, dict) else None
        spec = find_model(str(meta.get("model", "")))
        found.append(Starter(path=path, title=str(about.get("title") or path.name),
                             model=str(meta.get("model", "?")),
                             fd=float(fd) if isinstance(fd, (int, float)) else None,
                             fd_label=str(scores.get("fd_label", "FD")),
                             iterative=spec is not None and STEPS in spec.capabilities))
    if gpu is None:
        gpu = resolve_device("auto").type != "cpu"
    return sorted(found, key=lambda s: (s.iterative and not gpu, s.fd is None,
                                        s.fd if s.fd is not None else 0, s.title))


class StarterButton(QToolButton):
    """"Try a trained model": a click opens the best shipped model, the arrow
    lists them all. Hidden when the app ships none."""

    chosen = Signal(object)   # Path of the bundle

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self.setText("Try a trained model")
        self.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        self.starters = starter_models()
        menu = QMenu(self)
        for starter in self.starters:
            action = QAction(starter.title, menu)
            action.setToolTip(starter.describe())
            action.triggered.connect(lambda _=False, path=starter.path: self.chosen.emit(path))
            menu.addAction(action)
        menu.setToolTipsVisible(True)
        self.setMenu(menu)
        if self.starters:
            self.setToolTip(f"Open {self.starters[0].describe()}. The arrow lists "
                            f"{len(self.starters)} shipped models to play with before training "
                            "your own.")
            self.clicked.connect(lambda: self.chosen.emit(self.starters[0].path))
        self.available = bool(self.starters)
        self.setVisible(self.available)

    def offer(self, shown: bool) -> None:
        """Show the button (when the page has no run) if there is anything to offer."""
        self.setVisible(shown and self.available)
