"""Animated PNG: lossless, full colour, plays in every current browser."""
from __future__ import annotations

import io

import numpy as np
from PIL import PngImagePlugin

from engine.exporters.common import PROVENANCE_KEY, ExportOptions, provenance_json, to_pil


def apng_bytes(frames: list[np.ndarray], options: ExportOptions, provenance: dict | None) -> bytes:
    pictures = [to_pil(f, options.scale) for f in frames]
    meta = PngImagePlugin.PngInfo()
    meta.add_text(PROVENANCE_KEY, provenance_json(provenance))
    buffer = io.BytesIO()
    pictures[0].save(buffer, format="PNG", save_all=True, append_images=pictures[1:],
                     duration=options.frame_ms, loop=options.plays, pnginfo=meta,
                     default_image=False)
    return buffer.getvalue()
