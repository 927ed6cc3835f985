"""Learning-rate schedules, applied by the trainer to every family's optimisers.

A schedule is a factor on each parameter group's base learning rate as a
function of how much of the run's budget is spent (0 at the start, 1 at the
end). Cosine decay lets a run take large steps early and settle at the end of
its budget; with the same 10 MNIST epochs the MLP VAE reaches a lower test loss
with it than with a constant rate (docs/BENCHMARKS.md).
"""
from __future__ import annotations

import math

import torch

from engine.errors import ConfigError

SCHEDULES = ("constant", "cosine")
BASE_KEY = "initial_lr"   # where the base rate lives in a param group (as torch's schedulers)


def check_schedule(name: str) -> None:
    if name not in SCHEDULES:
        raise ConfigError(f"unknown learning-rate schedule {name!r}; choose "
                          f"{', '.join(SCHEDULES)} or auto")


def lr_factor(schedule: str, fraction: float) -> float:
    """The factor on the base rate once `fraction` of the budget is spent."""
    fraction = min(max(fraction, 0.0), 1.0)
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * fraction))
    return 1.0


def apply_schedule(optimizers: list[torch.optim.Optimizer], schedule: str, fraction: float) -> None:
    """Set each group's rate to its base rate times the schedule's factor.

    The base rate is kept in the group itself, so it travels with the
    optimiser's saved state and a resumed run continues the same curve; a
    constant schedule restores it for a run that was scheduled before.
    """
    factor = lr_factor(schedule, fraction)
    for optimizer in optimizers:
        for group in optimizer.param_groups:
            if schedule == "constant" and BASE_KEY not in group:
                continue   # never scheduled: leave the rate alone
            base = group.setdefault(BASE_KEY, group["lr"])
            group["lr"] = base * factor
