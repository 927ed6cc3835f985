"""How many CPU threads a run's tensor maths may use.

torch starts with one intra-op thread per core. A run can ask for fewer: to
keep the machine responsive while training in the background, or to give a
benchmark an exact CPU budget (OMP_NUM_THREADS is read only at start-up and
does not reach a run started from the app).

torch's setting belongs to the thread that makes it, and also becomes the
default for threads started later; so a run sets it on the thread that trains
and puts the previous value back when it ends, and work the app starts on
new threads while such a run trains (sampling in the gallery, previews,
evaluations) uses that many threads too.

0 (or None) means torch's own default, one per core; a resumed run that was
limited can be given 0 to go back to it.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

from engine.errors import ConfigError
from engine.storage.safe_json import is_whole_number

MAX_THREADS = 1024


def default_threads() -> int:
    """What torch uses on this thread when a run does not say."""
    return torch.get_num_threads()


def check_threads(threads: int | None) -> None:
    if threads is not None and not (is_whole_number(threads) and 0 <= threads <= MAX_THREADS):
        raise ConfigError(f"threads must be a whole number from 1 to {MAX_THREADS}, or 0 for "
                          f"one per core, not {threads!r}")


@contextmanager
def cpu_threads(threads: int | None) -> Iterator[None]:
    """Within the block, this thread's torch maths uses `threads` threads (0 or None: unchanged)."""
    check_threads(threads)
    if not threads:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)
