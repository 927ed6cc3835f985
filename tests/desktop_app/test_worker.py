"""EngineWorker: each request returns its Job, whose own signals carry its
results and its end; failures also reach the worker's error signal."""
from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import QObject

from desktop_app.worker import EngineWorker, Job
from engine.errors import AtelierError


@pytest.fixture
def worker(qtbot):
    w = EngineWorker()
    yield w
    assert w.shutdown(10_000)
    qtbot.waitUntil(lambda: w.running_jobs() == 0, timeout=5_000)


def _record(job: Job, log: list) -> None:
    job.yielded.connect(lambda value: log.append(("yielded", value)))
    job.returned.connect(lambda value: log.append(("returned", value)))
    job.errored.connect(lambda message, details: log.append(("errored", message)))
    job.ended.connect(lambda: log.append(("ended",)))


def test_each_job_reports_only_its_own_result_then_ends(qtbot, worker):
    release = threading.Event()
    first_log, second_log = [], []
    first = worker.submit("same-name", lambda: (release.wait(10), "first")[1])
    second = worker.submit("same-name", lambda: "second")
    _record(first, first_log)
    _record(second, second_log)
    with qtbot.waitSignal(second.ended, timeout=10_000):
        pass
    assert second_log == [("returned", "second"), ("ended",)]
    assert first_log == []     # same name, still running: nothing of the other reached it
    with qtbot.waitSignal(worker.idle, timeout=10_000):
        release.set()
    assert first_log == [("returned", "first"), ("ended",)]


def test_a_failure_reaches_the_job_and_the_error_dialog_then_ends(qtbot, worker):
    def fail():
        raise AtelierError("the folder is empty")

    errors, log = [], []
    worker.error.connect(lambda *args: errors.append(args))
    job = worker.submit("scan", fail, error_title="Could not load")
    _record(job, log)
    with qtbot.waitSignal(job.ended, timeout=10_000):
        pass
    assert log == [("errored", "the folder is empty"), ("ended",)]
    assert errors == [("Could not load", "the folder is empty", "")]


def test_a_streaming_job_yields_each_item_before_it_ends(qtbot, worker):
    log = []
    job = worker._start("stream", lambda control: iter([1, 2, 3]), "Failed", streaming=True)
    _record(job, log)
    with qtbot.waitSignal(job.ended, timeout=10_000):
        pass
    assert log == [("yielded", 1), ("yielded", 2), ("yielded", 3), ("ended",)]


def test_the_worker_keeps_only_shared_signals():
    # Per-request results travel on the job; the worker announces only what
    # several pages share (the training run, failures, idleness).
    names = {name for name in dir(EngineWorker)
             if type(getattr(EngineWorker, name)).__name__ == "Signal"
             and name not in dir(QObject)}
    assert names == {"trainingEvent", "trainingStopped", "busyChanged", "error", "idle"}
