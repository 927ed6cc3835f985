"""Animation exporters: GIF, APNG, WebP, MP4, a PNG frame sequence and a sprite sheet.

Every format takes the same uint8 frames (T, H, W, C) and ExportOptions, writes
atomically (never a half-written file under the chosen name), and carries its
provenance (model, run, step, seeds, the keyframe timeline, app version) in
the file's own metadata, which engine.studio.exporters.provenance reads back.
"""
from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np

from engine.errors import ConfigError
from engine.studio.exporters.apng import apng_bytes, write_apng
from engine.studio.exporters.common import ExportOptions, check_frames, write_stream
from engine.studio.exporters.gif import gif_bytes, write_gif
from engine.studio.exporters.memory import (ExportMemory, advice, check_export_memory, export_memory,
                                     human_size)
from engine.studio.exporters.mp4 import write_mp4
from engine.studio.exporters.sequence import sheet_bytes, write_sequence, write_sheet
from engine.studio.exporters.webp import webp_bytes, write_webp

# format -> (what it is, the file name ending it suggests)
FORMATS: dict[str, tuple[str, str]] = {
    "gif": ("GIF animation", ".gif"),
    "apng": ("Animated PNG (lossless)", ".png"),
    "webp": ("Animated WebP (lossless)", ".webp"),
    "mp4": ("MP4 video (H.264)", ".mp4"),
    "frames": ("PNG frame sequence (a folder)", ""),
    "sheet": ("Sprite sheet (one PNG)", ".png"),
}

# Formats written as one file through a stream: into the temporary file of an
# export (so the encoded file is never held as bytes), or into memory for the
# size estimate's short runs.
_STREAMED: dict[str, Callable[[Sequence[np.ndarray], IO[bytes], ExportOptions, dict | None], None]] = {
    "gif": write_gif, "apng": write_apng, "webp": write_webp, "sheet": write_sheet}
_IN_MEMORY: dict[str, Callable[[Sequence[np.ndarray], ExportOptions, dict | None], bytes]] = {
    "gif": gif_bytes, "apng": apng_bytes, "webp": webp_bytes, "sheet": sheet_bytes}

# The size estimate encodes a few short runs of neighbouring frames: enough to
# average over, few enough to answer while the user is still choosing.
ESTIMATE_BLOCKS = 3
ESTIMATE_BLOCK_LENGTH = 3


def format_for_path(path: str | Path) -> str:
    """The format a file name implies (.gif, .png -> apng, .webp, .mp4; no suffix: frames)."""
    suffix = Path(path).suffix.lower()
    for name, (_, ending) in FORMATS.items():
        if ending and suffix == ending:
            return name
    if not suffix:
        return "frames"
    raise ConfigError(f"cannot tell the format from {Path(path).name!r}; "
                      f"choose one of {', '.join(FORMATS)}")


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise ConfigError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


def export_animation(frames: Sequence[np.ndarray] | np.ndarray, path: str | Path, fmt: str,
                     options: ExportOptions | None = None,
                     provenance: dict[str, Any] | None = None) -> Path:
    """Write the frames as `fmt` to `path` (a folder for "frames"); returns the path.

    Each frame is enlarged only when its writer reaches it; see
    engine.studio.exporters.memory for what each format still holds (export_memory),
    which callers check before making the frames (check_export_memory)."""
    _check_format(fmt)
    options = options or ExportOptions()
    options.validate()
    frames = check_frames(frames)
    path = Path(path).expanduser()
    record = {**(provenance or {}), "format": fmt, "fps": options.fps, "scale": options.scale}
    try:
        if fmt in _STREAMED:
            write = _STREAMED[fmt]
            write_stream(path, lambda fp: write(frames, fp, options, record))
        elif fmt == "mp4":
            write_mp4(frames, path, options, record)
        else:
            write_sequence(frames, path, options, record)
    except MemoryError:
        estimate = export_memory(len(frames), frames[0].shape, fmt, options)
        raise ConfigError(f"out of memory writing {path.name}: the export needs "
                          f"{estimate.describe()}; {advice(fmt)}") from None
    return path


def encoded_size(frames: Sequence[np.ndarray], fmt: str, options: ExportOptions,
                 provenance: dict | None = None) -> int:
    """Bytes the frames take in `fmt` (encoded in memory or a temporary folder)."""
    if fmt in _IN_MEMORY:
        return len(_IN_MEMORY[fmt](frames, options, provenance))
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / ("clip.mp4" if fmt == "mp4" else "frames")
        if fmt == "mp4":
            write_mp4(frames, target, options, provenance)
            return target.stat().st_size
        write_sequence(frames, target, options, provenance)
        return sum(p.stat().st_size for p in target.iterdir())


def estimate_size(frames: Sequence[np.ndarray] | np.ndarray, fmt: str,
                  options: ExportOptions | None = None) -> int:
    """About how many bytes the export will take, without encoding every frame.

    Formats that store what changes between frames (GIF, APNG, WebP, MP4) pay
    for a first frame and then for each change, so a few runs of neighbouring
    frames, spread over the clip, give both costs.
    """
    _check_format(fmt)
    options = options or ExportOptions()
    options.validate()
    frames = check_frames(frames)
    n, length = len(frames), ESTIMATE_BLOCK_LENGTH
    if n <= ESTIMATE_BLOCKS * length:
        return encoded_size(frames, fmt, options)
    if fmt == "sheet":
        # A sheet is one picture; it grows with its area, about per frame.
        picks = np.linspace(0, n - 1, ESTIMATE_BLOCKS * length).round().astype(int)
        return round(encoded_size([frames[i] for i in picks], fmt, options) * n / len(picks))
    starts = np.linspace(0, n - length, ESTIMATE_BLOCKS).round().astype(int)
    firsts, changes = [], []
    for start in starts:
        block = frames[start:start + length]
        first = encoded_size(block[:1], fmt, options)
        firsts.append(first)
        changes.append((encoded_size(block, fmt, options) - first) / (length - 1))
    return max(1, round(np.mean(firsts) + np.mean(changes) * (n - 1)))


__all__ = ["ExportMemory", "ExportOptions", "FORMATS", "check_export_memory", "encoded_size",
           "estimate_size", "export_animation", "export_memory", "format_for_path", "human_size"]
