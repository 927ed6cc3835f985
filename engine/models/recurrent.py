"""Small pieces the recurrent families (row-lstm, draw, convlstm) share."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import nn


def adam(net: nn.Module, learning_rate: float, device: torch.device) -> torch.optim.Adam:
    """Adam with the fused kernel where the device has one, else multi-tensor."""
    if device.type in ("cpu", "cuda"):
        return torch.optim.Adam(net.parameters(), lr=learning_rate, fused=True)
    return torch.optim.Adam(net.parameters(), lr=learning_rate, foreach=True)


def per_seed(seeds: list[int], draw: Callable[[torch.Generator], torch.Tensor],
             shape: tuple[int, ...]) -> torch.Tensor:
    """Stack draw(generator seeded with s) for each seed: a tile depends on its seed alone."""
    rows = []
    for seed in seeds:
        g = torch.Generator(device="cpu")
        g.manual_seed(int(seed))
        rows.append(draw(g))
    return torch.stack(rows) if rows else torch.empty(0, *shape)


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
