"""Per-pixel decoder likelihoods for the VAE family, in nats.

Images are in [-1, 1]. Each likelihood turns a decoder's output into log p(x|z)
summed over an image's pixels, and into the image shown to a person.

- bernoulli: one logit per pixel; the target is the intensity in [0, 1] (the
  pytorch/examples measure on grey MNIST) or a binarized image (a true
  likelihood). Fits near-binary data such as digits.
- logistic: a discretised logistic per pixel over 256 intensity bins (mean and
  log-scale per pixel), a proper likelihood of 8-bit colour images.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

LIKELIHOODS = ("bernoulli", "logistic")
PARAMETERS_PER_CHANNEL = {"bernoulli": 1, "logistic": 2}
BIN_HALF_WIDTH = 1.0 / 255.0     # half of one 8-bit bin on the [-1, 1] scale
MIN_LOG_SCALE = -7.0


def choose_likelihood(requested: str, channels: int) -> str:
    """"auto": Bernoulli for grey images (digits, line art), logistic for colour."""
    if requested != "auto":
        return requested
    return "bernoulli" if channels == 1 else "logistic"


def log_likelihood(kind: str, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """log p(x | params) per image, shape (N,). x in [-1, 1] (N, C, H, W)."""
    if kind == "bernoulli":
        target = (x + 1) * 0.5
        return -F.binary_cross_entropy_with_logits(params, target, reduction="none").flatten(1).sum(1)
    return _discretized_logistic(params, x).flatten(1).sum(1)


def mean_image(kind: str, params: torch.Tensor) -> torch.Tensor:
    """The decoder's expected image in [-1, 1]."""
    if kind == "bernoulli":
        return torch.sigmoid(params) * 2 - 1
    mean, _ = params.chunk(2, dim=1)
    return mean.clamp(-1, 1)


def _discretized_logistic(params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """log P(x's 8-bit bin) under a logistic(mean, scale); the two end bins take
    the tails, so the probabilities of all 256 bins sum to one."""
    mean, log_scale = params.chunk(2, dim=1)
    log_scale = log_scale.clamp(min=MIN_LOG_SCALE)
    centred = x - mean
    inv_scale = torch.exp(-log_scale)
    upper = inv_scale * (centred + BIN_HALF_WIDTH)
    lower = inv_scale * (centred - BIN_HALF_WIDTH)
    log_cdf_upper = upper - F.softplus(upper)          # log sigmoid(upper)
    log_survival_lower = -F.softplus(lower)            # log (1 - sigmoid(lower))
    bin_mass = torch.sigmoid(upper) - torch.sigmoid(lower)
    # Where the bin's mass underflows, the density at its centre times its width.
    middle = inv_scale * centred
    log_density_mid = middle - log_scale - 2 * F.softplus(middle) + math.log(2 * BIN_HALF_WIDTH)
    inner = torch.where(bin_mass > 1e-5, torch.log(bin_mass.clamp(min=1e-12)), log_density_mid)
    return torch.where(x < -0.999, log_cdf_upper, torch.where(x > 0.999, log_survival_lower, inner))
