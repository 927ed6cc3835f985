"""Augmentation for small data sets, applied to a whole batch on the device.

Horizontal flips, small translations (whole pixels, edges repeated) and colour
jitter (brightness, contrast, saturation). The random choices for a batch come
from one CPU generator the batcher owns and saves with its state, so a run is
reproducible from its seed and an exact resume sees the same augmented batches.
Off by default: flipping or shifting handwritten digits changes what they are.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from engine.errors import ConfigError


@dataclass(frozen=True)
class Augmentation:
    flip: bool = False
    translate: float = 0.0      # largest shift, as a fraction of the image side
    color_jitter: float = 0.0   # brightness +-s, contrast and saturation x(1 +- s)

    @property
    def active(self) -> bool:
        return self.flip or self.translate > 0 or self.color_jitter > 0

    def validate(self) -> None:
        if not (0.0 <= self.translate <= 0.5) or not math.isfinite(self.translate):
            raise ConfigError(f"translate must be between 0 and 0.5 of the image side, "
                              f"not {self.translate}")
        if not (0.0 <= self.color_jitter <= 1.0) or not math.isfinite(self.color_jitter):
            raise ConfigError(f"colour jitter must be between 0 and 1, not {self.color_jitter}")


def augment(images: torch.Tensor, aug: Augmentation, generator: torch.Generator) -> torch.Tensor:
    """Augment float images in [-1, 1], (N, C, H, W) or sequences (N, T, C, H, W).

    Each item gets its own random choices; all frames of a sequence share them,
    so motion stays coherent. Always draws the same random numbers for the same
    settings, whatever the pixels, so the data order never depends on them.
    """
    if not aug.active:
        return images
    n = images.shape[0]
    device = images.device
    lead = images.shape[1:-3]                     # () for stills, (T,) for sequences
    x = images.reshape(n, -1, *images.shape[-3:])  # (N, T', C, H, W)
    if aug.flip:
        flip = torch.rand(n, generator=generator) < 0.5
        x = torch.where(flip.to(device).view(n, 1, 1, 1, 1), x.flip(-1), x)
    if aug.translate > 0:
        x = _translate(x, aug.translate, generator)
    if aug.color_jitter > 0:
        x = _jitter(x, aug.color_jitter, generator)
    return x.reshape(n, *lead, *images.shape[-3:])


def _translate(x: torch.Tensor, fraction: float, generator: torch.Generator) -> torch.Tensor:
    n, t, c, h, w = x.shape
    max_dy, max_dx = int(fraction * h), int(fraction * w)
    if max_dy == 0 and max_dx == 0:
        return x
    shifts = torch.stack([torch.randint(-max_dy, max_dy + 1, (n,), generator=generator),
                          torch.randint(-max_dx, max_dx + 1, (n,), generator=generator)], 1)
    shifts = shifts.to(x.device)
    # Gather rows then columns from shifted, clamped indices: an exact whole-pixel
    # shift with the border pixels repeated, one batched op for every image.
    rows = (torch.arange(h, device=x.device).view(1, h) - shifts[:, :1]).clamp_(0, h - 1)
    cols = (torch.arange(w, device=x.device).view(1, w) - shifts[:, 1:]).clamp_(0, w - 1)
    x = x.gather(3, rows.view(n, 1, 1, h, 1).expand(n, t, c, h, w))
    return x.gather(4, cols.view(n, 1, 1, 1, w).expand(n, t, c, h, w))


def _jitter(x: torch.Tensor, strength: float, generator: torch.Generator) -> torch.Tensor:
    n, _, c = x.shape[:3]
    draws = (torch.rand(n, 3, generator=generator) * 2 - 1) * strength
    draws = draws.to(x.device, x.dtype)
    brightness = draws[:, 0].view(n, 1, 1, 1, 1)
    contrast = (1 + draws[:, 1]).view(n, 1, 1, 1, 1)
    saturation = (1 + draws[:, 2]).view(n, 1, 1, 1, 1)
    x = x + brightness
    mean = x.mean(dim=(-3, -2, -1), keepdim=True)
    x = (x - mean) * contrast + mean
    if c == 3:
        grey = (0.299 * x[:, :, 0:1] + 0.587 * x[:, :, 1:2] + 0.114 * x[:, :, 2:3])
        x = (x - grey) * saturation + grey
    return x.clamp(-1, 1)
