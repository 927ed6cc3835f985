#!/usr/bin/env python3
"""ONNX parity: the largest pixel difference between onnxruntime and the app, per model.

    python benchmarks/onnx_parity.py [--steps 200] [--seeds 64] [--data mnist]
        [--models dcgan cgan fastgan mlp-vae conv-cvae draw ddpm flow] [--out FOLDER]

Each model trains a small run for --steps steps (the app's trainer, plain
defaults, one seed), is exported with `latent-atelier-cli export RUN --out
M.onnx`, and its pictures for seeds 0..N-1 are drawn twice from the same
latents (and classes): by the app (GenerativeModel.sample, torch) and by the
reference sampler of docs/ONNX.md (onnxruntime and numpy; for diffusion and
flow its sampling loop, with the run's default steps and guidance). Prints a
Markdown table: the largest difference in levels of 255, the share of pixels
that differ at all, the export's time and the file's size. Needs the test
extra (onnxruntime) and the onnx extra.
"""
from __future__ import annotations

import argparse
import platform
import re
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "ONNX.md"
DEFAULT_MODELS = ["dcgan", "cgan", "fastgan", "mlp-vae", "conv-cvae", "draw", "ddpm", "flow"]


def reference_sampler() -> dict:
    """The code block docs/ONNX.md shows, as a namespace."""
    block = re.search(r"<!-- onnx-reference-sampler -->\s*```python\n(.*?)```",
                      DOC.read_text(encoding="utf-8"), re.S)
    namespace: dict = {"__name__": "onnx_reference_sampler"}
    exec(compile(block.group(1), str(DOC), "exec"), namespace)   # noqa: S102 - our own docs
    return namespace


def train_run(model: str, data: str, steps: int, folder: Path) -> Path:
    from engine.training import TrainConfig, train

    out = folder / model
    config = TrainConfig(model=model, data=data, steps=steps, device="cpu", seed=0,
                         report_seconds=60.0, sample_every=steps)
    for _ in train(config, out):
        pass
    return out


def measure(model_name: str, run: Path, seeds: list[int], sampler: dict) -> dict:
    from engine.cli.main import main as cli
    from engine.media.images import to_uint8
    from engine.models.base import STEPS
    from engine.runs.bundles import load_model_from

    out = run.parent / f"{model_name}.onnx"
    start = time.perf_counter()
    assert cli(["export", str(run), "--out", str(out)]) == 0
    seconds = time.perf_counter() - start
    _, model = load_model_from(run, torch.device("cpu"))
    with torch.inference_mode():
        app = to_uint8(model.sample(seeds)).astype(int)
        latents = model.latents_for_seeds(seeds).numpy()
    labels = model.labels_for_seeds(seeds)
    steps = model.sampling.steps if STEPS in model.capabilities else None
    theirs = sampler["sample"](str(out), latents, None if labels is None else labels.numpy(),
                               steps=steps).astype(int)
    difference = np.abs(theirs - app)
    return {"model": model_name, "family": model.family, "largest": int(difference.max()),
            "differing": float((difference > 0).mean()), "seconds": seconds,
            "megabytes": out.stat().st_size / 1e6, "sampler": "" if steps is None else
            f"{steps} steps" + (f", guidance {model.sampling.guidance:g}" if labels is not None
                                else "")}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=200, help="training steps per run")
    p.add_argument("--seeds", type=int, default=64)
    p.add_argument("--data", default="mnist")
    p.add_argument("--models", nargs="+", default=DEFAULT_MODELS)
    p.add_argument("--out", default=None, help="folder for the runs and files (default: temporary)")
    args = p.parse_args()
    folder = Path(args.out or tempfile.mkdtemp(prefix="onnx-parity-"))
    sampler = reference_sampler()
    seeds = list(range(args.seeds))
    print(f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
          f"torch {torch.__version__}; runs of {args.steps} steps on {args.data}; "
          f"seeds 0..{args.seeds - 1}\n")
    print("| model | family | largest difference (of 255) | pixels differing | sampler "
          "| export (s) | file (MB) |")
    print("|---|---|---|---|---|---|---|")
    for name in args.models:
        row = measure(name, train_run(name, args.data, args.steps, folder), seeds, sampler)
        print(f"| {row['model']} | {row['family']} | {row['largest']} | {row['differing']:.4%} "
              f"| {row['sampler'] or 'one pass'} | {row['seconds']:.1f} | {row['megabytes']:.2f} |",
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
