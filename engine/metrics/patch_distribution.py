"""How close a picture's patches are to another picture's, as distributions.

`patch_swd` is the sliced Wasserstein distance between the distributions of
two pictures' p x p patches. Every patch (stride 1) is a point in C*p*p
dimensions with values in [0, 1]; both sets are projected on the same random
unit directions (a fixed seed), and for each direction the one-dimensional
Wasserstein-1 distance between the projections is the mean absolute
difference of their quantiles (at QUANTILES evenly spaced levels, so pictures
of different sizes compare). The result is the mean over the directions.
Two pictures with the same patches in any arrangement score 0; it grows as
their textures, colours and edges differ. A picture made from one source
should be nearer to it than to other pictures (docs/BENCHMARKS.md, "From one
picture").
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

QUANTILES = 512
DEFAULT_PROJECTIONS = 128


def _patch_matrix(picture: np.ndarray | torch.Tensor, patch: int) -> torch.Tensor:
    """uint8 (H, W, C) or float (C, H, W) in [0, 1] -> (L, C*p*p) float32."""
    if isinstance(picture, np.ndarray):
        if picture.ndim != 3:
            raise ValueError(f"expected a (H, W, C) picture, not shape {picture.shape}")
        tensor = torch.from_numpy(np.array(picture)).permute(2, 0, 1).float() / 255.0
    else:
        tensor = picture.detach().float().cpu()
    if min(tensor.shape[-2:]) < patch:
        raise ValueError(f"a {tuple(tensor.shape[-2:])} picture has no {patch} x {patch} patches")
    return F.unfold(tensor[None], patch)[0].T


def patch_swd(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor, patch: int = 7,
              projections: int = DEFAULT_PROJECTIONS, seed: int = 0) -> float:
    """Sliced Wasserstein-1 distance between the p x p patch distributions of two
    pictures with the same number of channels (see the module's docstring)."""
    pa, pb = _patch_matrix(a, patch), _patch_matrix(b, patch)
    if pa.shape[1] != pb.shape[1]:
        raise ValueError("the pictures must have the same number of channels")
    generator = torch.Generator().manual_seed(seed)
    directions = torch.randn((pa.shape[1], projections), generator=generator)
    directions /= directions.norm(dim=0, keepdim=True)
    return float((_quantiles(pa @ directions) - _quantiles(pb @ directions)).abs().mean())


def _quantiles(projected: torch.Tensor) -> torch.Tensor:
    """(L, P) -> (QUANTILES, P): each column's values at evenly spaced levels,
    linearly interpolated between the sorted values."""
    ordered = projected.sort(dim=0).values
    position = torch.linspace(0, len(ordered) - 1, QUANTILES)
    low = position.floor().long()
    high = position.ceil().long()
    weight = (position - low.float())[:, None]
    return ordered[low] * (1 - weight) + ordered[high] * weight
