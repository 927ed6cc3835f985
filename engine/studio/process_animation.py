"""Which animation a run exports by default, and continuing a user's animation
with a next-frame model (convlstm), which offers `continue_frames(context, count)`.

A family's own process (a Row LSTM filling in, DRAW's canvas, a ConvLSTM
rollout) goes through the shared `process_frames` hook (engine.studio.animation).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from engine.data.batches import to_model_range
from engine.data.sequences import read_animation
from engine.runtime.device import resolve_device
from engine.errors import ConfigError
from engine.media.images import to_uint8
from engine.models import find_model
from engine.models.base import CONTINUE, PROCESS
from engine.runs.folders import RunDir
from engine.media.images import match_channels


def default_kind(run_dir: str | Path) -> str:
    """What `animate RUN` exports when no kind is given: the model's own process
    where its family has one (row-lstm, draw, convlstm), else the training time-lapse."""
    if Path(run_dir).is_file():   # a model bundle
        from engine.runs.bundles import inspect_bundle
        name = inspect_bundle(run_dir).model
    else:
        name = RunDir(run_dir).read_config()["model"]
    spec = find_model(name)
    return "process" if spec is not None and PROCESS in spec.capabilities else "timelapse"


def continue_animation(run_dir: str | Path, animation: str | Path, count: int,
                       device: str = "auto") -> tuple[np.ndarray, dict]:
    """(frames, provenance): the user's animation at the model's size followed by
    `count` frames the model predicts, each fed back in. Frames are uint8 (T, H, W, C)."""
    from engine.runs.bundles import load_model_from
    name, model = load_model_from(run_dir, resolve_device(device))   # a run folder or a bundle
    if CONTINUE not in model.capabilities:
        raise ConfigError(f"{name} cannot continue an animation; train a convlstm model")
    frames = read_animation(animation)
    context = to_model_range(torch.from_numpy(frames).to(model.device), model.config.image_size)
    context = match_channels(context, model.config.channels)[None]
    predicted = model.continue_frames(context, count)
    both = torch.cat([context, predicted], dim=1)[0]
    return to_uint8(both), {"kind": "continue", "model": name, "run": Path(run_dir).name,
                            "input": Path(animation).name, "input_frames": len(frames),
                            "added_frames": count}


