#!/usr/bin/env python3
"""The GUI event loop's worst stall while the real window trains on the CPU.

    QT_QPA_PLATFORM=offscreen python benchmarks/gui_stall.py [--seconds 20] [--repeats 3]

Starts the main window, presses Train (dcgan, app defaults), and for each
repeat measures, with a 10 ms timer, the longest time the event loop could
not run. Prints the worst stall and the 99th-percentile timer gap per repeat
and their medians.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--model", default="dcgan")
    args = p.parse_args()
    os.environ.setdefault("LATENT_ATELIER_HOME", tempfile.mkdtemp(prefix="atelier-bench-"))

    from PySide6.QtCore import QCoreApplication, QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from desktop_app.main_window import MainWindow
    from desktop_app.responsiveness import StallProbe

    app = QApplication(sys.argv)
    window = MainWindow()
    window.show()
    page = window.train_page
    page.model_combo.setCurrentIndex(page.model_combo.findData(args.model))
    page.steps_spin.setValue(0)
    page.minutes_spin.setValue(60)

    def wait(ms: int) -> None:
        loop = QEventLoop()
        QTimer.singleShot(ms, loop.quit)
        loop.exec()

    page.train_button.click()
    while page.last_progress is None:
        wait(100)
    results = []
    for _ in range(args.repeats):
        probe = StallProbe(10)
        probe.start()
        wait(int(args.seconds * 1000))
        probe.stop()
        results.append({"worst_stall_ms": round(probe.worst_stall_ms, 1),
                        "p99_gap_ms": round(probe.percentile_ms(99), 1),
                        "ticks": len(probe.gaps_ms),
                        "images_per_second": round(page.last_progress.images_per_second, 1)})
        print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    window.worker.stop()
    start = time.monotonic()
    while window.worker.is_training and time.monotonic() - start < 60:
        wait(100)
    window.close()
    QCoreApplication.processEvents()
    print(json.dumps({"model": args.model, "seconds": args.seconds, "repeats": results,
                      "median_worst_stall_ms": statistics.median(r["worst_stall_ms"] for r in results),
                      "median_p99_gap_ms": statistics.median(r["p99_gap_ms"] for r in results)}))
    del app
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
