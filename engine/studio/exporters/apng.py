"""Animated PNG: lossless, full colour, plays in every current browser."""
from __future__ import annotations

import io
from collections.abc import Sequence
from typing import IO

import numpy as np
from PIL import PngImagePlugin

from engine.media.png import PROVENANCE_KEY, provenance_json, to_pil
from engine.studio.exporters.common import ExportOptions, FrameStream


def write_apng(frames: Sequence[np.ndarray], fp: IO[bytes], options: ExportOptions,
               provenance: dict | None) -> None:
    """Encode the frames to `fp`, each enlarged only when Pillow seeks to it
    (Pillow keeps its own copy of every frame until the end)."""
    first = to_pil(frames[0], options.scale)
    rest = [FrameStream(len(frames) - 1, lambda i: to_pil(frames[i + 1], options.scale))] \
        if len(frames) > 1 else []
    meta = PngImagePlugin.PngInfo()
    meta.add_text(PROVENANCE_KEY, provenance_json(provenance))
    first.save(fp, format="PNG", save_all=True, append_images=rest,
               duration=options.frame_ms, loop=options.plays, pnginfo=meta, default_image=False)


def apng_bytes(frames: Sequence[np.ndarray], options: ExportOptions, provenance: dict | None) -> bytes:
    buffer = io.BytesIO()
    write_apng(frames, buffer, options, provenance)
    return buffer.getvalue()
