"""Turning model outputs into uint8 pictures: tensors to arrays, grids, upscaling."""
from __future__ import annotations

import math

import numpy as np
import torch


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """Float images in [-1, 1], (N, C, H, W) -> a fresh uint8 array (N, H, W, C)."""
    x = images.detach().float().clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).cpu().numpy().copy()


def make_grid(images: np.ndarray, columns: int | None = None, padding: int = 2,
              background: int = 32) -> np.ndarray:
    """Tile uint8 images (N, H, W, C) into one (H', W', C) picture."""
    n, h, w, c = images.shape
    columns = columns or max(1, math.ceil(math.sqrt(n)))
    rows = max(1, math.ceil(n / columns))
    grid = np.full((rows * (h + padding) + padding, columns * (w + padding) + padding, c),
                   background, dtype=np.uint8)
    for i in range(n):
        r, col = divmod(i, columns)
        y, x = padding + r * (h + padding), padding + col * (w + padding)
        grid[y:y + h, x:x + w] = images[i]
    return grid


def upscale_nearest(image: np.ndarray, scale: int) -> np.ndarray:
    """Crisp pixel-art enlargement: each pixel becomes a scale x scale block."""
    if scale <= 1:
        return image
    return np.repeat(np.repeat(image, scale, axis=0), scale, axis=1)


def fit_within(image: np.ndarray, size: int) -> np.ndarray:
    """Shrink (H, W, C) uint8 so its longer side is at most `size`, keeping the
    aspect ratio; smaller images are returned as they are."""
    h, w = image.shape[:2]
    if max(h, w) <= size:
        return image
    from PIL import Image  # only thumbnails need it

    scale = size / max(h, w)
    target = (max(1, round(w * scale)), max(1, round(h * scale)))
    pil = Image.fromarray(image[..., 0] if image.shape[2] == 1 else image)
    shrunk = np.asarray(pil.resize(target, Image.Resampling.LANCZOS))
    return shrunk[..., None] if shrunk.ndim == 2 else shrunk


def match_channels(frames: torch.Tensor, channels: int) -> torch.Tensor:
    """(F, C, H, W): colour to grey by the mean, grey to colour by repeating."""
    if frames.shape[1] == channels:
        return frames
    if channels == 1:
        return frames.mean(dim=1, keepdim=True)
    return frames.expand(-1, channels, -1, -1)
