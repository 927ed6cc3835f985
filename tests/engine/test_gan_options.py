"""GAN options: hinge and WGAN-GP losses, spectral norm, generator EMA,
differentiable augmentation, class-conditional networks and the presets."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from engine.errors import ConfigError
from engine.models import build_model, model_config
from engine.models.common.diffaugment import diff_augment, parse_policy

CPU = torch.device("cpu")


def make(name: str = "dcgan", **settings):
    settings.setdefault("width", 8)
    return build_model(name, model_config(name, **settings), CPU, seed=0)


def real_batch(n: int = 8, channels: int = 1, size: int = 28) -> torch.Tensor:
    return torch.rand(n, channels, size, size, generator=torch.Generator().manual_seed(1)) * 2 - 1


@pytest.mark.parametrize("loss", ["nonsaturating", "hinge", "wgan-gp"])
@pytest.mark.parametrize("architecture", ["mlp", "dcgan"])
def test_each_loss_trains(loss, architecture):
    model = make("dcgan", architecture=architecture, loss=loss)
    for _ in range(2):
        losses = model.train_step(real_batch())
    assert all(math.isfinite(float(v)) for v in losses.values())


def test_wgan_gp_critic_has_no_batch_norm_and_a_penalty():
    model = make("wgan-gp")
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.discriminator.modules())
    x = real_batch()
    penalty = model._gradient_penalty(x, x.flip(0), None)
    assert penalty.ndim == 0 and penalty.requires_grad and float(penalty.detach()) >= 0


def test_spectral_norm_bounds_each_layer_near_one():
    model = make("dcgan", spectral_norm=True)
    normed = [m for m in model.discriminator.modules() if isinstance(m, nn.Conv2d)]
    assert normed and all(nn.utils.parametrize.is_parametrized(m, "weight") for m in normed)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.discriminator.modules())
    for _ in range(30):  # power iterations run in training-mode forward passes
        model.discriminator(real_batch())
    for m in normed:
        sigma = torch.linalg.matrix_norm(m.weight.detach().flatten(1), ord=2)
        assert 0.8 < float(sigma) < 1.1


def test_ema_generator_is_saved_averaged_and_sampled():
    model = make("dcgan", ema_decay=0.9)
    assert set(model.networks()) == {"generator", "discriminator", "generator_ema"}
    before = [p.detach().clone() for p in model.generator_ema.parameters()]
    model.train_step(real_batch())
    for old, averaged, current in zip(before, model.generator_ema.parameters(),
                                      model.generator.parameters()):
        torch.testing.assert_close(averaged, 0.9 * old + 0.1 * current)
    with torch.inference_mode():
        model.generator.eval()
        raw = model.generator(model.latents_for_seeds([0]))
    assert not torch.equal(model.sample([0]), raw)


def test_diff_augment_is_seeded_differentiable_and_keeps_shape():
    policy = parse_policy("translation,cutout,color")
    x = real_batch(4, channels=3, size=32).requires_grad_(True)
    a = diff_augment(x, policy, torch.Generator().manual_seed(3))
    b = diff_augment(x, policy, torch.Generator().manual_seed(3))
    assert a.shape == x.shape and torch.equal(a, b)
    a.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    cut = diff_augment(torch.ones(64, 1, 16, 16), ("cutout",), torch.Generator().manual_seed(0))
    assert 0.1 < float((cut == 0).float().mean()) < 0.3   # about a quarter of the image
    with pytest.raises(ConfigError, match="unknown augmentation"):
        parse_policy("translation,blur")


def test_small_data_preset():
    config = model_config("small-data-gan")
    assert config.loss == "hinge" and config.spectral_norm and config.ema_decay > 0
    assert parse_policy(config.augment) == ("translation", "cutout", "color")
    model = make("small-data-gan", image_size=32, channels=3)
    model.train_step(real_batch(channels=3, size=32))
    assert model.sample([0, 1]).shape == (2, 3, 32, 32)


def test_projection_discriminator_scores_depend_on_the_class():
    model = make("cgan", num_classes=10)
    x = real_batch(2)
    model.discriminator.eval()
    with torch.no_grad():
        a = model.discriminator(x, torch.tensor([0, 0]))
        b = model.discriminator(x, torch.tensor([5, 5]))
    assert not torch.allclose(a, b)
    with pytest.raises(ConfigError, match="needs data with class labels"):
        make("cgan", num_classes=0)


@pytest.mark.parametrize("settings,message", [({"loss": "wasserstein"}, "unknown GAN loss"),
                                              ({"ema_decay": 1.0}, "EMA decay"),
                                              ({"augment": "zoom"}, "unknown augmentation")])
def test_impossible_gan_settings(settings, message):
    with pytest.raises(ConfigError, match=message):
        model_config("dcgan", **settings)
