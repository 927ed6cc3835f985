"""Encoders and decoders of the VAE family (see engine.models.vae).

An encoder maps an image (and, for a conditional model, a one-hot class) to the
mean and log-variance of a diagonal Gaussian over latents; a decoder maps a
latent (and class) to the parameters of a per-pixel likelihood: `out_channels`
maps per image channel (1 for Bernoulli logits, 2 for a logistic's mean and
log-scale).
"""
from __future__ import annotations

import torch
from torch import nn


def _with_class(x: torch.Tensor, onehot: torch.Tensor | None) -> torch.Tensor:
    return x if onehot is None else torch.cat([x, onehot.to(x.dtype)], dim=1)


class MlpEncoder(nn.Module):
    """pytorch/examples' VAE encoder: pixels -> hidden (ReLU) -> (mu, logvar);
    with `layers` > 1, that many hidden layers of the same width."""

    def __init__(self, pixels: int, hidden: int, latent_dim: int, num_classes: int = 0,
                 layers: int = 1) -> None:
        super().__init__()
        self.hidden = nn.Linear(pixels + num_classes, hidden)
        self.deeper = _deeper(hidden, layers)
        self.mu = nn.Linear(hidden, latent_dim)
        self.logvar = nn.Linear(hidden, latent_dim)

    def forward(self, x: torch.Tensor, onehot: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        # Intensities in [0, 1] as the reference feeds them: with [-1, 1] the
        # default initialisation starts each unit with a large random offset, and
        # 10 MNIST epochs ended about 2 nats worse (measured, docs/BENCHMARKS.md).
        x = x.flatten(1) * 0.5 + 0.5
        h = torch.relu(self.hidden(_with_class(x, onehot)))
        if self.deeper is not None:
            h = self.deeper(h)
        return self.mu(h), self.logvar(h)


class MlpDecoder(nn.Module):
    """latent -> hidden (ReLU) [-> more hidden layers] -> per-pixel likelihood parameters."""

    def __init__(self, latent_dim: int, hidden: int, image_size: int, channels: int,
                 out_channels: int, num_classes: int = 0, layers: int = 1) -> None:
        super().__init__()
        self.shape = (channels * out_channels, image_size, image_size)
        self.hidden = nn.Linear(latent_dim + num_classes, hidden)
        self.deeper = _deeper(hidden, layers)
        self.out = nn.Linear(hidden, channels * out_channels * image_size * image_size)

    def forward(self, z: torch.Tensor, onehot: torch.Tensor | None = None) -> torch.Tensor:
        h = torch.relu(self.hidden(_with_class(z, onehot)))
        if self.deeper is not None:
            h = self.deeper(h)
        return self.out(h).view(-1, *self.shape)


def _deeper(hidden: int, layers: int) -> nn.Sequential | None:
    """The hidden layers after the first; None for the reference's single layer,
    so its weights keep the reference's names."""
    if layers <= 1:
        return None
    blocks: list[nn.Module] = []
    for _ in range(layers - 1):
        blocks += [nn.Linear(hidden, hidden), nn.ReLU()]
    return nn.Sequential(*blocks)


def conv_plan(image_size: int, width: int) -> tuple[list[int], int]:
    """Channel counts per stride-2 stage and the smallest feature map's side.

    Halve the side while it is even and above 8: 28 -> 14 -> 7, 32 -> 16 -> 8,
    64 -> 32 -> 16 -> 8. Channels double per stage, capped at 8 x width.
    """
    side, widths = image_size, []
    while side % 2 == 0 and side > 8:
        side //= 2
        widths.append(min(width * 2 ** len(widths), width * 8))
    return widths, side


class ConvEncoder(nn.Module):
    def __init__(self, image_size: int, channels: int, width: int, latent_dim: int,
                 num_classes: int = 0) -> None:
        super().__init__()
        widths, side = conv_plan(image_size, width)
        layers: list[nn.Module] = []
        previous = channels
        for w in widths:
            layers += [nn.Conv2d(previous, w, 4, 2, 1), nn.LeakyReLU(0.2)]
            previous = w
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(previous * side * side + num_classes, 2 * latent_dim)
        self.latent_dim = latent_dim

    def forward(self, x: torch.Tensor, onehot: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.features(x).flatten(1)
        mu, logvar = self.head(_with_class(h, onehot)).chunk(2, dim=1)
        return mu, logvar


class ConvDecoder(nn.Module):
    def __init__(self, image_size: int, channels: int, width: int, latent_dim: int,
                 out_channels: int, num_classes: int = 0) -> None:
        super().__init__()
        widths, side = conv_plan(image_size, width)
        self.start = (widths[-1], side, side)
        self.project = nn.Linear(latent_dim + num_classes, widths[-1] * side * side)
        layers: list[nn.Module] = []
        reversed_widths = widths[::-1]
        for w, following in zip(reversed_widths, reversed_widths[1:]):
            layers += [nn.ConvTranspose2d(w, following, 4, 2, 1), nn.LeakyReLU(0.2)]
        layers.append(nn.ConvTranspose2d(reversed_widths[-1], channels * out_channels, 4, 2, 1))
        self.body = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, onehot: torch.Tensor | None = None) -> torch.Tensor:
        h = torch.relu(self.project(_with_class(z, onehot))).view(-1, *self.start)
        return self.body(h)
