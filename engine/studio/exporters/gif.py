"""Animated GIF: 256 colours per palette, per-frame or global, optional dithering."""
from __future__ import annotations

import io
from collections.abc import Sequence
from typing import IO

import numpy as np
from PIL import Image

from engine.studio.exporters.common import ExportOptions, FrameStream

from engine.media.png import provenance_json, to_pil

# Frames that build the global palette: enough to see every colour a clip passes
# through, few enough that building it stays quick for long clips.
GLOBAL_PALETTE_SAMPLES = 16


def write_gif(frames: Sequence[np.ndarray], fp: IO[bytes], options: ExportOptions,
              provenance: dict | None) -> None:
    """Encode the frames to `fp`. Each frame is enlarged and quantised only when
    Pillow seeks to it, so no list of enlarged pictures is held; Pillow itself
    keeps each frame as palette indices until the end."""
    palette = _global_palette(frames) if options.palette == "global" and frames[0].shape[2] == 3 else None
    first = _gif_frame(frames[0], options, palette)
    rest = [FrameStream(len(frames) - 1, lambda i: _gif_frame(frames[i + 1], options, palette))] \
        if len(frames) > 1 else []
    extra = {} if options.plays == 1 else {"loop": 0 if options.plays == 0 else options.plays - 1}
    # disposal=1 keeps each frame under the next, so Pillow may store only the
    # changed rectangle of a frame.
    first.save(fp, format="GIF", save_all=True, append_images=rest,
               duration=options.frame_ms, disposal=1,
               comment=provenance_json(provenance).encode(), **extra)


def gif_bytes(frames: Sequence[np.ndarray], options: ExportOptions, provenance: dict | None) -> bytes:
    buffer = io.BytesIO()
    write_gif(frames, buffer, options, provenance)
    return buffer.getvalue()


def _gif_frame(frame: np.ndarray, options: ExportOptions, palette: Image.Image | None) -> Image.Image:
    picture = to_pil(frame, options.scale)
    if picture.mode != "RGB":
        return picture   # 256 greys are exactly a GIF palette: nothing to quantise
    dither = Image.Dither.FLOYDSTEINBERG if options.dither else Image.Dither.NONE
    if palette is not None:
        return picture.quantize(palette=palette, dither=dither)
    own = picture.quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    return picture.quantize(palette=own, dither=dither) if options.dither else own


def _global_palette(frames: Sequence[np.ndarray]) -> Image.Image:
    """One palette from a strip of evenly spaced frames: no colour flicker
    between frames, and smaller files, at some cost in colour fidelity.

    Built at the frames' own size: nearest-neighbour enlargement repeats every
    pixel equally, so the colours and their shares are the same."""
    picks = [frames[i] for i in range(0, len(frames), max(1, len(frames) // GLOBAL_PALETTE_SAMPLES))]
    strip = to_pil(np.concatenate(picks[:GLOBAL_PALETTE_SAMPLES], axis=0))
    # A couple of k-means passes refine median cut's boxes: one palette has
    # to serve every frame, so it is worth the few milliseconds.
    return strip.quantize(colors=256, method=Image.Quantize.MEDIANCUT, kmeans=2)

