"""Screenshots of every page, in both colour schemes, at several window sizes
and desktop font sizes, for a review by eye (clipped labels, overlapping
legends, unreadable contrast).

    python tools/screenshot_review.py OUTDIR [--sizes 1366x768,1920x1080]
        [--fonts 11,13] [--schemes light,dark] [--pages Train,Data]

It trains a small model (an MLP VAE) for a few seconds and loads a small folder of coloured
shapes, in a private user-data folder, so every page shows what it shows in use:
losses and samples, a gallery page, keyframes, a runs list, a data preview and
its class histogram. Runs without a display (Qt's offscreen platform). Writes
OUTDIR/<page>-<scheme>-<W>x<H>-<pt>pt.png and prints each path.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _size(text: str) -> tuple[int, int]:
    width, _, height = text.lower().partition("x")
    return int(width), int(height)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--sizes", default="1366x768,1920x1080")
    parser.add_argument("--fonts", default="11,13", help="desktop font sizes in points")
    parser.add_argument("--schemes", default="light,dark")
    parser.add_argument("--pages", default="", help="page titles (default: all)")
    parser.add_argument("--model", default="mlp-vae",
                        help="model of the demo run (a VAE also shows its reconstructions)")
    parser.add_argument("--steps", type=int, default=600, help="training steps of the demo run")
    options = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    home = Path(tempfile.mkdtemp(prefix="atelier-screens-"))
    os.environ["LATENT_ATELIER_HOME"] = str(home)
    sys.path.insert(0, str(ROOT))

    from PySide6.QtGui import QFont
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(["screenshot-review"])
    from desktop_app.main_window import PAGE_TITLES, MainWindow
    from desktop_app.theme import Scheme

    window = MainWindow()
    window.resize(*_size(options.sizes.split(",")[0]))
    window.show()
    _fill_pages(app, window, home, options.model, options.steps)

    options.out.mkdir(parents=True, exist_ok=True)
    pages = [p for p in options.pages.split(",") if p] or list(PAGE_TITLES)
    for scheme in options.schemes.split(","):
        window.colour_scheme.choose(Scheme(scheme))
        for points in (int(p) for p in options.fonts.split(",")):
            font = QFont(app.font())
            font.setPointSize(points)
            app.setFont(font)
            for size in options.sizes.split(","):
                window.resize(*_size(size))
                for title in pages:
                    window.tabs.setCurrentIndex(PAGE_TITLES.index(title))
                    _settle(app, 0.3)
                    path = options.out / f"{title.lower()}-{scheme}-{size}-{points}pt.png"
                    window.grab().save(str(path))
                    print(path, flush=True)
    window.worker.shutdown()
    window.close()
    return 0


def _settle(app, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


def _wait(app, condition, timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise SystemExit(f"timed out waiting for {what}")
        app.processEvents()
        time.sleep(0.02)


def _fill_pages(app, window, home: Path, model: str, steps: int) -> None:
    """A short real run and a small data set, so the pages show what they show in use."""
    page = window.train_page
    page.model_combo.setCurrentIndex(page.model_combo.findData(model))
    page.width_spin.setValue(8)
    page.batch_spin.setValue(32)
    page.steps_spin.setValue(steps)
    page.device_combo.setCurrentIndex(page.device_combo.findData("cpu"))
    page.start_training()
    _wait(app, lambda: window.worker.is_training, 30, "training to start")
    _wait(app, lambda: not window.worker.is_training, 600, "training to finish")
    run = window.worker.current_run

    window.gallery_page.set_run(run)
    window.gallery_page.count_spin.setValue(24)
    window.gallery_page.generate()
    _wait(app, lambda: window.gallery_page.grid.count() >= 24, 120, "the gallery")
    window.animate_page.add_keyframes([0, 1, 2, 3], run_dir=run)
    window.runs_page.refresh()

    shapes = home / "shapes"
    subprocess.run([sys.executable, str(ROOT / "tools" / "make_colour_images.py"), str(shapes),
                    "--n", "200"], check=True, capture_output=True)
    data = window.data_page
    data.set_source("folder", str(shapes))
    data.labels_check.setChecked(True)
    data.scan()
    _wait(app, lambda: data.summary is not None and not window.worker.is_scanning, 120,
          "the data scan")
    _settle(app, 1.0)


if __name__ == "__main__":
    raise SystemExit(main())
