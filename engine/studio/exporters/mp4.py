"""MP4 (H.264) encoded in-process with PyAV, whose wheel bundles the ffmpeg
libraries (libx264 included), so it works offline and needs no ffmpeg program."""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path
from types import ModuleType

import numpy as np

from engine.errors import ConfigError, RunDirError
from engine.studio.exporters.common import ExportOptions, write_atomically
from engine.media.png import provenance_json
from engine.media.images import upscale_nearest
from engine.media.video_support import load_av as load_video_library

def load_av() -> ModuleType:
    """The PyAV module, or a ConfigError saying why MP4 is unavailable (the only format needing it)."""
    return load_video_library(ConfigError, "MP4 export", "GIF, APNG and WebP work without it")


def even_frames(frames: Sequence[np.ndarray], scale: int) -> Iterator[np.ndarray]:
    """Each frame enlarged to (H, W, 3) and padded by repeating the edge to even
    sides, one at a time: H.264 in yuv420p (what every player decodes) needs
    even width and height, and a whole clip enlarged at once would not fit."""
    for frame in frames:
        image = upscale_nearest(frame, scale)
        if image.shape[2] == 1:
            image = np.repeat(image, 3, axis=2)
        pad_h, pad_w = image.shape[0] % 2, image.shape[1] % 2
        if pad_h or pad_w:
            image = np.pad(image, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")
        yield np.ascontiguousarray(image)


def _one_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[-1] if text else type(exc).__name__


def write_mp4(frames: Sequence[np.ndarray], path: Path, options: ExportOptions,
              provenance: dict | None) -> None:
    av = load_av()
    h, w = (side + side % 2 for side in (d * options.scale for d in frames[0].shape[:2]))
    # fps is a float (e.g. 12.5 or 29.97); the stream's time base wants a ratio.
    rate = Fraction(options.fps).limit_denominator(1001)

    def encode(tmp: Path) -> None:
        try:
            # movflags=faststart moves the index (moov) before the data, so a
            # player or browser can start before the whole file is read.
            with av.open(str(tmp), mode="w", format="mp4",
                         container_options={"movflags": "+faststart"}) as container:
                container.metadata["comment"] = provenance_json(provenance)
                stream = container.add_stream("libx264", rate=rate,
                                              options={"crf": str(options.crf), "preset": "medium"})
                stream.width, stream.height = w, h
                stream.pix_fmt = "yuv420p"
                for rgb in even_frames(frames, options.scale):
                    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
                    container.mux(stream.encode(frame))
                container.mux(stream.encode(None))   # flush the frames the encoder holds back
        except OSError:
            raise    # the file itself (permissions, full disk): reported below with its reason
        except (av.FFmpegError, ValueError) as exc:
            raise RunDirError(f"cannot write {path}: the H.264 encoder failed ({_one_line(exc)})") from None

    write_atomically(path, encode)


def mp4_comment(path: Path) -> str | None:
    """The comment tag of a video file (where the provenance is), or None."""
    av = load_video_library(ConfigError, "Reading MP4 files",
                            "open the GIF, APNG or WebP of the same animation instead")
    try:
        with av.open(str(path)) as container:
            return container.metadata.get("comment")
    except (av.FFmpegError, OSError, ValueError):
        return None
