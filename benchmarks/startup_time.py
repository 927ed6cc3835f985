#!/usr/bin/env python3
"""Time from launching the app to a visible, responsive window.

    QT_QPA_PLATFORM=offscreen python benchmarks/startup_time.py [--repeats 5] [--exe PATH]

Launches `python -m desktop_app` (or a frozen executable with --exe) in fresh
processes with LATENT_ATELIER_STARTUP_PROBE set: the app then prints a line
once the main window's event loop runs ("main window responsive"; its pages
still loading), another once the engine is imported and the pages are built
and respond, and quits. This script stamps
those lines as they arrive and prints each run and the medians.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MARKS = {"main window responsive": "main_window_s",
         "engine ready, pages responsive": "pages_ready_s"}


def one_run(command: list[str], home: str) -> dict[str, float]:
    env = {**os.environ, "LATENT_ATELIER_STARTUP_PROBE": "1", "LATENT_ATELIER_HOME": home}
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    result: dict[str, float] = {}
    assert process.stdout is not None
    for line in process.stdout:
        for mark, key in MARKS.items():
            if line.startswith("startup-probe:") and mark in line:
                result[key] = round(time.perf_counter() - start, 3)
    process.wait(timeout=300)
    if set(result) != set(MARKS.values()):
        raise SystemExit(f"{command} exited {process.returncode} without both probe lines")
    return result


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--exe", default=None, help="a frozen executable instead of the source")
    args = p.parse_args()
    command = [args.exe] if args.exe else [sys.executable, "-m", "desktop_app"]
    with tempfile.TemporaryDirectory(prefix="atelier-startup-") as home:
        runs = [one_run(command, home) for _ in range(args.repeats)]
    medians = {key: statistics.median(run[key] for run in runs) for key in MARKS.values()}
    print(json.dumps({"command": " ".join(command), "runs": runs, "median": medians}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
