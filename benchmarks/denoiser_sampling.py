"""Sampling speed of the diffusion (`ddpm`) and flow (`flow`) families, in one
warm process, against the issue's goals:

- 64 samples at 28 x 28 with 20 steps (the preset's default guidance): under 2 s;
- 64 colour samples at 64 x 64 with 20 steps: under 10 s;
- a 120-frame walk or process GIF at 4x: under 5 s in a warm app.

    python benchmarks/denoiser_sampling.py [--repeats 5] [--threads 2] [--only sample28,walk]

Each case is timed `--repeats` times after one warm-up (the warm app: torch
loaded, the model built, oneDNN's kernels chosen). Prints one JSON line per
case: the median wall time, every run's wall time, the median process CPU
time (on a shared machine wall time includes waiting for a core, CPU time
is the work itself), and the load average before and after, since other jobs
may share the cores. Untrained weights: a denoiser's sampling costs the same
whatever it has learnt (a fixed number of network passes).

The networks are the CPU presets' (engine.models.common.denoiser_presets):
28 px greyscale with 10 classes (MNIST), and the colour network at 64 px
(the CPU preset itself trains colour at 32 px; 64 px is what a user who asks
for it gets, and the issue's target).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from engine.data.facts import DataFacts
from engine.models import build_model, model_config
from engine.models.base import GenerativeModel
from engine.models.common.denoiser_presets import _choose_network, suggest_denoiser
from engine.studio.animation import render_walk
from engine.studio.exporters import ExportOptions, export_animation
from engine.studio.keyframes import Timeline
from engine.media.images import to_uint8

CASES = ("sample28", "sample64", "walk", "process")
WALK_SEEDS = [1, 2, 3, 4, 5]
WALK_FRAMES_BETWEEN = 23   # 5 keyframes, looping: 5 x 24 = 120 frames
PROCESS_FRAMES = 120       # the starting noise and 119 sampler steps


def preset_model(name: str, facts: DataFacts, image_size: int | None = None,
                 blocks: int | None = None) -> GenerativeModel:
    """A `name` model built from its CPU preset for data like `facts`, with as
    many classes as the data has; at `image_size` (when given) with the
    network the preset chooses for that size on a CPU; `blocks` (when given)
    instead of the preset's residual blocks per level."""
    preset = suggest_denoiser(name, facts, "cpu", chosen=True)
    size = image_size or preset.value("image_size")
    if size != preset.value("image_size"):
        _choose_network(preset, size, facts.channels, gpu=False)
    settings = dict(preset.settings.get("model_settings", {}))
    settings.update(width=preset.value("width"), image_size=size, channels=facts.channels,
                    num_classes=facts.num_classes)
    if blocks is not None:
        settings["blocks"] = blocks
    return build_model(name, model_config(name, **settings), torch.device("cpu"), seed=0)


def timed(run: Callable[[], Any], repeats: int) -> dict[str, Any]:
    """Median wall and process CPU seconds of `repeats` calls after a warm-up."""
    run()
    walls, cpus = [], []
    load_before = os.getloadavg()[0]
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        run()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return {"median_s": round(statistics.median(walls), 3),
            "runs_s": [round(w, 3) for w in walls],
            "median_cpu_s": round(statistics.median(cpus), 3),
            "load_before": round(load_before, 2), "load_after": round(os.getloadavg()[0], 2)}


def describe(model: GenerativeModel) -> dict[str, Any]:
    c = model.config
    return {"image_size": c.image_size, "channels": c.channels, "width": c.width,
            "depth": c.depth, "blocks": c.blocks, "classes": c.num_classes,
            "parameters": sum(p.numel() for p in model.unet.parameters()),
            "steps": model.sampling.steps,
            "guidance": model.sampling.guidance if model.uses_labels else None}


def sample_case(model: GenerativeModel, repeats: int) -> dict[str, Any]:
    seeds = list(range(64))
    return timed(lambda: model.sample(seeds), repeats)


def walk_case(model: GenerativeModel, repeats: int, folder: Path) -> dict[str, Any]:
    """A looping walk through five seeds, each keyframe with its class (so
    guidance is on, the slower case), rendered and written as a GIF at 4x."""
    labels = [s % max(model.num_classes, 1) for s in WALK_SEEDS] if model.uses_labels else None
    timeline = Timeline.from_seeds(WALK_SEEDS, labels, frames_between=WALK_FRAMES_BETWEEN,
                                   loop=True, ease="linear")
    assert timeline.frame_count() == 120

    def run() -> None:
        frames = render_walk(model, timeline)
        export_animation(frames, folder / "walk.gif", "gif", ExportOptions(fps=24, scale=4))

    record = timed(run, repeats)
    record["gif_s"] = _gif_time(render_walk(model, timeline), folder)
    return record


def process_case(model: GenerativeModel, repeats: int, folder: Path) -> dict[str, Any]:
    """One seed's denoising, 120 frames (119 sampler steps), as a GIF at 4x."""
    from engine.studio.sampling import sampler_settings

    def run() -> None:
        with sampler_settings(model, steps=PROCESS_FRAMES - 1):
            frames = to_uint8(model.process_frames(7, 7 % max(model.num_classes, 1)
                                                   if model.uses_labels else None))
        assert len(frames) == PROCESS_FRAMES
        export_animation(frames, folder / "process.gif", "gif", ExportOptions(fps=24, scale=4))

    return timed(run, repeats)


def _gif_time(frames: Any, folder: Path) -> float:
    """Seconds to write these frames as a GIF at 4x: the encoder's share."""
    start = time.perf_counter()
    export_animation(frames, folder / "encode.gif", "gif", ExportOptions(fps=24, scale=4))
    return round(time.perf_counter() - start, 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--models", default="ddpm,flow")
    parser.add_argument("--only", default=",".join(CASES), help=f"cases among {', '.join(CASES)}")
    parser.add_argument("--blocks", type=int, default=None,
                        help="residual blocks per level of the 28 px network (default: the preset's)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cases = args.only.split(",")
    mnist = DataFacts(count=60_000, channels=1, size=28, num_classes=10)
    colour = DataFacts(count=1_000, channels=3, size=64, num_classes=0)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name in args.models.split(","):
            grey = preset_model(name, mnist, blocks=args.blocks)
            jobs = {"sample28": lambda: sample_case(grey, args.repeats),
                    "walk": lambda: walk_case(grey, args.repeats, folder),
                    "process": lambda: process_case(grey, args.repeats, folder)}
            if "sample64" in cases:
                big = preset_model(name, colour, image_size=64)
                jobs["sample64"] = lambda: sample_case(big, args.repeats)
            for case in CASES:
                if case not in cases:
                    continue
                model = big if case == "sample64" else grey
                record = {"case": case, "model": name, "threads": args.threads,
                          **describe(model), **jobs[case]()}
                print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
