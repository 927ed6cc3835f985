"""What every model family must do, run over every registered model: shapes,
seeded sampling, sampling under inference mode, a few training steps on tiny data.
Exact resume for every model is in test_training_resume.py."""
from __future__ import annotations

import math

import pytest
import torch

from engine.errors import ConfigError
from engine.models import build_model, model_accepts, model_config, model_names, model_spec
from engine.models.base import STEPS
from tests.engine.conftest import DENOISER_SETTINGS

CPU = torch.device("cpu")


def make(name: str, seed: int = 0, **settings):
    settings.setdefault("width", 8)
    if STEPS in model_spec(name).capabilities:
        # Iterative samplers at their smallest: every sample runs the network per step.
        settings = {**DENOISER_SETTINGS, **settings}
    if model_accepts(name, "num_classes"):
        settings.setdefault("num_classes", 10)
    return build_model(name, model_config(name, **settings), CPU, seed=seed)


def batch(model, n: int = 8):
    c = model.config
    g = torch.Generator().manual_seed(0)
    frames = (4,) if model.data_kind == "sequences" else ()
    images = torch.rand(n, *frames, c.channels, c.image_size, c.image_size, generator=g) * 2 - 1
    labels = torch.arange(n) % model.num_classes if model.uses_labels else None
    return images, labels


@pytest.mark.parametrize("name", model_names())
@pytest.mark.parametrize("channels,size", [(1, 28), (3, 32)])
def test_trains_and_samples_in_range(name, channels, size):
    try:
        model = make(name, channels=channels, image_size=size)
    except ConfigError as exc:
        if channels == 3 and "channels must be 1" in str(exc):
            pytest.skip(f"{name} models greyscale images only")
        raise
    images, labels = batch(model)
    for _ in range(2):
        losses = model.train_step(images, labels)
    assert losses and all(v.ndim == 0 and math.isfinite(float(v)) for v in losses.values())
    samples = model.sample([0, 1, 2])
    assert samples.shape == (3, channels, size, size) and samples.dtype == torch.float32
    assert samples.min() >= -1 and samples.max() <= 1


LATENT_MODELS = [n for n in model_names() if make(n).latent_noise]


@pytest.mark.parametrize("name", model_names())
def test_a_tile_depends_only_on_its_seed(name):
    model = make(name)
    alone = model.sample([5])
    with_others = model.sample([3, 5, 9])
    torch.testing.assert_close(alone[0], with_others[1], rtol=0, atol=1e-6)
    if make(name).latent_noise:  # noise differs per seed; kept openings may not, untrained
        assert not torch.equal(with_others[0], with_others[1])


@pytest.mark.parametrize("name", model_names())
def test_same_seed_same_model(name):
    a, b = make(name, seed=7), make(name, seed=7)
    images, labels = batch(a)
    for model in (a, b):
        model.train_step(images, labels)
    assert torch.equal(a.sample([0, 1]), b.sample([0, 1]))


@pytest.mark.parametrize("name", model_names())
def test_sampling_runs_under_inference_mode_and_restores_train_mode(name):
    model = make(name)
    samples = model.sample([0])
    assert samples.is_inference()
    assert all(net.training for net in model.networks().values())


@pytest.mark.parametrize("name", LATENT_MODELS)
def test_temperature_scales_the_latent(name):
    model = make(name)
    cold, normal = model.sample([4], temperature=0.5), model.sample([4])
    assert not torch.equal(cold, normal)
    with pytest.raises(ConfigError, match="temperature"):
        model.sample([4], temperature=0)


@pytest.mark.parametrize("name", [n for n in model_names() if make(n).uses_labels])
def test_conditional_models_take_a_class_per_tile(name):
    model = make(name)
    assert model.num_classes == 10
    assert model.labels_for_seeds([3, 14]).tolist() == [3, 4]  # by default seed mod classes
    # Same seed, another class: another image; the given class is reproducible.
    as_two, as_seven = model.sample([3], labels=[2]), model.sample([3], labels=[7])
    assert not torch.equal(as_two, as_seven)
    assert torch.equal(as_seven, model.sample([3], labels=[7]))
    with pytest.raises(ConfigError, match="class labels"):
        model.sample([3], labels=[10])
    with pytest.raises(ConfigError, match="class labels"):
        model.sample([3, 4], labels=[1])


@pytest.mark.parametrize("name", [n for n in model_names() if not make(n).uses_labels])
def test_unconditional_models_ignore_labels(name):
    model = make(name)
    assert model.num_classes == 0 and model.labels_for_seeds([1, 2]) is None


@pytest.mark.parametrize("name", [n for n in model_names() if make(n).uses_labels])
def test_a_one_hot_class_mixture_decodes_as_that_class(name):
    model = make(name)
    with torch.inference_mode():
        for net in model.networks().values():
            net.eval()
        z = model.latents_for_seeds([2, 3])
        one_hot = torch.nn.functional.one_hot(torch.tensor([4, 6]), 10).float()
        torch.testing.assert_close(model.decode_with_classes(z, one_hot),
                                   model.decode(z, torch.tensor([4, 6])))
