"""Who is training a run right now, and did its last session end cleanly?

A process training a run holds an OS lock on `RUN/.lock` for as long as it
trains. The OS drops the lock when the process dies, however it dies (crash,
SIGKILL, power cut), so "unlocked but not marked ended" means the last session
was cut short: that is the run the app offers to recover on launch.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from types import TracebackType

from engine.errors import RunDirError

LOCK_FILE = ".lock"
ACQUIRE_GRACE_SECONDS = 0.5

if os.name == "nt":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fd: int, shared: bool = False) -> bool:
        # msvcrt has no shared locks: a probe takes the exclusive one briefly.
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
else:
    import fcntl

    def _try_lock(fd: int, shared: bool = False) -> bool:
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
            return True
        except OSError:
            return False

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


class RunLock:
    """Held while a run trains: `with RunLock(run): ...`. A second holder, in this
    process or another, is refused with a clear message."""

    def __init__(self, run: str | Path) -> None:
        self.path = Path(run) / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> "RunLock":
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise RunDirError(f"cannot write to {self.path.parent}: {exc.strerror or exc}") from None
        # A probe (is_training, from a list of runs refreshing in another
        # thread or process) holds the lock for microseconds; only a trainer
        # holds it for longer than this grace period.
        deadline = time.monotonic() + ACQUIRE_GRACE_SECONDS
        while not _try_lock(fd):
            if time.monotonic() >= deadline:
                os.close(fd)
                raise RunDirError(f"{self.path.parent} is being trained right now (by this app "
                                  "or another process); wait for it to finish or stop it first")
            time.sleep(0.01)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            try:
                _unlock(self._fd)
            finally:
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def is_training(run: str | Path) -> bool:
    """True while some process holds the run's lock."""
    path = Path(run) / LOCK_FILE
    if not path.exists():
        return False
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return False
    try:
        # Shared: two probes at once never take each other for a trainer.
        if _try_lock(fd, shared=True):
            _unlock(fd)
            return False
        return True
    finally:
        os.close(fd)
