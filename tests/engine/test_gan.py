"""engine.models (GAN family): shapes, the reference DCGAN size, seeded sampling, config checks."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.errors import ConfigError
from engine.media.images import to_uint8
from engine.models import (GanConfig, GanModel, build_model, model_config, model_names,
                           model_specs)
from engine.models.gan_networks import DcganDiscriminator, DcganGenerator

CPU = torch.device("cpu")
REFERENCE = Path("/work/shared/bench/reference_loops.py")


def make(name: str = "dcgan", seed: int = 0, **settings) -> GanModel:
    settings.setdefault("width", 8)
    torch.manual_seed(seed)
    return build_model(name, model_config(name, **settings), CPU)


def test_registry():
    assert model_names()[:2] == ["mlp-gan", "dcgan"]  # the first two; other families follow
    assert all(spec.description for spec in model_specs())
    assert model_config("mlp-gan").architecture == "mlp"
    assert model_config("dcgan").architecture == "dcgan"


def test_none_settings_keep_the_defaults():
    config = model_config("dcgan", width=None, image_size=32)
    assert config.width == GanConfig().width and config.image_size == 32


@pytest.mark.parametrize("name,size", [("mlp-gan", 28), ("mlp-gan", 32), ("dcgan", 28),
                                       ("dcgan", 32), ("dcgan", 64)])
def test_sample_and_discriminator_shapes(name, size):
    model = make(name, image_size=size)
    images = model.sample([0, 1, 2])
    assert images.shape == (3, 1, size, size)
    assert images.dtype == torch.float32
    assert images.min() >= -1 and images.max() <= 1
    model.discriminator.eval()
    with torch.no_grad():
        logits = model.discriminator(images)
    assert logits.shape == (3,)


def test_three_channel_dcgan():
    model = make("dcgan", image_size=32, channels=3)
    assert model.sample([4, 5]).shape == (2, 3, 32, 32)


def _reference_pair():
    if not REFERENCE.exists():
        pytest.skip(f"{REFERENCE} not present")
    spec = importlib.util.spec_from_file_location("reference_loops", REFERENCE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.dcgan_pair(nc=1)


def test_dcgan_64_width_64_is_the_pytorch_examples_dcgan():
    ref_g, ref_d = _reference_pair()
    ours_g = DcganGenerator(latent_dim=100, image_size=64, channels=1, width=64)
    ours_d = DcganDiscriminator(image_size=64, channels=1, width=64)

    def count(net):
        return sum(p.numel() for p in net.parameters())

    assert count(ours_g) == count(ref_g)
    assert count(ours_d) == count(ref_d)  # the reference's final Sigmoid has no parameters
    # Not just the totals: the same parameter and buffer shapes, layer by layer.
    assert [t.shape for t in ours_g.state_dict().values()] == \
           [t.shape for t in ref_g.state_dict().values()]
    assert [t.shape for t in ours_d.state_dict().values()] == \
           [t.shape for t in ref_d.state_dict().values()]
    # A state dict of the reference loads straight into ours (modulo the Sequential prefix).
    ours_g.load_state_dict({f"main.{k}": v for k, v in ref_g.state_dict().items()})
    ref_g.eval(), ours_g.eval()
    z = torch.randn(2, 100, 1, 1)
    with torch.no_grad():
        torch.testing.assert_close(ours_g(z), ref_g(z))


def test_dcgan_64_through_the_registry_has_reference_parameter_count():
    ref_g, ref_d = _reference_pair()
    model = build_model("dcgan", model_config("dcgan", image_size=64, width=64), CPU)
    expected = sum(p.numel() for net in (ref_g, ref_d) for p in net.parameters())
    assert model.parameter_count() == expected


def test_dcgan_init_follows_the_paper():
    model = make("dcgan", image_size=64, width=64)
    conv = model.generator.main[3].weight
    assert abs(conv.mean().item()) < 0.002
    assert 0.018 < conv.std().item() < 0.022
    bn = model.generator.main[1]
    assert abs(bn.weight.mean().item() - 1) < 0.01 and bn.bias.eq(0).all()


def test_same_seed_same_samples():
    model = make("dcgan")
    first = model.sample([3, 9, 27])
    again = model.sample([3, 9, 27])
    assert torch.equal(first, again)
    # and another model built from the same torch seed gives the same pictures
    twin = make("dcgan")
    assert torch.equal(first, twin.sample([3, 9, 27]))


def test_different_seeds_different_images():
    model = make("dcgan")
    images = model.sample([0, 1, 2, 3])
    for i in range(4):
        for j in range(i + 1, 4):
            assert (images[i] - images[j]).abs().max() > 1e-3


@pytest.mark.parametrize("name,size", [("mlp-gan", 28), ("dcgan", 28), ("dcgan", 32), ("dcgan", 64)])
def test_a_tile_depends_only_on_its_seed(name, size):
    model = make(name, image_size=size)
    alone = model.sample([5])
    together = model.sample([1, 5])
    mixed = model.sample([9, 8, 5, 7])
    # Batched maths may differ in the last float bit; the pictures may not.
    torch.testing.assert_close(alone[0], together[1], atol=1e-5, rtol=0)
    torch.testing.assert_close(alone[0], mixed[2], atol=1e-5, rtol=0)
    np.testing.assert_array_equal(to_uint8(alone)[0], to_uint8(together)[1])


def test_latents_are_per_seed_and_independent_of_global_rng():
    model = make("mlp-gan")
    torch.manual_seed(123)
    a = model.latents_for_seeds([4, 2])
    torch.manual_seed(456)
    b = model.latents_for_seeds([2, 4])
    assert a.shape == (2, 100)
    assert torch.equal(a[0], b[1]) and torch.equal(a[1], b[0])
    assert model.latents_for_seeds([]).shape == (0, 100)


def test_sampling_restores_train_mode_and_builds_no_graph():
    model = make("dcgan")
    assert model.generator.training and model.discriminator.training
    bn = model.generator.main[1]
    running_mean = bn.running_mean.clone()
    images = model.sample([0, 1])
    assert model.generator.training and model.discriminator.training
    assert not images.requires_grad and images.grad_fn is None
    assert all(p.grad is None for p in model.generator.parameters())
    # eval-mode BatchNorm: sampling must not move the running statistics
    assert torch.equal(bn.running_mean, running_mean)


def test_sampling_keeps_eval_mode_if_it_was_eval():
    model = make("dcgan")
    model.generator.eval()
    model.sample([0])
    assert not model.generator.training
    assert model.discriminator.training


def test_sampling_restores_train_mode_even_when_decoding_fails(monkeypatch):
    model = make("dcgan")

    def boom(latents):
        raise RuntimeError("decode failed")

    monkeypatch.setattr(model, "decode", boom)
    with pytest.raises(RuntimeError):
        model.sample([0])
    assert model.generator.training and model.discriminator.training


@pytest.mark.parametrize("name", ["mlp-gan", "dcgan"])
def test_train_step_returns_detached_scalars_and_changes_weights(name):
    model = make(name)
    before = {k: v.clone() for k, v in model.generator.state_dict().items()}
    d_before = {k: v.clone() for k, v in model.discriminator.state_dict().items()}
    real = torch.rand(8, 1, 28, 28) * 2 - 1
    losses = model.train_step(real)
    assert set(losses) == {"generator", "discriminator", "D(x)", "D(G(z))"}
    for value in losses.values():
        assert isinstance(value, torch.Tensor) and value.ndim == 0
        assert not value.requires_grad and torch.isfinite(value)
    assert 0 <= losses["D(x)"] <= 1 and 0 <= losses["D(G(z))"] <= 1
    assert any(not torch.equal(before[k], v) for k, v in model.generator.state_dict().items())
    assert any(not torch.equal(d_before[k], v) for k, v in model.discriminator.state_dict().items())
    # the generator step must leave the discriminator trainable again
    assert all(p.requires_grad for p in model.discriminator.parameters())


@pytest.mark.parametrize("name,settings,message", [
    ("dcgan", {"image_size": 7}, "dcgan image size must be one of"),
    ("dcgan", {"image_size": 30}, "dcgan image size must be one of"),
    ("mlp-gan", {"image_size": 7}, "mlp-gan image size must be between 8 and 128"),
    ("mlp-gan", {"image_size": 256}, "mlp-gan image size must be between 8 and 128"),
    ("dcgan", {"width": 2}, "width must be between 4 and 1024"),
    ("dcgan", {"width": 2048}, "width must be between 4 and 1024"),
    ("dcgan", {"latent_dim": 0}, "latent size must be between"),
    ("dcgan", {"learning_rate": 0}, "learning rate"),
    ("dcgan", {"learning_rate": 5.0}, "learning rate"),
    ("dcgan", {"beta1": 1.0}, "betas"),
    ("dcgan", {"channels": 2}, "channels must be 1 or 3"),
    ("dcgan", {"architecture": "stylegan"}, "unknown GAN architecture"),
    ("dcgan", {"colour": "red"}, "unknown GanConfig settings: colour"),
    ("vae", {}, "unknown model 'vae'; choose one of mlp-gan, dcgan"),
])
def test_invalid_settings_raise_config_error(name, settings, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        model_config(name, **settings)


def test_config_error_is_a_value_error():
    with pytest.raises(ValueError):
        model_config("dcgan", width=1)


def test_config_round_trips_through_dict():
    config = model_config("dcgan", image_size=64, width=16)
    assert GanConfig.from_dict(config.to_dict()) == config


def test_building_with_an_invalid_config_object_fails():
    with pytest.raises(ConfigError):
        GanModel(GanConfig(image_size=7), CPU)
