"""MP4 (H.264) through the ffmpeg that imageio-ffmpeg ships, so it works offline."""
from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np

from engine.atomic import atomic_write
from engine.errors import ConfigError, RunDirError
from engine.exporters.common import ExportOptions, provenance_json
from engine.images import upscale_nearest

# How ffmpeg's metadata dump escapes a value (its ffmetadata format).
_FFMETADATA_SPECIAL = "=;#\\\n"


def ffmpeg_exe() -> str:
    try:
        import imageio_ffmpeg
    except ImportError:
        raise ConfigError("MP4 export needs the imageio-ffmpeg package "
                          "(pip install imageio-ffmpeg); GIF, APNG and WebP work without it") from None
    try:
        return imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError as exc:
        raise ConfigError(f"MP4 export cannot find ffmpeg ({exc})") from None


def even_sized(frames: list[np.ndarray], scale: int) -> np.ndarray:
    """(T, H, W, 3) enlarged frames, padded by repeating the edge to even sides:
    H.264 in yuv420p (what every player decodes) needs even width and height."""
    stack = np.stack([upscale_nearest(f, scale) for f in frames])
    if stack.shape[3] == 1:
        stack = np.repeat(stack, 3, axis=3)
    pad_h, pad_w = stack.shape[1] % 2, stack.shape[2] % 2
    if pad_h or pad_w:
        stack = np.pad(stack, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    return np.ascontiguousarray(stack)


def write_mp4(frames: list[np.ndarray], path: Path, options: ExportOptions,
              provenance: dict | None) -> None:
    exe = ffmpeg_exe()
    video = even_sized(frames, options.scale)
    _, h, w, _ = video.shape

    def encode(tmp: Path) -> None:
        command = [exe, "-y", "-hide_banner", "-loglevel", "error",
                   "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}",
                   "-r", f"{options.fps:g}", "-i", "-", "-an",
                   "-c:v", "libx264", "-preset", "medium", "-crf", str(options.crf),
                   "-pix_fmt", "yuv420p", "-movflags", "+faststart",
                   "-metadata", f"comment={provenance_json(provenance)}", "-f", "mp4", str(tmp)]
        result = subprocess.run(command, input=video.tobytes(), capture_output=True, check=False)
        if result.returncode != 0:
            lines = result.stderr.decode(errors="replace").strip().splitlines()
            raise RunDirError(f"cannot write {path}: ffmpeg failed ({lines[-1] if lines else result.returncode})")

    try:
        if not path.parent.exists():
            path.parent.mkdir(parents=True)
        atomic_write(path, encode)
    except OSError as exc:
        raise RunDirError(f"cannot write {path}: {exc.strerror or exc}") from None


def mp4_comment(path: Path) -> str | None:
    """The comment tag of a video file (where the provenance is), or None."""
    result = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "ffmetadata", "-"],
                            capture_output=True, check=False)
    if result.returncode != 0:
        return None
    for line in _unescaped_lines(result.stdout.decode("utf-8", errors="replace")):
        if line.startswith("comment="):
            return line[len("comment="):]
    return None


def _unescaped_lines(text: str) -> list[str]:
    lines, current, i = [], [], 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in _FFMETADATA_SPECIAL:
            current.append(text[i + 1])
            i += 2
            continue
        if ch == "\n":
            lines.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    lines.append("".join(current))
    return lines
