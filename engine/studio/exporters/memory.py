"""How much memory an animation export holds at its peak, told before any frame is made.

The frames themselves are small (the model's own size, uint8); what grows is
what each writer must hold at the export's scale. Frames are made one at a
time and handed to the writer as it asks for them, so MP4, WebP and a frame
folder hold only a few frames (and WebP its encoded file); Pillow's GIF and
APNG writers keep every frame until the end (to merge identical neighbours),
and a sprite sheet is one picture as large as all the frames together.

An export is refused (CLI) or asked about (studio) when the estimate exceeds
MEMORY_SHARE of the memory available when it starts (docs/ANIMATION.md).
"""
from __future__ import annotations

import dataclasses

from engine.errors import ConfigError
from engine.studio.exporters.common import ExportOptions
from engine.storage.sizes import human_size

MEMORY_SHARE = 0.5
# PIL keeps an RGB picture as 4 bytes a pixel (RGBX), a greyscale one as 1.
_PIL_RGB_BYTES = 4
# libx264's look-ahead, reference frames and frame threads hold a few dozen
# frames, each in yuv420p with its sub-pixel planes (about 4 bytes a pixel in
# all), beside a fixed cost for the codec; measured at 224 and 896 pixels square.
MP4_BUFFERED_FRAMES = 64
MP4_BYTES_PER_PIXEL = 4
MP4_FIXED_BYTES = 32 * 2**20
# libwebp's animation encoder keeps the canvas and several candidate encodings
# of each frame, in RGBA (measured: about 10 frames' worth).
WEBP_CANVASES = 10
# Frames a streaming writer has in flight at once (the one being made, the one
# being encoded, a writer's canvases).
WORKING_FRAMES = 4

_HOLDS = {
    "gif": "every frame as palette indices",
    "apng": "every frame",
    "webp": "the encoded file and a few frames",
    "mp4": "the encoder's look-ahead frames",
    "frames": "one frame at a time",
    "sheet": "the whole sheet",
}


@dataclasses.dataclass(frozen=True)
class ExportMemory:
    fmt: str
    frames: int
    frames_bytes: int   # the frames at the model's size, held by whoever made them
    writer_bytes: int   # what the format's writer holds at the export's scale

    @property
    def total_bytes(self) -> int:
        return self.frames_bytes + self.writer_bytes

    def describe(self) -> str:
        return (f"about {human_size(self.total_bytes)} of memory for {self.frames:,} frames as "
                f"{self.fmt} (the writer holds {_HOLDS[self.fmt]}: {human_size(self.writer_bytes)})")


def export_memory(frames: int, frame_shape: tuple[int, int, int], fmt: str,
                  options: ExportOptions) -> ExportMemory:
    """Peak memory of exporting `frames` frames of (H, W, C) as `fmt` at options.scale."""
    h, w, c = (int(d) for d in frame_shape)
    native = h * w * c
    pixels = h * w * options.scale ** 2          # one frame at the export's scale
    pil = 1 if c == 1 else _PIL_RGB_BYTES
    working = WORKING_FRAMES * pixels * _PIL_RGB_BYTES
    if fmt == "gif":
        writer = frames * pixels + working
    elif fmt == "apng":
        writer = frames * pixels * pil + working
    elif fmt == "webp":
        # The lossless file of enlarged pixel blocks stays near the frames' own
        # size; libwebp holds it, and once more while assembling.
        writer = 2 * frames * native + WEBP_CANVASES * pixels * 4
    elif fmt == "mp4":
        writer = MP4_BUFFERED_FRAMES * pixels * MP4_BYTES_PER_PIXEL + MP4_FIXED_BYTES + working
    elif fmt == "sheet":
        writer = frames * native + frames * pixels * pil
    else:
        writer = working
    return ExportMemory(fmt, frames, frames * native, writer)


def available_ram() -> int | None:
    """Memory available to this process now, in bytes (None where it cannot be told)."""
    import torch

    from engine.runtime.device import available_memory
    return available_memory(torch.device("cpu"))


def memory_limit() -> tuple[int, int] | None:
    """(limit, available) in bytes: MEMORY_SHARE of the available memory."""
    free = available_ram()
    return None if free is None else (int(free * MEMORY_SHARE), free)


def over_limit(estimate: ExportMemory) -> str | None:
    """Why the export would not fit in the memory share, or None when it fits."""
    limit = memory_limit()
    if limit is None or estimate.total_bytes <= limit[0]:
        return None
    return (f"the export needs {estimate.describe()}, more than {MEMORY_SHARE:.0%} of the "
            f"{human_size(limit[1])} available")


def fits_at_all(estimate: ExportMemory) -> bool:
    """False when the export needs more than all the available memory: past the
    share a person may choose to go on; past this it could only fail."""
    free = available_ram()
    return free is None or estimate.total_bytes <= free


def advice(fmt: str) -> str:
    """What lowers an export's memory, for the format chosen."""
    if fmt == "sheet":
        return "lower the scale or the number of frames, or export as mp4 or frames"
    if fmt in ("gif", "apng"):
        return "lower the scale or the frames between keyframes, or export as mp4, webp or frames"
    return "lower the scale or the frames between keyframes"


def check_export_memory(estimate: ExportMemory, flags: str = "--scale or --frames-between") -> None:
    """Refuse an export that would not fit, before any frame is made."""
    reason = over_limit(estimate)
    if reason is not None:
        raise ConfigError(f"{reason}; {advice(estimate.fmt)} ({flags}, --format)")
