"""Test-set scores of the recurrent families, on the protocols papers report.

    row-lstm   exact test NLL in nats per image (and bits/dim) on binarized test images
               (8-bit models: on the test images' own 256 grey levels)
    draw       the variational bound on the test NLL, nats per image
    convlstm   Moving MNIST protocol: 10 frames in, 10 predicted closed-loop; per-frame
               MSE summed over the pixels of a frame in [0, 1], and SSIM
               (engine/metrics/next_frames.py, which `eval RUN` uses too)

Test images are binarized once, stochastically, from a fixed seed, so every
run is scored on the same binary pictures.

    python -m engine.recurrent_eval RUN [--limit N] [--checkpoint step_...] [--json]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

from engine.data import load_data
from engine.data.batches import to_model_range
from engine.device import resolve_device
from engine.errors import AtelierError, ConfigError
from engine.metrics.next_frames import next_frame_scores, ssim
from engine.runs import RunDir

BINARIZE_SEED = 1234


def binarized_test_set(spec: str, image_size: int, limit: int | None = None) -> torch.Tensor:
    """The test split as fixed binary images (N, 1, H, W) in {0, 1}."""
    images = load_data(spec, "test").images
    images = torch.from_numpy((images[:limit] if limit else images).copy())
    probabilities = to_model_range(images, image_size).add(1).mul(0.5).clamp(0, 1)
    return torch.bernoulli(probabilities, generator=torch.Generator().manual_seed(BINARIZE_SEED))


def evaluate_run(run_dir: str | Path, limit: int | None = None, device: str = "auto",
                 batch_size: int = 100, checkpoint: str | None = None) -> dict[str, Any]:
    """Scores of the run's current weights (or of the kept checkpoint named
    `checkpoint`) on its data's test split."""
    run = RunDir(run_dir)
    spec = run.read_config()["train"]["data"]
    name, model = run.load_model(resolve_device(device), checkpoint)
    for net in model.networks().values():
        net.eval()
    start = time.perf_counter()
    with torch.inference_mode():
        if name == "row-lstm":
            result = _likelihood(model, spec, limit, batch_size, model.nll, "test_nll_nats")
        elif name == "draw":
            noise = torch.Generator(device=model.device).manual_seed(BINARIZE_SEED)

            def bound(x: torch.Tensor) -> torch.Tensor:
                eps = torch.randn(model.config.steps, len(x), model.config.latent_dim,
                                  generator=noise, device=model.device)
                reconstruction, kl = model.bound(x, eps)
                return reconstruction + kl
            result = _likelihood(model, spec, limit, batch_size, bound, "test_nll_bound_nats")
        elif name == "convlstm":
            result = _next_frames(model, spec, limit, batch_size)
        else:
            raise ConfigError(f"{name} is not a recurrent model; nothing to score here")
    return {"model": name, "run": str(run.path), "data": spec, "checkpoint": checkpoint,
            "seconds": round(time.perf_counter() - start, 2), **result}


def _likelihood(model, spec: str, limit: int | None, batch_size: int, nats,
                key: str) -> dict[str, Any]:
    if getattr(model.config, "levels", 2) == 256:   # an 8-bit row-lstm: the test images as stored
        images = load_data(spec, "test").images
        images = torch.from_numpy((images[:limit] if limit else images).copy())
        binary = to_model_range(images, model.config.image_size).add(1).mul(127.5).round().div(255)
    else:
        binary = binarized_test_set(spec, model.config.image_size, limit)
    binary = binary.to(model.device)
    total = sum(float(nats(chunk).sum()) for chunk in binary.split(batch_size))
    per_image = total / len(binary)
    return {key: per_image, "bits_per_dim": per_image / (binary[0].numel() * 0.6931471805599453),
            "images": len(binary)}


def _next_frames(model, spec: str, limit: int | None, batch_size: int) -> dict[str, Any]:
    images = load_data(spec, "test").images
    if images.ndim != 5 or images.shape[1] < 2:
        raise ConfigError(f"{spec} has no image sequences to score a convlstm on")
    scores: dict[str, Any] = {}
    for _, result in next_frame_scores(model, images[:limit] if limit else images, batch_size):
        scores = result or scores
    return scores


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.recurrent_eval",
                                     description="Test-set scores of a row-lstm, draw or convlstm run.")
    parser.add_argument("run")
    parser.add_argument("--limit", type=int, default=None, help="score only the first N test items")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--checkpoint", default=None,
                        help="a kept checkpoint's folder name (checkpoints/step_...) instead of "
                             "the latest: to score how the run improved")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    try:
        result = evaluate_run(args.run, args.limit, args.device, checkpoint=args.checkpoint)
    except AtelierError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    print(json.dumps(result) if args.json else
          "\n".join(f"{k}: {v:.3f}" if isinstance(v, float) else f"{k}: {v}" for k, v in result.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["binarized_test_set", "evaluate_run", "main", "ssim"]
