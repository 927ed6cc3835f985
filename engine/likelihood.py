"""Test-set likelihood of a saved VAE run, in nats per image.

`latent-atelier-cli likelihood RUN` uses this. A model measures likelihood
when it has `negative_elbo(images, labels)` and `iwae_nll(images, k, labels)`
methods (the VAE family); the evaluator and the GUI can test for them with
`measures_likelihood(model)`.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from engine.data import load_data
from engine.data.batches import to_model_range
from engine.device import resolve_device
from engine.errors import ConfigError
from engine.runs import RunDir


def measures_likelihood(model: object) -> bool:
    return callable(getattr(model, "negative_elbo", None)) and \
        callable(getattr(model, "iwae_nll", None))


def evaluate_run(run_dir: str | Path, data: str | None = None, split: str = "test",
                 k: int = 0, subset: int = 1000, limit: int | None = None,
                 device: str = "auto", batch_size: int = 500, seed: int = 0) -> dict[str, Any]:
    """-ELBO over the split (or its first `limit` images) and, with k > 0, the
    importance-weighted NLL with k samples on its first `subset` images.

    Data defaults to the run's own data spec. For a model trained on binarized
    images the test images are binarized once, from `seed`, so the number is a
    likelihood of binary data, as in the literature.
    """
    run = RunDir(run_dir)
    config = run.read_config()
    _, model = run.load_model(resolve_device(device))
    if not measures_likelihood(model):
        raise ConfigError(f"{config['model']} does not measure likelihood; only VAEs do")
    spec = data or config["train"]["data"]
    images_set = load_data(spec, split, size=model.config.image_size)
    count = len(images_set) if limit is None else max(1, min(limit, len(images_set)))
    if model.uses_labels and images_set.labels is None:
        raise ConfigError(f"{spec} ({split}) has no labels; this conditional model needs them")
    size = model.config.image_size
    binarized = bool(getattr(model.config, "binarize", False))
    noise = torch.Generator(device="cpu")
    noise.manual_seed(seed)

    def batch(start: int, stop: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        x = to_model_range(torch.from_numpy(images_set.images[start:stop].copy()), size)
        if binarized:
            x = (torch.rand(x.shape, generator=noise) < (x + 1) * 0.5).float() * 2 - 1
        y = None
        if model.uses_labels:
            y = torch.from_numpy(images_set.labels[start:stop].astype("int64"))
        return x.to(model.device), (None if y is None else y.to(model.device))

    started = time.perf_counter()
    elbo_sum = 0.0
    kept: list[tuple[torch.Tensor, torch.Tensor | None]] = []
    for start in range(0, count, batch_size):
        x, y = batch(start, min(start + batch_size, count))
        elbo_sum += float(model.negative_elbo(x, y, seed=seed + start).double().sum())
        if start < subset:
            kept.append((x[:subset - start], None if y is None else y[:subset - start]))
    result: dict[str, Any] = {
        "run": str(run.path), "model": config["model"], "data": spec, "split": split,
        "binarized": binarized, "images": count,
        "negative_elbo_nats": elbo_sum / count, "elbo_seconds": time.perf_counter() - started}
    if k > 0:
        started = time.perf_counter()
        total, n = 0.0, 0
        for x, y in kept:
            total += float(model.iwae_nll(x, k, y, seed=seed).double().sum())
            n += x.shape[0]
        result.update({"iwae_k": k, "iwae_images": n, "iwae_nll_nats": total / max(n, 1),
                       "iwae_seconds": time.perf_counter() - started})
    return result
