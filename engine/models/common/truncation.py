"""The truncation trick for GAN sampling (Brock et al., 2019, "Large Scale GAN
Training for High Fidelity Natural Image Synthesis"): latent components whose
magnitude exceeds a threshold are drawn again, so samples come from the
typical centre of the latent distribution: fewer odd images, less variety.

The redraws continue the tile's own seeded generator, so a tile stays
reproducible from its seed and the threshold alone, and components already
inside the threshold keep their values: lowering the threshold changes a tile
gradually, not into another image.
"""
from __future__ import annotations

import torch

from engine.errors import ConfigError
from engine.models.base import per_seed

MIN_TRUNCATION = 0.05
MAX_TRUNCATION = 4.0
MAX_REDRAWS = 1000     # rounds of redrawing; what is still outside is clamped


def check_truncation(threshold: float) -> None:
    if not MIN_TRUNCATION <= threshold <= MAX_TRUNCATION:
        raise ConfigError(f"truncation must be between {MIN_TRUNCATION} and {MAX_TRUNCATION}, "
                          f"not {threshold}")


def truncated_normal(size: int, threshold: float, generator: torch.Generator) -> torch.Tensor:
    """A standard normal vector whose components beyond +-threshold are redrawn
    from `generator` until inside (in effect a truncated normal)."""
    z = torch.randn(size, generator=generator)
    for _ in range(MAX_REDRAWS):
        outside = z.abs() > threshold
        count = int(outside.sum())
        if count == 0:
            return z
        z[outside] = torch.randn(count, generator=generator)
    # Only reachable for thresholds near the minimum; keeps the bound a promise.
    return z.clamp_(-threshold, threshold)


def truncated_latents(seeds: list[int], dim: int, threshold: float) -> torch.Tensor:
    """One truncated latent of `dim` components per seed, each from the seed's
    own generator: a GAN family's truncated_latents_for_seeds."""
    check_truncation(threshold)
    return per_seed(seeds, lambda g: truncated_normal(dim, threshold, g), (dim,))
