"""Training, written once for every model family.

`train()` is a generator of plain-data events (see engine.training.events). It checks a
RunControl between steps, so callers on any thread can pause, resume or stop
it, and it always leaves a loadable run directory behind.

The package's parts: config (TrainConfig), session (model, data and device),
launch (train, resume, restart), loop (the loop that composes the rest), clock,
budget, loss_meter, cadence (report/grid/autosave timing), fault_guard (NaN,
out of memory, disk faults) and live_evaluation (evaluation while training);
distributed and follower train a run in several processes that torchrun
started (docs/DISTRIBUTED.md).
"""
from engine.training.cadence import GRID_TIME_SHARE, seconds_between_grids
from engine.training.config import DEFAULT_STEPS, TrainConfig
from engine.training.fault_guard import TrainingError
from engine.training.launch import RESUMABLE_CHANGES, resume, train
from engine.training.session import SAMPLE_SEEDS, TrainingSession

__all__ = ["DEFAULT_STEPS", "GRID_TIME_SHARE", "RESUMABLE_CHANGES", "SAMPLE_SEEDS", "TrainConfig",
           "TrainingError", "TrainingSession", "resume", "seconds_between_grids", "train"]
