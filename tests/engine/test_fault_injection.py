"""A power cut at any instant: kill the training process with SIGKILL at random
moments, saves included, and check that every time the run resumes from a
valid checkpoint, loses at most about one autosave interval, and that nothing
half-written survives the next start."""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.runs.checkpoints import current_checkpoint, ended_cleanly, load_tensors, read_manifest
from engine.runs.lock import is_training
from engine.runs.folders import RunDir

pytestmark = pytest.mark.skipif(os.name != "posix", reason="SIGKILL is POSIX")

AUTOSAVE = 0.05
# Time a busy 2-core machine may take for one step and one save after the last
# autosave, besides the autosave interval itself.
SLACK_SECONDS = 1.5
REPO = Path(__file__).resolve().parents[2]


def start(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "engine.cli.main", "train", "--json", *args],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def read_events_until(process: subprocess.Popen, name: str) -> list[dict]:
    events = []
    for line in process.stdout:
        events.append(json.loads(line))
        if events[-1]["event"] == name:
            return events
    raise AssertionError(f"the trainer ended before {name}: {process.stderr.read()[-2000:]}")


def check_consistent(run: Path) -> dict:
    """The manifest names a complete, loadable set; returns its trainer.json."""
    folder = current_checkpoint(run)
    for path in folder.glob("*.safetensors"):
        load_tensors(path)
    trainer = json.loads((folder / "trainer.json").read_text())
    assert trainer["step"] == read_manifest(run)["step"]
    return trainer


@pytest.mark.parametrize("kills", [3, pytest.param(20, marks=pytest.mark.slow)])
def test_sigkill_at_random_moments_never_loses_more_than_an_autosave(data_spec, tmp_path, kills):
    rng = random.Random(20261128 + kills)
    run = tmp_path / "run"
    settings = ["--model", "dcgan", "--width", "8", "--batch-size", "8", "--data", data_spec,
                "--device", "cpu", "--autosave-seconds", str(AUTOSAVE)]
    process = start([*settings, "--steps", "1000000", "--out", str(run)])
    read_events_until(process, "Saved")  # a run without any checkpoint has nothing to resume
    expected_start = None
    for kill in range(kills):
        if expected_start is not None:
            process = start(["--resume", str(run), "--autosave-seconds", str(AUTOSAVE)])
            started = read_events_until(process, "RunStarted")[-1]
            assert started["start_step"] == expected_start  # resumed from the valid checkpoint
        time.sleep(rng.uniform(0.0, 1.2))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        process.stdout.close()
        process.stderr.close()

        assert not is_training(run)          # the lock died with the process
        assert not ended_cleanly(run)        # and the app would offer to recover it
        trainer = check_consistent(run)
        metrics = RunDir(run).read_metrics()
        if metrics:
            lost = metrics[-1]["elapsed"] - trainer["elapsed"]
            assert lost <= AUTOSAVE + SLACK_SECONDS, f"kill {kill}: lost {lost:.2f} s of training"
        expected_start = trainer["step"]

    # The next start clears whatever the last kill left half-written.
    final = subprocess.run([sys.executable, "-m", "engine.cli.main", "train", "--resume", str(run),
                            "--steps", str(expected_start + 2)], cwd=REPO, capture_output=True,
                           text=True, timeout=300)
    assert final.returncode == 0, final.stderr
    if expected_start:
        assert f"from step {expected_start:,}" in final.stdout
    assert not list(run.rglob("*.tmp"))
    assert {p.name for p in (run / "checkpoints").iterdir()} == set(read_manifest(run)["kept"])
    assert ended_cleanly(run)
    steps = [r["step"] for r in RunDir(run).read_metrics()]
    assert steps == sorted(steps) and len(steps) == len(set(steps))  # history reads as one run
