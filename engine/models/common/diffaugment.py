"""Differentiable augmentation for GANs on small data sets (after Zhao et al.,
2020, "Differentiable Augmentation for Data-Efficient GAN Training").

The same kind of random transformation is applied to real and generated images
before the discriminator sees them, in the generator's step too, so gradients
flow through it. The discriminator cannot memorise a few hundred images, and
the generator is not pushed to produce augmented-looking ones. All randomness
comes from the caller's generator, so a run stays exactly resumable.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

POLICIES = ("color", "translation", "cutout")


def parse_policy(text: str) -> tuple[str, ...]:
    """"translation,cutout,color" -> ("translation", "cutout", "color"); "" -> ()."""
    names = tuple(p.strip() for p in text.split(",") if p.strip())
    unknown = [p for p in names if p not in POLICIES]
    if unknown:
        from engine.errors import ConfigError
        raise ConfigError(f"unknown augmentation {', '.join(unknown)}; choose from "
                          f"{', '.join(POLICIES)}")
    return names


def diff_augment(x: torch.Tensor, policy: tuple[str, ...], generator: torch.Generator
                 ) -> torch.Tensor:
    for name in policy:
        x = _AUGMENTS[name](x, generator)
    return x


def _uniform(x: torch.Tensor, generator: torch.Generator, *shape: int) -> torch.Tensor:
    return torch.rand((x.shape[0], *shape), device=x.device, generator=generator, dtype=x.dtype)


def _color(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    # Brightness and contrast for every image; saturation only means something in colour.
    x = x + (_uniform(x, g, 1, 1, 1) - 0.5)
    if x.shape[1] > 1:
        mean = x.mean(dim=1, keepdim=True)
        x = (x - mean) * (_uniform(x, g, 1, 1, 1) * 2) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_uniform(x, g, 1, 1, 1) + 0.5) + mean


def _translation(x: torch.Tensor, g: torch.Generator, ratio: float = 0.125) -> torch.Tensor:
    """Shift each image by up to 1/8 of its side, filling with zeros (mid-grey)."""
    n, _, h, w = x.shape
    sy, sx = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-sy, sy + 1, (n, 1, 1), device=x.device, generator=g)
    dx = torch.randint(-sx, sx + 1, (n, 1, 1), device=x.device, generator=g)
    rows = torch.arange(h, device=x.device).view(1, h, 1) + dy
    cols = torch.arange(w, device=x.device).view(1, 1, w) + dx
    padded = F.pad(x, (1, 1, 1, 1))
    rows = (rows + 1).clamp(0, h + 1).expand(n, h, w)
    cols = (cols + 1).clamp(0, w + 1).expand(n, h, w)
    batch = torch.arange(n, device=x.device).view(n, 1, 1).expand(n, h, w)
    return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)


def _cutout(x: torch.Tensor, g: torch.Generator, ratio: float = 0.5) -> torch.Tensor:
    """Zero a square of half the side at a random place in each image (it may
    hang over an edge)."""
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    top = torch.randint(-(ch // 2), h - ch // 2 + 1, (n, 1, 1), device=x.device, generator=g)
    left = torch.randint(-(cw // 2), w - cw // 2 + 1, (n, 1, 1), device=x.device, generator=g)
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    inside = (rows >= top) & (rows < top + ch) & (cols >= left) & (cols < left + cw)
    return x * (~inside).unsqueeze(1).to(x.dtype)


_AUGMENTS = {"color": _color, "translation": _translation, "cutout": _cutout}
