"""Ctrl-C, SIGTERM and SIGHUP ask long work to stop between steps, so training saves.

A person's Ctrl-C, a service manager's or `kill`'s SIGTERM and the SIGHUP of a
closed terminal or a logout all mean "stop now"; the default action of the last
two ended the process on the spot, losing every step since the last autosave.
While installed, the first of them calls `stop()` and the work ends at its next
step with a final save. The same signal again aborts at once (the person, or
the service manager, insists); a different one is ignored, since one stop is
already under way (systemd, for one, sends SIGHUP right after SIGTERM).

A signal that was ignored when this was installed stays ignored: `nohup` asks
that a hangup not stop the work.

Exit codes: 0 after Ctrl-C (the person's own stop, as before), 128 + the
signal's number after SIGTERM (143) or SIGHUP (129), so a script running
`train && export` does not take a run stopped from outside for a finished one.
Qt-free: the CLI uses it directly, the desktop app with its own wake-up.
"""
from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

STOP_SIGNALS: tuple[signal.Signals, ...] = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


def exit_code(signum: int | None) -> int:
    """The exit status after work stopped by `signum` (None: no signal) ended cleanly."""
    if signum is None or signum == signal.SIGINT:
        return 0
    return 128 + int(signum)


class StopOnSignals:
    """Handlers for STOP_SIGNALS that call `stop()` once; install() and uninstall()
    from the main thread (elsewhere Python allows no handlers, and both do nothing).

    `keyboard_interrupt`: a second Ctrl-C raises KeyboardInterrupt (the CLI's abort)
    rather than ending the process by SIGINT's default action (the app's)."""

    def __init__(self, stop: Callable[[], None], keyboard_interrupt: bool = True) -> None:
        self._stop = stop
        self._keyboard_interrupt = keyboard_interrupt
        self._previous: dict[int, Any] = {}
        self._terminal_fds: list[int] = []
        self.received: int | None = None    # the first stop signal, once one came

    def install(self) -> "StopOnSignals":
        if threading.current_thread() is not threading.main_thread():
            return self
        # Known now, while the terminal is still there: after a hangup it is gone.
        self._terminal_fds = [fd for fd in (1, 2) if _isatty(fd)]
        for signum in STOP_SIGNALS:
            if signal.getsignal(signum) is signal.SIG_IGN:
                continue   # nohup, or a background job: left as the caller asked
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def uninstall(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def exit_code(self) -> int:
        return exit_code(self.received)

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if hasattr(signal, "SIGHUP") and signum == signal.SIGHUP:
            self._detach_terminal()
        if self.received is None:
            self.received = signum
            # The same signal again aborts; uninstall() puts the caller's handler back.
            signal.signal(signum, signal.default_int_handler
                          if signum == signal.SIGINT and self._keyboard_interrupt
                          else signal.SIG_DFL)
            self._stop()

    def _detach_terminal(self) -> None:
        """A hung-up terminal fails every write (EIO), and a failed progress line
        would end the work before its final save: send the output nowhere."""
        if not self._terminal_fds:
            return
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            for fd in self._terminal_fds:
                os.dup2(null, fd)
        finally:
            os.close(null)
        self._terminal_fds = []


def _isatty(fd: int) -> bool:
    try:
        return os.isatty(fd)
    except OSError:
        return False
