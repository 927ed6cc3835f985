"""`latent-atelier-cli likelihood RUN`: a run's test-set -ELBO and importance-
weighted NLL in nats per image, in the command's own output format.

An alias of the one likelihood path (engine.metrics.likelihood, which `eval`
uses too): the same test pictures, binarization and seeds, so for the same
images, batch size and seed the numbers equal `eval`'s neg_elbo_nats and
iw_nll_nats. For a family with an exact likelihood (row-lstm) the -ELBO keys
hold that exact NLL, the tightest bound there is.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from engine.data import load_data
from engine.runtime.device import resolve_device
from engine.errors import ConfigError
from engine.metrics.likelihood import has_likelihood, run_likelihood_scores
from engine.runs.folders import RunDir


def measures_likelihood(model: object) -> bool:
    return has_likelihood(model)


def evaluate_run(run_dir: str | Path, data: str | None = None, split: str = "test",
                 k: int = 0, subset: int = 1000, limit: int | None = None,
                 device: str = "auto", batch_size: int = 500, seed: int = 0) -> dict[str, Any]:
    """-ELBO over the split (or its first `limit` images) and, with k > 0, the
    importance-weighted NLL with k samples on its first `subset` images.

    Data defaults to the run's own data spec. The images are prepared under the
    family's declared protocol (binarized once from the one fixed seed for
    Bernoulli decoders); `seed` drives the estimates' own noise.
    """
    run = RunDir(run_dir)
    config = run.read_config()
    _, model = run.load_model(resolve_device(device))
    if not has_likelihood(model):
        raise ConfigError(f"{config['model']} does not measure likelihood; "
                          "VAEs, row-lstm and draw do")
    spec = data or config["train"]["data"]
    loaded = load_data(spec, split, size=model.config.image_size)
    images, labels = loaded.images, loaded.labels
    if model.uses_labels and labels is None:
        raise ConfigError(f"{spec} ({split}) has no labels; this conditional model needs them")
    count = len(images) if limit is None else max(1, min(limit, len(images)))
    started = time.perf_counter()
    # One importance sample: the -ELBO alone, the same draws eval makes for it.
    scores = run_likelihood_scores(model, images[:count], batch_size, 1, seed, labels)
    bound = "neg_elbo" if "neg_elbo_nats" in scores else "nll"
    result: dict[str, Any] = {
        "run": str(run.path), "model": config["model"], "data": spec, "split": split,
        "binarized": model.likelihood_data == "binarized", "images": count,
        "negative_elbo_nats": scores[f"{bound}_nats"],
        "elbo_seconds": time.perf_counter() - started}
    if k > 0:
        started = time.perf_counter()
        n = min(subset, len(images))
        scores = run_likelihood_scores(model, images[:n], batch_size, k, seed, labels)
        # With k = 1 the importance-weighted bound is the -ELBO itself.
        iwae = scores.get("iw_nll_nats", scores[f"{bound}_nats"])
        result.update({"iwae_k": k, "iwae_images": n, "iwae_nll_nats": iwae,
                       "iwae_seconds": time.perf_counter() - started})
    return result


__all__ = ["evaluate_run", "measures_likelihood"]
