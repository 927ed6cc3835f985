"""A PNG frame sequence (one file per frame in a folder) and a sprite sheet."""
from __future__ import annotations

import io
import os
import shutil
import tempfile
import re
from collections.abc import Sequence
from pathlib import Path
from typing import IO

import numpy as np
from PIL import Image, PngImagePlugin

from engine.errors import RunDirError
from engine.studio.exporters.common import ExportOptions, sheet_columns
from engine.media.png import PROVENANCE_KEY, provenance_json, to_pil
from engine.media.images import make_grid

_FRAME_NAME = re.compile(r"frame_\d+\.png$")


def png_with_text(image: np.ndarray, scale: int, text: str) -> bytes:
    meta = PngImagePlugin.PngInfo()
    meta.add_text(PROVENANCE_KEY, text)
    buffer = io.BytesIO()
    to_pil(image, scale).save(buffer, format="PNG", pnginfo=meta)
    return buffer.getvalue()


def write_sheet(frames: Sequence[np.ndarray], fp: IO[bytes], options: ExportOptions,
                provenance: dict | None) -> None:
    """All frames in one PNG, row by row, without gaps: what game engines and CSS
    sprite animations read. The layout is in the provenance too.

    The sheet is laid out at the frames' own size and enlarged once, by Pillow,
    so only the enlarged sheet itself is held (no second copy as an array)."""
    columns = min(sheet_columns(len(frames), options.columns), len(frames))
    h, w = (d * options.scale for d in frames[0].shape[:2])
    grid = to_pil(make_grid(np.stack(frames), columns=columns, padding=0, background=0))
    sheet = grid.resize((grid.width * options.scale, grid.height * options.scale), Image.Resampling.NEAREST)
    del grid
    layout = {"frame_width": w, "frame_height": h, "columns": columns, "frames": len(frames),
              "fps": options.fps}
    meta = PngImagePlugin.PngInfo()
    meta.add_text(PROVENANCE_KEY, provenance_json({**(provenance or {}), "sheet": layout}))
    sheet.save(fp, format="PNG", pnginfo=meta)


def sheet_bytes(frames: Sequence[np.ndarray], options: ExportOptions, provenance: dict | None) -> bytes:
    buffer = io.BytesIO()
    write_sheet(frames, buffer, options, provenance)
    return buffer.getvalue()


def write_sequence(frames: Sequence[np.ndarray], folder: Path, options: ExportOptions,
                   provenance: dict | None) -> None:
    """frame_00000.png, ... in `folder`, each with the provenance and its index.

    The frames are written into a hidden sibling folder that replaces the target
    only when complete, so a crash never leaves a half-written sequence.
    """
    digits = max(5, len(str(len(frames) - 1)))
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
    except OSError as exc:
        raise RunDirError(f"cannot write {folder}: {exc.strerror or exc}") from None
    try:
        for i, frame in enumerate(frames):
            text = provenance_json({**(provenance or {}), "frame": i, "frames": len(frames),
                                    "fps": options.fps})
            (staging / f"frame_{i:0{digits}d}.png").write_bytes(png_with_text(frame, options.scale, text))
        os.chmod(staging, 0o777 & ~_umask())
        _replace_folder(staging, folder)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise RunDirError(f"cannot write {folder}: {exc.strerror or exc}") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _replace_folder(staging: Path, folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise RunDirError(f"{folder} is a file; a frame sequence needs a folder")
    if not folder.exists():
        os.replace(staging, folder)
        return
    strangers = [p.name for p in folder.iterdir() if not _FRAME_NAME.match(p.name)]
    if strangers:
        # Never delete what the user keeps there; only an earlier sequence is replaced.
        raise RunDirError(f"{folder} holds other files ({strangers[0]}, ...); "
                          "choose a new or empty folder for the frames")
    # A folder cannot be renamed over a non-empty one: move the old one aside
    # first, then drop it once the new one is in place.
    old = Path(tempfile.mkdtemp(prefix=f".{folder.name}.old.", dir=folder.parent))
    os.replace(folder, old / folder.name)
    os.replace(staging, folder)
    shutil.rmtree(old, ignore_errors=True)


def _umask() -> int:
    from engine.storage.atomic import _umask as umask
    return umask()
