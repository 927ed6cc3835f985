"""A guard against a reference-count bug in the Qt bindings on Python 3.11.

PySide6 6.12.0 (with shiboken6 6.12.0) hands back None from every Qt method
that returns nothing without taking the reference it gives away: each call of
`widget.update()`, `timer.start()`, `label.setText(...)` and the like lowers
None's reference count by one. From Python 3.12 on None is immortal and
nothing happens; on 3.11 the count (about 67,000 once the app is loaded) runs
out after some minutes of work, a preview playing at 24 frames a second among
them, and the interpreter aborts with "Fatal Python error: none_dealloc". The
same has been seen for True and False at the end of a long test run.

None, True and False are never freed while the interpreter runs, so giving
each a large reserve of references costs nothing and keeps the count from
ever reaching zero. `pin_singletons` does that once, at start-up, only on
CPython before 3.12, and checks that it took effect.
"""
from __future__ import annotations

import sys

# References added to each singleton: at a million leaked a second, 35 years.
RESERVE = 1 << 50
# How far apart two reads of a singleton's count may be while other threads run.
LAYOUT_SLACK = 10_000


def pin_singletons() -> bool:
    """Give None, True and False a reserve of references where they are mortal;
    True if it was done (CPython before 3.12), False where nothing is needed."""
    if sys.implementation.name != "cpython" or sys.version_info >= (3, 12):
        return False
    import ctypes

    for singleton in (None, True, False):
        # ob_refcnt is a PyObject's first field in CPython's release builds.
        # Check that layout before writing: the field must read as the count.
        # The two reads are compared with some slack, not exactly, because
        # other threads (Qt's among them) take and drop references to None
        # between them.
        count = ctypes.c_ssize_t.from_address(id(singleton))
        if abs(count.value - sys.getrefcount(singleton)) > LAYOUT_SLACK:
            return False
        count.value += RESERVE
    return True
