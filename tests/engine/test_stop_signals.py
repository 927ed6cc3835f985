"""engine.runtime.stop_signals: which signals stop work, what a repeat does, the exit codes."""
from __future__ import annotations

import os
import signal

import pytest

from engine.runtime.stop_signals import STOP_SIGNALS, StopOnSignals, exit_code

pytestmark = pytest.mark.skipif(os.name != "posix", reason="SIGTERM and SIGHUP are POSIX")


@pytest.fixture
def handlers_restored():
    saved = {s: signal.getsignal(s) for s in STOP_SIGNALS}
    yield
    for s, handler in saved.items():
        signal.signal(s, handler)


def test_the_first_signal_stops_once_the_same_again_would_abort(handlers_restored):
    stops = []
    watch = StopOnSignals(lambda: stops.append(1)).install()
    signal.raise_signal(signal.SIGTERM)
    assert stops == [1] and watch.received == signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL   # a second SIGTERM ends it
    signal.raise_signal(signal.SIGHUP)   # systemd's SIGHUP after SIGTERM: already stopping
    assert stops == [1] and watch.received == signal.SIGTERM
    assert watch.exit_code() == 143
    before = {s: h for s, h in watch._previous.items()}
    watch.uninstall()
    assert all(signal.getsignal(s) is h for s, h in before.items())


def test_a_second_ctrl_c_raises_keyboard_interrupt_in_the_cli(handlers_restored):
    watch = StopOnSignals(lambda: None).install()
    signal.raise_signal(signal.SIGINT)
    assert watch.exit_code() == 0   # the person's own stop, as before
    with pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)
    watch.uninstall()


def test_an_ignored_signal_stays_ignored(handlers_restored):
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    watch = StopOnSignals(lambda: None).install()
    assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    watch.uninstall()
    assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN


def test_uninstall_puts_back_the_callers_handlers(handlers_restored):
    mine = lambda *_: None  # noqa: E731
    signal.signal(signal.SIGTERM, mine)
    watch = StopOnSignals(lambda: None).install()
    assert signal.getsignal(signal.SIGTERM) is not mine
    watch.uninstall()
    assert signal.getsignal(signal.SIGTERM) is mine


def test_exit_codes():
    assert (exit_code(None), exit_code(signal.SIGINT)) == (0, 0)
    assert (exit_code(signal.SIGTERM), exit_code(signal.SIGHUP)) == (143, 129)
