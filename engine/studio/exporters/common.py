"""What every animation exporter shares: options, checks, provenance, atomic writes."""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np
from PIL import Image

from engine.storage.atomic import atomic_write
from engine.errors import ConfigError, RunDirError

MAX_SCALE = 64
MAX_FPS = 50.0     # GIF timing is in hundredths of a second and viewers floor it at 20 ms
MAX_PLAYS = 65535  # the GIF loop field is 16 bits
PALETTES = ("per-frame", "global")


@dataclasses.dataclass
class ExportOptions:
    fps: float = 24.0
    scale: int = 1              # nearest-neighbour enlargement, for a crisp pixel look
    plays: int = 0              # how many times it plays; 0 = forever
    palette: str = "per-frame"  # GIF: one palette per frame or one for the whole clip
    dither: bool = False        # GIF: Floyd-Steinberg dithering of colour frames
    crf: int = 18               # MP4: H.264 constant rate factor (0 lossless .. 51 worst)
    columns: int | None = None  # sprite sheet: frames per row (default: about square)

    def validate(self) -> None:
        if not (isinstance(self.fps, (int, float)) and 0.1 <= self.fps <= MAX_FPS):
            raise ConfigError(f"frame rate must be between 0.1 and {MAX_FPS:g} fps, not {self.fps}")
        if isinstance(self.scale, bool) or not isinstance(self.scale, int) or not 1 <= self.scale <= MAX_SCALE:
            raise ConfigError(f"scale must be between 1 and {MAX_SCALE}, not {self.scale}")
        if isinstance(self.plays, bool) or not isinstance(self.plays, int) or not 0 <= self.plays <= MAX_PLAYS:
            raise ConfigError(f"plays must be 0 (forever) to {MAX_PLAYS}, not {self.plays}")
        if self.palette not in PALETTES:
            raise ConfigError(f"palette must be one of {', '.join(PALETTES)}, not {self.palette!r}")
        if isinstance(self.crf, bool) or not isinstance(self.crf, int) or not 0 <= self.crf <= 51:
            raise ConfigError(f"crf must be between 0 and 51, not {self.crf}")
        if self.columns is not None and not 1 <= self.columns <= 4096:
            raise ConfigError(f"sheet columns must be between 1 and 4096, not {self.columns}")

    @property
    def frame_ms(self) -> int:
        return round(1000 / self.fps)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def check_frames(frames: Sequence[np.ndarray] | np.ndarray) -> list[np.ndarray]:
    """The frames as a list of uint8 (H, W, 1|3) arrays of one size, or a ConfigError."""
    if len(frames) == 0:
        raise ConfigError("there are no frames to export yet")
    first = frames[0]
    for frame in frames:
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] not in (1, 3):
            raise ConfigError(f"frames must be uint8 (H, W, 1 or 3), not {frame.dtype} {frame.shape}")
        if frame.shape != first.shape:
            raise ConfigError(f"frames differ in size: {first.shape} and {frame.shape}")
    return list(frames)


class FrameStream:
    """Frames as one multi-frame image, the way Pillow's writers read
    append_images (n_frames, or seek until EOFError; the APNG writer reads them
    twice): make(i) builds picture i only when a writer seeks to it, so no
    list of enlarged pictures is ever held. (A plain iterator would not do:
    Pillow's WebP writer turns it into a list, and its APNG writer would find
    it empty the second time.)"""

    def __init__(self, count: int, make: Callable[[int], Image.Image]) -> None:
        self._count, self._make = count, make
        self._current = make(0)

    @property
    def n_frames(self) -> int:
        return self._count

    def seek(self, index: int) -> None:
        if not 0 <= index < self._count:
            raise EOFError(index)
        self._current = self._make(index)

    def tell(self) -> int:
        return 0

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):   # Pillow's private frame bookkeeping: use its defaults
            raise AttributeError(name)
        # mode, size, info, copy, load, getim, tobytes, ...: those of the frame sought.
        return getattr(self._current, name)


def write_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """atomic_write(path, write), creating the folder; a clear RunDirError for a
    read-only folder, a full disk or a path that is not a regular file."""
    try:
        if not path.parent.exists():
            path.parent.mkdir(parents=True)
        atomic_write(path, write)
    except OSError as exc:
        raise RunDirError(f"cannot write {path}: {exc.strerror or exc}") from None


def write_file(path: Path, data: bytes) -> None:
    """Write `data` atomically (see write_atomically)."""
    write_atomically(path, lambda tmp: tmp.write_bytes(data))


def write_stream(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Atomically write what write(fp) puts in an open file (see write_atomically)."""
    def into(tmp: Path) -> None:
        with open(tmp, "wb") as fp:
            write(fp)

    write_atomically(path, into)


def sheet_columns(count: int, columns: int | None) -> int:
    return columns or max(1, math.ceil(math.sqrt(count)))
