"""Animated GIF: 256 colours per palette, per-frame or global, optional dithering."""
from __future__ import annotations

import io

import numpy as np
from PIL import Image

from engine.exporters.common import ExportOptions, provenance_json, to_pil

# Frames that build the global palette: enough to see every colour a clip passes
# through, few enough that building it stays quick for long clips.
GLOBAL_PALETTE_SAMPLES = 16


def gif_bytes(frames: list[np.ndarray], options: ExportOptions, provenance: dict | None) -> bytes:
    pictures = [to_pil(f, options.scale) for f in frames]
    if pictures[0].mode == "RGB":
        pictures = _quantize(pictures, options)
    # Greyscale frames need no quantising: 256 greys are exactly a GIF palette.
    extra = {} if options.plays == 1 else {"loop": 0 if options.plays == 0 else options.plays - 1}
    buffer = io.BytesIO()
    # disposal=1 keeps each frame under the next, so Pillow may store only the
    # changed rectangle of a frame.
    pictures[0].save(buffer, format="GIF", save_all=True, append_images=pictures[1:],
                     duration=options.frame_ms, disposal=1,
                     comment=provenance_json(provenance).encode(), **extra)
    return buffer.getvalue()


def _quantize(pictures: list[Image.Image], options: ExportOptions) -> list[Image.Image]:
    dither = Image.Dither.FLOYDSTEINBERG if options.dither else Image.Dither.NONE
    if options.palette == "global":
        # One palette from a strip of evenly spaced frames: no colour flicker
        # between frames, and smaller files, at some cost in colour fidelity.
        picks = pictures[:: max(1, len(pictures) // GLOBAL_PALETTE_SAMPLES)][:GLOBAL_PALETTE_SAMPLES]
        w, h = picks[0].size
        strip = Image.new("RGB", (w, h * len(picks)))
        for i, picture in enumerate(picks):
            strip.paste(picture, (0, i * h))
        # A couple of k-means passes refine median cut's boxes: one palette has
        # to serve every frame, so it is worth the few milliseconds.
        palette = strip.quantize(colors=256, method=Image.Quantize.MEDIANCUT, kmeans=2)
        return [p.quantize(palette=palette, dither=dither) for p in pictures]
    out = []
    for picture in pictures:
        palette = picture.quantize(colors=256, method=Image.Quantize.MEDIANCUT)
        out.append(picture.quantize(palette=palette, dither=dither) if options.dither else palette)
    return out
