"""Animated WebP, lossless; provenance in the EXIF ImageDescription field."""
from __future__ import annotations

import io
from collections.abc import Sequence
from typing import IO

import numpy as np
from PIL import Image

from engine.studio.exporters.common import ExportOptions, FrameStream

from engine.media.png import provenance_json, to_pil

EXIF_IMAGE_DESCRIPTION = 0x010E


def write_webp(frames: Sequence[np.ndarray], fp: IO[bytes], options: ExportOptions,
               provenance: dict | None) -> None:
    first = to_pil(frames[0], options.scale).convert("RGB")
    exif = Image.Exif()
    exif[EXIF_IMAGE_DESCRIPTION] = provenance_json(provenance)
    # WebP has no greyscale mode; Pillow would convert each frame anyway.
    rest = [FrameStream(len(frames) - 1, lambda i: to_pil(frames[i + 1], options.scale).convert("RGB"))] \
        if len(frames) > 1 else []
    # method 4 of 0-6: most of the compression of 6 at a fraction of its time.
    first.save(fp, format="WEBP", save_all=True, append_images=rest,
               duration=options.frame_ms, loop=options.plays, lossless=True, method=4, exif=exif)


def webp_bytes(frames: Sequence[np.ndarray], options: ExportOptions, provenance: dict | None) -> bytes:
    buffer = io.BytesIO()
    write_webp(frames, buffer, options, provenance)
    return buffer.getvalue()
