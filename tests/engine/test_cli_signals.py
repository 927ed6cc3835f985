"""SIGTERM and SIGHUP during `train` (issue 22, item 4): a service manager, a logout or
a closed terminal stops training between steps and saves, as Ctrl-C does.

The process then exits with 128 + the signal's number (143, 129): a script running
`train && export` must not take a run stopped from outside for a finished one. Ctrl-C,
the person's own stop at the terminal, keeps exiting 0."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from engine.runs.checkpoints import ended_cleanly, read_manifest

pytestmark = pytest.mark.skipif(os.name != "posix", reason="SIGTERM and SIGHUP are POSIX")

REPO = Path(__file__).resolve().parents[2]


def start_training(data_spec: str, run: Path, *extra: str) -> subprocess.Popen:
    # No autosave after the first: a checkpoint past step 0 can only be the stop's save.
    return subprocess.Popen(
        [sys.executable, "-m", "engine", "train", "--json", "--model", "dcgan", "--width", "8",
         "--batch-size", "8", "--data", data_spec, "--device", "cpu", "--steps", "1000000",
         "--autosave-seconds", "3600", "--out", str(run), *extra],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def events_until_trained(process: subprocess.Popen, steps: int) -> list[dict]:
    events = []
    for line in process.stdout:
        events.append(json.loads(line))
        if events[-1]["event"] == "Progress" and events[-1]["step"] >= steps:
            return events
    raise AssertionError(f"training ended early: {process.stderr.read()[-2000:]}")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_terminating_signal_stops_between_steps_and_saves(data_spec, tmp_path, signum):
    run = tmp_path / "run"
    process = start_training(data_spec, run)
    try:
        trained = events_until_trained(process, 5)[-1]["step"]
        process.send_signal(signum)
        out, err = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 128 + signum, err
    finished = [json.loads(line) for line in out.splitlines()][-1]
    assert finished["event"] == "Finished" and finished["reason"] == "stopped"
    manifest = read_manifest(run)
    assert manifest["step"] == finished["step"] >= trained >= 5
    assert manifest["ended"] == "stopped" and ended_cleanly(run)
    assert "Traceback" not in err


def test_an_ignored_sighup_is_left_ignored_as_nohup_asks(data_spec, tmp_path):
    run = tmp_path / "run"
    process = subprocess.Popen(
        [sys.executable, "-c", "import signal, sys, runpy; signal.signal(signal.SIGHUP, "
         "signal.SIG_IGN); sys.argv = ['engine', *sys.argv[1:]]; "
         "runpy.run_module('engine', run_name='__main__')",
         "train", "--json", "--model", "dcgan", "--width", "8", "--batch-size", "8",
         "--data", data_spec, "--device", "cpu", "--steps", "1000000", "--out", str(run)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        step = events_until_trained(process, 3)[-1]["step"]
        process.send_signal(signal.SIGHUP)
        events_until_trained(process, step + 5)   # still training after the hangup
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 128 + signal.SIGTERM, err
    assert read_manifest(run)["ended"] == "stopped"


def test_a_closed_terminal_still_gets_its_run_saved(data_spec, tmp_path):
    """The real hangup: the terminal goes away (every write to it fails) and SIGHUP
    follows; the progress line must not end the run before its final save."""
    import pty
    import time

    run = tmp_path / "run"
    master, slave = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "engine", "train", "--model", "dcgan", "--width", "8",
         "--batch-size", "8", "--data", data_spec, "--device", "cpu", "--steps", "1000000",
         "--autosave-seconds", "3600", "--out", str(run)],
        cwd=REPO, stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    os.close(slave)
    try:
        seen = b""
        deadline = time.monotonic() + 120
        while b"training dcgan" not in seen and time.monotonic() < deadline:
            seen += os.read(master, 4096)
        assert b"training dcgan" in seen, seen
        time.sleep(1.0)   # some steps, and progress lines, on the terminal
        os.close(master)  # the terminal window closes
        process.send_signal(signal.SIGHUP)
        process.wait(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 128 + signal.SIGHUP
    manifest = read_manifest(run)
    assert manifest["step"] > 0 and manifest["ended"] == "stopped"
