"""engine.runs.lock and the manifest's end record: telling a live run, a cleanly
ended one and one a crash cut short apart."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from engine.runs.checkpoints import ended_cleanly, read_manifest
from engine.runtime.control import RunControl
from engine.errors import RunDirError
from engine.training.events import Saved
from engine.runs.lock import RunLock, is_training
from engine.training import resume, train


def test_lock_is_exclusive_and_released(tmp_path):
    assert not is_training(tmp_path)
    with RunLock(tmp_path):
        assert is_training(tmp_path)
        with pytest.raises(RunDirError, match="being trained"):
            RunLock(tmp_path).acquire()
    assert not is_training(tmp_path)
    RunLock(tmp_path).acquire().release()


def test_a_killed_process_releases_its_lock(tmp_path):
    # The OS drops the lock with the process, which is what crash recovery needs.
    code = textwrap.dedent(f"""
        import os, sys
        from engine.runs.lock import RunLock
        RunLock({str(tmp_path)!r}).acquire()
        print("locked", flush=True)
        sys.stdin.readline()
    """)
    child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "locked"
        assert is_training(tmp_path)
        child.kill()
        child.wait(timeout=10)
        assert not is_training(tmp_path)
    finally:
        if child.poll() is None:
            child.kill()


def test_a_finished_run_ended_cleanly(tiny_config, tmp_path, h):
    h.run_training(tiny_config(steps=3), tmp_path / "run")
    manifest = read_manifest(tmp_path / "run")
    assert manifest["ended"] == "completed"
    assert ended_cleanly(tmp_path / "run") and not is_training(tmp_path / "run")


def test_a_stopped_run_ended_cleanly(tiny_config, tmp_path):
    control = RunControl()
    for event in train(tiny_config(steps=1000), tmp_path / "run", control):
        if isinstance(event, Saved):
            control.stop()
    assert read_manifest(tmp_path / "run")["ended"] == "stopped"


def test_a_run_cut_short_is_not_clean_and_is_locked_while_running(tiny_config, tmp_path):
    events = train(tiny_config(steps=1000), tmp_path / "run")
    for event in events:
        if isinstance(event, Saved):
            break  # the process "dies" here: no final save
    assert is_training(tmp_path / "run")  # the generator still holds the lock
    assert not ended_cleanly(tmp_path / "run")
    with pytest.raises(RunDirError, match="being trained"):
        next(resume(tmp_path / "run"))
    events.close()  # as the OS would on a crash, the lock goes with the trainer
    assert not is_training(tmp_path / "run")
    assert not ended_cleanly(tmp_path / "run")
    for _ in resume(tmp_path / "run", steps=5):
        pass
    assert ended_cleanly(tmp_path / "run")


def test_old_manifests_without_an_end_record_count_as_clean(tmp_path):
    (tmp_path / "manifest.json").write_text('{"step": 3, "checkpoint": "x", "kept": ["x"]}')
    assert ended_cleanly(tmp_path)
    assert ended_cleanly(tmp_path / "no-such-run")


def test_probes_never_take_each_other_or_a_starting_trainer_for_a_trainer(tmp_path):
    """A list of runs refreshing (is_training) while a resume checks the same run
    used to make the resume fail with 'being trained right now'."""
    import threading

    from engine.runs.lock import RunLock, is_training

    (tmp_path / ".lock").touch()
    stop = threading.Event()
    seen_training = []

    def probe_constantly() -> None:
        while not stop.is_set():
            seen_training.append(is_training(tmp_path))

    probes = [threading.Thread(target=probe_constantly) for _ in range(2)]
    for t in probes:
        t.start()
    try:
        for _ in range(50):
            assert not is_training(tmp_path)
            with RunLock(tmp_path):
                pass
    finally:
        stop.set()
        for t in probes:
            t.join()
    assert seen_training   # the probes ran alongside
    with RunLock(tmp_path):
        assert is_training(tmp_path)
