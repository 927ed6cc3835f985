"""Generator and discriminator networks for the GAN family.

Discriminators return logits; the sigmoid lives in the loss, which is the
numerically stable form of the same function.
"""
from __future__ import annotations

import math

import torch
from torch import nn


def _with_class(z: torch.Tensor, onehot: torch.Tensor | None) -> torch.Tensor:
    """A class-conditional generator sees its class as a one-hot beside the latent."""
    return z if onehot is None else torch.cat([z, onehot.to(z.dtype)], dim=1)


def _projection(embed: nn.Embedding | None, features: torch.Tensor,
                labels: torch.Tensor | None) -> torch.Tensor | float:
    """The projection discriminator's class term (Miyato and Koyama, 2018): the
    inner product of the class's embedding with the image's pooled features."""
    if embed is None or labels is None:
        return 0.0
    pooled = features.sum(dim=(2, 3)) if features.dim() == 4 else features
    return (embed(labels) * pooled).sum(1)


class MlpGenerator(nn.Module):
    """Latent -> 128 -> 256 -> 512 -> image, the classic fully connected generator."""

    def __init__(self, latent_dim: int, image_size: int, channels: int,
                 num_classes: int = 0) -> None:
        super().__init__()
        self.image_shape = (channels, image_size, image_size)
        out = channels * image_size * image_size
        self.net = nn.Sequential(
            nn.Linear(latent_dim + num_classes, 128), nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(128, 256), nn.BatchNorm1d(256), nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(256, 512), nn.BatchNorm1d(512), nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(512, out), nn.Tanh(),
        )

    def forward(self, z: torch.Tensor, onehot: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(_with_class(z.flatten(1), onehot)).view(-1, *self.image_shape)


class MlpDiscriminator(nn.Module):
    """Image -> 512 -> 256 -> 128 -> 1 logit."""

    def __init__(self, image_size: int, channels: int, num_classes: int = 0) -> None:
        super().__init__()
        self.embed = nn.Embedding(num_classes, 128) if num_classes else None
        self.net = nn.Sequential(
            nn.Linear(channels * image_size * image_size, 512), nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(512, 256), nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(256, 128), nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(128, 1),
        )

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        features = self.net[:-1](x.flatten(1))
        return self.net[-1](features).view(-1) + _projection(self.embed, features, labels)


def _dcgan_plan(image_size: int, width: int) -> tuple[int, list[int]]:
    """Start resolution and the channel count at each resolution, coarse to fine.

    64 -> start 4x4 with [8w, 4w, 2w, w] (pytorch/examples' DCGAN exactly);
    32 -> 4x4 with [4w, 2w, w]; 28 -> 7x7 with [2w, w].
    """
    start = 7 if image_size == 28 else 4
    doublings = int(math.log2(image_size // start))
    return start, [width * 2 ** (doublings - 1 - i) for i in range(doublings)]


class DcganGenerator(nn.Module):
    def __init__(self, latent_dim: int, image_size: int, channels: int, width: int,
                 num_classes: int = 0) -> None:
        super().__init__()
        start, widths = _dcgan_plan(image_size, width)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(latent_dim + num_classes, widths[0], start, 1, 0, bias=False),
            nn.BatchNorm2d(widths[0]), nn.ReLU(True)]
        for c_in, c_out in zip(widths, widths[1:]):
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(c_out), nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, onehot: torch.Tensor | None = None) -> torch.Tensor:
        z = _with_class(z.view(z.shape[0], -1), onehot)
        return self.main(z.view(z.shape[0], -1, 1, 1))


class DcganDiscriminator(nn.Module):
    """batch_norm=False puts identities where the batch norms were: a WGAN-GP
    critic's gradient penalty is per image, and spectral norm replaces them."""

    def __init__(self, image_size: int, channels: int, width: int, num_classes: int = 0,
                 batch_norm: bool = True) -> None:
        super().__init__()
        start, widths = _dcgan_plan(image_size, width)
        widths = widths[::-1]
        self.embed = nn.Embedding(num_classes, widths[-1]) if num_classes else None
        layers: list[nn.Module] = [nn.Conv2d(channels, widths[0], 4, 2, 1, bias=False),
                                   nn.LeakyReLU(0.2, inplace=True)]
        for c_in, c_out in zip(widths, widths[1:]):
            layers += [nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(c_out) if batch_norm else nn.Identity(),
                       nn.LeakyReLU(0.2, inplace=True)]
        layers += [nn.Conv2d(widths[-1], 1, start, 1, 0, bias=False)]
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        features = self.main[:-1](x)
        return self.main[-1](features).view(-1) + _projection(self.embed, features, labels)


def spectral_norm_(module: nn.Module) -> nn.Module:
    """Spectral normalisation (Miyato et al., 2018) on every linear and convolution
    layer: each weight divided by its largest singular value, estimated by one
    power iteration per step (its vectors are buffers, saved with the weights)."""
    for name, child in list(module.named_children()):
        if isinstance(child, (nn.Linear, nn.Conv2d)):
            setattr(module, name, nn.utils.parametrizations.spectral_norm(child))
        else:
            spectral_norm_(child)
    return module


def dcgan_init_(module: nn.Module) -> None:
    """The DCGAN paper's initialisation: N(0, 0.02) convs, N(1, 0.02) BN scales."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
