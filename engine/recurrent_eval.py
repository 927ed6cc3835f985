"""Test-set scores of the recurrent families, on the protocols papers report.

    row-lstm   exact test NLL in nats per image (and bits/dim) on binarized test images
    draw       the variational bound on the test NLL, nats per image
    convlstm   Moving MNIST protocol: 10 frames in, 10 predicted closed-loop; per-frame
               MSE summed over the pixels of a frame in [0, 1], and SSIM

Test images are binarized once, stochastically, from a fixed seed, so every
run is scored on the same binary pictures.

    python -m engine.recurrent_eval RUN [--limit N] [--json]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from engine.data import load_data
from engine.data.batches import to_model_range
from engine.device import resolve_device
from engine.errors import AtelierError, ConfigError
from engine.process_animation import match_channels
from engine.runs import RunDir

BINARIZE_SEED = 1234
PROTOCOL_IN, PROTOCOL_OUT = 10, 10


def binarized_test_set(spec: str, image_size: int, limit: int | None = None) -> torch.Tensor:
    """The test split as fixed binary images (N, 1, H, W) in {0, 1}."""
    images = load_data(spec, "test").images
    images = torch.from_numpy((images[:limit] if limit else images).copy())
    probabilities = to_model_range(images, image_size).add(1).mul(0.5).clamp(0, 1)
    return torch.bernoulli(probabilities, generator=torch.Generator().manual_seed(BINARIZE_SEED))


@torch.inference_mode()
def ssim(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean structural similarity of images (N, C, H, W) in [0, 1]: 11x11 Gaussian
    window, sigma 1.5, over the valid region (Wang et al. 2004)."""
    side = min(11, a.shape[-1] - (1 - a.shape[-1] % 2))   # tiny test images get a smaller window
    coords = torch.arange(side, dtype=a.dtype, device=a.device) - side // 2
    g = torch.exp(-coords ** 2 / (2 * 1.5 ** 2))
    g = g / g.sum()
    window = (g[:, None] * g[None, :]).expand(a.shape[1], 1, side, side)

    def blur(x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, window, groups=a.shape[1])

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a ** 2
    var_b = blur(b * b) - mu_b ** 2
    cov = blur(a * b) - mu_a * mu_b
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    value = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))
    return value.flatten(1).mean(1)


def evaluate_run(run_dir: str | Path, limit: int | None = None, device: str = "auto",
                 batch_size: int = 100) -> dict[str, Any]:
    """Scores of the run's current weights on its data's test split."""
    run = RunDir(run_dir)
    spec = run.read_config()["train"]["data"]
    name, model = run.load_model(resolve_device(device))
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
    return {"model": name, "run": str(run.path), "data": spec,
            "seconds": round(time.perf_counter() - start, 2), **result}


def _likelihood(model, spec: str, limit: int | None, batch_size: int, nats,
                key: str) -> dict[str, Any]:
    binary = binarized_test_set(spec, model.config.image_size, limit).to(model.device)
    total = sum(float(nats(chunk).sum()) for chunk in binary.split(batch_size))
    per_image = total / len(binary)
    return {key: per_image, "bits_per_dim": per_image / (binary[0].numel() * 0.6931471805599453),
            "images": len(binary)}


def _next_frames(model, spec: str, limit: int | None, batch_size: int) -> dict[str, Any]:
    images = load_data(spec, "test").images
    if images.ndim != 5 or images.shape[1] < 2:
        raise ConfigError(f"{spec} has no image sequences to score a convlstm on")
    images = images[:limit] if limit else images
    k = min(PROTOCOL_IN, images.shape[1] - 1)
    future = min(PROTOCOL_OUT, images.shape[1] - k)
    mse_sum, ssim_sum, frames = 0.0, 0.0, 0
    for start in range(0, len(images), batch_size):
        chunk = torch.from_numpy(images[start:start + batch_size].copy()).to(model.device)
        seq = to_model_range(chunk, model.config.image_size)
        seq = match_channels(seq.flatten(0, 1), model.config.channels).unflatten(0, seq.shape[:2])
        seq = seq.add(1).mul(0.5)
        predicted = model.continue_frames(seq[:, :k].mul(2).sub(1), future).add(1).mul(0.5)
        target = seq[:, k:k + future]
        mse_sum += float((predicted - target).pow(2).flatten(2).sum(2).sum())
        ssim_sum += float(ssim(predicted.flatten(0, 1), target.flatten(0, 1)).sum())
        frames += predicted.shape[0] * predicted.shape[1]
    return {"mse_per_frame": mse_sum / frames, "ssim": ssim_sum / frames,
            "sequences": len(images), "frames_in": k, "frames_out": future}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.recurrent_eval",
                                     description="Test-set scores of a row-lstm, draw or convlstm run.")
    parser.add_argument("run")
    parser.add_argument("--limit", type=int, default=None, help="score only the first N test items")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    try:
        result = evaluate_run(args.run, args.limit, args.device)
    except AtelierError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    print(json.dumps(result) if args.json else
          "\n".join(f"{k}: {v:.3f}" if isinstance(v, float) else f"{k}: {v}" for k, v in result.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
