"""Test-set likelihoods for families that have one (see GenerativeModel.likelihood_data).

The one likelihood path: `eval`, `likelihood` and `python -m engine.cli.recurrent_eval`
all score through `likelihood_scores`, so one run gets one number from each.

Reported in nats per image (lower is better) and bits per dimension
(nats / (C * H * W * ln 2)), on the data set's test split at the model's image
size (resized as the trainer resizes), under the protocol the family declares:

- "binarized": each test image is binarized once, pixel ~ Bernoulli(intensity / 255),
  with a generator seeded by BINARIZE_SEED, the usual "dynamically binarized
  MNIST" test protocol (Burda et al. 2016); pixels become -1 or 1.
- "8bit": the images as stored, 256 levels mapped to [-1, 1].

The estimates' own noise (a VAE's posterior samples) comes from a separate
`seed`, so changing it never changes the test pictures.
"""
from __future__ import annotations

import math
import re
from collections.abc import Iterator

import numpy as np
import torch

from engine.data.batches import to_model_range
from engine.errors import ConfigError
from engine.models.base import LIKELIHOOD, GenerativeModel
from engine.models.common import evaluating

LIKELIHOOD_PROTOCOLS = ("binarized", "8bit")
# One seed for every caller: a run's test pictures are the same binary images
# whichever command scores it. 0 keeps the evaluations already recorded in
# runs' metrics comparable with new ones.
BINARIZE_SEED = 0
_ESTIMATE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def has_likelihood(model: GenerativeModel) -> bool:
    """Whether the model reports a test-set likelihood: the one check every
    caller uses: the declared capability, and a protocol for this model's test
    images."""
    return LIKELIHOOD in model.capabilities and model.likelihood_data is not None


def prepare_test_images(images_uint8: np.ndarray, protocol: str,
                        binarize_seed: int = BINARIZE_SEED,
                        image_size: int | None = None) -> torch.Tensor:
    """uint8 (N, C, H, W) -> float images in [-1, 1] under the protocol, resized
    to `image_size` (when given and different) before binarizing."""
    if protocol not in LIKELIHOOD_PROTOCOLS:
        raise ConfigError(f"unknown likelihood protocol {protocol!r}; "
                          f"one of {', '.join(LIKELIHOOD_PROTOCOLS)}")
    # A read-only (memory-mapped or cached) array is copied: torch wants writable memory.
    x = torch.from_numpy(np.require(images_uint8, requirements=["C", "W"])).float().div(255)
    if image_size is not None and x.shape[-2:] != (image_size, image_size):
        # The trainer's own resize, so a run is scored on the pictures it saw.
        x = to_model_range(torch.from_numpy(np.array(images_uint8)),
                           image_size).add(1).mul(0.5).clamp(0, 1)
        if protocol == "8bit":
            x = x.mul(255).round().div(255)
    if protocol == "binarized":
        gen = torch.Generator().manual_seed(binarize_seed)
        x = torch.bernoulli(x, generator=gen)
    return x.mul(2).sub(1)


def negative_log_likelihoods(model: GenerativeModel, images: torch.Tensor, batch_size: int = 500,
                             importance_samples: int = 100, seed: int = 0,
                             labels: torch.Tensor | None = None
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
    with evaluating(*model.networks().values()):
        for start in range(0, n, batch_size):
            batch = images[start:start + batch_size].to(model.device)
            given = {} if labels is None else {
                "labels": labels[start:start + batch_size].to(model.device)}
            with torch.inference_mode():
                estimates = model.negative_log_likelihood(batch, gen, importance_samples, **given)
            for name, values in estimates.items():
                if not _ESTIMATE_NAME.match(name):
                    raise ValueError(f"bad likelihood estimate name {name!r}")
                if tuple(values.shape) != (batch.shape[0],):
                    raise ValueError(f"estimate {name!r} has shape {tuple(values.shape)}, "
                                     f"expected ({batch.shape[0]},)")
                totals[name] = totals.get(name, 0.0) + float(values.double().sum())
            yield min(start + batch_size, n), None
    result: dict[str, float] = {}
    for name, total in sorted(totals.items()):
        nats = total / n
        result[f"{name}_nats"] = nats
        result[f"{name}_bits_per_dim"] = nats / (dims * math.log(2))
    yield n, result


def likelihood_scores(model: GenerativeModel, images_uint8: np.ndarray, batch_size: int = 500,
                      importance_samples: int = 100, seed: int = 0,
                      labels: np.ndarray | None = None
                      ) -> Iterator[tuple[int, int, dict[str, float] | None]]:
    """The one likelihood path: uint8 test images (N, C, H, W) -> yields
    (images done, N, None) after each batch, then (N, N, result) once, with
    result as negative_log_likelihoods'. Images of another channel count are
    refused; another size is resized to the model's. A class-conditional model
    needs each image's class in `labels`."""
    if not has_likelihood(model):
        raise ConfigError(f"the {model.family} family has no likelihood")
    given = None
    if model.uses_labels:
        if labels is None or len(labels) < len(images_uint8):
            raise ConfigError("this class-conditional model is scored given each test image's "
                              "class, and the test images have no labels")
        given = torch.from_numpy(np.asarray(labels[:len(images_uint8)]).astype("int64"))
    channels = model.config.channels
    if images_uint8.ndim != 4 or images_uint8.shape[1] != channels:
        raise ConfigError(f"the model works on {channels}-channel images but the test images "
                          f"are {'x'.join(str(d) for d in images_uint8.shape[1:])}")
    prepared = prepare_test_images(images_uint8, model.likelihood_data,
                                   image_size=model.config.image_size)
    n = len(prepared)
    for done, result in negative_log_likelihoods(model, prepared, batch_size,
                                                 importance_samples, seed, given):
        yield done, n, result


def run_likelihood_scores(model: GenerativeModel, images_uint8: np.ndarray, batch_size: int = 500,
                          importance_samples: int = 100, seed: int = 0,
                          labels: np.ndarray | None = None) -> dict[str, float]:
    """likelihood_scores to the end: its result."""
    result: dict[str, float] = {}
    for _, _, scores in likelihood_scores(model, images_uint8, batch_size, importance_samples,
                                          seed, labels):
        result = scores or result
    return result
