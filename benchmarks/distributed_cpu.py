#!/usr/bin/env python3
"""Two gloo processes on the CPU against one: speed, and whether they train alike.

    python benchmarks/distributed_cpu.py [--repeats 3] [--steps 400] \\
        [--plot docs/images/distributed-loss-cpu.png]

Each repeat trains dcgan (the app's default, width 32, 28 px) on the bundled
MNIST three times, in fresh processes, in turn so all see the same machine
state: one process at batch 64 (with its default threads, then with one), then
`train --nproc 2` at batch 32 per process, the same 64 pictures a step (engine.data.batches deals each step's global
batch out). Speed is the app's own images/s (metrics.jsonl, all processes
together), the median over the reports after the first fifth of the steps;
the wall time includes starting the processes. The plot puts the first
repeat's generator and discriminator losses side by side.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
BATCH = 64
# One process as the app runs it (one maths thread per core: 2 here), one process
# with one thread, and two processes with one thread each (torchrun's default).
CASES = {"1 process, batch 64": ["--batch-size", str(BATCH)],
         "1 process, batch 64, 1 thread": ["--batch-size", str(BATCH), "--threads", "1"],
         "2 processes, batch 32 each": ["--nproc", "2", "--batch-size", str(BATCH // 2)]}
COLOURS = {"1 process, batch 64": (31, 119, 180), "1 process, batch 64, 1 thread": (44, 160, 44),
           "2 processes, batch 32 each": (255, 127, 14)}
PLOTTED = ("1 process, batch 64", "2 processes, batch 32 each")


def train(extra: list[str], steps: int, out: Path) -> tuple[list[dict], float]:
    command = [sys.executable, "-m", "engine", "train", "--model", "dcgan", "--data", "mnist",
               "--steps", str(steps), "--no-preset", "--seed", "0", "--out", str(out), *extra]
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return [m for m in metrics if "generator" in m], wall


def images_per_second(metrics: list[dict], steps: int) -> float:
    return statistics.median(m["images_per_second"] for m in metrics if m["step"] > steps // 5)


def smoothed(points: list[tuple[int, float]], window: int = 9) -> list[tuple[int, float]]:
    out = []
    for i in range(len(points)):
        part = points[max(0, i - window // 2):i + window // 2 + 1]
        out.append((points[i][0], sum(v for _, v in part) / len(part)))
    return out


def plot(curves: dict[str, list[dict]], steps: int, path: Path) -> None:
    """Two panels (generator, discriminator loss against step), one line a case."""
    width, height, margin = 960, 380, 48
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    panel = (width - 3 * margin) // 2
    for index, loss in enumerate(("generator", "discriminator")):
        left, top, bottom = margin + index * (panel + margin), 40, height - margin
        series = {name: smoothed([(m["step"], m[loss]) for m in metrics])
                  for name, metrics in curves.items()}
        values = [v for points in series.values() for _, v in points]
        low, high = min(values), max(values)
        low, high = low - 0.05 * (high - low), high + 0.05 * (high - low)

        def at(step: float, value: float) -> tuple[float, float]:
            return (left + panel * step / steps,
                    bottom - (bottom - top) * (value - low) / (high - low))

        draw.rectangle([left, top, left + panel, bottom], outline=(160, 160, 160))
        draw.text((left, top - 28), f"{loss} loss (smoothed over 9 reports)", fill="black")
        for fraction in (0.0, 0.5, 1.0):
            value = low + fraction * (high - low)
            draw.text((left - 40, at(0, value)[1] - 6), f"{value:.2f}", fill=(90, 90, 90))
        for step in (0, steps // 2, steps):
            draw.text((at(step, low)[0] - 8, bottom + 6), str(step), fill=(90, 90, 90))
        for name, points in series.items():
            draw.line([at(s, v) for s, v in points], fill=COLOURS[name], width=2)
    for i, name in enumerate(curves):
        x = margin + i * 300
        draw.line([(x, height - 14), (x + 24, height - 14)], fill=COLOURS[name], width=3)
        draw.text((x + 30, height - 20), name, fill="black")
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, optimize=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--plot", type=Path, default=ROOT / "docs/images/distributed-loss-cpu.png")
    args = parser.parse_args()
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in CASES}
    curves: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory() as folder:
        for repeat in range(args.repeats):
            for case, (name, extra) in enumerate(CASES.items()):
                metrics, wall = train(extra, args.steps, Path(folder) / f"{repeat}-{case}")
                speed = images_per_second(metrics, args.steps)
                results[name].append((speed, wall))
                if name in PLOTTED:
                    curves.setdefault(name, metrics)
                print(f"repeat {repeat + 1}, {name}: {speed:.0f} images/s, "
                      f"{speed / BATCH:.2f} steps/s, {wall:.1f} s wall", flush=True)
    for name, runs in results.items():
        speed = statistics.median(s for s, _ in runs)
        wall = statistics.median(w for _, w in runs)
        print(f"median, {name}: {speed:.0f} images/s, {speed / BATCH:.2f} steps/s, "
              f"{wall:.1f} s wall ({', '.join(f'{s:.0f}' for s, _ in runs)})")
    for name, metrics in curves.items():
        last = [m for m in metrics if m["step"] > args.steps * 0.8]
        print(f"{name}: mean losses over the last fifth: generator "
              f"{statistics.mean(m['generator'] for m in last):.3f}, discriminator "
              f"{statistics.mean(m['discriminator'] for m in last):.3f}")
    plot(curves, args.steps, args.plot)
    print(f"wrote {args.plot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
