"""`nearest RUN --seed S [--n N] [--k K] [--out grid.png]`: is a sample a copy?

Samples the seeds as `sample` does (same class, temperature, truncation and
sampler settings give the same pictures as the gallery's tiles), then prints
each one's nearest training pictures by features and by pixels with both
distances and a verdict (engine.metrics.nearest_training). `--out` writes a
grid: one row per seed, the sample first, then its nearest by features, then
its nearest by pixels.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from engine.errors import ConfigError

MAX_SEEDS = 64


def add_parser(sub: Any) -> None:
    from engine.cli.sampler_options import add_sampler_arguments
    from engine.metrics.features import FEATURE_CHOICES
    from engine.metrics.nearest_training import DEFAULT_NEIGHBOURS

    p = sub.add_parser("nearest", help="a sample's nearest training pictures, by features and "
                                       "by pixels: is it a copy?")
    p.add_argument("run", help="run directory or model bundle (.atelier.safetensors)")
    p.add_argument("--seed", type=int, default=0, help="first seed; sample i uses seed+i")
    p.add_argument("--n", type=int, default=1, help=f"samples to check (1-{MAX_SEEDS})")
    p.add_argument("--k", type=int, default=DEFAULT_NEIGHBOURS,
                   help=f"nearest training pictures shown per sample (default {DEFAULT_NEIGHBOURS})")
    p.add_argument("--class", dest="label", type=int, default=None,
                   help="conditional models: the class of every sample (default: seed mod classes)")
    p.add_argument("--temperature", type=float, default=1.0, help="as for sample (default: 1)")
    p.add_argument("--truncation", type=float, default=None, help="GANs, as for sample")
    add_sampler_arguments(p)
    p.add_argument("--features", choices=FEATURE_CHOICES, default="auto",
                   help="auto (default): the shipped MNIST evaluator for one-channel data, else "
                        "random features; as eval's copy check")
    p.add_argument("--out", default=None, help="also write a PNG: each sample beside its nearest")
    p.add_argument("--scale", type=int, default=1, help="nearest-neighbour upscale of --out")
    p.add_argument("--device", default="auto")
    p.add_argument("--json", action="store_true")


def run_nearest(args: argparse.Namespace) -> int:
    from engine.cli.sampler_options import sampler_choice
    from engine.metrics.evaluate import EvalProgress
    from engine.metrics.nearest_training import NearestTraining, nearest_training_pictures
    from engine.studio.sampling import sample_run, seeds_from

    if not 1 <= args.n <= MAX_SEEDS:
        raise ConfigError(f"nearest: --n must be between 1 and {MAX_SEEDS}, not {args.n}")
    seeds = seeds_from(args.seed, args.n)
    labels = None if args.label is None else [args.label] * len(seeds)
    options = {k: v for k, v in sampler_choice(args).items() if v is not None}
    if args.truncation is not None:
        options["truncation"] = args.truncation
    samples = sample_run(args.run, seeds, device=args.device, labels=labels,
                         temperature=args.temperature, **options)
    result = None
    for event in nearest_training_pictures(args.run, samples, k=args.k, features=args.features,
                                           device=args.device):
        if isinstance(event, EvalProgress) and not args.json and sys.stderr.isatty():
            sys.stderr.write(f"\rtraining features: {event.done:,}/{event.total:,}   ")
            sys.stderr.flush()
        elif isinstance(event, NearestTraining):
            result = event
    if not args.json and sys.stderr.isatty():
        sys.stderr.write("\r")
    assert result is not None   # the search ends with one when not stopped
    written = _write_grid(args, samples, result, seeds) if args.out else None
    if args.json:
        record = {"seeds": seeds, **result.to_dict()}
        for seed, picture in zip(seeds, record["pictures"]):
            picture["seed"] = seed
        if written:
            record["file"] = written
        print(json.dumps(record), flush=True)
    else:
        lines = result.lines([f"seed {s}" for s in seeds])
        print("\n".join(lines + ([f"wrote {written}"] if written else [])), flush=True)
    return 0


def _write_grid(args: argparse.Namespace, samples: Any, result: Any, seeds: list[int]) -> str:
    import numpy as np

    from engine.media.images import make_grid
    from engine.studio.export import save_png

    k = max(len(p.by_features) for p in result.pictures)
    blank = np.zeros_like(samples[0])
    tiles = []
    for sample, found in zip(samples, result.pictures):
        by_features = [n.picture for n in found.by_features] + [blank] * (k - len(found.by_features))
        by_pixels = [n.picture for n in found.by_pixels] + [blank] * (k - len(found.by_pixels))
        tiles += [sample, *by_features, *by_pixels]
    provenance = {"run": Path(args.run).name, "seeds": seeds, "kind": "nearest training pictures",
                  "columns": "sample, nearest by features, nearest by pixels"}
    return str(save_png(make_grid(np.stack(tiles), columns=2 * k + 1), args.out, args.scale,
                        provenance))
