"""Shared test set-up: offscreen Qt, a private user-data folder, opt-in slow/GPU
tests, and a guard that fails any test which leaves a thread running."""
from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# Under pytest-xdist every core already runs a worker process. torch's default of
# one thread per core would then put cores x cores threads on the machine, and
# the tiny networks of the tests spend their time in thread barriers waiting for
# a core another worker holds: a 4-step flow sample of two tiles took 3.4 s on
# two threads against 0.15 s on one, on a busy 2-core machine. Set before torch
# is imported, and inherited by the CLI and app processes the tests start.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")


def pytest_collection_modifyitems(config, items):
    # Slow and GPU tests run only when asked for by marker, e.g. `pytest -m slow`.
    if config.getoption("-m"):
        return
    for item in items:
        for marker in ("slow", "gpu"):
            if item.get_closest_marker(marker) is not None:
                item.add_marker(pytest.mark.skip(reason=f"{marker} test: run with -m {marker}"))


@pytest.fixture(autouse=True)
def private_user_data(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("atelier-home")
    monkeypatch.setenv("LATENT_ATELIER_HOME", str(home))
    return home


@pytest.fixture(autouse=True)
def no_dangling_threads():
    """Fail a test that leaves a Python thread or an engine job running."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 2.0
    while True:
        extra = [t for t in threading.enumerate() if t not in before and t.is_alive()
                 and not t.daemon]
        jobs = _live_jobs()
        if not extra and not jobs:
            return
        if time.monotonic() > deadline:
            names = [t.name for t in extra] + [f"engine job {name}" for name in jobs]
            pytest.fail(f"test left threads running: {', '.join(names)}")
        time.sleep(0.05)


def _live_jobs() -> list[str]:
    import sys

    worker = sys.modules.get("desktop_app.worker")
    return worker.live_job_names() if worker is not None else []


@pytest.fixture
def read_only_folder(tmp_path):
    """A folder nothing can be written to, even by root (CI runs as root, and
    root ignores permission bits): a read-only tmpfs mount there, chmod elsewhere."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    mount = shutil.which("mount")
    done = mount and subprocess.run([mount, "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(folder)],
                                    capture_output=True).returncode == 0
    if not done:
        pytest.skip("cannot make a read-only folder as root here (no tmpfs mount)")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)


# -- leaving the test process --------------------------------------------------------
_exit_status: list[int] = []


def pytest_sessionfinish(session, exitstatus):
    _exit_status.append(int(exitstatus))


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    """Leave without the interpreter's final garbage collection once every
    result has been reported. After a suite that built and destroyed hundreds
    of Qt windows, that collection once aborted the process inside PySide6
    ("Fatal Python error: bool_dealloc", a reference-count error in the C
    extension, rc 134) after all tests had passed, turning a green run red.
    The exit status is pytest's own."""
    if not _exit_status or os.environ.get("LATENT_ATELIER_TEST_FINALIZE") == "1":
        return   # a nested pytest run, or someone debugging the finalization itself
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_exit_status[-1])
