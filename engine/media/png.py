"""A picture as PNG bytes that carry where they came from.

Every still and animation the app writes holds its provenance (app version,
run, model, seed, ...) as JSON in a text field under PROVENANCE_KEY, so a
picture found later can be traced back and its keyframes reopened.
"""
from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
from PIL import Image, PngImagePlugin

from engine import __version__
from engine.media.images import upscale_nearest

PROVENANCE_KEY = "latent-atelier"


def provenance_json(info: dict[str, Any] | None) -> str:
    # ASCII-only JSON fits every container's text field (GIF comments, EXIF).
    return json.dumps({"app_version": __version__, **(info or {})}, sort_keys=True, ensure_ascii=True)


def to_pil(image: np.ndarray, scale: int = 1) -> Image.Image:
    """uint8 (H, W, 1|3) -> a PIL image, enlarged with nearest neighbour."""
    image = upscale_nearest(np.ascontiguousarray(image), scale)
    return Image.fromarray(image[:, :, 0], "L") if image.shape[2] == 1 else Image.fromarray(image, "RGB")


def png_bytes(image: np.ndarray, scale: int = 1, provenance: dict[str, Any] | None = None) -> bytes:
    """One uint8 (H, W, 1|3) picture as PNG, its provenance in a text chunk."""
    meta = PngImagePlugin.PngInfo()
    meta.add_text(PROVENANCE_KEY, provenance_json(provenance))
    buffer = io.BytesIO()
    to_pil(image, scale).save(buffer, format="PNG", pnginfo=meta)
    return buffer.getvalue()
