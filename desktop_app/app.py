"""Start the desktop app: `latent-atelier` or `python -m desktop_app`."""
from __future__ import annotations

import logging
import sys

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from engine import __version__
from resources import resource_path


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv)
    app.setApplicationName("Latent Atelier")
    app.setOrganizationName("LatentAtelier")
    app.setApplicationVersion(__version__)
    icon = resource_path("icons", "latent-atelier.png")
    if icon.exists():
        app.setWindowIcon(QIcon(str(icon)))

    from desktop_app.gui_gc import GuiThreadGarbageCollector
    from desktop_app.main_window import MainWindow

    collector = GuiThreadGarbageCollector(parent=app)
    collector.start()
    window = MainWindow()
    window.errors.install_hooks()
    # Quitting by any route (menu, signal, session end) still stops and saves.
    app.aboutToQuit.connect(lambda: window.worker.shutdown())
    window.show()
    return app.exec()


if __name__ == "__main__":
    raise SystemExit(main())
