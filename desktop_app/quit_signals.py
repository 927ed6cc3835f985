"""SIGTERM, SIGHUP and Ctrl-C close the app as its window's close button does, so a
running training stops between steps and saves first (a logout, a closed terminal
and a service manager send these). engine.runtime.stop_signals has the rules: a repeat of
the same signal ends the process at once, an ignored one stays ignored, and the
exit status after SIGTERM or SIGHUP is 128 + the signal.

Python runs a signal handler only when the interpreter gets control, and Qt's
event loop may wait in C++ for as long as nothing happens on screen. So the
C-level handler also writes a byte to a socket (signal.set_wakeup_fd) that a
QSocketNotifier watches: the event loop wakes at once, and the window is closed
from there, never from inside the handler.
"""
from __future__ import annotations

import signal
import socket
import threading

from PySide6.QtCore import QObject, QSocketNotifier
from PySide6.QtWidgets import QWidget

from engine.runtime.stop_signals import StopOnSignals


class QuitOnSignals(QObject):
    """While installed, the first stop signal closes `window` (from the event loop)."""

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self._window = window
        self._signals = StopOnSignals(self._noted, keyboard_interrupt=False)
        self._closing = False
        self._sockets: tuple[socket.socket, socket.socket] | None = None
        self._notifier: QSocketNotifier | None = None
        self._previous_wakeup_fd = -1

    @property
    def received(self) -> int | None:
        return self._signals.received

    def install(self) -> "QuitOnSignals":
        if threading.current_thread() is not threading.main_thread():
            return self   # only the main thread may handle signals
        reader, writer = socket.socketpair()
        reader.setblocking(False)
        writer.setblocking(False)
        self._sockets = (reader, writer)
        self._notifier = QSocketNotifier(reader.fileno(), QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._wake)
        self._previous_wakeup_fd = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
        self._signals.install()
        return self

    def uninstall(self) -> None:
        self._signals.uninstall()
        if self._sockets is None:
            return
        signal.set_wakeup_fd(self._previous_wakeup_fd)
        self._notifier.setEnabled(False)
        for sock in self._sockets:
            sock.close()
        self._sockets = None

    def exit_code(self, code: int) -> int:
        """The app's exit status: `code` (from the event loop), or 143 / 129 after
        SIGTERM / SIGHUP."""
        return code if self._signals.received is None else self._signals.exit_code()

    def _noted(self) -> None:
        # In the handler: nothing here but the note; the wake-up does the closing.
        pass

    def _wake(self) -> None:
        # By the time this slot runs, Python has run the pending handler.
        try:
            while self._sockets is not None and self._sockets[0].recv(512):
                pass
        except (BlockingIOError, InterruptedError):
            pass
        if self._signals.received is not None and not self._closing:
            self._closing = True
            self._window.close()   # training stops and saves, then the window closes
