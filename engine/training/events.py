"""Plain-data events a training run emits.

They cross thread boundaries (to the GUI) and process boundaries (the CLI's
--json), so they hold only numbers, strings and fresh numpy arrays: no
tensors, modules or Qt objects, and nothing is changed after it is emitted.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class RunStarted:
    run_dir: str
    model: str
    device: str
    total_steps: int | None
    time_budget_seconds: float | None
    parameters: int
    data_count: int
    start_step: int = 0        # above 0 when a saved run is resumed
    memory_estimate_bytes: int | None = None  # what the run was estimated to need


@dataclass(frozen=True)
class Progress:
    step: int
    total_steps: int | None
    fraction: float            # 0..1 of the step or time budget, whichever is nearer
    losses: dict[str, float]   # averaged over the steps since the last Progress
    images_per_second: float
    elapsed_seconds: float
    eta_seconds: float | None


@dataclass(frozen=True)
class Samples:
    step: int
    grid: np.ndarray           # uint8 (H, W, C): the fixed-seed grid
    seeds: tuple[int, ...] = field(default_factory=tuple)
    # VAEs: rows of data images, each followed by its reconstructions (uint8 grid)
    reconstructions: np.ndarray | None = None
    # Families with a process animation (row-lstm, draw, convlstm): seed 0's
    # process as uint8 frames (T, H, W, C), and its name ("filling in", ...).
    process: np.ndarray | None = None
    process_name: str | None = None


@dataclass(frozen=True)
class StateChanged:
    state: str                 # "paused" or "running"
    step: int


@dataclass(frozen=True)
class Saved:
    step: int
    run_dir: str


@dataclass(frozen=True)
class Notice:
    """Something the user must know that did not stop the run."""

    step: int
    kind: str                  # "save-failed", "batch-halved", "eval-failed", "device-changed", ...
    message: str


@dataclass(frozen=True)
class Evaluated:
    """The model was scored while training (engine.metrics.during_training)."""

    step: int
    scores: dict               # fd, fd_label, kid, class_coverage, ..., likelihoods
    seconds: float             # how long the evaluation took
    checkpoint: str | None     # the checkpoint saved with exactly these weights


@dataclass(frozen=True)
class Finished:
    step: int
    reason: str                # "completed", "time budget reached" or "stopped"
    run_dir: str
    elapsed_seconds: float


# While it evaluates (TrainConfig.eval_every_*), training also yields
# engine.metrics.evaluate.EvalProgress events (stage, done, total) before Evaluated.
TrainingEvent = (RunStarted | Progress | Samples | StateChanged | Saved | Notice | Evaluated
                 | Finished)
