"""An exponential moving average of a network's weights, with a warm-up for
short runs.

The average is a network of its own (saved as its own weights file, so a
resumed run, a bundle and the gallery all get it); samplers use it instead of
the network being trained. With a fixed decay of 0.999 the first thousand steps
would be dominated by the random initial weights: a CPU run of a few thousand
steps would sample mostly noise. So the decay grows with the step count,
decay = min(target, (1 + step) / (10 + step)) (the warm-up of tensorflow's
ExponentialMovingAverage with num_updates): 0.18 at the first step, 0.9 by
step 80, 0.99 by step 900, so the average forgets the initialisation within a
few percent of any run and reaches the target decay only in long ones. The
step count comes from the caller, which saves it with its training state for
exact resume.
"""
from __future__ import annotations

import copy

import torch
from torch import nn


def ema_decay(target: float, step: int) -> float:
    """The decay at `step` (1 for the first update): warming up towards `target`."""
    return min(target, (1 + step) / (10 + step))


def averaged_copy(network: nn.Module) -> nn.Module:
    """A frozen copy of `network` to hold its average (no gradients, so the
    trainer neither optimises nor compiles it)."""
    return copy.deepcopy(network).requires_grad_(False)


@torch.no_grad()
def update_average(average: nn.Module, network: nn.Module, target: float, step: int) -> None:
    """Move `average` towards `network` by one step of the warmed-up decay.
    Buffers (none in a GroupNorm U-Net, but a batch norm's statistics) are
    copied: they describe the current network, not a history."""
    decay = ema_decay(target, step)
    # lerp by 1 is an exact copy (decay 0: no averaging).
    torch._foreach_lerp_(list(average.parameters()),
                         [p.detach() for p in network.parameters()], 1 - decay)
    for kept, now in zip(average.buffers(), network.buffers()):
        kept.copy_(now)
