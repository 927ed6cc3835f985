"""Start the desktop app: `latent-atelier` or `python -m desktop_app`.

    latent-atelier                     open the window
    latent-atelier FILE                and open a model bundle (or run folder) in the gallery
    latent-atelier --self-test OUTDIR  check the installation without showing a window
    latent-atelier --version
"""
from __future__ import annotations

import argparse
import sys

from PySide6.QtCore import QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from desktop_app.app_logging import configure_logging
from desktop_app.gui_gc import GuiThreadGarbageCollector
from desktop_app.main_window import MainWindow
from desktop_app.app_paths import DISPLAY_NAME, logs_dir, set_application_identity
from desktop_app.quit_signals import QuitOnSignals
from desktop_app.refcount_guard import pin_singletons
from desktop_app.startup import load_engine
from engine import __version__
from resources import resource_path


def parse_arguments(args: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """Our options, and the rest (Qt's own, e.g. -platform) for QApplication.

    A bare argument that is not the value of an option is a model bundle or run
    folder to open (what the desktop passes for a double-clicked bundle):
    options.open, or None."""
    parser = argparse.ArgumentParser(prog="latent-atelier", description=DISPLAY_NAME)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--self-test", metavar="OUTDIR", default=None,
                        help="without a window: train a few steps on the bundled MNIST, sample, "
                             "export a GIF into OUTDIR, print a report; exit 0 if all worked")
    options, rest = parser.parse_known_args(args)
    bare = [i for i, arg in enumerate(rest)
            if not arg.startswith("-") and (i == 0 or not rest[i - 1].startswith("-"))]
    options.open = rest.pop(bare[-1]) if bare else None
    return options, rest


def main(argv: list[str] | None = None) -> int:
    # Before any Qt call: the bindings' None reference leak must never end the app.
    pin_singletons()
    argv = list(sys.argv if argv is None else argv)
    options, qt_args = parse_arguments(argv[1:])
    if options.self_test is not None:
        from desktop_app.self_test_mode import run_headless_self_test

        return run_headless_self_test(options.self_test, [argv[0], *qt_args])

    app = QApplication.instance() or QApplication([argv[0], *qt_args])
    set_application_identity(app)
    log_path = configure_logging(logs_dir())
    app.setApplicationVersion(__version__)
    icon = resource_path("icons", "latent-atelier.png")
    if icon.exists():
        app.setWindowIcon(QIcon(str(icon)))

    # The window needs only Qt: it is up at once, its pages follow once the
    # engine is imported on a background thread (desktop_app.startup).
    window = MainWindow(engine_loaded=False)
    window.errors.log_path = log_path
    window.errors.install_hooks()

    def engine_ready() -> None:
        # Quitting by any route (menu, signal, session end) still stops and saves.
        app.aboutToQuit.connect(lambda: window.worker.shutdown())
        if options.open:
            QTimer.singleShot(0, window, lambda: window.open_in_gallery(options.open))

    # Before the engine import starts its thread: garbage is collected on the GUI thread only.
    collector = GuiThreadGarbageCollector(parent=app)
    collector.start()
    # SIGTERM, SIGHUP and Ctrl-C close the window, so training stops and saves first.
    quit_signals = QuitOnSignals(window).install()
    window.show()
    loader = load_engine(window, engine_ready)
    try:
        code = app.exec()
        # Closed while the engine still loads: an import cannot be interrupted, and Qt
        # aborts the process if a QThread is destroyed while it runs. Let it finish
        # (seconds) before the window and its loader go.
        loader.wait()
    finally:
        quit_signals.uninstall()
    return quit_signals.exit_code(code)


if __name__ == "__main__":
    raise SystemExit(main())
