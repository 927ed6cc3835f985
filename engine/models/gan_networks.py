"""Generator and discriminator networks for the GAN family.

Discriminators return logits; the sigmoid lives in the loss, which is the
numerically stable form of the same function.
"""
from __future__ import annotations

import math

import torch
from torch import nn


class MlpGenerator(nn.Module):
    """Latent -> 128 -> 256 -> 512 -> image, the classic fully connected generator."""

    def __init__(self, latent_dim: int, image_size: int, channels: int) -> None:
        super().__init__()
        self.image_shape = (channels, image_size, image_size)
        out = channels * image_size * image_size
        self.net = nn.Sequential(
            nn.Linear(latent_dim, 128), nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(128, 256), nn.BatchNorm1d(256), nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(256, 512), nn.BatchNorm1d(512), nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(512, out), nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.flatten(1)).view(-1, *self.image_shape)


class MlpDiscriminator(nn.Module):
    """Image -> 512 -> 256 -> 128 -> 1 logit."""

    def __init__(self, image_size: int, channels: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(channels * image_size * image_size, 512), nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(512, 256), nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(256, 128), nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(128, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.flatten(1)).view(-1)


def _dcgan_plan(image_size: int, width: int) -> tuple[int, list[int]]:
    """Start resolution and the channel count at each resolution, coarse to fine.

    64 -> start 4x4 with [8w, 4w, 2w, w] (pytorch/examples' DCGAN exactly);
    32 -> 4x4 with [4w, 2w, w]; 28 -> 7x7 with [2w, w].
    """
    start = 7 if image_size == 28 else 4
    doublings = int(math.log2(image_size // start))
    return start, [width * 2 ** (doublings - 1 - i) for i in range(doublings)]


class DcganGenerator(nn.Module):
    def __init__(self, latent_dim: int, image_size: int, channels: int, width: int) -> None:
        super().__init__()
        start, widths = _dcgan_plan(image_size, width)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(latent_dim, widths[0], start, 1, 0, bias=False),
            nn.BatchNorm2d(widths[0]), nn.ReLU(True)]
        for c_in, c_out in zip(widths, widths[1:]):
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(c_out), nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z.view(z.shape[0], -1, 1, 1))


class DcganDiscriminator(nn.Module):
    def __init__(self, image_size: int, channels: int, width: int) -> None:
        super().__init__()
        start, widths = _dcgan_plan(image_size, width)
        widths = widths[::-1]
        layers: list[nn.Module] = [nn.Conv2d(channels, widths[0], 4, 2, 1, bias=False),
                                   nn.LeakyReLU(0.2, inplace=True)]
        for c_in, c_out in zip(widths, widths[1:]):
            layers += [nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2, inplace=True)]
        layers += [nn.Conv2d(widths[-1], 1, start, 1, 0, bias=False)]
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x).view(-1)


def dcgan_init_(module: nn.Module) -> None:
    """The DCGAN paper's initialisation: N(0, 0.02) convs, N(1, 0.02) BN scales."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
