"""Training and sampling speed of the recurrent families at their default sizes.

    python benchmarks/recurrent_speed.py [--threads N] [--repeats R] [--sampling-only]

Prints one JSON line per measurement: the median of R timings (seconds) of a
training step on random data, sampling 16 seeds, and for convlstm a 20-frame
continuation of a 10-frame 64x64 sequence. Each wall time comes with the
median process CPU time of the same calls (`*_cpu_s`): on a shared machine
wall time mostly measures the wait for a core, CPU time the work itself. Untrained weights: a trained
row-lstm's sampler needs fewer passes per row than an untrained one.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from engine.models import build_model, model_config


def timed(fn, repeats: int) -> tuple[float, float]:
    """Median wall and median process CPU seconds of `repeats` calls after a warm-up."""
    fn()  # warm-up
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sampling-only", action="store_true",
                        help="skip the training steps (convlstm's takes about a minute)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    cpu = torch.device("cpu")
    g = torch.Generator().manual_seed(0)
    cases = {"row-lstm": (32, torch.rand(32, 1, 28, 28, generator=g) * 2 - 1),
             "draw": (64, torch.rand(64, 1, 28, 28, generator=g) * 2 - 1),
             "convlstm": (8, torch.rand(8, 20, 1, 64, 64, generator=g) * 2 - 1)}
    for name, (batch, data) in cases.items():
        model = build_model(name, model_config(name, image_size=data.shape[-1]), cpu, seed=0)
        record = {"model": name, "threads": args.threads}
        if not args.sampling_only:
            step, step_cpu = timed(lambda: model.train_step(data), args.repeats)
            record.update(batch=batch, train_step_s=round(step, 3), train_step_cpu_s=round(step_cpu, 3),
                          train_images_per_s=round(batch / step, 2))
            if name == "convlstm":
                record["train_frames_per_s"] = round(batch * 20 / step, 1)
        sample, sample_cpu = timed(lambda: model.sample(list(range(16))), args.repeats)
        record.update(sample_16_s=round(sample, 3), sample_16_cpu_s=round(sample_cpu, 3))
        if name == "convlstm":
            context = data[:1, :10]
            cont, cont_cpu = timed(lambda: model.continue_frames(context, 20), args.repeats)
            record.update(continue_20_frames_s=round(cont, 3), continue_20_frames_cpu_s=round(cont_cpu, 3))
        print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
