"""A class-conditional GAN draws the class it is asked for.

The data: the class decides which half of the picture is bright (0: top,
1: bottom), so a sample's class can be read off its pixels.
"""
from __future__ import annotations

import torch

from engine.models import build_model, model_config


def halves(n: int, side: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    labels = torch.randint(0, 2, (n,), generator=generator)
    images = torch.full((n, 1, side, side), -1.0)
    top = labels == 0
    images[top, :, :side // 2] = 1.0
    images[~top, :, side // 2:] = 1.0
    images -= torch.rand(images.shape, generator=generator) * 0.2   # a little texture
    return images.clamp(-1, 1), labels


def drawn_classes(model, side: int, count: int = 100) -> tuple[torch.Tensor, torch.Tensor]:
    seeds = list(range(count))
    asked = torch.tensor([s % 2 for s in seeds])
    images = model.sample(seeds, asked.tolist())
    top = images[:, :, :side // 2].mean(dim=(1, 2, 3))
    bottom = images[:, :, side // 2:].mean(dim=(1, 2, 3))
    return asked, (bottom > top).long()


def train_briefly(name: str, side: int, steps: int, **settings) -> object:
    config = model_config(name, image_size=side, channels=1, num_classes=2, **settings)
    model = build_model(name, config, torch.device("cpu"), seed=0)
    g = torch.Generator().manual_seed(0)
    images, labels = halves(256, side, g)
    for _ in range(steps):
        index = torch.randint(0, len(images), (32,), generator=g)
        model.train_step(images[index], labels[index])
    return model


def test_cgan_samples_follow_the_asked_class_fast():
    # The cgan preset (projection discriminator, hinge, spectral norm) on small
    # fully connected networks, so a CPU trains it in seconds.
    model = train_briefly("cgan", side=8, steps=100, architecture="mlp", learning_rate=1e-3,
                          ema_decay=0.0)
    asked, drawn = drawn_classes(model, side=8)
    assert (asked == drawn).float().mean() > 0.9

