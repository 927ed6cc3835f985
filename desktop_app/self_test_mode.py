"""`latent-atelier --self-test OUTDIR`: check an installation without showing a window.

Builds the real main window (every page and widget, so a frozen build missing a
Qt plugin or a module fails here), then runs engine.diagnostics.self_test: a few training
steps on the bundled MNIST, a sample grid and a time-lapse GIF in OUTDIR. The
report goes to stdout and to OUTDIR/self-test.txt (a windowed app on Windows
has no stdout); the exit code is 0 only if everything worked.
"""
from __future__ import annotations

import logging
import os
import time
from pathlib import Path

REPORT_NAME = "self-test.txt"
EXIT_FAILED = 1

log = logging.getLogger("latent_atelier.self_test")


def run_headless_self_test(out_dir: str | Path, qt_argv: list[str]) -> int:
    start = time.perf_counter()
    out = Path(out_dir).expanduser()
    lines: list[str] = []

    def say(line: str) -> None:
        lines.append(line)
        print(line, flush=True)
        log.info("%s", line)

    # No window is shown, so no display is needed either.
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from desktop_app.app_logging import configure_logging
    from desktop_app.app_paths import logs_dir, set_application_identity

    app = QApplication.instance() or QApplication(qt_argv)
    set_application_identity(app)
    log_path = configure_logging(logs_dir())
    code = 0
    try:
        from desktop_app.main_window import MainWindow

        window = MainWindow()
        app.processEvents()
        say(f"window ready in {time.perf_counter() - start:.2f} s (not shown)")
        window.deleteLater()
        app.processEvents()

        from engine.diagnostics.self_test import run_self_test

        for line in run_self_test(out).lines():
            say(line)
    except Exception as exc:  # noqa: BLE001 - the report names the reason; exit code says failed
        say(f"self-test FAILED: {exc}")
        from engine.errors import AtelierError
        if not isinstance(exc, AtelierError):
            log.exception("self-test failed")   # a bug: its traceback is for support
        code = EXIT_FAILED
    say(f"log: {log_path}")
    say(f"total {time.perf_counter() - start:.2f} s")
    _write_report(out, lines)
    return code


def _write_report(out: Path, lines: list[str]) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / REPORT_NAME).write_text("\n".join(lines) + "\n", encoding="utf-8")
    except OSError as exc:
        print(f"cannot write {out / REPORT_NAME}: {exc}", flush=True)
