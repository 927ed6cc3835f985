"""Test-set likelihoods for families that have one (see GenerativeModel.likelihood_data).

Reported in nats per image (lower is better) and bits per dimension
(nats / (C * H * W * ln 2)), on the data set's test split, under the protocol the
family declares:

- "binarized": each test image is binarized once, pixel ~ Bernoulli(intensity / 255),
  with a generator seeded by `binarize_seed` (0 by default), the usual "dynamically
  binarized MNIST" test protocol (Burda et al. 2016); pixels become -1 or 1.
- "8bit": the images as stored, 256 levels mapped to [-1, 1].
"""
from __future__ import annotations

import math
import re
from collections.abc import Iterator

import numpy as np
import torch

from engine.errors import ConfigError
from engine.models.base import GenerativeModel

LIKELIHOOD_PROTOCOLS = ("binarized", "8bit")
_ESTIMATE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def has_likelihood(model: GenerativeModel) -> bool:
    return getattr(model, "likelihood_data", None) is not None


def prepare_test_images(images_uint8: np.ndarray, protocol: str, binarize_seed: int = 0
                        ) -> torch.Tensor:
    """uint8 (N, C, H, W) -> float images in [-1, 1] under the protocol."""
    if protocol not in LIKELIHOOD_PROTOCOLS:
        raise ConfigError(f"unknown likelihood protocol {protocol!r}; "
                          f"one of {', '.join(LIKELIHOOD_PROTOCOLS)}")
    # A read-only (memory-mapped or cached) array is copied: torch wants writable memory.
    x = torch.from_numpy(np.require(images_uint8, requirements=["C", "W"])).float().div(255)
    if protocol == "binarized":
        gen = torch.Generator().manual_seed(binarize_seed)
        x = torch.bernoulli(x, generator=gen)
    return x.mul(2).sub(1)


def negative_log_likelihoods(model: GenerativeModel, images: torch.Tensor, batch_size: int = 500,
                             importance_samples: int = 100, seed: int = 0
                             ) -> Iterator[tuple[int, dict[str, float] | None]]:
    """Yields (images done, None) after each batch, then (N, result) once:
    result maps "<estimate>_nats" and "<estimate>_bits_per_dim" to test-set means.

    A generator, so a caller can report progress and stop between batches.
    """
    if not has_likelihood(model):
        raise ConfigError(f"the {model.family} family has no likelihood")
    n, dims = images.shape[0], int(np.prod(images.shape[1:]))
    gen = torch.Generator(device=model.device).manual_seed(seed)
    totals: dict[str, float] = {}
    nets = model.networks()
    was_training = {name: net.training for name, net in nets.items()}
    for net in nets.values():
        net.eval()
    try:
        for start in range(0, n, batch_size):
            batch = images[start:start + batch_size].to(model.device)
            with torch.inference_mode():
                estimates = model.negative_log_likelihood(batch, gen, importance_samples)
            for name, values in estimates.items():
                if not _ESTIMATE_NAME.match(name):
                    raise ValueError(f"bad likelihood estimate name {name!r}")
                if tuple(values.shape) != (batch.shape[0],):
                    raise ValueError(f"estimate {name!r} has shape {tuple(values.shape)}, "
                                     f"expected ({batch.shape[0]},)")
                totals[name] = totals.get(name, 0.0) + float(values.double().sum())
            yield min(start + batch_size, n), None
    finally:
        for name, net in nets.items():
            net.train(was_training[name])
    result: dict[str, float] = {}
    for name, total in sorted(totals.items()):
        nats = total / n
        result[f"{name}_nats"] = nats
        result[f"{name}_bits_per_dim"] = nats / (dims * math.log(2))
    yield n, result
