"""Print (as JSON) every module the app imports while it does its work, and the
torch sources torch itself reads meanwhile.

    QT_QPA_PLATFORM=offscreen python packaging/imported_modules.py

torch's hook collects every module's `.py` source beside its bytecode (46 MB),
because torch reads some of its own sources at run time: TorchScript compiles
functions from their source, config modules parse theirs, custom operators
note where they were defined. Of the sources of modules the app imports, the
spec keeps only those torch reads here, plus every one whose text shows it may
(`needs_own_source`); the rest go, and the sources of modules never imported go
too. The bytecode of every kept module stays in the bundle, so a module still
imports without its source; it only has no source lines in a traceback.

What it exercises: every module of engine/ and desktop_app/ imported, the main
window built, each registered model trained for a step, saved and restored as
resume state, sampled and (where it has one) its own process rendered, the
app's self-test (train, sample, time-lapse GIF) for two steps, and an animation
written in every export format.
"""
from __future__ import annotations

import importlib
import importlib.util
import json
import os
import pkgutil
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STDLIB = os.path.dirname(os.__file__)


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

    from engine.studio.exporters import FORMATS, ExportOptions, export_animation

    from engine.media.video_support import video_unavailable

    frames = [np.full((16, 16, 1), 16 * i, dtype=np.uint8) for i in range(4)]
    for fmt, (_, ending) in FORMATS.items():
        if fmt == "mp4" and video_unavailable() is not None:
            continue   # building without video, with no PyAV installed: nothing to collect
        export_animation(frames, out / f"walk-{fmt}{ending}", fmt, ExportOptions(fps=8, scale=2),
                         {"kind": "probe"})


# Text that shows a torch module may have its own source read at run time:
# TorchScript (jit.script, overloads), config modules, custom operators and
# anything that asks inspect for source lines.
SOURCE_READERS = re.compile(r"jit\.|_overload|install_config_module|custom_op|torch\.library|"
                            r"register_fake|getsource|findsource|_sources")


@dataclass(frozen=True)
class Probe:
    modules: frozenset[str]          # every module imported
    sources_read: frozenset[str]     # torch modules whose source torch read


def probe_app() -> Probe:
    """Run this script in a fresh Python (the build's) and return what it found."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(Path(__file__).resolve())], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"packaging/imported_modules.py failed:\n{done.stderr[-2000:]}")
    found = json.loads(done.stdout.strip().splitlines()[-1])
    return Probe(frozenset(found["modules"]), frozenset(found["sources_read"]))


def torch_module(dest: str) -> str | None:
    """The module whose source `dest` (a path in the bundle) is, if it is a torch .py file."""
    dest = dest.replace("\\", "/")
    if not (dest.startswith("torch/") and dest.endswith(".py")):
        return None
    module = dest[:-3].replace("/", ".")
    return module[:-len(".__init__")] if module.endswith(".__init__") else module


def needs_own_source(text: str) -> bool:
    return SOURCE_READERS.search(text) is not None


def torch_source_left_out(dest: str, source: str | Path, probe: Probe) -> bool:
    """Whether the bundle can do without file `dest` (copied from `source`): a torch
    module's .py that was never imported, or that torch neither read in the probe
    nor, by its text, may read."""
    module = torch_module(dest)
    if module is None:
        return False
    if module not in probe.modules:
        return True
    if module in probe.sources_read:
        return False
    return not needs_own_source(Path(source).read_text(encoding="utf-8", errors="replace"))


class SourceReadWatch:
    """Notes the torch .py files opened by torch code other than the importer (an audit hook)."""

    def __init__(self, torch_dir: Path) -> None:
        self.torch_dir = str(torch_dir) + os.sep     # the installed torch package
        self.read: set[str] = set()
        sys.addaudithook(self._hook)

    def _hook(self, event: str, args: tuple) -> None:
        if event != "open" or not isinstance(args[0], str) or not args[0].endswith(".py") \
                or not args[0].startswith(self.torch_dir):
            return
        # The reader is the innermost frame outside the standard library
        # (inspect, linecache, tokenize): count it if it is torch's. The
        # importer reading a source to compile it (no cached bytecode) is not
        # torch reading its own source.
        frame = sys._getframe(1)
        while frame is not None and _in_stdlib(frame.f_code.co_filename):
            if "importlib" in frame.f_code.co_filename:
                return
            frame = frame.f_back
        if frame is not None and frame.f_code.co_filename.startswith(self.torch_dir):
            relative = Path(args[0]).relative_to(Path(self.torch_dir).parent).as_posix()
            self.read.add(torch_module(relative) or "")


def _in_stdlib(filename: str) -> bool:
    return filename.startswith(("<frozen", STDLIB)) and "site-packages" not in filename


def main() -> int:
    spec = importlib.util.find_spec("torch")   # where torch is, without importing it yet
    watch = SourceReadWatch(Path(spec.origin).parent)
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
        from engine.diagnostics.self_test import run_self_test

        run_self_test(Path(tmp) / "self-test", steps=2,      # on the bundled MNIST
                      video_optional=True)
        window.worker.shutdown()
        window.close()
        app.processEvents()
    print(json.dumps({"modules": sorted(sys.modules), "sources_read": sorted(watch.read - {""})}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
