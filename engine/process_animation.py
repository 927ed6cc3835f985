"""Animations of a model's own process: a Row LSTM filling in row by row, DRAW's
canvas step by step, a ConvLSTM rolling a sequence forward; and continuing a
user's animation with a ConvLSTM.

A family offers its process with `process_frames(seeds) -> (T, N, C, H, W)` in
[-1, 1], and a next-frame family offers `continue_frames(context, count)`.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from engine.data.batches import to_model_range
from engine.data.sequences import read_animation
from engine.device import resolve_device
from engine.errors import ConfigError
from engine.images import make_grid, to_uint8
from engine.models import MODEL_PRESETS
from engine.runs import RunDir

HOLD_SECONDS = 1.0   # the finished picture stays this long before the GIF loops


def has_process(model_name: str) -> bool:
    family, _ = MODEL_PRESETS.get(model_name, (None, None))
    return family is not None and hasattr(family, "process_frames")


def can_continue(model_name: str) -> bool:
    family, _ = MODEL_PRESETS.get(model_name, (None, None))
    return family is not None and hasattr(family, "continue_frames")


def default_kind(run_dir: str | Path) -> str:
    """What `animate RUN` exports when no kind is given: the model's own process
    where it has one, else the training time-lapse."""
    return "process" if has_process(RunDir(run_dir).read_config()["model"]) else "timelapse"


def hold_last(frames: list[np.ndarray], fps: float) -> list[np.ndarray]:
    """Repeat the last frame so the finished picture can be seen before a loop restarts."""
    return frames + [frames[-1]] * max(0, round(HOLD_SECONDS * fps) - 1)


def process_animation(run_dir: str | Path, seeds: list[int], device: str = "auto"
                      ) -> list[np.ndarray]:
    """One uint8 grid (H, W, C) per step of the run's model drawing `seeds`."""
    name, model = RunDir(run_dir).load_model(resolve_device(device))
    if not hasattr(model, "process_frames"):
        raise ConfigError(f"{name} has no step-by-step process to animate; "
                          "try --kind timelapse")
    frames = model.process_frames(seeds)
    columns = max(1, int(np.ceil(np.sqrt(len(seeds)))))
    return [make_grid(to_uint8(step), columns=columns) for step in frames]


def continue_animation(run_dir: str | Path, animation: str | Path, count: int,
                       device: str = "auto") -> tuple[list[np.ndarray], int]:
    """(frames, how many came from the input): the user's animation at the model's
    size followed by `count` frames the model predicts, each fed back in."""
    name, model = RunDir(run_dir).load_model(resolve_device(device))
    if not hasattr(model, "continue_frames"):
        raise ConfigError(f"{name} cannot continue an animation; train a convlstm model")
    frames = read_animation(animation)
    context = to_model_range(torch.from_numpy(frames).to(model.device), model.config.image_size)
    context = match_channels(context, model.config.channels)[None]
    predicted = model.continue_frames(context, count)
    both = torch.cat([context, predicted], dim=1)[0]
    return list(to_uint8(both)), len(frames)


def match_channels(frames: torch.Tensor, channels: int) -> torch.Tensor:
    """(F, C, H, W): colour to grey by the mean, grey to colour by repeating."""
    if frames.shape[1] == channels:
        return frames
    if channels == 1:
        return frames.mean(dim=1, keepdim=True)
    return frames.expand(-1, channels, -1, -1)
