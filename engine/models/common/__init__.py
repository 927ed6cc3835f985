"""Pieces every family may use, so no family imports another."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


def adam(net: nn.Module, learning_rate: float, device: torch.device,
         betas: tuple[float, float] = (0.9, 0.999)) -> torch.optim.Adam:
    """Adam with the fused kernel where the device has one (one pass over the
    weights instead of several), else the multi-tensor one."""
    if device.type in ("cpu", "cuda"):
        return torch.optim.Adam(net.parameters(), lr=learning_rate, betas=betas, fused=True)
    return torch.optim.Adam(net.parameters(), lr=learning_rate, betas=betas, foreach=True)


@contextmanager
def evaluating(*nets: nn.Module) -> Iterator[None]:
    """Networks in eval mode for a block, their modes restored afterwards."""
    modes = [net.training for net in nets]
    for net in nets:
        net.eval()
    try:
        yield
    finally:
        for net, mode in zip(nets, modes):
            net.train(mode)
