#!/usr/bin/env python3
"""ConvLSTM training step with contiguous against channels_last weights.

    OMP_NUM_THREADS=1 python benchmarks/convlstm_memory_format.py [--repeats 3] [--batch 16]

The Moving MNIST shape: 20 frames of 64 x 64 (10 shown, 10 predicted), width 32,
two layers. One forward and backward and an Adam step per timing; the first of
each repeat is a warm-up. Prints the median seconds per step of each layout.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.models.convlstm import ConvLstmConfig, ConvLstmNetwork  # noqa: E402


def step_seconds(layout: torch.memory_format, frames: torch.Tensor, steps: int) -> list[float]:
    torch.manual_seed(0)
    net = ConvLstmNetwork(ConvLstmConfig(image_size=64, width=32, layers=2))
    # Only the convolutions: the kept openings are a 5-d buffer.
    net.cells.to(memory_format=layout)
    net.readout.to(memory_format=layout)
    optimizer = torch.optim.Adam(net.parameters())
    times = []
    for _ in range(steps + 1):
        start = time.perf_counter()
        seen, predicted = net.rollout(frames[:, :10], 10)
        target = frames[:, 1:]
        loss = torch.nn.functional.binary_cross_entropy_with_logits(
            torch.cat([seen, predicted], dim=1), target)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - start)
    return times[1:]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--batch", type=int, default=16)
    args = p.parse_args()
    frames = torch.rand(args.batch, 20, 1, 64, 64, generator=torch.Generator().manual_seed(0))
    results: dict[str, list[float]] = {"contiguous": [], "channels_last": []}
    for _ in range(args.repeats):   # alternating, so both see the same machine state
        results["contiguous"] += step_seconds(torch.contiguous_format, frames, args.steps)
        results["channels_last"] += step_seconds(torch.channels_last, frames, args.steps)
    for name, times in results.items():
        print(f"{name}: median {statistics.median(times):.3f} s/step over {len(times)} steps")
    return 0


if __name__ == "__main__":
    sys.exit(main())
