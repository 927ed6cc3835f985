"""Writing stills and animations, each carrying its provenance in its metadata."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import ConfigError
from engine.studio.exporters.common import write_file
from engine.media.png import png_bytes

MAX_SCALE = 64
MAX_FPS = 50  # GIF timing is in hundredths of a second and viewers floor it at 20 ms


def _check_scale(scale: int) -> None:
    if not 1 <= scale <= MAX_SCALE:
        raise ConfigError(f"scale must be between 1 and {MAX_SCALE}, not {scale}")


def save_png(image: np.ndarray, path: str | Path, scale: int = 1,
             provenance: dict[str, Any] | None = None) -> Path:
    """Save one uint8 image as PNG (atomically), provenance in a text chunk."""
    _check_scale(scale)
    path = Path(path)
    write_file(path, png_bytes(image, scale, provenance))
    return path


def save_gif(frames: Sequence[np.ndarray], path: str | Path, fps: float = 10.0, scale: int = 1,
             loop: int = 0, provenance: dict[str, Any] | None = None) -> Path:
    """Save uint8 frames (H, W, C) as an animated GIF; loop=0 repeats forever, loop=N
    repeats N more times (the GIF loop field). engine.studio.exporters has every option."""
    from engine.studio.exporters.common import ExportOptions, check_frames
    from engine.studio.exporters.gif import gif_bytes

    options = ExportOptions(fps=fps, scale=scale, plays=0 if loop == 0 else loop + 1)
    options.validate()
    data = gif_bytes(check_frames(frames), options, provenance)
    write_file(Path(path), data)
    return Path(path)
