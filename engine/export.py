"""Writing stills and animations, each carrying its provenance in its metadata."""
from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, PngImagePlugin

from engine import __version__
from engine.errors import ConfigError
from engine.exporters.common import write_file
from engine.images import upscale_nearest

PROVENANCE_KEY = "latent-atelier"
MAX_SCALE = 64
MAX_FPS = 50  # GIF timing is in hundredths of a second and viewers floor it at 20 ms


def _check_scale(scale: int) -> None:
    if not 1 <= scale <= MAX_SCALE:
        raise ConfigError(f"scale must be between 1 and {MAX_SCALE}, not {scale}")


def _provenance(info: dict[str, Any] | None) -> str:
    return json.dumps({"app_version": __version__, **(info or {})}, sort_keys=True)


def to_pil(image: np.ndarray, scale: int = 1) -> Image.Image:
    """uint8 (H, W, 1|3) -> a PIL image, enlarged with nearest neighbour."""
    image = upscale_nearest(np.ascontiguousarray(image), scale)
    return Image.fromarray(image[:, :, 0], "L") if image.shape[2] == 1 else Image.fromarray(image, "RGB")


def png_bytes(image: np.ndarray, scale: int = 1, provenance: dict[str, Any] | None = None) -> bytes:
    meta = PngImagePlugin.PngInfo()
    meta.add_text(PROVENANCE_KEY, _provenance(provenance))
    buffer = io.BytesIO()
    to_pil(image, scale).save(buffer, format="PNG", pnginfo=meta)
    return buffer.getvalue()


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
    repeats N more times (the GIF loop field). engine.exporters has every option."""
    from engine.exporters.common import ExportOptions, check_frames
    from engine.exporters.gif import gif_bytes

    options = ExportOptions(fps=fps, scale=scale, plays=0 if loop == 0 else loop + 1)
    options.validate()
    data = gif_bytes(check_frames(frames), options, provenance)
    write_file(Path(path), data)
    return Path(path)
