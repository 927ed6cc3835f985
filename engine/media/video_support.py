"""Whether this installation can write and read video (MP4 through PyAV), and why not.

PyAV is a dependency of the Python package, so from source a missing `av` is a
broken install and the message says how to mend it. The installed app can be
built without video (`packaging/build.py --without-video`, about 80 MB
smaller); there the message says what this build does instead. The check does
not import av (a few hundred milliseconds), so pages can ask it while they are built.
"""
from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

from engine.errors import AtelierError


def video_unavailable() -> str | None:
    """None when MP4 export and video reading work here, else the reason in one sentence."""
    try:
        found = importlib.util.find_spec("av") is not None
    except (ImportError, ValueError):   # a broken or stubbed-out `av` in sys.modules
        found = False
    if found and sys.modules.get("av", ...) is not None:
        return None
    if getattr(sys, "frozen", False):
        return "this build of Latent Atelier leaves out video (the full build has it)"
    return "video needs the av package (pip install av)"


def load_av(error: type[AtelierError], what: str, instead: str) -> ModuleType:
    """The PyAV module, or `error` saying that `what` (e.g. "MP4 export") is unavailable,
    why, and what to do `instead`."""
    reason = video_unavailable()
    if reason is None:
        try:
            import av
            return av
        except ImportError as exc:   # found but cannot load (a missing shared library)
            reason = f"the av package is installed but does not load ({exc})"
    raise error(f"{what} is unavailable: {reason}; {instead}")
