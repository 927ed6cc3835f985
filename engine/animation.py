"""Frame sequences built from a run: for now the training time-lapse."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from engine.errors import RunDirError
from engine.runs import RunDir


def timelapse_frames(run_dir: str | Path) -> tuple[list[int], list[np.ndarray]]:
    """(steps, uint8 frames (H, W, C)) of the run's fixed-seed grids, oldest first."""
    run = RunDir(run_dir)
    run.read_config()  # a clear error if this is not a run folder
    steps, frames = [], []
    for step, path in run.sample_history():
        try:
            with Image.open(path) as picture:
                array = np.asarray(picture.convert("L" if picture.mode in ("L", "I", "1") else "RGB"))
        except OSError as exc:
            raise RunDirError(f"{path}: unreadable sample grid ({exc})") from None
        frames.append(array[:, :, None] if array.ndim == 2 else array)
        steps.append(step)
    if not frames:
        raise RunDirError(f"{run.path} has no sample grids yet; train for a few seconds first")
    return steps, frames
