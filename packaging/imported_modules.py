"""Print (as JSON) every module the app imports while it does its work.

    QT_QPA_PLATFORM=offscreen python packaging/imported_modules.py

The spec uses the list to leave out the `.py` sources of torch modules the app
never imports: torch's hook collects every module's source beside its bytecode
(torch reads some of its own sources at run time), which is 46 MB, about half
of it for compilers, distributed training and test helpers the app never loads.
The bytecode of every module stays in the bundle, so a rarely used module still
imports; it only has no source to show in a traceback.

What it exercises: every module of engine/ and desktop_app/ imported, the main
window built, each registered model trained for a step, saved and restored as
resume state, sampled and (where it has one) its own process rendered, the
app's self-test (train, sample, time-lapse GIF) for two steps, and an animation
written in every export format.
"""
from __future__ import annotations

import importlib
import json
import os
import pkgutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def import_package(name: str) -> None:
    package = importlib.import_module(name)
    for info in pkgutil.walk_packages(package.__path__, prefix=f"{name}."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)


def exercise_models() -> None:
    import torch

    from engine.models import build_model, model_accepts, model_config, model_names

    for name in model_names():
        settings = {"width": 8}
        if model_accepts(name, "num_classes"):
            settings["num_classes"] = 10
        model = build_model(name, model_config(name, **settings), torch.device("cpu"), seed=0)
        c = model.config
        frames = (3,) if model.data_kind == "sequences" else ()
        images = torch.rand(4, *frames, c.channels, c.image_size, c.image_size) * 2 - 1
        labels = torch.arange(4) % 10 if model.uses_labels else None
        model.train_step(images, labels)
        model.load_training_state(*model.training_state())
        if model.latent_noise:
            model.sample([0, 1])


def exercise_exports(out: Path) -> None:
    import numpy as np

    from engine.exporters import FORMATS, ExportOptions, export_animation

    frames = [np.full((16, 16, 1), 16 * i, dtype=np.uint8) for i in range(4)]
    for fmt, (_, ending) in FORMATS.items():
        export_animation(frames, out / f"walk-{fmt}{ending}", fmt, ExportOptions(fps=8, scale=2),
                         {"kind": "probe"})


def probe_imported_modules() -> set[str]:
    """Run this script in a fresh Python (the build's) and return its module list."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(Path(__file__).resolve())], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"packaging/imported_modules.py failed:\n{done.stderr[-2000:]}")
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def unused_torch_source(dest: str, imported: set[str]) -> bool:
    """Whether `dest` (a path in the bundle) is the .py source of a torch module not imported."""
    dest = dest.replace("\\", "/")
    if not (dest.startswith("torch/") and dest.endswith(".py")):
        return False
    module = dest[:-3].replace("/", ".")
    module = module[:-len(".__init__")] if module.endswith(".__init__") else module
    return module not in imported


def main() -> int:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    with tempfile.TemporaryDirectory(prefix="atelier-probe-") as tmp:
        os.environ["LATENT_ATELIER_HOME"] = str(Path(tmp) / "home")
        from PySide6.QtWidgets import QApplication

        app = QApplication.instance() or QApplication(["probe"])
        import_package("engine")
        import_package("desktop_app")
        from desktop_app.main_window import MainWindow

        window = MainWindow()
        exercise_models()
        exercise_exports(Path(tmp))
        from engine.self_test import run_self_test

        run_self_test(Path(tmp) / "self-test", steps=2)   # on the bundled MNIST
        window.worker.shutdown()
        window.close()
        app.processEvents()
    print(json.dumps(sorted(sys.modules)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
